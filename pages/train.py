"""Train: set up a comparison of one to four learning rules, run it live, watch its curves.

Every control is keyed by its `explorer.views.urlstate` parameter and bound to the URL, so the address
bar always holds the whole setup; ``?hide=…`` lists control groups a teacher fixed for the class.
"""

from __future__ import annotations

import contextlib
import json
import math

import streamlit as st

from explorer.views import caps as server_caps
from explorer.views import frames, links, run_table, urlstate
from explorer.config import ACTIVATIONS, DEVICES, INIT_PARAMS, LOSSES, MODEL_OPTIONS, OPTIMIZERS, ConfigError, DataConfig
from explorer.config.registry import OPTIONS, RULES
from explorer.data.availability import missing
from explorer.engine.build import resolve_device
from explorer.config.dataset_options import DATASET_OPTIONS, RESIZABLE
from explorer.runs.workspace import comparison_configs
from pages import common

D = urlstate.DEFAULTS
DATASETS = [name for name in DATASET_OPTIONS if name != "parity"]
FOLDER_DATASETS = [name for name, options in DATASET_OPTIONS.items() if "root" in options]
RULE_CHOICES = [urlstate.NONE, *RULES]
# Each rule's key (what the control and the link hold), label and name, and what it does.
LOSS_HELP = "\n".join(f"- **{name}**: {urlstate.LOSS_WORDS.get(name, name)}" for name in LOSSES)
RULE_HELP = "\n".join(f"- **{key}**: {spec.label}, {spec.name}. {spec.help}" for key, spec in RULES.items())


# Each control takes its default from urlstate.DEFAULTS, so a value equal to it leaves the URL, and
# its label from urlstate.LABELS, the words errors are told in. Its value is kept for the whole
# session (``persist_state``): coming back from another page, whose link carries no parameters,
# Streamlit puts the value back and writes it into the address again. ``drawn`` collects the
# values of the controls this run shows (a hidden one is not read), ``placed`` the group of each.
drawn: dict = {}
placed: dict = {}
spots: dict = {}   # group, or rule slot ("rule2") -> the spot under its controls where its errors go
KEEP = {"bind": "query-params", "persist_state": "session"}
L = urlstate.LABELS


@contextlib.contextmanager
def _group(box, name: str, column):
    """Draw the controls of group ``name`` in ``column`` (or the closed box of a classroom link),
    then the spot for its errors."""
    with box(name, column):
        placed[None] = name
        yield
        spots[name] = st.empty()


def _keep(key: str, value):
    drawn[key], placed[key] = value, placed[None]
    return value


def _select(key: str, options, **kw):
    return _keep(key, st.selectbox(L[key], options, index=list(options).index(D[key]), key=key, **KEEP, **kw))


def _number(key: str, **kw):
    return _keep(key, st.number_input(L[key], value=D[key], key=key, **KEEP, **kw))


def _text(key: str, **kw):
    return _keep(key, st.text_input(L[key], value=D[key], key=key, **KEEP, **kw))


def _check(key: str, **kw):
    return _keep(key, st.checkbox(L[key], value=D[key], key=key, **KEEP, **kw))


def _init_controls(prefix: str) -> None:
    name = _select(prefix, urlstate.CHOICES[prefix])
    for field in INIT_PARAMS[name]:
        if field != "inner":
            _optional_number(f"{prefix}_{field}", placeholder=urlstate.INIT_PLACEHOLDERS[field])


def _optional_number(key: str, **kw):
    """A number that may be left empty (an initialiser's low, high, std…), typed as text: "" is
    NaN, the setup's "not given"; text that is not a number is kept, and the setup's check names
    it beside the control. Not a number_input: Streamlit's, with no default, empties itself when
    Escape is pressed after a value was confirmed with Enter (seen in Chromium, Streamlit 1.67)."""
    text = st.text_input(L[key], value="", key=key, **KEEP, **kw).strip()
    try:
        value = float(text) if text else math.nan
    except ValueError:
        value = text
    if isinstance(value, float) and text and not math.isfinite(value):
        value = text   # "nan" or "inf" typed: told as not a number, not as an empty box
    return _keep(key, value)


def _rule_controls(i: int) -> None:
    """Rule ``i``'s choice, its options, then the spot where its errors go."""
    name = _select(f"rule{i}", RULE_CHOICES, help=RULE_HELP)
    if name != urlstate.NONE:
        _option_controls(i, RULES[name])
    spots[f"rule{i}"] = st.empty()


