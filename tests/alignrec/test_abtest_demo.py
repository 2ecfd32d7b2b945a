"""The main job's "abtest" step: pop vs BPR is decided, the A/A is not, reports are written."""

from rich.console import Console

from alignrec.demos import abtest_demo


def test_the_abtest_step_finds_the_better_policy_and_not_a_false_one(tmp_path):
    console = Console(record=True, width=200)
    abtest_demo.run(tmp_path, console)
    text = console.export_text()
    assert "bpr beats pop on CTR" in text
    assert "No significant difference between bpr#1 and bpr#0" in text
    for test in ("ab", "aa"):
        assert (tmp_path / test / "report.html").is_file() and (tmp_path / test / "report.json").is_file()
