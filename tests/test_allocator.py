"""glibc's malloc settings for CPU training (explorer.engine.allocator): a freed tensor's memory
stays with the process while it trains, so the next step reuses it instead of faulting in fresh
pages, and goes back to the kernel when training ends.

Each check runs in a child process (the settings are process-wide and set once), with an
environment cleared of anything that changes malloc, and reads the child's resident memory from
/proc around freeing a 20 MiB tensor: under glibc's defaults the block is unmapped at once, under
the explorer's settings it stays until released."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="the settings are glibc's; /proc is Linux's")

# Prepended to every child: its resident memory, and a 20 MiB tensor made and freed.
PRELUDE = """
import torch
def rss_mib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
def free_20_mib():
    x = torch.ones(20 * 2**20 // 4)
    before = rss_mib()
    del x
    return before - rss_mib()
"""


def child(code: str, **env: str) -> list[str]:
    """The words a child process prints, run with malloc's environment cleared and ``env`` set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD"))}
    clean["EXPLORER_KEEP_FREED_MEMORY"] = "1"
    out = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], capture_output=True, text=True,
                         check=True, env=clean | env, timeout=120)
    return out.stdout.split()


def test_freed_memory_stays_with_the_process_once_set():
    applied, mib = child("""
        from explorer.engine.allocator import keep_freed_memory
        print(keep_freed_memory(), free_20_mib())
    """)
    assert applied == "True"
    assert float(mib) < 2, f"{mib} MiB went back to the kernel"


def test_glibcs_defaults_give_the_memory_back_which_is_what_the_setting_changes():
    (mib,) = child("print(free_20_mib())")
    assert float(mib) > 18, f"only {mib} MiB of the 20 went back under glibc's defaults"


@pytest.mark.parametrize("off", ["0", "false", "Off"])
def test_the_setting_can_be_turned_off_from_the_environment(off):
    applied, mib = child("""
        from explorer.engine.allocator import keep_freed_memory
        print(keep_freed_memory(), free_20_mib())
    """, EXPLORER_KEEP_FREED_MEMORY=off)
    assert applied == "False"
    assert float(mib) > 18


def test_a_trainer_on_the_cpu_sets_it():
    (mib,) = child("""
        from explorer.engine.trainer import Trainer
        Trainer({"model": {"hidden": [4]}, "train": {"epochs": 1}, "device": "cpu"})
        print(free_20_mib())
    """)
    assert float(mib) < 2, f"{mib} MiB went back to the kernel after a Trainer was made"


def test_release_hands_the_kept_memory_back():
    kept, released = child("""
        from explorer.engine.allocator import keep_freed_memory, release_freed_memory
        keep_freed_memory()
        kept = free_20_mib()
        before = rss_mib()
        release_freed_memory()
        print(kept, before - rss_mib())
    """)
    assert float(kept) < 2 and float(released) > 18, (kept, released)


def test_a_run_that_ends_and_a_job_manager_gone_idle_release_it(tmp_path):
    """Trainer.run at its end, and a JobManager once nothing trains, give back what was kept: by
    the time ``wait_all`` returns, not some moment after."""
    after_run, after_jobs = child(f"""
        from explorer.engine.trainer import Trainer
        from explorer.runs.jobs import JobManager
        config = {{"model": {{"hidden": [4]}}, "train": {{"epochs": 1}}, "device": "cpu"}}
        trainer = Trainer(config)
        free_20_mib()
        before = rss_mib()
        trainer.run()
        after_run = before - rss_mib()
        # The release slowed down, so a wait_all that returned before it would be seen
        import time, explorer.engine.allocator as allocator
        release = allocator.release_freed_memory
        allocator.release_freed_memory = lambda: (time.sleep(0.3), release())[1]
        with JobManager({str(tmp_path / "runs.sqlite")!r}, max_concurrent=1) as jobs:
            free_20_mib()
            before = rss_mib()
            handle = jobs.submit(config)
            handle.wait(60)
            jobs.wait_all(60)
            after_jobs = before - rss_mib()
        print(after_run, after_jobs)
    """)
    assert float(after_run) > 15, f"the run's end gave back {after_run} MiB of the 20 kept"
    assert float(after_jobs) > 15, f"the idle job manager gave back {after_jobs} MiB of the 20 kept"


def test_freed_memory_the_process_keeps_counts_as_free_for_the_next_run():
    """A 20 MiB tensor freed under the settings stays in the heap: malloc reports it free, and
    `free_memory` counts what malloc holds free on top of what the kernel reports available."""
    held, difference = child("""
        from explorer.engine import footprint
        from explorer.engine.allocator import held_free_bytes, keep_freed_memory
        keep_freed_memory()
        x = torch.ones(20 * 2**20 // 4)
        before = held_free_bytes()
        del x
        held = held_free_bytes() - before
        footprint._host_available = lambda: 0
        counted = footprint.free_memory("cpu") - held_free_bytes()
        print(held / 2**20, abs(counted) / 2**20)
    """)
    assert float(held) > 19.5, f"malloc holds only {held} MiB more after freeing a 20 MiB tensor"
    assert float(difference) < 1, f"free_memory differs from what malloc holds by {difference} MiB"
