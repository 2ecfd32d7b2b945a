import pytest

from recsys.experiment import TrainConfig, run_experiment
from recsys.recommender import Recommender


def test_saved_recommender_answers_in_original_ids(tmp_path, planted_split):
    config = TrainConfig(model="bpr", dim=8, epochs=3, batch_size=256, lr=0.05)
    result = run_experiment(planted_split, config, tmp_path, progress=False)
    assert set(result.protocol) >= {"split", "seed", "split_checksum", "candidates", "ks"}
    recommender = Recommender.load(tmp_path / "recommender.pt")
    user = planted_split.train.user_ids[0]
    items = recommender.recommend(user, k=5)
    assert len(items) == 5 and all(item.startswith("i") for item, _ in items)
    seen = set(planted_split.train.item_ids[planted_split.train.items[planted_split.train.users == 0]])
    assert not seen & {item for item, _ in items}
    scores = [s for _, s in items]
    assert scores == sorted(scores, reverse=True)
    similar = recommender.similar_items("i0", k=3)
    assert len(similar) == 3 and "i0" not in {i for i, _ in similar}
    with pytest.raises(KeyError, match="unknown user"):
        recommender.recommend("nobody")


class _Recorder:
    def __init__(self):
        self.calls = []

    def on_fit_start(self, params):
        self.calls.append(("start", params["model"]))

    def on_epoch_end(self, epoch, logs):
        self.calls.append(("epoch", epoch))

    def on_fit_end(self, final_metrics, protocol, artifact_dir):
        ndcg = round(final_metrics["ndcg@10"], 6)
        self.calls.append(("end", ndcg, protocol["protocol.split"], artifact_dir))

    def on_fit_error(self, error):
        self.calls.append(("error", str(error)))


@pytest.mark.parametrize("model", ["pop", "bpr"])
def test_callbacks_hear_start_and_end_for_every_model(tmp_path, planted_split, model):
    recorder = _Recorder()
    config = TrainConfig(model=model, dim=8, epochs=2, batch_size=256)
    result = run_experiment(planted_split, config, tmp_path, callbacks=[recorder], progress=False)
    assert recorder.calls[0][0] == "start"
    assert recorder.calls[-1] == ("end", round(result.metrics["ndcg@10"], 6), "random", tmp_path)
    assert sum(kind == "epoch" for kind, *_ in recorder.calls) == (2 if model == "bpr" else 0)
