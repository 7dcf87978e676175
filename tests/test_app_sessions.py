"""Two sessions opening a fresh server at once both get the app.

On a fresh server Streamlit first runs the app in its old multipage mode (a ``pages/`` folder
beside ``app.py``), and the app turns that first run around with a rerun. The rerun used to be
raised while ``pages/common.py`` was being imported: that import failed, and a second session
importing the module at the same moment got "cannot import name 'common' from 'pages' (unknown
location)" in place of the app (seen in the browser test of two users training at once, on a
loaded machine, and traced there). Replayed here in a fresh interpreter, each step gated on the
one before, with ``st.rerun`` raising as it does in a script run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

REPLAY = textwrap.dedent("""
    import sys, threading, time
    sys.path.insert(0, sys.argv[1])
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    class Rerun(Exception):
        pass

    def rerun():
        raise Rerun()

    st.rerun = rerun                            # in a script run, st.rerun raises to end the run
    PagesManager.uses_pages_directory = True    # a fresh server: the old multipage mode is on
    got, failed = {}, {}

    def session(name):
        try:
            from pages import common
            got[name] = common
        except BaseException as err:
            failed[name] = repr(err)

    first = threading.Thread(target=session, args=("first",))
    first.start()
    while "pages.common" not in sys.modules and first.is_alive():
        time.sleep(0.001)                       # the first session's import has begun
    second = threading.Thread(target=session, args=("second",))
    second.start()                              # the second imports while the first still does
    first.join(); second.join()
    print("failed", failed)
    print("same", got.get("first") is got.get("second") is not None)
    reruns = 0
    for _ in range(2):
        try:
            got["first"].leave_pages_folder_mode()
        except Rerun:
            reruns += 1
    print("reruns", reruns, "mode", PagesManager.uses_pages_directory)
""")


def test_two_sessions_importing_the_pages_at_once_both_get_them_and_the_first_run_is_turned_once():
    done = subprocess.run([sys.executable, "-c", REPLAY, str(ROOT)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()[-3:]
    assert lines[0] == "failed {}", lines
    assert lines[1] == "same True", lines
    assert lines[2] == "reruns 1 mode False", lines   # turned around once, then left alone
