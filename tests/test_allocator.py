"""glibc's malloc settings for CPU training (explorer.engine.allocator): a freed tensor's memory
stays with the process, so the next step reuses it instead of faulting in fresh pages.

Each check runs in a child process (the settings are process-wide and set once) and reads the
process's resident memory from /proc before and after freeing a 20 MiB tensor: under glibc's
defaults the block is unmapped at once, under the explorer's settings it stays."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="the settings are glibc's; /proc is Linux's")

FREE_20_MIB = """
import torch
def rss_mib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
x = torch.ones(20 * 2**20 // 4)
before = rss_mib()
del x
print(APPLIED, before - rss_mib())
"""


def released_mib(setup: str, env: dict[str, str] | None = None) -> tuple[str, float]:
    """(what the setup reports, MiB the process gave back on freeing a 20 MiB tensor)."""
    code = textwrap.dedent(setup) + FREE_20_MIB
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})}, timeout=120)
    applied, mib = out.stdout.split()[-2:]
    return applied, float(mib)


def test_freed_memory_stays_with_the_process_once_set():
    applied, mib = released_mib("from explorer.engine.allocator import keep_freed_memory\nAPPLIED = keep_freed_memory()")
    assert applied == "True"
    assert mib < 2, f"{mib:.1f} MiB went back to the kernel"


def test_glibcs_defaults_give_the_memory_back_which_is_what_the_setting_changes():
    applied, mib = released_mib("APPLIED = None")
    assert mib > 18, f"only {mib:.1f} MiB of the 20 went back under glibc's defaults"


def test_the_setting_can_be_turned_off_from_the_environment():
    applied, mib = released_mib("from explorer.engine.allocator import keep_freed_memory\nAPPLIED = keep_freed_memory()",
                                env={"EXPLORER_KEEP_FREED_MEMORY": "0"})
    assert applied == "False"
    assert mib > 18


def test_a_trainer_on_the_cpu_sets_it():
    applied, mib = released_mib("""
        from explorer.engine.trainer import Trainer
        Trainer({"model": {"hidden": [4]}, "train": {"epochs": 1}, "device": "cpu"})
        APPLIED = "trainer"
    """)
    assert mib < 2, f"{mib:.1f} MiB went back to the kernel after a Trainer was made"


def test_freed_memory_the_process_keeps_counts_as_free_for_the_next_run():
    """A 20 MiB tensor freed under the settings stays in the heap: malloc reports it free, and
    `free_memory` counts what malloc holds free on top of what the kernel reports available."""
    code = textwrap.dedent("""
        import torch
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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    held, difference = map(float, out.stdout.split()[-2:])
    assert held > 19.5, f"malloc holds only {held:.1f} MiB more after freeing a 20 MiB tensor"
    assert difference < 1, f"free_memory differs from what malloc holds by {difference:.2f} MiB"
