"""Catalogue entries of Di Pasquale's thesis (000_f576d27fd47a6f1f.txt), all but its ResNet tables
3.7-3.25 (those are in `di_pasquale_resnet`):

- Figs. 3.1-3.8 (sections 3.2-3.3): BP, FA, DFA and IFA on small sigmoid MLPs on MNIST, first with
  Nielsen's plain NumPy network (quadratic cost, N(0, 1) weights), then with his "optimised" one
  (cross-entropy, N(0, 1/n_in) weights, L2 regularisation). The text gives two absolute values
  (FA ≈ 80% and ≈ 75% after five epochs); its other statements are differences between curves,
  kept in the notes.
- Tables 3.1-3.6 (section 3.4): the PyTorch tutorial's CIFAR-10 set-up (batch 4, SGD lr 0.001,
  momentum 0.9): an all-linear network, then the tutorial CNN without its max-pools, with the
  feedback ranges the tables vary.
- Tables 3.26-3.27: memory bandwidths of CUDA copy and transpose kernels that the thesis quotes from
  Ruetsch 2009; no training run measures them (their entries say so and run a placeholder).
- Table 3.28: the thesis's cost units per rule beside the ResNet-18 accuracies of its tables.

Example:
    >>> [e.id for e in ENTRIES][:3]
    ['dipasquale-f3.1', 'dipasquale-f3.2', 'dipasquale-f3.3']
    >>> get_entry = {e.id: e for e in ENTRIES}
    >>> [(p.run, p.text()) for p in get_entry["dipasquale-t3.1"].published]
    [('BP', '55%'), ('DFA', '49%'), ('FA', '26%'), ('IFA', '24%')]
"""

from __future__ import annotations

from explorer.experiments.catalogue import di_pasquale_resnet as resnet
from explorer.experiments.catalogue.entry import Entry, Published, Run, Scale

SOURCE = "000_f576d27fd47a6f1f.txt"
TITLE = "Di Pasquale 2019, master's thesis (Politecnico di Torino)"  # how pages name the document


def _uniform(low: float, high: float) -> dict:
    return {"name": "uniform", "low": low, "high": high}


def _rule(name: str, feedback: dict | None = None, **options) -> dict:
    """The dotted changes that make a run of rule ``name`` with this feedback initialiser."""
    changes = {"algorithm.name": name, **{f"algorithm.{k}": v for k, v in options.items()}}
    if feedback is not None:
        changes["algorithm.feedback_init"] = feedback
    return changes


# ----------------------------------------------------------------------------------------------
# Figs. 3.1-3.8: Nielsen's networks on MNIST (sections 3.2 and 3.3).

_NIELSEN_HIDDEN = {1: [10, 20, 10], 2: [10] * 5, 3: [10, 20, 50, 20, 10], 4: [10, 20, 50, 100, 20]}
_NIELSEN_WHAT = {1: "three hidden layers (10, 20, 10)", 2: "five hidden layers of 10",
                 3: "five hidden layers (10, 20, 50, 20, 10)", 4: "five hidden layers (10, 20, 50, 100, 20)"}

# network.py (Nielsen, ch. 1): sigmoid units, C = ½‖a − y‖² per sample, w ← w − η/m Σ ∇; 30 epochs,
# mini-batches of 10, η = 3.0, on the first 50,000 training images. With the summed quadratic cost
# Σ(a − y)² the step η/m · ½ is lr 3.0 / 10 / 2 = 0.15.
_SIMPLE = {
    "data": {"name": "mnist", "train_samples": 50_000},
    "model": {"name": "mlp", "hidden": [10, 20, 10], "activation": "sigmoid"},
    "algorithm": {"name": "bp"},
    "init": {"name": "normal", "mean": 0.0, "std": 1.0},
    "optimizer": {"name": "sgd", "lr": 0.15, "momentum": 0.0, "weight_decay": 0.0},
    "train": {"epochs": 30, "batch_size": 10, "loss": "mse_sigmoid", "reduction": "sum"},
}
# network2.py (ch. 3): cross-entropy of the sigmoid outputs summed over units, weights N(0, 1/n_in),
# L2 with λ = 5 over n = 50,000: w ← (1 − ηλ/n) w − η/m Σ ∇ with η = 0.5, m = 10: lr η/m = 0.05 on
# the summed loss, weight decay ηλ/(n · lr) = 0.001.
_OPTIMISED = {
    **_SIMPLE,
    "init": {"name": "kaiming", "gain": 1.0},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.0, "weight_decay": 0.001},
    "train": {"epochs": 30, "batch_size": 10, "loss": "bce_multi", "reduction": "sum"},
}
_NIELSEN_CLASSROOM = Scale({"train.epochs": 5, "data.train_samples": 10_000, "data.test_samples": 2_000},
                           "5 epochs of 10,000 training images instead of 30 of 50,000; tested on 2,000 of "
                           "the 10,000 test images")
