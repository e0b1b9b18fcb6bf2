"""srseg: does super-resolving low-resolution street images help semantic segmentation?"""

__version__ = "0.1.0"

import os as _os

# Every entry point imports srseg before TensorFlow: keep TF's C++ start-up chatter out of stage logs.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
