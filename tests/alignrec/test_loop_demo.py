"""The main job's "loop" step: the serving step's feedback store -> DPO pairs -> a tuned LM simulator
measured on held-out served slates -> distilled -> an A/B test in its world (a tiny llama, one step)."""

from rich.console import Console

from alignrec.demos import loop_demo, serving_demo


def test_without_the_serving_steps_store_it_says_what_to_run(tmp_path):
    console = Console(record=True, width=200)
    loop_demo.run(tmp_path / "loop", console)
    assert "run the serving step first" in console.export_text()
    assert not (tmp_path / "loop").exists()


def test_the_loop_tunes_a_simulator_on_the_served_slates(tmp_path, monkeypatch, tiny_llama_dir):
    monkeypatch.setattr(loop_demo, "BASE_MODEL", str(tiny_llama_dir))
    monkeypatch.setattr(loop_demo, "INT8", False)
    monkeypatch.setattr(loop_demo, "STEPS", 1)
    monkeypatch.setattr(loop_demo, "SLATES", 8)
    monkeypatch.setattr(loop_demo, "DISTIL_USERS", 12)
    monkeypatch.setattr(loop_demo, "AB_ROUNDS", 2)
    console = Console(record=True, width=200)
    serving_demo.run(tmp_path / "serving", console)
    loop_demo.run(tmp_path / "loop", console)
    text = console.export_text()
    assert "$ alignrec align build" in text and "$ alignrec align train --objective dpo" in text
    assert (tmp_path / "loop" / "dpo" / "final" / "adapter_config.json").is_file()
    for name in ("bpr (the served model)", "lm untuned", "lm + dpo on the served slates"):
        assert f"{name}: accuracy" in text and "(8 slates)" in text
    assert (tmp_path / "loop" / "distilled" / "items.npz").is_file()  # the distil command wrote it
    assert "A/B in the distilled tuned simulator's world (500 users, 2 rounds of 5" in text
    assert "  pop: CTR" in text and "  bpr: CTR" in text and "between bpr and pop on CTR" in text
