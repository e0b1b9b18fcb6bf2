"""Exceptions that the command line turns into one clear line (no traceback)."""


class SrsegError(Exception):
    """A user-facing error: bad params, bad input files, failed downloads."""


class ParamsError(SrsegError):
    """A params key has a value outside what is allowed."""


class ImageError(SrsegError):
    """An image or label file is unreadable, corrupt or of the wrong size."""


class DownloadError(SrsegError):
    """A download failed: network, login, checksum or archive problem."""
