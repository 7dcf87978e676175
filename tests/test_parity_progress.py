"""The Parity page's progress bar counts the whole experiment from the start: a run still waiting
for its turn counts the steps it will take, so the total does not grow as runs start and the bar
never goes back (it went 79% → 57% as waiting runs started)."""

from __future__ import annotations

import math
import time

from explorer.experiments.parity import ParitySetup
from explorer.experiments.parity_runs import follow, groups_of, start
from explorer.runs.workspace import Workspace

TRAIN, BATCH, EPOCHS, SEEDS = 64, 16, 2, 3


def test_a_waiting_run_counts_the_steps_it_will_take(tmp_path):
    setup = ParitySetup(k=1, rules=("bp",), seeds=SEEDS, epochs=EPOCHS, train_samples=TRAIN, test_samples=32,
                        hidden=8, batch_size=BATCH, device="cpu")
    with Workspace(tmp_path / "runs.sqlite", max_concurrent=1) as ws:   # one at a time: the others wait
        found = follow(ws, groups_of(start(ws, setup)))
        for part in found.parts:
            part.pause()                     # held: the first run keeps the one slot, the others wait
        try:
            deadline = time.monotonic() + 120
            while not any(info.total_steps for _, info in found.infos()):
                assert time.monotonic() < deadline, [(i.status, i.total_steps) for _, i in found.infos()]
                time.sleep(0.05)
                found.poll()
            statuses = sorted(info.status for _, info in found.infos())
            assert statuses.count("queued") == SEEDS - 1, statuses
            done, total = found.progress()
            assert total == SEEDS * EPOCHS * math.ceil(TRAIN / BATCH)   # every run's steps, the waiting ones too
            assert 0 <= done <= total
        finally:
            found.stop()
