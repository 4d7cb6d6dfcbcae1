import numpy as np
import torch

from hf_vclone.data.collator import SpectrogramCollator


def test_pads_text_with_pad_id_and_mels_with_minus_100_to_a_multiple_of_r() -> None:
    rows = [
        {"input_ids": [5, 6, 7], "labels": np.ones((9, 4), np.float32), "speaker_id": 1},
        {"input_ids": [5], "labels": np.full((5, 4), 2.0, np.float32), "speaker_id": 0},
    ]
    batch = SpectrogramCollator(pad_token_id=1, reduction_factor=4)(rows)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].shape == (2, 12, 4)  # 9 rounded up to 12, never trimmed
    assert torch.all(batch["labels"][0, :9] == 1) and torch.all(batch["labels"][0, 9:] == -100)
    assert torch.all(batch["labels"][1, :5] == 2) and torch.all(batch["labels"][1, 5:] == -100)
    assert batch["speaker_ids"].tolist() == [1, 0]
