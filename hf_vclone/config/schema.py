"""The recipe's sections as typed dataclasses, and the error that names every problem in a recipe."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import UserError
from ..models import speecht5_section, tacotron2_section, vits_section
from ..models.speecht5_section import SpeechT5TrainingConfig
from ..models.tacotron2_section import Tacotron2Settings
from ..models.vits_section import VitsConfig

logger = logging.getLogger(__name__)

# Each backend's recipe section (its settings, value ranges and rules), by model.type. The sections
# are light modules (no torch): config reads them, and the heavy backends import config, one way.
SECTIONS_BY_BACKEND = {"speecht5": speecht5_section, "vits": vits_section, "tacotron2": tacotron2_section}

BackendName = Literal["speecht5", "vits", "tacotron2"]
StrategyName = Literal["full", "freeze_lower", "lora", "head_only", "speaker_embedding", "auto"]
SpeakerMode = Literal["learned", "file", "per_speaker"]
DataFormat = Literal["ljspeech", "librispeech", "vctk", "libritts", "common_voice", "folder", "manifest", "hub"]


class RecipeError(UserError):
    """A recipe problem a user can fix; the message names every bad key and what to do."""

    def __init__(self, problems: list[str], source: str = "recipe") -> None:
        # One line per problem, whatever the wrapped message (YAML, TrainingArguments) looked like.
        self.problems = [re.sub(r"\s*\n\s*", " ", str(p)).strip() for p in problems]
        self.source = source
        if len(self.problems) == 1:
            super().__init__(f"{source}: {self.problems[0]}")
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            super().__init__(f"{len(self.problems)} problems in {source}:\n{lines}")


@dataclass
class ModelConfig:
    type: BackendName = "speecht5"  # backend, see hf_vclone.backends
    name_or_path: str | None = "microsoft/speecht5_tts"  # Hub id or local save_pretrained dir
    init_config: dict | None = None  # train from scratch with these architecture fields instead
    processor: str | None = None  # Hub id or dir; default: name_or_path; "build": char tokenizer from the data
    config_overrides: dict = field(default_factory=dict)  # on top of the loaded config, e.g. encoder_layerdrop: 0
    vocoder: str | None = None  # e.g. microsoft/speecht5_hifigan; none means Griffin-Lim
    trust_remote_code: bool = False  # run Python code shipped with a Hub model; only for repos you trust
    # with init_config: start from this saved voice or checkpoint folder's weights, except the parts
    # named in warm_start_exclude (parameter-name prefixes, e.g. text_encoder), which start fresh
    warm_start: str | None = None
    warm_start_exclude: list[str] = field(default_factory=list)


@dataclass
class SpeakerConfig:
    mode: SpeakerMode = "learned"  # learned: trains with the voice; file: fixed vector; per_speaker: one fixed vector each
    path: str | None = None  # mode=file: an .npy vector (for example an x-vector)
    init: str = "base_mean"  # mode=learned: base_mean | random | path to an .npy vector


@dataclass
class DataConfig:
    # --- where the clips come from
    format: DataFormat = "ljspeech"
    path: str = ""  # a local corpus folder or manifest file; for format=hub, the dataset id (or a local copy of one)
    speaker: str | list[str] | None = None  # keep only this speaker (or these); none keeps all
    exclude_speakers: list[str] = field(default_factory=list)
    generate_demo: bool = False  # build the offline espeak-ng demo corpus at `path` if it is missing
    demo_clips_per_voice: int = 150  # generate_demo: sentences each base voice reads (the base's corpus: 1000)
    # generate_demo: what a base voice's sentences beyond the first 150 are: more of the grammar, or
    # its words in random order (so that a decoder cannot predict the next word from the last ones)
    demo_extra_text: Literal["grammar", "shuffled"] = "grammar"
    dataset_config: str | None = None  # format=hub: the dataset's config name (e.g. "clean")
    split: str = "train"  # format=hub: which split
    audio_column: str = "audio"  # format=hub: column names
    text_column: str = "text"
    speaker_column: str | None = "speaker_id"
    id_column: str | None = "id"
    streaming: bool = False  # read lazily, for corpora too large to prepare whole (needs training.max_steps)
    # --- what is held out and how much is used
    eval_size: int = 0  # clips held out (never trained on) for evaluation
    max_minutes: float | None = None  # cap on training audio, for "a few minutes of one speaker"
    seed: int = 0
    # --- clean-up
    loudness_lufs: float = -23.0  # EBU R128 target
    trim_top_db: float = 40.0  # silence threshold below peak for leading/trailing trim
    num_proc: int | None = None  # parallel preprocessing workers
    # --- preflight checks (per clip; a failed check skips the clip and says why)
    min_seconds: float = 0.3
    max_seconds: float = 20.0
    max_clipped_fraction: float = 0.01  # share of samples at full scale before a clip counts as clipped
    min_sample_rate_ratio: float = 0.5  # warn when a clip's rate is below this share of the model's
    unknown_characters: Literal["skip", "keep"] = "skip"  # transcript characters the tokenizer cannot encode
    # characters a tokenizer lacks, mapped before tokenizing (e.g. {"é": "e"}); saved with the voice
    replacements: dict[str, str] = field(default_factory=dict)
    chars_per_second_z: float | None = 5.0  # robust z-score beyond which text length does not fit the audio
    max_bad_fraction: float = 0.5  # abort when more than this share of clips is skipped
    normalize_text: bool = True  # expand numbers, abbreviations and symbols
    language: str = "en"  # text normalisation language


@dataclass
class LayerLRConfig:
    """Layer-wise learning rates, as multipliers of `training.learning_rate` (Caffe's `lr_mult`).

    Lower layers hold what every voice shares and should move little; the top layers and heads
    carry the voice. `decay` sets a geometric ladder by depth (the top ×`top`, each depth below
    ×`decay` more); `groups` names parameter-name prefixes explicitly and wins over the ladder."""

    decay: float | None = None  # e.g. 0.3: with 4 depths the bottom trains at top x 0.3^4 = top x 0.008
    top: float = 1.0  # multiplier of the top depth (heads, speaker projection, speaker vector)
    groups: dict[str, float] = field(default_factory=dict)  # prefix (model's own names) -> multiplier


@dataclass
class AutoConfig:
    """`strategy.name: auto`: the practice's rule, from the amount of target audio and how
    close the target voice is to the voices the base already speaks."""

    little_minutes: float = 3.0  # at most this much training audio is "little"
    similar_above: float = 0.6  # speaker similarity (base's nearest voice vs target) above this is "similar"
    probe_sentences: int = 2  # training sentences the base speaks to measure that similarity
    little_similar: Literal["head_only", "speaker_embedding"] = "head_only"
    much_similar: Literal["freeze_lower", "full"] = "freeze_lower"
    # the practice says full; on the Tacotron 2 quickstart base at 400 steps freeze_lower read better
    # on unseen sentences in both measurements (benchmarks/strategies.md, quality.md), hence a setting
    much_dissimilar: Literal["full", "freeze_lower"] = "full"


@dataclass
class StrategyConfig:
    name: StrategyName = "full"
    freeze_layers: int = 1  # freeze_lower: lower encoder *and* decoder layers frozen
    # freeze_lower for VITS: which named parts stay frozen (text_encoder, duration_predictor, flow,
    # posterior_encoder, decoder); none: the backend's default (text_encoder, duration_predictor)
    freeze_groups: list[str] | None = None
    lora: dict = field(default_factory=dict)  # peft.LoraConfig fields; the backend supplies defaults
    layer_lr: LayerLRConfig = field(default_factory=LayerLRConfig)  # with full / freeze_lower
    l2sp: float = 0.0  # lambda of L2-SP: loss += lambda * ||theta - theta_pretrained||^2 over trained parameters
    auto: AutoConfig = field(default_factory=AutoConfig)


@dataclass
class EvaluationConfig:
    """After training: synthesize held-out sentences and score them against the real recordings."""

    enabled: bool = True
    num_samples: int = 4  # held-out sentences to synthesize
    compare_base: bool = True  # also synthesize with the untouched base model
    seed: int = 0  # SpeechT5's prenet dropout is active at inference; a fixed seed makes samples repeatable
    minlenratio: float = 0.5
    maxlenratio: float = 8.0
    speaker_encoder: str | None = None  # WavLMForXVector id/folder (e.g. microsoft/wavlm-base-plus-sv); none: offline encoder
    # CER and WER from an ASR model: whisper-base (offline, the `asr` extra), a CTranslate2 Whisper folder or
    # repo (Systran/faster-whisper-small), or a transformers ASR id/folder (openai/whisper-small); null: skipped
    asr_model: str | None = "whisper-base"
    asr_language: str | None = "en"  # the language Whisper transcribes and normalises in; null: detected
    # other real voices reading the held-out sentences (<voice>/wavs/<clip id>.wav): the "nearest real voice" bar
    other_voices: str | None = None
    during_training: int = 2  # held-out sentences spoken, scored and logged at each `eval_strategy` evaluation
    # sentences with no recording (coqui's `test_sentences`), spoken by every system and transcribed: a CER
    # on more text than a small voice can spare as held-out clips (no MCD, F0 or similarity without a recording)
    test_sentences: list[str] = field(default_factory=list)


@dataclass
class RunConfig:
    """How a run survives trouble: bad batches and preemption."""

    max_nonfinite_steps: int = 5  # abort after this many updates in a row with a NaN/inf loss or gradient
    stop_on_sigterm: bool = True  # on SIGTERM (preemption) finish the step, checkpoint, and exit
    fast_cpu_dropout: bool = True  # dropout masks on CPU drawn 16 bits at a time (hf_vclone/cpu_dropout.py)


@dataclass
class PushConfig:
    """Publish the voice to the Hub after training (same as `hf-vclone push DIR REPO_ID`).

    The token comes from HF_TOKEN or `hf auth login`, never from a recipe."""

    repo_id: str | None = None  # e.g. your-name/my-voice; none: do not push
    private: bool = True
    adapter_only: bool = True  # a LoRA voice: push the adapter (small; needs the base) or, if false, the merged model
    commit_message: str = "Upload voice fine-tuned with hf_vclone"


@dataclass
class OutputConfig:
    dir: str = "outputs/run"
    save_dtype: Literal["float32", "float16", "bfloat16"] = "float32"


@dataclass
class Recipe:
    model: ModelConfig = field(default_factory=ModelConfig)
    speaker: SpeakerConfig = field(default_factory=SpeakerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    push_to_hub: PushConfig = field(default_factory=PushConfig)
    run: RunConfig = field(default_factory=RunConfig)
    vits: VitsConfig = field(default_factory=VitsConfig)
    speecht5: SpeechT5TrainingConfig = field(default_factory=SpeechT5TrainingConfig)
    tacotron2: Tacotron2Settings = field(default_factory=Tacotron2Settings)
    training: dict = field(default_factory=dict)  # transformers.TrainingArguments fields
    source: str = "recipe"
    raw: dict = field(default_factory=dict)  # the recipe as given (after overrides), for the model card

    def training_arguments(self) -> Any:
        """Build `TrainingArguments`; errors from its own checks are re-raised naming the recipe."""
        from transformers import TrainingArguments

        # The collator picks its own columns; the parent's column pruning would drop `length`
        # (for length-grouped batches) and `speaker_id`, which the model's signature cannot show.
        defaults = {"report_to": "none", "remove_unused_columns": False}
        kwargs = {**defaults, **self.training, "output_dir": self.output.dir}
        if kwargs.get("bf16") == "auto":
            kwargs["bf16"] = bf16_is_native(kwargs)
        try:
            args = TrainingArguments(**kwargs)
        except (ValueError, TypeError, ImportError) as err:  # ImportError: e.g. deepspeed named but not installed
            raise RecipeError([f"training: {err}"], self.source) from None
        warn_if_bf16_is_emulated(args)
        return args


def bf16_is_native(training: dict) -> bool:
    """`training.bf16: auto`: bf16 autocast where the hardware runs it natively, float32 elsewhere.

    A recipe sets bf16 for speed, and on a CPU without AVX-512 BF16 or AMX autocast is emulated:
    the Tacotron 2 base's first steps took 9x as long in bf16 as in float32 on a 2-core AVX2 EPYC
    (benchmarks/README.md), so a fixed `true` is right on one machine and ruinous on the next.
    """
    import torch

    on_cpu = bool(training.get("use_cpu")) or not torch.cuda.is_available()
    if on_cpu:
        native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    else:
        native = torch.cuda.is_bf16_supported()
    where = "this CPU" if on_cpu else "this GPU"
    if native:
        logger.info("training.bf16=auto: bf16 autocast (%s has native bf16)", where)
    else:  # said out loud: the run takes longer than figures measured on a machine with native bf16
        logger.warning("training.bf16=auto: training in float32, as %s has no native bf16 (AVX-512 BF16 or AMX on a "
                       "CPU); emulated bf16 would be several times slower", where)
    return bool(native)


def warn_if_bf16_is_emulated(args: Any, native_bf16: bool | None = None) -> None:
    """bf16 autocast on a CPU without native bf16 (AVX-512 BF16 or AMX) still runs, only slower than float32,
    so a recipe that sets it for speed (the Tacotron 2 demo) would quietly cost time there: say so and name the fix."""
    import torch

    if not args.bf16 or not (args.use_cpu or not torch.cuda.is_available()):
        return
    if native_bf16 is None:
        native_bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    if not native_bf16:
        logger.warning("training.bf16 is set but this CPU has no native bf16 (AVX-512 BF16 or AMX): autocast may be "
                       "slower than float32 here (benchmarks/README.md); set training.bf16=false or auto")


SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "speaker": SpeakerConfig,
    "data": DataConfig,
    "strategy": StrategyConfig,
    "evaluation": EvaluationConfig,
    "output": OutputConfig,
    "push_to_hub": PushConfig,
    "run": RunConfig,
    "vits": VitsConfig,
    "speecht5": SpeechT5TrainingConfig,
    "tacotron2": Tacotron2Settings,
}
# TrainingArguments' own Hub fields would push through the Trainer, without the voice's model card,
# and `hub_token` would put a secret into a file; the `push_to_hub` section replaces them.
HUB_TRAINING_FIELDS = {"push_to_hub", "hub_model_id", "hub_token", "hub_strategy", "hub_private_repo",
                        "hub_always_push", "hub_revision"}
