"""depslim: evidence-based dependency slimming for Python ML projects and their images."""

__version__ = "0.1.0"
