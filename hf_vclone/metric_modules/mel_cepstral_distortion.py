"""Mel-cepstral distortion with DTW, beside the length ratio that keeps it honest."""

import datasets
import evaluate
import numpy as np

from hf_vclone.metrics import mcd_dtw
from hf_vclone.metrics import summarize

_DESCRIPTION = """
MCD (dB) between DTW-aligned mel-cepstra (c1-c13) of generated and reference 80-band log10 mels.
A sample counts toward `mcd` only when generated/reference frames lies within 0.5-2x: DTW
rewards outputs that never stop, so the length ratio always sits beside the distance.
"""
_KWARGS_DESCRIPTION = """
Args:
    predictions: generated log10 mels, each (frames, bins).
    references: reference log10 mels, each (frames, bins).
Returns:
    mcd (mean over counted samples, or None), counted, excluded_by_length, length_ratio_mean,
    per_sample (list of {mcd, length_ratio, counted}).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MelCepstralDistortion(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        mel = datasets.Sequence(datasets.Sequence(datasets.Value("float32")))
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": mel, "references": mel}),
        )

    def _compute(self, predictions, references):
        distances = [mcd_dtw(np.asarray(r, np.float32), np.asarray(p, np.float32)) for p, r in zip(predictions, references)]
        summary = summarize(distances)
        return {"mcd": summary.pop("mcd_mean"), **summary, "per_sample": [d.as_dict() for d in distances]}
