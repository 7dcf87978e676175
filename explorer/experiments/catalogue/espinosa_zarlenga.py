"""Catalogue entries of 004_cf27c17d2cb63cac.txt (being written)."""

from explorer.experiments.catalogue.entry import Entry

SOURCE = "004_cf27c17d2cb63cac.txt"
ENTRIES: tuple[Entry, ...] = ()
