#!/usr/bin/env bash
# Issue 28, lever 1: the minimax loss (gan.loss=minimax) against WGAN-GP at equal
# GAN-minutes. First the phase-1 steps per second of each on this machine (Fashion-MNIST,
# the cpu recipe's width and batch), then one run: phase 1 with the minimax loss for
# STEPS steps (about the minutes of WGAN-GP's one epoch, 937 steps, from the rates), no
# phase 2, herding among the draws only, no refinement; ConvNet-3, 3 networks x 300
# epochs at IPC 10. The WGAN-GP row is lever 1's raw-weights member (seed 11, the same
# settings otherwise; RESULTS.md). Usage: bench/lever_minimax.sh STEPS [SEED] [RUNS_DIR]
set -euo pipefail
steps=$1
seed=${2:-11}
runs=${3:-bench/out/runs-minimax}
cd "$(dirname "$0")/.."
for loss in wgan-gp minimax; do
  python3 bench/bench_steps.py --dataset fashion-mnist --steps 100 --set gan.loss="$loss" \
    | grep -v "phase 2"
done
epochs=$(( (steps + 936) / 937 ))
gdd-studio-cli run --dataset fashion-mnist --preset cpu --ipc 10 --seed "$seed" \
  --runs-dir "$runs" --set gan.loss=minimax --set gan.epochs="$epochs" \
  --set gan.steps_per_epoch=$(( steps / epochs )) --set distill.epochs=0 \
  --set refine.method=none --set sampling.choose_from=generator --quiet
run=$(ls -td "$runs"/*/ | head -1)
gdd-studio-cli evaluate "$run" --ipc 10 --archs convnet3 --repeats 3 --epochs 300 --no-gan-only
