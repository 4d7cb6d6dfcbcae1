"""Batching for spectrogram targets: pad text with the pad id, mels with -100.

-100 is what SpeechT5's loss masks out (and what its decoder-input shift turns back into zeros).
The mel length is padded *up* to a multiple of the reduction factor instead of trimming frames
off the end, as the SpeechT5 tutorial does: trimming drops the very frames that teach the
stop-token head where speech ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def pad_batch(rows: list[dict], pad_token_id: int, label_pad: float = 0.0, multiple: int = 1
              ) -> tuple[dict, torch.Tensor]:
    """What every backend's batch starts from: token ids padded with the pad id (and their
    attention mask), log-mel labels padded with `label_pad` up to a multiple of `multiple` frames,
    speaker ids and clip ids; plus each clip's true number of frames."""
    ids = [torch.as_tensor(r["input_ids"], dtype=torch.long) for r in rows]
    mels = [torch.as_tensor(r["labels"], dtype=torch.float32) for r in rows]
    text_len = max(len(x) for x in ids)
    mel_len = max(len(m) for m in mels)
    mel_len += -mel_len % multiple
    input_ids = torch.full((len(rows), text_len), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), text_len), dtype=torch.long)
    labels = torch.full((len(rows), mel_len, mels[0].shape[-1]), label_pad)
    for i, (x, m) in enumerate(zip(ids, mels)):
        input_ids[i, : len(x)] = x
        attention_mask[i, : len(x)] = 1
        labels[i, : len(m)] = m
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels,
             "speaker_ids": torch.tensor([int(r["speaker_id"]) for r in rows], dtype=torch.long)}
    if "id" in rows[0]:
        batch["clip_ids"] = [str(r["id"]) for r in rows]  # names the clips when a batch goes wrong
    return batch, torch.tensor([len(m) for m in mels])


@dataclass
class SpectrogramCollator:
    pad_token_id: int
    reduction_factor: int = 1

    def __call__(self, rows: list[dict]) -> dict:
        return pad_batch(rows, self.pad_token_id, -100.0, self.reduction_factor)[0]
