import gzip
import urllib.error
import urllib.request
import warnings

import pytest

from product.sizefit import download as dl


@pytest.fixture
def tiny_file(monkeypatch, tmp_path):
    """A stand-in for the ModCloth file (3 records) served from a file:// URL."""
    monkeypatch.setitem(
        dl.FILES, "modcloth", dl.FitFile(name="modcloth_final_data.json.gz", url="unused", records=3)
    )
    source = tmp_path / "source.json.gz"
    with gzip.open(source, "wt") as handle:
        handle.write('{"a": 1}\n{"a": 2}\n{"a": 3}\n')
    return source


def test_download_verifies_count_and_pins_a_digest(tiny_file, tmp_path):
    digest = dl.sha256_of(tiny_file)
    with pytest.warns(UserWarning, match="unverified"):
        path = dl.download("modcloth", tmp_path / "out", url=tiny_file.as_uri())
    assert path.read_bytes() == tiny_file.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            dl.download("modcloth", tmp_path / "out", sha256=digest) == path
        )  # present: verified, not fetched


def test_wrong_digest_fails_and_leaves_nothing(tiny_file, tmp_path):
    with pytest.raises(ValueError, match="SHA-256"):
        dl.download("modcloth", tmp_path / "out", sha256="0" * 64, url=tiny_file.as_uri())
    assert list((tmp_path / "out").iterdir()) == []


def test_wrong_record_count_fails(tiny_file, tmp_path, monkeypatch):
    monkeypatch.setitem(dl.FILES, "modcloth", dl.FitFile(name="m.json.gz", url="unused", records=4))
    with pytest.raises(ValueError, match="3 records, expected 4"):
        dl.download("modcloth", tmp_path / "out", url=tiny_file.as_uri())


def test_offline_fails_fast_and_says_what_to_do(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ConnectionError, match="offline.*ALIGNREC_DATA_DIR"):
        dl.download("renttherunway", tmp_path)


def test_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        dl.download("zalando", tmp_path)
