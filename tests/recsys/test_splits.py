import numpy as np
import pytest

from recsys.splits import leave_one_out_split, load_split, random_split, save_split, temporal_split


def _pairs(part):
    return set(zip(part.users.tolist(), part.items.tolist(), strict=True))


@pytest.mark.parametrize("splitter", [random_split, temporal_split, leave_one_out_split])
def test_parts_partition_the_log(planted, splitter):
    data = planted[0]
    split = splitter(data, seed=3) if splitter is leave_one_out_split else splitter(data, seed=3)
    assert len(split.train) + len(split.valid) + len(split.test) == len(data)
    assert not (_pairs(split.train) & _pairs(split.test))
    assert split.train.num_items == data.num_items


def test_random_split_is_seeded_and_per_user(planted):
    data = planted[0]
    a, b, c = random_split(data, seed=1), random_split(data, seed=1), random_split(data, seed=2)
    assert a.checksum == b.checksum != c.checksum
    per_user = np.bincount(a.test.users, minlength=data.num_users)
    assert per_user.min() >= 1  # 15 events each: floor(1.5) = 1 test event per user


def test_leave_one_out_takes_latest(planted):
    data = planted[0]
    split = leave_one_out_split(data)
    last = {}
    for u, t in zip(data.users, data.timestamps, strict=True):
        last[u] = max(last.get(u, t), t)
    assert all(t == last[u] for u, t in zip(split.test.users, split.test.timestamps, strict=True))


def test_temporal_cut_orders_parts(planted):
    split = temporal_split(planted[0])
    assert split.train.timestamps.max() <= split.valid.timestamps.min()
    assert split.valid.timestamps.max() <= split.test.timestamps.min()


def test_save_load_round_trip_and_checksum(tmp_path, planted_split):
    path = save_split(planted_split, tmp_path / "split.npz")
    loaded = load_split(path)
    assert loaded.checksum == planted_split.checksum
    assert list(loaded.train.item_ids[:3]) == list(planted_split.train.item_ids[:3])


def test_bad_ratios_rejected(planted):
    with pytest.raises(ValueError, match="ratios"):
        random_split(planted[0], (0.5, 0.1, 0.1))
