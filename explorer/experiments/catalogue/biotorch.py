"""Catalogue entries of BioTorch (being written)."""

from explorer.experiments.catalogue.entry import Entry

SOURCE = "BioTorch"
ENTRIES: tuple[Entry, ...] = ()
