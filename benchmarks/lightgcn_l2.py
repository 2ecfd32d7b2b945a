"""LightGCN step time: the L2 term by row counts (``recsys.models.lightgcn.batch_l2``) against the
library's L2 over a gathered copy of the batch's rows, interleaved step by step in one process.

Both loops train the same model class from the same initial weights on the same batches (the log's
default batch, ``recsys.models.lightgcn_defaults``; dim 128, 3 layers, 4 negatives, reg 1e-3, Adam lr
1e-2: the CLI defaults); only the L2 term differs. Reported: median CPU seconds per step (forward,
backward, Adam), their ratio, and the two losses after the last step (equal up to float rounding).

    python -m benchmarks.lightgcn_l2 --datasets ml-100k,ml-1m --steps 12
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.online import machine
from benchmarks.results_io import write_results
from recsys.models.lightgcn import LightGCN
from recsys.models.lightgcn_defaults import log_defaults
from recsys.train import positive_lookup, sample_negatives

AREA = "lightgcn_l2"
NEGATIVES = 4


class LibraryL2(LightGCN):
    """The loss as before: torch_geometric's ``recommendation_loss`` with ``node_id`` and
    ``lambda_reg``, which gathers the batch's (B * (2 + N), d) rows for the L2 term."""

    def loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        user_emb, item_emb = self.propagate()
        u = user_emb[users]
        pos_rank = (u * item_emb[pos]).sum(-1)
        neg_rank = torch.einsum("bd,bnd->bn", u, item_emb[neg])
        node_id = torch.cat([users, pos + self.num_users, neg.reshape(-1) + self.num_users])
        pos_rank, neg_rank = pos_rank.repeat_interleave(neg.shape[1]), neg_rank.reshape(-1)
        return self.gcn.recommendation_loss(pos_rank, neg_rank, node_id=node_id, lambda_reg=self.reg)


def load_train(dataset: str):
    from benchmarks.defaults import load_split

    return load_split(dataset).train


def run(dataset: str, steps: int) -> dict:
    train = load_train(dataset)
    batch = log_defaults(len(train), train.num_users, train.num_items)["batch_size"]
    rng = np.random.default_rng(2026)
    keys = positive_lookup(train)
    models, optimizers = {}, {}
    for name, cls in (("batch_l2", LightGCN), ("library_l2", LibraryL2)):
        torch.manual_seed(2026)  # the same initial weights
        models[name] = cls(train.num_users, train.num_items, train.to_csr(), dim=128, num_layers=3, reg=1e-3)
        optimizers[name] = torch.optim.Adam(models[name].parameters(), lr=1e-2, fused=True)
    cpu = {name: [] for name in models}
    losses = {}
    for _ in range(steps):
        rows = rng.choice(len(train), size=batch, replace=False)
        users = torch.from_numpy(train.users[rows])
        pos = torch.from_numpy(train.items[rows])
        neg = torch.from_numpy(sample_negatives(train.users[rows], train.num_items, NEGATIVES, keys, rng))
        for name, model in models.items():  # interleaved: load drift hits both alike
            start = time.process_time()
            loss = model.loss(users, pos, neg)
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
            cpu[name].append(time.process_time() - start)
            losses[name] = float(loss)
    ours, theirs = (float(np.median(cpu[n][1:])) for n in ("batch_l2", "library_l2"))  # first: warm-up
    return {
        "model": "lightgcn",
        "dataset": dataset,
        "protocol": f"train step: batch {batch} (from the log), dim 128, 3 layers, {NEGATIVES} negatives, "
        f"reg 1e-3, Adam lr 1e-2; median CPU s of {steps - 1} interleaved steps after one warm-up",
        "cpu_seconds_per_step": round(ours, 4),
        "library_l2_cpu_seconds_per_step": round(theirs, 4),
        "cpu_ratio_to_library_l2": round(ours / theirs, 3),
        "loss": round(losses["batch_l2"], 6),
        "library_l2_loss": round(losses["library_l2"], 6),
        "threads": 1,
        **machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="ml-100k,ml-1m")
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    records = []
    for dataset in args.datasets.split(","):
        records.append(run(dataset, args.steps))
        print(records[-1], flush=True)
    title = "LightGCN: L2 by row counts vs the library's gathered L2"
    write_results(AREA, records, title=title, notes=__doc__)


if __name__ == "__main__":
    main()
