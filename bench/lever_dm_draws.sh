#!/usr/bin/env bash
# Issue 28, lever 2: DM of the draws as a phase-2 term (distill.dm_weight), against the same
# phase 2 without it. One phase 1 (the cpu recipe's one epoch) shared by the members;
# phase 2 at G lr 1e-4 for 300 steps, so that the generator moves; the set is the herded
# draws at IPC 10 with no refinement (the issue's figure for a lever). Results: RESULTS.md.
# Usage: bench/lever_dm_draws.sh [SEED] [RUNS_DIR]   (needs the full Fashion-MNIST IDX files)
set -euo pipefail
seed=${1:-11}
runs=${2:-bench/out/runs}
cd "$(dirname "$0")/.."
/usr/bin/time -v gdd-studio-cli sweep --dataset fashion-mnist --preset cpu --ipc 10 --seed "$seed" \
  --runs-dir "$runs" \
  --set refine.method=none --set sampling.choose_from=generator \
  --set distill.lr=1e-4 --set distill.steps_per_epoch=300 \
  --axis distill.dm_weight=0,0.01,0.1 \
  --evaluate "--ipc 10 --archs convnet3 --repeats 3 --epochs 300" --quiet
