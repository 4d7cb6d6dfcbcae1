"""Speaker similarity: cosine between speaker-encoder embeddings of generated and reference speech."""

import datasets
import evaluate
import numpy as np

from hf_vclone.speaker_similarity import cosine
from hf_vclone.speaker_similarity import load_speaker_encoder

_DESCRIPTION = """
Cosine similarity (-1..1, higher is closer) between the speaker embeddings of each generated
clip and its reference. `encoder` says which speaker encoder produced the figure: a pretrained
WavLM x-vector model where one can be loaded, else hf_vclone's offline espeak-trained encoder.
"""
_KWARGS_DESCRIPTION = """
Args:
    predictions: generated waveforms (1-D float).
    references: reference waveforms (1-D float).
    sampling_rate: int.
    encoder: a WavLMForXVector Hub id or folder, or None / "offline".
Returns:
    speaker_similarity (mean), encoder (its name), per_sample.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SpeakerSimilarity(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        wave = datasets.Sequence(datasets.Value("float32"))
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": wave, "references": wave}),
        )

    def _compute(self, predictions, references, sampling_rate=16000, encoder=None):
        model = load_speaker_encoder(encoder)
        scores = [
            cosine(model.embed(np.asarray(p, np.float32), sampling_rate), model.embed(np.asarray(r, np.float32), sampling_rate))
            for p, r in zip(predictions, references)
        ]
        return {"speaker_similarity": float(np.mean(scores)) if scores else None, "encoder": model.name,
                "per_sample": scores}
