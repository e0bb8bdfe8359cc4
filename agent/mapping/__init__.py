"""Declarative mapping of legacy rows to spec records (a TOML file, not code).

See docs/mapping.md for the file reference.
"""

from .mapping import Mapping, MapResult

__all__ = ["MapResult", "Mapping"]
