"""Preference data for LM alignment, built from an interaction log per user in time order.

Each example is anchored at one event of one user: its prompt shows the user's persona, only the
events *strictly before* the anchor's timestamp (so nothing from the future, nor from the same
instant, leaks into a prompt) and an exposure: the items the example is about plus fillers the user
never chose, drawn with probability ∝ 1 + popularity, shuffled, ``list_size`` in all. Every layout
has prompts of this one format, so a model trained on one layout can be evaluated on another.

Four layouts, as ``datasets.Dataset`` columns (TRL's "standard" text format where TRL trains it):

- **pairwise** ``prompt, chosen, rejected`` (DPO; SFT reads ``prompt`` + ``chosen``): chosen is the
  item the user picked, rejected an item shown and not picked.
- **binary** ``prompt, completion, label`` (KTO, BCO): the next item with label True for a liked
  event (rating >= ``like``) and False for a disliked one (rating <= ``dislike``); in a log without
  ratings every event is desirable and an unseen sampled item is undesirable.
- **listwise** ``prompt, completions, relevance`` (LiPO): the user's next ``list_size`` rated items
  shown together, each with its rating as graded relevance.
- **judgments** ``prompt, completion, judgment, label`` (CUT): the item with the user's review text and
  rating as a natural-language judgment; label True when the judgment is positive.

Prompts end with ``"Answer:"`` and completions start with a space (``" Toy Story (1995)"``), TRL's
convention for the standard format. Every row also carries ``user`` (the original user id, as text)
and ``timestamp`` (the anchor's).
Users are split between train and eval (no user in both) by a seeded permutation of all the log's
users, so layouts built from one log and seed share their held-out users; ``report`` counts what
was built, skipped and why. Logs without timestamps use row order as time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from datasets import Dataset

from recsys.data import Interactions
from recsys.movie_catalog import MovieCatalog, natural_title

Kind = Literal["pairwise", "binary", "listwise", "judgments"]


@dataclass(frozen=True)
class PreferenceData:
    """Train and eval examples of one layout over disjoint users, and counts of what building them did."""

    kind: Kind
    train: Dataset
    eval: Dataset
    report: dict[str, int]

    def describe(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.report.items())
        return f"{self.kind}: {len(self.train)} train / {len(self.eval)} eval examples ({counts})"

    def save(self, path: str | Path) -> Path:
        """Write ``train/`` and ``eval/`` (Arrow, ``Dataset.save_to_disk``) and ``report.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.train.save_to_disk(str(path / "train"))
        self.eval.save_to_disk(str(path / "eval"))
        (path / REPORT_FILE).write_text(json.dumps({"kind": self.kind, "report": self.report}, indent=1))
        return path


REPORT_FILE = "report.json"


def load_preferences(path: str | Path) -> PreferenceData:
    """Read a folder written by :meth:`PreferenceData.save`."""
    path = Path(path)
    if not (path / REPORT_FILE).exists():
        raise FileNotFoundError(
            f"{path}: no {REPORT_FILE}; build preference data with `alignrec align build`"
        )
    meta = json.loads((path / REPORT_FILE).read_text())
    return PreferenceData(
        kind=meta["kind"],
        train=_load_part(path / "train"),
        eval=_load_part(path / "eval"),
        report=meta["report"],
    )


def _load_part(folder: Path) -> Dataset:
    # datasets writes no .arrow file for a part without rows (eval_fraction 0) and cannot load that back.
    if not any(folder.glob("*.arrow")):
        return Dataset.from_dict({})
    return Dataset.load_from_disk(str(folder))


def default_item_texts(log: Interactions) -> list[str]:
    """``"item <original id>"`` per internal item id, for logs without titles."""
    ids = log.item_ids if log.item_ids is not None else np.arange(log.num_items)
    return [f"item {i}" for i in ids]