def _option_controls(i: int, spec) -> None:
    """A control for each option rule ``i`` takes, from the registry: its kind, choices and help; a
    number's bounds are in its help and checked with the setup (told beside the slot, not clamped)."""
    for option in spec.options:
        o, key = OPTIONS[option], f"r{i}_{option}"
        if o.kind == "choice":
            _select(key, urlstate.option_choices(option), help=o.help)
        elif o.kind == "text":
            _text(key, help=o.help)
        elif o.kind == "int":
            _number(key, step=1, help=_number_help(o))
        else:
            _number(key, format="%g", step=None, help=_number_help(o))
    if spec.shallow:
        _check(f"r{i}_shallow", help="train the output layer only; the hidden layers keep their initial weights")


def _number_help(option) -> str:
    """A number option's help: the registry's, its range, and where this page starts it."""
    low = (f"from {option.low:g}" if option.low is not None else
           f"above {option.above:g}" if option.above is not None else "")
    high = f"{'to' if low else 'at most'} {option.high:g}" if option.high is not None else ""
    bounds = " ".join(p for p in (low, high) if p)
    words = f"{option.help}." + (f" {bounds[0].upper()}{bounds[1:]}." if bounds else "")
    if option.name in urlstate.PAGE_OPTION_DEFAULTS:
        words += f" This page starts it at {urlstate.PAGE_OPTION_DEFAULTS[option.name]:g}."
    return words


def _changed(box: str, *keys: str) -> bool:
    """Whether the box ``box`` opens by itself: once any of its controls has held other than its
    default in this session (a link's value, or set by hand), it stays open, so that putting the
    last one back does not fold it away under the hand."""
    if any(urlstate.differs(k, st.session_state.get(k, D[k])) for k in keys):
        st.session_state[f"opened_{box}"] = True
    return st.session_state.get(f"opened_{box}", False)


def _input_controls(name: str) -> None:
    """The loss over a batch, then resizing and augmentation, which act on images only: for another
    dataset they are shown greyed out, with the reason, and not read."""
    with st.expander("more: loss over a batch, resizing, augmentation",
                     expanded=_changed("input", "reduce", "resize", "crop", "flip")):
        _select("reduce", urlstate.CHOICES["reduce"],
                help=urlstate.HELP["reduce"])
        resizable, images = urlstate.takes_resize(name), urlstate.takes_images(name)
        _text("resize", disabled=not resizable, placeholder="e.g. 32x32",
              help=urlstate.HELP["resize"])
        if not resizable:
            st.caption(f"Resizing: for the image datasets read from files ({', '.join(RESIZABLE)}); "
                       f"{name} is not one of them.")
        _number("crop", step=1, disabled=not images,
                help=urlstate.HELP["crop"])
        _check("flip", disabled=not images, help=urlstate.HELP["flip"])
        if not images:
            st.caption(f"Augmentation: for image datasets; {name} is not one.")


def _schedule_controls() -> None:
    """The learning-rate schedule and the fields of the chosen one (`urlstate.SCHEDULE_PARAMS`)."""
    with st.expander("learning-rate schedule", expanded=_changed("schedule", "sched", *urlstate.SCHEDULE_FIELDS)):
        name = _select("sched", urlstate.CHOICES["sched"], help=urlstate.HELP["sched"])
        for key in urlstate.SCHEDULE_PARAMS.get(name, ()):
            if key == "sched_step":
                _number(key, step=1, help=urlstate.HELP[key])
            elif key == "sched_gamma":
                _number(key, format="%g", step=None, help=urlstate.HELP[key])
            elif key == "sched_from":
                _select(key, urlstate.CHOICES[key], help=urlstate.HELP[key])
            else:
                _text(key, placeholder="e.g. 30,60" if key == "sched_miles" else "e.g. 0.01,0.001",
                      help=urlstate.HELP[key])


