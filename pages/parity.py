"""Parity: learn the parity of k digits with several rules and seeds; accuracy bands across seeds,
the final table, and the published values beside the measured ones.

Every control is keyed ``par_…`` and bound to the URL; ``?parity=<group>,<group>,…`` names the
experiment's runs (one group per seed), so a reload or a link in another tab finds them again.
"""

from __future__ import annotations

import streamlit as st

from explorer.config import OPTIMIZERS, ConfigError
from explorer.experiments import parity_runs
from explorer.experiments.parity import MAX_RUNS, MAX_SEEDS, PARITY_LR, PARITY_RULES, REFERENCE_NOTE, ParitySetup
from explorer.config.labels import rule_label
from explorer.config.registry import RULES
from explorer.experiments.parity_table import final_text
from explorer.runs.store import InvalidId, StoreError, UnknownRun
from explorer.views import caps as server_caps
from explorer.views import charts, links, sketch
from pages import common

D = ParitySetup()


def _rule_words(key: str) -> str:
    """A parity rule key ("rf:gaussian") in the words every page uses for it ("RF gaussian")."""
    name, _, variant = key.partition(":")
    return rule_label({"name": name, **({"variant": variant} if variant else {})})


def _number(label: str, key: str, value, **kw):
    return st.number_input(label, value=value, key=key, bind="query-params", **kw)


CONTROL_GROUPS = ("task", "rules", "size")  # what a classroom link can hide (?hide=…)


def _controls(classroom: common.Classroom) -> tuple[ParitySetup, dict]:
    """Draw the controls (groups the link hides go into a closed box); the setup they hold and,
    per field, a place right under its widget."""
    spots: dict[str, st.delta_generator.DeltaGenerator] = {}
    at = classroom.layout([("task",), ("rules",), ("size",)])
    with classroom.box("task", at.get("task")):
        k = _number("k (digits per sample)", "par_k", D.k, step=1,
                    help="the label is the parity of the sum of k digits shown side by side")
        spots["k"] = st.empty()
        base = st.selectbox("base dataset", ["digits", "mnist"], key="par_base", bind="query-params",
                            help="digits: 8×8 images, built in (works offline); mnist: 28×28, read from a folder")
        spots["base"] = st.empty()
        root = ""
        if base == "mnist":
            root = st.text_input("data folder", key="par_root", bind="query-params",
                                 placeholder="$EXPLORER_DATA or ~/.explorer/data",
                                 help="a folder holding MNIST/raw/ (torchvision's layout)")
        spots["root"] = st.empty()
    with classroom.box("rules", at.get("rules")):
        rules = st.multiselect("rules", PARITY_RULES, default=list(D.rules), key="par_rules", bind="query-params",
                               format_func=_rule_words,
                               help="; ".join(f"{_rule_words(r)}: {RULES[r.partition(':')[0]].help}"
                                              for r in PARITY_RULES))
        spots["rules"] = st.empty()
        chosen = st.multiselect("optimisers", OPTIMIZERS, default=list(D.optimizers), key="par_opts",
                                bind="query-params")
        optimizers = {name: _number(f"learning rate ({name})", f"par_lr_{name}", PARITY_LR[name],
                                    format="%g", step=None) for name in chosen}
        spots["optimizers"] = st.empty()
    with classroom.box("size", at.get("size")):
        seeds = _number("seeds", "par_seeds", D.seeds, step=1,
                        help="each rule is run once per seed; the band is the 95% confidence interval of the "
                             "mean (two seeds or more)")
        spots["seeds"] = st.empty()
        # Expanders do not nest: inside the link's closed box, these go straight in.
        hidden = "size" in classroom.hidden
        with st.container() if hidden else st.expander("Experiment size", expanded=False):
            epochs = _number("epochs", "par_epochs", D.epochs, step=1)
            spots["epochs"] = st.empty()
            train_samples = _number("training samples per epoch", "par_train", D.train_samples, step=1000,
                                    help="drawn afresh every epoch")
            spots["train_samples"] = st.empty()
            test_samples = _number("test samples", "par_test", D.test_samples, step=500)
            spots["test_samples"] = st.empty()
            hidden = _number("hidden units", "par_hidden", D.hidden, step=32,
                             help="one hidden layer (ReLU; linear for RF linear)")
            spots["hidden"] = st.empty()
            batch = _number("batch size", "par_batch", D.batch_size, step=16)
            spots["batch_size"] = st.empty()
            first_seed = _number("first seed", "par_seed0", D.first_seed, step=1)
            spots["first_seed"] = st.empty()
            device = st.selectbox("device", ["auto", "cpu", "cuda", "mps"], key="par_device", bind="query-params")
    spots["setup"] = st.empty()
    setup = ParitySetup(k=int(k), base=base, root=root.strip(), rules=tuple(rules), optimizers=optimizers,
                        seeds=int(seeds), first_seed=int(first_seed), epochs=int(epochs),
                        train_samples=int(train_samples), test_samples=int(test_samples), hidden=int(hidden),
                        batch_size=int(batch), device=device, most_runs=MAX_RUNS, most_seeds=MAX_SEEDS)
    return setup, spots


