"""Exceptions that the command line turns into one clear line (no traceback)."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none (for one-line errors)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class SrsegError(Exception):
    """A user-facing error: bad params, bad input files, failed downloads."""


class ParamsError(SrsegError):
    """A params key has a value outside what is allowed."""


class ImageError(SrsegError):
    """An image or label file is unreadable, corrupt or of the wrong size."""


class DownloadError(SrsegError):
    """A download failed: network, login, checksum or archive problem."""
