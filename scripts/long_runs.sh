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

sweep() {  # sweep DIR OPTIONS...: start or resume one sweep
    local dir=$1
    shift
    if [ -f "$dir/sweep.json" ]; then
        nice "$B" sweep "$dir" --executor local
    else
        nice "$B" sweep "$dir" "$@" --executor local
    fi
}

extend() {  # extend FROM DIR OPTIONS...: continue run FROM in DIR with a changed schedule
    local from=$1 dir=$2
    shift 2
    if [ ! -f "$dir/config.json" ]; then
        mkdir -p "$(dirname "$dir")"
        cp -r "$from" "$dir"
    fi
    # the options again on every resume: a schedule change that is already made changes nothing
    nice "$B" train --resume "$dir" "$@" --threads 1 --no-progress
}

case "${1:-}" in
A)
    # Screen of the rule extension --potentiation below-target against the w-bound screen's
    # unbounded trial below (same seed and split, 60 epochs at the constant rate, scored on
    # validation).
    run results/experiments/potentiation-screen/fashion-below-target --preset fashion-mnist \
        --potentiation below-target --epochs 60 --validation 10000
    # The extension won its screen on validation (mean over epochs 42-51 87.50 % against
    # 86.27 %), so it goes on to full length, against results/validation/fashion-mnist.
    extend results/experiments/potentiation-screen/fashion-below-target \
        results/experiments/fashion-below-target-validation --epochs 300
    # Fig. 5 at full length (issue 16), N = 800, T = 20 reused from the preset run.
    sweep results/figures/fig5-full --figure fig5 --values 5,10,15,20,25,30 \
        --reuse results/mnist
    # What makes Fig. 5's T = 30 fall (results/figures/README.md, Fig. 5): the same trial with
    # the rate scaled by 20/30, so that one image moves the weights as far as at T = 20.
    run results/experiments/fig5-t30-lr-scaled --preset mnist --T 30 --lr 6.666666666666667e-06
    # (T = 5 with --potentiation below-target was tried and stopped after 4 epochs: its cap,
    # T - error_margin = 1 spike, stops every hidden neuron that fires from being potentiated,
    # and both hidden layers fell silent in epoch 1; results/figures/README.md, Fig. 5.)
    # The extension's second seed, on validation, against its seed 0 above.
    run results/experiments/fashion-below-target-seed1-validation --preset fashion-mnist \
        --potentiation below-target --seed 1 --validation 10000
    run results/fashion-mnist --preset fashion-mnist
    run results/mnist-seed2 --preset mnist --seed 2
    # Screen of the weight bound (60 epochs at the constant rate, scored on validation); its
    # unbounded trial is the first 60 epochs of the full validation run, which continues it.
    sweep results/experiments/w-bound-screen --grid w_bound=0,2.5,10 --preset fashion-mnist \
        --epochs 60 --validation 10000
    extend results/experiments/w-bound-screen/trials/000_w_bound=0 \
        results/validation/fashion-mnist --epochs 300
    # The bound at full length, against that run (inert at 60 epochs, where no neuron has run
    # away yet).
    extend results/experiments/w-bound-screen/trials/001_w_bound=2.5 \
        results/experiments/fashion-wbound2.5-validation --epochs 300
    ;;
B)
    # The same screen on MNIST, against the first 60 epochs of results/validation/mnist.
    run results/experiments/potentiation-screen/mnist-below-target --preset mnist \
        --potentiation below-target --epochs 60 --validation 10000
    # (It lost its screen narrowly: mean validation accuracy over epochs 51-60 97.98 % against
    # 98.04 %, so it is not continued to full length.)
    run results/mnist-seed1 --preset mnist --seed 1 --record all
    run results/validation/mnist --preset mnist --validation 10000
    run results/fashion-mnist-seed1 --preset fashion-mnist --seed 1
    # Fig. 4 at full length (issue 16): N = 400 and 1600 remain.
    sweep results/figures/fig4-full --figure fig4 --values 25,50,100,200,400,800,1600 \
        --reuse results/mnist
    # Then Fig. 5's remaining trials, shared with lane A (each lane leaves the trial the other
    # is training to it).
    sweep results/figures/fig5-full --figure fig5 --values 5,10,15,20,25,30 \
        --reuse results/mnist
    # The extension on all 60,000 training images, against results/fashion-mnist.
    run results/experiments/fashion-below-target --preset fashion-mnist \
        --potentiation below-target
    # MNIST's validation-chosen epoch (98.30 %) misses the aim of 98.5 % while its training
    # accuracy climbs to 99.3 %: a screen of more dropout (the preset has p_hid 0.3, p_in 0),
    # 60 epochs at the constant rate, on validation, against results/validation/mnist.
    sweep results/experiments/mnist-dropout-screen --grid p_hid=0.4,0.5 --grid p_in=0,0.1 \
        --preset mnist --epochs 60 --validation 10000
    # The small networks that collapse under the rule (Fig. 4), with the extension.
    sweep results/experiments/fig4-below-target --figure fig4 --values 25,50,100 \
        --potentiation below-target
    # Candidate protocol for Fashion-MNIST, on validation: the specification's decay restarted
    # every 60 epochs (chained restarts held 87.2 % where the long constant phase holds 86.8 %).
    run results/experiments/fashion-restart60-validation --preset fashion-mnist \
        --spec-schedule --restart-every 60 --epochs 300 --validation 10000
    ;;
*)
    echo "usage: $0 A|B" >&2
    exit 2
    ;;
esac
