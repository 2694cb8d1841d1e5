"""The version of polyarch: for the package face, ``--version`` and the User-Agent."""

__version__ = "0.1.0"
