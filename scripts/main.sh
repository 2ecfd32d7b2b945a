#!/usr/bin/env bash
# The main job: install into ./.venv, then run every capability end to end on embedded data
# (generated or bundled data, MLflow on a local SQLite file, FAISS in-process).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
alignrec demo "$@"
