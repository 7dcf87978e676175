"""What goes wrong loading a dataset: `DatasetError`, raised as `DatasetNotFound` (files missing)
or `DatasetFileError` (a file damaged). Torch-free, so that front ends can catch them without
loading the data machinery (`explorer.cli`)."""

from __future__ import annotations


class DatasetError(Exception):
    """A dataset cannot be loaded: its files are missing (`DatasetNotFound`) or damaged
    (`DatasetFileError`). Front ends catch this one; the message names the folder or file."""


def first_and_last_line(err: BaseException) -> str:
    """An error's message on one line: its first line and, where it runs over several (torchvision's
    download error lists every mirror it tried), its last, which says why.

    Example:
        >>> first_and_last_line(RuntimeError("Error downloading a.gz:\\nTried https://m1/:\\n<urlopen error x>"))
        'Error downloading a.gz: <urlopen error x>'
        >>> first_and_last_line(OSError("disk full"))
        'disk full'
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if len(lines) < 2:
        return lines[0] if lines else type(err).__name__
    return f"{lines[0]} {lines[-1]}"


class DatasetNotFound(DatasetError, FileNotFoundError):
    """A dataset's files are not in the data folder and could not be downloaded."""


class DatasetFileError(DatasetError, ValueError):
    """A dataset's file is there but not what it should be: damaged, cut short, another format, or
    labels that do not fit its images. The message names the file and what is wrong with it."""
