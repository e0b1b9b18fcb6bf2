"""srseg: does super-resolving low-resolution street images help semantic segmentation?"""

__version__ = "0.1.0"