def _controls(classroom: common.Classroom) -> dict:
    """Draw the setup controls (groups the link hides go into a closed box) and return their values."""
    box = classroom.box
    at = classroom.layout([("data",), ("model",), ("rules",), ("init", "feedback"), ("optimizer",),
                           ("training", "seed", "device")])
    with _group(box, "data", at.get("data")):
        name = _select("data", DATASETS, help="digits is built in; the others are read from a folder in torchvision's layout")
        if name in FOLDER_DATASETS:
            root = _text("data_root", placeholder="$EXPLORER_DATA or ~/.explorer/data")
            absent = missing(DataConfig(name, {"root": root} if root else {}))
            if absent:
                st.warning(absent)
        _select("loss", LOSSES, help=LOSS_HELP)
        _input_controls(name)
    with _group(box, "model", at.get("model")):
        if _select("model", list(MODEL_OPTIONS)) == "mlp":
            _text("hidden", help="comma-separated, e.g. 64,64")
        _select("act", ACTIVATIONS)
        network = drawn["model"]
        _number("dropout", format="%g", step=0.1, help=urlstate.HELP["dropout"],
                disabled=not urlstate.takes_dropout(network))
        if not urlstate.takes_dropout(network):
            st.caption(f"Dropout: for the MLP and the CNNs; {network} takes none.")
    with _group(box, "rules", at.get("rules")):
        for i in range(1, urlstate.SLOTS + 1):
            _rule_controls(i)
    with _group(box, "init", at.get("init")):
        _init_controls("init")
    with _group(box, "feedback", at.get("feedback")):
        _init_controls("fb")
    with _group(box, "optimizer", at.get("optimizer")):
        if _select("opt", OPTIMIZERS) in ("sgd", "rmsprop"):
            _number("momentum")
        _number("lr", format="%g", step=None)
        _number("wd", format="%g", step=None)
        _check("bm")
        _schedule_controls()
    with _group(box, "training", at.get("training")):
        _number("batch", step=1)
        _number("epochs", step=1)
        _check("maps", help="hidden representations of 500 test samples at ~10 checkpoints, for the Representations page")
    with _group(box, "seed", at.get("seed")):
        _number("seed", step=1)
    with _group(box, "device", at.get("device")):
        if _select("device", list(DEVICES)) == "auto":
            words = _auto_choice(json.dumps(dict(drawn), sort_keys=True, default=str))
            if words:
                st.caption(words)
    return dict(drawn)


@st.cache_data(show_spinner=False, max_entries=64)
def _auto_choice(values_json: str) -> str | None:
    """Which device ``auto`` trains this setup on and why (`explorer.engine.build.resolve_device`:
    one choice for every rule, from the network's step); None for a setup the engine refuses, whose
    error the page tells beside its control."""
    try:
        cfg = comparison_configs(*urlstate.configs(json.loads(values_json)))[0]
        return resolve_device(cfg)[1]
    except ConfigError:
        return None


def refused(err: ConfigError, values: dict) -> tuple[str, str]:
    """(the spot that shows it, the error in the page's words) for a setup the engine refuses,
    placed by the error's ``.field`` (`urlstate.explain`): ``rules[0].init.low`` is the init box's
    "forward init: low …", a rule's own setting goes right under its slot ("Rule 2: …")."""
    param, words = urlstate.explain(err, values)
    slot = urlstate.slot_of(param)
    return (f"rule{slot}" if slot else placed.get(param, "rules")), words


def _past_caps(values: dict) -> dict[str, str]:
    """The setup ``values`` past the server's caps (its steps per run), told by the parameter that
    reaches it: {"epochs": "epochs: 1,000,000 epochs of 22 steps make …"}; {} within them (or when
    the setup is refused for another reason, which the page tells beside its control)."""
    try:
        server_caps.check_steps(comparison_configs(*urlstate.configs(values)), common.caps())
    except server_caps.CapError as err:
        param, words = urlstate.explain(err, values)
        return {param: words} if param else {}
    except ConfigError:
        return {}
    return {}


def _link_params() -> dict:
    """What the page reads from a link: every setup parameter (`urlstate.read_link_value`), the runs
    shown (an id of this server's store) and the classroom's hidden groups."""
    params = urlstate.link_params()
    params["group"] = links.Param(L["group"], common.stored_id("group"))
    params["hide"] = links.Param(L["hide"], common.hide_reader(urlstate.CONTROLS))
    return params


def _status(found) -> str:
    """The device, then one line per run: its state, epoch, step and samples per second (Markdown)."""
    infos = found.infos
    device = next((i.device_name for i in infos if i.device_name), None)
    parts = [f"device: **{device}**" if device else "device: …" if not found.finished else ""]
    for label, info in zip(found.labels, infos):
        last = frames.latest(found.records[label])
        words = common.STATUS_WORDS.get(info.status, info.status)
        stopped = info.status == "diverged" and info.diverged_at is not None
        if stopped:  # the step whose loss went bad; the run stops at the logging step that saw it
            words += f" at step {info.diverged_at:,}"
        if info.total_steps:
            epochs = found.configs[0].train.epochs
            done = info.steps_done or 0
            words += (f" · epoch {last.get('epoch', 0):.1f}/{epochs} · {'stopped at step' if stopped else 'step'} "
                      f"{done:,}/{info.total_steps:,}")
            if stopped and done != info.diverged_at:   # two step numbers: say how they differ
                words += ", the first logged step after it"
        if last.get("time"):
            words += f" · {last['samples'] / last['time']:,.0f} samples/s"
        parts.append(f"**{label}**: {words}")
    return "  \n".join(p for p in parts if p)


