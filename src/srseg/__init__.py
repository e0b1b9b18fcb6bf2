"""srseg: does super-resolving low-resolution street images help semantic segmentation?"""

__version__ = "0.1.0"

import os as _os

#: Environment defaults that keep TensorFlow's C++ start-up chatter (CPU-feature, oneDNN, CUDA-plugin and absl
#: lines, at any level) and gRPC's out of the output of the ``srseg`` command and the stage scripts. Each is set
#: only where the environment leaves it unset, before anything imports TensorFlow (every entry point imports
#: srseg first); ``srseg --verbose`` (:func:`srseg.entry.verbose_tensorflow`) undoes them. Failures still reach
#: the user: TensorFlow raises them as Python exceptions.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}
#: The keys of :data:`QUIET_ENV` that srseg set (the others came from the user's environment).
QUIETED = tuple(k for k in QUIET_ENV if k not in _os.environ)
for _key in QUIETED:
    _os.environ[_key] = QUIET_ENV[_key]
