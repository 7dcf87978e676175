"""Alignment: how far each rule's updates point from the true gradient, layer by layer, over training."""

import streamlit as st

from explorer import charts, frames
from pages import common

KINDS = {
    "update": "the rule's weight update against backprop's gradient on the same batch",
    "signal": "the teaching signal each layer receives against backprop's error signal",
    "weight": "the feedback matrix against the forward weights it stands in for",
}

st.title("Alignment")
st.caption("Below 90° a rule's update still goes downhill; 0° is backprop itself. "
           "Measured on the logging step's batch, against one backprop pass on that batch.")
left, right = st.columns([1, 2])
unit = left.radio("show as", ["deg", "cos"], horizontal=True, key="align_unit",
                  format_func=lambda u: "degrees" if u == "deg" else "cosine")
shown = right.multiselect("alignment", list(KINDS), default=list(KINDS), key="align_kinds")


def draw(found) -> None:
    going, labels = not found.finished, tuple(found.labels)
    records = common.live_records(found)
    table = frames.alignment(records)
    if table.empty:
        st.caption("No alignment measured yet: it appears with the first logged step (backprop alone has none).")
    for kind in shown:
        part = table[table["kind"] == kind]
        st.subheader(f"{kind.capitalize()} alignment")
        st.caption(KINDS[kind])
        if part.empty:
            st.caption("None of these rules has this alignment (e.g. weight alignment needs a chain of layers).")
            continue
        # Built by Altair when its look changes; each live redraw swaps the new points in.
        spec = common.swapped_spec(f"align {found.group} {kind}", part, key=(unit, labels, going),
                                   make=lambda t, k=kind: charts.alignment_chart(t, k, unit=unit, order=labels,
                                                                                live=going))
        st.vega_lite_chart(spec=spec, key=f"align_{kind}")
    st.subheader("Gradient norms")
    st.caption("Per layer, log scale: the rule's update (solid) and backprop's gradient (dotted). Norms that "
               "fall layer by layer are vanishing gradients; norms that grow by orders of magnitude explode.")
    norms = frames.norms(records)
    if not norms.empty:
        spec = common.swapped_spec(f"norms {found.group}", norms, key=(labels, going),
                                   make=lambda t: charts.norms_chart(t, order=labels, live=going))
        st.vega_lite_chart(spec=spec, key="norms")


common.live(draw)