_NIELSEN_SMOKE = Scale({"train.epochs": 1, "data.train_samples": 256, "data.test_samples": 128,
                        "train.log_every": 1_000},
                       "1 epoch of 256 training images, tested on 128, logged at its first and last step")

# What the text says of each figure in words (differences between curves, not values).
_FIGURE_WORDS = {
    1: "BP, DFA and IFA alike; FA about 20 points lower in the first epochs; BP 5-6 points ahead of the "
       "others after the first epoch; DFA and IFA slightly above FA at the end.",
    2: "DFA starts higher than BP; FA and IFA lower; IFA irregular; FA learns but ends lower.",
    3: "BP and DFA within 1-2 points; FA about 5 points below them in the last epochs; IFA collapses "
       "after about 10 epochs (exploding gradients).",
    4: "FA about 10 points below BP and slower at first; DFA as good as BP; IFA fails.",
    5: "FA 5 points higher than in Fig. 3.1 after the first epoch but about 75% after five epochs (80% in "
       "Fig. 3.1); DFA 5 points above IFA; BP unchanged by the optimisations.",
    6: "BP, DFA and FA as in Fig. 3.5, FA about 5 points lower; IFA irregular.",
    7: "BP, DFA and FA as before; IFA very bad.",
    8: "IFA cannot train the network at all; BP, DFA and FA as in the plain network.",
}
# The only absolute values the text gives: FA's test accuracy after five epochs (section 3.3).
_FIGURE_VALUES = {1: (Published("FA", "test_acc", 80.0, approx=True, at=5),),
                  5: (Published("FA", "test_acc", 75.0, approx=True, at=5),)}


def _figure(number: int) -> Entry:
    optimised = number > 4
    shape = number - 4 if optimised else number
    base = _OPTIMISED if optimised else _SIMPLE
    feedback = base["init"]  # self.coeff is drawn like self.weights (section 3.2.1)
    setting = {**base, "model": {**base["model"], "hidden": list(_NIELSEN_HIDDEN[shape])}}
    if optimised:
        code = ("Nielsen's network2.py (section 3.3): cross-entropy cost of sigmoid outputs, weights N(0, 1/n_in), "
                "L2 regularisation. The thesis gives none of its numbers; the book's own run is taken: 30 epochs, "
                "mini-batches of 10, η = 0.5, λ = 5.0 (here lr 0.05 on the summed bce_multi loss and weight decay "
                "0.001, the same update). ")
    else:
        code = ("Nielsen's network.py (section 3.2): sigmoid units, quadratic cost, N(0, 1) weights, plain SGD. The "
                "thesis gives none of its numbers; the book's own run is taken: 30 epochs, mini-batches of 10, "
                "η = 3.0 (here lr 0.15 on the summed mse_sigmoid loss Σ(a − y)², the same update as η/m on ½‖a − y‖²). ")
    notes = (code + "Nielsen trains on the first 50,000 MNIST training images (the rest is his validation set) and "
             "tests on the 10,000 test images, with pixels in [0, 1]; here inputs are standardised and biases "
             "start at 0 (his are N(0, 1)); his L2 term spares the biases, torch's weight decay does not. The "
             "feedback matrices are drawn like the forward weights (the thesis: self.coeff is initialised as "
             "self.weights). The figure is a curve; what the text says of it: " + _FIGURE_WORDS[number])
    if number in _FIGURE_VALUES:
        notes += (" Its one value is read from the text (section 3.3: FA reaches about 75% after five epochs in "
                  "Fig. 3.5, 'less than the 80% of the simple network case', Fig. 3.1), hence ≈ and a wide "
                  "tolerance.")
    else:
        notes += " The text gives no value of it: compare the curves by eye."
    return Entry(
        f"dipasquale-f3.{number}", SOURCE, f"Fig. 3.{number}",
        f"BP, FA, DFA and IFA on {'the optimised' if optimised else 'a plain'} sigmoid MLP with "
        f"{_NIELSEN_WHAT[shape]} on MNIST",
        setting,
        (Run("BP", _rule("bp")), Run("FA", _rule("fa", feedback)), Run("DFA", _rule("dfa", feedback)),
         Run("IFA", _rule("ifa", feedback))),
        _FIGURE_VALUES.get(number, ()), tolerance=10.0,
        classroom=_NIELSEN_CLASSROOM, smoke=_NIELSEN_SMOKE, notes=notes)


