"""Character error rate of ASR transcripts of speech against the text it was asked to say."""

import datasets
import evaluate

from hf_vclone.intelligibility import error_rates

_DESCRIPTION = """
CER = (substitutions + deletions + insertions) / characters of the reference, computed by jiwer
over the whole set (so long sentences weigh more), after Whisper's text normalisation of both
sides (transformers' EnglishTextNormalizer for English: case, punctuation, spelled-out numbers,
contractions). 0 is perfect; it can exceed 1 when the transcript is longer than the text.
"""
_KWARGS_DESCRIPTION = """
Args:
    predictions: ASR transcripts of the audio.
    references: the texts the voice was asked to speak.
    language: the language whose normaliser applies ("en" by default; others get Whisper's basic one).
Returns:
    cer (over the set), per_sample (CER of each sentence; None where the reference normalises to nothing).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CharacterErrorRate(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, language="en"):
        cer, per_sample = error_rates(predictions, references, "cer", language)
        return {"cer": cer, "per_sample": per_sample}
