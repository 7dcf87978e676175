"""The package's layers: imports point one way, from the front ends down to the config.

    front ends (explorer/cli.py, bench.py, widgets/, pages/, app.py)
      -> experiments -> views -> runs -> engine -> rules, models, data -> config

A module may import its own layer and any layer below it, never one above. The check reads every
import statement, those inside functions too (a lazy import that points back is still a cycle in
the design), so it fails on the first import that points back, naming the file and line.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "explorer"
LAYERS = {"_version": 0, "_lazy": 0, "config": 0, "rules": 1, "models": 1, "data": 1, "engine": 2, "runs": 3, "views": 4,
          "experiments": 5, "widgets": 6}
FRONT = 6  # the package's own face (__init__, __main__, cli, bench), widgets, pages and app.py


def layer_of_module(dotted: str) -> int | None:
    """The layer of an ``explorer...`` module; None for anything outside the package, and for the
    package itself (``from explorer import x`` is judged by x)."""
    parts = dotted.split(".")
    if parts[0] != "explorer" or len(parts) == 1:
        return None
    return LAYERS.get(parts[1], FRONT)


def imported_modules(path: Path, module: str):
    """(line, dotted module) for every import in ``path``, relative ones resolved against ``module``."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield node.lineno, target
            for alias in node.names:  # "from explorer import charts" imports the module explorer.charts
                yield node.lineno, f"{target}.{alias.name}"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def backward_imports(files) -> list[str]:
    found = []
    for path in files:
        module = module_name(path)
        here = layer_of_module(module) if module.startswith("explorer.") else FRONT
        for line, target in imported_modules(path, module):
            if target.split(".")[0] == "tools" and module.startswith("explorer"):
                found.append(f"{path.relative_to(ROOT)}:{line} imports the developer tools ({target})")
                continue
            there = layer_of_module(target)
            if there is not None and there > here:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target} (a layer above it)")
    return found


def python_files():
    return [*sorted(PACKAGE.rglob("*.py")), *sorted((ROOT / "pages").glob("*.py")), ROOT / "app.py"]


def test_no_import_points_back_up_the_layers():
    assert backward_imports(python_files()) == []


def test_the_check_finds_an_import_that_points_back(tmp_path):
    engine = ROOT / "explorer" / "engine" / "zz_probe.py"  # never written: parsed from a temporary copy
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from explorer.views import charts\n    from ..runs import store\n")
    tree_lines = list(imported_modules(probe, "explorer.engine.zz_probe"))
    assert (2, "explorer.views.charts") in tree_lines and (3, "explorer.runs.store") in tree_lines
    assert [layer_of_module(m) for _, m in tree_lines if m.count(".") == 2] == [4, 3]
    assert layer_of_module(module_name(engine)) == LAYERS["engine"] < LAYERS["views"]


@pytest.mark.parametrize("package", sorted(name for name in LAYERS if not name.startswith("_")))  # modules, not layers
def test_every_layer_is_a_package_with_a_docstring_saying_what_it_holds(package):
    init = PACKAGE / package / "__init__.py"
    assert init.exists() and ast.get_docstring(ast.parse(init.read_text()))


def test_every_public_name_resolves_and_importing_the_packages_loads_no_torch():
    """`explorer` and `explorer.data` import their names on first use (`explorer._lazy`): each name
    of their ``__all__`` is there when asked for, and importing them alone loads no torch."""
    import subprocess
    import sys

    import explorer
    import explorer.data

    for package in (explorer, explorer.data):
        missing = [name for name in package.__all__ if getattr(package, name, None) is None]
        assert not missing, f"{package.__name__} lists {missing} but has none"
        assert set(package.__all__) <= set(dir(package))
    assert explorer.Trainer.__module__ == "explorer.engine.trainer" and explorer.data.DatasetError.__module__ == "explorer.data.errors"
    code = ("import sys, explorer, explorer.data; from explorer.data import DatasetError; "
            "print(sorted({'torch', 'pandas', 'scipy'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
