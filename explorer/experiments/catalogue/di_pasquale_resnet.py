"""Catalogue entries of 000_f576d27fd47a6f1f.txt (Di Pasquale's thesis), sections 3.5-3.6: the
ResNet-18 and ResNet-34 tables 3.7-3.25 on CIFAR-10.

Every table is one configuration trained in "iterations": each iteration starts from the weights
of the best test accuracy so far (the thesis's code saves them whenever the accuracy improves)
at a new learning rate, with a fresh optimiser. One table is therefore one run here, with the
``restarts`` schedule (`iterations`), and one published value per iteration, read at the epoch
that ends it (``at``).

The shared setting is that of the code the thesis started from (kuangliu's pytorch-cifar, 2018,
its reference [12]): ResNet-18 with a 3×3 stem and no max-pool, 1×1 convolution shortcuts; SGD
with momentum 0.9 and weight decay 5e-4; batch 128; cross-entropy; random 32×32 crops of the
image padded by 4 pixels and horizontal flips; inputs standardised per channel.

Example:
    >>> entry = ENTRIES[0]
    >>> entry.id, entry.ref, [(p.value, p.at) for p in entry.published]
    ('dipasquale-t3.7', 'Table 3.7', [(91.56, 200), (92.58, 400)])
    >>> entry.setting["optimizer"]["schedule"]
    {'name': 'restarts', 'milestones': [200], 'lrs': [0.0001], 'from': 'best'}
"""

from __future__ import annotations

from itertools import accumulate

from explorer.config.schema import changed
from explorer.experiments.catalogue.entry import Entry, Published, Run, Scale

SOURCE = "000_f576d27fd47a6f1f.txt"

# kuangliu/pytorch-cifar (2018), which the thesis ran unchanged for BP and modified for the others.
BASE = {
    "data": {"name": "cifar10"},
    "model": {"name": "resnet18"},
    "algorithm": {"name": "bp"},
    "init": {"name": "default"},
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
    "train": {"epochs": 200, "batch_size": 128, "loss": "cross_entropy",
              "augment": {"crop_padding": 4, "flip": True}},
}

