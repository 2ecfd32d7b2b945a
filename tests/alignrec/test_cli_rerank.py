"""``alignrec rerank``: a two-stage ranker fitted on a run's validation items, tested and saved."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from alignrec.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rerank") / "run"
    args = ["train", "-m", "pop", "-m", "itemknn", "-m", "bpr", "--epochs", "5", "--dim", "16", "--no-track"]
    result = runner.invoke(app, [*args, "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_rerank_fits_tests_and_saves_a_servable_ranker(run, tmp_path):
    from fastapi.testclient import TestClient

    from recsys.recommender import Recommender
    from recsys.rerank import TwoStageRanker
    from serving.config import Settings
    from serving.main import create_app

    items = Recommender.load(run / "bpr" / "recommender").item_ids
    catalog = tmp_path / "items.csv"
    pd.DataFrame(
        {"item_id": items, "genres": ["a|b" if i % 2 else "c" for i in range(len(items))], "year": 1990}
    ).to_csv(catalog, index=False)
    out = tmp_path / "ranker"
    args = ["rerank", "--run", str(run), "-r", "bpr=30", "-r", "itemknn=20", "--items", str(catalog)]
    result = runner.invoke(
        app, [*args, "--genres-col", "genres", "--year-col", "year", "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "two-stage (bpr 30 + itemknn 20)" in result.output and "tuning users: NDCG@10" in result.output
    ranker = TwoStageRanker.load(out)
    assert ranker.sources == ("bpr", "itemknn") and ranker.depths == (30, 20)
    assert ranker.tables.item_genres.shape == (len(items), 3) and set(ranker.tables.item_year) == {1990.0}
    assert 0.0 <= ranker.info["test_ndcg@10"] <= 1.0 and ranker.info["rounds"] >= 1
    retrievers = {"bpr": str(run / "bpr" / "recommender"), "itemknn": str(run / "itemknn" / "recommender")}
    settings = Settings(
        model_dir=run / "bpr" / "recommender",
        ranker_dir=out,
        retriever_dirs=retrievers,
        feedback_url=f"sqlite:///{tmp_path / 'feedback.db'}",
    )
    with TestClient(create_app(settings)) as client:
        user = str(Recommender.load(run / "bpr" / "recommender").user_ids[0])
        answer = client.post("/v1/recommendations", json={"user_id": user, "k": 5}).json()
    assert answer["stage"] == "reranker" and len(answer["items"]) == 5


def test_rerank_defaults_to_every_trained_model_but_pop(run, tmp_path):
    from recsys.rerank import TwoStageRanker

    result = runner.invoke(app, ["rerank", "--run", str(run), "--out", str(tmp_path / "r"), "--quiet"])
    assert result.exit_code == 0, result.output
    ranker = TwoStageRanker.load(tmp_path / "r")
    assert ranker.sources == ("bpr", "itemknn") and ranker.depths == (50, 50)
    assert np.isfinite(ranker.info["tune_ndcg@10"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "lightgcn=10"], "no trained model ['lightgcn']"),
        (["-r", "bpr"], "expected NAME=DEPTH"),
        (["-r", "bpr=0"], "expected NAME=DEPTH"),
        (["-r", "bpr=5", "-r", "bpr=6"], "given twice"),
    ],
)
def test_rerank_refuses_bad_retrievers(run, args, message):
    result = runner.invoke(app, ["rerank", "--run", str(run), *args])
    assert result.exit_code != 0
    assert message in (result.output + str(result.exception))


def test_rerank_needs_a_run(tmp_path):
    result = runner.invoke(app, ["rerank", "--run", str(tmp_path / "none")])
    assert result.exit_code != 0 and "no run folder there" in str(result.exception)