# A link's numbers: parameter -> (the setup's field, the control's lowest and highest value; None: open).
NUMBERS = {"par_k": ("k", 1, 10), "par_seeds": ("seeds", 1, MAX_SEEDS), "par_epochs": ("epochs", 1, None),
           "par_train": ("train_samples", 10, None), "par_test": ("test_samples", 10, None),
           "par_hidden": ("hidden", 1, None), "par_batch": ("batch_size", 1, None), "par_seed0": ("first_seed", 0, None)}
WORDS = {"par_k": "k (digits per sample)", "par_seeds": "seeds", "par_epochs": "epochs",
         "par_train": "training samples per epoch", "par_test": "test samples", "par_hidden": "hidden units",
         "par_batch": "batch size", "par_seed0": "first seed"}


def _own(field: str):
    """The setup's own verdict on one field's value, all else at the defaults."""
    return lambda value: ParitySetup(**{field: value}).problems().get(field)


def _link_params() -> dict[str, links.Param]:
    """What the page reads from a link (`common.door`): its controls, the runs shown, the hidden groups."""
    params = {key: links.Param(WORDS[key], common.judged(links.int_reader(low, high), _own(field)))
              for key, (field, low, high) in NUMBERS.items()}
    params |= {
        "par_base": links.Param("base dataset", links.choice_reader(["digits", "mnist"])),
        "par_root": links.Param("data folder"),
        "par_rules": links.Param("rules", links.choice_reader([_rule_words(r) for r in PARITY_RULES]), many=True),
        "par_opts": links.Param("optimisers", links.choice_reader(OPTIMIZERS), many=True),
        "par_device": links.Param("device", links.choice_reader(["auto", "cpu", "cuda", "mps"])),
        "hide": links.Param("hidden controls", common.hide_reader(CONTROL_GROUPS)),
        "parity": links.Param("runs shown", common.stored_id("group", many=True)),
        **{f"par_lr_{name}": links.Param(f"learning rate ({name})", links.float_reader(above=0.0))
           for name in OPTIMIZERS},
    }
    return params


def _setup_of(values: dict) -> ParitySetup:
    """The setup a link's values describe (the others at the page's defaults)."""
    words = {_rule_words(r): r for r in PARITY_RULES}
    chosen = values.get("par_opts", list(D.optimizers))
    fields = {field: values[key] for key, (field, _, _) in NUMBERS.items() if key in values}
    return ParitySetup(**fields, base=values.get("par_base", D.base), root=values.get("par_root", ""),
                       rules=tuple(words[w] for w in values.get("par_rules", [_rule_words(r) for r in D.rules])),
                       optimizers={name: values.get(f"par_lr_{name}", PARITY_LR[name]) for name in chosen},
                       most_runs=MAX_RUNS, most_seeds=MAX_SEEDS)


def _past_caps(values: dict) -> dict[str, str]:
    """What a link's setup asks past a cap: the runs one experiment queues (by its seeds) and the
    server's steps per run (by its epochs)."""
    setup = _setup_of(values)
    problems = setup.problems()
    if "seeds" in problems and "par_seeds" in values:
        return {"par_seeds": problems["seeds"]}
    try:
        server_caps.check_steps(setup.configs(), common.caps())
    except server_caps.CapError as err:
        return {"par_epochs": f"epochs: {err.problem}"}
    except ConfigError:
        pass
    return {}


def _groups() -> list[str]:
    """The experiment this session looks at (``?parity=g1,g2,…``, one group per seed)."""
    return [g for g in (common.shown("parity") or "").split(",") if g]


def _experiment() -> parity_runs.ParityRuns | None:
    """The experiment's runs, kept in the session so each poll reads only new records."""
    groups = _groups()
    if not groups:
        return None
    key = ",".join(groups)
    cache = st.session_state.setdefault("parity_experiments", {})
    if key not in cache:
        try:
            cache[key] = parity_runs.follow(common.workspace(), groups)
        except (InvalidId, UnknownRun, ValueError) as err:
            st.warning(f"The link names runs this server does not have as a parity experiment: {err}")
            return None
    found = cache[key]
    found.poll()
    return found


def _status(found: parity_runs.ParityRuns) -> None:
    done, total = found.progress()
    counts = found.counts()
    words = ", ".join(f"{n} {common.STATUS_WORDS.get(s, s)}" for s, n in counts.items())
    device = next((info.device_name for _, info in found.infos() if info.device_name), None)
    st.progress(done / total if total else 0.0,
                text=f"{len(found.infos())} runs: {words} · step {done:,}/{total:,} · device: {device or '…'}")
    for label, info in found.infos():
        message = common.diverged_message(f"{label} (seed {info.config.get('seed', 0)})", info)
        if message:
            st.error(message)


