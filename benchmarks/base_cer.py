"""Does the quickstart base speak? CER of each of its voices on sentences it never trained on.

For each espeak-ng voice the base knows, the same held-out sentences are transcribed three ways
by the offline ASR (Whisper-base, greedy): the real recording (the floor for that voice and ASR),
Griffin-Lim from the real recording's log-mel (the floor with our vocoder), and the base speaking
(free-running, Griffin-Lim). Given several saved voices (e.g. a run's `checkpoint-*` folders),
it also plots CER against training steps: when does the base start to speak?

    .venv/bin/python benchmarks/base_cer.py assets/quickstart_base
    .venv/bin/python benchmarks/base_cer.py /tmp/base/checkpoint-* assets/quickstart_base \
        --json benchmarks/results/base_cer.json --plot benchmarks/base_cer_vs_steps.png
    # a run continued from another (stage 2 from stage 1's step 7000), on one curve with it:
    .venv/bin/python benchmarks/base_cer.py outputs/quickstart_base_stage2/checkpoint-* --steps-after 7000 \
        --merge benchmarks/results/base_cer_vs_steps.json --json ... --plot ...
    # a clone of the demo target, its real recordings as the floor, on 30 sentences no voice trained on:
    .venv/bin/python benchmarks/base_cer.py outputs/quickstart --speakers us_f5 --sentences 30
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from hf_vclone.data.audio import clean
from hf_vclone.data.demo_corpus import BASE_VOICES, NEAR_TARGET_VOICE, TARGET_VOICE, require_espeak, sentences
from hf_vclone.data.features import LogMel
from hf_vclone.intelligibility import error_rates, transcribe
from hf_vclone.synthesize import load_voice

ASR = "whisper-base"
CORPUS_SENTENCES = 1200  # every demo corpus here (benchmarks included) takes at most the first 1190 sentences


def held_out_sentences(count: int) -> list[str]:
    """Sentences after every one the demo corpus uses: text no base voice was trained on."""
    pool = sentences(CORPUS_SENTENCES + count, seed=0)
    seen = set(pool[:CORPUS_SENTENCES])
    return [s for s in pool[CORPUS_SENTENCES:] if s not in seen][:count]


def real_recordings(voice: str, texts: list[str], rate: int, folder: Path) -> list[np.ndarray]:
    """espeak-ng speaking `texts` as `voice` (a base voice or a demo target), cleaned exactly like training audio."""
    exe, waves = require_espeak(), []
    voices = {**BASE_VOICES, **TARGET_VOICE, **NEAR_TARGET_VOICE}  # a clone is diagnosed on its target
    for i, text in enumerate(texts):
        path = folder / f"{voice}_{i}.wav"
        subprocess.run([exe, *voices[voice], "-w", str(path), text], check=True, capture_output=True)
        wave, source_rate = sf.read(str(path), dtype="float32")
        waves.append(clean(wave, source_rate, rate, -23.0, 40.0))
    return waves


def cer(waves: list[np.ndarray], texts: list[str], rate: int) -> tuple[float, list[str]]:
    heard = transcribe(ASR, waves, rate)
    return float(error_rates(heard, texts, "cer")[0]), heard


def step_of(path: str) -> int | None:
    match = re.search(r"checkpoint-(\d+)$", path.rstrip("/"))
    return int(match.group(1)) if match else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("voices", nargs="+", help="saved voices (folders) whose base speakers to score")
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--speakers", nargs="+", default=list(BASE_VOICES),
                        choices=[*BASE_VOICES, *TARGET_VOICE, *NEAR_TARGET_VOICE],
                        help="the base's voices to score (default: all five); a demo target (us_f5) scores a clone "
                             "of it, with that target's real recordings as the floor")
    parser.add_argument("--json", type=Path, help="write every figure and transcript here")
    parser.add_argument("--plot", type=Path, help="CER against training steps (checkpoint-N folders)")
    parser.add_argument("--steps-after", type=int, default=0,
                        help="the run continued another from this step: checkpoint-N is step N + this")
    parser.add_argument("--merge", type=Path, help="an earlier --json of the same sentences, kept in the results")
    args = parser.parse_args()
    texts = held_out_sentences(args.sentences)
    first = load_voice(args.voices[0])
    rate = first.sampling_rate
    # SpeechT5 speaks a log-mel through a vocoder (Griffin-Lim here): its floor includes that step.
    # VITS makes its waveform itself, so its only floor is the real recording.
    extractor = getattr(first.processor, "feature_extractor", None)
    results: dict = {"sentences": texts, "asr": ASR, "floor": {}, "voices": {}}
    if extractor is None:
        results |= {"floor_label": "real recordings", "title": f"{first.meta.backend} base: CER on held-out sentences"}
    if args.merge:
        earlier = json.loads(args.merge.read_text(encoding="utf-8"))
        if earlier["sentences"] != texts:
            raise SystemExit(f"{args.merge} scored other sentences; give the same --sentences")
        results["voices"].update(earlier["voices"])
    with tempfile.TemporaryDirectory() as tmp:
        refs = {v: real_recordings(v, texts, rate, Path(tmp)) for v in args.speakers}
    log_mel = LogMel(extractor) if extractor is not None else None
    for voice, waves in refs.items():
        real, real_heard = cer(waves, texts, rate)
        resynth = real
        if log_mel is not None:
            resynth, _ = cer([first.backend.mel_to_audio(log_mel(w), first.processor, None) for w in waves], texts, rate)
        results["floor"][voice] = {"real": real, "griffin_lim_of_real": resynth, "real_transcripts": real_heard}
        print(f"{voice}: real {real:.3f}  Griffin-Lim of real {resynth:.3f}")
    for path in args.voices:
        synth = load_voice(path)
        per_voice = {}
        for voice in args.speakers:
            # a single-speaker voice (VITS) speaks as itself: score it against the voice it learned
            name = voice if voice in synth.voice.speakers.names else None
            spoken = [synth.synthesize(t, speaker=name)[0] for t in texts]
            value, heard = cer(spoken, texts, rate)
            per_voice[voice] = {"cer": value, "transcripts": heard}
        mean = float(np.mean([v["cer"] for v in per_voice.values()]))
        step = step_of(path)
        step = None if step is None else step + args.steps_after
        results["voices"][path] = {"step": step, "mean_cer": mean, "per_voice": per_voice}
        print(f"{path}: mean CER {mean:.3f}  " + "  ".join(f"{v} {r['cer']:.3f}" for v, r in per_voice.items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        plot(results, args.plot)


def plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted((r["step"], r) for r in results["voices"].values() if r["step"] is not None)
    if not runs:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = [s for s, _ in runs]
    for voice in runs[0][1]["per_voice"]:
        ax.plot(steps, [r["per_voice"][voice]["cer"] for _, r in runs], marker="o", lw=1, label=voice)
    ax.plot(steps, [r["mean_cer"] for _, r in runs], color="black", lw=2.5, label="mean")
    floor = float(np.mean([f["griffin_lim_of_real"] for f in results["floor"].values()]))
    ax.axhline(floor, ls="--", color="grey", label=f"{results.get('floor_label', 'real recordings via Griffin-Lim')} "
                                                    f"({floor:.2f})")
    ax.set(xlabel="training step", ylabel="CER (Whisper-base, greedy)", ylim=(0, 1.05),
           title=results.get("title", "Quickstart base: CER on held-out sentences"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
