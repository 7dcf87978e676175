"""Catalogue entries of Lillicrap (being written)."""

from explorer.experiments.catalogue.entry import Entry

SOURCE = "Lillicrap"
ENTRIES: tuple[Entry, ...] = ()