# ----------------------------------------------------------------------------------------------
# Tables 3.1-3.6: the PyTorch tutorial's CIFAR-10 set-up (section 3.4).

_TUTORIAL_NOTES = (
    "The PyTorch CIFAR-10 tutorial's set-up, which the thesis starts from (section 3.4): batch 4 (the DFA code "
    "reshapes its deltas to (4, 16, 24, 24)), cross-entropy, SGD lr 0.001 with the tutorial's momentum 0.9, "
    "forward weights PyTorch's default U(±1/√fan_in). The thesis does not say for how many epochs; "
    "{epochs} are taken here. The tutorial normalises each channel to [-1, 1]; here the channels are "
    "standardised with the training set's mean and std. Table values are whole-percent best test "
    "accuracies of one run each, and FA and IFA were prone to exploding, hence the tolerance of 5 points.")
_LINEAR_NET = {"name": "mlp", "hidden": [1024, 512, 120, 84], "activation": "relu"}
_CNN = {"name": "tutorial_cnn", "activation": "relu", "pool": False}


def _tutorial(model: dict, epochs: int) -> dict:
    return {"data": {"name": "cifar10"}, "model": dict(model), "algorithm": {"name": "bp"},
            "init": {"name": "default"},
            "optimizer": {"name": "sgd", "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0},
            "train": {"epochs": epochs, "batch_size": 4, "loss": "cross_entropy"}}


def _tutorial_scales(epochs: int, mlp: bool) -> tuple[Scale, Scale]:
    classroom = Scale({"train.epochs": 3, "data.train_samples": 10_000, "data.test_samples": 2_000},
                      f"3 epochs of 10,000 training images instead of {epochs} of 50,000; tested on 2,000 "
                      "of the 10,000 test images")
    smoke = {"train.epochs": 1, "data.train_samples": 128, "data.test_samples": 64, "train.batch_size": 32,
             "train.log_every": 1_000}
    what = "1 epoch of 128 images at batch 32, tested on 64, logged at its first and last step"
    if mlp:
        smoke["model.hidden"] = [32, 16, 16, 8]
        what += ", hidden widths 32-16-16-8"
    return classroom, Scale(smoke, what)


def _table(number: int, title: str, model: dict, epochs: int, runs: tuple[Run, ...],
           values: dict[str, float], notes: str) -> Entry:
    classroom, smoke = _tutorial_scales(epochs, model["name"] == "mlp")
    return Entry(
        f"dipasquale-t3.{number}", SOURCE, f"Table 3.{number}", title, _tutorial(model, epochs), runs,
        tuple(Published(label, "test_acc", value, at="best") for label, value in values.items()),
        tolerance=5.0, classroom=classroom, smoke=smoke,
        notes=notes + " " + _TUTORIAL_NOTES.format(epochs=epochs))


_LINEAR_MODEL_NOTE = (
    "The network: the tutorial's with its convolutions replaced by linear layers (section 3.4.4: five linear "
    "layers fc1-fc5, the DFA code hooks four hidden outputs, 'a number of neurons higher than the MNIST "
    "network'); the widths are not given: 1024 and 512 stand where the convolutions were, then the tutorial's "
    "120 and 84.")
_CNN_NOTE = ("The network: the tutorial CNN without its max-pools (section 3.4.7): conv 6 and 16 channels 5×5, "
             "then fully connected 120, 84, 10, ReLU.")


def _bp_dfa_fa(high: float) -> tuple[Run, ...]:
    """BP, and DFA and FA with feedback U(0, high)."""
    return (Run("BP", _rule("bp")), Run("DFA", _rule("dfa", _uniform(0, high))),
            Run("FA", _rule("fa", _uniform(0, high))))


def _tutorial_tables() -> list[Entry]:
    linear_ifa = (*_bp_dfa_fa(0.01), Run("IFA", _rule("ifa", _uniform(0, 0.001))))
    return [
        _table(1, "BP, DFA, FA and IFA on an all-linear network on CIFAR-10", _LINEAR_NET, 20, linear_ifa,
               {"BP": 55.0, "DFA": 49.0, "FA": 26.0, "IFA": 24.0},
               _LINEAR_MODEL_NOTE + " Feedback U(0, 0.01) for FA and DFA, U(0, 0.001) for IFA (section 3.4.5, the "
               "best of several tries). The thesis's IFA code updates by hand with w -= 0.01·grad (no momentum); "
               "the table says lr 0.001 for every rule, which is taken."),
        _table(2, "BP, DFA and FA on the linear network with feedback U(0, 0.03)", _LINEAR_NET, 20, _bp_dfa_fa(0.03),
               {"BP": 55.0, "DFA": 43.0, "FA": 26.0},
               _LINEAR_MODEL_NOTE + " Feedback U(0, 0.03) for FA and DFA (section 3.4.6)."),
        _table(3, "BP, DFA and FA on the tutorial CNN without pooling, feedback U(0, 0.001)", _CNN, 20,
               _bp_dfa_fa(0.001), {"BP": 59.0, "DFA": 46.0, "FA": 22.0},
               _CNN_NOTE + " Feedback U(0, 0.001) (section 3.4.8); gradients replaced with register_hook."),
        _table(4, "BP, DFA and FA on the tutorial CNN without pooling, feedback U(0, 0.005)", _CNN, 20,
               _bp_dfa_fa(0.005), {"BP": 59.0, "DFA": 42.0, "FA": 33.0},
               _CNN_NOTE + " Feedback U(0, 0.005) (section 3.4.8)."),
        _table(5, "BP, DFA and FA on the tutorial CNN written as custom modules, fewer epochs", _CNN, 10,
               _bp_dfa_fa(0.001), {"BP": 57.0, "DFA": 39.0, "FA": 22.0},
               _CNN_NOTE + " The same network as Tables 3.3-3.4 with custom autograd modules (the same "
               "arithmetic) and 'the number of iterations reduced' (how far is not said: half is taken). The "
               "caption says (0, 0.005), the text (section 3.4.10) U(0, 0.001) for FA and DFA, which is taken."),
        _table(6, "FA with feedback U(-stdv, stdv) on the tutorial CNN, four repeats", _CNN, 10,
               tuple(Run(f"FA{i}", _rule("fa", {"name": "default"}), seed_offset=i - 1) for i in range(1, 5)),
               {"FA1": 39.0, "FA2": 45.0, "FA3": 32.0, "FA4": 48.0},
               _CNN_NOTE + " Four repeats of one setting, feedback U(±stdv) like the forward weights (section "
               "3.4.10; the caption's (0, 0.005) is a copy of the previous one). Two of the four exploded after two "
               "epochs. The runs differ only in their random draws: seeds s, s+1, s+2, s+3 (a run's seed_offset)."),
    ]


# ----------------------------------------------------------------------------------------------
# Tables 3.26-3.27: bandwidths quoted from Ruetsch 2009 (section 3.7.1).

_BANDWIDTH_NOTES = (
    "Not a training run: the effective memory bandwidths (GB/s) of CUDA kernels that copy or transpose a matrix, "
    "quoted from G. Ruetsch, 'Optimizing Matrix Transpose in CUDA' (NVIDIA, 2009), to argue that a transpose "
    "costs more than a copy (the thesis then weighs a transpose 3 and a multiplication 1 in Table 3.28). No "
    "RunConfig measures a kernel's bandwidth, so reproduce does not train this entry and shows its values as "
    "not run. The setting is a placeholder that satisfies the catalogue's format (one epoch of a small BP MLP "
    "on the embedded digits per row) and is never trained.")
_PLACEHOLDER = {"data": {"name": "digits"}, "model": {"name": "mlp", "hidden": [16], "activation": "relu"},
                "algorithm": {"name": "bp"}, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
                "train": {"epochs": 1, "batch_size": 64}}


def _bandwidths(number: int, title: str, values: dict[str, float]) -> Entry:
    return Entry(
        f"dipasquale-t3.{number}", SOURCE, f"Table 3.{number}", title, dict(_PLACEHOLDER),
        tuple(Run(label) for label in values),
        tuple(Published(label, "bandwidth_gbs", value) for label, value in values.items()),
        tolerance=0.0, classroom=Scale({}, "the placeholder as it is (1 epoch on the digits)"),
        smoke=Scale({"train.epochs": 1}, "the placeholder as it is (1 epoch on the digits)"),
        notes=_BANDWIDTH_NOTES)


# ----------------------------------------------------------------------------------------------
# Table 3.28: cost units and the ResNet-18 accuracies (section 3.7).

# label: (the ResNet table its accuracy comes from, cost units, accuracy %)
_COST_ROWS = {
    "BP": ("3.7", 17, 92.58), "FA": ("3.14", 12, 68.26), "DFA": ("3.11", 10, 10.0),
    "DFA+Signgrad": ("3.17", 11, 46.84), "FAsign+Signgrad": ("3.19", 22, 86.86),
    "FArand+Signgrad": ("3.20", 22, 86.14), "FAsign": ("3.21", 21, 87.05),
    "Sign+signgrad": ("3.23", 22, 90.25), "Sign": ("3.25", 21, 90.05),
}
COST_UNITS = {label: row[1] for label, row in _COST_ROWS.items()}  # Table 3.28's "Computational Complexity"


def _resnet_run(label: str, table: str) -> Run:
    """Table 3.28's row ``label`` as a run: the rule and the iterations of the ResNet-18 table it
    quotes (`di_pasquale_resnet`), on that module's common setting."""
    entry = next(e for e in resnet.ENTRIES if e.id == f"dipasquale-t{table}")
    (run,) = entry.runs
    if entry.setting["model"]["name"] != resnet.BASE["model"]["name"]:
        raise ValueError(f"Table {table} is not on {resnet.BASE['model']['name']}")
    optimizer = entry.setting["optimizer"]
    changes = {**run.changes, "train.epochs": entry.setting["train"]["epochs"], "optimizer.lr": optimizer["lr"]}
    if "schedule" in optimizer:
        changes["optimizer.schedule"] = optimizer["schedule"]
    return Run(label, changes)


def _cost_table() -> Entry:
    runs = tuple(_resnet_run(label, row[0]) for label, row in _COST_ROWS.items())
    published = tuple(Published(label, "test_acc", row[2], at="best") for label, row in _COST_ROWS.items())
    published += tuple(Published(label, "thesis_cost", float(row[1])) for label, row in _COST_ROWS.items())
    where = ", ".join(f"{label} Table {row[0]}" for label, row in _COST_ROWS.items())
    notes = (
        "Two columns. 'Computational Complexity' is the thesis's hand count of the steps of one layer's backward "
        "pass in its own units (a multiplication or sign() 1, a copy between DRAM and registers or a write 2, a "
        "transpose 3; section 3.7), published here under the metric thesis_cost: no training record holds it, so "
        "reproduce reports it as not measured until it is read from explorer.engine.cost's typed step lists for "
        "the run's rule. 'Accuracy' is the best test accuracy of the ResNet-18 run each row names, from the "
        "thesis's tables (" + where + "); each run here is that table's entry in the catalogue (rule, learning "
        "rates, iterations restarted from the best weights; see those entries' notes for the setting), compared "
        "at its best epoch. The FA row's 68.26% is Table 3.14's (sign-concordant feedback at initialisation, "
        "lr 0.001), as section 3.7.3 says; the DFA row's 10% is Table 3.11's (Table 3.12 did the same). The "
        "thesis's iterations stopped at its own judgement ('no improve'); the epochs are the tables'. Full scale "
        "is about 3,000 ResNet-18 epochs in all: days on one GPU.")
    return Entry(
        "dipasquale-t3.28", SOURCE, "Table 3.28",
        "Cost units of one layer's backward step per rule, beside each rule's ResNet-18 accuracy on CIFAR-10",
        dict(resnet.BASE), runs, published, tolerance=2.0,
        classroom=Scale({"train.epochs": 2, **resnet.CLASSROOM_DATA, "optimizer.schedule": None},
                        "2 epochs of 5,000 training images resized to 16×16 at each run's first learning rate, "
                        "without its later iterations, instead of up to 600 epochs of 50,000 at 32×32; tested on "
                        "1,000 of the 10,000 test images. Compare the order of the rules, not the values"),
        smoke=Scale({"train.epochs": 1, **resnet.SMOKE_DATA, "optimizer.schedule": None, "train.log_every": 1_000},
                    "one step: 16 images resized to 8×8, tested on 16, no later iterations"),
        notes=notes)


ENTRIES: tuple[Entry, ...] = (
    *(_figure(n) for n in range(1, 9)),
    *_tutorial_tables(),
    _bandwidths(26, "Memory bandwidth of a matrix copy and a naïve transpose on a GPU (quoted)",
                {"Simple Copy": 96.9, "Naïve Transpose": 2.2}),
    _bandwidths(27, "Memory bandwidth of copy and transpose kernels, with the diagonal transpose (quoted)",
                {"Simple Copy": 96.9, "Shared Memory Copy": 80.9, "Naïve Transpose": 2.2, "Diagonal": 69.5}),
    _cost_table(),
)
