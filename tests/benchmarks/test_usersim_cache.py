"""The user-simulator benchmark's LM score cache: reused for the same adapter, rescored for another."""

import numpy as np

from benchmarks.usersim import adapter_source, cached_scores


class CountingUser:
    def __init__(self, value: float) -> None:
        self.value, self.calls = value, 0

    def scores(self, exposures):
        self.calls += 1
        return np.full((len(exposures), 3), self.value)


def test_scores_are_reused_only_for_the_adapter_that_made_them(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNREC_USERSIM_CACHE", str(tmp_path / "cache"))
    adapter = tmp_path / "run" / "final"
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"first weights")
    first = adapter_source(str(adapter))
    user = CountingUser(1.0)
    scores, _, _ = cached_scores("lm x adapter run n5 2", user, [None, None], "ml-100k", first)
    again, _, _ = cached_scores("lm x adapter run n5 2", user, [None, None], "ml-100k", first)
    assert user.calls == 1 and np.array_equal(scores, again)

    (adapter / "adapter_model.safetensors").write_bytes(b"retrained weights")  # same folder name
    second = adapter_source(str(adapter))
    assert second != first and adapter_source(None) == ""
    retrained = CountingUser(2.0)
    scores, _, _ = cached_scores("lm x adapter run n5 2", retrained, [None, None], "ml-100k", second)
    assert retrained.calls == 1 and scores[0, 0] == 2.0
    assert not list((tmp_path / "cache").glob("*.partial*"))  # written whole, then renamed


def test_a_file_from_before_sources_were_stored_is_taken_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNREC_USERSIM_CACHE", str(tmp_path))
    np.savez(tmp_path / "lm-old-n5-1.npz", scores=np.ones((1, 3)), seconds=1.0, cpu_seconds=1.0)
    user = CountingUser(5.0)
    scores, seconds, _ = cached_scores("lm old n5 1", user, [None], "ml-100k", "abc")
    assert user.calls == 0 and scores[0, 0] == 1.0 and seconds == 1.0
