"""Write benchmark records as JSON plus a Markdown table beside it."""

from __future__ import annotations

import json
from pathlib import Path

from recsys.storage import write_text_atomic

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def markdown_table(records: list[dict]) -> str:
    """A Markdown table with one row per record and the union of keys as columns."""
    columns: list[str] = []
    for record in records:
        columns += [key for key in record if key not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in records:
        cells = []
        for key in columns:
            value = record.get(key, "")
            cells.append(f"{value:.4f}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(area: str, records: list[dict], title: str | None = None, notes: str = "") -> Path:
    """Write ``results/<area>.json`` and ``results/<area>.md``; returns the JSON path.

    Every record must carry ``model``, ``dataset`` and ``protocol``; metric keys are lowercase.
    """
    for record in records:
        missing = {"model", "dataset", "protocol"} - set(record)
        if missing:
            raise ValueError(f"benchmark record {record} lacks {sorted(missing)}")
        upper = [key for key in record if key != key.lower()]
        if upper:
            raise ValueError(f"benchmark record keys must be lowercase: {upper}")
    json_path = RESULTS_DIR / f"{area}.json"
    write_text_atomic(json_path, json.dumps(records, indent=2) + "\n")
    header = f"# {title or area}\n\n" + (notes.strip() + "\n\n" if notes else "")
    write_text_atomic(RESULTS_DIR / f"{area}.md", header + markdown_table(records))
    return json_path


def _key(record: dict) -> tuple:
    return record["model"], record["dataset"], record["protocol"], record.get("threads")


def merge_results(area: str, parts: list[str], title: str | None = None, notes: str = "") -> Path:
    """Fold ``results/<part>.json`` files (from runs made in parallel) into ``results/<area>.json``,
    a later record replacing an earlier one with the same (model, dataset, protocol, threads);
    the part files are removed."""
    records: list[dict] = []
    paths = [RESULTS_DIR / f"{name}.json" for name in [area, *parts]]
    for path in paths:
        if path.exists():
            for record in json.loads(path.read_text()):
                records = [r for r in records if _key(r) != _key(record)]
                records.append(record)
    out = write_results(area, records, title, notes)
    for name in parts:
        for suffix in (".json", ".md"):
            (RESULTS_DIR / f"{name}{suffix}").unlink(missing_ok=True)
    return out


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 4 or sys.argv[1] != "merge":
        raise SystemExit("usage: python -m benchmarks.results_io merge AREA PART [PART ...]")
    print(merge_results(sys.argv[2], sys.argv[3:]))
