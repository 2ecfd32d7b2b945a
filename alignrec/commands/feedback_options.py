"""Options shared by the commands that read served slates from a feedback store or its export
(`alignrec simulator evaluate`, `alignrec align build`)."""

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
