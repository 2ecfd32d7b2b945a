"""Downloader: file:// URLs to archives made here, never the network."""

from __future__ import annotations

import gzip
import hashlib
import re
import socket
import time
import urllib.request
import zipfile

import pytest
from typer.testing import CliRunner

import recsys.download as download_module
from alignrec.cli import app
from recsys.download import DATASETS, Dataset, download, download_dataset

RATINGS = "userId,movieId,rating,timestamp\n1,10,4.0,964982703\n2,10,3.5,964982704\n"


@pytest.fixture()
def zipped(tmp_path):
    """A GroupLens-style zip (one top folder) and its SHA-256."""
    source = tmp_path / "source"
    source.mkdir()
    archive = source / "ml-tiny.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("ml-tiny/ratings.csv", RATINGS)
        out.writestr("ml-tiny/README.txt", "tiny")
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def tiny(archive, sha256) -> Dataset:
    return Dataset(
        "tiny", archive.as_uri(), sha256, None, "ml-tiny/ratings.csv", "movielens-latest", "tiny"
    )


def test_verified_download_unpacks_atomically_and_is_reused(tmp_path, zipped, monkeypatch):
    archive, sha256 = zipped
    to = tmp_path / "data"
    result = download_dataset(tiny(archive, sha256), to)
    assert result.verified and result.sha256 == sha256
    assert result.ratings == to / "ml-tiny" / "ratings.csv" and result.ratings.read_text() == RATINGS
    assert sorted(p.name for p in to.iterdir()) == ["ml-tiny", "ml-tiny.zip"]  # no temp left

    def offline(*args, **kwargs):
        raise AssertionError("fetched again")

    monkeypatch.setattr(download_module, "fetch", offline)
    again = download_dataset(tiny(archive, sha256), to)
    assert again.ratings == result.ratings and again.verified


def test_checksum_mismatch_raises_and_leaves_nothing(tmp_path, zipped):
    archive, _ = zipped
    to = tmp_path / "data"
    with pytest.raises(ValueError, match="does not match the published 0{64}"):
        download_dataset(tiny(archive, "0" * 64), to)
    assert list(to.iterdir()) == []


def test_corrupt_file_already_in_place_raises(tmp_path, zipped):
    archive, sha256 = zipped
    to = tmp_path / "data"
    to.mkdir()
    (to / "ml-tiny.zip").write_bytes(b"truncated")
    with pytest.raises(ValueError, match=f"ml-tiny.zip: SHA-256 .* published {sha256}"):
        download_dataset(tiny(archive, sha256), to)


def test_without_published_checksum_warns_unverified(tmp_path):
    source = tmp_path / "Cat_5.json.gz"
    source.write_bytes(gzip.compress(b'{"reviewerID": "a", "asin": "b", "overall": 5.0}\n'))
    dataset = Dataset("cat", source.as_uri(), None, None, "amazon-2018/Cat_5.json.gz", "amazon", "c")
    with pytest.warns(UserWarning, match="no published checksum.*unverified"):
        result = download_dataset(dataset, tmp_path / "data")
    assert not result.verified
    assert result.ratings == tmp_path / "data" / "amazon-2018" / "Cat_5.json.gz"
    assert result.ratings.read_bytes() == source.read_bytes()


def test_offline_fails_fast_naming_url_and_data_dir(tmp_path):
    with socket.socket() as probe:  # a local port nobody listens on: refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/ml-tiny.zip"
    start = time.perf_counter()
    with pytest.raises(ConnectionError) as caught:
        download_dataset(Dataset("x", url, None, None, "ml-tiny/r.csv", "movielens-latest", ""), tmp_path)
    assert time.perf_counter() - start < 5
    assert url in str(caught.value) and "ALIGNREC_DATA_DIR" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_times_out_as_connection_error(tmp_path, monkeypatch):
    def silent(url, timeout):
        assert timeout == 0.5
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib.request, "urlopen", silent)
    with pytest.raises(ConnectionError, match="timed out"):
        download("movielens-1m", tmp_path, timeout=0.5)


def test_registry_entries():
    for dataset in DATASETS.values():
        assert dataset.url.startswith("https://")
        assert dataset.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", dataset.sha256)
    assert all(DATASETS[f"movielens-{n}"].sha256 for n in ("100k", "1m", "latest-small"))
    with pytest.raises(ValueError, match="unknown data set 'ml-2m'"):
        download("ml-2m", None)


def test_cli_list_and_download(tmp_path, zipped, monkeypatch):
    archive, sha256 = zipped
    monkeypatch.setitem(DATASETS, "tiny", tiny(archive, sha256))

    def invoke(*args: str):
        return CliRunner().invoke(app, ["data", *args], env={"COLUMNS": "200"})

    listed = invoke("list")
    assert listed.exit_code == 0 and "movielens-1m" in listed.output and "tiny" in listed.output
    result = invoke("download", "tiny", "--to", str(tmp_path / "d"))
    assert result.exit_code == 0, result.output
    assert "(verified)" in result.output and "--format movielens-latest" in result.output
    assert (tmp_path / "d" / "ml-tiny" / "ratings.csv").exists()
    monkeypatch.setitem(DATASETS, "tiny", tiny(archive.with_name("gone.zip"), sha256))
    failed = invoke("download", "tiny", "--to", str(tmp_path / "e"))
    assert failed.exit_code == 1 and "ALIGNREC_DATA_DIR" in failed.output
