#!/usr/bin/env bash
# Issue 28, item 2 on another seed: the phase-2 variants at a phase 2 that moves the
# generator (G lr 1e-4, 300 steps), Fashion-MNIST, herded draws at IPC 10, no refinement;
# ConvNet-3, 3 networks x 300 epochs. The ablation's four variants share one phase 1 (its
# GAN-only row is the phase-1 generator's); tau 1 and 4 (SKD with standardization) are a
# second sweep whose phase 1 is the same computation. Results: RESULTS.md.
# Usage: bench/lever_phase2_seed.sh [SEED] [RUNS_DIR]   (needs the full Fashion-MNIST)
set -euo pipefail
seed=${1:-12}
runs=${2:-bench/out/runs-phase2}
cd "$(dirname "$0")/.."
common=(--dataset fashion-mnist --preset cpu --ipc 10 --seed "$seed" --runs-dir "$runs"
        --set refine.method=none --set sampling.choose_from=generator
        --set distill.lr=1e-4 --set distill.steps_per_epoch=300
        --evaluate "--ipc 10 --archs convnet3 --repeats 3 --epochs 300" --quiet)
/usr/bin/time -v gdd-studio-cli sweep "${common[@]}" --ablation
/usr/bin/time -v gdd-studio-cli sweep "${common[@]}" --axis distill.tau=1,4 \
  --evaluate "--ipc 10 --archs convnet3 --repeats 3 --epochs 300 --no-gan-only"