def _band_spec(found: parity_runs.ParityRuns, band, refs: dict) -> dict:
    """The band chart's Vega-Lite spec: built by Altair once per experiment, then each poll only
    swaps the new band in (building an Altair chart costs far more than the poll itself)."""
    charts_by_group = st.session_state.setdefault("parity_band_charts", {})
    key = ",".join(found.groups)
    if key not in charts_by_group:
        charts_by_group[key] = charts.SwapChart(lambda table: charts.band_chart(table, refs, order=found.labels))
    return charts_by_group[key].spec(band, key=tuple(sorted(refs.items())))


NO_POINTS = "The first points appear at the end of the first epoch."
BAND_WORDS = ("Lines: mean over seeds; shaded: 95% confidence interval of the mean; dashed: the published "
              "value for the rule (where the literature has one).")
LIVE_BAND_WORDS = " While the runs train, the interval is shaded once every seed of a rule has reached the epoch."
ONE_SEED_WORDS = " One seed: no interval (it takes two seeds or more), so the lines are the runs themselves."


def _band_words(found: parity_runs.ParityRuns) -> str:
    """What the band chart draws; while the runs train, when its interval appears."""
    if len(found.groups) == 1:  # one group per seed
        return BAND_WORDS + ONE_SEED_WORDS
    return BAND_WORDS + ("" if found.finished else LIVE_BAND_WORDS)


def _view(found: parity_runs.ParityRuns) -> None:
    _status(found)
    refs = found.references()
    title = f"Test accuracy, parity of k = {found.k} digit{'s' if found.k != 1 else ''} ({found.base})"
    if not found.finished:
        return _view_live(found, found.live_band(), refs, title)
    band = found.band()
    st.subheader(title)
    if band.empty:
        st.caption(NO_POINTS)
    else:
        st.vega_lite_chart(spec=_band_spec(found, band, refs), key="parity_band", width="stretch")
        st.caption(_band_words(found))
    st.subheader("Final test accuracy")
    st.dataframe(final_text(found.final()), hide_index=True, key="parity_final")
    _notes(found)


def _view_live(found: parity_runs.ParityRuns, band, refs: dict, title: str) -> None:
    """While the runs train: the band as SVG and the table as Markdown, in one element (the Vega
    band and the data grid redrawn at every poll cost the browser far more; `explorer.views.sketch`)."""
    chart = (f"{sketch.panels([sketch.band_svg(band, refs, order=found.labels)])}\n\n"
             f"<small>{_band_words(found)}</small>"
             if not band.empty else f"<small>{NO_POINTS}</small>")
    st.markdown(f"### {title}\n\n{chart}\n\n### Final test accuracy\n\n{_markdown_table(final_text(found.final()))}",
                unsafe_allow_html=True)
    _notes(found)


def _markdown_table(table) -> str:
    """``table`` (text, as `final_text` writes it) as a Markdown table."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def _notes(found: parity_runs.ParityRuns) -> None:
    """What the published values are, and where the literature has none."""
    if found.k not in (1, 3):
        st.caption("The literature gives values for k = 1 and k = 3 only.")
    st.caption(REFERENCE_NOTE)


def _live(found: parity_runs.ParityRuns) -> None:
    common.refreshing(found.poll, lambda: found.finished, lambda: _view(found))


st.title("Parity")
st.caption("k digits side by side; the label is the parity of their sum. Backprop learns it; lazy methods "
           "(random features, the NTK regime) stay at chance for k = 3; DFA learns it more slowly.")
common.door("parity", _link_params(), check=_past_caps)
classroom = common.Classroom(CONTROL_GROUPS)
setup, spots = _controls(classroom)
problems = common.show_problems(setup, spots)

found = _experiment()
going = found is not None and not found.finished
c = st.columns([1, 1, 4])
run = c[0].button("Run experiment", type="primary", disabled=bool(problems) or going, width="stretch")
if c[1].button("Stop", disabled=not (going and found.controllable), width="stretch"):
    found.stop()
if run:
    try:
        handles = []
        common.start_runs(setup.configs(), lambda: [h.id for h in handles.extend(
            parity_runs.start(common.workspace(), setup)) or handles])
    except (ConfigError, StoreError, ValueError) as err:
        common.config_error(err)
    else:
        common.show("parity", ",".join(parity_runs.groups_of(handles)))
        st.rerun()
if found is None:
    series = len(setup.rules) * len(setup.optimizers)
    st.info(f"Set up the experiment and press **Run experiment**: {series} series × {setup.seeds} "
            f"seed{'s' if setup.seeds != 1 else ''}.")
else:
    _live(found)
classroom.share("parity")
