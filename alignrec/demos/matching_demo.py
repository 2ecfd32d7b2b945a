"""Demo step "matching": match two generated shops whose catalogs hold close non-matches.

Trains the matcher on blocking candidates of one generated pair of shops (labelled by the planted
truth), then matches a second, unseen pair of shops end to end (blocking, scoring, 1:1) and
compares it with a title-similarity threshold, which the sibling variants fool.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from product.matching.matcher import Matcher, MatcherConfig, best_f1_threshold, precision_recall_f1
from product.matching.synthetic import label_pairs, make_catalogs


def _scores(result, truth) -> dict[str, float]:
    """P/R/F1 of predicted matches against every true match (blocking misses count as misses)."""
    true_pairs = set(zip(truth["left_id"], truth["right_id"], strict=True))
    predicted = set(zip(result["left_id"], result["right_id"], strict=True))
    tp = len(true_pairs & predicted)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(true_pairs)
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def run(out: Path, console: Console) -> None:
    out.mkdir(parents=True, exist_ok=True)
    train, test = make_catalogs(80, seed=1, id_prefix="a"), make_catalogs(60, seed=2, id_prefix="b")
    console.print(
        f"train shops: {len(train.left)} / {len(train.right)} listings, {len(train.matches)} matches; "
        f"test shops: {len(test.left)} / {len(test.right)} listings, {len(test.matches)} matches"
    )

    matcher = Matcher(MatcherConfig(num_boost_round=200, k=5))
    enc = matcher.encode(train.left, train.right)
    candidates = label_pairs(matcher.candidates(enc), train.matches)
    x = matcher.features(enc, candidates)
    matcher.fit_features(x, candidates["label"].to_numpy())
    path = matcher.save(out / "matcher.json")
    console.print(
        f"trained on {len(candidates)} blocking candidates ({int(candidates['label'].sum())} matches); "
        f"threshold {matcher.threshold:.3f} (5-fold out-of-fold); saved {path}"
    )

    loaded = Matcher.load(path)
    test_enc = loaded.encode(test.left, test.right)
    test_candidates = label_pairs(loaded.candidates(test_enc), test.matches)
    blocking_recall = test_candidates["label"].sum() / len(test.matches)
    table = Table("method (unseen shops)", "precision", "recall", "F1", title="Product matching")

    # Baseline: one title similarity with its F1-best threshold from the training candidates.
    cosine = x["title_char_cos"].to_numpy()
    threshold = best_f1_threshold(candidates["label"].to_numpy(), cosine)
    test_cosine = loaded.features(test_enc, test_candidates)["title_char_cos"].to_numpy()
    baseline = test_candidates[test_cosine >= threshold]
    row = _scores(baseline, test.matches)
    table.add_row("title char TF-IDF cosine >= threshold", *(f"{row[m]:.3f}" for m in row))

    for one_to_one in (False, True):
        result = loaded.predict_pairs(test.left, test.right, one_to_one=one_to_one, enc=test_enc)
        row = _scores(result[result["match"]], test.matches)
        name = "LightGBM matcher" + (" + 1:1 assignment" if one_to_one else "")
        table.add_row(name, *(f"{row[m]:.3f}" for m in row))
    console.print(table)
    console.print(
        f"blocking: {len(test_candidates)} candidates for {len(test.left)} left listings, "
        f"recall {blocking_recall:.3f}"
    )

    explained = loaded.predict_pairs(test.left, test.right, test_candidates, explain=3, enc=test_enc)
    explained["label"] = label_pairs(explained, test.matches)["label"]
    titles_left = dict(zip(test.left["id"], test.left["title"], strict=True))
    titles_right = dict(zip(test.right["id"], test.right["title"], strict=True))
    examples = Table("left title", "right title", "truth", "score", title="Decisions explained")
    examples.add_column("why (feature=value, log-odds contribution)", overflow="fold", ratio=2)
    # The surest match, and the highest-scoring non-match that the matcher rejected.
    picks = [explained[explained["label"] == 1].iloc[0]]
    rejected = explained[(explained["label"] == 0) & ~explained["match"]]
    if len(rejected):
        picks.append(rejected.iloc[0])
    for pick in picks:
        examples.add_row(
            titles_left[pick["left_id"]],
            titles_right[pick["right_id"]],
            "match" if pick["label"] else "non-match",
            f"{pick['score']:.3f}",
            pick["why"],
        )
    console.print(examples)
    scores = precision_recall_f1(explained["label"].to_numpy(), explained["match"].to_numpy())
    console.print(f"on all test candidates: F1 {scores['f1']:.3f}")
