"""The README on a fresh clone: CI runs exactly its install and test commands, and its links lead
somewhere inside the clone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def two_commands() -> dict[str, str]:
    """The commands of the README's "Two commands" block, by their trailing comment's first word."""
    block = README.split("## Two commands", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = {}
    for line in block.splitlines():
        command, _, comment = line.partition("#")
        commands[comment.split()[0].rstrip(":")] = command.strip()
    return commands


def test_the_readme_shows_two_commands_that_need_no_python_and_make_a_venv():
    commands = two_commands()
    assert list(commands) == ["install", "run"]
    assert commands["install"].startswith("python3 -m venv .venv && . .venv/bin/activate && ")


def test_ci_runs_exactly_the_readmes_install_and_test_commands():
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    test_command = re.search(r"^Test: `([^`]+)`", README, re.M).group(1)
    assert two_commands()["install"] in ci
    assert ci[-1] == test_command and ci.index(two_commands()["install"]) < len(ci) - 1


def test_every_relative_link_in_the_readme_leads_to_a_file_of_the_clone():
    links = re.findall(r"\]\(([^)#]+)\)", README)
    relative = [link for link in links if "://" not in link]
    assert "docs/algorithms.md" in relative
    for link in relative:
        target = (ROOT / link).resolve()
        assert target.is_relative_to(ROOT) and target.exists(), link
