"""Same-split RecBole 1.2.1 baseline for protocol 1 of issue #2 (ML-100K), to compare with ours.

The split is the one ``benchmarks/recsys.py`` trains on (``benchmarks.recsys.load_split``: all
ML-100K ratings implicit, per-user random 80/10/10, seed 2026; same checksum). It is written as
RecBole benchmark atomic files (``ml-100k-split.{train,valid,test}.inter``, raw MovieLens ids) into a work
folder outside the repository, and RecBole runs on them with ``benchmark_filename`` and full-sort
evaluation: each user's test items are ranked against all items minus the user's train and valid
items (RecBole's history for the test phase; checked here against our split).

Settings (the issue's RecBole reference): dim 64, batch 2048, Adam lr 1e-3, 1 uniform negative,
100 epochs, no early stop (stopping_step 1000), validation NDCG@10 every epoch, test metrics of the
best-validation epoch (RecBole's ``load_best_model``), LightGCN 3 layers, ItemKNN k 100, seed 2026,
CPU. Regularisation is RecBole's default: none for BPR (BPRLoss only, weight_decay 0), reg_weight
1e-5 on the batch's ego embeddings for LightGCN (EmbLoss with require_pow False). Timing wraps
``Trainer._train_epoch`` (wall and process CPU seconds); each model runs in a fresh process.

Run with the RecBole virtual environment (``benchmarks/recbole_env.sh`` builds it), from the
repository root; our code is imported by path (it needs only numpy and pandas here):

    /work/recbole-venv/bin/python benchmarks/recbole_baseline.py          # 100 epochs, 1 thread
    /work/recbole-venv/bin/python benchmarks/recbole_baseline.py --models bpr,lightgcn --seed 2027
    /work/recbole-venv/bin/python benchmarks/recbole_baseline.py --models bpr,lightgcn \\
        --threads 2 --epochs 10                                  # a timing run
    .venv/bin/python benchmarks/recbole_baseline.py --ours --models bpr,lightgcn --seed 2027

``--ours`` runs our side (recsys.experiment.run_experiment, as benchmarks/recsys.py does) with our
venv, so that both sides' records, with the load average of each run, sit in one file; records
merge by (model, protocol, threads).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.recsys import load_split  # noqa: E402
from benchmarks.results_io import RESULTS_DIR, write_results  # noqa: E402
from recsys.storage import write_text_atomic  # noqa: E402

# Not "ml-100k": RecBole 1.2.1 reads that name from its bundled example folder, whatever data_path says.
RECBOLE_DATASET = "ml-100k-split"
# name -> (RecBole model class, config overrides)
RECBOLE_MODELS: dict[str, tuple[str, dict[str, object]]] = {
    "bpr": ("BPR", {}),
    "lightgcn": ("LightGCN", {}),
    "itemknn": ("ItemKNN", {}),
    # RecBole's Pop counts every item id in a training batch, sampled negatives included, and a
    # repeated id once per batch (item_cnt[item] += 1 with duplicate indices): with the reference
    # settings it is not exact popularity. "pop-exact" counts positives one event per batch.
    "pop": ("Pop", {}),
    "pop-exact": ("Pop", {"train_neg_sample_args": None, "train_batch_size": 1}),
}
TOPK = (10, 20)


def export_split(workdir: Path) -> dict[str, object]:
    """Write our ML-100K protocol-1 split as RecBole benchmark files; returns its facts."""
    split = load_split("ml-100k")
    folder = workdir / RECBOLE_DATASET
    folder.mkdir(parents=True, exist_ok=True)
    user_ids, item_ids = split.train.user_ids, split.train.item_ids
    for name in ("train", "valid", "test"):
        part = getattr(split, name)
        lines = ["user_id:token\titem_id:token"]
        lines += [f"{u}\t{i}" for u, i in zip(user_ids[part.users], item_ids[part.items], strict=True)]
        write_text_atomic(folder / f"{RECBOLE_DATASET}.{name}.inter", "\n".join(lines) + "\n")
    return {
        "checksum": split.checksum,
        "rows": {name: len(getattr(split, name)) for name in ("train", "valid", "test")},
        "num_users": split.train.num_users,
        "num_items": split.train.num_items,
        # raw user id -> raw item ids seen in train or valid: what test ranking must mask
        "known": _known_items(split),
    }


def _known_items(split) -> dict[str, set[str]]:
    known: dict[str, set[str]] = {}
    for part in (split.train, split.valid):
        for u, i in zip(part.user_ids[part.users], part.item_ids[part.items], strict=True):
            known.setdefault(str(u), set()).add(str(i))
    return known


def recbole_config(model: str, workdir: Path, epochs: int, seed: int, lr: float = 1e-3) -> dict[str, object]:
    return {
        "data_path": str(workdir),
        "checkpoint_dir": str(workdir / "saved"),
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id"]},
        "user_inter_num_interval": None,
        "item_inter_num_interval": None,
        "eval_args": {"group_by": "user", "order": "RO", "mode": {"valid": "full", "test": "full"}},
        "metrics": ["Recall", "NDCG", "Hit", "MRR", "Precision"],
        "topk": list(TOPK),
        "valid_metric": "NDCG@10",
        "embedding_size": 64,
        "train_batch_size": 2048,
        "learner": "adam",
        "learning_rate": lr,
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1, "alpha": 1.0,
                                  "dynamic": False, "candidate_num": 0},
        "epochs": epochs,
        "stopping_step": 1000,
        "eval_step": 1,
        "n_layers": 3,
        "k": 100,
        "seed": seed,
        "reproducibility": True,
        "use_gpu": False,
        "show_progress": False,
        "state": "WARNING",
        "model": model,
    }


def check_split(dataset, loaders, facts: dict[str, object]) -> dict[str, object]:
    """Row and id counts on RecBole's side, and whether its test-phase history equals our train+valid."""
    train_data, valid_data, test_data = loaders
    uid_field, iid_field = dataset.uid_field, dataset.iid_field
    rows = {name: len(loader._dataset) for name, loader in
            zip(("train", "valid", "test"), (train_data, valid_data, test_data), strict=True)}
    if rows != facts["rows"]:
        raise ValueError(f"RecBole rows {rows} != our split's {facts['rows']}")
    num_users, num_items = dataset.user_num - 1, dataset.item_num - 1  # RecBole adds a [PAD] id 0
    if (num_users, num_items) != (facts["num_users"], facts["num_items"]):
        raise ValueError(f"RecBole has {num_users} users x {num_items} items, our split "
                         f"{facts['num_users']} x {facts['num_items']}")
    mismatched = 0
    for uid in test_data.uid_list.tolist():
        token = str(dataset.id2token(uid_field, uid))
        history = {str(t) for t in dataset.id2token(iid_field, test_data.uid2history_item[uid].numpy())}
        mismatched += history != facts["known"][token]
    if mismatched:
        raise ValueError(f"RecBole's test history differs from our train+valid for {mismatched} users")
    return {"recbole_rows": rows, "recbole_users": num_users, "recbole_items": num_items,
            "test_users": len(test_data.uid_list), "test_mask": "train+valid (checked per user)"}


