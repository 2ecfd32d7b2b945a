"""Exposures from a handful of hand-written served slates: options, targets, skipped slates, history."""

import pandas as pd
import pytest

from recsys.data import from_frame
from serving.feedback import FeedbackStore, export_log
from simulators.users.feedback_exposures import (
    parse_since,
    read_export_csv,
    read_store_events,
    served_exposures,
)


def base_log():
    """u1 had b then a, u2 c then d; user x makes e, f, g part of the catalog."""
    return from_frame(
        pd.DataFrame(
            {
                "user_id": ["u1", "u1", "u2", "u2", "x", "x", "x"],
                "item_id": ["a", "b", "c", "d", "e", "f", "g"],
                "rating": [3.0, 4.0, 5.0, 2.0, 1.0, 1.0, 1.0],
                "timestamp": [2, 1, 1, 2, 1, 2, 3],
            }
        )
    )


def shown(slate, user, items, time, start=0):
    return [("impression", user, item, time, start + p, slate) for p, item in enumerate(items)]


def click(slate, user, item, time):
    return [("click", user, item, time, None, slate)]


def events(*groups):
    rows = [row for group in groups for row in group]
    return pd.DataFrame(
        {
            "order": range(len(rows)),
            "type": [r[0] for r in rows],
            "user": [r[1] for r in rows],
            "item": [r[2] for r in rows],
            "time": [float(r[3]) for r in rows],
            "position": [float("nan") if r[4] is None else float(r[4]) for r in rows],
            "slate": [r[5] or "" for r in rows],
        }
    )


def test_targets_ordering_skipped_slates_and_history():
    log = events(
        list(reversed(shown("s1", "u1", ["c", "d", "e"], 10))),  # stored out of order: sorted by position
        click("s1", "u1", "d", 11),
        shown("s2", "u1", ["a", "e", "f"], 20),  # no click
        shown("s3", "u1", ["f", "g", "c"], 30),
        click("s3", "u1", "zzz", 31),  # clicked an item it did not show
        shown("s4", "u1", ["e", "f", "g"], 40),
        click("s4", "u1", "g", 41),
        click("s4", "u1", "f", 42),  # a second click: the earliest (g) is the target
        click("", "u1", "a", 45),  # a click outside any slate: history only
        shown("s5", "u1", ["a", "b", "c"], 50),
        click("s5", "u1", "b", 51),
        shown("s6", "u2", ["a", "b"], 60),  # another length
        click("s6", "u2", "a", 61),
        shown("s7", "new", ["e", "f", "g"], 70),  # a user the base log lacks
        click("s7", "new", "e", 71),
        shown("s8", "u2", ["a", "zzz", "b"], 80),  # shows an item the base log lacks
        click("s8", "u2", "a", 81),
        click("s9", "u2", "a", 90),  # a click naming a slate with no impressions
    )
    exposures, report = served_exposures(log, base_log(), history=4)
    assert report.n == 3 and report.slates == 9 and report.kept == 4
    assert report.dropped == {
        "no_impressions": 1,
        "malformed": 0,
        "no_click": 1,
        "click_not_shown": 1,
        "unknown_item": 1,
        "length": 1,
    }
    assert report.lengths == {3: 4, 2: 1} and report.several_clicks == 1 and report.new_users == 1
    assert report.history_left_out == 1  # the click on zzz
    assert [(e.user, e.options, e.target) for e in exposures] == [
        ("u1", ("c", "d", "e"), 1),
        ("u1", ("e", "f", "g"), 2),
        ("u1", ("a", "b", "c"), 1),
        ("new", ("e", "f", "g"), 0),
    ]
    # history: u1's base events oldest first (b at t=1, a at t=2), then earlier store clicks as 5.0
    assert exposures[0].history == (("b", 4.0), ("a", 3.0))
    assert exposures[1].history == (("b", 4.0), ("a", 3.0), ("d", 5.0))
    assert exposures[2].history == (("d", 5.0), ("g", 5.0), ("f", 5.0), ("a", 5.0))  # the last 4
    assert exposures[3].history == ()
    assert "no_click 1" in report.summary() and "n = 3" in report.summary()


