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


def document_name(source: str) -> str:
    """A document (an entry's ``source``) in a few words: its author, year or title for the source
    documents in ../shared/seeds (their ``TITLE``; a reader has no use for the seed's file name),
    the paper as written for the others.

    Example:
        >>> document_name(get("dipasquale-t3.1").source), document_name(get("biotorch-mnist").source)
        ("Di Pasquale 2019, master's thesis (Politecnico di Torino)", 'Sanfiz & Akrout 2021 (BioTorch)')
    """
    module = next((m for m in DOCUMENTS if m.SOURCE == source), None)
    return getattr(module, "TITLE", source)


def short_document_name(source: str) -> str:
    """`document_name` cut to its authors (and year, where it has one): a table's column.

    Example:
        >>> short_document_name(get("dipasquale-t3.1").source), short_document_name(get("lillicrap-linear").source)
        ('Di Pasquale 2019', 'Lillicrap et al. 2016')
    """
    return document_name(source).split(",")[0].split(" (")[0]


def document_names() -> dict[str, str]:
    """Every document of the catalogue (its ``source``) -> `document_name`, in catalogue order.

    Example:
        >>> [name.split(",")[0] for name in document_names().values()][:3]
        ['Di Pasquale 2019', 'Shah', 'Thakkar']
    """
    return {entry.source: document_name(entry.source) for entry in CATALOGUE.values()}


__all__ = ["CATALOGUE", "DOCUMENTS", "document_name", "document_names", "short_document_name", "SCALES", "Entry", "EntryNotFound", "Published", "Run", "Scale", "get"]
