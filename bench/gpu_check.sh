#!/usr/bin/env bash
# One prepared check for a machine with a CUDA GPU, in at most 8 minutes.
#
# Needs only what the H200 test machine has (python 3.12 with torch, torchvision,
# transformers, accelerate, peft, pillow, numpy, jinja2, httpx, hypothesis, pytest;
# the check itself uses torch, torchvision, transformers, pillow, numpy and pytest);
# no package registry: nothing is installed. Before any step it imports every
# module each step imports, so a missing one is said in seconds. Output is
# unbuffered and the report is rewritten after every step (and when the check
# itself is stopped), so a step killed at its limit still leaves its partial
# output and the table so far. Runs the gpu-marked tests, times
# start-up (weights loaded to ready) per decode mode for the full-size
# Qwen3-VL-8B architecture, runs the engine benchmark, and writes one markdown
# file: a summary table, then the last lines of every step's output; each step's
# whole output is kept beside it, in OUTPUT-logs/ (tracebacks included).
#
#   bench/gpu_check.sh [OUTPUT.md]        (default: gpu-check-<UTC time>.md)
#
# On a machine whose results come back from one folder, write the report there
# (bench/gpu_check.sh /that/folder/gpu-check.md): the steps' own logs live in a
# temporary folder that goes with the check.
#
# Budget (seconds, each step killed at its limit and reported as such), 465 in all,
# after the import check (about 20 s):
# tests 60; start-up 3 x 55 (eager; cuda-graphs fresh and again, as a restart);
# benchmark 180; compile start-up 60 (last: on the 8B it may not finish).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1  # a step killed at its limit keeps every line it printed
PYTHON="${PYTHON:-python3}"
OUT="${1:-gpu-check-$(date -u +%Y%m%dT%H%M%SZ).md}"
LOGS="${OUT%.md}-logs"
mkdir -p "$(dirname "$OUT")"
WORK="$(mktemp -d)"
trap 'report; rm -rf "$WORK"' EXIT
child=""  # the running step's process: stopped with the check
trap '[ -z "$child" ] || kill -TERM "$child" 2>/dev/null; echo "gpu_check: stopped; the report holds the steps so far" >&2; exit 130' INT TERM
export TORCHINDUCTOR_CACHE_DIR="$WORK/inductor"  # fresh for this run; reused by "restart"
rows=()
current=""  # the step running now, reported as interrupted if the check is stopped

# The report so far: rewritten after each step, so an interrupted check leaves one.
report() {
    [ -f "$WORK/machine" ] || return 0
    if [ -f "$WORK/steps" ]; then mkdir -p "$LOGS" && cp "$WORK"/*.log "$LOGS"/; fi
    {
        echo "# GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
        cat "$WORK/machine"
        echo
        echo "| step | result | seconds | summary |"
        echo "| --- | --- | --- | --- |"
        [ ${#rows[@]} -eq 0 ] || printf '%s\n' "${rows[@]}"
        [ -z "$current" ] || echo "| $current | interrupted | | partial output below |"
        [ -f "$WORK/steps" ] || return 0
        while read -r name; do
            echo
            echo "## $name (raw output)"
            echo
            echo '```'
            grep -v -E 'Loading weights|Writing model shards' "$WORK/$(echo "$name" | tr -c 'a-zA-Z0-9' '_').log" | tail -n 80
            echo '```'
        done <"$WORK/steps"
    } >"$OUT"
}


# transformers' Qwen3-VL processor needs torchvision for its video half, even for images.
if ! missing=$("$PYTHON" -c '
import importlib.util as u
need = ["torch", "torchvision", "transformers", "PIL", "numpy", "pytest"]
print(" ".join(n for n in need if u.find_spec(n) is None))') || [ -n "$missing" ]; then
    echo "gpu_check: $PYTHON lacks: ${missing:-python itself}" >&2
    exit 2
fi
# Every module the steps import, imported now: the engine, the benchmarks and
# the gpu tests' collection (nothing else is installed there to fall back on).
if ! "$PYTHON" -u - <<'EOF'
import importlib, sys
for name in ["bot.engine.transformers_engine", "bench.startup_time", "bench.engine_bench"]:
    try:
        importlib.import_module(name)
    except Exception as error:
        sys.exit(f"gpu_check: importing {name} failed: {type(error).__name__}: {error}")
import pytest
rc = pytest.main(["tests/gpu", "--collect-only", "-qq", "-p", "no:cacheprovider", "-o", "addopts="])
sys.exit(f"gpu_check: collecting tests/gpu failed ({rc})" if rc else 0)
EOF
then
    exit 2
fi
if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA device visible to $PYTHON" >&2
    exit 2
fi

# step NAME LIMIT COMMAND...: run it, keep its output, add a summary row.
step() {
    local name="$1" limit="$2"
    shift 2
    local log="$WORK/$(echo "$name" | tr -c 'a-zA-Z0-9' '_').log"
    local started=$SECONDS
    printf '%s\n' "$name" >>"$WORK/steps"  # its raw output is reported even if cut short
    current="$name"
    # In the background and waited for: bash runs a trap only between commands,
    # and `wait` is one it interrupts, so stopping the check does not wait out the step.
    timeout --signal=KILL "$limit" "$@" >"$log" 2>&1 &
    child=$!
    wait "$child"
    local rc=$? took=$((SECONDS - started)) result
    current="" child=""
    if [ $rc -eq 0 ]; then result="ok"; elif [ $rc -eq 137 ]; then result="killed at ${limit} s"; else result="failed (exit $rc)"; fi
    rows+=("| $name | $result | $took | $(summary "$name" "$log") |")
    echo "${rows[-1]}"
    report
}

summary() {
    case "$1" in
        gpu\ tests) grep -E 'passed|failed|skipped|error' "$2" | tail -1 ;;
        start-up*) grep -E '^startup ' "$2" | tail -1 | awk '{print $3 " s to ready, decoding " $4}' ;;
        benchmark*) echo "see raw output" ;;
    esac
}

"$PYTHON" - >"$WORK/machine" 2>&1 <<'EOF'
import subprocess, torch, transformers
driver = "unknown"
try:
    driver = subprocess.run(
        ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
        capture_output=True, text=True, timeout=20,
    ).stdout.strip()
except OSError:
    pass
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
print(f"GPU: {gpu}; driver {driver}; torch {torch.__version__} (CUDA {torch.version.cuda}); "
      f"transformers {transformers.__version__}")
EOF

# `-o addopts=`: pyproject.toml's addopts run the suite with pytest-xdist, not installed here.
step "gpu tests" 60 env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 "$PYTHON" -m pytest tests/gpu -m gpu -q \
    -p no:cacheprovider -o addopts= -rs
step "start-up eager" 55 "$PYTHON" bench/startup_time.py --mode eager
step "start-up cuda-graphs, fresh" 55 "$PYTHON" bench/startup_time.py --mode cuda-graphs
step "start-up cuda-graphs, restart" 55 "$PYTHON" bench/startup_time.py --mode cuda-graphs
step "benchmark, cuda-graphs" 180 "$PYTHON" bench/engine_bench.py --decode-mode cuda-graphs \
    --tokens 256 --concurrency 1,8,32 --naive-sample 1 --profile-follow-up
step "start-up compile, fresh" 60 "$PYTHON" bench/startup_time.py --mode compile

report
echo "wrote $OUT (whole logs in $LOGS)"
sed -n '/^## /q;p' "$OUT"  # the summary, up to the first step's output
