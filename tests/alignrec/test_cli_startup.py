"""`alignrec --help` stays light: the command modules import no heavy library until a command runs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "torch", "faiss", "mlflow", "transformers", "sentence_transformers", "lightgbm", "pandas", "fastapi",
    "uvicorn", "sqlalchemy", "optuna", "ray",
)  # fmt: skip


COMMANDS = [
    ["--help"], ["train", "--help"], ["tune", "--help"], ["index", "search", "--help"], ["demo", "--help"],
    ["encode", "--help"], ["sizefit", "train", "--help"], ["data", "--help"], ["serve", "--help"],
    ["feedback", "export", "--help"], ["simulate", "abtest", "--help"], ["match", "train", "--help"],
    ["align", "train", "--help"], ["rerank", "--help"], ["simulator", "evaluate", "--help"],
]  # fmt: skip


def test_help_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from alignrec.cli import app\n"
        f"for args in {COMMANDS!r}:\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_cli_name_lists_match_the_library():
    from alignrec.commands import encode, recsys
    from product.encoders import MODALITIES
    from product.encoders.text import DEFAULT_BATCH_SIZE, DEFAULT_THREADS
    from recsys.experiment import MODEL_NAMES
    from recsys.readers import READERS

    assert recsys.MODEL_NAMES == MODEL_NAMES
    assert recsys.READER_NAMES == tuple(READERS)
    assert (encode.MODALITIES, encode.DEFAULT_BATCH_SIZE, encode.DEFAULT_THREADS) == (
        MODALITIES,
        DEFAULT_BATCH_SIZE,
        DEFAULT_THREADS,
    )
