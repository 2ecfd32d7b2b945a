"""The recsys commands end to end on synthetic data, through typer's test runner."""

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from alignrec.cli import app

runner = CliRunner()


def test_train_evaluate_recommend(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        ["train", "-m", "pop", "-m", "bpr", "--epochs", "2", "--dim", "8", "--no-track", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "N@10" in result.output and (out / "bpr" / "recommender" / "manifest.json").exists()
    result = runner.invoke(app, ["evaluate", "--run", str(out), "-m", "bpr", "--ks", "5,10"])
    assert result.exit_code == 0, result.output
    assert "recall" in result.output and "@5" in result.output
    result = runner.invoke(app, ["recommend", "--run", str(out), "-m", "bpr", "--user", "u3", "-k", "4"])
    assert result.exit_code == 0, result.output
    assert result.output.count("│ i") == 4  # four item rows, ids from the synthetic log
    assert "answered by: exact" in result.output
    result = runner.invoke(
        app,
        [
            "recommend",
            "--run",
            str(out),
            "-m",
            "bpr",
            "--recent",
            "i3",
            "--recent",
            "i7",
            "--recent",
            "nope",
            "-k",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "item_to_item" in result.output and result.output.count("│ i") == 3
    assert "ignored: nope" in result.output


def test_unknown_user_gets_the_popularity_answer(tmp_path):
    out = tmp_path / "run"
    runner.invoke(app, ["train", "-m", "pop", "--no-track", "--out", str(out)])
    result = runner.invoke(app, ["recommend", "--run", str(out), "-m", "pop", "--user", "ghost", "-k", "3"])
    assert result.exit_code == 0, result.output
    assert (
        "answered by: popularity" in result.output and "'ghost' is not in the training log" in result.output
    )
    assert result.output.count("│ i") == 3


def test_missing_run_folder_is_a_message(tmp_path):
    result = runner.invoke(app, ["recommend", "--run", str(tmp_path / "none"), "--user", "u1"])
    assert result.exit_code != 0
    assert "no run folder there" in str(result.exception)


def test_bad_log_reports_line(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,rating\n1,2,5\n1,3,five\n")
    result = runner.invoke(
        app,
        ["train", "--data", str(log), "--rating-col", "rating", "--no-track", "--out", str(tmp_path / "r")],
    )
    assert result.exit_code != 0
    assert "line 3" in str(result.exception)


def test_tab_separated_log_is_detected_and_sep_overrides(tmp_path):
    log = tmp_path / "user_artists.dat"
    rows = [f"{u}\t{i}\t{(u * 7 + i) % 5 + 1}" for u in range(30) for i in range(u % 7, u % 7 + 8)]
    log.write_text("userID\titemID\tweight\n" + "\n".join(rows) + "\n")
    args = [
        "train",
        "--data",
        str(log),
        "--user-col",
        "userID",
        "--item-col",
        "itemID",
        "-m",
        "pop",
        "--no-track",
    ]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    wrong = runner.invoke(app, [*args, "--sep", ",", "--out", str(tmp_path / "b")])
    assert wrong.exit_code != 0 and "set the separator" in str(wrong.exception)


def test_threshold_without_rating_column_names_the_option(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,stars\n1,2,5\n1,3,4\n")
    result = runner.invoke(
        app, ["train", "--data", str(log), "--threshold", "4", "--no-track", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code != 0
    assert "add --rating-col NAME" in result.output and "stars" in result.output


def test_given_split_files_filtered_users_and_evaluate_all(tmp_path):
    rng = np.random.default_rng(0)
    rows = {(f"u{u}", f"i{i}") for u in range(40) for i in rng.choice(30, 12, replace=False)}
    frame = pd.DataFrame(sorted(rows), columns=["user_id", "item_id"]).sample(frac=1.0, random_state=0)
    cut1, cut2 = int(0.8 * len(frame)), int(0.9 * len(frame))
    parts = [frame.iloc[:cut1], frame.iloc[cut1:cut2], frame.iloc[cut2:]]
    files = []
    for name, part in zip(("train", "valid", "test"), parts, strict=True):
        part.to_csv(tmp_path / f"{name}.tsv", sep="\t", index=False)
        files.append(str(tmp_path / f"{name}.tsv"))
    out = tmp_path / "given"
    args = [
        "train",
        "--split-file",
        ",".join(files),
        "-m",
        "pop",
        "-m",
        "bpr",
        "--epochs",
        "1",
        "--dim",
        "4",
        "--no-track",
        "--train-seed",
        "5",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "given files split" in result.output
    clash = runner.invoke(app, [*args, "--min-user", "3"], env={"COLUMNS": "200"})
    assert clash.exit_code != 0 and "drop --min-user" in " ".join(clash.output.split())
    both = runner.invoke(app, ["evaluate", "--run", str(out), "--ks", "5"])
    assert both.exit_code == 0, both.output
    assert "bpr:" in both.output and "pop:" in both.output

    log = tmp_path / "log.csv"
    pd.concat([frame, pd.DataFrame({"user_id": ["rare"], "item_id": ["i1"]})]).to_csv(log, index=False)
    kcore = tmp_path / "kcore"
    trained = runner.invoke(
        app, ["train", "--data", str(log), "--min-user", "5", "-m", "pop", "--no-track", "--out", str(kcore)]
    )
    assert trained.exit_code == 0, trained.output
    assert "Filtered out: 1 users" in trained.output
    asked = runner.invoke(app, ["recommend", "--run", str(kcore), "-m", "pop", "--user", "rare"])
    assert asked.exit_code == 0 and "filtered out when training" in asked.output and "k-core" in asked.output


def test_tune_searches_on_validation_and_retrains(tmp_path):
    out = tmp_path / "tuned"
    result = runner.invoke(app, ["tune", "-m", "itemknn", "--trials", "3", "--no-track", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 trials" in result.output and (out / "itemknn" / "recommender" / "manifest.json").exists()
    import json

    summary = json.loads((out / "tuning.json").read_text())
    assert len(summary["trials"]) == 3 and summary["best_config"]["knn_k"] == summary["best_params"]["knn_k"]


def test_tune_resumes_from_its_study_file_and_refuses_it_with_ray(tmp_path):
    db = tmp_path / "knn.db"
    common = ["tune", "-m", "itemknn", "--no-track", "--study-db", str(db)]
    first = runner.invoke(app, [*common, "--trials", "2", "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, [*common, "--trials", "3", "--out", str(tmp_path / "b")])
    assert second.exit_code == 0, second.output
    import json

    one = json.loads((tmp_path / "a" / "tuning.json").read_text())["trials"]
    two = json.loads((tmp_path / "b" / "tuning.json").read_text())["trials"]
    assert len(two) == 3 and two[:2] == one  # the stored two, then one more
    ray = runner.invoke(app, [*common, "--workers", "2", "--out", str(tmp_path / "c")])
    assert ray.exit_code != 0 and "--study-db" in ray.output


def test_a_model_below_popularity_is_flagged(tmp_path):
    result = runner.invoke(
        app,
        [
            "train",
            "-m",
            "bpr",
            "--epochs",
            "1",
            "--lr",
            "1e-6",
            "--dim",
            "4",
            "--no-track",
            "--out",
            str(tmp_path / "weak"),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "bpr ends below MostPopular" in result.output


def test_default_learning_rate_is_per_model_and_lr_overrides(tmp_path):
    from recsys.experiment import DEFAULT_LR, default_config, resolve_config
    from recsys.recommender import Recommender
    from recsys.splits import load_split

    args = ["train", "-m", "bpr", "-m", "lightgcn", "-m", "cml", "--epochs", "1", "--dim", "4", "--no-track"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "default")])
    assert result.exit_code == 0, result.output
    train = load_split(tmp_path / "default" / "split.npz").train
    expected = {"bpr": 3e-3, "lightgcn": 1e-2, "cml": 4.5e-3}  # this small log's (benchmarks/defaults.py)
    for name in ("bpr", "lightgcn", "cml"):
        saved = Recommender.load(tmp_path / "default" / name / "recommender")
        assert (
            saved.protocol["config"]["lr"] == resolve_config(default_config(name), train).lr == expected[name]
        )
    assert DEFAULT_LR == {"lightgcn": 1e-2}  # BPR's and CML's come from the training log
    result = runner.invoke(app, [*args, "--lr", "5e-3", "--out", str(tmp_path / "given")])
    assert result.exit_code == 0, result.output
    for name in ("bpr", "lightgcn", "cml"):
        assert Recommender.load(tmp_path / "given" / name / "recommender").protocol["config"]["lr"] == 5e-3
