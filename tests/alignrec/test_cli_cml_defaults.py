"""`alignrec train -m cml` says which defaults it took from the training log, and trains with them."""

from typer.testing import CliRunner

from alignrec.cli import app

runner = CliRunner()


def test_train_prints_and_saves_cmls_log_defaults(tmp_path):
    from recsys.experiment import default_config, log_defaults_note
    from recsys.recommender import Recommender
    from recsys.splits import load_split

    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "-m", "cml", "--epochs", "1", "--no-track", "--out", str(out)])
    assert result.exit_code == 0, result.output
    note = log_defaults_note(default_config("cml"), load_split(out / "split.npz").train)
    assert f"cml defaults from the training log: {note}" in " ".join(result.output.split())
    saved = Recommender.load(out / "cml" / "recommender").protocol["config"]
    assert f"dim {saved['dim']}, margin {saved['margin']}, {saved['num_negatives']} negatives" in note
    args = ["train", "-m", "cml", "--epochs", "1", "--dim", "8", "--no-track", "--out", str(out)]
    given = runner.invoke(app, args)
    assert given.exit_code == 0, given.output
    assert "(taken: lr, margin, num_negatives)" in " ".join(given.output.split())
    assert Recommender.load(out / "cml" / "recommender").protocol["config"]["dim"] == 8