def checked_texts(
    log: Interactions, item_texts: Sequence[str] | None, personas: Sequence[str] | None
) -> Sequence[str]:
    """``item_texts`` (``default_item_texts`` when None), after checking that it has one text per item
    of ``log`` and ``personas`` (when given) one per user; raises ``ValueError`` otherwise."""
    if item_texts is None:
        item_texts = default_item_texts(log)
    if len(item_texts) != log.num_items:
        raise ValueError(f"item_texts has {len(item_texts)} entries, expected num_items={log.num_items}")
    if personas is not None and len(personas) != log.num_users:
        raise ValueError(f"personas has {len(personas)} entries, expected num_users={log.num_users}")
    return item_texts


def movielens_item_texts(log: Interactions, catalog: MovieCatalog) -> list[str]:
    """``"Title (year)"`` per internal item id of a MovieLens log (item ids are MovieIDs)."""
    index = {int(m): k for k, m in enumerate(catalog.movie_ids)}
    texts = []
    for movie in log.item_ids:
        if int(movie) not in index:
            raise ValueError(f"movie {movie} of the log is not in the catalog")
        k = index[int(movie)]
        year = int(catalog.years[k])
        texts.append(natural_title(catalog.titles[k]) + (f" ({year})" if year else ""))
    return texts


def read_ml100k_personas(path: str | Path, log: Interactions) -> list[str]:
    """``"a 24-year-old man, technician"`` per internal user id, from ML-100K's ``u.user``."""
    people = {}
    for line_no, line in enumerate(Path(path).read_text(encoding="latin-1").splitlines(), start=1):
        fields = line.split("|")
        if len(fields) != 5 or not fields[1].isdigit() or fields[2] not in ("M", "F"):
            raise ValueError(f"{path}, line {line_no}: expected user|age|M/F|occupation|zip, got {line!r}")
        gender = "man" if fields[2] == "M" else "woman"
        people[fields[0]] = f"a {fields[1]}-year-old {gender}, {fields[3]}"
    missing = [u for u in log.user_ids if str(u) not in people]
    if missing:
        raise ValueError(f"{path}: no line for user(s) {missing[:5]}")
    return [people[str(u)] for u in log.user_ids]


