#!/usr/bin/env bash
# Issue 28, item 2: the rows a machine needs to compare phase-2 variants with each other.
# A GAN trajectory is not bit-identical across CPUs (seed 11's one-epoch GAN-only draws:
# 71.78 on an AVX2 VM, 70.44 on an AVX-512 one, both fp32), so every variant of a table is
# trained from the same machine's phase 1. This makes SKD with standardization at tau 2 from
# the phase-1 end of a seed-11 ablation member and of a seed-12 tau member (RESULTS.md),
# by bench/run_from_phase1.py, and evaluates each (ConvNet-3, 3 networks x 300 epochs, IPC 10).
# Usage: bench/lever_tau_here.sh SEED11_RUN SEED12_RUN RUNS_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
for src in "$1" "$2"; do
  run=$(python3 bench/run_from_phase1.py "$src" "$3" --set distill.loss=skd \
        --set distill.standardize=true --set distill.tau=2 | head -1)
  python3 bench/evaluate_until.py "$run" distilled 10 -- --ipc 10 --archs convnet3 \
    --repeats 3 --epochs 300 --no-gan-only --quiet
done
