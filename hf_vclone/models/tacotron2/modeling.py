"""Tacotron 2 (Shen et al., 2018) as a Hugging Face model: text -> 80-band log-mel, written from
the paper and NVIDIA's published design, since transformers ships none.

Parameter names follow NVIDIA's implementation (`embedding`, `encoder.convolutions.0.0.conv`,
`decoder.attention_layer.location_layer.location_conv.conv`, `decoder.gate_layer.linear_layer`,
...), so converting one of its checkpoints is a prefix strip, and peft finds every Linear
(`linear_layer`) and Conv1d (`conv`) by name.

The pieces, in the order a sentence meets them:
- encoder: character embeddings, three convolutions (BatchNorm, ReLU, dropout 0.5), a BiLSTM;
- decoder, r frames per step (`n_frames_per_step`, 1 in every published model): the previous
  step's last frame through the prenet (two ReLU layers with dropout
  0.5 kept on at inference, the model's only source of variation), the attention LSTM, location-
  sensitive attention (Chorowski et al., 2015: the energies see the previous and the cumulative
  attention through a convolution, which keeps the alignment moving forward), the decoder LSTM,
  then a linear projection to the step's r frames and a stop gate for each of them;
- postnet: five convolutions predicting a residual that sharpens the whole spectrogram.

Unlike NVIDIA's code, the decoder keeps its recurrent state in an explicit `DecoderState` instead
of attributes set during forward, so one module can decode several batches, under DDP or peft,
without state leaking between calls; and the losses are averaged over real frames only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration import Tacotron2Config


class LinearNorm(nn.Module):
    """nn.Linear under NVIDIA's name, Xavier-initialised for the non-linearity that follows it."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, w_init_gain: str = "linear") -> None:
        super().__init__()
        self.linear_layer = nn.Linear(in_dim, out_dim, bias=bias)
        self.w_init_gain = w_init_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_layer(x)


class ConvNorm(nn.Module):
    """A length-preserving nn.Conv1d (odd kernel, 'same' padding) under NVIDIA's name."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, bias: bool = True,
                 w_init_gain: str = "linear") -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size {kernel_size}: an odd size keeps the length")
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2, bias=bias)
        self.w_init_gain = w_init_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Tacotron2Encoder(nn.Module):
    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        width = config.encoder_embedding_dim
        self.convolutions = nn.ModuleList(
            nn.Sequential(ConvNorm(width, width, config.encoder_kernel_size, w_init_gain="relu"), nn.BatchNorm1d(width))
            for _ in range(config.encoder_n_convolutions)
        )
        self.lstm = nn.LSTM(width, width // 2, 1, batch_first=True, bidirectional=True)

    def forward(self, embedded: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """embedded: (batch, channels, tokens) -> (batch, tokens, channels). With lengths, padded
        tokens are zeroed before every convolution (what the convolution's own zero padding shows an
        item decoded alone) and the BiLSTM reads each item to its own end (packed): a padded item
        encodes exactly as it does alone."""
        keep = None if lengths is None else _keep(lengths, embedded.shape[2])[:, None].to(embedded.dtype)
        x = embedded
        for conv in self.convolutions:
            x = x if keep is None else x * keep
            x = F.dropout(F.relu(conv(x)), 0.5, self.training)
        x = x.transpose(1, 2)
        if lengths is None:
            return self.lstm(x)[0]
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


class LocationLayer(nn.Module):
    def __init__(self, n_filters: int, kernel_size: int, attention_dim: int) -> None:
        super().__init__()
        self.location_conv = ConvNorm(2, n_filters, kernel_size, bias=False)
        self.location_dense = LinearNorm(n_filters, attention_dim, bias=False, w_init_gain="tanh")

    def forward(self, weights_cat: torch.Tensor) -> torch.Tensor:
        """(batch, 2, tokens): previous and cumulative attention -> (batch, tokens, attention_dim)."""
        return self.location_dense(self.location_conv(weights_cat).transpose(1, 2))


class Attention(nn.Module):
    """Location-sensitive attention: e = v . tanh(W q + U m + L conv([a_prev, a_cum])), a = softmax(e)."""

    def __init__(self, query_dim: int, memory_dim: int, attention_dim: int, n_filters: int, kernel_size: int) -> None:
        super().__init__()
        self.query_layer = LinearNorm(query_dim, attention_dim, bias=False, w_init_gain="tanh")
        self.memory_layer = LinearNorm(memory_dim, attention_dim, bias=False, w_init_gain="tanh")
        self.v = LinearNorm(attention_dim, 1, bias=False)
        self.location_layer = LocationLayer(n_filters, kernel_size, attention_dim)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, processed_memory: torch.Tensor,
                weights_cat: torch.Tensor, pad_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(context (batch, memory_dim), weights (batch, tokens)). pad_mask: true at padded tokens."""
        energies = self.v(torch.tanh(self.query_layer(query)[:, None] + self.location_layer(weights_cat)
                                     + processed_memory)).squeeze(-1)
        if pad_mask is not None:
            energies = energies.masked_fill(pad_mask, float("-inf"))
        weights = torch.softmax(energies, dim=1)
        return torch.bmm(weights[:, None], memory)[:, 0], weights


