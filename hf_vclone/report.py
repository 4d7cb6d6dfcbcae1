"""The evaluation report: one markdown page with the metric table, the spectrograms, the attention
alignments (where the systems have attention) and the audio."""

from __future__ import annotations

from pathlib import Path

COLUMNS = [
    ("MCD (dB) ↓", "mcd", "{:.2f}"),
    ("F0 RMSE (cents) ↓", "f0_rmse_cents", "{:.0f}"),
    ("voicing error ↓", "voicing_error", "{:.2f}"),
    ("speaker similarity ↑", "speaker_similarity", "{:.3f}"),
    ("CER ↓", "cer", "{:.3f}"),
    ("WER ↓", "wer", "{:.3f}"),
    ("length ratio", "length_ratio_mean", "{:.2f}"),
    ("RTF ↓", "rtf", "{:.3f}"),
    ("alignment diagonality ↑", "alignment_diagonality", "{:.2f}"),
]
ALIGNMENTS = "alignments.png"  # written beside the report by compare_systems when a system has attention
REFERENCE_ROW = "reference (real recordings)"


def _cell(value, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def _heard(entry: dict | None) -> str:
    """A sample's transcript and CER, or nothing when no ASR ran."""
    if not entry or "transcript" not in entry:
        return ""
    transcript = entry["transcript"].replace("|", "\\|")
    return f' heard "{transcript}" (CER {_cell(entry["cer"], "{:.2f}")})'


def _test_sentence_lines(tests: dict | None) -> list[str]:
    """evaluation.test_sentences: each system's CER and WER on them, then what was heard in each."""
    if not tests:
        return []
    names = list(tests["systems"])
    lines = [f"## {len(tests['samples'])} test sentences (no recording: intelligibility only)", "",
             "| system | CER ↓ | WER ↓ |", "|---|---|---|"]
    lines += [f"| {n} | {_cell(s['cer'], '{:.3f}')} | {_cell(s['wer'], '{:.3f}')} |" for n, s in tests["systems"].items()]
    lines += ["", "| sentence | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for sample in tests["samples"]:
        lines.append(f"| {sample['text']} | " + " | ".join(f"[wav]({sample[n]['wav']}){_heard(sample[n])}"
                                                         for n in names) + " |")
    return lines + [""]


def write_report(report: dict, path: str | Path) -> Path:
    systems = report["systems"]
    lines = ["# Voice evaluation", "", f"{len(report['samples'])} held-out sentences.", ""]
    lines += ["| system | " + " | ".join(c[0] for c in COLUMNS) + " | counted |",
              "|---|" + "---|" * (len(COLUMNS) + 1)]
    for name, s in systems.items():
        total = s["counted"] + s["excluded_by_length"]
        cells = " | ".join(_cell(s.get(key), fmt) for _, key, fmt in COLUMNS)
        lines.append(f"| {name} | {cells} | {s['counted']}/{total} |")
    # The real recordings have only intelligibility to report: the floor the systems are read against.
    reference = report.get("reference") or {}
    if reference.get("cer") is not None:
        cells = " | ".join(_cell(reference.get(key) if key in ("cer", "wer") else None, fmt) for _, key, fmt in COLUMNS)
        lines.append(f"| {REFERENCE_ROW} | {cells} | |")
    # Other real voices reading the same sentences: how close "close" is.
    for name, s in (report.get("other_real_voices") or {}).items():
        total = s["counted"] + s["excluded_by_length"]
        cells = " | ".join(_cell(s.get(key), fmt) for _, key, fmt in COLUMNS)
        mark = " (nearest)" if name == report.get("nearest_real_voice") else ""
        lines.append(f"| another real voice: `{name}`{mark} | {cells} | {s['counted']}/{total} |")
    encoder = next((s.get("encoder") for s in systems.values() if s.get("encoder")), None)
    lines += ["", f"- Speaker similarity encoder: `{encoder}`.", f"- Intelligibility (CER, WER): {report['cer']}.",
              f"- A sample's MCD and F0 count only when its length ratio lies within "
              f"{report['length_ratio_bounds'][0]}-{report['length_ratio_bounds'][1]}x (DTW forgives outputs that never stop)."]
    if report.get("nearest_real_voice"):
        lines.append(f"- `{report['nearest_real_voice']}` is the real voice nearest the target (lowest MCD) among other "
                     "voices reading the same sentences: a clone should be closer than it.")
    if "base_speaker" in report:
        lines.append(f"- The base speaks as `{report['base_speaker']}`, its voice nearest the target on training clips.")
    path = Path(path)
    lines += ["", report["metrics"], "", "![spectrograms](spectrograms.png)", ""]
    if (path.parent / ALIGNMENTS).is_file():
        lines += ["Where each system looks in the text as it speaks (the first sentence): a clean rising "
                  "diagonal reads the text in order; a blur or a horizontal band ignores it.", "",
                  f"![alignments]({ALIGNMENTS})", ""]
    lines += _test_sentence_lines(report.get("test_sentences"))
    lines += ["## Samples", "",
              "| sentence | reference | " + " | ".join(systems) + " |", "|---|---|" + "---|" * len(systems)]
    for sample in report["samples"]:
        links = " | ".join(
            f"[wav]({sample[n]['wav']}) MCD {_cell(sample[n]['mcd'], '{:.1f}')}{_heard(sample[n])}" for n in systems
        )
        recording = f"[wav]({sample['reference_wav']}){_heard(sample.get('reference'))}"
        lines.append(f"| {sample['text']} | {recording} | {links} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