# Smaller scales: every iteration of a table keeps its learning rate and its restart from the best
# weights; only its length, the images and their number shrink.
CLASSROOM_EPOCHS = 2          # epochs per iteration
CLASSROOM_DATA = {"data.train_samples": 5_000, "data.test_samples": 1_000, "data.resize": [16, 16]}
CLASSROOM_STEPS = CLASSROOM_EPOCHS * (CLASSROOM_DATA["data.train_samples"] // BASE["train"]["batch_size"])
SMOKE_DATA = {"data.train_samples": 16, "data.test_samples": 16, "data.resize": [8, 8], "train.batch_size": 16}

SETTING_NOTES = (
    "Setting not printed in the thesis, taken from the code it started from (kuangliu's pytorch-cifar, "
    "2018): SGD with momentum 0.9 and weight decay 5e-4, batch 128, cross-entropy, random crops with 4 "
    "pixels of padding and horizontal flips, per-channel standardisation (here with the training set's own "
    "statistics), PyTorch's default U(±1/√fan_in) initialisation (the thesis's 'stdv'). Each 'Iteration' "
    "restarts from the best test accuracy's weights with a new optimiser (the code's --resume), which the "
    "'restarts' schedule does; the published value of an iteration is compared with the test accuracy at "
    "the epoch that ends it, although the thesis probably printed the best accuracy of the iteration (the "
    "code saves the best): the two differ when the accuracy is noisy. Single run, one seed.")


def iterations(stages: tuple[tuple[int, float], ...]) -> dict:
    """The dotted changes for a table's iterations ((epochs, lr) each): the total epochs, the first
    rate and, from the second iteration on, a ``restarts`` schedule from the best weights.

    Example:
        >>> iterations(((200, 0.001), (200, 0.0001)))["optimizer.schedule"]["milestones"]
        [200]
        >>> "optimizer.schedule" in iterations(((5, 0.1),))
        False
    """
    ends = list(accumulate(epochs for epochs, _ in stages))
    out: dict = {"train.epochs": ends[-1], "optimizer.lr": stages[0][1]}
    if len(stages) > 1:
        out["optimizer.schedule"] = {"name": "restarts", "milestones": ends[:-1],
                                     "lrs": [lr for _, lr in stages[1:]], "from": "best"}
    return out


def _scaled(stages: tuple[tuple[int, float], ...], per_stage: int) -> dict:
    """The iterations with ``per_stage`` epochs each (same rates, same restarts)."""
    return iterations(tuple((per_stage, lr) for _, lr in stages))


def _table(number: str, title: str, label: str, rule: dict, stages: tuple[tuple[int, float, float | None], ...],
           notes: str, extra: tuple[Published, ...] = (), model: str = "resnet18") -> Entry:
    """One of the thesis's iteration tables: ``stages`` are its rows (epochs, lr, test accuracy in %,
    None for "No improve"); ``rule`` the dotted changes that make its learning rule."""
    plain = tuple((epochs, lr) for epochs, lr, _ in stages)
    ends = list(accumulate(epochs for epochs, _ in plain))
    published = tuple(Published(label, "test_acc", value, at=end)
                      for (_, _, value), end in zip(stages, ends) if value is not None) + extra
    smoke_stages = plain[:2]  # one restart at most: two epochs of a few tiny images
    shown = f"{model.replace('resnet', 'ResNet-')}"
    multi = len(stages) > 1
    classroom = Scale(
        {**_scaled(plain, CLASSROOM_EPOCHS), **CLASSROOM_DATA},
        f"{CLASSROOM_EPOCHS} epochs per iteration ({CLASSROOM_EPOCHS * len(plain)} in all instead of {ends[-1]}) "
        f"of 5,000 training images resized to 16×16 (1,000 test images) instead of 50,000 at 32×32 "
        f"(10,000 test); the same {shown}, learning rates{' and restarts' if multi else ''}. Compare the tables' "
        f"order, not their values: at these rates {CLASSROOM_STEPS} steps per iteration barely train a {shown}.")
    smoke = Scale(
        {**_scaled(smoke_stages, 1), **SMOKE_DATA},
        f"{len(smoke_stages)} epoch{'s' if multi else ''} of one batch of 16 images resized to 8×8 (16 test "
        f"images){', one restart' if multi else ''}")
    return Entry(f"dipasquale-t{number}", SOURCE, f"Table {number}", title,
                 changed(BASE, {"model.name": model, **iterations(plain)}),
                 (Run(label, rule),), published, tolerance=2.0, classroom=classroom, smoke=smoke,
                 notes=f"{notes} {SETTING_NOTES}".strip())


FA = {"algorithm.name": "fa"}
SIGN_INIT = {"name": "sign_concordant", "inner": {"name": "default"}}  # |U(±1/√fan_in)| ⊙ sign(W) at the start
BM = {"optimizer.batch_manhattan": True}


def _dfa(low: float, high: float | None = None) -> dict:
    spec = {"name": "thesis_stdv"} if high is None else {"name": "uniform", "low": low, "high": high}
    return {"algorithm.name": "dfa", "algorithm.feedback_init": spec}


_BM_NOTE = ("Batch Manhattan: the thesis's sign_grad replaces the gradients of the convolutions' and the linear "
            "layer's weights by their signs; optimizer.batch_manhattan does it to every parameter (the batch "
            "norms' too), before momentum and weight decay as in the thesis's order.")

ENTRIES: tuple[Entry, ...] = (
    _table("3.7", "ResNet-18 trained by backprop: 92.58% after two iterations at lr 1e-3 and 1e-4", "BP",
           {"algorithm.name": "bp"}, ((200, 0.001, 91.56), (200, 0.0001, 92.58)),
           "The code's own setting, unmodified, except the learning rate (0.1 in its instructions; the thesis "
           "used rates two orders of magnitude smaller). The code's author reports 93.05%."),
    _table("3.8", "ResNet-18 trained by feedback alignment: 64.74% after five iterations (900 epochs)", "FA",
           FA, ((150, 0.1, 50.64), (150, 0.05, 53.99), (200, 0.01, 60.09), (200, 0.005, 64.04),
                (200, 0.001, 64.74)),
           "Feedback initialisation not stated for this first FA run; taken as the thesis's custom modules' "
           "default, U(±stdv) with stdv = 1/√fan_in (of the convolution's kernel × input channels), the same as "
           "the forward weights'. The text rounds the final value to 64.47%; the table's 64.74% is used. FA "
           "feeds back through every convolution and the linear layer; the batch norms pass their true "
           "gradients."),
    _table("3.9", "FA with Nøkland's initialisation: 52.61% after two iterations", "FA Nøkland",
           {**FA, "algorithm.feedback_init": {"name": "fan_out"}},
           ((150, 0.1, 49.60), (175, 0.05, 52.61)),
           "Forward U(±1/√n1), n1 = kernel × input channels (init 'default'); feedback U(±1/√n2), n2 = kernel × "
           "output channels (feedback_init 'fan_out'), the thesis's equations 3.4-3.5 read without their stray "
           "sum of squares."),
    _table("3.10", "FA with Lillicrap's initialisation does not learn: 10%", "FA Lillicrap",
           {**FA, "algorithm.feedback_init": {"name": "lillicrap"},
            "init": {"name": "uniform", "low": -0.0001, "high": 0.0001}}, ((150, 0.1, 10.0),),
           "Forward weights U(±0.0001), feedback U(±0.5) (Lillicrap et al.). The thesis gives no epoch count "
           "('none'); 150, the first iteration of the other FA tables, is assumed. 10% is chance on CIFAR-10.",
           ),
    _table("3.11", "DFA with feedback U(±0.001) on ResNet-18: gradients explode, 10% after 5 epochs",
           "DFA [-0.001, 0.001]", _dfa(-0.001, 0.001), ((5, 0.1, 10.0),),
           "DFA's feedback B (10 × the layer's output size) sends the output error to the output of every "
           "convolution block the engine taps (each block's first unit and the block's output, after the skip "
           "addition); the thesis hooked every convolution's output. 10% is chance: the cost diverged."),
    _table("3.12", "DFA with feedback U(±0.0001): learns at first (32% at epoch 2), then 10% after 22 epochs",
           "DFA [-0.0001, 0.0001]", _dfa(-0.0001, 0.0001), ((22, 0.1, 10.0),),
           "The 32% at epoch 2 is from the text ('32% in epoch 2'), counted here as the end of the second "
           "epoch; its tolerance is wider (5 points), an early epoch being noisy. DFA taps as in Table 3.11.",
           extra=(Published("DFA [-0.0001, 0.0001]", "test_acc", 32.0, at=2, tolerance=5.0),)),
    _table("3.13", "FA with sign-concordant initial feedback: 66.83% after five iterations",
           "FA, initial sign concordance", {**FA, "algorithm.feedback_init": SIGN_INIT},
           ((200, 0.1, 51.57), (200, 0.05, 54.32), (200, 0.01, 60.37), (200, 0.005, 62.48), (200, 0.001, 66.83)),
           "Feedback B = |R| ⊙ sign(W) at initialisation only, R ~ U(±1/√fan_in); the signs are not followed "
           "afterwards. The text says the first iteration ran at lr 0.01 and the second at 0.001, which matches "
           "neither this table (0.1 … 0.001) nor Table 3.14 (0.001, 0.0001); the table's rates are used."),
    _table("3.14", "FA with sign-concordant initial feedback at lr 1e-3: 68.26%, no gain at 1e-4",
           "FA, initial sign concordance", {**FA, "algorithm.feedback_init": SIGN_INIT},
           ((200, 0.001, 68.26), (200, 0.0001, None)),
           "Table 3.13's rule from a fresh start at a rate ten times smaller. The second iteration gave "
           "'No improve': its best stayed below 68.26%, so only the first value is published. Table 3.28 "
           "quotes 68.26% as FA's accuracy."),
    _table("3.15", "FA with sign-concordant initial feedback and Batch Manhattan: 72.16% at lr 1e-5",
           "FA, initial sign concordance + BM", {**FA, "algorithm.feedback_init": SIGN_INIT, **BM},
           ((200, 0.00001, 72.16), (200, 0.000001, None)),
           f"Second iteration: 'No improve', nothing published. {_BM_NOTE}"),
    _table("3.16", "DFA with Batch Manhattan, feedback U[0, 1e-7]: 45.86%", "DFA+Signgrad U[0, 1e-7]",
           {**_dfa(0.0, 1e-7), **BM}, ((200, 0.0001, 45.86), (200, 0.00005, None)),
           f"Second iteration: 'No improve', nothing published. DFA taps as in Table 3.11. {_BM_NOTE}"),
    _table("3.17", "DFA with Batch Manhattan, feedback U[0, 1e-4]: 46.84%", "DFA+Signgrad U[0, 1e-4]",
           {**_dfa(0.0, 1e-4), **BM}, ((215, 0.0001, 46.84),),
           f"Table 3.28 quotes this value for DFA+Signgrad. DFA taps as in Table 3.11. {_BM_NOTE}"),
    _table("3.18", "DFA with Batch Manhattan, feedback U[±stdv]: 39.66%", "DFA+Signgrad U[±stdv]",
           {**_dfa(0.0), **BM}, ((133, 0.0001, 39.66),),
           "Feedback U(±1/√n) with n the layer's output size ('thesis_stdv': the default initialiser on B, "
           "10 × n), the nearest reading of 'as the one used for the FA case'. The thesis reached its best at "
           f"epoch 40 and barely moved after; the value is compared at epoch 133. {_BM_NOTE}"),
    _table("3.19", "FA with Batch Manhattan and sign concordance renewed every epoch: 86.86%", "FAsign+Signgrad",
           {**FA, "algorithm.sign_refresh": "epoch", **BM}, ((200, 0.00001, 85.12), (100, 0.000001, 86.86)),
           "B = |R| ⊙ sign(W) taken again at the start of every epoch, R ~ U(±1/√fan_in) fixed (the thesis's "
           f"update() multiplies the stored random magnitudes by the current signs). {_BM_NOTE}"),
    _table("3.20", "FA with Batch Manhattan and random sign-concordant feedback drawn afresh: 86.14%",
           "FArand+Signgrad", {"algorithm.name": "brsf", **BM}, ((150, 0.00001, 83.58), (96, 0.000001, 86.14)),
           "The thesis's code draws new magnitudes U(±stdv), stdv = 1/√fan_in, before every backward pass (its "
           "section title says every batch, its table every epoch): brSF, |R| ⊙ sign(W) with R drawn anew "
           f"every step. {_BM_NOTE}"),
    _table("3.21", "FA with sign concordance renewed every epoch, no Batch Manhattan: 87.05%", "FAsign",
           {**FA, "algorithm.sign_refresh": "epoch"}, ((200, 0.001, 85.43), (200, 0.0001, 87.05)),
           "Table 3.19's rule without Batch Manhattan, at rates a hundred times larger."),
    _table("3.22", "ResNet-34, FA with Batch Manhattan and sign concordance every epoch: 87.14%",
           "FAsign+Signgrad ResNet-34", {**FA, "algorithm.sign_refresh": "epoch", **BM},
           ((200, 0.00001, 84.97), (130, 0.000001, 87.14)),
           f"Table 3.19's rule on ResNet-34 (blocks 3, 4, 6, 3). {_BM_NOTE}", model="resnet34"),
    _table("3.23", "Feedback sign(W)·stdv with Batch Manhattan: 90.25%", "Sign+signgrad",
           {"algorithm.name": "usf", **BM}, ((150, 0.00001, 88.96), (200, 0.000001, 90.25)),
           "uSF with each layer's own scale: B = sign(W)·s, s the standard deviation of the layer's forward "
           "initialiser, 1/√(3·fan_in); the thesis's stdv is the uniform bound 1/√fan_in, √3 larger (Batch "
           f"Manhattan makes the updates' signs independent of this per-layer factor). {_BM_NOTE}"),
    _table("3.24", "Feedback sign(W)·0.001 with Batch Manhattan: 80.51%", "Sign+signgrad scale 0.001",
           {"algorithm.name": "usf", "algorithm.scale": 0.001, **BM}, ((150, 0.00001, 78.25), (200, 0.000001, 80.51)),
           "B = 0.001·sign(W) in every layer. The error reaching the lowest layers is scaled by 0.001 per "
           "layer it crosses off the skip paths, so float32 underflow may zero some gradients before their "
           f"sign is taken. {_BM_NOTE}"),
    _table("3.25", "Feedback sign(W)·stdv without Batch Manhattan: 90.05%", "Sign",
           {"algorithm.name": "usf"}, ((200, 0.001, 88.18), (200, 0.0001, 90.03), (200, 0.00001, 90.05)),
           "uSF with each layer's own scale 1/√(3·fan_in) (the thesis: 1/√fan_in, √3 larger; without Batch "
           "Manhattan the factor, compounded layer by layer off the skip paths, changes the lower layers' "
           "step sizes)."),
)
