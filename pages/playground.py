"""Playground: a 2-D toy problem, up to four learning rules side by side, and each rule's decision
boundary repainted as it trains (from the weights its run stores at every epoch).

Every control is keyed ``pg_…`` and bound to the URL; ``?play=<group>`` names the runs shown, so a
reload or a link in another tab finds them again.
"""

from __future__ import annotations

from html import escape

import streamlit as st

from explorer.views import charts, frames, sketch
from explorer.experiments import playground
from explorer.config import ACTIVATIONS, DEVICES, OPTIMIZERS, ConfigError
from explorer.config.registry import RULES
from explorer.experiments.playground import DEFAULT_NOISE, TOYS, PlaygroundSetup
from explorer.runs.workspace import MAX_RULES, comparison_configs
from explorer.runs.store import InvalidId, StoreError, UnknownRun
from explorer.config.bounds import MAX_LR
from explorer.views import caps as server_caps
from explorer.views import links
from pages import common

D = PlaygroundSetup()
# What links made before the registry named rules by (the selected rules travel by their words);
# such a link is read in today's labels.
OLD_RULE_WORDS = {"BP (backprop)": "BP", "sparse DFA": "sDFA", "sparse sign DFA": "ssDFA",
                  "RF (random features)": "RF", "NTK (linearised)": "NTK"}
RULE_HELP = "\n".join(f"- **{spec.label}**: {spec.name}. {spec.help}" for spec in RULES.values())


CONTROL_GROUPS = ("data", "network", "training")  # what a classroom link can hide (?hide=…)
# The accuracy chart's height in px, title and axes included (a stretched Vega chart fits all of it
# in this height): at 180 the plot was pressed flat and the legends were cut off.
CURVE_HEIGHT = 260


def _old_link() -> None:
    """Read a link that names rules in the words used before the registry, in today's labels."""
    given = st.query_params.get_all("pg_rules")
    if any(word in OLD_RULE_WORDS for word in given):
        st.query_params["pg_rules"] = [OLD_RULE_WORDS.get(word, word) for word in given]
        st.rerun()


LABEL_RULES = {spec.label: key for key, spec in RULES.items()}
# A link's numbers: parameter -> (the setup's field, its words, the reader of the control's range).
NUMBERS = {"pg_share": ("train_share", "train share", links.float_reader(0.1, 0.9)),
           "pg_samples": ("samples", "samples", links.int_reader(20, 20_000)),
           "pg_classes": ("classes", "classes", links.int_reader(2, 10)),
           "pg_lr": ("lr", "learning rate", links.float_reader(above=0.0, high=MAX_LR)),
           "pg_batch": ("batch_size", "batch size", links.int_reader(1, 4096)),
           "pg_epochs": ("epochs", "epochs", links.int_reader(1, 5000)),
           "pg_seed": ("seed", "seed", links.int_reader(0))}


def _own(field: str):
    """The setup's own verdict on one field's value, all else at the defaults."""
    return lambda value: PlaygroundSetup(**{field: value}).problems().get(field)


def _link_params() -> dict[str, links.Param]:
    """What the page reads from a link (`common.door`): its controls, the runs shown, the hidden groups."""
    params = {key: links.Param(words, common.judged(read, _own(field))) for key, (field, words, read) in NUMBERS.items()}
    return params | {
        "pg_data": links.Param("dataset", links.choice_reader(TOYS)),
        **{f"pg_noise_{toy}": links.Param(f"noise ({toy})", links.float_reader(0.0, 1.5)) for toy in TOYS},
        "pg_hidden": links.Param("hidden widths"),
        "pg_act": links.Param("activation", links.choice_reader(ACTIVATIONS)),
        "pg_rules": links.Param("rules", links.choice_reader([*LABEL_RULES, *OLD_RULE_WORDS]), many=True),
        "pg_opt": links.Param("optimiser", links.choice_reader(OPTIMIZERS)),
        "pg_device": links.Param("device", links.choice_reader(DEVICES)),
        "hide": links.Param("hidden controls", common.hide_reader(CONTROL_GROUPS)),
        "play": links.Param("runs shown", common.stored_id("group")),
    }


def _past_caps(values: dict) -> dict[str, str]:
    """What a link's setup asks past a cap: more rules than fit side by side, more steps per run
    than the server trains."""
    rules = [LABEL_RULES.get(OLD_RULE_WORDS.get(w, w)) for w in values.get("pg_rules", [])] or list(D.rules)
    if len(rules) > MAX_RULES:
        return {"pg_rules": f"at most {MAX_RULES} side by side, got {len(rules)}"}
    data = values.get("pg_data", D.data)
    fields = {field: values[key] for key, (field, _, _) in NUMBERS.items() if key in values}
    setup = PlaygroundSetup(**fields, data=data, noise=values.get(f"pg_noise_{data}"), rules=tuple(rules),
                            hidden=values.get("pg_hidden", D.hidden))
    try:
        server_caps.check_steps(comparison_configs(*setup.comparison()), common.caps())
    except server_caps.CapError as err:
        return {"pg_epochs": err.problem}
    except ConfigError:
        pass
    return {}


