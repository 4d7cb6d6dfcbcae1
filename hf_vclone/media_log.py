"""Send evaluation audio and spectrogram images to every tracker named in `report_to`.

The Trainer's own integrations log scalars only. A voice is judged by ear and by eye, so at
each evaluation the clips and mel plots go to the same run the loss curve is in. Each sink
reuses the run that the Trainer's callback already opened; none opens a run of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import matplotlib.image
import numpy as np
import torch
from transformers.integrations import TensorBoardCallback, TrackioCallback, WandbCallback


class MediaSink(Protocol):
    def log(self, step: int, audio: dict[str, np.ndarray], images: dict[str, Path], rate: int) -> None: ...


class TensorBoardSink:
    def __init__(self, writer) -> None:
        self.writer = writer

    def log(self, step: int, audio: dict[str, np.ndarray], images: dict[str, Path], rate: int) -> None:
        for name, wave in audio.items():
            self.writer.add_audio(name, torch.as_tensor(wave).reshape(1, -1), step, sample_rate=rate)
        for name, path in images.items():
            self.writer.add_image(name, matplotlib.image.imread(path), step, dataformats="HWC")
        self.writer.flush()


class WandbSink:
    """`train/global_step` is the x-axis the Trainer's WandbCallback declares for every metric."""

    def __init__(self, wandb) -> None:
        self.wandb = wandb

    def log(self, step: int, audio: dict[str, np.ndarray], images: dict[str, Path], rate: int) -> None:
        media = {name: self.wandb.Audio(wave, sample_rate=rate) for name, wave in audio.items()}
        media |= {name: self.wandb.Image(str(path)) for name, path in images.items()}
        self.wandb.log({**media, "train/global_step": step})


class TrackioSink:
    def __init__(self, trackio) -> None:
        self.trackio = trackio

    def log(self, step: int, audio: dict[str, np.ndarray], images: dict[str, Path], rate: int) -> None:
        media = {name: self.trackio.Audio(wave, sample_rate=rate) for name, wave in audio.items()}
        media |= {name: self.trackio.Image(str(path)) for name, path in images.items()}
        self.trackio.log(media, step=step)


def media_sinks(callbacks: list) -> list[MediaSink]:
    """The sinks for the trackers whose callbacks are live (set up on this rank)."""
    sinks: list[MediaSink] = []
    for callback in callbacks:
        if isinstance(callback, TensorBoardCallback) and callback.tb_writer is not None:
            sinks.append(TensorBoardSink(callback.tb_writer))
        elif isinstance(callback, WandbCallback) and callback._initialized and callback._wandb.run is not None:
            sinks.append(WandbSink(callback._wandb))
        elif isinstance(callback, TrackioCallback) and callback._initialized:
            sinks.append(TrackioSink(callback._trackio))
    return sinks
