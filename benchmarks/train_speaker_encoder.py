"""Train the offline speaker encoder (assets/speaker_encoder/) on many espeak-ng "speakers".

The demo corpus has 6 voices, far too few to learn a speaker space, so this script speaks its own
set: random combinations of espeak-ng voice, variant, pitch and speed, each one "speaker", reading
sentences from the demo grammar. It leaves out every voice+variant pair the demo corpus uses (not
only its exact 6 settings), and every sentence the demo corpus can contain, then scores the trained
encoder on the 6 demo voices: the instrument has never heard the voices it will judge.

Launch (from the repository root; about 3 minutes on 2 CPU cores, half of it training):

    .venv/bin/python benchmarks/train_speaker_encoder.py
    .venv/bin/python benchmarks/train_speaker_encoder.py --speakers 100 --steps 200 --out /tmp/enc  # a quick look
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch
from torch import nn
from transformers import SpeechT5FeatureExtractor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hf_vclone.data.demo_corpus import BASE_VOICES, TARGET_VOICE, build_demo_corpus, require_espeak, sentences  # noqa: E402
from hf_vclone.speaker_encoder_model import EncoderConfig, TDNNSpeakerEncoder  # noqa: E402
from hf_vclone.speaker_similarity import OfflineSpeakerEncoder, offline_features, pair_scores  # noqa: E402

VOICES = ["en", "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan",
          "en-gb-x-gbcwmd"]
VARIANTS = ["", *(f"m{i}" for i in range(1, 8)), *(f"f{i}" for i in range(1, 6)), "klatt", "klatt2", "klatt3",
            "Andy", "Annie", "Alex", "anika", "aunty", "belinda", "benjamin", "david", "edward", "grandma",
            "grandpa", "john", "linda", "max", "michel", "norbert", "paul", "steph", "quincy", "travis"]
# "en" is an alias of en-gb's family: exclude its demo variants too.
_ALIAS = {"en": "en-gb"}
DEMO_PAIRS = {tuple(args[1].split("+")) for args in {**BASE_VOICES, **TARGET_VOICE}.values()}
DEMO_TEXTS = set(sentences(800, seed=0))  # everything build_demo_corpus speaks at its defaults


@dataclass
class TrainConfig:
    speakers: int = 400  # espeak-ng "speakers" (voice+variant+pitch+speed) to classify
    clips: int = 16  # sentences per speaker
    steps: int = 1000  # optimiser steps; each sees `batch` random crops
    batch: int = 64
    crop: tuple[int, int] = (80, 160)  # crop length range in 16 ms frames (1.3-2.6 s)
    lr: float = 3e-3
    margin: float = 0.2  # additive margin of AM-softmax, ramped in over the first fifth
    scale: float = 30.0
    channels: int = 128
    embedding_dim: int = 128
    eval_clips: int = 20  # per demo voice, for the unseen-voice check
    heldout: int = 40  # further grid speakers kept out of training: a harder unseen check
    gl_clips: int = 4  # per demo voice, re-rendered by Griffin-Lim for the real-vs-synthesized check
    seed: int = 0
    out: str = str(ROOT / "assets" / "speaker_encoder")


def speaker_grid(cfg: TrainConfig) -> dict[str, list[str]]:
    """`cfg.speakers + cfg.heldout` distinct espeak settings, none sharing a voice+variant with the
    demo corpus; the last `cfg.heldout` are not trained on."""
    rng = random.Random(cfg.seed)
    out: dict[str, list[str]] = {}
    while len(out) < cfg.speakers + cfg.heldout:
        voice, variant = rng.choice(VOICES), rng.choice(VARIANTS)
        if (_ALIAS.get(voice, voice), variant) in DEMO_PAIRS:
            continue
        pitch, speed = rng.randrange(10, 96, 5), rng.randrange(120, 211, 10)
        spec = voice + (f"+{variant}" if variant else "")
        out[f"{spec}_p{pitch}_s{speed}"] = ["-v", spec, "-p", str(pitch), "-s", str(speed)]
    return out


def speak_all(speakers: dict[str, list[str]], cfg: TrainConfig, workdir: Path) -> list[tuple[int, Path]]:
    """Each speaker reads `cfg.clips` sentences drawn from a pool the demo corpus never uses."""
    exe, rng = require_espeak(), random.Random(cfg.seed + 1)
    pool = [t for t in sentences(4000, seed=1) if t not in DEMO_TEXTS]
    jobs = []
    for label, args in enumerate(speakers.values()):
        for i, text in enumerate(rng.sample(pool, cfg.clips)):
            jobs.append((label, [exe, *args, "-w", str(workdir / f"{label:04d}_{i:02d}.wav"), text]))
    with ThreadPoolExecutor(4) as pool_:
        list(pool_.map(lambda job: subprocess.run(job[1], check=True, capture_output=True), jobs))
    return [(label, Path(cmd[-2])) for label, cmd in jobs]


def featurize(clips: list[tuple[int, Path]], seed: int) -> list[np.ndarray]:
    """Log-mel exactly as `embed` computes it; half the clips get white noise at 10-40 dB SNR so the
    encoder does not key on espeak's perfectly clean background."""
    features, rng = offline_features(EncoderConfig.sampling_rate), np.random.default_rng(seed)
    mels = []
    for _, path in clips:
        wave, rate = sf.read(str(path), dtype="float32")
        if rng.random() < 0.5:
            noise_power = np.mean(wave**2) / 10 ** (rng.uniform(10, 40) / 10)
            wave = wave + rng.standard_normal(len(wave)).astype(np.float32) * np.float32(np.sqrt(noise_power))
        mels.append(features(wave, rate).astype(np.float16))  # half the memory; ample precision
    return mels


