"""Why does a SpeechT5 base not speak? Teacher-forced vs free-running, and what its encoder hears.

For one base voice and a few sentences it never trained on, this prints:
- CER of the real recording, of the base teacher-forced on that recording, fed silence (zeros:
  what it reads from the text alone, the `speecht5.text_only` clips' task) and free-running;
- "crossed": teacher-forced on *another* sentence's recording with its own text unchanged, scored
  against both texts (lower against the other one: its content comes from its input frames, not
  from what it reads; item 6 of benchmarks/README.md);
- the teacher-forced L1 on training clips beside two baselines: "copy the previous decoder step"
  and "the clip's mean spectrum" (a model below the mean has learned nothing; below copying, it
  uses more than its own past);
- the encoder's text sensitivity: centred cosine of its outputs for two unrelated texts at equal
  positions (near 1: it encodes position, not text);
and writes a picture: the real mel, the free-running mel, and the teacher-forced cross-attention
of every decoder layer.

    .venv/bin/python benchmarks/base_diagnosis.py assets/quickstart_base --speaker us_m1 --png diagnosis.png
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from base_cer import held_out_sentences, real_recordings
from hf_vclone.data.audio import clean
from hf_vclone.data.features import LogMel
from hf_vclone.intelligibility import error_rates, transcribe
from hf_vclone.synthesize import load_voice

UNRELATED = ("the old farmer carried a heavy box near the river", "xq zvkwp mbuug yjjfl h wqxwj sfk ilqa pfm xzbmb")


def teacher_forced(synth, text: str, mel: np.ndarray, speaker: str, silent: bool = False):
    """The model's output and cross-attentions with the real mel as its decoder input (`silent`:
    zeros instead, what `speecht5.text_only` clips are fed: every frame from the text alone)."""
    tts, r = synth.voice.tts, synth.voice.tts.config.reduction_factor
    ids = torch.tensor([synth.processor.tokenizer(text)["input_ids"]])
    labels = torch.tensor(mel[: len(mel) - len(mel) % r])[None]
    inputs = torch.zeros(1, labels.shape[1] // r, labels.shape[2]) if silent else None
    torch.manual_seed(0)
    with torch.no_grad():
        out = tts(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, output_attentions=True,
                  decoder_input_values=inputs,
                  speaker_embeddings=synth.voice.speakers.vector(speaker).reshape(1, -1), return_dict=True)
    return out.spectrogram[0].numpy(), labels[0].numpy(), out.cross_attentions


def text_sensitivity(synth) -> float:
    encoder, tok = synth.voice.tts.speecht5.encoder, synth.processor.tokenizer
    with torch.no_grad():
        a, b = (encoder(input_values=torch.tensor([tok(t)["input_ids"]])).last_hidden_state[0] for t in UNRELATED)
    n, mean = min(len(a), len(b)), torch.cat([a, b]).mean(0)
    return float(torch.nn.functional.cosine_similarity(a[:n] - mean, b[:n] - mean, dim=-1).mean())


def training_l1(synth, corpus: Path, speaker: str, clips: int, log_mel: LogMel) -> tuple[float, float, float]:
    """Teacher-forced L1 on training clips, against copying the previous step and the clip's mean."""
    r, rate = synth.voice.tts.config.reduction_factor, synth.sampling_rate
    rows = [line.split("|") for line in (corpus / speaker / "metadata.csv").read_text().splitlines()[:clips]]
    scores = []
    for clip_id, text in rows:
        wave, source_rate = sf.read(str(corpus / speaker / "wavs" / f"{clip_id}.wav"), dtype="float32")
        out, ref, _ = teacher_forced(synth, text, log_mel(clean(wave, source_rate, rate, -23.0, 40.0)), speaker)
        copy = np.concatenate([np.zeros((r, ref.shape[1])), np.repeat(ref[r - 1 :: r][:-1], r, axis=0)])
        scores.append((np.abs(out - ref).mean(), np.abs(copy - ref).mean(), np.abs(ref.mean(0) - ref).mean()))
    return tuple(float(x) for x in np.mean(scores, axis=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("voice")
    parser.add_argument("--speaker", default="us_m1")
    parser.add_argument("--sentences", type=int, default=4)
    parser.add_argument("--corpus", type=Path, default=Path("data/demo_corpus"))
    parser.add_argument("--png", type=Path)
    args = parser.parse_args()
    synth = load_voice(args.voice)
    rate, log_mel = synth.sampling_rate, LogMel(synth.processor.feature_extractor)
    texts = held_out_sentences(args.sentences)
    with tempfile.TemporaryDirectory() as tmp:
        refs = real_recordings(args.speaker, texts, rate, Path(tmp))
    waves: dict[str, list[np.ndarray]] = {"real": [], "teacher-forced": [], "text only": [], "free-running": [],
                                          "crossed": []}
    mels = [log_mel(ref) for ref in refs]
    for i, (text, ref) in enumerate(zip(texts, refs)):
        mel = log_mel(ref)
        out, _, attentions = teacher_forced(synth, text, mel, args.speaker)
        silent, _, _ = teacher_forced(synth, text, mel, args.speaker, silent=True)
        crossed, _, _ = teacher_forced(synth, text, mels[(i + 1) % len(mels)], args.speaker)
        free = synth.mel(text, speaker=args.speaker, minlenratio=0.0, maxlenratio=8.0)
        waves["real"].append(ref)
        waves["teacher-forced"].append(synth.backend.mel_to_audio(out, synth.processor, None))
        waves["text only"].append(synth.backend.mel_to_audio(silent, synth.processor, None))
        waves["free-running"].append(synth.backend.mel_to_audio(free, synth.processor, None))
        waves["crossed"].append(synth.backend.mel_to_audio(crossed, synth.processor, None))
        if i == 0 and args.png:
            plot(args.png, mel, free, attentions, text)
    for name, spoken in waves.items():
        heard = transcribe("whisper-base", spoken, rate)
        print(f"{name:>15}: CER {error_rates(heard, texts, 'cer')[0]:.3f}  e.g. {heard[0]!r}")
        if name == "crossed":
            others = texts[1:] + texts[:1]
            print(f"{'':>15}  against the sentence whose frames it was fed: CER {error_rates(heard, others, 'cer')[0]:.3f}")
    model, copy, mean = training_l1(synth, args.corpus, args.speaker, 8, log_mel)
    print(f"teacher-forced L1 on 8 training clips {model:.3f} (copy previous step {copy:.3f}, clip mean {mean:.3f})")
    print(f"encoder text sensitivity: centred cosine at equal positions of two unrelated texts {text_sensitivity(synth):.3f}")


def plot(path: Path, real: np.ndarray, free: np.ndarray, attentions, text: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2 + len(attentions), 1, figsize=(11, 4 + 2.4 * len(attentions)))
    axes[0].imshow(real.T, origin="lower", aspect="auto")
    axes[0].set_title(f'real recording: "{text}"')
    axes[1].imshow(free.T, origin="lower", aspect="auto")
    axes[1].set_title("free-running")
    for j, layer in enumerate(attentions):
        axes[2 + j].imshow(layer[0].mean(0).numpy().T, origin="lower", aspect="auto")
        axes[2 + j].set_title(f"teacher-forced cross-attention, decoder layer {j} (tokens up, steps across)")
    fig.tight_layout()
    fig.savefig(path, dpi=70)


if __name__ == "__main__":
    main()
