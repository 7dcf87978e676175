"""Alignment: how far each rule's updates point from the true gradient, layer by layer, over training."""

import streamlit as st

from explorer.views import charts, frames, links, sketch
from pages import common

KINDS = {
    "update": "the rule's weight update against backprop's gradient on the same batch",
    "signal": "the teaching signal each layer receives against backprop's error signal",
    "weight": "the feedback matrix against the forward weights it stands in for",
}

st.title("Alignment")
common.door("alignment", {"group": links.Param("runs shown", common.stored_id("group"))})
left, right = st.columns([1, 2])
unit = left.radio("show as", ["deg", "cos"], horizontal=True, key="align_unit",
                  format_func=lambda u: "degrees" if u == "deg" else "cosine")
shown = right.multiselect("alignment", list(KINDS), default=list(KINDS), key="align_kinds")
st.caption(("Below 90° a rule's update still goes downhill; 0° is backprop itself. " if unit == "deg" else
            "Above 0 a rule's update still goes downhill; 1 is backprop itself. ")
           + "Measured on the logging step's batch, against one backprop pass on that batch.")


NO_KIND = "None of these rules has this alignment (e.g. weight alignment needs a chain of layers)."
NORMS = ("Per layer, log scale: the rule's update (solid) and backprop's gradient (dotted). Norms that "
         "fall layer by layer are vanishing gradients; norms that grow by orders of magnitude explode.")


def draw(found) -> None:
    going, labels = not found.finished, tuple(found.labels)
    rules = tuple(info.config.get("algorithm", {}).get("name") for info in found.infos)
    records = common.live_records(found)
    table = frames.alignment(records)
    if table.empty:
        st.caption("No alignment measured yet: it appears with the first logged step (backprop alone has none).")
    if going:
        return draw_live(table, frames.norms(records), labels, rules)
    for kind in shown:
        part = table[table["kind"] == kind]
        st.subheader(f"{kind.capitalize()} alignment")
        st.caption(KINDS[kind] + without(kind, part, labels, rules))
        if part.empty:
            st.caption(NO_KIND)
            continue
        draw_panels(f"align_{kind}", charts.alignment_panels(part, kind, unit=unit, order=labels))
    st.subheader("Gradient norms")
    st.caption(NORMS)
    norms = frames.norms(records)
    if not norms.empty:
        draw_panels("norms", charts.norms_panels(norms, order=labels))


PER_ROW = 3   # panels side by side; more layers wrap to the next row


def draw_panels(key: str, panels) -> None:
    """One chart per hidden layer, side by side across the page's width (wrapping after `PER_ROW`)."""
    for first in range(0, len(panels), PER_ROW):
        row = panels[first:first + PER_ROW]
        for i, (column, (layer, chart)) in enumerate(zip(st.columns(min(len(panels), PER_ROW)), row)):
            column.markdown(f"**{layer}**")
            column.altair_chart(chart, key=f"{key}_{first + i}", width="stretch")


def without(kind: str, part, labels, rules) -> str:
    """Which runs (``labels``, trained by ``rules``) have no line in this kind's charts, and why
    ("" when every run has one)."""
    missing = [(label, rule) for label, rule in zip(labels, rules) if label not in set(part["run"])]
    if not missing:
        return ""
    if kind != "weight":
        return f". No line for {', '.join(label for label, _ in missing)}: backprop is the reference itself."
    reasons = {"has no feedback matrix": [label for label, rule in missing if rule == "bp"],
               "feeds back through matrices that stand in for no one forward matrix":
                   [label for label, rule in missing if rule != "bp"]}
    return ". No line for " + "; ".join(f"{', '.join(names)}: {'it' if len(names) == 1 else 'they'} {why}"
                                        for why, names in reasons.items() if names) + "."


def draw_live(table, norms, labels, rules) -> None:
    """While the runs train: the same charts as plain SVG in one Markdown element (a Vega chart per
    kind cost Chromium 0.31 cores at two redraws a second; see `explorer.views.sketch`)."""
    parts = []
    for kind in shown:
        part = table[table["kind"] == kind]
        svgs = sketch.alignment_svgs(part, kind, unit=unit, order=labels) if not part.empty else []
        parts.append(f"#### {kind.capitalize()} alignment\n\n{KINDS[kind]}{without(kind, part, labels, rules)}\n\n"
                     + (sketch.panels(svgs, min_width=240) if svgs else f"*{NO_KIND}*"))
    svgs = sketch.norms_svgs(norms, order=labels) if not norms.empty else []
    parts.append(f"#### Gradient norms\n\n{NORMS}\n\n" + (sketch.panels(svgs, min_width=240) if svgs else ""))
    st.markdown("\n\n".join(parts), unsafe_allow_html=True)


common.live(draw)