def protocol(checksum: str, epochs: int, seed: int, lr: float = 1e-3) -> str:
    text = (f"same split as benchmarks/recsys.py (split checksum {checksum[:12]}): all ratings "
            "implicit, per-user random 80/10/10 seed 2026; full ranking, train+valid masked")
    if 1 < epochs < 100:
        text += f"; {epochs}-epoch timing run"
    if lr != 1e-3:
        text += f"; lr {lr:g} instead of the reference 1e-3"
    return text if seed == 2026 else f"{text}; training seed {seed}"


def job(name: str, threads: int, epochs: int, seed: int, lr: float, workdir: Path, facts: dict,
        queue: mp.Queue) -> None:
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_logger, init_seed

    torch.set_num_threads(threads)
    # RecBole 1.2.1 checkpoints pickle its Config; torch >= 2.6 loads weights only unless told.
    # The file is the one this job just wrote.
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    os.chdir(workdir)  # RecBole writes ./log and ./log_tensorboard under the working folder
    model_class, overrides = RECBOLE_MODELS[name]
    config = Config(model=model_class, dataset=RECBOLE_DATASET,
                    config_dict={**recbole_config(model_class, workdir, epochs, seed, lr), **overrides})
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    dataset = create_dataset(config)
    loaders = data_preparation(config, dataset)
    checks = check_split(dataset, loaders, facts)
    train_data, valid_data, test_data = loaders

    init_seed(config["seed"], config["reproducibility"])
    start = time.perf_counter()
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    build_seconds = time.perf_counter() - start
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    wall, cpu, valid_seconds, loads, saved_epochs = [], [], [], [], []
    train_epoch, valid_epoch, save_checkpoint = (
        trainer._train_epoch, trainer._valid_epoch, trainer._save_checkpoint)

    def timed_train_epoch(*args, **kwargs):
        loads.append(os.getloadavg()[0])
        t0, c0 = time.perf_counter(), time.process_time()
        loss = train_epoch(*args, **kwargs)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        return loss

    def timed_valid_epoch(*args, **kwargs):
        t0 = time.perf_counter()
        out = valid_epoch(*args, **kwargs)
        valid_seconds.append(time.perf_counter() - t0)
        return out

    def recorded_save_checkpoint(epoch, *args, **kwargs):
        saved_epochs.append(epoch)  # called when the validation metric reaches a new best (>=)
        return save_checkpoint(epoch, *args, **kwargs)

    trainer._train_epoch, trainer._valid_epoch = timed_train_epoch, timed_valid_epoch
    trainer._save_checkpoint = recorded_save_checkpoint
    start = time.perf_counter()
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    test = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    eval_seconds = time.perf_counter() - start
    if torch.get_num_threads() != threads:
        raise RuntimeError(f"RecBole changed torch threads to {torch.get_num_threads()}")

    metrics = {key.lower(): round(float(value), 4) for key, value in test.items()}
    queue.put({
        "model": f"recbole-{name}",
        "dataset": "ml-100k",
        "protocol": protocol(facts["checksum"], config["epochs"], seed, lr),
        "threads": threads,
        **{k: metrics[k] for k in sorted(metrics, key=lambda k: (int(k.split("@")[1]), k))},
        "epochs": len(wall),
        "best_epoch": saved_epochs[-1] + 1 if saved_epochs else 0,
        "seconds_per_epoch": round(statistics.median(wall), 4),
        "cpu_seconds_per_epoch": round(statistics.median(cpu), 4),
        "seconds_per_epoch_mean": round(statistics.fmean(wall), 4),
        "cpu_seconds_per_epoch_mean": round(statistics.fmean(cpu), 4),
        "valid_seconds_per_epoch": round(statistics.median(valid_seconds), 4) if valid_seconds else 0.0,
        "build_seconds": round(build_seconds, 3),
        "fit_seconds": round(fit_seconds, 2),
        "eval_seconds": round(eval_seconds, 3),
        "load_average_1min": round(statistics.median(loads), 2),
        "load_average_1min_max": round(max(loads), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "config": json.dumps({"embedding_size": 64, "train_batch_size": 2048, "learning_rate": lr,
                              "neg": 1, "epochs": config["epochs"], "reg_weight": config["reg_weight"],
                              "weight_decay": config["weight_decay"],
                              **({"n_layers": 3} if name == "lightgcn" else {}),
                              **({"k": 100} if name == "itemknn" else {}), **overrides}),
        "split_checksum": facts["checksum"][:12],
        **{k: json.dumps(v) if isinstance(v, dict) else v for k, v in checks.items()},
        "recbole": "1.2.1",
        "torch": torch.__version__,
    })


def ours_job(name: str, threads: int, epochs: int, seed: int, lr: float, facts: dict,
             queue: mp.Queue) -> None:
    """Our side on the same split and settings, the way benchmarks/recsys.py runs it
    (recsys.experiment.run_experiment, no early stop), with a chosen epoch budget and training
    seed. Needs our venv (torch_geometric)."""
    import torch

    from recsys.experiment import TrainConfig, run_experiment

    torch.set_num_threads(threads)
    split = load_split("ml-100k")
    config = TrainConfig(model=name, dim=64, epochs=epochs, batch_size=2048, lr=lr, patience=0,
                         num_layers=3, knn_k=100, seed=seed)
    load_before = os.getloadavg()[0]
    result = run_experiment(split, config, out_dir=None, progress=False)
    wall = [h["epoch_seconds"] for h in result.history]
    queue.put({
        "model": f"ours-{name}",
        "dataset": "ml-100k",
        "protocol": protocol(split.checksum, epochs, seed, lr),
        "threads": threads,
        **{k: round(v, 4) for k, v in result.metrics.items() if k.split("@")[1] in ("10", "20")},
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch + 1 if result.epochs_run else 0,
        "seconds_per_epoch": round(statistics.median(wall), 4) if wall else 0.0,
        "cpu_seconds_per_epoch_mean": round(result.cpu_seconds_per_epoch, 4),
        "seconds_per_epoch_mean": round(result.seconds_per_epoch, 4),
        "eval_seconds": round(result.eval_seconds, 3),
        "load_average_1min": round((load_before + os.getloadavg()[0]) / 2, 2),
        "config": json.dumps({"dim": 64, "batch_size": 2048, "lr": lr, "neg": 1, "reg": config.reg,
                              "epochs": epochs, **({"num_layers": 3} if name == "lightgcn" else {}),
                              **({"k": 100} if name == "itemknn" else {})}),
        "split_checksum": split.checksum[:12],
        "torch": torch.__version__,
    })


def _wait(process, queue) -> dict:
    """The job's record; raises if the job died without sending one."""
    import queue as queues

    while True:
        try:
            record = queue.get(timeout=5)
        except queues.Empty:
            if not process.is_alive():
                raise RuntimeError(f"job exited with code {process.exitcode} and no record") from None
            continue
        process.join()
        return record


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="bpr,lightgcn,itemknn,pop,pop-exact",
                        help=f"comma-separated, from {','.join(RECBOLE_MODELS)}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while training")
    parser.add_argument("--epochs", type=int, default=100, help="epochs for BPR and LightGCN")
    parser.add_argument("--workdir", default="/tmp/recbole-ml100k",
                        help="where the atomic files, RecBole logs and checkpoints go (not the repo)")
    parser.add_argument("--out", default="recbole", help="results name under benchmarks/results/")
    parser.add_argument("--seed", type=int, default=2026,
                        help="training seed (model init, sampling); the split stays seed 2026")
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="Adam learning rate for BPR and LightGCN (the reference is 1e-3)")
    parser.add_argument("--ours", action="store_true",
                        help="run our side instead (bpr, lightgcn, itemknn, pop; with our venv's python)")
    args = parser.parse_args()
    workdir = Path(args.workdir).resolve()
    if workdir.is_relative_to(REPO_ROOT):
        raise ValueError(f"--workdir {workdir} is inside the repository; shared data must stay out")
    path = RESULTS_DIR / f"{args.out}.json"
    records = json.loads(path.read_text()) if path.exists() else []
    if args.ours:
        facts = {"checksum": load_split("ml-100k").checksum}
    else:
        facts = export_split(workdir)
        print(f"split {facts['checksum'][:12]}: rows {facts['rows']}", flush=True)
    context = mp.get_context("spawn")
    for name in args.models.split(","):
        queue = context.Queue()
        target, extra = (ours_job, ()) if args.ours else (job, (workdir,))
        process = context.Process(
            target=target, args=(name, args.threads, args.epochs, args.seed, args.lr, *extra, facts, queue))
        process.start()
        record = _wait(process, queue)
        print(json.dumps(record), flush=True)
        key = (record["model"], record["protocol"], record["threads"])
        records = [r for r in records if (r["model"], r["protocol"], r["threads"]) != key]
        records.append(record)
        write_results(args.out, records, title="RecBole 1.2.1 on our ML-100K split (full ranking)",
                      notes=__doc__.split("\n\n")[1] + "\n\n" + __doc__.split("\n\n")[2])


if __name__ == "__main__":
    main()
