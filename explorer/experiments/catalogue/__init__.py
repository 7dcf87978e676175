"""The catalogue of published experiments: one `Entry` per table or figure with a number.

Entries live in one module per document (`di_pasquale` and `di_pasquale_resnet`, `shah`, `thakkar`, `demirbilek`,
`espinosa_zarlenga`, and the two works outside ../shared/seeds: `biotorch`, `lillicrap`).

Example:
    >>> entry = get(next(iter(CATALOGUE)))
    >>> entry.id in CATALOGUE and entry.source != ""
    True
"""

from __future__ import annotations

import difflib

from explorer.experiments.catalogue import (
    biotorch, demirbilek, di_pasquale, di_pasquale_resnet, espinosa_zarlenga, lillicrap, shah, thakkar,
)
from explorer.experiments.catalogue.entry import SCALES, Entry, Published, Run, Scale

DOCUMENTS = (di_pasquale, di_pasquale_resnet, shah, thakkar, demirbilek, espinosa_zarlenga, biotorch, lillicrap)


class EntryNotFound(KeyError):
    """`get` was given an id that names no entry; the message lists close ones."""

    def __str__(self) -> str:
        return str(self.args[0])


def _catalogue() -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for module in DOCUMENTS:
        for entry in module.ENTRIES:
            if entry.id in out:
                raise ValueError(f"catalogue entry id {entry.id!r} is used twice")
            out[entry.id] = entry
    return out


CATALOGUE: dict[str, Entry] = _catalogue()


def get(entry_id: str) -> Entry:
    """The entry with this id; `EntryNotFound` names the ids that start alike.

    Example:
        >>> get("no-such-entry")
        Traceback (most recent call last):
        ...
        explorer.experiments.catalogue.EntryNotFound: no catalogue entry 'no-such-entry'; see `python -m explorer reproduce --list`
    """
    if entry_id in CATALOGUE:
        return CATALOGUE[entry_id]
    close = difflib.get_close_matches(entry_id, CATALOGUE, n=8, cutoff=0.8) or \
        [key for key in CATALOGUE if key.startswith(entry_id.split("-")[0] + "-")][:8]
    hint = f"; entries like it: {', '.join(close)}" if close else "; see `python -m explorer reproduce --list`"
    raise EntryNotFound(f"no catalogue entry {entry_id!r}{hint}")


__all__ = ["CATALOGUE", "DOCUMENTS", "SCALES", "Entry", "EntryNotFound", "Published", "Run", "Scale", "get"]
