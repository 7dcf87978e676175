"""Catalogue entries of 003_bf2f04177e508226.txt (being written)."""

from explorer.experiments.catalogue.entry import Entry

SOURCE = "003_bf2f04177e508226.txt"
ENTRIES: tuple[Entry, ...] = ()
