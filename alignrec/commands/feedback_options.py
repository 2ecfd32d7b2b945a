"""Options shared by the commands that read served slates from a feedback store or its export
(`alignrec simulator evaluate`, `alignrec align build`), and the one reader behind them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

FeedbackCsvOption = Annotated[
    Path | None,
    typer.Option(help="As --feedback-db, from a file written by `alignrec feedback export --slates`."),
]
FeedbackSinceOption = Annotated[
    str | None,
    typer.Option(
        help="With --feedback-*: only events at or after this time (Unix seconds, or a date such as "
        "2026-11-30 or 2026-11-30T12:00, UTC unless it says)."
    ),
]


def read_served_events(feedback_db: str | None, feedback_csv: Path | None, since: str | None = None):
    """Impressions and clicks from ``--feedback-db`` or ``--feedback-csv`` (one of them), only those at
    or after ``--feedback-since`` when given."""
    from simulators.users.feedback_exposures import parse_since, read_export_csv, read_store_events

    if feedback_db is not None and feedback_csv is not None:
        raise ValueError("--feedback-db and --feedback-csv: give one source of served slates")
    start = None if since is None else parse_since(since)
    if feedback_db is not None:
        return read_store_events(feedback_db, since=start)
    return read_export_csv(feedback_csv, since=start)