class AMSoftmax(nn.Module):
    """Additive-margin softmax: cos(theta) - m for the true class, scaled by s (CosFace)."""

    def __init__(self, dim: int, classes: int, scale: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.01)
        self.scale = scale

    def forward(self, emb: torch.Tensor, labels: torch.Tensor, margin: float) -> tuple[torch.Tensor, float]:
        cos = emb @ nn.functional.normalize(self.weight, dim=1).T
        logits = self.scale * (cos - margin * nn.functional.one_hot(labels, cos.shape[1]))
        return nn.functional.cross_entropy(logits, labels), float((cos.argmax(1) == labels).float().mean())


def batch_of(mels: list[np.ndarray], labels: list[int], cfg: TrainConfig, rng: np.random.Generator):
    """Random clips, one random crop length per batch, random +-6 dB gain (0.3 in log10 units)."""
    idx = rng.integers(len(mels), size=cfg.batch)
    length = min(int(rng.integers(*cfg.crop)), min(len(mels[i]) for i in idx))
    crops = []
    for i in idx:
        start = int(rng.integers(len(mels[i]) - length + 1))
        crops.append(mels[i][start : start + length].astype(np.float32) + rng.uniform(-0.3, 0.3))
    return torch.from_numpy(np.stack(crops)), torch.tensor([labels[i] for i in idx])


