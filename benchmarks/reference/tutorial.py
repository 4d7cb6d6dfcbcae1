"""The reference pipeline: the Hugging Face SpeechT5 TTS fine-tuning tutorial, as published
(the "Fine-tune SpeechT5" section of the HF audio course / Transformers text-to-speech task guide),
re-implemented from its description for side-by-side measurements. Not used by hf_vclone.

What the tutorial does, and so what this does:
- features: `processor(text=..., audio_target=..., sampling_rate=16000, return_attention_mask=False)`
  in `datasets.map`, labels = the first (only) row, one speaker embedding per clip; inputs of
  200 tokens or more are filtered out. (Its x-vectors come from speechbrain, which does not import
  here; a fixed vector per speaker stands in: same shape, same cost.)
- batches: `TTSDataCollatorWithPadding`: `processor.pad`, labels masked to -100 beyond each clip,
  then *trimmed* to a multiple of the reduction factor; speaker embeddings stacked per batch.
- training: `Seq2SeqTrainer` with `Seq2SeqTrainingArguments` (gradient checkpointing on, as the
  tutorial sets it; fp16 is GPU-only and off on CPU).
- synthesis: `model.generate_speech(input_ids, speaker_embeddings, vocoder=vocoder)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr
import torch
from datasets import Dataset
from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, SpeechT5Processor

from hf_vclone.data.audio import decode, to_mono


def prepare_dataset(raw: Dataset, processor: SpeechT5Processor, speaker_vector: np.ndarray) -> Dataset:
    def prepare(example: dict) -> dict:
        # The tutorial's datasets Audio column decodes and resamples; torchcodec does not load
        # here, so soundfile + soxr do that part (as in benchmarks/prepare_throughput.py).
        wave, rate = decode(example["audio"]["path"], example["audio"].get("bytes"))
        wave = soxr.resample(to_mono(wave), rate, 16000)
        out = processor(text=example["text"], audio_target=wave, sampling_rate=16000, return_attention_mask=False)
        out["labels"] = out["labels"][0]
        out["speaker_embeddings"] = speaker_vector.tolist()
        return out

    prepared = raw.map(prepare, remove_columns=raw.column_names, desc="reference: tutorial prepare_dataset")
    return prepared.filter(lambda ids: len(ids) < 200, input_columns="input_ids")


@dataclass
class TTSDataCollatorWithPadding:
    processor: Any
    reduction_factor: int

    def __call__(self, features: list[dict]) -> dict:
        input_ids = [{"input_ids": f["input_ids"]} for f in features]
        label_features = [{"input_values": f["labels"]} for f in features]
        speaker_features = [f["speaker_embeddings"] for f in features]
        batch = self.processor.pad(input_ids=input_ids, labels=label_features, return_tensors="pt")
        batch["labels"] = batch["labels"].masked_fill(batch.decoder_attention_mask.unsqueeze(-1).ne(1), -100)
        del batch["decoder_attention_mask"]
        if self.reduction_factor > 1:
            lengths = [len(f["input_values"]) for f in label_features]
            max_length = max(length - length % self.reduction_factor for length in lengths)
            batch["labels"] = batch["labels"][:, :max_length]
        batch["speaker_embeddings"] = torch.tensor(speaker_features)
        return batch


def trainer(model, processor, train: Dataset, output_dir: str, batch_size: int, steps: int,
            gradient_checkpointing: bool = True, learning_rate: float = 1e-5, device: str = "cpu",
            bf16: bool = False) -> Seq2SeqTrainer:
    """The tutorial's trainer. It sets `fp16=True` on a GPU; `bf16` puts it in the same precision
    as the system it is compared with (benchmarks/gpu_speed.py), so the ratio measures the pipeline."""
    args = Seq2SeqTrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=batch_size, gradient_accumulation_steps=1,
        learning_rate=learning_rate, warmup_steps=min(500, steps // 10), max_steps=steps,
        gradient_checkpointing=gradient_checkpointing, use_cpu=device == "cpu", bf16=bf16, logging_steps=1, report_to=[],
        save_strategy="no", label_names=["labels"], seed=0, disable_tqdm=True,
    )
    collator = TTSDataCollatorWithPadding(processor, model.config.reduction_factor)
    return Seq2SeqTrainer(args=args, model=model, train_dataset=train, data_collator=collator,
                          processing_class=processor)


def synthesize(model, processor, vocoder, text: str, speaker: torch.Tensor) -> torch.Tensor:
    inputs = processor(text=text, return_tensors="pt")
    return model.generate_speech(inputs["input_ids"], speaker.reshape(1, -1), vocoder=vocoder)