def _controls(classroom: common.Classroom) -> tuple[PlaygroundSetup, dict]:
    """Draw the controls (groups the link hides go into a closed box); the setup they hold and,
    per field, a place right under its widget."""
    spots: dict = {}
    at = classroom.layout([("data",), ("network",), ("training",)])
    with classroom.box("data", at.get("data")):
        data = st.selectbox("dataset", TOYS, key="pg_data", bind="query-params")
        spots["data"] = st.empty()
        noise = st.slider("noise", 0.0, 1.5, DEFAULT_NOISE[data], 0.01, key=f"pg_noise_{data}", bind="query-params",
                          help="standard deviation of the Gaussian noise added to the points")
        spots["noise"] = st.empty()
        share = st.slider("train share", 0.1, 0.9, D.train_share, 0.05, key="pg_share", bind="query-params",
                          help="the fraction of the points trained on; the rest measure test accuracy")
        spots["train_share"] = st.empty()
        samples = st.number_input("samples", value=D.samples, step=100,
                                  key="pg_samples", bind="query-params")
        spots["samples"] = st.empty()
        classes = D.classes
        if data in playground.CLASS_TOYS:
            classes = st.number_input("classes", value=D.classes, step=1, key="pg_classes",
                                      bind="query-params")
        spots["classes"] = st.empty()
    with classroom.box("network", at.get("network")):
        hidden = st.text_input("hidden widths", value=D.hidden, key="pg_hidden", bind="query-params",
                               help="comma-separated, e.g. 16,16; empty for a linear classifier")
        spots["hidden"] = st.empty()
        activation = st.selectbox("activation", ACTIVATIONS, index=ACTIVATIONS.index(D.activation), key="pg_act",
                                  bind="query-params")
        spots["activation"] = st.empty()
        rules = st.multiselect(f"rules (up to {MAX_RULES}, side by side)", list(RULES), default=list(D.rules),
                               key="pg_rules", bind="query-params", format_func=lambda r: RULES[r].label,
                               max_selections=MAX_RULES,
                               help="They start from the same forward weights and see the same minibatches; each "
                                    "rule's options are at their defaults.\n" + RULE_HELP)
        spots["rules"] = st.empty()
    with classroom.box("training", at.get("training")):
        optimizer = st.selectbox("optimiser", OPTIMIZERS, key="pg_opt", bind="query-params")
        spots["optimizer"] = st.empty()
        lr = st.number_input("learning rate", value=D.lr, format="%g", step=None, key="pg_lr",
                             bind="query-params")
        spots["lr"] = st.empty()
        batch = st.number_input("batch size", value=D.batch_size, step=1, key="pg_batch",
                                bind="query-params")
        spots["batch_size"] = st.empty()
        epochs = st.number_input("epochs", value=D.epochs, step=1, key="pg_epochs",
                                 bind="query-params")
        spots["epochs"] = st.empty()
        seed = st.number_input("seed", value=D.seed, step=1, key="pg_seed", bind="query-params",
                               help="the data, the initial weights and the minibatch order")
        spots["seed"] = st.empty()
        device = st.selectbox("device", DEVICES, key="pg_device", bind="query-params")
    spots["setup"] = st.empty()
    setup = PlaygroundSetup(data=data, noise=float(noise), train_share=float(share), samples=int(samples),
                            classes=int(classes), hidden=hidden, activation=activation, rules=tuple(rules),
                            optimizer=optimizer, lr=float(lr), batch_size=int(batch), epochs=int(epochs),
                            seed=int(seed), device=device)
    return setup, spots


def _live_boundaries() -> playground.LiveBoundaries | None:
    """The runs shown and their boundaries, kept in the session: each repaint reads only what is new."""
    group = common.shown("play")
    if not group:
        return None
    cache = st.session_state.setdefault("play_boundaries", {})
    if group not in cache:
        try:
            cache[group] = playground.LiveBoundaries(common.workspace().comparison(group))
        except (InvalidId, UnknownRun, ValueError) as err:
            st.warning(f"The link names runs this server cannot show here: {err}")
            return None
    live = cache[group]
    live.comparison.poll()
    return live