def train(mels: list[np.ndarray], labels: list[int], cfg: TrainConfig) -> TDNNSpeakerEncoder:
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = TDNNSpeakerEncoder(EncoderConfig(channels=cfg.channels, embedding_dim=cfg.embedding_dim))
    head = AMSoftmax(cfg.embedding_dim, max(labels) + 1, cfg.scale)
    params = [*model.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    model.train()
    for step in range(1, cfg.steps + 1):
        x, y = batch_of(mels, labels, cfg, rng)
        # Margin 0 at first: with a margin from step 1 the randomly placed classes barely move.
        loss, acc = head(model(x), y, cfg.margin * min(1.0, step / (0.2 * cfg.steps)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 50 == 0 or step == 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  train acc {acc:.2f}", flush=True)
    return model.eval()


def griffin_lim(wave: np.ndarray, rate: int, features) -> np.ndarray:
    """The clip through its own 16 kHz log-mel and back by Griffin-Lim, as the offline TTS path
    (`SpeechT5Backend.mel_to_audio` without a vocoder) renders speech."""
    fe = SpeechT5FeatureExtractor()
    return librosa.feature.inverse.mel_to_audio(
        np.power(10.0, features(wave, rate).T), sr=fe.sampling_rate, n_fft=fe.n_fft, hop_length=fe.sample_stride,
        win_length=fe.sample_size, fmin=fe.fmin, fmax=fe.fmax, power=1.0, n_iter=32,
    ).astype(np.float32)


def evaluate_unseen(encoder: OfflineSpeakerEncoder, heldout: list[tuple[str, Path]], cfg: TrainConfig,
                    workdir: Path) -> dict[str, dict]:
    """Scores through the public `embed`: the 6 demo voices, the held-out grid speakers, and real
    demo clips against Griffin-Lim renderings of demo clips (the real-vs-synthesized use)."""
    root = build_demo_corpus(workdir / "demo", clips_per_base_voice=cfg.eval_clips, target_clips=cfg.eval_clips)
    demo = [(wav.parent.parent.name, *sf.read(str(wav), dtype="float32")) for wav in sorted(root.glob("*/wavs/*.wav"))]
    grid = [(name, *sf.read(str(path), dtype="float32")) for name, path in heldout]
    embs = {key: [encoder.embed(w, r) for _, w, r in clips] for key, clips in (("demo", demo), ("grid", grid))}
    names = {"demo": [n for n, _, _ in demo], "grid": [n for n, _, _ in grid]}
    gl_idx = [i for i, n in enumerate(names["demo"]) if names["demo"][:i].count(n) < cfg.gl_clips]
    gl_embs = [encoder.embed(griffin_lim(demo[i][1], demo[i][2], encoder.features), 16000) for i in gl_idx]
    return {"demo": {**pair_scores(embs["demo"], names["demo"]), "voices": sorted(set(names["demo"]))},
            "heldout": pair_scores(embs["grid"], names["grid"]),
            "griffin_lim": pair_scores(embs["demo"], names["demo"], gl_embs, [names["demo"][i] for i in gl_idx])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in fields(TrainConfig):
        if f.name != "crop":
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    cfg = TrainConfig(**vars(parser.parse_args()))
    if cfg.steps < 20 or cfg.clips < 2:
        parser.error(f"--steps must be >= 20 (got {cfg.steps}; the LR warm-up needs a few) and --clips >= 2")
    # One thread for the many small per-clip ops (on a busy machine a 2-thread pool spins and
    # stalls: featurising once took 9x longer); both cores for the training matmuls.
    torch.set_num_threads(1)
    timings, started = {}, time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vclone-spkenc-") as tmp:
        speakers = speaker_grid(cfg)
        spoken = speak_all(speakers, cfg, Path(tmp))
        timings["speak"] = time.perf_counter() - started
        clips = [(label, path) for label, path in spoken if label < cfg.speakers]
        heldout = [(f"heldout{label}", path) for label, path in spoken if label >= cfg.speakers]
        mels = featurize(clips, cfg.seed)
        timings["data"] = time.perf_counter() - started
        print(f"{len(spoken)} clips spoken in {timings['speak']:.0f} s, features by {timings['data']:.0f} s", flush=True)
        torch.set_num_threads(2)
        model = train(mels, [label for label, _ in clips], cfg)
        timings["train"] = time.perf_counter() - started - timings["data"]
        torch.set_num_threads(1)
        out = model.save(cfg.out)
        result = evaluate_unseen(OfflineSpeakerEncoder(out), heldout, cfg, Path(tmp))
    timings["total"] = time.perf_counter() - started
    print(json.dumps(result, indent=2))
    (out / "README.md").write_text(readme(cfg, result, timings, sys.argv[1:]), encoding="utf-8")


def readme(cfg: TrainConfig, result: dict, timings: dict, argv: list[str]) -> str:
    size_kb = (Path(cfg.out) / "model.safetensors").stat().st_size / 1024
    command = " ".join([".venv/bin/python benchmarks/train_speaker_encoder.py", *argv])
    params = sum(p.numel() for p in TDNNSpeakerEncoder.load(cfg.out).parameters())
    demo = result["demo"]
    table = "\n".join(
        f"| {label} | {r['speakers']} x {r['clips'] // r['speakers']} | {r['same_cosine']:.3f} ({r['same_pairs']}) "
        f"| {r['different_cosine']:.3f} ({r['different_pairs']}) | {100 * r['eer']:.2f}% |"
        for label, r in (("demo", demo), ("held-out grid", result["heldout"]),
                         ("demo: real x Griffin-Lim", result["griffin_lim"]))
    )
    return f"""# Offline speaker encoder

A small x-vector style speaker encoder ({params:,} parameters, {size_kb:.0f} KB of safetensors) for
the offline speaker-similarity metric (`hf_vclone.speaker_similarity.load_speaker_encoder("offline")`).
Input: the 80-bin log10 mel of `SpeechT5FeatureExtractor` at 16 kHz. Model: 4 TDNN layers
(kernels 5/3/3/1, dilations 1/2/3/1, {cfg.channels} channels), mean+std statistics pooling, a
linear layer to a {cfg.embedding_dim}-d L2-normalised embedding (`hf_vclone/speaker_encoder_model.py`).

## Training

{cfg.speakers} espeak-ng "speakers" (random voice + variant + pitch + speed over {len(VOICES)} English
voices and {len(VARIANTS)} variants; {cfg.heldout} more drawn and held out) x {cfg.clips} sentences from the demo grammar, with white noise
at 10-40 dB SNR on half the clips; additive-margin softmax (m={cfg.margin}, s={cfg.scale}) over
random 1.3-2.6 s crops with +-6 dB gain, {cfg.steps} AdamW steps of {cfg.batch} crops, one-cycle
LR peak {cfg.lr}, seed {cfg.seed}. Excluded from training: every voice+variant pair that the demo corpus
uses ({", ".join(sorted("+".join(p) for p in DEMO_PAIRS))}), at any pitch or speed, and every
sentence the demo corpus can contain.

```bash
{command}
```

Wall time on 2 shared CPU cores: {timings["speak"]:.0f} s to speak, {timings["data"] - timings["speak"]:.0f} s to featurise, {timings["train"]:.0f} s to
train, {timings["total"]:.0f} s in all (including the check below).

## Check on unseen voices

Cosines of all clip pairs, through the public `embed` (full clips, no cropping):

| unseen set | speakers x clips | same-speaker pairs: mean cosine | different-speaker pairs: mean cosine | EER |
|---|---|---|---|---|
{table}

- **demo**: the 6 demo-corpus voices ({", ".join(demo["voices"])}) at their exact settings, sentences
  not used in training. Their voice+variant pairs were never heard in training at any pitch or speed.
- **held-out grid**: {cfg.heldout} further speakers from the same random grid, never trained on. They
  may share a voice+variant with a training speaker at another pitch/speed, and with each
  other, so this is the harder set: near-neighbour speakers.
- **demo: real x Griffin-Lim**: every real demo clip against {cfg.gl_clips} clips per voice passed through
  their own log-mel and back by 32-iteration Griffin-Lim (how the offline TTS path renders speech);
  pairs are real x resynthesized only, and include each clip with its own rendering.

## Caveats

- Trained on espeak-ng formant speech only. It separates espeak voices and survives Griffin-Lim
  resynthesis (above); on human speech or a neural vocoder's output it is untested and should be
  read as a rough signal. Prefer a pretrained `WavLMForXVector` (`microsoft/wavlm-base-plus-sv`)
  when its weights can be had.
- Cosines are only comparable under one encoder: do not mix them with WavLM scores.
- Timings are from one run on 2 cores shared with other jobs; under heavy load the same run took
  up to 4x longer (its results were identical: the run is seeded and repeatable on CPU).
"""


if __name__ == "__main__":
    main()
