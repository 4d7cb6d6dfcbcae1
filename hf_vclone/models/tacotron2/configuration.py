"""Tacotron2Config: the hyper-parameters of Tacotron 2 (Shen et al., 2018) under the names NVIDIA's
implementation gives them (its `hparams.py`), so a published checkpoint's settings read across.

The defaults are the published LJSpeech model: 22,050 Hz audio, 80 mel bands, one frame per
decoder step, a 512-wide encoder and two 1024-wide decoder LSTMs. `n_frames_per_step` (the
reduction factor r of Tacotron 1, Wang et al., 2017) above 1 is ours: every published Tacotron 2
uses 1, and NVIDIA's code never finished it; r frames per step divide the decoder's sequential
steps by r, which is what a small CPU needs, and make the attention move faster per step.
"""

from __future__ import annotations

from transformers import PretrainedConfig


class Tacotron2Config(PretrainedConfig):
    model_type = "tacotron2"

    def __init__(
        self,
        vocab_size: int = 148,  # NVIDIA's English symbol table
        symbols_embedding_dim: int = 512,
        encoder_kernel_size: int = 5,
        encoder_n_convolutions: int = 3,
        encoder_embedding_dim: int = 512,
        n_mel_channels: int = 80,
        n_frames_per_step: int = 1,
        attention_rnn_dim: int = 1024,
        decoder_rnn_dim: int = 1024,
        prenet_dim: int = 256,
        max_decoder_steps: int = 1000,
        gate_threshold: float = 0.5,
        gate_positive_weight: float = 1.0,
        p_attention_dropout: float = 0.1,
        p_decoder_dropout: float = 0.1,
        attention_dim: int = 128,
        attention_location_n_filters: int = 32,
        attention_location_kernel_size: int = 31,
        postnet_embedding_dim: int = 512,
        postnet_kernel_size: int = 5,
        postnet_n_convolutions: int = 5,
        prenet_dropout: float = 0.5,  # kept on at inference too, as in the original: it is the model's noise
        guided_attention_loss_weight: float = 0.0,  # 0: off (Tachibana et al., 2018)
        guided_attention_sigma: float = 0.2,
        sampling_rate: int = 22050,
        filter_length: int = 1024,  # the mels the published models and their vocoders expect
        hop_length: int = 256,
        win_length: int = 1024,
        mel_fmin: float = 0.0,
        mel_fmax: float = 8000.0,
        pad_token_id: int = 0,
        speaker_embedding_dim: int = 0,  # 0: single-speaker, as the published models
        **kwargs,
    ) -> None:
        if not isinstance(n_frames_per_step, int) or n_frames_per_step < 1:
            raise ValueError(f"n_frames_per_step={n_frames_per_step!r}: the frames per decoder step must be an "
                             "integer >= 1 (1 is the published models' setting)")
        if symbols_embedding_dim != encoder_embedding_dim:
            raise ValueError("symbols_embedding_dim must equal encoder_embedding_dim: the encoder's first "
                             "convolution reads the embeddings at the encoder's width")
        if encoder_embedding_dim % 2:
            raise ValueError("encoder_embedding_dim must be even: the bidirectional LSTM gives half to each direction")
        self.vocab_size = vocab_size
        self.symbols_embedding_dim = symbols_embedding_dim
        self.encoder_kernel_size = encoder_kernel_size
        self.encoder_n_convolutions = encoder_n_convolutions
        self.encoder_embedding_dim = encoder_embedding_dim
        self.n_mel_channels = n_mel_channels
        self.n_frames_per_step = n_frames_per_step
        self.attention_rnn_dim = attention_rnn_dim
        self.decoder_rnn_dim = decoder_rnn_dim
        self.prenet_dim = prenet_dim
        self.max_decoder_steps = max_decoder_steps
        self.gate_threshold = gate_threshold
        # The stop gate's loss has one positive frame per clip (its last) against a few hundred negatives,
        # over real frames only; weighting the positive (BCE's pos_weight, coqui's `stopnet_pos_weight`)
        # lets the gate pass its threshold at the end. 1.0: unweighted.
        self.gate_positive_weight = gate_positive_weight
        self.p_attention_dropout = p_attention_dropout
        self.p_decoder_dropout = p_decoder_dropout
        self.attention_dim = attention_dim
        self.attention_location_n_filters = attention_location_n_filters
        self.attention_location_kernel_size = attention_location_kernel_size
        self.postnet_embedding_dim = postnet_embedding_dim
        self.postnet_kernel_size = postnet_kernel_size
        self.postnet_n_convolutions = postnet_n_convolutions
        self.prenet_dropout = prenet_dropout
        self.guided_attention_loss_weight = guided_attention_loss_weight
        self.guided_attention_sigma = guided_attention_sigma
        self.sampling_rate = sampling_rate
        self.filter_length = filter_length
        self.hop_length = hop_length
        self.win_length = win_length
        self.mel_fmin = mel_fmin
        self.mel_fmax = mel_fmax
        if not isinstance(speaker_embedding_dim, int) or speaker_embedding_dim < 0:
            raise ValueError(f"speaker_embedding_dim={speaker_embedding_dim!r}: the width of the speaker vector "
                             "must be an integer >= 0 (0: a single-speaker model)")
        # A multi-speaker model: each clip's speaker vector, through a linear layer that starts at
        # zero, is added to every encoder output (the attention's memory), as multi-speaker
        # Tacotrons condition on the speaker; a single-speaker checkpoint therefore loads into a
        # multi-speaker model speaking exactly as before, and learns voices from there.
        self.speaker_embedding_dim = speaker_embedding_dim
        super().__init__(pad_token_id=pad_token_id, **kwargs)