# ML-1M's users.dat codes (its README): age-range code -> range, occupation code -> occupation.
ML1M_AGES = {
    "1": "under 18",
    "18": "18-24",
    "25": "25-34",
    "35": "35-44",
    "45": "45-49",
    "50": "50-55",
    "56": "56+",
}
ML1M_OCCUPATIONS = (
    "other occupation", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist", "self-employed",
    "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip


def read_ml1m_personas(path: str | Path, log: Interactions) -> list[str]:
    """``"a man aged 25-34, programmer"`` per internal user id, from ML-1M's ``users.dat``
    (``UserID::Gender::Age::Occupation::Zip-code``)."""
    people = {}
    for line_no, line in enumerate(Path(path).read_text(encoding="latin-1").splitlines(), start=1):
        fields = line.split("::")
        if not line.strip():
            continue
        if (
            len(fields) != 5
            or fields[1] not in ("M", "F")
            or fields[2] not in ML1M_AGES
            or not fields[3].isdigit()
            or int(fields[3]) >= len(ML1M_OCCUPATIONS)
        ):
            raise ValueError(
                f"{path}, line {line_no}: expected UserID::M/F::age code::occupation code::zip, got {line!r}"
            )
        gender = "man" if fields[1] == "M" else "woman"
        people[fields[0]] = f"a {gender} aged {ML1M_AGES[fields[2]]}, {ML1M_OCCUPATIONS[int(fields[3])]}"
    missing = [u for u in log.user_ids if str(u) not in people]
    if missing:
        raise ValueError(f"{path}: no line for user(s) {missing[:5]}")
    return [people[str(u)] for u in log.user_ids]


def read_amazon_review_texts(path: str | Path) -> list[str | None]:
    """``reviewText`` of each record of an Amazon review JSON Lines file (optionally .gz), in file order,
    aligned with the rows ``recsys.readers.read_amazon_reviews`` returns; None where a record has none."""
    import gzip

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    texts: list[str | None] = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                texts.append(json.loads(line).get("reviewText"))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {line_no}: not valid JSON ({err.msg})") from None
    return texts


# --- prompts -------------------------------------------------------------------------------------


def history_lines(texts: Sequence[str], ratings: Sequence[float] | None) -> str:
    if not texts:
        return "nothing yet"
    if ratings is None:
        return "; ".join(texts)
    return "; ".join(f"{t} (rated {r:g}/5)" for t, r in zip(texts, ratings, strict=True))


def choice_prompt(persona: str | None, history: str, shown: Sequence[str]) -> str:
    """The prompt text: who the user is, what they chose before, and what is shown now."""
    lines = []
    if persona:
        lines.append(f"You are a user: {persona}.")
    lines.append(f"Recently you chose: {history}.")
    lines.append("You are shown: " + "; ".join(shown) + ".")
    lines.append("Which one do you choose?")
    return "\n".join(lines) + "\nAnswer:"


# --- per-user timelines --------------------------------------------------------------------------


@dataclass
class _Timeline:
    """One user's events in time order (rows of the log, their items, ratings and times)."""

    user: int
    items: np.ndarray
    ratings: np.ndarray | None
    times: np.ndarray

    def before(self, t: int, limit: int) -> slice:
        """The last ``limit`` events strictly earlier than time t."""
        end = int(np.searchsorted(self.times, t, side="left"))
        return slice(max(0, end - limit), end)


def _timelines(log: Interactions) -> list[_Timeline]:
    times = log.timestamps if log.timestamps is not None else np.arange(len(log), dtype=np.int64)
    order = np.lexsort((np.arange(len(log)), times, log.users))  # by user, then time, then row
    users = log.users[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(order)]
    return [
        _Timeline(
            user=int(users[s]),
            items=log.items[order[s:e]],
            ratings=None if log.ratings is None else log.ratings[order[s:e]],
            times=times[order[s:e]],
        )
        for s, e in zip(starts, ends, strict=True)
    ]


def _sample_unseen(rng: np.random.Generator, weights: np.ndarray, seen: set[int], count: int) -> list[int]:
    """``count`` distinct items outside ``seen``, drawn with probability ∝ weights (popularity)."""
    if len(weights) - len(seen) < count:
        raise ValueError(f"only {len(weights) - len(seen)} unseen items are left; need {count}")
    picked: list[int] = []
    while len(picked) < count:
        for item in rng.choice(len(weights), size=4 * count, p=weights):
            item = int(item)
            if item not in seen and item not in picked:
                picked.append(item)
                if len(picked) == count:
                    break
    return picked


def _user_rng(seed: int, user: int) -> np.random.Generator:
    """One generator per user, so a user's examples do not depend on the other users."""
    return np.random.default_rng([seed, user])


def _anchors(rng: np.random.Generator, eligible: np.ndarray, max_per_user: int | None) -> np.ndarray:
    if max_per_user is not None and len(eligible) > max_per_user:
        eligible = np.sort(rng.choice(eligible, size=max_per_user, replace=False))
    return eligible


# --- builders ------------------------------------------------------------------------------------


def build_preferences(
    log: Interactions,
    kind: Kind,
    item_texts: Sequence[str] | None = None,
    personas: Sequence[str] | None = None,
    reviews: Sequence[str | None] | None = None,
    history: int = 10,
    min_history: int = 1,
    list_size: int = 4,
    rejected_from: Literal["unseen", "disliked"] = "unseen",
    like: float = 4.0,
    dislike: float = 2.0,
    max_per_user: int | None = None,
    eval_fraction: float = 0.1,
    seed: int = 2026,
) -> PreferenceData:
    """Build one layout of preference examples from a log and split it by user.

    Args:
        log: the interaction log (ratings needed for ``listwise``, ``judgments`` and
            ``rejected_from="disliked"``).
        kind: ``pairwise``, ``binary``, ``listwise`` or ``judgments``.
        item_texts: (num_items,) text per internal item id (default ``"item <id>"``).
        personas: (num_users,) a description per internal user id, or None.
        reviews: (len(log),) review text per log row (None/empty for none); needed for ``judgments``.
        history: at most this many earlier events shown in a prompt.
        min_history: anchors need at least this many earlier events.
        list_size: items shown in a pairwise exposure list; items per listwise list.
        rejected_from: pairwise rejected item: an ``unseen`` item drawn by popularity, or an item the
            user rated <= ``dislike`` at or after the anchor time (never in the prompt's history).
        like: ratings >= like are desirable / chosen.
        dislike: ratings <= dislike are undesirable.
        max_per_user: at most this many anchors per user (a seeded sample), or all.
        eval_fraction: share of users whose examples go to ``eval``.
        seed: seeds the user split, anchor sampling, fillers and shuffles.
    """
    item_texts = checked_texts(log, item_texts, personas)
    needs_ratings = kind in ("listwise", "judgments") or (kind == "pairwise" and rejected_from == "disliked")
    if needs_ratings and log.ratings is None:
        raise ValueError(f"{kind} examples (rejected_from={rejected_from!r}) need a log with ratings")
    if kind == "judgments" and (reviews is None or len(reviews) != len(log)):
        raise ValueError("judgments need reviews: one text (or None) per log row")
    if not 0 <= eval_fraction < 1:
        raise ValueError(f"eval_fraction must lie in [0, 1), got {eval_fraction}")
    if list_size < 2:
        raise ValueError(f"list_size must be at least 2, got {list_size}")
    builders = {"pairwise": _pairwise, "binary": _binary, "listwise": _listwise, "judgments": _judgments}
    if kind not in builders:
        raise ValueError(f"unknown kind {kind!r}; use one of {sorted(builders)}")

    # A filler is shown with probability ∝ 1 + popularity: popular items are exposed more, and
    # an item nobody chose can still be shown.
    popularity = log.item_popularity().astype(np.float64) + 1
    weights = popularity / popularity.sum()  # (I,)
    review_of_row = None
    if kind == "judgments":
        review_of_row = _reviews_by_user_time(log, reviews)
    user_ids = log.user_ids if log.user_ids is not None else np.arange(log.num_users)
    context = _Context(
        item_texts,
        personas,
        weights,
        history,
        min_history,
        list_size,
        rejected_from,
        like,
        dislike,
        max_per_user,
        seed,
    )
    rows: list[dict] = []
    report: dict[str, int] = {"users": 0, "anchors": 0}
    for line in _timelines(log):
        user_rows = builders[kind](context, line, report, review_of_row)
        for row in user_rows:
            row["user"] = str(user_ids[line.user])
        report["users"] += bool(user_rows)
        rows.extend(user_rows)
    report["examples"] = len(rows)
    eval_users = held_out_users([str(u) for u in user_ids], eval_fraction, seed)
    return split_by_user(kind, rows, eval_users, report)


@dataclass(frozen=True)
class _Context:
    item_texts: Sequence[str]
    personas: Sequence[str] | None
    weights: np.ndarray
    history: int
    min_history: int
    list_size: int
    rejected_from: str
    like: float
    dislike: float
    max_per_user: int | None
    seed: int

    def prompt(self, line: _Timeline, t: int, shown: Sequence[int]) -> str:
        """The prompt at time t: persona, the history strictly before t, the shown items."""
        past = line.before(t, self.history)
        items = line.items[past]
        ratings = None if line.ratings is None else line.ratings[past].tolist()
        text = history_lines([self.item_texts[i] for i in items], ratings)
        persona = None if self.personas is None else self.personas[line.user]
        return choice_prompt(persona, text, [self.item_texts[i] for i in shown])

    def answer(self, item: int) -> str:
        """A completion: the item's text after one space (the prompt ends with "Answer:"), so that
        prompt + completion tokenizes the way the text reads."""
        return " " + self.item_texts[item]

    def exposure(self, rng: np.random.Generator, seen: set[int], items: list[int]) -> list[int]:
        """``items`` plus fillers the user never chose (by popularity), ``list_size`` in all, shuffled."""
        fillers = _sample_unseen(rng, self.weights, seen | set(items), self.list_size - len(items))
        shown = [*items, *fillers]
        rng.shuffle(shown)
        return shown

    def eligible(self, line: _Timeline, report: dict[str, int]) -> np.ndarray:
        """Indices of events with at least ``min_history`` strictly earlier events."""
        earlier = np.searchsorted(line.times, line.times, side="left")  # (n,) events before each
        keep = earlier >= self.min_history
        report["short_history"] = report.get("short_history", 0) + int((~keep).sum())
        return np.flatnonzero(keep)


def _pairwise(ctx: _Context, line: _Timeline, report: dict[str, int], _reviews) -> list[dict]:
    rng = _user_rng(ctx.seed, line.user)
    seen_ever = {int(i) for i in line.items}
    candidates = ctx.eligible(line, report)
    if line.ratings is not None:
        liked = line.ratings[candidates] >= ctx.like
        report["not_liked"] = report.get("not_liked", 0) + int((~liked).sum())
        candidates = candidates[liked]
    rows = []
    for k in _anchors(rng, candidates, ctx.max_per_user):
        t = int(line.times[k])
        chosen = int(line.items[k])
        if ctx.rejected_from == "disliked":
            later = np.flatnonzero((line.times >= t) & (line.ratings <= ctx.dislike))
            if not len(later):
                report["no_disliked"] = report.get("no_disliked", 0) + 1
                continue
            rejected = int(line.items[rng.choice(later)])
        else:
            rejected = _sample_unseen(rng, ctx.weights, seen_ever, 1)[0]
        prompt = ctx.prompt(line, t, ctx.exposure(rng, seen_ever, [chosen, rejected]))
        rows.append(
            {
                "prompt": prompt,
                "chosen": ctx.answer(chosen),
                "rejected": ctx.answer(rejected),
                "timestamp": t,
            }
        )
        report["anchors"] += 1
    return rows


def _binary(ctx: _Context, line: _Timeline, report: dict[str, int], _reviews) -> list[dict]:
    rng = _user_rng(ctx.seed, line.user)
    candidates = ctx.eligible(line, report)
    if line.ratings is not None:
        rated = line.ratings[candidates]
        clear = (rated >= ctx.like) | (rated <= ctx.dislike)
        report["neutral"] = report.get("neutral", 0) + int((~clear).sum())
        candidates = candidates[clear]
    seen_ever = {int(i) for i in line.items}
    rows = []
    for k in _anchors(rng, candidates, ctx.max_per_user):
        t = int(line.times[k])
        item = int(line.items[k])
        if line.ratings is None:
            negative = _sample_unseen(rng, ctx.weights, seen_ever, 1)[0]
            prompt = ctx.prompt(line, t, ctx.exposure(rng, seen_ever, [item, negative]))
            rows.append({"prompt": prompt, "completion": ctx.answer(item), "label": True, "timestamp": t})
            rows.append(
                {"prompt": prompt, "completion": ctx.answer(negative), "label": False, "timestamp": t}
            )
        else:
            label = bool(line.ratings[k] >= ctx.like)
            prompt = ctx.prompt(line, t, ctx.exposure(rng, seen_ever, [item]))
            rows.append({"prompt": prompt, "completion": ctx.answer(item), "label": label, "timestamp": t})
        report["anchors"] += 1
    return rows


def _listwise(ctx: _Context, line: _Timeline, report: dict[str, int], _reviews) -> list[dict]:
    rng = _user_rng(ctx.seed, line.user)
    candidates = ctx.eligible(line, report)
    # An anchor needs list_size events from its time on.
    candidates = candidates[candidates + ctx.list_size <= len(line.items)]
    rows = []
    for k in _anchors(rng, candidates, ctx.max_per_user):
        t = int(line.times[k])
        listed = np.arange(k, k + ctx.list_size)
        relevance = line.ratings[listed]
        if np.all(relevance == relevance[0]):
            report["tied_lists"] = report.get("tied_lists", 0) + 1
            continue
        listed = listed[rng.permutation(ctx.list_size)]
        items = [int(i) for i in line.items[listed]]
        prompt = ctx.prompt(line, t, items)
        rows.append(
            {
                "prompt": prompt,
                "completions": [ctx.answer(i) for i in items],
                "relevance": [float(r) for r in line.ratings[listed]],
                "timestamp": t,
            }
        )
        report["anchors"] += 1
    return rows


def _judgments(ctx: _Context, line: _Timeline, report: dict[str, int], reviews) -> list[dict]:
    rng = _user_rng(ctx.seed, line.user)
    texts = reviews[line.user]  # review per event of this user, in timeline order
    candidates = ctx.eligible(line, report)
    has_text = np.array([bool(texts[k] and texts[k].strip()) for k in candidates], dtype=bool)
    report["no_review"] = report.get("no_review", 0) + int((~has_text).sum())
    candidates = candidates[has_text]
    rated = line.ratings[candidates]
    clear = (rated >= ctx.like) | (rated <= ctx.dislike)
    report["neutral"] = report.get("neutral", 0) + int((~clear).sum())
    seen_ever = {int(i) for i in line.items}
    rows = []
    for k in _anchors(rng, candidates[clear], ctx.max_per_user):
        t = int(line.times[k])
        prompt = ctx.prompt(line, t, ctx.exposure(rng, seen_ever, [int(line.items[k])]))
        rating = float(line.ratings[k])
        rows.append(
            {
                "prompt": prompt,
                "completion": ctx.answer(int(line.items[k])),
                "judgment": f"rated {rating:g}/5: {texts[k].strip()}",
                "label": rating >= ctx.like,
                "timestamp": t,
            }
        )
        report["anchors"] += 1
    return rows


def _reviews_by_user_time(log: Interactions, reviews: Sequence[str | None]) -> dict[int, list[str | None]]:
    """Reviews regrouped in the order of :func:`_timelines` (user, then time, then row)."""
    times = log.timestamps if log.timestamps is not None else np.arange(len(log), dtype=np.int64)
    order = np.lexsort((np.arange(len(log)), times, log.users))
    grouped: dict[int, list[str | None]] = {}
    for row in order:
        grouped.setdefault(int(log.users[row]), []).append(reviews[row])
    return grouped


def held_out_users(all_users: Sequence[str], eval_fraction: float, seed: int) -> set[str]:
    """A seeded share of *all* the log's users, held out for evaluation: every layout built from one log
    with one seed holds out the same users (a model trained on binary data never saw a pairwise eval
    user)."""
    rng = np.random.default_rng(seed)
    n_eval = int(round(eval_fraction * len(all_users)))
    return {all_users[i] for i in rng.permutation(len(all_users))[:n_eval]}


def split_by_user(
    kind: Kind, rows: list[dict], eval_users: set[str], report: dict[str, int]
) -> PreferenceData:
    """Rows of ``eval_users`` (by their ``user`` column) to ``eval``, the rest to ``train``; ``report``
    gains the users and examples of each part."""
    train = [row for row in rows if row["user"] not in eval_users]
    held = [row for row in rows if row["user"] in eval_users]
    report = {
        **report,
        "train_users": len({row["user"] for row in train}),
        "eval_users": len({row["user"] for row in held}),
        "train_examples": len(train),
        "eval_examples": len(held),
    }
    return PreferenceData(kind=kind, train=_dataset(train), eval=_dataset(held), report=report)


def _dataset(rows: list[dict]) -> Dataset:
    return Dataset.from_list(rows) if rows else Dataset.from_dict({})


def sft_view(pairwise: Dataset) -> Dataset:
    """Pairwise examples as SFT ``prompt, completion`` rows (the chosen item is the target)."""
    return pairwise.select_columns(["prompt", "chosen"]).rename_column("chosen", "completion")
