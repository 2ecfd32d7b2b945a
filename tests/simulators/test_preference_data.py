"""Preference data builders on tiny synthetic and hand-made logs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from recsys.data import Interactions
from recsys.synthetic import make_interactions
from simulators.preference_data import build_preferences, sft_view


@pytest.fixture(scope="module")
def log() -> Interactions:
    return make_interactions(num_users=40, num_items=60, events_per_user=12, seed=3)[0]


def texts(log: Interactions) -> list[str]:
    return [f"m{i}" for i in range(log.num_items)]


def test_completions_follow_the_prompt_after_one_space(log):
    data = build_preferences(log, "pairwise", texts(log), max_per_user=1)
    row = data.train[0]
    assert row["prompt"].endswith("\nAnswer:") and row["chosen"].startswith(" m")


def history_of(prompt: str) -> list[str]:
    line = re.search(r"Recently you chose: (.*)\.\n", prompt).group(1)
    return [] if line == "nothing yet" else [part.split(" (rated")[0] for part in line.split("; ")]


def shown_of(prompt: str) -> list[str]:
    return re.search(r"You are shown: (.*)\.\n", prompt).group(1).split("; ")


def hand_log() -> Interactions:
    """One user: A at t=1 (5), B and C both at t=2 (4 and 1), D at t=3 (2), E at t=4 (5)."""
    return Interactions(
        users=np.zeros(5, dtype=np.int64),
        items=np.array([0, 1, 2, 3, 4]),
        num_users=1,
        num_items=8,
        ratings=np.array([5, 4, 1, 2, 5], dtype=np.float32),
        timestamps=np.array([1, 2, 2, 3, 4]),
    )


HAND_TEXTS = ["A", "B", "C", "D", "E", "F", "G", "H"]


def test_prompts_show_only_strictly_earlier_events():
    data = build_preferences(hand_log(), "binary", HAND_TEXTS, eval_fraction=0.0)
    rows = {row["completion"].lstrip(): row for row in data.train}
    assert history_of(rows["B"]["prompt"]) == ["A"]  # C happened at the same instant: not shown
    assert history_of(rows["C"]["prompt"]) == ["A"]
    assert history_of(rows["D"]["prompt"]) == ["A", "B", "C"]
    assert "A" not in rows  # no earlier event, min_history=1
    assert [rows[k]["label"] for k in "BCDE"] == [True, False, False, True]
    for item, row in rows.items():  # the item is shown among fillers the user never chose
        assert item in shown_of(row["prompt"]) and set(shown_of(row["prompt"])) - {item} <= {"F", "G", "H"}


def test_pairwise_rows_hold_a_chosen_and_a_rejected_item_from_the_exposure(log):
    data = build_preferences(log, "pairwise", texts(log), list_size=4, seed=1)
    assert set(data.train.column_names) == {"prompt", "chosen", "rejected", "user", "timestamp"}
    frame = log.to_frame()
    for row in data.train.select(range(30)):
        shown = shown_of(row["prompt"])
        assert len(shown) == 4 and row["chosen"][1:] in shown and row["rejected"][1:] in shown
        assert row["chosen"] != row["rejected"]
        user_events = frame[frame.user_id == row["user"]]
        seen = {f"m{log.item_ids.tolist().index(i)}" for i in user_events.item_id}
        assert row["rejected"][1:] not in seen  # an unseen item, drawn by popularity
        chosen_event = user_events[user_events.timestamp == row["timestamp"]]
        assert chosen_event.rating.iloc[0] >= 4
        assert set(history_of(row["prompt"])) <= seen


def test_pairwise_disliked_rejects_a_later_low_rated_item():
    data = build_preferences(
        hand_log(), "pairwise", HAND_TEXTS, rejected_from="disliked", list_size=3, eval_fraction=0.0
    )
    rows = {row["chosen"][1:]: row for row in data.train}
    assert set(rows) == {"B"}  # liked events with history are B and E; E has no later dislike
    assert data.report["no_disliked"] == 1
    assert rows["B"]["rejected"] in {" C", " D"}  # rated <= 2 at or after t=2, never in B's history
    assert set(shown_of(rows["B"]["prompt"])) - {"B", "C", "D"} <= {"F", "G", "H"}  # filler unseen


def test_split_is_by_user_and_seeded(log):
    first = build_preferences(log, "pairwise", texts(log), eval_fraction=0.25, seed=5)
    second = build_preferences(log, "pairwise", texts(log), eval_fraction=0.25, seed=5)
    assert first.train.to_list() == second.train.to_list()
    assert set(first.train["user"]).isdisjoint(first.eval["user"])
    assert first.report["eval_users"] == len(set(first.eval["user"])) > 0
    assert first.report["train_examples"] + first.report["eval_examples"] == first.report["examples"]
    other = build_preferences(log, "pairwise", texts(log), eval_fraction=0.25, seed=6)
    assert set(other.eval["user"]) != set(first.eval["user"])


def test_every_layout_holds_out_the_same_users(log):
    pairwise = build_preferences(log, "pairwise", texts(log), eval_fraction=0.3, seed=2)
    binary = build_preferences(log, "binary", texts(log), eval_fraction=0.3, seed=2)
    listwise = build_preferences(log, "listwise", texts(log), eval_fraction=0.3, seed=2)
    layouts = (pairwise, binary, listwise)
    held = set().union(*(data.eval["user"] for data in layouts))
    trained = set().union(*(data.train["user"] for data in layouts))
    assert held and trained and held.isdisjoint(trained)


def test_binary_labels_follow_the_rating_thresholds(log):
    data = build_preferences(log, "binary", texts(log), like=4, dislike=2, eval_fraction=0.0)
    frame = log.to_frame().set_index(["user_id", "timestamp"])
    for row in data.train.select(range(50)):
        rating = frame.loc[(row["user"], row["timestamp"]), "rating"]
        assert row["label"] == (rating >= 4) and (rating >= 4 or rating <= 2)
    assert data.report["neutral"] == int(((log.ratings == 3) & (np.arange(len(log)) % 12 > 0)).sum())


def test_binary_on_an_implicit_log_pairs_each_event_with_an_unseen_item(log):
    implicit = Interactions(log.users, log.items, log.num_users, log.num_items, timestamps=log.timestamps)
    data = build_preferences(implicit, "binary", texts(log), max_per_user=3, eval_fraction=0.0)
    labels = data.train["label"]
    assert sum(labels) == len(labels) - sum(labels) == 3 * log.num_users
    positive, negative = data.train[0], data.train[1]  # one exposure holds both
    assert positive["prompt"] == negative["prompt"]
    assert {positive["completion"][1:], negative["completion"][1:]} <= set(shown_of(positive["prompt"]))


def test_listwise_lists_the_next_rated_items_with_their_ratings(log):
    data = build_preferences(log, "listwise", texts(log), list_size=3, max_per_user=2, eval_fraction=0.0)
    frame = log.to_frame()
    for row in data.train:
        assert len(row["completions"]) == len(row["relevance"]) == 3
        assert [" " + text for text in shown_of(row["prompt"])] == row["completions"]
        assert len(set(row["relevance"])) > 1  # tied lists are skipped
        events = frame[(frame.user_id == row["user"]) & (frame.timestamp >= row["timestamp"])]
        ratings = dict(zip(events.item_id, events.rating, strict=True))
        for text, relevance in zip([c[1:] for c in row["completions"]], row["relevance"], strict=True):
            assert ratings[log.item_ids[int(text[1:])]] == relevance
    assert data.report["anchors"] == len(data.train)


def test_judgments_carry_the_review_and_its_polarity():
    reviews = ["fine", "great fun", "boring and long", None, "loved it"]
    data = build_preferences(hand_log(), "judgments", HAND_TEXTS, reviews=reviews, eval_fraction=0.0)
    rows = {row["completion"][1:]: row for row in data.train}
    assert set(rows) == {"B", "C", "E"}  # D has no review; A has no history
    assert rows["C"]["judgment"] == "rated 1/5: boring and long" and rows["C"]["label"] is False
    assert rows["B"]["label"] is True
    assert data.report["no_review"] == 1


def test_personas_open_the_prompt(log):
    personas = [f"user number {u}" for u in range(log.num_users)]
    data = build_preferences(log, "binary", texts(log), personas=personas, max_per_user=1, eval_fraction=0.0)
    row = data.train[0]
    assert row["prompt"].startswith(f"You are a user: user number {row['user'][1:]}.")


def test_sft_view_targets_the_chosen_item(log):
    data = build_preferences(log, "pairwise", texts(log), max_per_user=1)
    sft = sft_view(data.train)
    assert sft.column_names == ["prompt", "completion"] and sft["completion"] == data.train["chosen"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "listwise"}, "need a log with ratings"),
        ({"kind": "binary", "item_texts": ["x"]}, "item_texts has 1 entries"),
        ({"kind": "judgments"}, "need reviews"),
        ({"kind": "pointwise"}, "unknown kind"),
    ],
)
def test_bad_arguments_raise(log, kwargs, message):
    implicit = Interactions(log.users, log.items, log.num_users, log.num_items, timestamps=log.timestamps)
    target = implicit if kwargs["kind"] == "listwise" else log
    with pytest.raises(ValueError, match=message):
        build_preferences(target, **kwargs)


def test_saved_preferences_load_back(tmp_path, log):
    from simulators.preference_data import load_preferences

    data = build_preferences(log, "listwise", texts(log), max_per_user=1, eval_fraction=0.2)
    loaded = load_preferences(data.save(tmp_path / "prefs"))
    assert loaded.kind == "listwise" and loaded.report == data.report
    assert loaded.train.to_list() == data.train.to_list() and loaded.eval.to_list() == data.eval.to_list()


@pytest.mark.data
def test_movielens_100k_texts_and_personas(shared_data):
    from recsys.movie_catalog import read_ml100k_items
    from recsys.readers import read_movielens_100k
    from simulators.preference_data import movielens_item_texts, read_ml100k_personas

    root = shared_data / "ml-100k"
    log = read_movielens_100k(root / "u.data.gz")
    catalog = read_ml100k_items(root / "u.item", root / "u.genre")
    item_texts = movielens_item_texts(log, catalog)
    personas = read_ml100k_personas(root / "u.user", log)
    assert item_texts[list(log.item_ids).index("1")] == "Toy Story (1995)"
    assert personas[list(log.user_ids).index("1")] == "a 24-year-old man, technician"
    data = build_preferences(log, "pairwise", item_texts, personas, max_per_user=2, seed=0)
    assert data.report["users"] > 900 and len(data.eval) > 0  # a user whose events share one time has none


def ml1m_log(users: list[int]) -> Interactions:
    import pandas as pd

    from recsys.data import from_frame

    frame = pd.DataFrame({"user": users, "item": [1] * len(users), "rating": [4.0] * len(users)})
    return from_frame(frame, user_col="user", item_col="item", time_col=None)


def test_ml1m_personas_read_the_age_and_occupation_codes(tmp_path):
    from simulators.preference_data import read_ml1m_personas

    path = tmp_path / "users.dat"
    path.write_text("1::F::1::10::48067\n2::M::25::12::70072\n", encoding="latin-1")
    assert read_ml1m_personas(path, ml1m_log([2, 1])) == [
        "a woman aged under 18, K-12 student",
        "a man aged 25-34, programmer",
    ]
    with pytest.raises(ValueError, match="no line for user"):
        read_ml1m_personas(path, ml1m_log([3]))
    path.write_text("1::F::1::10::48067\n2::M::26::12::70072\n", encoding="latin-1")
    with pytest.raises(ValueError, match=r"users.dat, line 2: expected"):
        read_ml1m_personas(path, ml1m_log([1]))
