"""Project-wide locations, read from the environment.

``ALIGNREC_DATA_DIR``  where real public data sets live (default: ``../shared/data``
                       beside the repository root, when that folder exists).
``ALIGNREC_HOME``      where runs, caches and the MLflow database go (default: ``./.alignrec``).
``MLFLOW_TRACKING_URI`` where runs are tracked (default: a SQLite file under ``ALIGNREC_HOME``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path | None:
    """The real-data folder, or None when it is not available."""
    env = os.environ.get("ALIGNREC_DATA_DIR")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


def require_data(relative: str) -> Path:
    """Path of a file or folder under the data directory; raises FileNotFoundError naming it."""
    root = data_dir()
    if root is None:
        raise FileNotFoundError(
            "no data directory: set ALIGNREC_DATA_DIR to the folder holding the public data sets"
        )
    path = root / relative
    if not path.exists():
        raise FileNotFoundError(f"{path} not found under ALIGNREC_DATA_DIR={root}")
    return path


def home_dir() -> Path:
    """Folder for runs, caches and the MLflow database (created on demand)."""
    path = Path(os.environ.get("ALIGNREC_HOME", ".alignrec"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<ALIGNREC_HOME>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(home_dir() / 'mlflow.db').resolve()}"
