"""Catalogue entries of 001_fdf9ec2506aa1305.txt (being written)."""

from explorer.experiments.catalogue.entry import Entry

SOURCE = "001_fdf9ec2506aa1305.txt"
ENTRIES: tuple[Entry, ...] = ()
