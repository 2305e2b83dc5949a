#!/usr/bin/env bash
# Issue 28, lever 1 for any phase-1 setting: one run of the cpu recipe's phase 1 with the
# given settings for STEPS GAN steps (chosen from measured steps per second, so that it
# takes the minutes of the plain one epoch, 937 steps), no phase 2, herding among the
# draws only, no refinement, fp32 as the baseline row; then ConvNet-3, 3 networks x 300
# epochs at IPC 10, stopped once the set's row is saved (the GAN-only and random-real
# rows are measured once; RESULTS.md). Rates: bench/bench_steps.py --set KEY=VALUE.
# Usage: bench/lever_phase1.sh STEPS SEED RUNS_DIR --set KEY=VALUE...
# e.g.   bench/lever_phase1.sh 2400 11 bench/out/runs-width16 --set model.width=16
set -euo pipefail
steps=$1 seed=$2 runs=$3
shift 3
cd "$(dirname "$0")/.."
epochs=$(( (steps + 936) / 937 ))
gdd-studio-cli run --dataset fashion-mnist --preset cpu --ipc 10 --seed "$seed" \
  --runs-dir "$runs" --precision fp32 "$@" \
  --set gan.epochs="$epochs" --set gan.steps_per_epoch=$(( steps / epochs )) \
  --set distill.epochs=0 --set refine.method=none --set sampling.choose_from=generator --quiet
run=$(ls -td "$runs"/*/ | head -1)
python3 bench/evaluate_until.py "$run" distilled 10 -- --ipc 10 --archs convnet3 \
  --repeats 3 --epochs 300 --no-gan-only --quiet
