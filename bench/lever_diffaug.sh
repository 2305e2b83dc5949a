#!/usr/bin/env bash
# Issue 28, lever 1: DiffAugment (gan.diffaug=color_crop_cutout) against the plain WGAN-GP
# at equal GAN-minutes. First the phase-1 steps per second of each on this machine
# (Fashion-MNIST, the cpu recipe's width and batch, fp32 as the baseline row), then one
# run: phase 1 with DiffAugment for STEPS steps (the minutes of the plain one epoch, 937
# steps, from the rates), no phase 2, herding among the draws only, no refinement;
# ConvNet-3, 3 networks x 300 epochs at IPC 10, with the GAN-only row skipped (the plain
# phase 1's row is the baseline; RESULTS.md). SKIP_RATES=1 skips the rates. Usage: bench/lever_diffaug.sh STEPS [SEED] [RUNS_DIR]
set -euo pipefail
steps=$1
seed=${2:-11}
runs=${3:-bench/out/runs-diffaug}
cd "$(dirname "$0")/.."
if [ -z "${SKIP_RATES:-}" ]; then  # SKIP_RATES=1: the rates are known
  for policy in "" color_crop_cutout; do
    python3 bench/bench_steps.py --dataset fashion-mnist --steps 100 \
      --set runtime.precision=fp32 --set gan.diffaug="$policy" | grep -v "phase 2"
  done
fi
bench/lever_phase1.sh "$steps" "$seed" "$runs" --set gan.diffaug=color_crop_cutout
