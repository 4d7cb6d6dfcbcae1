"""ONNX against torch: the real-time factor of one VITS voice in onnxruntime and in torch, side by
side in one run (the machines here are noisy, so only the ratio travels).

    .venv/bin/python benchmarks/onnx_speed.py outputs/vits_demo --sentences 8 --repeats 3

Both speak the same token ids with the same settings (noise scales 0, so both do the same work);
the runs alternate, torch then onnxruntime, sentence by sentence. RTF = seconds of compute per
second of audio (below 1: faster than real time). Both runtimes get the same number of threads.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from hf_vclone.data.demo_corpus import sentences
from hf_vclone.onnx_export import OnnxVits, export_onnx, vits_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("voice", help="a VITS voice folder (hf-vclone train's output or a checkpoint)")
    parser.add_argument("--sentences", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the sentences (after one warm-up)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    vits, tokenizer, _ = vits_model(args.voice)
    wrapper = OnnxVits(vits).eval()
    rate = vits.config.sampling_rate
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    with tempfile.TemporaryDirectory() as tmp:
        out = export_onnx(args.voice, Path(tmp))
        session = ort.InferenceSession(str(out / "model.onnx"), options)
    zero, one = np.array(0.0, np.float32), np.array(1.0, np.float32)
    texts = sentences(args.sentences, seed=1)
    ids = [tokenizer(t)["input_ids"] for t in texts]

    def run_torch(x: list[int]) -> np.ndarray:
        with torch.no_grad():
            return wrapper(torch.tensor([x]), torch.tensor(0.0), torch.tensor(1.0), torch.tensor(0.0))[0].numpy()

    def run_ort(x: list[int]) -> np.ndarray:
        return session.run(None, {"input_ids": np.array([x], np.int64), "noise_scale": zero, "length_scale": one,
                                  "noise_scale_duration": zero})[0][0]

    spent = {"torch": 0.0, "onnxruntime": 0.0}
    audio_seconds, worst = 0.0, 0.0
    for x in ids:  # warm-up, and the two agree
        a, b = run_torch(x), run_ort(x)
        worst = max(worst, float(np.abs(a - b).max()))
    for _ in range(args.repeats):
        for x in ids:
            for name, fn in (("torch", run_torch), ("onnxruntime", run_ort)):
                start = time.perf_counter()
                wave = fn(x)
                spent[name] += time.perf_counter() - start
            audio_seconds += len(wave) / rate
    rtf = {name: seconds / audio_seconds for name, seconds in spent.items()}
    print(f"{args.voice}: {len(ids)} sentences x {args.repeats}, {audio_seconds / args.repeats:.1f} s of audio per pass, "
          f"{args.threads} threads; largest |torch - onnxruntime| {worst:.2e}")
    for name, value in rtf.items():
        print(f"  {name:12s} RTF {value:.4f}")
    print(f"  onnxruntime is {rtf['torch'] / rtf['onnxruntime']:.2f}x torch's speed")


if __name__ == "__main__":
    main()
