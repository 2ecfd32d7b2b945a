#!/usr/bin/env bash
# Install what the tests need into ./.venv and run the default test suite.
# Extra arguments go to pytest (e.g. `scripts/test.sh -m slow`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
bash scripts/postgres.sh  # installs Debian's PostgreSQL for the feedback-store tests; never fails the run
python -m pytest "$@"
