#!/bin/bash
# Tiny versions of Fig. 4-8 (see docs/analysis.md). Run from the repository root.
set -e
B=.venv/bin/desire-bp
R=runs/analysis
F=results/figures
COMMON="--spec-schedule --epochs 3 --train-samples 10000 --executor local"
nice $B sweep $R/fig4 --figure fig4 --values 25,50,100,200,400,800 $COMMON
nice $B sweep $R/fig5 --figure fig5 --values 5,10,15,20,25,30 $COMMON
nice $B train --spec-schedule --epochs 10 --train-samples 10000 --run-dir $R/fig678 --record all \
    --record-samples 2000 --no-progress
mkdir -p $F
$B figure fig4 --sweep-dir $R/fig4 --out $F/fig4.png
$B figure fig5 --sweep-dir $R/fig5 --out $F/fig5.png
$B figure fig6 $R/fig678 --out $F/fig6.png
$B figure fig7 $R/fig678 --out $F/fig7.png
$B figure fig8 $R/fig678 --out $F/fig8.png