def test_a_given_n_and_a_click_rating():
    log = events(
        shown("s1", "u2", ["a", "b"], 1), click("s1", "u2", "b", 2), shown("s2", "u2", ["c", "a"], 3),
        click("s2", "u2", "a", 4), shown("s3", "u2", ["a", "b", "c"], 5), click("s3", "u2", "c", 6),
    )  # fmt: skip
    exposures, report = served_exposures(log, base_log(), n=2, click_rating=1.0)
    assert [e.target for e in exposures] == [1, 1] and report.dropped["length"] == 1
    assert exposures[1].history == (("c", 5.0), ("d", 2.0), ("b", 1.0))


def test_malformed_slates_and_no_usable_slate():
    log = events(
        shown("s1", "u1", ["a", "a"], 1),  # a repeated item
        click("s1", "u1", "a", 2),
        shown("s2", "u1", ["a", "b"], 3)[:1] + [("impression", "u1", "b", 3, None, "s2")],  # no position
        click("s2", "u1", "b", 4),
        shown("s3", "u1", ["c"], 5) + shown("s3", "u2", ["d"], 5, start=1),  # two users
        click("s3", "u1", "c", 6),
        shown("s4", "u1", ["a", "b"], 7),
    )
    with pytest.raises(ValueError, match="no served slate can be evaluated") as error:
        served_exposures(log, base_log())
    assert "malformed 3" in str(error.value) and "no_click 1" in str(error.value)


def test_the_store_and_its_export_give_the_same_exposures(tmp_path):
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    store = FeedbackStore(url)
    rows = []
    for t, (items, clicked) in enumerate(
        [(["a", "b", "c"], "b"), (["d", "e", "f"], "f"), (["a", "c", "g"], None)]
    ):
        for p, item in enumerate(items):
            rows.append(
                {
                    "client_event_id": f"{t}:{p}:i",
                    "type": "impression",
                    "user_id": "u1",
                    "item_id": item,
                    "position": p,
                    "slate_id": f"x:{t}:u1",
                    "event_time": float(t),
                }
            )
            if item == clicked:
                rows.append(
                    {
                        "client_event_id": f"{t}:{p}:c",
                        "type": "click",
                        "user_id": "u1",
                        "item_id": item,
                        "slate_id": f"x:{t}:u1",
                        "event_time": float(t),
                    }
                )
    rows.append({"client_event_id": "r", "type": "rating", "user_id": "u1", "item_id": "a", "rating": 4.0,
                 "event_time": 0.5})  # fmt: skip
    store.add(rows)
    export_log(store, tmp_path / "slates.csv", types=("impression", "click"), slates=True)
    store.close()
    from_db, report = served_exposures(read_store_events(url), base_log())
    from_csv, _ = served_exposures(read_export_csv(tmp_path / "slates.csv"), base_log())
    assert from_db == from_csv
    assert [(e.options, e.target) for e in from_db] == [(("a", "b", "c"), 1), (("d", "e", "f"), 2)]
    assert from_db[1].history[-1] == ("b", 5.0) and report.dropped["no_click"] == 1
    late_db, _ = served_exposures(read_store_events(url, since=1.0), base_log())
    late_csv, _ = served_exposures(read_export_csv(tmp_path / "slates.csv", since=1.0), base_log())
    assert late_db == late_csv and [e.options for e in late_db] == [("d", "e", "f")]  # slate 0 was at t=0


def test_since_reads_seconds_and_dates():
    assert parse_since("86400") == 86400.0
    assert parse_since("1970-01-02") == 86400.0  # UTC when the text names no zone
    assert parse_since("1970-01-02T00:00+01:00") == 82800.0
    with pytest.raises(ValueError, match="neither Unix seconds nor a date"):
        parse_since("last tuesday")


def test_unreadable_sources_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no feedback database"):
        read_store_events(f"sqlite:///{tmp_path / 'none.db'}")
    (tmp_path / "plain.csv").write_text("user_id,item_id,rating,timestamp,event\nu,i,5,1,click\n")
    with pytest.raises(ValueError, match=r"--slates"):
        read_export_csv(tmp_path / "plain.csv")
