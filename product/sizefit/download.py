"""Download the full ModCloth and RentTheRunway clothing-fit files (UCSD McAuley lab).

    python -m product.sizefit.download --to ../shared/data/clothing-fit

Misra, Wan, McAuley, "Decomposing Fit Semantics for Product Size Recommendation in Metric Spaces",
RecSys 2018; please cite it. Each file is checked after download: its record count must match
the published one and, when a SHA-256 is known, its digest too. No SHA-256 is pinned here yet:
the files could not be fetched where this was written, and a digest nobody computed would only
make every download fail. ``download`` therefore prints the digest it computed, which can be
passed back as ``sha256=`` (or ``--sha256``) to pin it on later downloads.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

from recsys.download import fetch
from recsys.storage import atomic_path


@dataclass(frozen=True)
class FitFile:
    name: str
    url: str
    records: int  # published record count, checked after download
    sha256: str | None = None  # None: not pinned (see the module docstring)


FILES = {
    "modcloth": FitFile(
        name="modcloth_final_data.json.gz",
        url="https://mcauleylab.ucsd.edu/public_datasets/data/modcloth/modcloth_final_data.json.gz",
        records=82_790,
    ),
    "renttherunway": FitFile(
        name="renttherunway_final_data.json.gz",
        url="https://mcauleylab.ucsd.edu/public_datasets/data/renttherunway/renttherunway_final_data.json.gz",
        records=192_544,
    ),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_records(path: Path) -> int:
    """Non-empty lines of a gzipped JSON Lines file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def download(
    dataset: str, to: Path | str, sha256: str | None = None, timeout: float = 10.0, url: str | None = None
) -> Path:
    """Fetch one file into ``to`` (atomically), verify it, and return its path.

    An existing file is verified, not fetched again. Raises ``ConnectionError`` at once when the
    server cannot be reached (offline) and ``ValueError`` when the record count or the SHA-256 is
    wrong (a bad download is removed); warns when no SHA-256 was given to check.

    Args:
        dataset: "modcloth" or "renttherunway".
        to: destination folder.
        sha256: expected digest; defaults to the pinned one, when there is one.
        timeout: seconds to wait for the server before giving up.
        url: another location of the same file (a mirror, or ``file://`` in tests).
    """
    if dataset not in FILES:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(FILES)}")
    entry = FILES[dataset]
    expected = sha256 or entry.sha256
    path = Path(to) / entry.name
    if not path.exists():
        source = url or entry.url
        try:
            with atomic_path(path) as tmp:  # a failed or wrong download leaves nothing behind
                fetch(source, tmp, timeout)
                _verify(tmp, entry, expected)
        except ConnectionError as error:
            raise ConnectionError(
                f"{error}; are you offline? Fetch the file elsewhere and "
                f"put it at {path}, or set ALIGNREC_DATA_DIR to a folder holding clothing-fit/{entry.name}"
            ) from None
    else:
        _verify(path, entry, expected)
    return path


def _verify(path: Path, entry: FitFile, sha256: str | None) -> None:
    digest = sha256_of(path)
    if sha256 is not None and digest != sha256.lower():
        raise ValueError(f"{entry.name}: SHA-256 {digest} does not match the expected {sha256}")
    try:
        records = count_records(path)
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise ValueError(f"{entry.name}: not a readable gzipped JSON Lines file ({error})") from None
    if records != entry.records:
        raise ValueError(f"{entry.name}: {records} records, expected {entry.records}")
    if sha256 is None:
        warnings.warn(
            f"{entry.name}: {records} records as published, but SHA-256 {digest} is unverified "
            "(none pinned; pass sha256= to pin it)",
            stacklevel=3,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--to", type=Path, required=True, help="destination folder")
    parser.add_argument("--only", choices=sorted(FILES), help="fetch just this file")
    parser.add_argument("--sha256", help="expected digest (with --only)")
    args = parser.parse_args()
    if args.sha256 and not args.only:
        parser.error("--sha256 needs --only: each file has its own digest")
    for dataset in [args.only] if args.only else FILES:
        print(download(dataset, args.to, sha256=args.sha256 if args.only else None))


if __name__ == "__main__":
    main()
