#!/bin/bash
# The committed figures (see docs/analysis.md and results/figures/README.md). Run from the
# repository root.
#   Fig. 4, 5: reduced sweeps (3 epochs on 10,000 samples, the specification's schedule).
#   Fig. 6-8: drawn from the full-length MNIST preset run results/mnist-seed1, trained with
#     desire-bp train --preset mnist --seed 1 --record all --run-dir results/mnist-seed1
set -e
B=.venv/bin/desire-bp
R=runs/analysis
F=results/figures
COMMON="--spec-schedule --epochs 3 --train-samples 10000 --executor local"
nice $B sweep $R/fig4 --figure fig4 --values 25,50,100,200,400,800 $COMMON
nice $B sweep $R/fig5 --figure fig5 --values 5,10,15,20,25,30 $COMMON
mkdir -p $F
$B figure fig4 --sweep-dir $R/fig4 --out $F/fig4.png
$B figure fig5 --sweep-dir $R/fig5 --out $F/fig5.png
for fig in fig6 fig7 fig8; do
    $B figure $fig results/mnist-seed1 --out $F/$fig.png
done
# The full-length Fig. 4 so far (scripts/long_runs.sh B runs its sweep, results/figures/fig4-full),
# alone and beside the same sweep under the rule extension --potentiation below-target.
$B figure fig4 --sweep-dir $F/fig4-full --out $F/fig4-full/fig4.png
$B figure fig4 --sweep-dir $F/fig4-full --compare results/experiments/fig4-below-target \
    --out $F/fig4-full/fig4-rules.png
# The full-length Fig. 5 so far (scripts/long_runs.sh A runs its sweep, results/figures/fig5-full).
$B figure fig5 --sweep-dir $F/fig5-full --out $F/fig5-full/fig5.png
