"""Training speed per epoch on ML-100K, measured against baselines in the same run.

The machine is shared and noisy, so absolute seconds drift; ratios between loops measured in one
process, interleaved epoch by epoch, are steadier. Settings of the RecBole reference (issue #2):
dim 64, batch 2048, Adam lr 1e-3, 1 negative, reg 1e-4, per-user random 80/10/10 split, seed 2026.

Loops compared (all use the same vectorised negative sampler, so the difference is the model step):
  bpr                  recsys.models.BPR through recsys.train's step (hand-derived gradient)
  bpr-autograd         the same loss written with autograd (recsys.models.bpr.bpr_loss_reference)
  lightgcn             recsys.models.LightGCN (CSR adjacency, symmetric-spmm backward)
  lightgcn-pyg-plain   torch_geometric.nn.LightGCN used as documented: get_embedding(edge_index)
                       every step (the normalisation is recomputed from the edge list each call)

    python -m benchmarks.recsys_speed --epochs 3 --threads 1
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from benchmarks.recsys import load_split
from benchmarks.results_io import write_results
from recsys.models.bpr import BPR, bpr_loss_reference
from recsys.models.lightgcn import LightGCN
from recsys.train import positive_lookup, sample_negatives


class PlainPygLightGCN(torch.nn.Module):
    """The baseline: PyG's LightGCN with an edge list, as its documentation shows."""

    def __init__(self, num_users: int, num_items: int, users: np.ndarray, items: np.ndarray) -> None:
        super().__init__()
        from torch_geometric.nn import LightGCN as PygLightGCN

        self.num_users = num_users
        self.gcn = PygLightGCN(num_users + num_items, 64, 3)
        u, i = torch.from_numpy(users), torch.from_numpy(items) + num_users
        self.edge_index = torch.stack([torch.cat([u, i]), torch.cat([i, u])])  # (2, 2E)

    def loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        out = self.gcn.get_embedding(self.edge_index)  # (U+I, d)
        u = out[users]
        pos_rank = (u * out[pos + self.num_users]).sum(-1)
        neg_rank = (u * out[neg[:, 0] + self.num_users]).sum(-1)
        node_id = torch.cat([users, pos + self.num_users, neg[:, 0] + self.num_users])
        return self.gcn.recommendation_loss(pos_rank, neg_rank, node_id=node_id, lambda_reg=1e-4)


class AutogradBPR(BPR):
    """BPR with the loss left to autograd: the baseline of the hand-derived gradient."""

    def loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        items = torch.cat([pos.unsqueeze(1), neg], dim=1)
        weights = self.user_embedding.weight, self.item_embedding.weight
        return bpr_loss_reference(*weights, users, items, self.reg)


def epoch_seconds(
    model: torch.nn.Module, optimizer, train, keys, rng, batch_size: int
) -> tuple[float, float]:
    """Wall and CPU seconds of one epoch: sampling, shuffling and every optimiser step."""
    wall, cpu = time.perf_counter(), time.process_time()
    order = torch.from_numpy(rng.permutation(len(train)))
    negatives = torch.from_numpy(sample_negatives(train.users, train.num_items, 1, keys, rng))
    users, items = torch.from_numpy(train.users)[order], torch.from_numpy(train.items)[order]
    negatives = negatives[order]
    model.train()
    for begin in range(0, len(order), batch_size):
        end = begin + batch_size  # the same shuffled slices as recsys.train.fit
        loss = model.loss(users[begin:end], items[begin:end], negatives[begin:end])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default="bpr,bpr-autograd,lightgcn,lightgcn-pyg-plain",
                        help="comma-separated loops to time (a subset is printed, not written)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    split = load_split("ml-100k")
    train = split.train
    keys = positive_lookup(train)
    torch.manual_seed(2026)
    builders = {
        "bpr": lambda: BPR(train.num_users, train.num_items, 64, 1e-4),
        "bpr-autograd": lambda: AutogradBPR(train.num_users, train.num_items, 64, 1e-4),
        "lightgcn": lambda: LightGCN(train.num_users, train.num_items, train.to_csr(), 64, 3, 1e-4),
        "lightgcn-pyg-plain": lambda: PlainPygLightGCN(
            train.num_users, train.num_items, train.users, train.items
        ),
    }
    names = args.models.split(",")
    unknown = set(names) - set(builders)
    if unknown:
        parser.error(f"unknown loops {sorted(unknown)}; choose from {list(builders)}")
    models = {name: builders[name]() for name in names}
    # fused Adam, as recsys.train.fit uses
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-3, fused=True) for name, m in models.items()}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    rng = np.random.default_rng(2026)
    for _ in range(args.epochs):  # interleaved, so drift in machine load hits every loop alike
        for name, model in models.items():
            times[name].append(epoch_seconds(model, optimizers[name], train, keys, rng, 2048))
    records = []
    plain_times = times.get("lightgcn-pyg-plain")
    plain = float(np.median([c for _, c in plain_times])) if plain_times else None
    for name, values in times.items():
        wall = float(np.median([w for w, _ in values]))
        cpu = float(np.median([c for _, c in values]))
        records.append({
            "model": name,
            "dataset": "ml-100k",
            "protocol": "train epoch: dim 64, batch 2048, Adam lr 1e-3, 1 negative; median of "
                        f"{args.epochs} interleaved epochs",
            "threads": args.threads,
            "seconds_per_epoch": round(wall, 4),
            "cpu_seconds_per_epoch": round(cpu, 4),
            "cpu_ratio_to_pyg_plain": round(cpu / plain, 3) if plain else None,
            "load_average_1m": round(os.getloadavg()[0], 2),
        })
        print(records[-1], flush=True)
    if set(names) != set(builders):
        print("a subset of the loops: results printed, not written")
        return
    write_results(f"recsys_speed_{args.threads}t", records, title="Training speed on ML-100K (same run)",
                  notes=__doc__.split("\n\n")[1])


if __name__ == "__main__":
    main()