class Prenet(nn.Module):
    def __init__(self, in_dim: int, sizes: list[int], dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(LinearNorm(i, o, bias=False) for i, o in zip([in_dim] + sizes[:-1], sizes))
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for linear in self.layers:
            # training=True always: the original keeps this dropout at inference; without it the
            # decoder's output collapses to an average (seed the generator for repeatable audio)
            x = F.dropout(F.relu(linear(x)), self.dropout, training=True)
        return x


@dataclass
class DecoderState:
    """Everything the decoder carries from one frame to the next."""

    attention_hidden: torch.Tensor
    attention_cell: torch.Tensor
    decoder_hidden: torch.Tensor
    decoder_cell: torch.Tensor
    attention_weights: torch.Tensor
    attention_weights_cum: torch.Tensor
    attention_context: torch.Tensor


class Tacotron2Decoder(nn.Module):
    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        c = config
        self.n_mel_channels, self.config, self.r = c.n_mel_channels, c, c.n_frames_per_step
        self.prenet = Prenet(c.n_mel_channels, [c.prenet_dim, c.prenet_dim], c.prenet_dropout)
        self.attention_rnn = nn.LSTMCell(c.prenet_dim + c.encoder_embedding_dim, c.attention_rnn_dim)
        self.attention_layer = Attention(c.attention_rnn_dim, c.encoder_embedding_dim, c.attention_dim,
                                         c.attention_location_n_filters, c.attention_location_kernel_size)
        self.decoder_rnn = nn.LSTMCell(c.attention_rnn_dim + c.encoder_embedding_dim, c.decoder_rnn_dim)
        self.linear_projection = LinearNorm(c.decoder_rnn_dim + c.encoder_embedding_dim, c.n_mel_channels * self.r)
        self.gate_layer = LinearNorm(c.decoder_rnn_dim + c.encoder_embedding_dim, self.r, w_init_gain="sigmoid")

    def initial_state(self, memory: torch.Tensor) -> DecoderState:
        batch, tokens, width = memory.shape
        zeros = lambda *shape: memory.new_zeros(*shape)  # noqa: E731
        c = self.config
        return DecoderState(zeros(batch, c.attention_rnn_dim), zeros(batch, c.attention_rnn_dim),
                            zeros(batch, c.decoder_rnn_dim), zeros(batch, c.decoder_rnn_dim),
                            zeros(batch, tokens), zeros(batch, tokens), zeros(batch, width))

    def step(self, prenet_out: torch.Tensor, state: DecoderState, memory: torch.Tensor,
             processed_memory: torch.Tensor, pad_mask: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        """One step: (its r frames (batch, r, n_mels), their gate logits (batch, r), the new state)."""
        c = self.config
        attention_hidden, attention_cell = self.attention_rnn(
            torch.cat([prenet_out, state.attention_context], -1), (state.attention_hidden, state.attention_cell))
        attention_hidden = F.dropout(attention_hidden, c.p_attention_dropout, self.training)
        weights_cat = torch.stack([state.attention_weights, state.attention_weights_cum], dim=1)
        context, weights = self.attention_layer(attention_hidden, memory, processed_memory, weights_cat, pad_mask)
        decoder_hidden, decoder_cell = self.decoder_rnn(
            torch.cat([attention_hidden, context], -1), (state.decoder_hidden, state.decoder_cell))
        decoder_hidden = F.dropout(decoder_hidden, c.p_decoder_dropout, self.training)
        features = torch.cat([decoder_hidden, context], dim=1)
        new_state = DecoderState(attention_hidden, attention_cell, decoder_hidden, decoder_cell, weights,
                                 state.attention_weights_cum + weights, context)
        frames = self.linear_projection(features).view(features.shape[0], self.r, self.n_mel_channels)
        return frames, self.gate_layer(features), new_state

    def forward(self, memory: torch.Tensor, frames: torch.Tensor, pad_mask: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher forcing: the step for frames [k r, (k + 1) r) reads the real frame k r - 1 (a zero
        'go' frame first), so every frame is predicted from the frames before its step. frames:
        (batch, time, n_mels) -> (mels (batch, time, n_mels), gate logits (batch, time), alignments
        (batch, time, tokens), each step's attention repeated over its r frames)."""
        batch, time, n_mels = frames.shape
        steps = -(-time // self.r)
        padded = F.pad(frames, (0, 0, 0, steps * self.r - time))
        last_of_step = padded.view(batch, steps, self.r, n_mels)[:, :, -1]
        go = frames.new_zeros(batch, 1, n_mels)
        inputs = self.prenet(torch.cat([go, last_of_step[:, :-1]], dim=1))
        processed_memory = self.attention_layer.memory_layer(memory)
        state = self.initial_state(memory)
        mels, gates, alignments = [], [], []
        for t in range(steps):
            mel, gate, state = self.step(inputs[:, t], state, memory, processed_memory, pad_mask)
            mels.append(mel)
            gates.append(gate)
            alignments.append(state.attention_weights)
        mels = torch.cat(mels, 1)[:, :time]
        alignments = torch.stack(alignments, 1).repeat_interleave(self.r, dim=1)[:, :time]
        return mels, torch.cat(gates, 1)[:, :time], alignments

    def generate(self, memory: torch.Tensor, pad_mask: torch.Tensor | None, max_steps: int, gate_threshold: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Free running, each step's last frame fed back, until every item's gate passes the
        threshold or max_steps frames. (mels, alignments (per frame), lengths, stopped); an item
        stops at the frame whose gate fires first (that frame included)."""
        batch = memory.shape[0]
        processed_memory = self.attention_layer.memory_layer(memory)
        state = self.initial_state(memory)
        frame = memory.new_zeros(batch, self.n_mel_channels)
        lengths = torch.full((batch,), max_steps, dtype=torch.long, device=memory.device)
        stopped = torch.zeros(batch, dtype=torch.bool, device=memory.device)
        mels, alignments = [], []
        for t in range(-(-max_steps // self.r)):
            step_frames, gate, state = self.step(self.prenet(frame), state, memory, processed_memory, pad_mask)
            frame = step_frames[:, -1]
            mels.append(step_frames)
            alignments.append(state.attention_weights)
            passed = torch.sigmoid(gate) > gate_threshold  # (batch, r)
            fired = passed.any(1) & ~stopped
            first = passed.float().argmax(1)  # the first frame of the step whose gate passed
            lengths[fired] = torch.clamp(t * self.r + first[fired] + 1, max=max_steps)
            stopped |= fired
            if bool(stopped.all()):
                break
        mels = torch.cat(mels, 1)[:, :max_steps]
        alignments = torch.stack(alignments, 1).repeat_interleave(self.r, dim=1)[:, :max_steps]
        return mels, alignments, lengths, stopped


class Tacotron2Postnet(nn.Module):
    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        n, width, k = config.postnet_n_convolutions, config.postnet_embedding_dim, config.postnet_kernel_size
        sizes = [config.n_mel_channels] + [width] * (n - 1) + [config.n_mel_channels]
        self.convolutions = nn.ModuleList(
            nn.Sequential(ConvNorm(i, o, k, w_init_gain="tanh" if index < n - 1 else "linear"), nn.BatchNorm1d(o))
            for index, (i, o) in enumerate(zip(sizes[:-1], sizes[1:]))
        )

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, n_mels, time) -> the residual to add, same shape. keep: (batch, time), 1 on real
        frames; padded frames are zeroed before every convolution, so they never reach real ones."""
        keep = None if keep is None else keep[:, None].to(x.dtype)
        for index, conv in enumerate(self.convolutions):
            x = x if keep is None else x * keep
            x = conv(x)
            x = F.dropout(torch.tanh(x) if index < len(self.convolutions) - 1 else x, 0.5, self.training)
        return x


@dataclass
class Tacotron2Output(ModelOutput):
    loss: torch.Tensor | None = None
    mel_loss: torch.Tensor | None = None
    gate_loss: torch.Tensor | None = None
    attention_loss: torch.Tensor | None = None
    spectrogram: torch.Tensor | None = None  # after the postnet, (batch, time, n_mels)
    spectrogram_before_postnet: torch.Tensor | None = None
    gate_logits: torch.Tensor | None = None  # (batch, time)
    alignments: torch.Tensor | None = None  # (batch, time, tokens)


@dataclass
class Tacotron2Generation(ModelOutput):
    spectrogram: torch.Tensor | None = None  # (batch, time, n_mels); item b is valid up to lengths[b]
    lengths: torch.Tensor | None = None
    alignments: torch.Tensor | None = None  # (batch, time, tokens)
    stopped: torch.Tensor | None = None  # false where max_decoder_steps cut the item off


class SpeakerProjection(nn.Linear):
    """Speaker vector -> an offset added to every encoder output. Its own class so that
    `_init_weights` can start it at zero (a single-speaker checkpoint loaded into a multi-speaker
    model then speaks unchanged); a zero layer still learns, as its weight's gradient is the
    upstream gradient times the speaker vector."""


class Tacotron2PreTrainedModel(PreTrainedModel):
    config_class = Tacotron2Config
    base_model_prefix = "tacotron2"
    main_input_name = "input_ids"
    _no_split_modules = ["Tacotron2Decoder"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """NVIDIA's initialisation: Xavier-uniform with the gain of the following non-linearity,
        embeddings uniform in +-sqrt(3) * sqrt(2 / (symbols + width)); LSTMs keep PyTorch's."""
        if isinstance(module, SpeakerProjection):
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, LinearNorm):
            nn.init.xavier_uniform_(module.linear_layer.weight, gain=nn.init.calculate_gain(module.w_init_gain))
            if module.linear_layer.bias is not None:
                nn.init.zeros_(module.linear_layer.bias)
        elif isinstance(module, ConvNorm):
            nn.init.xavier_uniform_(module.conv.weight, gain=nn.init.calculate_gain(module.w_init_gain))
            if module.conv.bias is not None:
                nn.init.zeros_(module.conv.bias)
        elif isinstance(module, nn.Embedding):
            bound = (3 ** 0.5) * (2.0 / (module.num_embeddings + module.embedding_dim)) ** 0.5
            nn.init.uniform_(module.weight, -bound, bound)
        elif isinstance(module, nn.BatchNorm1d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class Tacotron2ForTextToSpeech(Tacotron2PreTrainedModel):
    """Text -> mel spectrogram (natural-log magnitudes, the vocoders' scale). `forward` trains
    (teacher forcing, needs `labels`); `generate` speaks."""

    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.symbols_embedding_dim)
        self.encoder = Tacotron2Encoder(config)
        self.decoder = Tacotron2Decoder(config)
        self.postnet = Tacotron2Postnet(config)
        dim = config.speaker_embedding_dim
        self.speaker_projection = SpeakerProjection(dim, config.encoder_embedding_dim) if dim else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embedding

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.embedding = value

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
               speaker_embeddings: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(memory (batch, tokens, channels), pad mask (true at padded tokens) or None).
        speaker_embeddings: (batch, speaker_embedding_dim), which a multi-speaker model needs and
        a single-speaker one refuses."""
        lengths = None if attention_mask is None else attention_mask.sum(1)
        memory = self.encoder(self.embedding(input_ids).transpose(1, 2), lengths)
        if self.speaker_projection is None:
            if speaker_embeddings is not None:
                raise ValueError("speaker_embeddings given to a single-speaker Tacotron 2 (speaker_embedding_dim=0): "
                                 "its voice is in its weights")
        elif speaker_embeddings is None:
            raise ValueError(f"this Tacotron 2 is multi-speaker (speaker_embedding_dim="
                             f"{self.config.speaker_embedding_dim}): pass speaker_embeddings, one vector per item")
        else:
            memory = memory + self.speaker_projection(speaker_embeddings.to(memory.dtype))[:, None, :]
        return memory, None if attention_mask is None else ~attention_mask.bool()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, labels_attention_mask: torch.Tensor | None = None,
                speaker_embeddings: torch.Tensor | None = None, return_dict: bool | None = None,
                **kwargs) -> Tacotron2Output:
        """labels: (batch, time, n_mels) log-mels; labels_attention_mask: (batch, time), 1 on real
        frames (none: every frame is real). The loss is the mean squared error before and after
        the postnet plus the stop gate's binary cross-entropy (target 1 from each clip's last
        frame; its positive frames weighted by `gate_positive_weight`), all over real frames only, plus
        the guided-attention term if its weight is set."""
        if labels is None:
            raise ValueError("Tacotron2ForTextToSpeech.forward trains with teacher forcing and needs labels; "
                             "call generate(input_ids) to speak")
        memory, pad_mask = self.encode(input_ids, attention_mask, speaker_embeddings)
        before, gate_logits, alignments = self.decoder(memory, labels, pad_mask)
        frames = (torch.ones(labels.shape[:2], device=labels.device) if labels_attention_mask is None
                  else labels_attention_mask.to(labels.dtype))
        after = before + self.postnet(before.transpose(1, 2), frames).transpose(1, 2)
        lengths = frames.sum(1).long()
        mel_weight = frames[..., None].expand_as(labels)
        mel_loss = (_masked_mean((before - labels) ** 2, mel_weight) + _masked_mean((after - labels) ** 2, mel_weight))
        steps = torch.arange(labels.shape[1], device=labels.device)
        gate_target = (steps[None] >= (lengths - 1)[:, None]).to(gate_logits.dtype)
        pos_weight = gate_logits.new_tensor(self.config.gate_positive_weight)
        gate_loss = _masked_mean(F.binary_cross_entropy_with_logits(gate_logits, gate_target, reduction="none",
                                                                    pos_weight=pos_weight), frames)
        loss = mel_loss + gate_loss
        attention_loss = None
        if self.config.guided_attention_loss_weight > 0:
            tokens = (attention_mask.sum(1) if attention_mask is not None
                      else torch.full_like(lengths, input_ids.shape[1]))
            attention_loss = guided_attention_loss(alignments, lengths, tokens, self.config.guided_attention_sigma)
            loss = loss + self.config.guided_attention_loss_weight * attention_loss
        return Tacotron2Output(loss, mel_loss, gate_loss, attention_loss, after, before, gate_logits, alignments)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                 max_decoder_steps: int | None = None, gate_threshold: float | None = None,
                 speaker_embeddings: torch.Tensor | None = None) -> Tacotron2Generation:
        """Speak: free-running decoding until the stop gate fires (or `max_decoder_steps`), then
        the postnet. The prenet's dropout stays on, so seed torch for repeatable output."""
        c = self.config
        memory, pad_mask = self.encode(input_ids, attention_mask, speaker_embeddings)
        before, alignments, lengths, stopped = self.decoder.generate(
            memory, pad_mask, max_decoder_steps or c.max_decoder_steps,
            c.gate_threshold if gate_threshold is None else gate_threshold)
        # items that stopped early decoded on until the last one did: the postnet must not see that
        after = before + self.postnet(before.transpose(1, 2), _keep(lengths, before.shape[1])).transpose(1, 2)
        return Tacotron2Generation(after, lengths, alignments, stopped)


def _keep(lengths: torch.Tensor, size: int) -> torch.Tensor:
    """(batch, size): 1.0 before each length, 0.0 after."""
    return (torch.arange(size, device=lengths.device)[None] < lengths[:, None]).float()


def _masked_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (values * weight).sum() / weight.sum().clamp_min(1)


def guided_attention_loss(alignments: torch.Tensor, frames: torch.Tensor, tokens: torch.Tensor,
                          sigma: float) -> torch.Tensor:
    """Tachibana et al. (2018): attention far from the diagonal costs 1 - exp(-(n/N - t/T)^2 / 2 sigma^2),
    averaged over each item's real (frame, token) pairs. alignments: (batch, time, tokens)."""
    _, time, width = alignments.shape
    t = torch.arange(time, device=alignments.device)[None, :, None] / frames[:, None, None].clamp_min(1)
    n = torch.arange(width, device=alignments.device)[None, None, :] / tokens[:, None, None].clamp_min(1)
    penalty = 1 - torch.exp(-((n - t) ** 2) / (2 * sigma ** 2))
    valid = ((torch.arange(time, device=alignments.device)[None, :, None] < frames[:, None, None])
             & (torch.arange(width, device=alignments.device)[None, None, :] < tokens[:, None, None]))
    return _masked_mean(alignments * penalty, valid.to(alignments.dtype))
