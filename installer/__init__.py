"""Install, demo and service helpers for esupervision."""
