#!/usr/bin/env bash
# A quickstart base trained on one lent GPU within a time budget (issue 15: item 9 of benchmarks/README.md
# found that what 2 CPU cores could not give the SpeechT5 base was far more training; session 33 that the
# five-voice Tacotron 2 base needs more than 2 cores give in a session).
#   OUT=/some/folder bash benchmarks/gpu_base.sh SECONDS     # on the GPU machine: the SpeechT5 base
#   RECIPE=recipes/tacotron2_demo_base_gpu.yaml SLOW_FACTOR=1 OUT=/some/folder bash benchmarks/gpu_base.sh SECONDS
# The GPU image has no espeak-ng: carry one (benchmarks/gpu_espeak.sh packs it into .espeak/) and
# the wheels the image lacks (benchmarks/gpu_wheels.sh). Steps: the demo corpus (5 x 1000 sentences),
# a short run (PROBE_STEPS, 150) that measures the step rate (and fills the features cache), then
# recipes/quickstart_base_gpu.yaml for as many steps as the rest of the budget allows (cosine to 0
# at that step), checkpoints at 1/2 and at the end exported in float16 to $OUT as tar files.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:?set OUT to the folder for the results}"
BUDGET="${1:?give the seconds this script may take}"
PY="${PYTHON:-python3}"
RECIPE="${RECIPE:-recipes/quickstart_base_gpu.yaml}"
# From SLOW_AFTER steps on a step costs SLOW_FACTOR times as much: SpeechT5's scheduled sampling (a
# no-grad forward pass more from scheduled_sampling_start, 3000: 2.8 -> 1.8 steps/s on CPU, item 9).
# A recipe whose steps all cost the same (Tacotron 2's): SLOW_FACTOR=1.
SLOW_AFTER="${SLOW_AFTER:-3000}"
SLOW_FACTOR="${SLOW_FACTOR:-1.6}"
WORK="${WORK:-/tmp/hf_vclone_base_gpu}"
START=$SECONDS
mkdir -p "$OUT" "$WORK"
if [[ -d .espeak ]]; then
    export PATH="$PWD/.espeak/bin:$PATH" LD_LIBRARY_PATH="$PWD/.espeak/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        ESPEAK_DATA_PATH="$PWD/.espeak/data"
fi
NPROC=$(nproc)
"$PY" - "$NPROC" <<'EOF' || exit 1
import sys
from hf_vclone.data.demo_corpus import build_demo_corpus
build_demo_corpus("data/base_corpus", clips_per_base_voice=1000, workers=int(sys.argv[1]))
EOF
echo "corpus ready at $((SECONDS - START)) s"
# EXTRA: more overrides for both runs (a CPU check of this script: a small batch)
PROBE_STEPS="${PROBE_STEPS:-150}"
COMMON=(data.num_proc="$NPROC" training.report_to=none ${EXTRA:-})
"$PY" train.py "$RECIPE" "${COMMON[@]}" training.max_steps="$PROBE_STEPS" training.warmup_steps=10 training.save_steps=1000000 \
    training.logging_steps=50 output.dir="$WORK/probe" > "$WORK/probe.log" 2>&1 || { tail -40 "$WORK/probe.log"; exit 1; }
RATE=$(tr '\r' '\n' < "$WORK/probe.log" | grep -o "'train_steps_per_second': '\?[0-9.]*" | tail -1 | grep -o '[0-9.]*$')
# What is left, less about 60 s for the second run's start-up and the exports, at 95% of the probe's
# rate (which includes kernel selection), slower by SLOW_FACTOR after SLOW_AFTER steps.
STEPS=$("$PY" -c "
left = $BUDGET - $((SECONDS - START)) - 60
plain = $RATE * left * 0.95
steps = plain if plain <= $SLOW_AFTER else $SLOW_AFTER + (plain - $SLOW_AFTER) / $SLOW_FACTOR
print(max(${MIN_STEPS:-500}, int(steps) // 100 * 100))")
HALF=$((STEPS / 2))
echo "probe: $RATE steps/s ($RECIPE); training $STEPS steps (checkpoints at $HALF and $STEPS) from $((SECONDS - START)) s"
"$PY" train.py "$RECIPE" "${COMMON[@]}" training.max_steps="$STEPS" training.save_steps="$HALF" \
    output.dir="$WORK/run" 2>&1 | tr '\r' '\n' | tee "$WORK/run.log" | grep --line-buffered -E "\{'loss|train_runtime"
echo "training ended at $((SECONDS - START)) s"
[[ -d "$WORK/run/checkpoint-$STEPS" ]] || tail -30 "$WORK/run.log"
for step in "$HALF" "$STEPS"; do
    ckpt="$WORK/run/checkpoint-$step"
    [[ -d "$ckpt" ]] || { echo "no $ckpt"; continue; }
    "$PY" -c "import sys; from hf_vclone.cli import main; sys.exit(main(sys.argv[1:]))" \
        export "$ckpt" "$WORK/base_gpu_$step" --merge --dtype float16 > /dev/null 2>&1 || echo "export of $ckpt failed"
    tar -C "$WORK" -cf "$OUT/base_gpu_$step.tar" "base_gpu_$step" && echo "wrote $OUT/base_gpu_$step.tar"
done
echo "done at $((SECONDS - START)) s"
