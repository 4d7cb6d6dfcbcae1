"""WaveGlow (inference) as a transformers model, registered with AutoConfig / AutoModel so that a
converted folder loads with `from_pretrained`; `hf-vclone convert waveglow` writes one."""

from transformers import AutoConfig, AutoModel

from .configuration import WaveGlowConfig
from .modeling import WaveGlowVocoder

AutoConfig.register("waveglow", WaveGlowConfig, exist_ok=True)
AutoModel.register(WaveGlowConfig, WaveGlowVocoder, exist_ok=True)

__all__ = ["WaveGlowConfig", "WaveGlowVocoder"]
