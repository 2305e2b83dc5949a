#!/usr/bin/env bash
# Issue 28, item 2: phase 2 with a pool trained once and kept (distill.pool_mode=pretrained,
# EPOCHS epochs over the real training split, then no network trained during a G step)
# against the online pool, at the phase 2 that moves the generator (G lr 1e-4, 300 steps,
# SKD with standardization, tau 2), Fashion-MNIST, the cpu recipe's one-epoch phase 1;
# herding among the draws only, no refinement; ConvNet-3, 3 networks x 300 epochs, IPC 10
# (the GAN-only and online rows come from the sweep of the same seed; RESULTS.md).
# Usage: bench/lever_pretrained_pool.sh [SEED] [EPOCHS] [RUNS_DIR]  (needs the full Fashion-MNIST)
set -euo pipefail
seed=${1:-11}
epochs=${2:-2}
runs=${3:-bench/out/runs-pretrained}
cd "$(dirname "$0")/.."
gdd-studio-cli run --dataset fashion-mnist --preset cpu --ipc 10 --seed "$seed" \
  --runs-dir "$runs" --precision fp32 --set distill.pool_mode=pretrained \
  --set distill.pool_pretrain_epochs="$epochs" --set distill.lr=1e-4 \
  --set distill.steps_per_epoch=300 --set refine.method=none \
  --set sampling.choose_from=generator --quiet
run=$(ls -td "$runs"/*/ | head -1)
python3 bench/evaluate_until.py "$run" distilled 10 -- --ipc 10 --archs convnet3 \
  --repeats 3 --epochs 300 --no-gan-only --quiet
