"""Has a Tacotron 2 checkpoint learned to align? Pictures first, then three plain figures.

For sentences no voice trained on, the checkpoint speaks free-running (prenet dropout on, seeded,
as it speaks in evaluation) and the picture shows each sentence's attention (tokens against
frames) above its mel. A model that reads its text draws one rising diagonal that reaches the
last token, and its stop gate fires near there; a model that does not draws horizontal bands and
runs to the length cap. Printed per sentence:
- `end`: the token the attention sits on in the last frame, over the sentence's tokens (1.0: the end);
- `coverage`: the share of tokens that are the attention's peak in at least one frame (a diagonal
  visits nearly all; bands visit a few; a drifting band can still end near the end);
- `stopped`: whether the gate fired before the cap (at `maxlenratio` 8 frames per token).
With `--corpus`, the same for the teacher-forced attention on the first clips of a training voice
(its real frames fed in, as in training): aligned teacher-forced but not free-running is another
failure (the decoder does not carry itself) than aligned in neither (the attention has not learned).

    .venv/bin/python benchmarks/tacotron2_probe.py outputs/tacotron2_demo_base/checkpoint-500 --png /tmp/p500.png
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from base_cer import held_out_sentences  # noqa: E402

from hf_vclone.synthesize import load_voice  # noqa: E402


def alignment_figures(alignment: np.ndarray) -> tuple[float, float]:
    """(end, coverage) of a (frames, tokens) attention matrix; see the module's docstring."""
    peaks = alignment.argmax(1)
    end = float(peaks[-1] + 1) / alignment.shape[1]
    coverage = len(set(peaks.tolist())) / alignment.shape[1]
    return end, coverage


def teacher_forced(synthesizer, speaking, corpus: Path, count: int) -> list[tuple[str, np.ndarray]]:
    """(text, teacher-forced attention (frames, tokens)) for the first `count` clips of an
    LJSpeech-style folder (metadata.csv + wavs/), the raw recordings' mels fed in."""
    import soundfile as sf
    import torch

    from hf_vclone.models.tacotron2.audio import Tacotron2Mel

    model = synthesizer.voice.tts
    mel = Tacotron2Mel(model.config)
    rows = [line.rstrip("\n").split("|") for line in (corpus / "metadata.csv").read_text().splitlines()[:count]]
    result = []
    for name, *_, text in rows:
        wave, _ = sf.read(corpus / "wavs" / f"{name}.wav", dtype="float32")
        labels = mel(torch.from_numpy(wave)[None])
        ids = torch.tensor([speaking.backend.text_tokenizer(speaking.processor)(speaking.frontend(text))["input_ids"]])
        torch.manual_seed(0)
        with torch.no_grad():
            out = model.eval()(input_ids=ids, labels=labels)
        result.append((text, out.alignments[0].numpy()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--sentences", type=int, default=3)
    parser.add_argument("--png", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, help="a training voice's folder (metadata.csv, wavs/): teacher-forced too")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    synthesizer = load_voice(args.checkpoint)
    speaking = replace(synthesizer.speaking, seed=0, maxlenratio=8.0)
    texts = held_out_sentences(args.sentences)
    forced = teacher_forced(synthesizer, speaking, args.corpus, args.sentences) if args.corpus else []
    fig, axes = plt.subplots(3 if forced else 2, len(texts), figsize=(5 * len(texts), 9 if forced else 6),
                             squeeze=False)
    for column, text in enumerate(texts):
        spoken = speaking.say(synthesizer.voice, synthesizer.voice.speakers.vector(None), text, audio=False)
        frames, tokens = spoken.alignment.shape
        end, coverage = alignment_figures(spoken.alignment)
        stopped = frames < int(np.ceil(8.0 * tokens))
        print(f"free-running {text!r}: {frames} frames, {tokens} tokens, end {end:.2f}, coverage {coverage:.2f}, "
              f"stopped {stopped}")
        axes[0, column].imshow(spoken.alignment.T, aspect="auto", origin="lower", interpolation="none")
        axes[0, column].set(title=f"free-running: end {end:.2f}, coverage {coverage:.2f}, stopped {stopped}",
                            xlabel="frame", ylabel="token")
        axes[1, column].imshow(spoken.mel.T, aspect="auto", origin="lower", interpolation="none")
        axes[1, column].set(xlabel="frame", ylabel="mel band")
    for column, (text, alignment) in enumerate(forced):
        end, coverage = alignment_figures(alignment)
        print(f"teacher-forced {text!r}: end {end:.2f}, coverage {coverage:.2f}")
        axes[2, column].imshow(alignment.T, aspect="auto", origin="lower", interpolation="none")
        axes[2, column].set(title=f"teacher-forced (training clip): end {end:.2f}, coverage {coverage:.2f}",
                            xlabel="frame", ylabel="token")
    fig.suptitle(args.checkpoint)
    fig.tight_layout()
    fig.savefig(args.png)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
