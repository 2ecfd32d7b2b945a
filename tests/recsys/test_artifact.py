"""The saved format refuses what it cannot trust: old pickles, other versions, damaged files."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from recsys.artifact import ArtifactError, read_manifest
from recsys.models.bpr import BPR
from recsys.recommender import Recommender


@pytest.fixture()
def saved(tmp_path, planted_split):
    train = planted_split.train
    model = BPR(train.num_users, train.num_items, dim=4)
    recommender = Recommender(model, train.to_csr(), train.user_ids, train.item_ids)
    return recommender.save(tmp_path / "bpr")


class _Payload:
    """Unpickling this would create a file: proof that loading never unpickles."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_old_pickle_format_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    old = tmp_path / "run" / "bpr"
    old.mkdir(parents=True)
    torch.save({"model": _Payload(marker)}, old / "recommender.pt")
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    for path in (old, old / "recommender.pt", tmp_path / "raw.pkl"):
        with pytest.raises(ArtifactError, match="torch pickle.*Retrain with `alignrec train`"):
            Recommender.load(path)
    assert not marker.exists()


def test_other_format_version_is_refused(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["format_version"] = 99
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="format version 99, but this alignrec reads version 1"):
        Recommender.load(saved)


@pytest.mark.parametrize("name", ["weights.safetensors", "arrays.npz"])
def test_truncated_or_modified_files_are_refused(saved, name):
    data = (saved / name).read_bytes()
    (saved / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=f"{name}: checksum differs"):
        Recommender.load(saved)


def test_missing_pieces_are_named(saved, tmp_path):
    (saved / "weights.safetensors").unlink()
    with pytest.raises(ArtifactError, match="weights.safetensors: listed in the manifest but missing"):
        Recommender.load(saved)
    (saved / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        read_manifest(saved)
    with pytest.raises(FileNotFoundError, match="no saved recommender"):
        Recommender.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="manifest.json: missing"):
        Recommender.load(tmp_path / "empty")


def test_an_edited_manifest_naming_an_unknown_model_is_refused(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["model"] = "os.system"
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="unknown model 'os.system'"):
        Recommender.load(saved)


def test_saving_again_replaces_the_folder_whole(saved, planted_split):
    first = (saved / "weights.safetensors").read_bytes()
    loaded = Recommender.load(saved)
    with torch.no_grad():
        loaded.model.user_embedding.weight.add_(1.0)
    loaded.save(saved)
    assert (saved / "weights.safetensors").read_bytes() != first
    assert sorted(p.name for p in saved.parent.iterdir()) == ["bpr"]  # no temporary folders left
    assert Recommender.load(saved).recommend(str(planted_split.train.user_ids[0]), 3).source == "exact"


def test_saved_folder_is_readable_by_others(saved):
    """A service account reading the model must not need the trainer's uid (mkstemp/mkdtemp are 0600/0700)."""
    assert saved.stat().st_mode & 0o055 == 0o055
    for file in saved.iterdir():
        assert file.stat().st_mode & 0o044 == 0o044, file
