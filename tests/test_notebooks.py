"""Every lesson notebook runs top to bottom in a fresh kernel, with the tiny settings the lessons
take when ``EXPLORER_QUICK=1``; an error in any cell, or a widget that ended in error or with a
run that did not finish, fails the test.

The kernel is this test's own Python (a kernelspec written to a temporary folder), so the test
does not depend on which ``python`` a machine's default kernelspec finds first on its PATH.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
KERNEL = "explorer-test-python"
CELL_TIMEOUT = 120  # s; a quick lesson's slowest cell takes a few seconds

# Appended to every lesson: the widgets it made must have ended well. Their live threads report
# errors in the widget (not as a cell error), and a run can fail or diverge without raising.
CHECK_WIDGETS = """
from explorer.widgets.common import RunsWidget as _R
from explorer.widgets import TrainerWidget as _T, ParityWidget as _P
_made = {name: w for name, w in dict(globals()).items() if isinstance(w, (_R, _T, _P))}
assert _made, "the lesson made no widgets"
_bad = {name: (w.status, w.error) for name, w in _made.items() if w.error or w.status not in ("done", "")}
assert not _bad, f"widgets that did not end well: {_bad}"
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernelspec that starts this interpreter, on a JUPYTER_PATH of its own; the lessons'
    quick settings and a run store of their own in the kernel's environment."""
    folder = tmp_path_factory.mktemp("jupyter")
    write_kernel_spec(folder / "kernels" / KERNEL, overrides={"display_name": "explorer tests"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(folder))
        mp.setenv("EXPLORER_QUICK", "1")
        mp.setenv("EXPLORER_STORE", str(folder / "runs.sqlite"))
        mp.setenv("OMP_NUM_THREADS", "1")
        yield KERNEL


def execute(nb: nbformat.NotebookNode, kernel: str, cwd: Path) -> list[str]:
    """Run ``nb`` top to bottom (it stops at the first error, except in cells tagged
    "raises-exception"); the errors its cells raised, as "Name: message" (none: an empty list)."""
    client = NotebookClient(nb, kernel_name=kernel, timeout=CELL_TIMEOUT, startup_timeout=120,
                            resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute()
    except CellExecutionError as err:
        stopped = str(err)
    else:
        stopped = ""
    errors = [f"{out.get('ename')}: {out.get('evalue')}" for cell in nb.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    return errors or ([stopped] if stopped else [])


def test_there_is_a_lesson_per_experiment():
    names = [p.stem for p in NOTEBOOKS]
    for topic in ("learning_rules", "alignment", "parity", "deep", "sign_symmetry", "tsne"):
        assert any(topic in n for n in names), f"no lesson about {topic}: {names}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_runs_top_to_bottom(path, kernel):
    nb = nbformat.read(path, as_version=4)
    assert 'DATA = "digits"' in nb.cells[1].source  # the one-line switch to MNIST
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "saved with outputs"
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_WIDGETS))
    assert execute(nb, kernel, path.parent) == []
    printed = [out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []) if out.get("output_type") == "stream"]
    # A library's warning (the kernel forwards what C code writes to stderr) is no lesson.
    assert not [t for t in printed if "OpenBLAS Warning" in t or "may hang" in t], printed


def test_a_failing_cell_is_detected_and_stops_the_notebook(kernel, tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import sys; print(sys.executable)"),
        nbformat.v4.new_code_cell("1 / 0", metadata={"tags": ["raises-exception"]}),  # nbclient goes on
        nbformat.v4.new_code_cell("raise RuntimeError('a deliberate mistake')"),        # and stops here
        nbformat.v4.new_code_cell("print('after')")])
    errors = execute(nb, kernel, tmp_path)
    assert len(errors) == 2 and errors[0].startswith("ZeroDivisionError")
    assert errors[1] == "RuntimeError: a deliberate mistake"
    assert nb.cells[3].get("outputs", []) == []                          # never ran
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable     # the kernel is this interpreter


def test_the_widget_check_fails_on_a_widget_that_ended_badly():
    from explorer.widgets import TrainerWidget

    finished = TrainerWidget({"device": "cpu"})
    finished.status = "done"
    exec(CHECK_WIDGETS, {"w": finished})  # passes
    broken = TrainerWidget({"device": "cpu"})
    broken.status, broken.error = "done", "live updates stopped: something broke"
    with pytest.raises(AssertionError, match="something broke"):
        exec(CHECK_WIDGETS, {"w": finished, "v": broken})
    with pytest.raises(AssertionError, match="ready"):   # made but never run
        exec(CHECK_WIDGETS, {"w": TrainerWidget({"device": "cpu"})})
    with pytest.raises(AssertionError, match="no widgets"):
        exec(CHECK_WIDGETS, {})
