"""``alignrec feedback export``: the service's stored feedback as a log ``alignrec train --data`` reads.

SQLAlchemy and the store are imported inside the command, so that ``alignrec --help`` stays light.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.callback()
def feedback() -> None:
    """The feedback store of `alignrec serve`: export events for retraining."""


EVENT_TYPES = ("impression", "click", "add_to_cart", "purchase", "rating", "return")  # = serving.feedback
POSITIVE_EVENTS = ("click", "add_to_cart", "purchase", "rating")  # = serving.feedback.POSITIVE_EVENTS
SLATE_EVENTS = ("impression", "click")  # what served slates are built from


def parse_since(value: str) -> float:
    """Unix seconds from a number or an ISO date/time (UTC unless it carries an offset)."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"--since: {value!r} is neither Unix seconds nor an ISO date such as 2026-05-01 or 2026-05-01T12:00"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="CSV log to write (user_id, item_id, rating, timestamp, event).")],
    since: Annotated[
        str | None,
        typer.Option(help="Only events received at or after this (ISO date/time, UTC, or Unix seconds)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="Feedback store URL (default: ALIGNREC_FEEDBACK_URL, else ALIGNREC_HOME/feedback.db)."
        ),
    ] = None,
    events: Annotated[
        str | None,
        typer.Option(
            help=f"Event types to export, comma-separated (any of: {', '.join(EVENT_TYPES)}); default "
            f"{','.join(POSITIVE_EVENTS)}, or {','.join(SLATE_EVENTS)} with --slates."
        ),
    ] = None,
    implicit_rating: Annotated[
        float, typer.Option(help="Rating written for events without one (clicks, purchases, ...).")
    ] = 5.0,
    slates: Annotated[
        bool,
        typer.Option(
            "--slates",
            help="Add the columns position and slate_id (and export impressions and clicks unless "
            "--events says otherwise): what `alignrec simulator evaluate --feedback-csv` reads.",
        ),
    ] = False,
) -> None:
    """Write stored feedback as an interaction log; train on it with `alignrec train --data OUT`."""
    import os

    from serving.config import default_feedback_url
    from serving.feedback import FeedbackStore, export_log

    start = parse_since(since) if since else None
    url = db or os.environ.get("ALIGNREC_FEEDBACK_URL") or default_feedback_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise FileNotFoundError(
            f"{url}: no feedback database there (start `alignrec serve` first, or pass --db)"
        )
    if events is None:
        types = list(SLATE_EVENTS if slates else POSITIVE_EVENTS)
    else:
        types = [t.strip() for t in events.split(",") if t.strip()]
    store = FeedbackStore(url)
    try:
        rows = export_log(store, out, start, types, implicit_rating, slates=slates)
    finally:
        store.close()
    console.print(f"Wrote {rows} events ({', '.join(types)}) to {out}")
    if slates:
        console.print(
            f"  simulators on these slates: alignrec simulator evaluate --feedback-csv {out} --data BASE"
        )
    else:
        console.print(f"  retrain with: alignrec train --data {out}")
