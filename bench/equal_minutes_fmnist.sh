#!/usr/bin/env bash
# Issue 28's done check on Fashion-MNIST at one budget: the generative recipe (the cpu
# preset's one GAN epoch and phase 2, herding among the generator's draws only, DM from
# those draws for ITERATIONS at IPC 10 and as many minutes' worth at IPC 1) against DM from
# random real images given the same minutes (`evaluate --dm-real`: the run's own elapsed
# time, on the clock), at IPC 1 and IPC 10. Every image of the recipe's sets is made by
# the generator (draws moved by DM), which the table counts ("made by G").
# Then, on a copy of the IPC-1 run (so that its rows stay), DM from real images given only
# DM_MINUTES, the recipe's own refinement minutes: what the draws are worth as a start.
# Each seed's pipeline runs on one core (OMP_NUM_THREADS=1), the seeds side by side on a
# 2-core machine, so that a run and its peer see the same load and a minute here is one
# CPU-minute. Evaluation: ConvNet-3 (width 128), 3 networks x 300 epochs, fixed set, DSA,
# final accuracy; GAN-only and random-real rows at IPC 1, random real at IPC 10.
# Usage: bench/equal_minutes_fmnist.sh "SEED..." [RUNS_DIR] [ITERATIONS] [DM_MINUTES]
# (needs the full Fashion-MNIST: apt-get install dataset-fashion-mnist)
set -euo pipefail
seeds=${1:-"21 22"}
runs=${2:-bench/out/runs-equal-minutes}
n10=${3:-500}
dm_minutes=${4:-8}
n1=$(( (n10 * 62 + 17) / 35 ))  # the same DM minutes at IPC 1 (engine/refine.refine_at)
cd "$(dirname "$0")/.."
mkdir -p "$runs"
eval_flags=(--archs convnet3 --repeats 3 --epochs 300 --quiet)

one_seed() {
  local seed=$1 out="$runs/seed$1" r1 r10
  export OMP_NUM_THREADS=1
  recipe=(--dataset fashion-mnist --preset cpu --seed "$seed" --runs-dir "$out"
          --set sampling.choose_from=generator --quiet)
  gdd-studio-cli run "${recipe[@]}" --ipc 1 --set refine.iterations="$n1"
  r1=$(ls -td "$out"/*/ | head -1)
  gdd-studio-cli evaluate "$r1" --ipc 1 "${eval_flags[@]}" --dm-real
  gdd-studio-cli run "${recipe[@]}" --ipc 10 --set refine.iterations="$n10"
  r10=$(ls -td "$out"/*/ | head -1)
  gdd-studio-cli evaluate "$r10" --ipc 10 "${eval_flags[@]}" --dm-real --no-gan-only
  rm -rf "$runs/dm-minutes-seed$seed"
  cp -r "$r1" "$runs/dm-minutes-seed$seed"
  gdd-studio-cli evaluate "$runs/dm-minutes-seed$seed" --ipc 1 "${eval_flags[@]}" \
    --dm-minutes "$dm_minutes" --no-gan-only
}

for seed in $seeds; do
  one_seed "$seed" > "$runs/seed$seed.log" 2>&1 &
done
wait
