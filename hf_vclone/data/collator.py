"""Batching for spectrogram targets: pad text with the pad id, mels with -100.

-100 is what SpeechT5's loss masks out (and what its decoder-input shift turns back into zeros).
The mel length is padded *up* to a multiple of the reduction factor instead of trimming frames
off the end, as the SpeechT5 tutorial does: trimming drops the very frames that teach the
stop-token head where speech ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SpectrogramCollator:
    pad_token_id: int
    reduction_factor: int = 1

    def __call__(self, rows: list[dict]) -> dict:
        ids = [torch.as_tensor(r["input_ids"], dtype=torch.long) for r in rows]
        mels = [torch.as_tensor(r["labels"], dtype=torch.float32) for r in rows]
        text_len = max(len(x) for x in ids)
        mel_len = max(len(m) for m in mels)
        mel_len += -mel_len % self.reduction_factor
        input_ids = torch.full((len(rows), text_len), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), text_len), dtype=torch.long)
        labels = torch.full((len(rows), mel_len, mels[0].shape[-1]), -100.0)
        for i, (x, m) in enumerate(zip(ids, mels)):
            input_ids[i, : len(x)] = x
            attention_mask[i, : len(x)] = 1
            labels[i, : len(m)] = m
        speaker_ids = torch.tensor([int(r["speaker_id"]) for r in rows], dtype=torch.long)
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, "speaker_ids": speaker_ids}
        if "id" in rows[0]:
            batch["clip_ids"] = [str(r["id"]) for r in rows]  # names the clips when a batch goes wrong
        return batch
