"""The report of one simulated A/B test, from ``analysis.experiment_report``'s numbers: a Markdown
file with PNG plots beside it, one self-contained HTML file (the same plots embedded as base64 PNG)
and the JSON of all numbers.

The verdict sentence of each arm against the control names the winner (or says "no significant
difference"), the CTR difference with its interval and p-value (fixed horizon, user-level delta
method) and the round at which the always-valid sequential test stopped (or that it did not).

Plots are drawn with matplotlib's Agg canvas on ``matplotlib.figure.Figure`` objects (no pyplot, so
no process-wide backend or figure state); matplotlib is imported inside ``figures``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

from recsys.storage import atomic_dir

SERIES_PLOTS = {  # optional per-round series of an arm -> (title, y label)
    "diversity": ("Intra-list diversity (mean pairwise cosine distance)", "diversity"),
    "mean_rating": ("Mean star rating of clicked items", "stars"),
}
CREATOR_PLOTS = {  # per-round creator metric -> (title, y label)
    "active_creators": ("Active creators", "creators"),
    "genre_entropy": ("Genre entropy of new items", "nats"),
    "new_item_share": ("Share of impressions on new items", "share"),
    "cold_success": ("New items with at least one click", "share of new items"),
}


def _signed(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:+.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:+.1%}"


def _p(value: float) -> str:
    """``p = 0.0123``; a p-value that underflowed to 0 as ``p < 1e-300``."""
    return "p < 1e-300" if value == 0 else f"p = {value:.3g}"


def _number(value: float) -> str:
    """A count as an integer, anything else to 3 significant digits."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def _first_last(values: list) -> str:
    return f"{_number(values[0])} -> {_number(values[-1])}"


def _rating_cells(comparison: dict) -> list[str]:
    return [_signed(comparison["difference"], 3), f"{comparison['p_value']:.3g}"]


def verdict(name: str, control: str, comparison: dict, alpha: float, rounds: int) -> str:
    """One sentence: who wins on CTR against the control, by how much, how sure, when the
    always-valid test stopped."""
    level = f"{1 - alpha:.0%}"
    numbers = (
        f"CTR difference {name} - {control} {_signed(comparison['difference'])} "
        f"({_percent(comparison['relative'])}), {level} CI [{_signed(comparison['ci_low'])}, "
        f"{_signed(comparison['ci_high'])}], {_p(comparison['p_value'])}"
    )
    if comparison["significant"]:
        winner, loser = (name, control) if comparison["difference"] > 0 else (control, name)
        head = f"{winner} beats {loser} on CTR at the {rounds}-round horizon: {numbers}"
    else:
        head = f"No significant difference between {name} and {control} on CTR after {rounds} rounds"
        head = f"{head}: {numbers}"
    stop = comparison["sequential_stop_round"]
    if stop is None:
        tail = f"the always-valid sequential test did not stop in {rounds} rounds"
    else:
        tail = (
            f"the always-valid sequential test stopped at round {stop} "
            f"(difference then {_signed(comparison['difference_at_stop'])})"
        )
        if not comparison["significant"] or (comparison["difference_at_stop"] > 0) != (
            comparison["difference"] > 0
        ):
            tail += ", so the effect was not stable over the rounds"
    return f"{head}; {tail}."


def verdicts(numbers: dict) -> list[str]:
    """The verdict of every arm against the control."""
    rounds = int(numbers["settings"]["rounds"])
    return [
        verdict(name, numbers["control"], comparison, numbers["alpha"], rounds)
        for name, comparison in numbers["comparisons"].items()
    ]


