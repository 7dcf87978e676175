"""Representations: 2-D maps of a run's hidden layers as it trains; two runs side by side.

PCA maps appear at once; t-SNE maps are computed in the background when asked (`explorer.views.maps`),
checkpoint by checkpoint, and kept for the server's life. The epoch slider (or Play) moves
the points smoothly from one checkpoint's map to the next; each map's title says which checkpoint
it shows. Brushing an area of a map lists the samples inside it and shows them.
"""

from __future__ import annotations

import time
from collections import Counter

import streamlit as st

from explorer.views import links, maps
from explorer.config import ConfigError
from explorer.config.labels import run_label
from explorer.runs.store import ACTIVE, StoreError
from pages import common

NONE = "none"
PLAY_S = 0.2       # seconds between two Play ticks
PLAY_STEP = 0.2    # checkpoints the map moves at each tick
EPOCH_STEP = 0.05  # the epoch slider's step
MAP_PX = (560, 440)  # a map's width and height, one run shown or two side by side
POLL_S = 1.0       # while runs train or t-SNE maps are being made
NO_MAPS = ("This run kept no hidden maps. Tick **keep hidden maps** on the **Train** page (on by default) and "
           "train again: the hidden representations of 500 test samples are kept at about ten checkpoints.")


def _mapper() -> maps.Mapper:
    return maps.shared(common.workspace().store)


def _choices() -> tuple[dict[str, str], int]:
    """(run id -> label, how many of them are the current group's): the group's runs first, then
    every other stored run that kept maps."""
    out: dict[str, str] = {}
    found = common.comparison()
    if found is not None:
        out.update(zip(found.ids, found.labels))
    in_group = len(out)
    for info in common.workspace().store.list_runs(limit=200):
        if info.id not in out and info.config.get("train", {}).get("snapshots"):
            when = time.strftime("%d %b %H:%M", time.localtime(info.created))
            how = "" if info.status == "done" else f" · {common.STATUS_WORDS.get(info.status, info.status)}"
            out[info.id] = f"{run_label(info.config)} · {info.config.get('data', {}).get('name', '?')} · {when}{how}"
    # two runs of one rule started in the same minute would read alike: their ids tell them apart
    seen = Counter(out.values())
    return {i: f"{label} · {i[:6]}" if seen[label] > 1 else label for i, label in out.items()}, in_group


def _source(run_id: str):
    """The run's stored maps (None if the store cannot say); a message if it has none (yet)."""
    try:
        source = _mapper().source(run_id)
    except StoreError as err:
        st.error(f"Cannot read this run's hidden maps: {err}")
        return None
    if not source.snapshots:
        st.info(NO_MAPS if source.status not in ACTIVE else
                "No hidden maps yet: the first is kept when training starts.")
    return source


def _samples(chosen, probe, colour: str) -> None:
    """The brushed samples: as small images for image data, else their input features; then a list."""
    if chosen.empty:
        st.caption("Drag over the map to see the samples in an area.")
        return
    st.markdown(f"**{len(chosen)} samples** in the brushed area")
    x = probe.get("x")
    shown = chosen.head(60)
    if maps.is_image(x):
        st.image(maps.sample_images(x, shown["index"]), width=36, caption=[str(c) for c in shown[colour]])
    elif x is not None:
        st.dataframe(maps.sample_features(x, shown["index"]), hide_index=True, height=180)
    else:
        st.caption("This run was stored before probe inputs were kept: only the list can be shown.")
    st.dataframe(chosen.drop(columns=["x", "y"]), hide_index=True, height=180)


def _job(run_id: str, label: str, view: str, method: str):
    """(source, `MapJob`) of one run's maps, started if need be; None for either, with the reason shown."""
    source = _source(run_id)
    if source is None or not source.snapshots:
        return source, None
    if view not in maps.views(source):
        st.warning(f"{label} has no map of {maps.view_label(view)}; it has "
                   f"{', '.join(map(maps.view_label, maps.views(source)))}.")
        return source, None
    try:
        job = _mapper().request(run_id, view, method)
    except (ConfigError, StoreError) as err:
        st.error(f"No map of {label}: {err}")
        return source, None
    for kind, line in maps.job_lines(job, label):
        {"error": st.error, "info": st.info, "note": st.caption}[kind](line)
    return source, job


def _draw(source, job, label: str, view: str, colour: str, epoch: float, size: int, key: str) -> None:
    """One run's map at the slider's ``epoch`` (its title says which checkpoint is on screen), and
    the samples brushed on it."""
    if job.ready == 0:
        return
    drawn = maps.run_map(job, source.probe, label=label, colour=colour, epoch=epoch, size=size)
    event = st.altair_chart(drawn.chart, on_select="rerun", key=key, width="content")
    _samples(maps.inside(drawn.table, maps.brush_of(event)), source.probe, drawn.colour)


