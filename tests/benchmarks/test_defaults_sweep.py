from benchmarks.defaults_sweep import choice


def _point(dataset: str, overrides: str, valid: float) -> dict:
    return {
        "model": "cml",
        "dataset": dataset,
        "defaults": "d",
        "overrides": overrides,
        "valid_ndcg@10": valid,
    }


def test_choice_ratios_to_defaults_and_to_tuned():
    records = [
        _point("a", "{}", 0.20),
        _point("b", "{}", 0.08),
        _point("a", '{"margin": 1.4}', 0.19),
        _point("b", '{"margin": 1.4}', 0.10),
    ]
    rows = {r["overrides"]: r for r in choice(records, "cml", "d", {"a": 0.20, "b": 0.10})}
    moved = rows['{"margin": 1.4}']
    assert (moved["valid/default a"], moved["valid/default b"], moved["worst"]) == (0.95, 1.25, 0.95)
    assert not moved["beats defaults everywhere"]
    assert (moved["valid/tuned a"], moved["valid/tuned b"], moved["worst valid/tuned"]) == (0.95, 1.0, 0.95)
    assert rows["{}"]["worst valid/tuned"] == 0.8  # the defaults are worse against the tuned scores


def test_choice_without_tuned_scores_has_no_tuned_columns():
    rows = choice([_point("a", "{}", 0.2)], "cml", "d")
    assert rows == [
        {
            "model": "cml",
            "overrides": "{}",
            "valid/default a": 1.0,
            "worst": 1.0,
            "mean": 1.0,
            "beats defaults everywhere": False,
        }
    ]
