"""The evaluation report: one markdown page with the metric table, the spectrograms and the audio."""

from __future__ import annotations

from pathlib import Path

COLUMNS = [
    ("MCD (dB) ↓", "mcd", "{:.2f}"),
    ("F0 RMSE (cents) ↓", "f0_rmse_cents", "{:.0f}"),
    ("voicing error ↓", "voicing_error", "{:.2f}"),
    ("speaker similarity ↑", "speaker_similarity", "{:.3f}"),
    ("CER ↓", "cer", "{:.3f}"),
    ("length ratio", "length_ratio_mean", "{:.2f}"),
    ("RTF ↓", "rtf", "{:.3f}"),
]


def _cell(value, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def write_report(report: dict, path: str | Path) -> Path:
    systems = report["systems"]
    lines = ["# Voice evaluation", "", f"{len(report['samples'])} held-out sentences.", ""]
    lines += ["| system | " + " | ".join(c[0] for c in COLUMNS) + " | counted |",
              "|---|" + "---|" * (len(COLUMNS) + 1)]
    for name, s in systems.items():
        total = s["counted"] + s["excluded_by_length"]
        cells = " | ".join(_cell(s.get(key), fmt) for _, key, fmt in COLUMNS)
        lines.append(f"| {name} | {cells} | {s['counted']}/{total} |")
    encoder = next((s.get("encoder") for s in systems.values() if s.get("encoder")), None)
    lines += ["", f"- Speaker similarity encoder: `{encoder}`.", f"- Intelligibility (CER): {report['cer']}.",
              f"- A sample's MCD and F0 count only when its length ratio lies within "
              f"{report['length_ratio_bounds'][0]}-{report['length_ratio_bounds'][1]}x (DTW forgives outputs that never stop)."]
    if "base_speaker" in report:
        lines.append(f"- The base speaks as `{report['base_speaker']}`, its voice nearest the target on training clips.")
    lines += ["", report["metrics"], "", "![spectrograms](spectrograms.png)", "", "## Samples", "",
              "| sentence | reference | " + " | ".join(systems) + " |", "|---|---|" + "---|" * len(systems)]
    for sample in report["samples"]:
        links = " | ".join(
            f"[wav]({sample[n]['wav']}) MCD {_cell(sample[n]['mcd'], '{:.1f}')}" for n in systems
        )
        lines.append(f"| {sample['text']} | [wav]({sample['reference_wav']}) | {links} |")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