def _epoch(first: float, last: float, checkpoints: int, playing: bool) -> float:
    """The epoch slider (and Play) from the ``first`` to the ``last`` checkpoint's epoch; its value."""
    if last <= first:
        return float(last)
    pos = float(st.session_state.get("rep_epoch", last))  # opens at the end
    if pos >= st.session_state.get("rep_last", last):
        pos = last  # at the end it stays at the end, as a run in training keeps more maps
    st.session_state["rep_last"] = last
    pos = min(max(pos, first), last)
    if playing:
        tick = PLAY_STEP * (last - first) / max(checkpoints - 1, 1)
        pos = first if pos >= last else min(pos + tick, last)
    st.session_state["rep_epoch"] = round(pos / EPOCH_STEP) * EPOCH_STEP
    left, right = st.columns([6, 1])
    epoch = left.slider("epoch", float(first), float(last), step=EPOCH_STEP, key="rep_epoch",
                        help="each map's title says which checkpoint it shows; between two checkpoints "
                             "the points move from one map to the next")
    if right.button("Pause" if playing else "Play", width="stretch", key="rep_play_button"):
        st.session_state["rep_play"] = not playing
    return float(epoch)


def _until_maps(run_id: str) -> None:
    """Wait (polling) for a run in training to keep its first map, then draw the page again."""
    source = _mapper().source(run_id)
    if source.snapshots or source.status not in ACTIVE:
        st.rerun()


def _maps(shown: list[tuple[str, str]], view: str, colour: str, method: str, every: float | None) -> None:
    playing = st.session_state.get("rep_play", False)
    slider = st.container()
    columns = st.columns(len(shown))
    found = []
    for (run_id, label), column in zip(shown, columns):
        with column:
            found.append(_job(run_id, label, view, method))
    asked = [job for _, job in found if job is not None and job.total]
    total = max((job.total for job in asked), default=0)
    with slider:
        first = min((job.epochs[0] for job in asked), default=0)
        epoch = _epoch(first, max((job.epochs[-1] for job in asked), default=0), total, playing)
    size = MAP_PX[min(len(shown), len(MAP_PX)) - 1]
    for (run_id, label), column, (source, job) in zip(shown, columns, found):
        if job is not None:
            with column:
                _draw(source, job, label, view, colour, epoch, size, key=f"rep_map_{run_id}")
    playing = st.session_state.get("rep_play", False) and total > 1
    busy = any((job is not None and not job.done) or (source is not None and source.status in ACTIVE)
               for source, job in found)
    wanted = PLAY_S if playing else POLL_S if busy else None
    if wanted != every:
        st.session_state["rep_every"] = wanted
        st.rerun()  # the whole page, so that the maps poll at the new pace (or stop polling)


st.title("Representations")
st.caption("Each point is one test sample; nearby points are samples the layer represents alike. "
           "PCA keeps the layer's global shape; t-SNE shows its neighbourhoods.")
# ``?run=<id>`` opens that run's maps (on the left); an id that is malformed or not in this
# server's store is refused by name at the door, not taken for a run without maps.
common.door("representations", {"run": links.Param("run", common.stored_id("run")),
                                "group": links.Param("runs shown", common.stored_id("group"))})
choices, in_group = _choices()
linked = st.query_params.get("run")
if linked:
    if linked not in choices:   # a stored run that kept no maps: listed, so the page says so of it
        info = common.workspace().store.get_run(linked)
        choices = {linked: f"{run_label(info.config)} · {info.config.get('data', {}).get('name', '?')}", **choices}
    if st.session_state.get("rep_linked") != linked:
        st.session_state["rep_left"] = st.session_state["rep_linked"] = linked
if not choices:
    st.info("No runs with hidden maps yet. " + NO_MAPS.split(". ", 1)[1])
    st.stop()
ids = list(choices)
top = st.columns(2)
left = top[0].selectbox("run", ids, index=0, format_func=choices.get, key="rep_left")
if linked and left != linked:   # chosen since: the address follows what is shown
    st.query_params["run"] = st.session_state["rep_linked"] = left
right = top[1].selectbox("beside it", [NONE, *ids], index=2 if in_group > 1 else 0, key="rep_right",
                         format_func=lambda i: "—" if i == NONE else choices[i])
first = _source(left)
if first is None or not first.snapshots:
    if first is not None and first.status in ACTIVE:
        st.fragment(run_every=POLL_S)(_until_maps)(left)
    st.stop()
row = st.columns([2, 2, 1])
view = row[0].selectbox("layer", maps.views(first), index=len(first.layers) - 1, key="rep_view",
                        format_func=maps.view_label,
                        help="a hidden layer; for parity, also each digit's part of the first hidden layer")
colour = row[1].selectbox("colour by", list(maps.colours(first.probe)), key="rep_colour")
method = row[2].radio("map", list(maps.METHODS), format_func=maps.METHODS.get, key="rep_method",
                      help="t-SNE is computed in the background, a few seconds per checkpoint, then kept")
if view not in first.layers:
    st.caption("One digit's part of the first hidden layer (its weights times that digit's pixels, before the "
               "activation), at the checkpoints where the run kept its weights: the end of training.")
shown = [(left, choices[left])] + ([(right, choices[right])] if right != NONE and right != left else [])
every = st.session_state.get("rep_every")
st.fragment(run_every=every)(_maps)(shown, view, colour, method, every)
