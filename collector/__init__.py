"""esupervision collector: verifies and stores what agents send, watches every case's legal
clock, issues warnings and cards, scores departments and serves the bureau and citizens."""

from exchange_spec.__version__ import __version__

__all__ = ["__version__"]
