"""Legacy databases the agent reads (ODBC), with their settings."""

from .odbc import Chunk, OdbcSource
from .settings import SourceSettings, TableSettings

__all__ = ["Chunk", "OdbcSource", "SourceSettings", "TableSettings"]
