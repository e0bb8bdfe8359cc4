"""esupervision agent: reads a department's legacy approval database over ODBC, maps rows to
the exchange spec, buffers them durably and delivers signed batches to the collector."""

from exchange_spec.__version__ import __version__

__all__ = ["__version__"]
