#!/usr/bin/env bash
# Issue 28's check at IPC 1 only, with extra settings for the recipe: bench/equal_minutes_fmnist.sh's
# IPC-1 half (the cpu preset, herding among the draws only, DM from the draws for the
# iterations that recipe's IPC-1 runs got, 886), then `evaluate --dm-real`: DM from random
# real images for the run's own minutes, on the clock. Each seed on one core, the seeds side
# by side. Usage: bench/equal_minutes_ipc1.sh "SEED..." RUNS_DIR [--set KEY=VALUE...]
# e.g.   bench/equal_minutes_ipc1.sh "21 22" bench/out/runs-w16 --set model.width=16
set -euo pipefail
seeds=$1 runs=$2
shift 2
cd "$(dirname "$0")/.."
mkdir -p "$runs"
one_seed() {
  local seed=$1 out="$runs/seed$1" r1
  shift
  export OMP_NUM_THREADS=1
  gdd-studio-cli run --dataset fashion-mnist --preset cpu --seed "$seed" --runs-dir "$out" \
    --ipc 1 --set sampling.choose_from=generator --set refine.iterations=886 "$@" --quiet
  r1=$(ls -td "$out"/*/ | head -1)
  gdd-studio-cli evaluate "$r1" --ipc 1 --archs convnet3 --repeats 3 --epochs 300 \
    --no-gan-only --dm-real --quiet
}
for seed in $seeds; do
  one_seed "$seed" "$@" > "$runs/seed$seed.log" 2>&1 &
done
wait
