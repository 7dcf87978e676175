"""The package version, which the run store records with every run (read by every layer)."""

__version__ = "0.1.0"
