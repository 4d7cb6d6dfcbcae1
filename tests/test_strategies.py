"""Each strategy trains exactly what it says, and a LoRA voice reloads bit for bit."""

from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import SpeechT5ForTextToSpeech

from conftest import tiny_recipe
from hf_vclone.config import recipe_from_dict
from hf_vclone.finetune import FineTuneRun
from hf_vclone.models.speakers import SpeakerTable
from hf_vclone.synthesize import Synthesizer


def run_steps(corpus: Path, base: Path, out: Path, **sections) -> FineTuneRun:
    recipe = recipe_from_dict(tiny_recipe(corpus, base, out, evaluation={"enabled": False}, **sections))
    job = FineTuneRun(recipe)
    job.setup()
    return job


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize(
    "strategy, frozen_prefixes",
    [
        ("full", ()),
        ("freeze_lower", ("tts.speecht5.encoder.prenet.", "tts.speecht5.decoder.prenet.",
                          "tts.speecht5.encoder.wrapped_encoder.layers.0.", "tts.speecht5.decoder.wrapped_decoder.layers.0.")),
    ],
)
def test_frozen_weights_stay_bit_identical_and_the_rest_train(
    strategy: str, frozen_prefixes: tuple, corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    job = run_steps(corpus, tiny_base, tmp_path, strategy={"name": strategy, "freeze_layers": 1})
    params = dict(job.voice.named_parameters())
    for name, p in params.items():
        assert p.requires_grad == (not name.startswith(frozen_prefixes)), name
    before = {k: v.detach().clone() for k, v in params.items()}
    job.train()
    for name, p in params.items():
        if name.startswith(frozen_prefixes):
            assert torch.equal(p, before[name]), f"{name} is frozen but changed"
        else:
            assert not torch.equal(p, before[name]), f"{name} should train but did not change"


def test_every_trainable_parameter_gets_a_gradient(corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    for strategy in ("full", "freeze_lower", "lora"):
        job = run_steps(corpus, tiny_base, tmp_path / strategy, strategy={"name": strategy})
        batch = job.trainer.data_collator([job.data.train[i] for i in range(2)])
        job.voice.train()
        job.voice(**batch).loss.backward()
        missing = [n for n, p in job.voice.named_parameters() if p.requires_grad and p.grad is None]
        assert not missing, f"{strategy}: no gradient reaches {missing}"


def test_lora_trains_only_adapters_postnet_and_speaker(corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    job = run_steps(corpus, tiny_base, tmp_path, strategy={"name": "lora"})
    trainable = [n for n, p in job.voice.named_parameters() if p.requires_grad]
    assert "speakers.vectors" in trainable
    for name in trainable:
        assert "lora_" in name or "modules_to_save" in name or name == "speakers.vectors", name
    before = snapshot(job.voice)
    job.train()
    after = snapshot(job.voice)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    base_weights = {k for k in before if "lora_" not in k and "modules_to_save" not in k and k != "speakers.vectors"}
    assert not changed & base_weights, f"base weights changed: {sorted(changed & base_weights)[:5]}"
    assert any("lora_B" in k for k in changed)


def test_frozen_batchnorm_keeps_its_running_statistics(corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    job = run_steps(corpus, tiny_base, tmp_path, strategy={"name": "lora", "lora": {"modules_to_save": None}})
    stats = {k: v.clone() for k, v in job.voice.state_dict().items() if "running_" in k}
    assert stats
    job.train()
    for k, v in job.voice.state_dict().items():
        if "running_" in k:
            assert torch.equal(v, stats[k]), f"{k} drifted although its BatchNorm is frozen"


def _spectrogram(model: torch.nn.Module, speaker: torch.Tensor) -> torch.Tensor:
    ids = torch.tensor([[4, 5, 6, 7, 8, 9, 2]])
    mel_in = torch.linspace(-1, 1, 2 * 6 * 80).reshape(2, 6, 80)[:1].repeat(1, 1, 1)
    torch.manual_seed(0)  # the decoder prenet's dropout is active even in eval mode
    with torch.no_grad():
        return model(input_ids=ids, decoder_input_values=mel_in, speaker_embeddings=speaker[None]).spectrogram


def test_lora_adapter_round_trip_reproduces_outputs_exactly(corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    out = tmp_path / "voice"
    job = run_steps(corpus, tiny_base, out, strategy={"name": "lora"})
    job.train()
    job.finish(0.0)
    trained = job.voice.eval()
    speaker = SpeakerTable.load(out).vector()
    assert torch.equal(speaker, trained.speakers.vector().detach())
    expected = _spectrogram(trained.tts, speaker)

    via_peft = PeftModel.from_pretrained(SpeechT5ForTextToSpeech.from_pretrained(tiny_base), out).eval()
    assert torch.equal(_spectrogram(via_peft, speaker), expected)

    via_transformers = SpeechT5ForTextToSpeech.from_pretrained(tiny_base)
    via_transformers.load_adapter(str(out))
    assert torch.equal(_spectrogram(via_transformers.eval(), speaker), expected)

    base_only = SpeechT5ForTextToSpeech.from_pretrained(tiny_base).eval()
    assert not torch.equal(_spectrogram(base_only, speaker), expected), "the adapter must change the output"

    synth = Synthesizer(out)
    assert torch.equal(_spectrogram(synth.voice.tts, synth.voice.speakers.vector()), expected)


HEADS = ("tts.speech_decoder_postnet.", "tts.speecht5.decoder.prenet.speaker_embeds_layer.")


@pytest.mark.parametrize("strategy, trains", [
    ("head_only", lambda name: name.startswith(HEADS) or name == "speakers.vectors"),
    ("speaker_embedding", lambda name: name == "speakers.vectors"),
])
def test_head_only_and_speaker_embedding_change_exactly_their_parameters(
    strategy: str, trains, corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    job = run_steps(corpus, tiny_base, tmp_path, strategy={"name": strategy})
    params = dict(job.voice.named_parameters())
    assert {n for n, p in params.items() if p.requires_grad} == {n for n in params if trains(n)}
    before = snapshot(job.voice)
    job.train()
    after = snapshot(job.voice)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    # Every intended weight moved (with the postnet's BatchNorm statistics), nothing else did.
    assert changed == {k for k in before if trains(k)}


def test_speaker_embedding_voice_saves_and_loads_like_any_voice(corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    out = tmp_path / "voice"
    job = run_steps(corpus, tiny_base, out, strategy={"name": "speaker_embedding"})
    job.train()
    job.finish(0.0)
    trained = job.voice.eval()
    synth = Synthesizer(out)
    assert torch.equal(synth.voice.speakers.vector(), trained.speakers.vector().detach())
    speaker = trained.speakers.vector().detach()
    assert torch.equal(_spectrogram(SpeechT5ForTextToSpeech.from_pretrained(out).eval(), speaker),
                       _spectrogram(trained.tts, speaker))


def test_speaker_embedding_needs_a_learned_speaker(corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    from hf_vclone.errors import UserError

    with pytest.raises(UserError, match="speaker.mode: learned"):
        run_steps(corpus, tiny_base, tmp_path, strategy={"name": "speaker_embedding"},
                  speaker={"mode": "per_speaker"})


def group_lr_of(job: FineTuneRun) -> dict[str, float]:
    optimizer = job.trainer.create_optimizer()
    by_param = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    return {n: by_param[id(p)] for n, p in job.voice.named_parameters() if id(p) in by_param}


def test_layer_wise_learning_rates_decay_by_depth_and_explicit_groups_win(
    corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    lr = 1e-3  # tiny_recipe's rate
    job = run_steps(corpus, tiny_base, tmp_path / "decay",
                    strategy={"name": "full", "layer_lr": {"decay": 0.5, "top": 2.0}})
    lrs = group_lr_of(job)
    assert set(lrs) == {n for n, p in job.voice.named_parameters()}  # every parameter trains, each once
    # 2+2 layers: level 0 = prenets, 1 = layers.0, 2 = layers.1, 3 = heads and everything on top.
    expected = {
        "tts.speecht5.encoder.prenet.embed_tokens.weight": 2.0 * 0.5 ** 3,
        "tts.speecht5.decoder.prenet.layers.0.weight": 2.0 * 0.5 ** 3,
        "tts.speecht5.encoder.wrapped_encoder.layers.0.attention.q_proj.weight": 2.0 * 0.5 ** 2,
        "tts.speecht5.decoder.wrapped_decoder.layers.0.self_attn.q_proj.weight": 2.0 * 0.5 ** 2,
        "tts.speecht5.encoder.wrapped_encoder.layers.1.feed_forward.output_dense.weight": 2.0 * 0.5,
        "tts.speech_decoder_postnet.feat_out.weight": 2.0,
        "tts.speecht5.decoder.prenet.speaker_embeds_layer.weight": 2.0,
        "speakers.vectors": 2.0,
    }
    for name, multiplier in expected.items():
        assert lrs[name] == pytest.approx(lr * multiplier), name

    job = run_steps(corpus, tiny_base, tmp_path / "groups", strategy={
        "name": "freeze_lower", "freeze_layers": 1,
        "layer_lr": {"decay": 0.5, "groups": {"speecht5.encoder.wrapped_encoder.layers.1.": 0.01,
                                              "speech_decoder_postnet.": 10.0}}})
    lrs = group_lr_of(job)
    frozen = ("tts.speecht5.encoder.prenet.", "tts.speecht5.decoder.prenet.",
              "tts.speecht5.encoder.wrapped_encoder.layers.0.", "tts.speecht5.decoder.wrapped_decoder.layers.0.")
    assert lrs and not any(n.startswith(frozen) for n in lrs)  # frozen: not in the optimizer
    assert lrs["tts.speecht5.encoder.wrapped_encoder.layers.1.attention.q_proj.weight"] == pytest.approx(lr * 0.01)
    assert lrs["tts.speech_decoder_postnet.feat_out.weight"] == pytest.approx(lr * 10.0)
    assert lrs["tts.speecht5.decoder.wrapped_decoder.layers.1.self_attn.q_proj.weight"] == pytest.approx(lr * 0.5)

    # The Trainer's scheduler scales every group alike: mid-warm-up the ratios are the ones asked for.
    job.trainer.args.warmup_steps = 5
    job.trainer.create_optimizer_and_scheduler(num_training_steps=10)
    for _ in range(3):
        job.trainer.optimizer.step()
        job.trainer.lr_scheduler.step()
    groups = job.trainer.optimizer.param_groups
    assert 0 < groups[-1]["lr"] < lr * groups[-1]["lr_multiplier"]
    for group in groups:
        assert group["lr"] / groups[-1]["lr"] == pytest.approx(group["lr_multiplier"] / groups[-1]["lr_multiplier"])


def test_layer_lr_names_a_prefix_that_matches_nothing(corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    from hf_vclone.errors import UserError

    with pytest.raises(UserError, match="strategy.layer_lr.groups.*'encoder.layers.9'"):
        run_steps(corpus, tiny_base, tmp_path, strategy={"layer_lr": {"groups": {"encoder.layers.9": 0.1}}})
    with pytest.raises(UserError, match="layer_lr applies to full and freeze_lower"):
        run_steps(corpus, tiny_base, tmp_path, strategy={"name": "lora", "layer_lr": {"decay": 0.5}})


def test_l2sp_term_is_the_squared_distance_to_the_pretrained_weights(
    corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    from hf_vclone.l2sp import L2SP

    job = run_steps(corpus, tiny_base, tmp_path, strategy={"name": "lora"})
    l2sp = L2SP(job.voice, weight=0.5)
    trainable = [p for p in job.voice.parameters() if p.requires_grad]
    assert l2sp.anchor_numel == sum(p.numel() for p in trainable) < sum(p.numel() for p in job.voice.parameters())
    assert float(l2sp()) == 0.0
    with torch.no_grad():
        trainable[0].add_(0.1)
        trainable[-1][..., 0] -= 0.2
    expected = 0.5 * (0.1 ** 2 * trainable[0].numel() + 0.2 ** 2 * trainable[-1][..., 0].numel())
    assert float(l2sp()) == pytest.approx(expected, rel=1e-4)


def distance_from_start(job: FineTuneRun) -> float:
    start = {n: p.detach().clone() for n, p in job.voice.named_parameters()}
    job.train()
    return sum(float(((p - start[n]) ** 2).sum()) for n, p in job.voice.named_parameters())


def test_l2sp_is_logged_on_its_own_and_holds_weights_near_the_base(
    corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    free = distance_from_start(run_steps(corpus, tiny_base, tmp_path / "free"))
    job = run_steps(corpus, tiny_base, tmp_path / "l2sp", strategy={"l2sp": 100.0},
                    training={"max_steps": 4, "learning_rate": 1e-3})
    held = distance_from_start(job)
    logged = [h["l2sp"] for h in job.trainer.state.log_history if "l2sp" in h]
    assert len(logged) == 4 and logged[0] == 0.0 and all(v > 0 for v in logged[1:])
    assert held < free
