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
