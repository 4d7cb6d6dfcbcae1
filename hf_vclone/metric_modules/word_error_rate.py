"""Word error rate of ASR transcripts of speech against the text it was asked to say.

The offline counterpart of `evaluate.load("wer")` (which fetches its script from the Hub), with
the same normalisation as hf_vclone's CER, so the two read side by side."""

import datasets
import evaluate

from hf_vclone.intelligibility import error_rates

_DESCRIPTION = """
WER = (substitutions + deletions + insertions) / words of the reference, computed by jiwer over
the whole set, after Whisper's text normalisation of both sides (transformers'
EnglishTextNormalizer for English). 0 is perfect; it can exceed 1.
"""
_KWARGS_DESCRIPTION = """
Args:
    predictions: ASR transcripts of the audio.
    references: the texts the voice was asked to speak.
    language: the language whose normaliser applies ("en" by default; others get Whisper's basic one).
Returns:
    wer (over the set), per_sample (WER of each sentence; None where the reference normalises to nothing).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class WordErrorRate(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, language="en"):
        wer, per_sample = error_rates(predictions, references, "wer", language)
        return {"wer": wer, "per_sample": per_sample}
