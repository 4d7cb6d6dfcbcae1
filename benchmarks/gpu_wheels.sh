#!/usr/bin/env bash
# Run HERE (where pip reaches PyPI) before a GPU session: downloads into .whl/ the wheels that
# hf_vclone needs and the device machine's image lacks (/work/.library/device/KINDS.md lists what
# it has: torch, transformers, accelerate, peft, numpy, scipy, numba, pyarrow ... but not these).
# Then, in the device tool's `run`: carry [".whl"] and start the command with
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
#     && export PYTHONPATH=/tmp/site && OUT=$OUT PYTHON=python3 bash benchmarks/gpu.sh
# Not yet tried on a device machine (no session had one since this was written): a package the
# list misses shows up as an ImportError in the first run's output; add it here.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}" -d .whl \
    datasets dill multiprocess soundfile cffi pycparser soxr librosa audioread pooch decorator soxr \
    pyloudnorm future num2words docopt jiwer rapidfuzz evaluate
du -sh .whl
