"""Helpers for AppTest tests of the Streamlit pages: reading the charts a page drew, waiting on runs."""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@contextlib.contextmanager
def app_workspace(path: Path):
    """The app's workspace on the store at ``path`` (``$EXPLORER_STORE`` names it while inside):
    for a module's fixture that trains runs once and opens pages on them."""
    import pytest
    import streamlit as st

    from explorer.runs import workspace as runs

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_STORE", str(path))
        st.cache_resource.clear()  # the app's workspace is the one on this store
        yield runs.workspace(path)
        st.cache_resource.clear()


def _elements(node, kind: str) -> list:
    found = []
    if getattr(node, "type", None) == kind:
        found.append(node)
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            found += _elements(child, kind)
    return found


def charts(at) -> list[tuple[dict, list[pd.DataFrame]]]:
    """Every Altair/Vega-Lite chart on the page: (its spec, the tables it was given)."""
    out = []
    for element in _elements(at._tree, "vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        tables = [pa.ipc.open_stream(io.BytesIO(d.data.data)).read_pandas() for d in element.proto.datasets]
        out.append((spec, tables))
    return out


def run_until(at, done, timeout: float = 60.0, poll: float = 0.3):
    """Rerun the page until ``done(at)`` is true (as a person watching it would see it), or fail."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if done(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError(f"page did not reach the expected state in {timeout:g} s; "
                                 f"markdown: {[m.value for m in at.markdown]}")
        time.sleep(poll)


def text(at) -> str:
    """All markdown, captions, info, warnings and errors on the page, joined."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success"):
        parts += [e.value for e in getattr(at, kind)]
    return "\n".join(parts)


def app_on(page: str, **query: str):
    """The app opened on ``page`` ("pages/parity.py"), through app.py's navigation, without errors,
    with ``query`` in its address."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(page)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at, label: str):
    """The page's button labelled ``label``."""
    return next(b for b in at.button if b.label == label)


def set_widget(at, key: str, value):
    """Give the page's input widget keyed ``key`` (a number, text, select, multiselect, slider or
    checkbox) the value ``value``, as a person would; the page runs at the next ``at.run()``."""
    for kind in ("number_input", "text_input", "selectbox", "multiselect", "slider", "checkbox"):
        found = [w for w in at.get(kind) if w.key == key]
        if found:
            return found[0].set_value(value)
    raise KeyError(f"no input widget keyed {key!r} on the page")
