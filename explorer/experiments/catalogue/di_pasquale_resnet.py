"""Catalogue entries of 000_f576d27fd47a6f1f.txt, the ResNet tables 3.7-3.25 (being written)."""

from explorer.experiments.catalogue.entry import Entry

SOURCE = "000_f576d27fd47a6f1f.txt"
ENTRIES: tuple[Entry, ...] = ()
