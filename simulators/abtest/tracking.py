"""One MLflow run per simulated A/B test, through ``recsys.tracking`` (the module that imports mlflow).

- params: the experiment's settings (arms, rounds, k, seed, salt, world, patience, ...);
- metrics: per arm ``<arm>/ctr``, ``/ctr_se``, ``/clicks_per_user``, ``/retention``, ``/coverage``,
  ``/exposure_gini`` (and ``/diversity``, ``/mean_rating`` when recorded), and per comparison
  ``<arm>/ctr_difference``, ``/p_value``, ``/sequential_stop_round``; per round (MLflow steps
  1..T) ``<arm>/round_ctr``, ``<arm>/active_users`` (and ``/round_diversity``,
  ``/round_mean_rating``) and, with creators, ``<arm>/creators/<metric>`` (active creators, genre
  entropy, new-item share, ...);
- tags: the control arm and each verdict sentence;
- artifacts: the report folder (Markdown, PNG plots, HTML, JSON) under ``report/``.

Arm names are rewritten by ``mlflow_key`` where MLflow forbids a character (``pop#0`` -> ``pop_0``).
"""

from __future__ import annotations

from pathlib import Path

from simulators.abtest.report import verdicts

ARTIFACT_PATH = "report"
ARM_METRICS = ("ctr", "ctr_se", "clicks_per_user", "retention", "coverage", "exposure_gini")
OPTIONAL = ("diversity", "mean_rating")  # when the run recorded them


def final_metrics(numbers: dict) -> dict[str, float]:
    """The run's one-value metrics: each arm's and each comparison's."""
    out = {}
    for name, arm in numbers["arms"].items():
        out.update({f"{name}/{key}": float(arm[key]) for key in ARM_METRICS})
        out.update({f"{name}/{key}": float(arm[key]) for key in OPTIONAL if arm.get(key) is not None})
    for name, c in numbers["comparisons"].items():
        out[f"{name}/ctr_difference"] = float(c["difference"])
        out[f"{name}/p_value"] = float(c["p_value"])
        if c["sequential_stop_round"] is not None:
            out[f"{name}/sequential_stop_round"] = float(c["sequential_stop_round"])
    return out


def round_metrics(numbers: dict) -> list[dict[str, float]]:
    """Per round (index 0 is round 1), each arm's CTR of the round, its active users and, when the
    arm has creators, each per-round creator metric."""
    series = numbers["trajectories"]
    rounds = len(next(iter(series.values()))["active_users"])
    out = []
    for t in range(rounds):
        values = {}
        for name, arm in series.items():
            ctr = arm["round_ctr"]["ctr"][t]
            if ctr is not None:
                values[f"{name}/round_ctr"] = float(ctr)
            values[f"{name}/active_users"] = float(arm["active_users"][t])
            for key in OPTIONAL:
                if arm.get(key) and arm[key][t] is not None:
                    values[f"{name}/round_{key}"] = float(arm[key][t])
            for key, history in arm.get("creators", {}).items():
                if t < len(history):
                    values[f"{name}/creators/{key}"] = float(history[t])
        out.append(values)
    return out


def log_experiment(
    numbers: dict,
    report_dir: Path | None,
    *,
    tracking_uri: str,
    experiment: str = "alignrec-abtest",
    run_name: str | None = None,
) -> str:
    """Record one test as one MLflow run at ``tracking_uri``; returns the run id. A failure while
    logging marks the run FAILED."""
    from recsys.tracking import MlflowCallback, mlflow_key

    tracker = MlflowCallback(experiment, run_name, tracking_uri=tracking_uri)
    tracker.on_fit_start(numbers["settings"])
    try:
        for t, values in enumerate(round_metrics(numbers), start=1):
            tracker.on_epoch_end(t, values)
        tags = {"control": numbers["control"], "alpha": str(numbers["alpha"])}
        sentences = zip(numbers["comparisons"], verdicts(numbers), strict=True)
        tags.update({mlflow_key(f"verdict/{name}"): text for name, text in sentences})
        tracker.on_fit_end(final_metrics(numbers), tags, report_dir, artifact_path=ARTIFACT_PATH)
    except BaseException as error:
        tracker.on_fit_error(error)
        raise
    return tracker.run_id