def _view(live: playground.LiveBoundaries) -> None:
    found = live.comparison
    painted = live.refresh()
    if not found.finished:
        return _view_live(live, painted)
    columns = st.columns(len(painted))
    for i, (column, p, spec, info) in enumerate(zip(columns, painted, live.specs(), found.infos)):
        column.markdown(f"**{p.title}**")
        column.vega_lite_chart(spec=spec, key=f"boundary_{i}", width="content", theme=None)
        column.caption(_words(found, p, info))
        message = common.diverged_message(p.label, info)
        if message:
            column.error(message)
    table, diverged = _accuracy(found, painted)
    if not table.empty:
        few = charts.dotted(table[table["measure"] == "accuracy"], ["run", "split"])  # short curves: points marked
        spec = common.swapped_spec(f"play {found.group}", table, key=(tuple(diverged.items()), few),
                                   make=lambda t: charts.learning_curves(t, "accuracy", order=found.labels,
                                                                         diverged=diverged, height=CURVE_HEIGHT))
        st.vega_lite_chart(spec=spec, key="play_accuracy", width="stretch")


def _words(found, p: playground.Painted, info) -> str:
    """A run's status and its latest accuracies, under its boundary."""
    last = frames.latest(found.records[p.label])
    words = common.STATUS_WORDS.get(info.status, info.status)
    if "test_acc" in last:
        words += f" · test accuracy {last['test_acc']:.3f} · train {last['train_acc']:.3f}"
    return words


def _accuracy(found, painted) -> tuple:
    """The accuracy curves (one point per epoch: enough for a small chart, and cheap to rebuild at
    every repaint) and where runs diverged."""
    table = frames.curves({label: [r for r in records if float(r["epoch"]).is_integer()]
                           for label, records in found.records.items()})
    return table, {p.label: p.epoch for p, info in zip(painted, found.infos) if info.status == "diverged"}


def _view_live(live: playground.LiveBoundaries, painted) -> None:
    """While the runs train: each boundary as a PNG, the status and the accuracy curves as SVG,
    all in one element (the Vega maps cost Chromium about a core at every repaint; `explorer.views.paint`)."""
    found = live.comparison
    boxes = []
    for p, picture, info in zip(painted, live.pictures(), found.infos):
        message = common.diverged_message(p.label, info)
        boxes.append(f'<div style="font-weight:600;margin-bottom:.5rem">{escape(p.title)}</div>{picture}'
                     f'<div style="color:#808495;font-size:.875rem">{escape(_words(found, p, info))}</div>'
                     + (f'<div style="color:{charts.DIVERGED_COLOR}">{escape(message)}</div>' if message else ""))
    table, diverged = _accuracy(found, painted)
    curves = sketch.curves_svg(table, "accuracy", order=found.labels, diverged=diverged, height=CURVE_HEIGHT)
    st.markdown(f"{sketch.panels(boxes, min_width=240)}\n\n{curves if not table.empty else ''}",
                unsafe_allow_html=True)


def _live(live: playground.LiveBoundaries) -> None:
    common.refreshing(live.comparison.poll, lambda: live.comparison.finished, lambda: _view(live))


def _buttons_and_view(setup: PlaygroundSetup, problems: dict) -> None:
    """Train, Stop and Reset, then the runs' maps and accuracy (or what to do first)."""
    live = _live_boundaries()
    found = live.comparison if live is not None else None
    going = found is not None and not found.finished
    c = st.columns([1, 1, 1, 3])
    train = c[0].button("Train", type="primary", disabled=bool(problems) or going, width="stretch")
    if c[1].button("Stop", disabled=not (going and found.controllable), width="stretch"):
        found.stop()
    if c[2].button("Reset", width="stretch", help="stop these runs and clear the view; the setup stays"):
        if going and found.controllable:
            found.stop()
        common.show("play", None)
        st.rerun()
    if train:
        try:
            begun = []
            common.start_runs(comparison_configs(*setup.comparison()), lambda: begun.append(
                playground.start(setup, common.workspace())) or begun[0].ids)
            started = begun[0]
        except (ConfigError, StoreError, ValueError) as err:
            common.config_error(err)
        else:
            common.show("play", started.group)
            st.rerun()
    if live is None:
        st.info("Choose the data, the network and the rules below, then press **Train**.")
    else:
        _live(live)


st.title("Playground")
st.caption("Two-dimensional data, a small network, and up to four learning rules side by side: the coloured "
           "regions are each network's decision, shaded by its confidence, repainted every epoch.")
_old_link()
common.door("playground", _link_params(), check=_past_caps)
# The buttons and the maps come first, the setup below them, as on the Train page: at 1400×900 the
# Train button and the maps it paints are in view together (drawn after the setup, which they read).
action = st.container()
classroom = common.Classroom(CONTROL_GROUPS)
st.subheader("Setup")
setup, spots = _controls(classroom)
problems = common.show_problems(setup, spots)

with action:
    _buttons_and_view(setup, problems)
classroom.share("play")
