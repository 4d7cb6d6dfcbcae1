"""log-F0 error (cents) and voicing error between generated and reference speech."""

import datasets
import evaluate
import numpy as np

from hf_vclone.metrics import mel_dtw_path
from hf_vclone.pitch import f0_contour
from hf_vclone.pitch import pitch_errors

_DESCRIPTION = """
F0 by pYIN on each waveform. The contours are aligned along the mel-cepstral DTW path when the
log-mels are given (as MCD aligns them; preferred: an F0-based alignment would hide intonation
errors), else by DTW on the F0 contours themselves. `f0_rmse_cents` is the RMSE of
1200*log2(f_generated/f_reference) over aligned frames voiced in both; `voicing_error` the share of
aligned frames whose voiced/unvoiced decisions differ.
"""
_KWARGS_DESCRIPTION = """
Args:
    predictions: generated waveforms (1-D float).
    references: reference waveforms (1-D float), same sampling rate.
    sampling_rate: int.
    prediction_mels, reference_mels: optional (frames, bins) log10 mels at a 256-sample hop, for the alignment.
Returns:
    f0_rmse_cents (mean over samples that had voiced pairs, or None), voicing_error (mean), per_sample.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class F0Error(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        wave = datasets.Sequence(datasets.Value("float32"))
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": wave, "references": wave}),
        )

    def _compute(self, predictions, references, sampling_rate=16000, prediction_mels=None, reference_mels=None):
        paths = [None] * len(predictions)
        if prediction_mels is not None and reference_mels is not None:
            paths = [mel_dtw_path(np.asarray(r), np.asarray(p)) for p, r in zip(prediction_mels, reference_mels)]
        per_sample = [
            pitch_errors(
                f0_contour(np.asarray(r, np.float32), sampling_rate), f0_contour(np.asarray(p, np.float32), sampling_rate),
                path,
            ).as_dict()
            for p, r, path in zip(predictions, references, paths)
        ]
        cents = [s["f0_rmse_cents"] for s in per_sample if s["f0_rmse_cents"] is not None]
        return {
            "f0_rmse_cents": float(np.mean(cents)) if cents else None,
            "voicing_error": float(np.mean([s["voicing_error"] for s in per_sample])) if per_sample else None,
            "per_sample": per_sample,
        }
