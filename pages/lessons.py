"""Lessons: one click replays an experiment of the field at classroom scale, beside its published values.

Each lesson is a classroom view of a catalogue entry (`explorer.experiments.lessons`): the page says
which, links to that entry on the Reproduce page, and shows the entry's published values ("≈" where
read off a plot)."""

import pandas as pd
import streamlit as st

from explorer.views import charts, frames, links, sketch, urlstate
from explorer.experiments import lessons
from explorer.experiments.parity import ParitySetup
from explorer.config import ConfigError
from explorer.data.availability import missing
from explorer.experiments.catalogue.entry import FOLDER_DATASETS
from explorer.runs.store import InvalidId, UnknownRun
from pages import common

KEYS = list(lessons.LESSONS)

st.title("Lessons")
common.door("lessons", {"lesson": links.Param("Lesson", links.choice_reader([lessons.LESSONS[k].title for k in KEYS])),
                        "group": links.Param("runs shown", common.stored_id("group"))})
key = st.selectbox("Lesson", KEYS, format_func=lambda k: lessons.LESSONS[k].title, key="lesson",
                   bind="query-params")
lesson = lessons.get(key)
entry = lesson.catalogue_entry
st.markdown(f"A classroom view of **{entry.ref}** of {lessons.document(entry)} (catalogue entry `{entry.id}`).")
st.page_link("pages/reproduce.py", label=f"Open {entry.id} on the Reproduce page (classroom scale)",
             query_params={"entry": entry.id, "scale": "classroom"})
st.markdown(lesson.text)

published = pd.DataFrame([{"run": p.run, "published": p.text(), "what": lessons.words_of(p.metric),
                            "source": lesson.source_of(p)}
                          for p in lesson.published()])
if not published.empty:
    st.caption("Published values (≈: read off a plot)")
    st.dataframe(published, hide_index=True, width="stretch")

dataset = lessons.OFFLINE
if lesson.dataset != lessons.OFFLINE:
    where = "from the data folder" if lesson.dataset in FOLDER_DATASETS else "generated"
    if st.toggle(f"Run the entry's classroom scale on {lesson.dataset} ({where}) instead of the offline version",
                 key="lesson_mnist", help=entry.classroom.shrinks):
        dataset = lesson.dataset
try:
    configs = lesson.configs(dataset=dataset)
except ConfigError as err:
    common.config_error(err)
    st.stop()
absent = missing(configs[0].data)
if absent:
    st.warning(absent)

run, open_train = st.columns(2)
if run.button("Run this lesson", type="primary", disabled=bool(absent), width="stretch"):
    handles = []
    try:
        common.start_runs(configs, lambda: [h.id for h in handles.extend(
            common.workspace().jobs.submit_group(configs, label=f"lesson {lesson.key}")) or handles])
    except ConfigError as err:
        common.config_error(err)
    else:
        common.remember_group(handles[0].group)
        st.rerun()
train_query = None
if lesson.page == "parity":
    why_not = "the Parity page has the controls of the parity task: change its settings and run it there"
elif len(configs) > urlstate.SLOTS:
    why_not = f"this lesson has {len(configs)} runs; the Train page holds {urlstate.SLOTS} rules"
elif not lessons.differ_in_rule_only(configs):
    why_not = "this lesson's runs differ in more than their rule; the Train page gives every rule the same setup"
else:
    try:  # tried before the button is drawn: a setup the Train page cannot hold leaves it off, saying why
        train_query = urlstate.query(urlstate.params(configs[0], [c.algorithm.to_dict() for c in configs]))
    except ConfigError as err:
        why_not = f"the Train page cannot hold this lesson's setup: {err}"
if lesson.page == "parity":
    if open_train.button("Open on the Parity page", width="stretch", help=why_not):
        common.open_on_parity(ParitySetup.of(configs))
elif open_train.button("Open on the Train page", disabled=train_query is None, width="stretch",
                       help="to change its settings and run it there" if train_query is not None else why_not):
    common.open_on_train(train_query)


def draw(found) -> None:
    # The lesson's labels name the runs everywhere on this page: status, messages, table, legends.
    labels = lesson.labels()
    statuses = ", ".join(f"{label}: {common.STATUS_WORDS.get(info.status, info.status)}"
                         for label, info in zip(labels, found.infos))
    st.caption(statuses)
    for label, info in zip(labels, found.infos):
        message = common.diverged_message(label, info)
        if message:
            st.error(message)
    records = dict(zip(labels, found.lists))
    finals = {label: frames.latest(rows) for label, rows in records.items()}
    st.subheader("Measured here, beside the published value")
    st.dataframe(lessons.shown(lessons.compare(lesson, finals)), hide_index=True, width="stretch")
    st.caption("–: not measured (a run not finished, or a value the rule does not have) or not published; "
               "≈: read off a plot.")
    log = common.loss_axis("lesson_loss_axis")
    common.curves(found, "lesson", labels=labels, log=log)
    angles = frames.alignment(common.live_records(found, labels))
    if angles.empty:
        return
    if found.finished:
        st.altair_chart(charts.alignment_chart(angles, "update", order=labels), key="lesson_align")
    else:   # redrawn twice a second: plain SVG, as the Alignment page draws it live
        st.markdown(sketch.panels(sketch.alignment_svgs(angles, "update", order=labels), min_width=240),
                    unsafe_allow_html=True)

group = common.current_group()
if group:  # the runs of this lesson, if the session (or the link) looks at them
    try:
        label = common.workspace().store.get_group(group).label
    except (InvalidId, UnknownRun) as err:
        st.warning(f"The link names runs this server does not have: {err}")
    else:
        if label == f"lesson {lesson.key}":
            common.live(draw, group=group)
