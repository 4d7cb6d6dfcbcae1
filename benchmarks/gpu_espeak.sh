#!/usr/bin/env bash
# Run HERE before a GPU session: packs this machine's espeak-ng (binary, the libraries it loads
# except libc's, and the English data) into .espeak/ (ignored by git), for the GPU image, which has
# none. benchmarks/gpu_base.sh puts it on PATH, LD_LIBRARY_PATH and ESPEAK_DATA_PATH. In the device
# tool's `run`, carry [".espeak", ".whl"]. About 13 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.espeak/' .git/info/exclude 2>/dev/null || echo '/.espeak/' >> .git/info/exclude
exe=$(command -v espeak-ng) || { echo "espeak-ng is not installed here (make setup)"; exit 1; }
rm -rf .espeak && mkdir -p .espeak/bin .espeak/lib .espeak/data/espeak-ng-data
cp "$exe" .espeak/bin/
for lib in $(ldd "$exe" | awk '/=>/ {print $3}'); do
    case $(basename "$lib") in libc.so*|libm.so*|ld-linux*) ;; *) cp -L "$lib" .espeak/lib/ ;; esac
done
data=$(dirname "$(readlink -f "$(ldconfig -p | awk '/libespeak-ng.so.1 / {print $NF; exit}')")")/espeak-ng-data
cp -r "$data"/{en_dict,phondata,phonindex,phontab,intonations,lang,voices} .espeak/data/espeak-ng-data/
# the copy speaks as the installed one does, byte for byte
PATH="$PWD/.espeak/bin:$PATH" LD_LIBRARY_PATH="$PWD/.espeak/lib" ESPEAK_DATA_PATH="$PWD/.espeak/data" \
    espeak-ng -v en-us+f2 -w /tmp/espeak_copy.wav "A busy doctor measured some fresh bread."
"$exe" -v en-us+f2 -w /tmp/espeak_installed.wav "A busy doctor measured some fresh bread."
cmp /tmp/espeak_copy.wav /tmp/espeak_installed.wav && du -sh .espeak
