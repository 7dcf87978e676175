"""Resuming a run from `Trainer.checkpoint_state`: a run stopped at an epoch's end and restored into a
fresh trainer (through the store's bytes) goes on exactly as the run that never stopped."""

from __future__ import annotations

import pytest
import torch

from explorer.engine.seeds import SeedsTrainer
from explorer.engine.trainer import Trainer
from explorer.models.dropout import dropouts
from explorer.runs.store import tensors_from_bytes, tensors_to_bytes
from tests.conftest import small_config

EPOCHS = 3


def config(seed=0, **sections):
    cfg = small_config(model={"name": "mlp", "hidden": [16], "activation": "tanh"},
                       train={"epochs": EPOCHS, "batch_size": 128, "log_every": 4}, seed=seed)
    for name, values in sections.items():
        cfg[name] = cfg[name] | values if isinstance(cfg.get(name), dict) else values
    return cfg


CONFIGS = {
    "bp-sgd-momentum": config(),
    "dfa-adam": config(algorithm={"name": "dfa"}, optimizer={"name": "adam", "lr": 0.003}),
    "brsf": config(algorithm={"name": "brsf"}),                      # a fresh feedback magnitude every step
    "fa-epoch-refresh": config(algorithm={"name": "fa", "sign_refresh": "epoch"}),
    "dropout": config(model={"dropout": 0.3}, algorithm={"name": "dfa"}),
    "augment": config(train={"augment": {"crop_padding": 1, "flip": True}}),
    # train and test sets drawn afresh each epoch, from (seed, epoch) alone: nothing of theirs in the state
    "parity": config(data={"name": "parity", "base": "digits", "k": 2, "train_samples": 512, "test_samples": 128}),
    # as tests/test_restarts.py: the first epoch's weights beat the second's, and are put back at epoch 2
    "restarts-from-best": config(algorithm={"name": "dfa"}, train={"batch_size": 64}, optimizer={
        "name": "sgd", "lr": 3.0, "momentum": 0.9,
        "schedule": {"name": "restarts", "milestones": [2], "lrs": [0.01], "from": "best"}}),
}


def make(cfg):
    return SeedsTrainer(cfg) if isinstance(cfg, list) else Trainer(cfg)


def records(trainer, after: int = 0) -> list[str]:
    """Every seed's records of the steps after ``after``, but their wall-clock time, as text: exact
    floats, NaN equal to NaN."""
    return [repr([{k: v for k, v in r.items() if k != "time"} for r in h if r["step"] > after])
            for h in trainer.histories]


def assert_same_state(a, b):
    sa, sb = a.built.model.state_dict(), b.built.model.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def resumed_from(cfg, state_bytes):
    trainer = make(cfg)
    trainer.restore(tensors_from_bytes(state_bytes))
    trainer.run()
    return trainer


@pytest.mark.parametrize("stop", [1, 2])
@pytest.mark.parametrize("name", CONFIGS)
def test_a_run_restored_from_an_epochs_end_goes_on_as_the_run_that_never_stopped(name, stop):
    cfg = CONFIGS[name]
    straight = make(cfg)
    straight.run()
    stopped = make(cfg)
    while stopped.epoch < stop:
        stopped.step()
    at = stopped.steps_done
    blob = tensors_to_bytes(stopped.checkpoint_state())
    stopped.run()  # taking the state changed nothing in the run that took it
    assert records(stopped) == records(straight)
    resumed = resumed_from(cfg, blob)
    assert resumed.steps_done == straight.steps_done == straight.total_steps
    assert resumed.histories[0][0]["step"] > at and records(straight, at) == records(resumed)
    assert_same_state(resumed, straight)
    for name_ in ("_loss_start", "_weight_start", "_best_score", "diverged", "samples_seen"):
        assert getattr(resumed, name_) == getattr(straight, name_), name_
    if name == "brsf":
        assert resumed.built.rule.step_generator is not None
    if name == "restarts-from-best":  # the restart puts back the best epoch's weights: the first's
        accs = [r["test_acc"] for r in straight.history if r["step"] % straight.steps_per_epoch == 0]
        assert accs[0] > accs[1]


def test_dropout_from_torchs_global_stream_resumes_it():
    cfg = CONFIGS["dropout"]

    def trainer():
        t = make(cfg)
        for layer in dropouts(t.built.model):
            layer.generators = None
        return t

    torch.manual_seed(0)
    straight = trainer()
    straight.run()
    torch.manual_seed(0)
    stopped = trainer()
    while stopped.epoch < 1:
        stopped.step()
    blob = tensors_to_bytes(stopped.checkpoint_state())
    torch.manual_seed(1)
    resumed = trainer()
    resumed.restore(tensors_from_bytes(blob))
    resumed.run()
    assert records(straight, stopped.steps_done) == records(resumed)
    assert_same_state(resumed, straight)


