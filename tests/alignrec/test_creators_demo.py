"""The main job's "creators" step: creators' new items are written, encoded and shown in both arms."""

from rich.console import Console

from alignrec.demos import creators_demo


def test_the_creators_step_writes_encodes_and_keeps_creators_under_the_model(tmp_path):
    console = Console(record=True, width=200)
    creators_demo.run(tmp_path, console)
    text = console.export_text()
    assert "popularity: creators active 20 ->" in text and "vbpr: creators active 20 -> 20" in text
    rows = (tmp_path / "new_items.tsv").read_text(encoding="utf-8").strip().split("\n")
    assert rows[0] == "arm\ttitle\tdescription" and len(rows) > 100
    arms = {row.split("\t")[0] for row in rows[1:]}
    assert arms == {"popularity", "vbpr"}
    assert all(any(genre in row for genre in creators_demo.GENRES) for row in rows[1:])