def tables(numbers: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table of the report, as text cells."""
    settings = (
        "Settings",
        ["setting", "value"],
        [
            [k, ", ".join(map(str, v)) if isinstance(v, list) else str(v)]
            for k, v in numbers["settings"].items()
        ],
    )
    optional = [key for key in ("diversity", "mean_rating") if key in next(iter(numbers["arms"].values()))]
    arms = (
        "Arms",
        [
            "arm",
            "users",
            "CTR",
            "± se",
            "clicks per user",
            "retention",
            "coverage",
            "exposure Gini",
            *(key.replace("_", " ") for key in optional),
        ],
        [
            [
                name,
                str(a["users"]),
                f"{a['ctr']:.4f}",
                f"{a['ctr_se']:.4f}",
                f"{a['clicks_per_user']:.2f}",
                f"{a['retention']:.3f}",
                f"{a['coverage']:.3f}",
                f"{a['exposure_gini']:.3f}",
                *("-" if a[key] is None else f"{a[key]:.3f}" for key in optional),
            ]
            for name, a in numbers["arms"].items()
        ],
    )
    level = f"{1 - numbers['alpha']:.0%}"
    rated = "mean_rating" in optional
    comparisons = (
        f"Against the control ({numbers['control']})",
        [
            "arm",
            "CTR difference",
            "relative",
            f"{level} CI",
            "p",
            "significant",
            "always-valid stop",
            "naive-peeking stop",
            "clicks per user diff.",
            "p (clicks per user)",
            *(["mean rating diff.", "p (mean rating)"] if rated else []),
        ],
        [
            [
                name,
                _signed(c["difference"]),
                _percent(c["relative"]),
                f"[{_signed(c['ci_low'])}, {_signed(c['ci_high'])}]",
                f"{c['p_value']:.3g}",
                "yes" if c["significant"] else "no",
                str(c["sequential_stop_round"] or "-"),
                str(c["naive_peek_round"] or "-"),
                _signed(c["clicks_per_user"]["difference"], 3),
                f"{c['clicks_per_user']['p_value']:.3g}",
                *(_rating_cells(c["mean_rating"]) if rated else []),
            ]
            for name, c in numbers["comparisons"].items()
        ],
    )
    out = [settings, arms, comparisons]
    creators = {name: t["creators"] for name, t in numbers["trajectories"].items() if "creators" in t}
    if creators:
        keys = list(dict.fromkeys(key for c in creators.values() for key in c))
        out.append(
            (
                "Creators (first round -> last round)",
                ["arm", *(key.replace("_", " ") for key in keys)],
                [
                    [name, *(_first_last(c[key]) if c.get(key) else "-" for key in keys)]
                    for name, c in creators.items()
                ],
            )
        )
    return out


def figures(numbers: dict) -> dict[str, bytes]:
    """File name -> PNG bytes of each plot: CTR per round with intervals, active users, cumulative
    clicks per user, Lorenz curves of exposure, the sequential p-values and (when the trajectories
    have them) creator population, new-item diversity and success, and any other per-round series."""
    from matplotlib.figure import Figure

    series = numbers["trajectories"]
    alpha = numbers["alpha"]

    def png(figure) -> bytes:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        return buffer.getvalue()

    def per_round(title: str, ylabel: str, values: dict[str, list], bands: dict | None = None) -> bytes:
        figure = Figure(figsize=(6.4, 3.6))
        ax = figure.add_subplot()
        for name, ys in values.items():
            rounds = list(range(1, len(ys) + 1))
            ax.plot(rounds, [math.nan if y is None else y for y in ys], label=name, marker=".")
            if bands is not None:
                low, high = bands[name]
                ax.fill_between(
                    rounds,
                    [math.nan if y is None else y for y in low],
                    [math.nan if y is None else y for y in high],
                    alpha=0.2,
                )
        ax.set(title=title, xlabel="round", ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
        return png(figure)

    out = {
        "ctr_per_round.png": per_round(
            f"CTR per round ({1 - alpha:.0%} user-level interval)",
            "CTR",
            {name: t["round_ctr"]["ctr"] for name, t in series.items()},
            {name: (t["round_ctr"]["low"], t["round_ctr"]["high"]) for name, t in series.items()},
        ),
        "active_users.png": per_round(
            "Users still active",
            "share of the arm's users",
            {
                name: [n / max(numbers["arms"][name]["users"], 1) for n in t["active_users"]]
                for name, t in series.items()
            },
        ),
        "cumulative_clicks.png": per_round(
            "Cumulative clicks per assigned user",
            "clicks per user",
            {name: t["cumulative_clicks_per_user"] for name, t in series.items()},
        ),
    }
    figure = Figure(figsize=(4.8, 4.4))
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="equal exposure")
    for name, t in series.items():
        gini = numbers["arms"][name]["exposure_gini"]
        ax.plot(t["lorenz"]["item_share"], t["lorenz"]["exposure_share"], label=f"{name} (Gini {gini:.2f})")
    ax.set(title="Exposure concentration (Lorenz curve)", xlabel="share of items, least shown first")
    ax.set(ylabel="share of impressions")
    ax.grid(alpha=0.3)
    ax.legend()
    out["lorenz.png"] = png(figure)

    figure = Figure(figsize=(6.4, 3.6))
    ax = figure.add_subplot()
    for name, c in numbers["comparisons"].items():
        rounds = list(range(1, len(c["trace"]["always_valid_p"]) + 1))
        ax.plot(rounds, c["trace"]["always_valid_p"], label=f"{name}: always-valid p")
        ax.plot(rounds, c["trace"]["naive_p"], linestyle=":", label=f"{name}: naive daily p")
    ax.axhline(alpha, color="red", linewidth=0.8, label=f"α = {alpha}")
    ax.set(title=f"Sequential test against {numbers['control']}", xlabel="round", ylabel="p-value")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    out["sequential.png"] = png(figure)

    creators = {name: t["creators"] for name, t in series.items() if "creators" in t}
    for key, (title, ylabel) in CREATOR_PLOTS.items():
        values = {name: c[key] for name, c in creators.items() if key in c}
        if values:
            out[f"creators_{key}.png"] = per_round(title, ylabel, values)
    known = {"round_ctr", "active_users", "cumulative_clicks_per_user", "lorenz", "creators"}
    extra = sorted({key for t in series.values() for key in t} - known)
    for key in extra:  # per-round series the environment recorded (diversity, mean rating)
        title, ylabel = SERIES_PLOTS.get(key, (key.replace("_", " ").capitalize(), key))
        out[f"{key}.png"] = per_round(title, ylabel, {n: t[key] for n, t in series.items() if key in t})
    return out


def finite(value: object) -> object:
    """``value`` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def markdown(numbers: dict, images: list[str]) -> str:
    """The Markdown report; ``images`` are PNG file names beside it."""
    lines = [f"# A/B test: {', '.join(numbers['arms'])}", ""]
    lines += [f"- {sentence}" for sentence in verdicts(numbers)]
    if len(numbers["comparisons"]) > 1:
        lines.append("- Each arm is tested against the control alone (no multiple-comparison correction).")
    for title, header, rows in tables(numbers):
        lines += ["", f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    lines += ["", "## Plots", ""]
    lines += [f"![{Path(name).stem}]({name})" for name in images]
    return "\n".join(lines) + "\n"


def html_page(numbers: dict, images: dict[str, bytes]) -> str:
    """One self-contained HTML page: the verdicts, the tables and the plots as base64 PNG."""
    e = html.escape
    title = f"A/B test: {', '.join(numbers['arms'])}"
    body = [f"<h1>{e(title)}</h1>", "<ul>"]
    body += [f"<li>{e(sentence)}</li>" for sentence in verdicts(numbers)]
    body.append("</ul>")
    for caption, header, rows in tables(numbers):
        cells = "".join(f"<th>{e(h)}</th>" for h in header)
        body.append(f"<h2>{e(caption)}</h2><table><tr>{cells}</tr>")
        body += ["<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in rows]
        body.append("</table>")
    body.append("<h2>Plots</h2>")
    for name, data in images.items():
        encoded = base64.b64encode(data).decode("ascii")
        source = f"data:image/png;base64,{encoded}"
        body.append(f'<figure><img alt="{e(Path(name).stem)}" src="{source}"></figure>')
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:0.2em 0.6em}"
        "td{text-align:right}td:first-child{text-align:left}img{max-width:100%}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(numbers: dict, folder: str | Path) -> dict[str, Path]:
    """Write report.md with its PNG plots, report.html and report.json as the folder ``folder``,
    atomically (``recsys.storage.atomic_dir``): a reader sees the previous report or the new one,
    never a mix, and no plot of an earlier report stays behind. A folder that holds files but no
    report.json is refused rather than replaced. Returns file name -> path."""
    folder = Path(folder)
    if folder.is_dir() and any(folder.iterdir()) and not (folder / "report.json").is_file():
        raise ValueError(
            f"{folder}: holds files but no report.json; the report replaces its folder, so give a new "
            "or empty folder (or one with an earlier report)"
        )
    numbers = finite(numbers)
    images = figures(numbers)
    texts = {
        "report.md": markdown(numbers, list(images)),
        "report.html": html_page(numbers, images),
        "report.json": json.dumps(numbers, indent=1, allow_nan=False),
    }
    with atomic_dir(folder) as tmp:
        for name, data in images.items():
            (tmp / name).write_bytes(data)
        for name, text in texts.items():
            (tmp / name).write_text(text)
    return {name: folder / name for name in [*images, *texts]}
