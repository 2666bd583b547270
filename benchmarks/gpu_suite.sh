#!/usr/bin/env bash
# The GPU benchmark suite in one run (under 8 minutes on one GPU), so one lent GPU gives every figure:
#   a. FAN forward, fused (SDPA) vs explicit attention, float32 and bfloat16 (benchmarks/fan_forward.py)
#   b. a training step, FAN-S-Hybrid RetinaNet vs detectron2's R50-FPN RetinaNet, AMP (train_step.py)
#   b'. the same for segmentation: FAN-S-Hybrid SegFormer vs detectron2's R50 semantic FPN
#       (train_step.py --task segmentation), and their inference, whole image and sliding windows
#       (seg_forward.py)
#   c. 20 iterations of `python -m fan_det.train` (the tiny FAN RetinaNet config)
#   d. COCO-C evaluation throughput at COCO's image size, 0/8/12 loader workers, the model's wait per
#      batch (eval_throughput.py)
# Each benchmark measures its own baseline in the same process and prints the ratios. Logs, each step's
# output and the training run go to --out. Any failed step stops the suite with a non-zero status.
#
#   bash benchmarks/gpu_suite.sh                          # on a GPU machine, from the repository root
#   bash benchmarks/gpu_suite.sh --device cpu --quick     # tiny sizes: checks the wiring in ~1-2 min
# PYTHON=... selects the interpreter (default: the project's .venv).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bash benchmarks/gpu_suite.sh [--device cpu|cuda] [--quick] [--out DIR]
  --device cpu|cuda  where the benchmarks run (default: cuda)
  --quick            tiny sizes and iterations (2 training iterations, no final evaluation, no CPU
                     peak memory): checks that every step works, the figures mean little
  --out DIR          logs, outputs and the training run (default: runs/gpu_suite)
EOF
}

device=cuda
quick=0
out=runs/gpu_suite
while [[ $# -gt 0 ]]; do
    case "$1" in
        --device) device="${2:-}"; shift 2 || { echo "error: --device needs cpu or cuda" >&2; exit 2; } ;;
        --device=*) device="${1#*=}"; shift ;;
        --quick) quick=1; shift ;;
        --out) out="${2:-}"; shift 2 || { echo "error: --out needs a folder" >&2; exit 2; } ;;
        --out=*) out="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [[ "$device" != cpu && "$device" != cuda ]]; then
    echo "error: --device $device: choose cpu or cuda" >&2
    exit 2
fi
if [[ -z "$out" ]]; then
    echo "error: --out needs a folder" >&2
    exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-.venv/bin/python}"
mkdir -p "$out"

"$python" - "$device" <<'EOF'
"""Header: the machine the figures come from; refuses --device cuda without a GPU."""
import os
import platform
import sys

import torch

device = sys.argv[1]
if device == "cuda" and not torch.cuda.is_available():
    print("error: --device cuda but torch sees no GPU: run on a GPU machine or pass --device cpu",
          file=sys.stderr)
    raise SystemExit(2)
cpu = platform.machine()
if os.path.exists("/proc/cpuinfo"):
    with open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    cpu = names[0] if names else cpu
gpu = f"GPU {torch.cuda.get_device_name(0)}, " if device == "cuda" else ""
print(f"machine: {gpu}CPU {cpu}, {os.cpu_count()} cores; torch {torch.__version__}, "
      f"Python {platform.python_version()}; device {device}")
EOF

# run_step NAME COMMAND...: stdout to OUT/NAME.out, stderr to OUT/NAME.log; stops the suite on failure
run_step() {
    local name="$1" start=$SECONDS
    shift
    echo
    echo "== $name"
    if ! "$@" >"$out/$name.out" 2>"$out/$name.log"; then
        echo "error: step $name failed; the end of $out/$name.log:" >&2
        tail -n 20 "$out/$name.log" >&2
        exit 1
    fi
    echo "($name: $((SECONDS - start)) s)"
}

