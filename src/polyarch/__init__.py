"""polyarch: container image manifests and multi-architecture manifest lists, no daemon."""

__version__ = "0.1.0"
