"""A small x-vector style speaker encoder: log-mel -> TDNN -> mean+std pooling -> unit vector.

Why this shape: speaker identity is mostly in the spectral envelope and pitch, which a few dilated
1-D convolutions over mel frames capture; statistics pooling makes the embedding independent of
clip length and of what was said. It is small on purpose (about 0.25M parameters, under 1 MB) so
the trained weights can be committed and the offline evaluation needs nothing from the Hub.

Saved as `config.json` + `model.safetensors` (no pickle), so loading runs no code from the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

# Written into config.json so a folder can be recognised as ours before transformers is asked.
MODEL_TYPE = "hf_vclone-tdnn-speaker-encoder"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass
class EncoderConfig:
    n_mels: int = 80  # input bins: SpeechT5FeatureExtractor's log10 mel
    channels: int = 128  # width of the frame-level layers
    embedding_dim: int = 128  # size of the L2-normalised speaker embedding
    sampling_rate: int = 16000  # the rate the log-mel is computed at
    model_type: str = MODEL_TYPE


def _frame_layer(c_in: int, c_out: int, kernel: int, dilation: int) -> nn.Sequential:
    # "same" padding keeps short clips usable: every frame yields an output frame.
    pad = dilation * (kernel - 1) // 2
    return nn.Sequential(nn.Conv1d(c_in, c_out, kernel, dilation=dilation, padding=pad), nn.ReLU(), nn.BatchNorm1d(c_out))


class TDNNSpeakerEncoder(nn.Module):
    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        # Normalises the log-mel with statistics learned in training, so no extra file is needed.
        self.input_norm = nn.BatchNorm1d(config.n_mels)
        self.frames = nn.Sequential(
            _frame_layer(config.n_mels, c, 5, 1),
            _frame_layer(c, c, 3, 2),
            _frame_layer(c, c, 3, 3),
            _frame_layer(c, 2 * c, 1, 1),
        )
        self.head = nn.Linear(4 * c, config.embedding_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, frames, n_mels) log-mel -> (batch, embedding_dim) unit-norm embeddings."""
        x = self.frames(self.input_norm(mel.transpose(1, 2)))
        # unbiased=False: a one-frame clip gets std 0 rather than NaN.
        stats = torch.cat([x.mean(dim=2), x.std(dim=2, unbiased=False)], dim=1)
        return nn.functional.normalize(self.head(stats), dim=1)

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2) + "\n", encoding="utf-8")
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt", "model_type": MODEL_TYPE})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "TDNNSpeakerEncoder":
        directory = Path(directory)
        fields = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
        model = cls(EncoderConfig(**fields))
        # strict: a partial load would be a silently random instrument.
        model.load_state_dict(load_file(str(directory / WEIGHTS_NAME)), strict=True)
        return model.eval()


def is_encoder_dir(path: str | Path) -> bool:
    """True when `path` holds one of our encoders (its config.json names our model type)."""
    config = Path(path) / CONFIG_NAME
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type") == MODEL_TYPE
    except (OSError, ValueError):
        return False
