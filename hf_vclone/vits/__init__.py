"""VITS / MMS-TTS training pieces that transformers' inference-only VitsModel lacks: monotonic
alignment search, the training losses and the discriminator."""
