#!/bin/bash
# The committed figures (see docs/analysis.md and results/figures/README.md). Run from the
# repository root.
#   Fig. 4, 5: drawn from the full-length sweeps in results/figures/fig4-full and fig5-full
#     (150 epochs on all 60,000 images, the presets' protocol; scripts/long_runs.sh trains them,
#     a few core-hours each). Only finished trials are drawn; the titles count the others.
#   Fig. 4, 5 reduced (results/figures/reduced): 3 epochs on 10,000 samples, the specification's
#     schedule; about 10 minutes, for a quick look.
#   Fig. 6-8: drawn from the full-length MNIST preset run results/mnist-seed1, trained with
#     desire-bp train --preset mnist --seed 1 --record all --run-dir results/mnist-seed1
set -e
B=.venv/bin/desire-bp
F=results/figures
$B figure fig4 --sweep-dir $F/fig4-full --out $F/fig4.png
# the same sweep beside the one under the rule extension --potentiation below-target
$B figure fig4 --sweep-dir $F/fig4-full --compare results/experiments/fig4-below-target \
    --out $F/fig4-full/fig4-rules.png
$B figure fig5 --sweep-dir $F/fig5-full --out $F/fig5.png
for fig in fig6 fig7 fig8; do
    $B figure $fig results/mnist-seed1 --out $F/$fig.png
done
# the reduced sweeps (trained here, in runs/, which git ignores)
R=runs/analysis
COMMON="--spec-schedule --epochs 3 --train-samples 10000 --executor local"
nice $B sweep $R/fig4 --figure fig4 --values 25,50,100,200,400,800 $COMMON
nice $B sweep $R/fig5 --figure fig5 --values 5,10,15,20,25,30 $COMMON
mkdir -p $F/reduced
for fig in fig4 fig5; do
    $B figure $fig --sweep-dir $R/$fig --out $F/reduced/$fig.png
    cp $R/$fig/results.csv $F/reduced/$fig-sweep-results.csv
    cp $R/$fig/best.json $F/reduced/$fig-sweep-best.json
done
