#!/usr/bin/env bash
# Builds the RecBole 1.2.1 virtual environment that benchmarks/recbole_baseline.py runs in.
# RecBole is a benchmark baseline only, not a dependency of alignrec: it lives outside the repo.
#
#   bash benchmarks/recbole_env.sh [VENV]      # default VENV: /work/recbole-venv
#
# Why these pins (checked 2026-11-27, Python 3.11, CPU only, ~1 minute, ~1.3 GB):
# - torch==2.13.0 first and exactly: a looser spec pulls a multi-GB CUDA build.
# - recbole 1.2.1 with --no-deps: it requires ray<=2.6.3 and plotly, needed only by its
#   quick_start / hyper-parameter tuning modules, which the baseline does not import.
# - numpy<1.24: RecBole 1.2.1 still uses np.float (removed in numpy 1.24), e.g. in
#   recbole/data/interaction.py and dataset.py. scipy 1.10.1, pandas 2.0.3 and scikit-learn 1.2.2
#   are the releases that build against numpy 1.23.5 on Python 3.11.
# - colorlog/colorama: the exact pins of recbole's metadata. tensorboard: imported by its trainer.
#   thop, texttable, tabulate, psutil: imported by recbole.utils.
set -euo pipefail
VENV="${1:-/work/recbole-venv}"
python3.11 -m venv "$VENV"
"$VENV/bin/pip" install torch==2.13.0
"$VENV/bin/pip" install --no-deps recbole==1.2.1
"$VENV/bin/pip" install numpy==1.23.5 scipy==1.10.1 pandas==2.0.3 scikit-learn==1.2.2 \
    colorlog==4.7.2 colorama==0.4.4 pyyaml tqdm tensorboard thop texttable tabulate psutil
"$VENV/bin/python" -c "import recbole, torch, numpy; print('recbole', recbole.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__)"
