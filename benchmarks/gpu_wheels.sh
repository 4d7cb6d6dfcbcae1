#!/usr/bin/env bash
# Run HERE (where pip reaches PyPI) before a GPU session: downloads into .whl/ the wheels that
# hf_vclone needs and the device machine's image lacks (/work/.library/device/KINDS.md lists what
# it has: torch, transformers, accelerate, peft, numpy, scipy, numba, pyarrow ... but not these).
# Then, in the device tool's `run`: carry [".whl"] and start the command with
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
#     && export PYTHONPATH=/tmp/site && OUT=$OUT PYTHON=python3 bash benchmarks/gpu.sh
# Used on an H200 on 2026-12-04 (its image: python 3.12, torch 2.11.0+cu130, transformers 5.17.0,
# pyarrow 25.0.1, peft 0.21.0, accelerate 1.15.0): the first run lacked platformdirs (pooch imports
# it), now in the list. A package the list misses shows up as an ImportError; add it here. About 7 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
# The versions of this machine's .venv where it has one (the code is tested against those), else the newest.
# (docopt, which num2words names, has no wheel; only num2words' command line uses it.)
FROZEN=$(.venv/bin/python -m pip freeze 2>/dev/null || true)
PACKAGES=()
for name in datasets dill multiprocess soundfile cffi pycparser soxr librosa audioread pooch decorator \
            pyloudnorm future num2words jiwer rapidfuzz evaluate platformdirs; do
    pinned=$(grep -i "^${name}==" <<< "$FROZEN" || true)
    PACKAGES+=("${pinned:-$name}")
done
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}" -d .whl \
    "${PACKAGES[@]}"
du -sh .whl
