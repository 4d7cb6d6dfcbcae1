"""WaveGlowConfig: NVIDIA's WaveGlow vocoder (Prenger et al., 2019) as DeepLearningExamples builds
it, with its constructor's names, so that a converted checkpoint's `config` dict maps one to one."""

from __future__ import annotations

from transformers import PretrainedConfig


class WaveGlowConfig(PretrainedConfig):
    """Defaults are the published 22,050 Hz model (`nvidia_waveglowpyt_fp32_20190427`: 512 channels;
    the `waveglow256pyt` checkpoints have 256)."""

    model_type = "waveglow"

    def __init__(self, n_mel_channels: int = 80, n_flows: int = 12, n_group: int = 8, n_early_every: int = 4,
                 n_early_size: int = 2, n_layers: int = 8, n_channels: int = 512, kernel_size: int = 3,
                 hop_length: int = 256, upsample_kernel: int = 1024, sigma: float = 0.9, sampling_rate: int = 22050,
                 **kwargs) -> None:
        self.n_mel_channels = n_mel_channels
        self.n_flows = n_flows
        self.n_group = n_group
        self.n_early_every = n_early_every
        self.n_early_size = n_early_size
        self.n_layers = n_layers
        self.n_channels = n_channels
        self.kernel_size = kernel_size
        self.hop_length = hop_length  # the upsampling convolution's stride: samples per mel frame
        self.upsample_kernel = upsample_kernel
        self.sigma = sigma  # the noise's standard deviation at inference (DLE inference.py: 0.9)
        self.sampling_rate = sampling_rate
        super().__init__(**kwargs)
