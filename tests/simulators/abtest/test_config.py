"""The A/B test config: defaults, YAML with flag overrides, type and range checks naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.abtest.config import ABTestConfig, CreatorsConfig, help_of, load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "abtest.yaml"


def test_defaults_and_help():
    config = load_config(None, {})
    assert config == ABTestConfig() and config.arms == ["pop", "bpr"] and config.rounds == 50
    assert ABTestConfig().arms is not ABTestConfig().arms  # each config its own list
    assert help_of("patience").startswith("A user leaves")


def test_the_example_parses_and_flags_win():
    config = load_config(EXAMPLE, {"rounds": 7, "salt": None, "track": False})
    assert config.rounds == 7 and config.track is False  # flags given
    assert config.salt == "example" and config.arms == ["pop", "itemknn"]  # from the file (None ignored)
    assert config.report_dir == Path(".alignrec/abtest/example") and isinstance(config.run, Path)
    settings = config.settings()
    assert settings["arms"] == ["pop", "itemknn"] and settings["world"] == "itemknn(k=100)"
    assert {"rounds", "k", "seed", "salt", "patience"} <= set(settings)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"k": 0}, "k: expected an integer >= 1"),
        ({"k": 2.5}, "k: expected an integer"),
        ({"rounds": True}, "rounds: expected an integer"),
        ({"alpha": 1.0}, "alpha: expected a number strictly between 0 and 1"),
        ({"base_rate": "low"}, "base_rate: expected a number"),
        ({"arms": "pop"}, "arms: expected at least two models"),
        ({"arms": [1, 2]}, "arms: expected a list of strings"),
        ({"track": "yes"}, "track: expected true or false"),
        ({"salt": ""}, "salt: expected a non-empty string"),
        ({"policy_urls": {"bpr": "localhost:8000"}}, "policy_urls.bpr: expected an http(s):// URL"),
        ({"policy_urls": ["http://x"]}, "policy_urls: expected a mapping of strings to strings"),
        ({"workers": -1}, "workers: expected an integer >= 1"),
        ({"epochs": 3}, "unknown field(s) ['epochs']"),
        ({"retrain_every": 0}, "retrain_every: expected a number of rounds >= 1"),
        ({"state": "s.npz", "ray_address": "ray://h:10001"}, "state: expected no value with Ray workers"),
        ({"resume": True, "workers": 4}, "resume: expected false with Ray workers"),
        (
            {"retrain_every": 2, "arms": ["a", "b"], "policy_urls": {"a": "http://x", "b": "http://y"}},
            "retrain_every: expected at least one in-process arm",
        ),
        ({"diversity_dims": -1}, "diversity_dims: expected an integer >= 0"),
        (
            {"send_feedback": True, "serve_arms": False},
            "send_feedback: expected false unless some arm is served over HTTP",
        ),
        ({"serve_arms": True, "workers": 2}, "serve_arms: expected false or unset with Ray workers"),
        ({"serve_arms": True, "retrain_every": 2}, "serve_arms: expected false or unset when retraining"),
        ({"serve_arms": "yes"}, "serve_arms: expected"),
    ],
)
def test_bad_values_name_the_source_and_field(values, message):
    with pytest.raises(ValueError) as error:
        ABTestConfig.from_mapping(values, "exp.yaml")
    assert str(error.value).startswith("exp.yaml: ") and message in str(error.value)


def test_state_path_defaults_beside_the_run_and_is_none_on_ray():
    assert ABTestConfig(run=Path("r"), salt="s").state_path() == Path("r/abtest-s.state.npz")
    assert ABTestConfig(state=Path("x.npz")).state_path() == Path("x.npz")
    assert ABTestConfig(workers=2).state_path() is None


def test_optional_fields_take_none_and_paths_come_from_strings():
    config = ABTestConfig.from_mapping({"ray_address": None, "report_dir": "out", "run": "runs/x"}, "f")
    assert config.ray_address is None and config.report_dir == Path("out") and config.run == Path("runs/x")


@pytest.mark.parametrize(
    "values, message",
    [
        ({"arms": ["popularity", "lightgcn"]}, "arms: expected at least two of ('popularity', 'vbpr')"),
        ({"arms": ["vbpr"]}, "arms: expected at least two of"),
        ({"fresh_slots": 10}, "fresh_slots: expected 0 <= fresh_slots < k = 10"),
        ({"explore": 1.5}, "explore: expected a probability in [0, 1]"),
        ({"creators": 0}, "creators: expected an integer >= 1"),
        ({"full_information": 1}, "full_information: expected true or false"),
    ],
)
def test_creator_config_checks_name_the_field(values, message):
    with pytest.raises(ValueError) as error:
        CreatorsConfig.from_mapping(values, "c.yaml")
    assert str(error.value).startswith("c.yaml: ") and message in str(error.value)


def test_the_creators_example_parses():
    config = load_config(EXAMPLE.with_name("creators.yaml"), {"rounds": 3}, CreatorsConfig)
    assert config.rounds == 3 and config.arms == ["popularity", "vbpr"] and config.full_information is False
    assert help_of("fresh_slots", CreatorsConfig).startswith("Slots of every slate")
