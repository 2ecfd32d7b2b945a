"""Cheap simulators on the cached LM scores (issue 12): the PMI-corrected LM and LM x BPR products of experts.

No LM is run: every LM score is read from ``benchmarks.usersim``'s cache (``.alignrec/bench/usersim/``,
``ALIGNREC_USERSIM_CACHE``), for the no-list prompt ("compact no list": each option's title scored after
the persona and the last 5 history titles, no list in the prompt) of SmolLM2-135M zero-shot:

- the 300 held-out users' protocol-1 lists (n = 5; the first 150 at n = 10) and protocol-2 lists
  (matched and unmatched random list), built again with the same functions and seeds;
- 2,400 training lists (600 users who are not held out, seed 7, 4 lists each, seeds 7-10: the
  ``--train-users 600`` distillation labels), which alone fit the weights;
- each title's score under an empty history and no persona (the item prior).

The scores are checked against the rebuilt lists: without a list in the prompt a title's score depends
only on the user, the 5 history lines and the title, so every (user, history, title) shared by two
cached sets (a user's 4 training lists, the held-out lists and their rotations, n = 5 and n = 10, the
protocol-2 lists) must carry one score; a mismatch (lists rebuilt in another order or from another
draw) stops the run.

Simulators (``simulators.users.combined.CombinedUser``: softmax over the list of a weighted sum of
per-option sources, weights by maximum likelihood of the real choices on the training lists):
- ``bpr-mf`` and ``lm`` alone (their temperature fitted: the accuracy is theirs, the sampled accuracy
  at the fitted temperature);
- PMI: ``a * (lm - lambda * prior)``, lambda on the grid -1, -0.95, ..., 1.5 (highest training
  likelihood), ``a`` fitted;
- LM x BPR: ``a * lm + b * bpr``, and ``+ c * prior``; ``bpr + prior`` as the ablation without the LM.

BPR on the training lists: the benchmark's BPR-MF (``fit_baselines``) was trained on a log that holds
the training users' targets (only the held-out users' are removed), so on the training lists it has
seen the answers (accuracy 0.61 there, 0.48 on the held-out lists) and a fit on its scores overweights
it. The weights are therefore fitted on the scores of a second BPR-MF, same settings, trained on the
log without the training users' targets either; on the held-out lists the benchmark's BPR scores.

Protocol 2 has no training-list LM scores in the cache, so its rows apply the protocol-1 weights (and
the n = 10 rows the n = 5 weights) to its held-out lists. Paired comparisons on the same lists: the
accuracy difference to BPR-MF and to the LM, its 95% bootstrap interval (2,000 resamples of the lists,
seed 2026) and McNemar's exact p-value.

``--dataset ml-1m``: the same on ML-1M's cache (``benchmarks.usersim --dataset ml-1m``: protocol 1 only,
600 training lists of 150 users, the n = 10 rotations also checked), plus the PMI at ML-100K's lambda 0.8
(its scale fitted) and, printed, the PMI's training log-loss by lambda from -1 to 1.5. Each run
replaces its data set's records in the results file and keeps the others.

    python -m benchmarks.usersim_combined      # ~20 s on one thread (two BPR fits); cache only
    python -m benchmarks.usersim_combined --dataset ml-1m      # ~100 s
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from benchmarks.online import machine
from benchmarks.results_io import RESULTS_DIR, write_results
from benchmarks.usersim import cache_path, describe, fit_baselines, lm_texts, movie_meta
from benchmarks.usersim_data import read_corpus

BASE = "lm smollm2 zero-shot compact no list"
PRIOR_KEY = "lm smollm2 zero-shot item prior"
FOLDS = 5
HISTORY = 5  # the no-list prompt's history lines: what a cached score depends on
AREA = "usersim_combined"
# training users (4 lists each) of the cached training-list scores: `benchmarks.usersim --train-users`
TRAIN_USERS = {"ml-100k": 600, "ml-1m": 150}
ML100K_LAMBDA = 0.8  # the PMI's lambda fitted on ML-100K: on the other data sets also a row at it
MAKE = {
    "ml-100k": "`python -m benchmarks.usersim --train-users 600 --lm-protocol2` makes them",
    "ml-1m": "`python -m benchmarks.usersim --dataset ml-1m --protocols 1` makes them",
}


def read_scores(key: str, rows: int, n: int, dataset: str = "ml-100k") -> np.ndarray:
    """The cached (rows, n) LM scores under ``key``; fails naming the file when it is absent or of
    another shape."""
    path = cache_path(key, dataset)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no cached LM scores for {key!r}; {MAKE[dataset]} "
            "(the LM scores every list: hours on one CPU thread)"
        )
    scores = np.load(path)["scores"]
    if scores.shape != (rows, n):
        raise ValueError(f"{path}: scores of shape {scores.shape}, the rebuilt lists need {(rows, n)}")
    return scores.astype(np.float64)


def score_table(sets: dict[str, tuple[list, np.ndarray]], tolerance: float = 1e-3) -> tuple[dict, dict]:
    """(user, history, title) -> the no-list LM score, from every cached set; raises when two sets
    disagree on one. Returns the table and, per set, how many of its scores another set repeated."""
    table: dict[tuple, float] = {}
    repeated: dict[str, int] = {}
    for name, (lists, scores) in sets.items():
        count = 0
        for e, row in zip(lists, scores, strict=True):
            for item, value in zip(e.options, row, strict=True):
                key = (e.user, e.history[-HISTORY:], item)
                if key in table:
                    count += 1
                    if abs(table[key] - value) > tolerance:
                        raise ValueError(
                            f"cached LM scores of {name!r} do not line up with the rebuilt lists: user "
                            f"{e.user}, item {item}: {value:.4f} here, {table[key]:.4f} in another set"
                        )
                else:
                    table[key] = float(value)
        repeated[name] = count
    return table, repeated


def lm_source(table: dict):
    """The cached no-list LM as a score source."""

    def scores(exposures) -> np.ndarray:
        try:
            return np.array(
                [[table[(e.user, e.history[-HISTORY:], o)] for o in e.options] for e in exposures]
            )
        except KeyError as err:
            raise ValueError(f"no cached LM score for {err.args[0][0]}, {err.args[0][2]}") from None

    return scores


def paired(correct: np.ndarray, reference: np.ndarray, groups: np.ndarray | None = None) -> dict:
    """Accuracy difference of two simulators on the same lists (0/1 per list) and its 95% bootstrap
    interval (2,000 resamples, seed 2026); McNemar's exact two-sided p-value for independent lists,
    and, with ``groups`` (lists sharing a user and its target), a bootstrap over the groups instead
    (McNemar left out: it would treat a user's lists as independent)."""
    from scipy.stats import binomtest

    diff = correct.astype(np.float64) - reference
    rng = np.random.default_rng(2026)
    if groups is None:
        means = diff[rng.integers(0, len(diff), size=(2000, len(diff)))].mean(axis=1)
    else:
        _, group = np.unique(groups, return_inverse=True)
        sums, counts = np.bincount(group, weights=diff), np.bincount(group)
        picks = rng.integers(0, len(sums), size=(2000, len(sums)))
        means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    out = {"diff": round(float(diff.mean()), 4), "ci95": [round(float(low), 4), round(float(high), 4)]}
    if groups is None:
        only = int(((correct == 1) & (reference == 0)).sum())
        other = int(((correct == 0) & (reference == 1)).sum())
        out["mcnemar_p"] = (
            round(float(binomtest(min(only, other), only + other, 0.5).pvalue), 4) if only + other else 1.0
        )
    return out


def rows(
    protocol: str,
    targets: np.ndarray,
    scores: dict,
    labels: dict,
    extras: dict,
    groups=None,
    dataset: str = "ml-100k",
) -> list[dict]:
    """Result records of each simulator's (B, n) combined scores on lists whose real choices are
    ``targets``, with paired comparisons to ``bpr-mf`` and ``lm`` (the first two keys)."""
    from simulators.users.combined import choice_nll
    from simulators.users.evaluate import choice_metrics
    from simulators.users.simulators import softmax

    correct = {key: (s.argmax(axis=1) == targets).astype(np.float64) for key, s in scores.items()}
    keep = ("accuracy", "sampled_accuracy", "position_rates", "target_rates", "lists", "n")
    out = []
    for key, s in scores.items():
        metrics = choice_metrics(softmax(s, 1.0), targets, 1.0)
        record = {"model": labels[key], "dataset": dataset, "protocol": protocol}
        record.update(
            {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items() if k in keep}
        )
        record["nll"] = round(choice_nll(s, targets), 4)
        record.update(extras[key])
        for reference in ("bpr-mf", "lm"):
            if key != reference:
                test = paired(correct[key], correct[reference], groups)
                record.update({f"vs_{reference.replace('-', '_')}_{k}": v for k, v in test.items()})
        out.append({**record, **machine()})
        print(
            f"{dataset} {protocol[:40]} n={metrics['n']} {labels[key]}: accuracy {metrics['accuracy']:.3f}, "
            f"sampled {metrics['sampled_accuracy']:.3f}",
            flush=True,
        )
    return out


def fit_all(x: dict, y: np.ndarray, fixed: float | None = None) -> tuple[dict, float]:
    """Every simulator's weights fitted on training scores ``x`` (name -> (B, n)) and choices ``y``,
    and the PMI's lambda; with ``fixed``, also the PMI at that lambda (only its scale fitted)."""

    from simulators.users.combined import fit_pmi, fit_weights

    lam, pmi = fit_pmi(x["lm"], x["prior"], y)
    fitted = {
        "bpr-mf": fit_weights({"bpr": x["bpr"]}, y),
        "lm": fit_weights({"lm": x["lm"]}, y),
        "lm pmi": pmi,
        **({} if fixed is None else {"lm pmi fixed": fit_pmi(x["lm"], x["prior"], y, lambdas=(fixed,))[1]}),
        "lm x bpr": fit_weights({"lm": x["lm"], "bpr": x["bpr"]}, y),
        "lm x bpr x prior": fit_weights(x, y),
        "bpr x prior": fit_weights({"bpr": x["bpr"], "prior": x["prior"]}, y),
    }
    return fitted, lam


def combine(weights: dict, x: dict) -> np.ndarray:
    return sum(w * x[k] for k, w in weights.items())


def save(records: list[dict], dataset: str, notes: str) -> None:
    """Write this run's records in place of the earlier records of ``dataset`` (the other data sets'
    kept, ML-100K first)."""
    path = RESULTS_DIR / f"{AREA}.json"
    earlier = json.loads(path.read_text()) if path.exists() else []
    kept = [r for r in earlier if r["dataset"] != dataset] + records
    order = {"ml-100k": 0, "ml-1m": 1}
    kept.sort(key=lambda r: order.get(r["dataset"], 2))  # stable: each data set's rows in run order
    write_results(AREA, kept, title="User simulators from cached LM scores", notes=notes)


def main() -> None:
    import torch

    from simulators.users import hard_exposures, popularity_exposures
    from simulators.users.combined import CombinedUser, choice_nll, fit_pmi, item_source, recommender_source
    from simulators.users.evaluate import rotations
    from simulators.users.experiment import SimulatorData, fit_recommenders, training_lists, training_users

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="ml-100k", choices=sorted(TRAIN_USERS))
    dataset = parser.parse_args().dataset
    torch.set_num_threads(1)
    started, load_at_start = time.perf_counter(), os.getloadavg()[0]
    corpus = read_corpus(dataset)
    log = corpus.log
    train_users = TRAIN_USERS[dataset]
    held, bpr, _, _, _ = fit_baselines(log, 300, 100, 5e-3)
    texts, personas = lm_texts(corpus)
    data = SimulatorData(log, held, texts, personas, None, None)
    train_lists = training_lists(data, train_users, lists_per_user=4)
    p1 = popularity_exposures(log, held, n=5, history=10, seed=2026)
    p1_n10 = popularity_exposures(log, held, n=10, history=10, seed=2026)[:150]

    def scores_of(key: str, rows: int, n: int) -> np.ndarray:
        return read_scores(key, rows, n, dataset)

    sets = {
        "train": (train_lists, scores_of(f"{BASE} train n5 {len(train_lists)}", len(train_lists), 5)),
        "p1": (p1, scores_of(f"{BASE} n5 300", 300, 5)),
        "p1 rotations": (rotations(p1[:60]), scores_of(f"{BASE} n5 300 rotations", 300, 5)),
        "p1 n10": (p1_n10, scores_of(f"{BASE} n10 150", 150, 10)),
    }
    p2 = {}
    if dataset == "ml-100k":  # protocol 2 needs release years: ML-100K only
        meta, _, _ = movie_meta(corpus, held)
        top, _ = bpr.recommend_batch(held.users, 50)
        p2 = {
            tag: hard_exposures(log, held, meta, top, n=5, match=tag == "matched", seed=2026)
            for tag in ("unmatched", "matched")
        }
        sets.update(
            {f"p2 {tag}": (lists, scores_of(f"{BASE} p2 {tag} n5 300", 300, 5)) for tag, lists in p2.items()}
        )
    else:
        sets["p1 n10 rotations"] = (rotations(p1_n10[:60]), scores_of(f"{BASE} n10 600 rotations", 600, 10))
    table, repeated = score_table(sets)
    items = [str(i) for i in held.train.item_ids]
    prior_scores = scores_of(PRIOR_KEY, 1, len(items))[0]

    # the fit's BPR: also blind to the training users' targets (see the module docstring)
    fit_bpr = fit_recommenders(training_users(data, train_users).train)["bpr"]
    lm, prior = lm_source(table), item_source(items, prior_scores)
    train_sources = {"lm": lm, "bpr": recommender_source(fit_bpr), "prior": prior}
    sources = {"lm": lm, "bpr": recommender_source(bpr), "prior": prior}
    y = np.array([e.target for e in train_lists])
    x = {name: source(train_lists) for name, source in train_sources.items()}

    fixed = None if dataset == "ml-100k" else ML100K_LAMBDA
    fitted, lam = fit_all(x, y, fixed)
    profile = []  # the PMI's training log-loss by lambda (printed only)
    for k in range(-10, 16):
        weights = fit_pmi(x["lm"], x["prior"], y, lambdas=(k / 10,))[1]
        profile.append(f"{k / 10:g}: {choice_nll(combine(weights, x), y):.4f}")
    print(f"{dataset} PMI training log-loss by lambda: {', '.join(profile)}", flush=True)
    label = {
        "bpr-mf": "bpr-mf",
        "lm": f"{BASE} (temperature fitted)",
        "lm pmi": f"{BASE} - lambda * item prior (pmi)",
        "lm pmi fixed": f"{BASE} - {fixed} * item prior (pmi, ml-100k's lambda)",
        "lm x bpr": f"product of experts: {BASE} x bpr-mf",
        "lm x bpr x prior": f"product of experts: {BASE} x bpr-mf x item prior",
        "bpr x prior": "product of experts: bpr-mf x item prior (no lm)",
    }
    target = corpus.target
    evaluations = [
        (describe("1", 300, 5, target), p1, "protocol-1 training lists"),
        (describe("1", 300, 10, target) + "; first 150 lists", p1_n10, "protocol-1 n = 5 training lists"),
        *(
            (
                describe(f"2 ({tag} random list)", 300, 5, target),
                p2[tag],
                "protocol-1 training lists (none for protocol 2)",
            )
            for tag in p2
        ),
    ]
    records = []
    for protocol, lists, fitted_on in evaluations:
        targets = np.array([e.target for e in lists])
        scores, extras = {}, {}
        for key, weights in fitted.items():
            scores[key] = CombinedUser({k: sources[k] for k in weights}, weights, name=label[key]).scores(
                lists
            )
            train_scores = combine(weights, x)
            extras[key] = {
                "weights": {k: round(v, 4) for k, v in weights.items()},
                "fitted_on": f"{len(train_lists)} {fitted_on}",
                "train_accuracy": round(float((train_scores.argmax(axis=1) == y).mean()), 4),
                "train_nll": round(choice_nll(train_scores, y), 4),
                **({"lambda": lam} if key == "lm pmi" else {}),
                **({"lambda": fixed} if key == "lm pmi fixed" else {}),
            }
        records += rows(protocol, targets, scores, label, extras, dataset=dataset)

    # 5-fold cross-validation by user on the training lists: every training list's out-of-fold choice
    users = np.array([e.user for e in train_lists])
    order = np.random.default_rng(2026).permutation(np.unique(users))
    fold = {u: k % FOLDS for k, u in enumerate(order)}
    folds = np.array([fold[u] for u in users])
    out_of_fold = {key: np.zeros(y.shape + (5,)) for key in fitted}
    fold_weights = {key: [] for key in fitted}
    for k in range(FOLDS):
        part = folds == k
        weights_k, lam_k = fit_all({name: v[~part] for name, v in x.items()}, y[~part], fixed)
        for key, weights in weights_k.items():
            out_of_fold[key][part] = combine(weights, {name: v[part] for name, v in x.items()})
            fold_weights[key].append({name: round(w, 4) for name, w in weights.items()})
            if key == "lm pmi":
                fold_weights[key][-1]["lambda"] = lam_k
    protocol = (
        f"protocol-1 training lists: {len(train_lists)} lists of {train_users} users not held out (seed 7; "
        f"targets their last training events), {FOLDS}-fold cross-validation by user (seed 2026); "
        "bootstrap by user"
    )
    extras = {key: {"fold_weights": fold_weights[key]} for key in fitted}
    records += rows(protocol, y, out_of_fold, label, extras, groups=users, dataset=dataset)

    checked = ", ".join(f"{name} {count}" for name, count in repeated.items())
    notes = (
        "Issue 12: cheap simulators on the cached no-list LM scores of SmolLM2-135M zero-shot (no LM run). "
        "Weights fitted by maximum likelihood of the real choices on the training lists (ML-100K: 2,400 "
        "lists of 600 other users; ML-1M: 600 lists of 150, the cache's `--train-users` there); the "
        "held-out lists only evaluate. `accuracy`: argmax is the real choice; "
        "`sampled_accuracy`: mean probability on it at the fitted weights; `nll`: mean log-loss; "
        "`vs_bpr_mf_*` / `vs_lm_*`: paired accuracy difference on the same lists, 95% bootstrap "
        "interval, McNemar exact p. The fit's BPR-MF is blind to the training users' targets "
        "(the benchmark's BPR saw them); the held-out lists use the benchmark's BPR-MF. Protocol 2 "
        "(ML-100K only: it needs release years) and n = 10 reuse the protocol-1 n = 5 weights (no "
        "training-list LM scores for them in the cache). "
        f"Rerun: `python -m benchmarks.usersim_combined [--dataset ml-1m]`. Last run ({dataset}): cache "
        f"alignment, scores repeated across sets and equal to 1e-3: {checked}; load average at start "
        f"{load_at_start:.2f}, {time.perf_counter() - started:.0f} s."
    )
    save(records, dataset, notes)


if __name__ == "__main__":
    main()
