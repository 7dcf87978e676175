"""Stored runs as tables: one row per metric record, a run's or a whole group's, as CSV or JSON;
and a chart as a picture file to download (`picture`).

A record's per-layer rows become columns named ``<layer>.<metric>`` (``layers.0.update_cos``), so
the runs of a group, which share their layers, line up in one table; each row also names its run,
group, rule, seed and status.

Example:
    >>> import os, tempfile
    >>> from explorer.runs.store import Store
    >>> folder = tempfile.TemporaryDirectory()
    >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
    >>> run = store.create_run({"algorithm": {"name": "dfa"}})
    >>> store.append_metrics(run, [{"step": 4, "train_loss": 2.0, "layers": [{"layer": "layers.0", "update_cos": 0.5}]}])
    >>> table = runs_table(store, [run])
    >>> list(table.columns), table.loc[0, "rule"]
    (['run', 'group', 'rule', 'seed', 'status', 'step', 'train_loss', 'layers.0.update_cos'], 'dfa')
"""

from __future__ import annotations

import io
import json
import math
from typing import TYPE_CHECKING, Any, Sequence

from explorer.runs.store import Store, UnknownRun, check_id

if TYPE_CHECKING:  # pandas is imported where a table is made: the command line's JSON needs none
    import pandas as pd

FORMATS = ("csv", "json")
PICTURES = {"png": "image/png", "svg": "image/svg+xml"}  # picture formats and their MIME types
SCALE = 2  # a PNG's pixels per chart pixel: sharp on a projector and in a slide


def _flat(record: dict) -> dict:
    row = {k: v for k, v in record.items() if k != "layers"}
    for layer in record.get("layers", []):
        name = layer.get("layer", f"layer{layer.get('index', '')}")
        row.update({f"{name}.{k}": v for k, v in layer.items() if k not in ("layer", "index")})
    return row


def runs_table(store: Store, run_ids: Sequence[str]) -> pd.DataFrame:
    """One row per metric record of the given runs, in their order; see the module's example."""
    import pandas as pd

    rows = []
    for run_id in run_ids:
        info = store.get_run(run_id)
        head = {"run": info.id, "group": info.group, "rule": info.config.get("algorithm", {}).get("name"),
                "seed": info.config.get("seed"), "status": info.status}
        rows += [{**head, **_flat(record)} for record in store.metrics(run_id)]
    columns = ["run", "group", "rule", "seed", "status"]
    return pd.DataFrame(rows, columns=None if rows else columns)


def strict(value: Any) -> Any:
    """NaN and infinities as None, so that JSON output is strict.

    Example:
        >>> strict({"a": [1.0, float("nan")]})
        {'a': [1.0, None]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def run_document(store: Store, run_id: str) -> dict:
    """A run as one JSON-ready dict: its row (`RunInfo.to_dict`), its records and checkpoint steps."""
    doc = store.get_run(run_id).to_dict()
    doc["metrics"] = store.metrics(run_id)
    doc["checkpoints"] = store.checkpoint_steps(run_id)
    return strict(doc)


def resolve(store: Store, ident: str) -> tuple[str, list[str]]:
    """("run", [id]) or ("group", [its run ids, oldest first]) for an id; `UnknownRun` if neither."""
    check_id(ident, "run or group id")
    try:
        return "run", [store.get_run(ident).id]
    except UnknownRun:
        kind = "group"  # not a run: perhaps a group
    try:
        store.get_group(ident)
    except UnknownRun as err:
        raise UnknownRun(f"no run or group {ident} in {store.path}") from err
    return kind, [info.id for info in reversed(store.list_runs(group=ident))]


def export(store: Store, ident: str, fmt: str = "csv") -> str:
    """A run's or a group's records as text: ``csv`` (one table, every run of a group in it) or
    ``json`` (the run document, or ``{"group": ..., "runs": [...]}``).

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> folder = tempfile.TemporaryDirectory()
        >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
        >>> run = store.create_run({})
        >>> store.append_metrics(run, [{"step": 1, "train_loss": 2.5}])
        >>> print(export(store, run, "csv").splitlines()[1].split(",")[-2:])
        ['1', '2.5']
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    kind, runs = resolve(store, ident)
    if fmt == "csv":
        return runs_table(store, runs).to_csv(index=False)
    if kind == "run":
        return json.dumps(run_document(store, runs[0]), indent=2)
    group = store.get_group(ident)
    return json.dumps({"group": {"id": group.id, "seed": group.seed, "label": group.label},
                       "runs": [run_document(store, r) for r in runs]}, indent=2)


def picture(chart, fmt: str = "png") -> bytes:
    """An Altair chart as a PNG (at `SCALE` times its size) or SVG file's bytes, on white, drawn
    offline (vl-convert): a download that reads the same in a slide of any colour.

    Example:
        >>> import altair as alt, io, pandas as pd
        >>> from PIL import Image
        >>> chart = alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_point().encode(x="x").properties(width=50, height=40)
        >>> png = Image.open(io.BytesIO(picture(chart, "png")))
        >>> png.getpixel((0, 0)), png.size[0] > 2 * 50
        ((255, 255, 255, 255), True)
    """
    if fmt not in PICTURES:
        raise ValueError(f"format must be one of {', '.join(PICTURES)}, got {fmt!r}")
    white = chart.properties(background="white")  # a copy: the chart on the page keeps its own
    buffer = io.BytesIO() if fmt == "png" else io.StringIO()
    white.save(buffer, format=fmt, **({"scale_factor": SCALE} if fmt == "png" else {}))
    value = buffer.getvalue()
    return value if isinstance(value, bytes) else value.encode()
