"""Catalogue entries of 002_69c287ba4bc32ce9.txt (being written)."""

from explorer.experiments.catalogue.entry import Entry

SOURCE = "002_69c287ba4bc32ce9.txt"
ENTRIES: tuple[Entry, ...] = ()
