"""What goes wrong loading a dataset: `DatasetError`, raised as `DatasetNotFound` (files missing)
or `DatasetFileError` (a file damaged). Torch-free, so that front ends can catch them without
loading the data machinery (`explorer.cli`)."""

from __future__ import annotations


class DatasetError(Exception):
    """A dataset cannot be loaded: its files are missing (`DatasetNotFound`) or damaged
    (`DatasetFileError`). Front ends catch this one; the message names the folder or file."""


class DatasetNotFound(DatasetError, FileNotFoundError):
    """A dataset's files are not in the data folder and could not be downloaded."""


class DatasetFileError(DatasetError, ValueError):
    """A dataset's file is there but not what it should be: damaged, cut short, another format, or
    labels that do not fit its images. The message names the file and what is wrong with it."""
