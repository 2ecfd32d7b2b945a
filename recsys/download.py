"""Download public interaction data sets, verify their SHA-256, and unpack them.

``download("movielens-1m", Path("data"))`` fetches the GroupLens zip into a temporary file beside
the target, checks its SHA-256 against the published one, renames it into place, and unzips it
into a temporary folder that is renamed to ``data/ml-1m`` once complete. A file already in place is
verified and reused, never fetched twice.

Checksums: the MovieLens SHA-256 sums (and sizes) are those TensorFlow Datasets records for the same
URLs (``tensorflow_datasets/url_checksums/movielens.txt``). The UCSD Amazon 2018 files have no
published checksum, so they download unverified, with a warning that says so.

Offline, the connection fails within ``timeout`` seconds with a ``ConnectionError`` that names the
URL and says where to put the files by hand instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from recsys.storage import atomic_path, file_sha256

CHUNK = 1 << 20
TFDS_CHECKSUMS = "tensorflow/datasets tensorflow_datasets/url_checksums/movielens.txt"
GROUPLENS = "https://files.grouplens.org/datasets/movielens"
AMAZON_2018 = "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/categoryFilesSmall"


@dataclass(frozen=True)
class Dataset:
    """A public data set file.

    Attributes:
        name: the name ``alignrec data download`` takes.
        url: where the file is published.
        sha256: published SHA-256 of the file, or None when no published sum was found.
        size: published size in bytes, or None.
        ratings: path of the interaction file under the target folder once unpacked.
        reader: the ``--format`` of ``alignrec train`` that reads ``ratings``.
        description: one line for ``alignrec data list``.
    """

    name: str
    url: str
    sha256: str | None
    size: int | None
    ratings: str
    reader: str
    description: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def _amazon(category: str, label: str) -> Dataset:
    return Dataset(
        name=f"amazon-2018-{label}",
        url=f"{AMAZON_2018}/{category}_5.json.gz",
        sha256=None,
        size=None,
        ratings=f"amazon-2018/{category}_5.json.gz",
        reader="amazon",
        description=f"Amazon Review Data 2018, {category} 5-core reviews (Ni, Li & McAuley 2019)",
    )


DATASETS = {
    dataset.name: dataset
    for dataset in [
        Dataset(
            "movielens-100k",
            f"{GROUPLENS}/ml-100k.zip",
            "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            4924029,
            "ml-100k/u.data",
            "movielens-100k",
            "MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies (GroupLens, 1998)",
        ),
        Dataset(
            "movielens-1m",
            f"{GROUPLENS}/ml-1m.zip",
            "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            5917549,
            "ml-1m/ratings.dat",
            "movielens-1m",
            "MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,706 movies (GroupLens, 2003)",
        ),
        Dataset(
            "movielens-latest-small",
            f"{GROUPLENS}/ml-latest-small.zip",
            "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            978202,
            "ml-latest-small/ratings.csv",
            "movielens-latest",
            "MovieLens latest-small: 100,836 ratings, 610 users, 9,742 movies (GroupLens, 2018)",
        ),
        _amazon("AMAZON_FASHION", "fashion"),
        _amazon("All_Beauty", "all-beauty"),
        _amazon("Luxury_Beauty", "luxury-beauty"),
        _amazon("Industrial_and_Scientific", "industrial-scientific"),
        _amazon("Software", "software"),
        _amazon("Video_Games", "video-games"),
    ]
}


@dataclass
class Downloaded:
    """Where a data set landed: the interaction file, the downloaded file and its SHA-256."""

    ratings: Path
    archive: Path
    sha256: str
    verified: bool


def sha256_of(path: Path) -> str:
    return file_sha256(path)


def _check(dataset: Dataset, digest: str, where: str) -> None:
    if dataset.sha256 is not None and digest != dataset.sha256:
        raise ValueError(
            f"{where}: SHA-256 {digest} does not match the published {dataset.sha256} for "
            f"{dataset.url}; the file is corrupt or has changed upstream"
        )


def fetch(url: str, target: Path, timeout: float) -> str:
    """Stream ``url`` into ``target`` and return the SHA-256 of what was written."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                digest.update(block)
                out.write(block)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise ConnectionError(f"could not download {url} ({reason})") from error
    return digest.hexdigest()


def download_dataset(dataset: Dataset, to: Path, timeout: float = 10.0) -> Downloaded:
    """Fetch (or reuse), verify and unpack ``dataset`` under the folder ``to``.

    Raises:
        ConnectionError: the URL cannot be reached (offline, DNS, HTTP error).
        ValueError: the SHA-256 differs from the published one (the bad file is removed).
    """
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    archive = to / dataset.filename
    if dataset.filename.endswith(".json.gz"):
        archive = to / dataset.ratings
        archive.parent.mkdir(parents=True, exist_ok=True)
    if archive.exists():
        digest = sha256_of(archive)
        _check(dataset, digest, str(archive))
    else:
        with atomic_path(archive) as tmp:  # a failed or wrong download leaves nothing behind
            try:
                digest = fetch(dataset.url, tmp, timeout)
            except ConnectionError as error:
                raise ConnectionError(
                    f"{error}. If this machine is offline, fetch that file elsewhere and unpack "
                    f"it into the folder ALIGNREC_DATA_DIR points to, so that "
                    f"$ALIGNREC_DATA_DIR/{dataset.ratings} exists"
                ) from error
            _check(dataset, digest, dataset.url)
    if dataset.sha256 is None:
        warnings.warn(
            f"{dataset.name}: no published checksum; {archive} (SHA-256 {digest}) is unverified",
            stacklevel=2,
        )
    ratings = to / dataset.ratings
    if zipfile.is_zipfile(archive) and not ratings.exists():
        _unzip(archive, to, top=Path(dataset.ratings).parts[0])
    if not ratings.exists():
        raise FileNotFoundError(f"{archive}: unpacked, but {dataset.ratings} is not in it")
    return Downloaded(ratings, archive, digest, dataset.sha256 is not None)


def _unzip(archive: Path, to: Path, top: str) -> None:
    """Extract into a temporary folder, then rename its ``top`` folder into ``to`` in one step."""
    staging = Path(tempfile.mkdtemp(dir=to, prefix=f".{archive.name}."))
    try:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staging)  # zipfile drops absolute paths and ".." components
        if not (staging / top).is_dir():
            raise FileNotFoundError(f"{archive}: expected a top-level folder {top}/ in the zip")
        if (to / top).exists():
            raise ValueError(
                f"{to / top} exists but lacks the files of {archive.name}; move it away and retry"
            )
        os.replace(staging / top, to / top)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download(name: str, to: Path, timeout: float = 10.0) -> Downloaded:
    """``download_dataset`` by name (see ``DATASETS``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    return download_dataset(DATASETS[name], to, timeout)
