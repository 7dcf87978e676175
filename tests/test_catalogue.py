"""The catalogue as a whole: what every entry must hold, whatever its document (each document's
published values are checked against tables typed from it in tests/test_catalogue_<module>.py)."""

from __future__ import annotations

import json
import math

import pytest

from explorer.config import ConfigError
from explorer.experiments.catalogue import (CATALOGUE, SCALES, Entry, EntryNotFound, Published, Run, Scale,
                                           document_names, get)
from explorer.experiments.measures import unit_of

# Every document of ../shared/seeds has entries, and the two works outside it (issue 14).
SEED_FILES = {"000_f576d27fd47a6f1f.txt", "001_fdf9ec2506aa1305.txt", "002_69c287ba4bc32ce9.txt",
              "003_bf2f04177e508226.txt", "004_cf27c17d2cb63cac.txt"}


def test_every_document_has_entries():
    sources = {e.source for e in CATALOGUE.values()}
    assert SEED_FILES <= sources
    others = sources - SEED_FILES
    assert any("BioTorch" in s for s in others) and any("Lillicrap" in s for s in others)


# Each seed's first author, typed from its title page.
SEED_AUTHORS = {"000_f576d27fd47a6f1f.txt": "Di Pasquale", "001_fdf9ec2506aa1305.txt": "Shah",
                "002_69c287ba4bc32ce9.txt": "Thakkar", "003_bf2f04177e508226.txt": "Demirbilek",
                "004_cf27c17d2cb63cac.txt": "Espinosa Zarlenga"}


def test_a_seed_document_is_named_by_its_author_never_by_its_file():
    names = document_names()
    for source, author in SEED_AUTHORS.items():
        assert names[source].startswith(author) and ".txt" not in names[source], names[source]
    assert len(set(names.values())) == len(names)  # two documents never read alike in the filter


@pytest.mark.parametrize("entry_id", sorted(CATALOGUE))
def test_entry_validates_at_every_scale_and_says_what_it_shrinks(entry_id, tmp_path):
    entry = CATALOGUE[entry_id]
    for scale in SCALES:
        configs = entry.configs(scale, root=tmp_path, seed=3)
        assert [label for label, _ in configs] == [r.label for r in entry.runs]
        assert all(cfg.seed >= 3 for _, cfg in configs)
    assert entry.classroom.shrinks and entry.smoke.shrinks
    json.loads(json.dumps(entry.to_dict()))  # --list --json must be able to print it


@pytest.mark.parametrize("entry_id", sorted(CATALOGUE))
def test_published_values_are_finite_and_in_their_metric_unit(entry_id):
    entry = CATALOGUE[entry_id]
    for p in entry.published:
        assert math.isfinite(p.value)
        if unit_of(p.metric) == "%":  # accuracies are written 92.58, not 0.9258
            assert 0 <= p.value <= 100 and (p.value > 1 or p.metric.endswith("error") or p.value == 0), p


def test_repeats_of_one_setting_get_their_own_seeds():
    entry = get("dipasquale-t3.6")
    seeds = [cfg.seed for _, cfg in entry.configs("smoke", seed=10)]
    assert seeds == [10, 11, 12, 13]
    assert len({json.dumps(cfg.to_dict(), sort_keys=True) for _, cfg in entry.configs("smoke")}) == 4


def test_an_unknown_id_names_entries_like_it():
    with pytest.raises(EntryNotFound, match="dipasquale-t3.9"):
        get("dipasquale-t9.9")


def _entry(**kw) -> Entry:
    base = dict(id="demo", source="x.txt", ref="Table 1", title="t", setting={"model": {"hidden": [8]}},
                runs=(Run("BP", {"algorithm.name": "bp"}),), published=(Published("BP", "test_acc", 50.0),),
                tolerance=1.0, classroom=Scale({}, "as is"), smoke=Scale({}, "as is"))
    return Entry(**(base | kw))


@pytest.mark.parametrize("changes, message", [
    ({"id": "Has Spaces"}, "id must be"),
    ({"runs": ()}, "at least one run"),
    ({"runs": (Run("BP"), Run("BP"))}, "unique"),
    ({"published": (Published("DFA", "test_acc", 1.0),)}, "none of the runs"),
    ({"published": (Published("BP", "test_acc", 1.0, at="last"),)}, "'at'"),
    ({"setting": {"data": {"name": "mnist", "root": "/x"}}}, "data.root"),
    ({"tolerance": -1.0}, "tolerance"),
    ({"runs": (Run("BP", seed_offset=-1),)}, "seed_offset"),
])
def test_a_malformed_entry_is_refused_when_declared(changes, message):
    with pytest.raises(ValueError, match=message):
        _entry(**changes)


def test_a_bad_setting_names_the_entry_the_run_and_the_field():
    entry = _entry(runs=(Run("BP", {"optimizer.lr": -1}),))
    with pytest.raises(ConfigError, match="catalogue entry 'demo', run 'BP'") as err:
        entry.configs("smoke")
    assert err.value.field == "optimizer.lr"


def test_the_data_folder_goes_to_folder_datasets_only(tmp_path):
    mnist = _entry(setting={"data": {"name": "mnist"}, "model": {"hidden": [8]}})
    assert mnist.configs("smoke", root=tmp_path)[0][1].data.get("root") == str(tmp_path)
    assert _entry().configs("smoke", root=tmp_path)[0][1].data.get("root") is None
