#!/usr/bin/env bash
# Issue 28's done check on Fashion-MNIST at about 15 CPU-minutes: the generative recipe
# (the cpu preset's one GAN epoch and phase 2, herding among the generator's draws only, DM
# from those draws) against DM from random real images given the same minutes
# (`evaluate --dm-real`: the run's own elapsed time, on the clock), at IPC 1 and IPC 10.
# Every set the recipe keeps is made by the generator (draws moved by DM), which the
# table counts. Each seed's pipeline runs on one core (OMP_NUM_THREADS=1), the seeds side
# by side on a 2-core machine: a run and its peer see the same load, and a minute here is
# one CPU-minute. Evaluation: ConvNet-3 (width 128), 3 networks x 300 epochs, fixed set,
# DSA, final accuracy, with the GAN-only and random-real rows.
# Usage: bench/equal_minutes_fmnist.sh "SEED..." [RUNS_DIR] [ITERATIONS_AT_IPC_10]
# (needs the full Fashion-MNIST: apt-get install dataset-fashion-mnist)
set -euo pipefail
seeds=${1:-"21 22"}
runs=${2:-bench/out/runs-equal-minutes}
n10=${3:-500}
n1=$(( (n10 * 62 + 17) / 35 ))  # the same DM minutes at IPC 1 (engine/refine.refine_at)
cd "$(dirname "$0")/.."
mkdir -p "$runs"
eval_flags=(--archs convnet3 --repeats 3 --epochs 300 --dm-real --quiet)

one_seed() {
  local seed=$1 ipc iters dir out="$runs/seed$1"
  export OMP_NUM_THREADS=1
  for ipc in 1 10; do
    iters=$([ "$ipc" = 1 ] && echo "$n1" || echo "$n10")
    gdd-studio-cli run --dataset fashion-mnist --preset cpu --ipc "$ipc" --seed "$seed" \
      --runs-dir "$out" --set sampling.choose_from=generator \
      --set refine.iterations="$iters" --quiet
    dir=$(ls -td "$out"/*/ | head -1)
    echo "seed $seed ipc $ipc: $dir"
    gdd-studio-cli evaluate "$dir" --ipc "$ipc" "${eval_flags[@]}"
  done
}

for seed in $seeds; do
  one_seed "$seed" > "$runs/seed$seed.log" 2>&1 &
done
wait
