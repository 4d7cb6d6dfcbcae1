"""The `hf-vclone` command: train, prepare, synthesize.

    hf-vclone train RECIPE [key=value ...]
    hf-vclone prepare RECIPE [key=value ...]
    hf-vclone evaluate --model DIR RECIPE [key=value ...]
    hf-vclone synthesize --model DIR --text "..." --out a.wav
    hf-vclone export DIR OUT [--merge]
    hf-vclone push DIR REPO_ID [--public] [--merge]
    hf-vclone listen-test DIR... [--db ratings.db] [--port 7861] [--report]
    hf-vclone ui [--recipes recipes] [--workspace outputs/ui] [--port 7860]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import UserError


def _train(ns: argparse.Namespace) -> int:
    from .config import load_recipe
    from .finetune import run

    result = run(load_recipe(ns.recipe, ns.overrides))
    if result.outputs:
        print(_summary(result))
    return 0


def _summary(result) -> str:
    lines = [f"\nDone in {result.train_seconds / 60:.1f} min of training. Outputs:"]
    lines += [f"  {name:<15} {path}" for name, path in result.outputs.items()]
    if result.metrics:
        lines.append(_metrics_table(result.metrics))
    return "\n".join(lines)


def _prepare(ns: argparse.Namespace) -> int:
    """Check and cache the data of a recipe without training; `train` reuses the cache."""
    import time

    from .backends import recipe_backend
    from .config import load_recipe
    from .recipe_data import prepare_recipe_data

    start = time.perf_counter()
    recipe = load_recipe(ns.recipe, ns.overrides)
    out = Path(recipe.output.dir)
    data = prepare_recipe_data(recipe, recipe_backend(recipe), out).data
    print(f"{data.summary()} in {time.perf_counter() - start:.1f} s")
    if data.cache:
        print(f"  features        {data.cache} ({'reused' if data.from_cache else 'computed and cached'})")
    for name in ("data_card.md", "durations.png", "skipped.csv"):
        if (out / name).is_file():
            print(f"  {name:<15} {out / name}")
    return 0


def _evaluate(ns: argparse.Namespace) -> int:
    from .config import load_recipe
    from .evaluate_voice import evaluate_saved

    out = ns.out or f"{ns.model.rstrip('/')}/evaluation"
    report = evaluate_saved(load_recipe(ns.recipe, ns.overrides), ns.model, out)
    print(_metrics_table(report))
    print(f"report: {out}/report.md")
    return 0


def _metrics_table(report: dict) -> str:
    lines = ["Held-out sentences (MCD dB, F0 cents, CER and WER: lower is closer; similarity: higher is closer):"]
    for name, s in report["systems"].items():
        def fmt(key: str, spec: str) -> str:
            return "n/a" if s.get(key) is None else format(s[key], spec)

        total = s["counted"] + s["excluded_by_length"]
        lines.append(
            f"  {name:<11} MCD {fmt('mcd', '.2f')}  F0 {fmt('f0_rmse_cents', '.0f')}  similarity "
            f"{fmt('speaker_similarity', '.3f')}  CER {fmt('cer', '.3f')}  WER {fmt('wer', '.3f')}  "
            f"RTF {fmt('rtf', '.3f')}  ({s['counted']}/{total} counted, length ratio {fmt('length_ratio_mean', '.2f')})"
        )
    reference = report.get("reference") or {}
    if reference.get("cer") is not None:
        lines.append(f"  {'reference':<11} CER {reference['cer']:.3f}  WER {reference['wer']:.3f}  "
                     "(the real recordings: the floor for this voice and ASR)")
    else:
        lines.append("  CER and WER skipped: evaluation.asr_model is null")
    if near := report.get("nearest_real_voice"):
        o = report["other_real_voices"][near]
        sim, cer = (("n/a" if o.get(k) is None else f"{o[k]:.3f}") for k in ("speaker_similarity", "cer"))
        lines.append(f"  nearest other real voice, {near}: MCD {o['mcd']:.2f}  similarity {sim}  CER {cer}  "
                     "(a clone should be closer than it)")
    if tests := report.get("test_sentences"):
        heard = "  ".join(f"{name} CER {'n/a' if t['cer'] is None else format(t['cer'], '.3f')}"
                          for name, t in tests["systems"].items())
        lines.append(f"{len(tests['samples'])} test sentences (evaluation.test_sentences, no recording): {heard}")
    return "\n".join(lines)


def _synthesize(ns: argparse.Namespace) -> int:
    from .synthesize import Synthesizer

    out = Synthesizer(ns.model).to_file(ns.text, ns.out, speaker=ns.speaker, seed=ns.seed)
    print(f"wrote {out}")
    return 0


def _convert(ns: argparse.Namespace) -> int:
    """A published checkpoint, read with weights_only and checked key by key, as a save_pretrained folder."""
    if ns.kind == "tacotron2":
        from .models.tacotron2.convert import convert_tacotron2

        out = convert_tacotron2(ns.checkpoint, ns.out, ns.sampling_rate)
        print(f"wrote {out} (model.type: tacotron2, model.name_or_path: {out})")
        return 0
    from .models.vocoder_convert import convert_hifigan, convert_waveglow

    convert = convert_hifigan if ns.kind == "hifigan" else convert_waveglow
    out = convert(ns.checkpoint, ns.out, ns.sampling_rate)
    print(f"wrote {out} (a Tacotron 2 recipe's model.vocoder: {out})")
    return 0


def _export(ns: argparse.Namespace) -> int:
    """A copy of the voice; with --merge a LoRA adapter is folded into its base."""
    from .export import merge_voice
    from .model_card import write_card
    from .publish import copy_extras

    if ns.onnx:
        from .onnx_export import export_onnx

        out = export_onnx(ns.model, ns.out)
        print(f"wrote {out}/model.onnx (token ids -> waveform; runs with onnxruntime alone, README: ONNX)")
        return 0
    if not ns.merge:
        raise FileNotFoundError("nothing to do: `export` writes a merged voice (--merge) or an ONNX graph (--onnx)")
    updates = {key: value for key, value in (("noise_scale", ns.noise_scale),
                                              ("noise_scale_duration", ns.noise_scale_duration),
                                              ("speaking_rate", ns.speaking_rate)) if value is not None}
    out = merge_voice(ns.model, ns.out, ns.dtype, updates)
    copy_extras(Path(ns.model), out)
    write_card(out)
    print(f"wrote {out} (loads with from_pretrained and pipeline('text-to-speech'))")
    return 0


def _push(ns: argparse.Namespace) -> int:
    from .publish import push_voice

    push_voice(ns.model, ns.repo_id, private=not ns.public, adapter_only=not ns.merge)
    return 0


def _listen_test(ns: argparse.Namespace) -> int:
    from .listening.mos import markdown, to_csv
    from .listening.server import ListeningTest, serve

    test = ListeningTest(ns.folders, ns.db)
    if ns.report:
        rows = test.results()
        if not rows:
            raise UserError(f"{ns.db} holds no ratings yet")
        csv_path = Path(ns.db).with_suffix(".csv")
        csv_path.write_text(to_csv(rows), encoding="utf-8")
        print(markdown(rows) + f"\n(also written to {csv_path})")
        return 0
    server = serve(test, ns.host, ns.port)
    host, port = server.server_address[:2]
    systems = sorted({t.system for t in test.trials})
    print(f"listening test: {len(test.trials)} samples from {len(systems)} systems ({', '.join(systems)}); "
          f"ratings in {ns.db}\nopen http://{host}:{port}/ (results at /results); Ctrl+C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _dataset(ns: argparse.Namespace) -> int:
    from .dataset_builder import BuildOptions, build_dataset

    options = BuildOptions(ns.min_seconds, ns.max_seconds, ns.min_pause, ns.pad,
                           None if ns.language == "auto" else ns.language, ns.asr_model)
    report = build_dataset(ns.raw, ns.out, options)
    print(f"{report.summary()}\nwrote {ns.out}/metadata.csv (train with data.format: ljspeech, "
          f"data.path: {ns.out}); check {ns.out}/review.md")
    return 0


def _ui(ns: argparse.Namespace) -> int:
    from .ui.app import launch

    print("starting the page (Ctrl+C stops) ...", flush=True)
    launch(ns.workspace, ns.recipes, ns.host, ns.port, block=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-vclone", description="Voice cloning by fine-tuning TTS models.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="fine-tune a voice from a YAML recipe")
    train.add_argument("recipe", help="path to a recipe, e.g. recipes/quickstart.yaml")
    train.add_argument("overrides", nargs="*", help="key.sub=value overrides, e.g. training.max_steps=50")
    train.set_defaults(func=_train)
    prep = sub.add_parser("prepare", help="check, clean and cache a recipe's data; report every skipped clip")
    prep.add_argument("recipe")
    prep.add_argument("overrides", nargs="*", help="key.sub=value overrides, e.g. data.num_proc=2")
    prep.set_defaults(func=_prepare)
    ev = sub.add_parser("evaluate", help="score a saved voice on a recipe's held-out recordings; write a report")
    ev.add_argument("--model", required=True, help="a folder written by `hf-vclone train`")
    ev.add_argument("recipe", help="the recipe whose data (and held-out split) and base model to use")
    ev.add_argument("overrides", nargs="*")
    ev.add_argument("--out", default=None, help="report folder (default: MODEL/evaluation)")
    ev.set_defaults(func=_evaluate)
    synth = sub.add_parser("synthesize", help="speak text with a fine-tuned voice or adapter")
    synth.add_argument("--model", required=True, help="a folder written by `hf-vclone train`")
    synth.add_argument("--text", required=True)
    synth.add_argument("--out", required=True, help="output .wav path")
    synth.add_argument("--speaker", default=None, help="speaker name, for multi-speaker voices")
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(func=_synthesize)
    export = sub.add_parser("export", help="write a merged copy of a voice (a LoRA adapter folded into its base), "
                                           "or a VITS voice as ONNX")
    export.add_argument("model", help="a folder written by `hf-vclone train`")
    export.add_argument("out", help="the new folder")
    export.add_argument("--merge", action="store_true", help="merge a LoRA adapter into the base weights")
    export.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    export.add_argument("--noise-scale", type=float, default=None,
                        help="VITS: the prior's sampling noise the voice speaks with (written to its config; "
                             "VITS uses 0.667, small bases read better lower: benchmarks/README.md)")
    export.add_argument("--noise-scale-duration", type=float, default=None,
                        help="VITS: the stochastic duration predictor's noise (VITS uses 0.8)")
    export.add_argument("--speaking-rate", type=float, default=None,
                        help="VITS: durations are divided by it (VitsConfig.speaking_rate; below 1 speaks slower)")
    export.add_argument("--onnx", action="store_true",
                        help="write a VITS voice (LoRA merged) as model.onnx: token ids -> waveform, for onnxruntime")
    export.set_defaults(func=_export)
    convert = sub.add_parser("convert", help="a published checkpoint as a save_pretrained folder "
                                             "(Tacotron 2 and its vocoders)")
    convert.add_argument("kind", choices=["tacotron2", "hifigan", "waveglow"], help="what the checkpoint holds")
    convert.add_argument("checkpoint", help="e.g. NVIDIA's tacotron2_statedict.pt, speechbrain's model.ckpt or "
                                            "generator.ckpt, NVIDIA's nvidia_waveglowpyt_fp32_20190427")
    convert.add_argument("out", help="the new folder (a tacotron2 recipe's model.name_or_path, or model.vocoder)")
    convert.add_argument("--sampling-rate", type=int, default=22050, help="the rate it was trained at")
    convert.set_defaults(func=_convert)
    push = sub.add_parser("push", help="publish a voice to the Hugging Face Hub with its model card")
    push.add_argument("model", help="a folder written by `hf-vclone train`")
    push.add_argument("repo_id", help="e.g. your-name/my-voice")
    push.add_argument("--public", action="store_true", help="make the repo public (default: private)")
    push.add_argument("--merge", action="store_true", help="push a LoRA voice merged into its base, not as an adapter")
    push.set_defaults(func=_push)
    listen = sub.add_parser("listen-test", help="serve a blinded MOS listening test over evaluated voices")
    listen.add_argument("folders", nargs="+", help="folders with evaluation samples (metrics.json + samples/)")
    listen.add_argument("--db", default="ratings.db", help="SQLite file for the ratings (reopen it to continue)")
    listen.add_argument("--host", default="127.0.0.1")
    listen.add_argument("--port", type=int, default=7861)
    listen.add_argument("--report", action="store_true", help="print the MOS table (and write it as CSV) instead")
    listen.set_defaults(func=_listen_test)
    ds = sub.add_parser("dataset", help="long raw recordings -> clips cut at pauses + Whisper transcripts "
                        "(an LJSpeech folder and a review table)")
    ds.add_argument("raw", nargs="+", help="recordings (wav, flac, ogg, mp3) or folders of them")
    ds.add_argument("--out", required=True, help="the LJSpeech folder to write (re-running skips finished files)")
    ds.add_argument("--min-seconds", type=float, default=1.0, help="shorter pieces join a neighbour")
    ds.add_argument("--max-seconds", type=float, default=12.0, help="longest clip; cut at the last short silence")
    ds.add_argument("--min-pause", type=float, default=0.3, help="the shortest silence that ends a clip")
    ds.add_argument("--pad", type=float, default=0.2, help="silence kept at each clip edge, at most")
    ds.add_argument("--language", default="en", help="transcription language, or auto to detect it")
    ds.add_argument("--asr-model", default="whisper-base", help="a CTranslate2 Whisper (faster-whisper)")
    ds.set_defaults(func=_dataset)
    ui = sub.add_parser("ui", help="a local web page: clips in, train, listen, speak, publish (needs the [ui] extra)")
    ui.add_argument("--recipes", default="recipes", help="folder of recipes offered as base model and settings")
    ui.add_argument("--workspace", default="outputs/ui", help="where the page writes clips and runs")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=None, help="default: Gradio's (7860 or the next free one)")
    ui.set_defaults(func=_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    from .guards import Preempted

    try:
        return ns.func(ns)
    except Preempted as err:
        print(f"hf-vclone {ns.command}: {err}", file=sys.stderr)
        return 143  # 128 + SIGTERM: what a scheduler expects from a job it terminated
    except (UserError, FileNotFoundError) as err:
        # User-fixable problems get their message, not a traceback.
        print(f"hf-vclone {ns.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2


def _one_line(err: Exception) -> str:
    """The message on one line (messages wrapped from other libraries may span several), except a
    recipe's list of several problems, which keeps one line per problem."""
    message = str(err)
    if len(getattr(err, "problems", ())) > 1:
        return message
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