def _curves(found, log: bool | None = None) -> None:
    """Status, problems and the loss and accuracy curves; ``log``: the loss axis (`common.loss_axis`)."""
    common.run_problems(found.labels, found.infos)
    common.curves(found, "train", log=log, status=_status(found))


def _buttons(values: dict, found) -> None:
    """Train, Pause/Resume, Step, Stop and Reset, drawn from ``found`` (the runs shown) as last polled."""
    going = found is not None and not found.finished and found.controllable
    paused = going and found.held
    c = st.columns(5)
    start = c[0].button("Train", type="primary", disabled=going, width="stretch")
    if c[1].button("Resume" if paused else "Pause", disabled=not going, width="stretch"):
        if paused:
            found.resume()
        else:
            found.pause()
        st.rerun()  # the label was drawn before the click: drawn again, it says what the next click does
    step = c[2].button("Step", disabled=found is not None and found.finished is False and not going,
                       width="stretch", help="one training step, then wait")
    if c[3].button("Stop", disabled=not going, width="stretch"):
        found.stop()
    if c[4].button("Reset", width="stretch", help="stop these runs and clear the view; the setup stays"):
        if going:
            found.stop()
        common.remember_group(None)
        st.rerun()
    if step and going:
        found.step()
        st.rerun()  # stepping holds the runs: the button says Resume
    elif start or step:
        try:
            base, rules = urlstate.configs(values)
            checked = comparison_configs(base, rules)  # every rule is checked before any starts
            absent = missing(checked[0].data)
            if absent:
                raise ConfigError(f"data: {absent}", field="data")
            begun = []
            common.start_runs(checked, lambda: begun.append(
                common.workspace().compare(base, rules, paused=bool(step))) or begun[0].ids)
            started = begun[0]
        except ConfigError as err:
            st.error(common.plain(f"Not started: {refused(err, values)[1]}"))
            return
        if step:
            started.step()
        common.remember_group(started.group)
        st.rerun()


def _setup_not_held(found) -> None:
    """Say so where the controls cannot hold the setup of the runs shown (a Playground comparison, a
    run of the command line with a setting they lack): the setup below is not theirs, and Train
    starts the setup below. A link to the page that holds it, where one does."""
    try:
        run_table.train_query(found.infos, strict=True)
    except ConfigError as err:
        page, query = common.opening(found.infos)
        st.info(common.plain(f"The runs shown have a setting these controls cannot hold ({err}): the setup below "
                             "is not theirs, and **Train** starts the setup below. Their whole setup: the Runs "
                             "page's Config (JSON)."))
        if page != "pages/train.py":
            st.page_link(page, label=f"Open them on the {common.PAGE_TITLES[page]} page, which holds their setup",
                         query_params=query, icon=":material/open_in_new:")


st.title("Train")
st.caption("Compare learning rules on one network: the same forward weights and the same minibatches for each.")
# The buttons and the live curves come first, the setup below them: at 1400×900 the Train button and
# the curves it starts are in view together (drawn after the setup, whose values the buttons read).
# The link is checked before any control is drawn: a value the page cannot use (not of the control's
# type, outside its declared range, past the server's caps) is named at the top and beside its
# control until that control is set, and the address is rewritten to what is used.
told = common.door("train", _link_params(), check=lambda values: urlstate.options_not_taken(values) | _past_caps(values))
action = st.container()
classroom = common.Classroom(urlstate.CONTROLS)
st.subheader("Setup")
unused = st.session_state.setdefault("link_refusals", {})
unused.update(told)
values = _controls(classroom)
for key, words in list(unused.items()):
    if key not in drawn or urlstate.differs(key, drawn[key]):
        unused.pop(key)      # set since (or not shown): the link's value no longer matters
    else:
        spots[f"rule{urlstate.slot_of(key)}" if urlstate.slot_of(key) else placed[key]].warning(common.plain(words))
try:
    server_caps.check_steps(comparison_configs(*urlstate.configs(values)), common.caps())
except ConfigError as err:
    group, words = refused(err, values)
    spots[group].warning(common.plain(f"Check this setting: {words}"))
    if ("rules" if group.startswith("rule") else group) in classroom.hidden:   # its box is closed: said on top too
        action.warning(common.plain(f"Check this setting, in the closed box \"Settings fixed by this link\" "
                                    f"below: {words}"))
with action:
    shown = common.comparison()  # one look for the buttons and the live view: they agree on whether runs go
    _buttons(values, shown)
    loss_log = common.loss_axis("train_loss_axis")
    if shown is None:
        st.info("Choose the setup below, then press **Train**: the curves appear here while the rules learn.")
    else:
        _setup_not_held(shown)
        common.live(lambda found: _curves(found, loss_log), found=shown)
classroom.share("group")
