"""Preference data from a handful of hand-written served slates: pairs, labels and lists of what was
clicked and passed over, prompts, counts, the user split and the errors."""

import pandas as pd
import pytest

from recsys.data import from_frame
from simulators.preference_data import held_out_users, load_preferences
from simulators.slate_preferences import build_slate_preferences
from simulators.users.feedback_exposures import served_slates


def base_log(ratings: bool = True):
    """u1 had b then a, u2 c then d; user x makes e, f, g part of the catalog."""
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u2", "x", "x", "x"],
            "item_id": ["a", "b", "c", "d", "e", "f", "g"],
            "rating": [3.0, 4.0, 5.0, 2.0, 1.0, 1.0, 1.0],
            "timestamp": [2, 1, 1, 2, 1, 2, 3],
        }
    )
    return from_frame(frame if ratings else frame.drop(columns="rating"))


def events():
    """s1: u1 clicks d (middle); s2: u1 clicks e (top); s3: u2 clicks c then a; s4: no click;
    s5: a user the base log lacks clicks g (bottom)."""
    rows = []
    for slate, user, items, clicks, time in [
        ("s1", "u1", "cde", "d", 10),
        ("s2", "u1", "efg", "e", 20),
        ("s3", "u2", "abc", "ca", 30),
        ("s4", "u2", "efg", "", 40),
        ("s5", "new", "efg", "g", 50),
    ]:
        rows += [("impression", user, item, time, p, slate) for p, item in enumerate(items)]
        rows += [("click", user, item, time + 1 + k, None, slate) for k, item in enumerate(clicks)]
    return pd.DataFrame(
        {
            "order": range(len(rows)),
            "type": [r[0] for r in rows],
            "user": [r[1] for r in rows],
            "item": [r[2] for r in rows],
            "time": [float(r[3]) for r in rows],
            "position": [float("nan") if r[4] is None else float(r[4]) for r in rows],
            "slate": [r[5] for r in rows],
        }
    )


def build(kind, **options):
    options.setdefault("eval_fraction", 0.0)
    return build_slate_preferences(events(), base_log(), kind, **options)


def triples(prefs):
    rows = prefs.train.to_list()
    return [(r["slate"], r["chosen"].strip(), r["rejected"].strip()) for r in rows]


def test_served_slates_name_every_click_earliest_first():
    slates, report = served_slates(events(), base_log())
    assert [(s.slate, s.clicked) for s in slates] == [
        ("s1", (1,)),
        ("s2", (0,)),
        ("s3", (2, 0)),
        ("s5", (2,)),
    ]
    assert slates[2].exposure.target == 2 and report.several_clicks == 1


def test_pairwise_pairs_each_click_with_each_passed_over_item():
    prefs = build("pairwise")
    assert triples(prefs) == [
        ("s1", "item d", "item c"),
        ("s1", "item d", "item e"),
        ("s2", "item e", "item f"),
        ("s2", "item e", "item g"),
        ("s3", "item a", "item b"),  # the second click is chosen too, never rejected
        ("s3", "item c", "item b"),
        ("s5", "item g", "item e"),
        ("s5", "item g", "item f"),
    ]
    assert prefs.report["examples"] == 8 and prefs.report["slates_used"] == 4
    assert prefs.report["dropped_no_click"] == 1 and prefs.report["several_clicks"] == 1
    assert prefs.report["new_users"] == 1 and prefs.report["users"] == 3


def test_above_keeps_only_items_shown_above_the_last_click():
    prefs = build("pairwise", passed_over="above")
    assert triples(prefs) == [
        ("s1", "item d", "item c"),
        ("s3", "item a", "item b"),
        ("s3", "item c", "item b"),
        ("s5", "item g", "item e"),
        ("s5", "item g", "item f"),
    ]
    assert prefs.report["no_passed_over"] == 1 and prefs.report["slates_used"] == 3  # s2: click at the top


def test_prompts_list_the_slate_in_the_order_shown_after_the_history():
    prefs = build("pairwise", personas=["one", "two", "ex"])
    prompts = {row["slate"]: row["prompt"] for row in prefs.train.to_list()}
    assert prompts["s1"] == (
        "You are a user: one.\nRecently you chose: item b (rated 4/5); item a (rated 3/5).\n"
        "You are shown: item c; item d; item e.\nWhich one do you choose?\nAnswer:"
    )
    assert "item a (rated 3/5); item d (rated 5/5).\nYou are shown: item e; item f; item g." in prompts["s2"]
    assert prompts["s5"].startswith("Recently you chose: nothing yet.")  # no persona, no history
    implicit = build_slate_preferences(events(), base_log(ratings=False), "pairwise", eval_fraction=0.0)
    assert "Recently you chose: item b; item a.\n" in implicit.train[0]["prompt"]


def test_binary_labels_clicks_and_passed_over_items():
    rows = build("binary", passed_over="above").train.to_list()
    assert [(r["slate"], r["completion"], r["label"]) for r in rows] == [
        ("s1", " item c", False),
        ("s1", " item d", True),
        ("s3", " item a", True),
        ("s3", " item b", False),
        ("s3", " item c", True),
        ("s5", " item e", False),
        ("s5", " item f", False),
        ("s5", " item g", True),
    ]


def test_listwise_lists_the_considered_items_with_click_relevance():
    rows = build("listwise", passed_over="above").train.to_list()
    assert [(r["slate"], r["completions"], r["relevance"]) for r in rows] == [
        ("s1", [" item c", " item d"], [0.0, 1.0]),
        ("s3", [" item a", " item b", " item c"], [1.0, 0.0, 1.0]),
        ("s5", [" item e", " item f", " item g"], [0.0, 0.0, 1.0]),
    ]


def test_max_per_user_samples_slates_with_a_seed():
    prefs = build("listwise", max_per_user=1)
    assert prefs.report["over_max_per_user"] == 1 and prefs.report["slates_used"] == 3
    assert prefs.train.to_list() == build("listwise", max_per_user=1).train.to_list()
    assert sum(row["user"] == "u1" for row in prefs.train.to_list()) == 1


def test_users_are_held_out_as_the_log_builder_holds_them_out():
    prefs = build("pairwise", eval_fraction=0.5, seed=3)
    expected = held_out_users(["u1", "u2", "x"], 0.5, 3) | held_out_users(["new"], 0.5, 3)
    assert set(prefs.eval["user"]) == expected & {"u1", "u2", "new"} == {"u2"}
    assert not set(prefs.train["user"]) & set(prefs.eval["user"])
    assert prefs.report["train_examples"] + prefs.report["eval_examples"] == 8


def test_errors_name_what_is_missing():
    with pytest.raises(ValueError, match="judgments \\(CUT\\) need review texts"):
        build("judgments")
    with pytest.raises(ValueError, match="no served slate gives a pairwise example"):
        only_top = events()
        build_slate_preferences(
            only_top[only_top["slate"] == "s2"], base_log(), "pairwise", passed_over="above"
        )
    with pytest.raises(ValueError, match="no served slate can be evaluated"):
        no_click = events()
        build_slate_preferences(no_click[no_click["type"] == "impression"], base_log(), "pairwise")


def test_a_folder_without_eval_examples_loads_back(tmp_path):
    prefs = build("binary")
    loaded = load_preferences(prefs.save(tmp_path / "binary"))
    assert loaded.train.to_list() == prefs.train.to_list() and len(loaded.eval) == 0


def test_holding_out_every_user_with_slates_is_refused():
    with pytest.raises(ValueError, match="all 3 users with usable slates are held out"):
        build_slate_preferences(events(), base_log(), "pairwise", eval_fraction=0.99)