def test_stacked_seeds_resume_each_seed_with_its_own_streams_and_verdict():
    cfgs = [config(seed=s, model={"dropout": 0.2}, algorithm={"name": "dfa"}) for s in (0, 1)]
    straight = make(cfgs)
    straight.run()
    stopped = make(cfgs)
    for _ in range(2 * stopped.steps_per_epoch):
        stopped.step()
    state = stopped.checkpoint_state()
    resumed = resumed_from(cfgs, tensors_to_bytes(state))
    assert records(straight, state["steps_done"].item()) == records(resumed)
    assert_same_state(resumed, straight)
    # a seed marked diverged stays so, with its reason, and records nothing more
    stopped.diverged[1], stopped.reasons[1] = 5, "loss nan (not finite)"
    again = make(cfgs)
    again.restore(tensors_from_bytes(tensors_to_bytes(stopped.checkpoint_state())))
    assert again.diverged == [None, 5] and again.reasons == [None, "loss nan (not finite)"]
    again.run()
    assert again.histories[1] == [] and records(again)[0] == records(resumed)[0]


def test_the_state_is_a_copy_and_the_ends_of_a_run_resume_too():
    cfg = CONFIGS["bp-sgd-momentum"]
    straight = make(cfg)
    straight.run()
    first = make(cfg)
    before = first.checkpoint_state()  # before the first step
    for _ in range(first.steps_per_epoch):
        first.step()
    middle = first.checkpoint_state()
    first.run()
    end = first.checkpoint_state()
    from_start = make(cfg)
    from_start.restore(before)  # the dict itself, after its trainer went on: untouched by it
    from_start.run()
    assert records(from_start) == records(straight)
    assert_same_state(from_start, straight)
    for _ in range(2):  # the same dict twice: restoring and training on leave it as it was
        from_middle = make(cfg)
        from_middle.restore(middle)
        from_middle.run()
        assert records(from_middle) == records(straight, first.steps_per_epoch)
    finished = make(cfg)
    finished.restore(end)
    assert finished.finished and finished.histories == [[]]
    assert_same_state(finished, straight)


def test_a_trainer_that_has_trained_already_is_put_back_all_the_same():
    cfg = CONFIGS["brsf"]  # its first step seeds its per-step stream from the rule's own
    straight = make(cfg)
    start = straight.checkpoint_state()
    straight.run()
    used = make(cfg)
    for _ in range(used.steps_per_epoch + 3):
        used.step()
    used.restore(start)
    assert used.steps_done == 0 and used.histories == [[]] and used.built.rule.step_generator is None
    used.run()
    assert records(used) == records(straight)
    assert_same_state(used, straight)


def test_a_state_is_taken_only_at_an_epochs_end():
    trainer = make(CONFIGS["bp-sgd-momentum"])
    trainer.step()
    with pytest.raises(ValueError, match=r"epoch's end; step 1 is 1 step into epoch 1"):
        trainer.checkpoint_state()


def test_a_state_of_another_network_seed_count_or_with_keys_missing_is_refused():
    state = make(CONFIGS["bp-sgd-momentum"]).checkpoint_state()
    wider = make(config(model={"hidden": [24]}))
    with pytest.raises(ValueError, match=r"another network: its model/layers.0.weight is \(16, 64\), "
                                         r"this trainer's \(24, 64\)"):
        wider.restore(state)
    with pytest.raises(ValueError, match="lacks 5 keys of this trainer's state: model/layers.0.feedback, "
                                         "optimizer/groups/0/amsgrad"):
        make(CONFIGS["dfa-adam"]).restore(state)  # dfa's feedback, Adam's settings
    sgd = make(config(algorithm={"name": "dfa"}))
    with pytest.raises(ValueError, match="another network or optimiser: this trainer's state has no "
                                         "optimizer/groups/0/amsgrad"):
        sgd.restore(sgd.checkpoint_state() | make(CONFIGS["dfa-adam"]).checkpoint_state())
    with pytest.raises(ValueError, match="holds 1 seeds; this trainer trains 2"):
        make([config(seed=0), config(seed=1)]).restore(state)
    partial = {k: v for k, v in state.items() if not k.startswith("rng/batches")}
    with pytest.raises(ValueError, match="lacks 1 key of this trainer's state: rng/batches/0"):
        make(CONFIGS["bp-sgd-momentum"]).restore(partial)
    other = make(config(train={"batch_size": 64}))
    end = make(CONFIGS["bp-sgd-momentum"])
    end.run()
    with pytest.raises(ValueError, match="step 33 is not an epoch's end of this run"):
        other.restore(end.checkpoint_state())