if [[ $quick == 1 ]]; then  # one torch thread per process: the quick run shares its cores with a test suite
    forward=(--variants fan_tiny_12_p16_224 --sizes 64x64 --batch 1 --iters 2 --warmup 2 --no-peak-memory
             --threads 1)
    step=(--size 64 --batch 1 --steps 1 --no-peak-memory --threads 1)
    seg_step=(--size 64 --batch 1 --steps 1 --no-peak-memory --threads 1)
    seg_forward=(--size 64x128 --crop 64 --stride 48 --iters 1 --threads 1)
    train=(SOLVER.MAX_ITER 2 SOLVER.IMS_PER_BATCH 1 INPUT.MIN_SIZE_TRAIN "(96,)" INPUT.MAX_SIZE_TRAIN 128
           DATASETS.TEST "()" CPU_THREADS 1)
    throughput=(--images 2 --size 160x120 --workers 0,1 --corruptions gaussian_noise:1 --threads 1)
elif [[ $device == cuda ]]; then
    forward=(--variants fan_tiny_12_p16_224 fan_small_12_p4_hybrid --sizes 224x224,800x1216 --batch 4
             --iters 20 --warmup 5)
    step=(--size 800 --batch 4 --steps 10)
    seg_step=(--size 1024 --batch 2 --steps 10)
    seg_forward=(--size 1024x2048 --iters 5)
    train=(SOLVER.MAX_ITER 20)
    throughput=(--config configs/fan_retinanet.yaml --min-size-test 800 --max-size-test 1333 --images 48
                --size 640x480 --workers 0,8,12 --corruptions gaussian_noise:3,glass_blur:3)
else
    forward=(--variants fan_tiny_12_p16_224 --sizes 224x224 --iters 3 --warmup 1)
    step=(--size 320 --batch 2 --steps 2)
    seg_step=(--size 256 --batch 2 --steps 2)
    seg_forward=(--size 256x512 --crop 256 --stride 192 --iters 1)
    train=(SOLVER.MAX_ITER 20)
    throughput=(--images 16 --size 640x480 --workers 0,2)
fi

run_step fan_forward "$python" benchmarks/fan_forward.py --device "$device" --dtype float32 bfloat16 \
    "${forward[@]}"
cat "$out/fan_forward.out"
run_step train_step "$python" benchmarks/train_step.py --device "$device" --amp "${step[@]}"
cat "$out/train_step.out"
run_step seg_train_step "$python" benchmarks/train_step.py --device "$device" --amp --task segmentation \
    "${seg_step[@]}"
cat "$out/seg_train_step.out"
run_step seg_forward "$python" benchmarks/seg_forward.py --device "$device" "${seg_forward[@]}"
cat "$out/seg_forward.out"

rm -rf "$out/train"  # detectron2 appends to metrics.json: a fresh folder keeps it to this run
run_step train "$python" -m fan_det.train --config configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml \
    MODEL.DEVICE "$device" OUTPUT_DIR "$out/train" "${train[@]}"
"$python" - "$out/train" <<'EOF'
"""The training run's figures, from the files it wrote: iterations, seconds per iteration, final loss."""
import json
import sys
from pathlib import Path

folder = Path(sys.argv[1])
rows = [json.loads(line) for line in (folder / "metrics.json").read_text().splitlines() if line.strip()]
last = [row for row in rows if "total_loss" in row][-1]
# detectron2 logs "time" (the median over the last 20 iterations) from the third iteration on
speed = f"median {last['time']:.3f} s/iter" if "time" in last else "s/iter not logged (under 3 iterations)"
size = (folder / "model_final.pth").stat().st_size / 2**20
print(f"train: {last['iteration'] + 1} iterations, {speed}, total_loss {last['total_loss']:.4f}, "
      f"model_final.pth {size:.1f} MiB")
EOF

run_step eval_throughput "$python" benchmarks/eval_throughput.py --device "$device" "${throughput[@]}"
cat "$out/eval_throughput.out"
echo
echo "all steps passed; outputs in $out"
