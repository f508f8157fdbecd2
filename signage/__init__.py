"""signage: an audience-aware digital signage controller that keeps no images."""

__version__ = "0.1.0"
