"""The loop closed: feedback posted to the service, exported, retrained on, served."""

import pandas as pd
from typer.testing import CliRunner

from alignrec.cli import app as alignrec
from alignrec.commands import feedback
from recsys.recommender import Recommender

runner = CliRunner()


def test_retraining_on_exported_feedback_changes_recommendations(make_client, served, tmp_path, admin):
    client = make_client()
    before = client.post("/v1/recommendations", json={"user_id": "newcomer", "k": 5}).json()
    assert before["stage"] == "cold_start"
    # The newcomer clicks and buys the items that user u0 had: she should now look like u0.
    liked = served.log.loc[served.log["user_id"] == "u0", "item_id"].tolist()
    events = [
        {"client_event_id": f"n{i}-{kind}", "type": kind, "user_id": "newcomer", "item_id": item}
        for i, item in enumerate(liked)
        for kind in ("click", "purchase")
    ]
    assert client.post("/v1/feedback", json={"events": events}).json()["stored"] == len(events)

    exported = tmp_path / "feedback.csv"
    db = str(client.app.state.serving.store.url)
    result = runner.invoke(
        feedback.app, ["export", "--db", db, "--out", str(exported), "--since", "2020-01-01"]
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote {len(events)} events" in result.output
    base = served.log.assign(event="base")
    combined = tmp_path / "combined.csv"
    pd.concat([base, pd.read_csv(exported)]).to_csv(combined, index=False)

    run = tmp_path / "run"
    args = ["train", "--data", str(combined), "-m", "itemknn", "--out", str(run), "--no-track"]
    result = runner.invoke(alignrec, args)
    assert result.exit_code == 0, result.output
    reload = client.post(
        "/v1/admin/reload", headers=admin, json={"model_dir": str(run / "itemknn" / "recommender")}
    )
    assert reload.status_code == 200
    after = client.post("/v1/recommendations", json={"user_id": "newcomer", "k": 5}).json()
    assert (after["stage"], after["source"]) == ("retrieval", "exact")
    assert after["items"] != before["items"]
    retrained = Recommender.load(run / "itemknn" / "recommender")
    known = {str(retrained.item_ids[i]) for i in retrained.known[retrained.user_index("newcomer")].indices}
    assert known and known <= set(liked) and not known & set(after["items"])  # what she had is not re-offered


def test_export_needs_an_existing_database(tmp_path):
    result = runner.invoke(
        feedback.app, ["export", "--db", f"sqlite:///{tmp_path}/none.db", "--out", "x.csv"]
    )
    assert result.exit_code != 0
    assert "no feedback database" in str(result.exception)
    result = runner.invoke(
        feedback.app, ["export", "--db", "sqlite:///x.db", "--out", "x.csv", "--since", "soon"]
    )
    assert result.exit_code == 2 and "--since" in result.output
