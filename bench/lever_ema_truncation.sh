#!/usr/bin/env bash
# Issue 28, lever 1: draws worth keeping per GAN-minute. The moving average of G's weights
# (gan.ema) and the truncation trick (sampling.truncation), each alone and together, on the
# cpu recipe's one epoch of phase 1 (Fashion-MNIST). No phase 2 (distill.epochs=0), no
# refinement: the set is the herded draws at IPC 10, evaluated as the issue asks (ConvNet-3,
# 300 epochs, 3 networks). The two gan.ema values train two phase 1s; the truncation members
# share theirs. Results: RESULTS.md, "Issue 28: levers".
# Usage: bench/lever_ema_truncation.sh [SEED] [RUNS_DIR]   (needs the full Fashion-MNIST)
set -euo pipefail
seed=${1:-11}
runs=${2:-bench/out/runs-ema}
cd "$(dirname "$0")/.."
/usr/bin/time -v gdd-studio-cli sweep --dataset fashion-mnist --preset cpu --ipc 10 --seed "$seed" \
  --runs-dir "$runs" \
  --set refine.method=none --set sampling.choose_from=generator --set distill.epochs=0 \
  --axis gan.ema=0,0.999 --axis sampling.truncation=0,1.0 \
  --evaluate "--ipc 10 --archs convnet3 --repeats 3 --epochs 300 --no-gan-only" --quiet
