#!/bin/bash
# The long runs of the protocol's results, in two resumable lanes (one core each).
#   nohup scripts/long_runs.sh A > logs/lane-A.log 2>&1 &
#   nohup scripts/long_runs.sh B > logs/lane-B.log 2>&1 &
# Each run is started if its directory does not exist yet and resumed otherwise (a finished run
# resumes to nothing), so the script can be started again after any interruption.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${DESIRE_BP:-.venv/bin/desire-bp}

run() {  # run DIR OPTIONS...: start or resume one run
    local dir=$1
    shift
    if [ -f "$dir/config.json" ]; then
        nice "$B" train --resume "$dir" --threads 1 --no-progress
    else
        nice "$B" train "$@" --run-dir "$dir" --threads 1 --no-progress
    fi
}

case "${1:-}" in
A)
    run results/fashion-mnist --preset fashion-mnist
    run results/mnist-seed2 --preset mnist --seed 2
    run results/fashion-mnist-seed1 --preset fashion-mnist --seed 1
    ;;
B)
    run results/mnist-seed1 --preset mnist --seed 1 --record all
    run results/validation/mnist --preset mnist --validation 10000
    run results/validation/fashion-mnist --preset fashion-mnist --validation 10000
    ;;
*)
    echo "usage: $0 A|B" >&2
    exit 2
    ;;
esac
