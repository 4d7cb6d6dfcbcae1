#!/usr/bin/env bash
# The GPU benchmark, ready for a session lent a GPU (not yet run on one; sized for under 8 minutes:
# 5 systems x 30 steps at batch 16, each worker capped at 300 s): full-size SpeechT5 (ours vs the tutorial) and VITS, all in bf16; samples/s, peak
# GPU memory, model FLOP utilisation, LoRA vs full memory, synthesis RTF. Results in $OUT.
#   OUT=/some/folder bash benchmarks/gpu.sh          # on the GPU machine (its packages: benchmarks/gpu_wheels.sh)
#   OUT=/tmp/gpu_cpu bash benchmarks/gpu.sh --cpu    # tiny sizes on CPU: checks the script (CI does)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:?set OUT to the folder for the results}"
if [[ -x .venv/bin/python ]]; then PY="${PYTHON:-.venv/bin/python}"; else PY="${PYTHON:-python3}"; fi
if [[ "${1:-}" == "--cpu" ]]; then
    # bf16 where the CPU has it natively (AVX512-BF16 or AMX); elsewhere it is emulated, and one tiny
    # worker ran past 300 s on an AVX2-only CPU (session 11), so the CPU mode, a check that the
    # script works, runs float32 there
    if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then PRECISION=bf16; else PRECISION=fp32; fi
    exec "$PY" benchmarks/gpu_speed.py --device cpu --size tiny --precision "$PRECISION" --steps 4 --warmup 1 \
        --batch 2 --sentences 1 --out "$OUT" --work "$OUT/work"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia_smi.csv"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee "$OUT/versions.txt"
"$PY" benchmarks/gpu_speed.py --device cuda --size full --precision bf16 --steps 30 --warmup 5 --batch 16 \
    --out "$OUT" --work /tmp/hf_vclone_gpu_speed
