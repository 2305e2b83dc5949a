#!/usr/bin/env bash
# Issue 28, lever 3: refinement through the generator. From one run's herded draws at IPC
# 10 (Fashion-MNIST), the same minutes of DM on the pixels (the product's refinement), DM
# on the draws' noise decoded by the generator (GLaD-style: every image stays a draw), and
# DM from random real images (the peer); and the herded draws unrefined. Each set is
# evaluated by bench/refine_levers.py (ConvNet-3 width 128, DSA, 300 epochs, 3 networks).
# Rows go to bench/out/lever_latent.jsonl; RESULTS.md has the table.
# Usage: bench/lever_latent.sh RUN_DIR [MINUTES]
set -euo pipefail
run=$1
minutes=${2:-4}
cd "$(dirname "$0")/.."
mkdir -p bench/out
out=bench/out/lever_latent.jsonl
common=(--dataset fashion-mnist --data-dir /usr/share/datasets/fashion-mnist --ipc 10
        --networks 3 --epochs 300 --real-per-class 32 --minutes "$minutes" --out "$out")
init="npz:$run/distilled/ipc10.npz"
# Warm-up, not recorded: compiles the embedder and the evaluation networks for this image
# size once, so that no variant's minutes go to compilation the others are spared.
python3 bench/refine_levers.py "${common[@]/$out//tmp/lever_latent_warmup.jsonl}" --variant dm \
  --init "$init" --iterations 3 --networks 1 --epochs 1
python3 bench/refine_levers.py "${common[@]}" --variant none --init "$init"
python3 bench/refine_levers.py "${common[@]}" --variant latent --generator "$run" --init "$init"
python3 bench/refine_levers.py "${common[@]}" --variant dm --init "$init"
python3 bench/refine_levers.py "${common[@]}" --variant dm --init real
