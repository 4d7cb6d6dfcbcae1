"""Character error rate of ASR transcripts of synthesized speech against the text it was asked to say."""

import datasets
import evaluate
import jiwer

from hf_vclone.intelligibility import normalize_for_cer

_DESCRIPTION = """
CER = (substitutions + deletions + insertions) / characters of the reference, computed by jiwer
over the whole set (so long sentences weigh more), after lower-casing and removing punctuation.
0 is perfect; it can exceed 1 when the transcript is longer than the text.
"""
_KWARGS_DESCRIPTION = """
Args:
    predictions: ASR transcripts of the generated audio.
    references: the texts the voice was asked to speak.
Returns:
    cer (over the set), per_sample (CER of each sentence).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CharacterErrorRate(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        hyps = [normalize_for_cer(p) for p in predictions]
        refs = [normalize_for_cer(r) for r in references]
        if not refs:
            return {"cer": None, "per_sample": []}
        return {"cer": float(jiwer.cer(refs, hyps)), "per_sample": [float(jiwer.cer(r, h)) for r, h in zip(refs, hyps)]}
