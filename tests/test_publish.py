"""Publishing: the model card, merged export, pipeline("text-to-speech"), adapters switched by name."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from huggingface_hub import ModelCard
from transformers import SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5HifiGanConfig, pipeline

from conftest import tiny_recipe
from hf_vclone import load_voice, load_voices
from hf_vclone.config import recipe_from_dict
from hf_vclone.finetune import FineTuneRun
from hf_vclone.synthesize import Synthesizer


def train_voice(corpus: Path, base: Path, out: Path, evaluate: bool = False, **sections) -> FineTuneRun:
    evaluation = {"enabled": evaluate, "compare_base": False}
    job = FineTuneRun(recipe_from_dict(tiny_recipe(corpus, base, out, evaluation=evaluation, **sections)))
    job.setup()
    job.finish(job.train())
    return job


@pytest.fixture(scope="module")
def lora_voice(corpus: Path, tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lora_voice")
    train_voice(corpus, tiny_base, out, evaluate=True, strategy={"name": "lora"})
    return out


def test_model_card_has_hub_metadata_metrics_recipe_and_consent(lora_voice: Path) -> None:
    card = ModelCard.load(lora_voice / "README.md")
    data = card.data.to_dict()
    assert data["pipeline_tag"] == "text-to-speech" and data["library_name"] == "peft"
    assert data["language"] == ["en"] and "lora" in data["tags"] and "voice-cloning" in data["tags"]
    assert data["license"] == "other" and "Licence unknown" in card.text  # the tiny base has no card
    metrics = yaml.safe_load((lora_voice / "metrics.json").read_text())["systems"]["fine_tuned"]
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    # Every measured figure is in the model-index, and nothing unmeasured (a tiny voice's MCD may
    # count no sentence; tiny_recipe skips CER and WER).
    from hf_vclone.model_card import METRICS

    assert results == {kind: pytest.approx(round(metrics[key], 4)) for key, kind, _ in METRICS if metrics[key] is not None}
    assert "speaker_similarity" in results
    embedded = card.text.split("```yaml\n")[1].split("```")[0]
    assert yaml.safe_load(embedded) == yaml.safe_load((lora_voice / "recipe.yaml").read_text())
    assert yaml.safe_load(embedded)["strategy"] == {"name": "lora"}
    meta = yaml.safe_load((lora_voice / "vclone.json").read_text())
    assert f"{meta['train_minutes']:.1f} minutes ({meta['train_clips']} clips)" in card.text
    assert "Strategy: `lora`" in card.text and "## Consent and responsible use" in card.text


def test_non_commercial_base_licence_is_inherited_with_a_warning(
    corpus: Path, tiny_base: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = tmp_path / "nc_base"
    shutil.copytree(tiny_base, base)
    (base / "README.md").write_text("---\nlicense: cc-by-nc-4.0\n---\n# an MMS-like base\n")
    with caplog.at_level("WARNING"):
        train_voice(corpus, base, tmp_path / "voice")
    card = ModelCard.load(tmp_path / "voice" / "README.md")
    assert card.data.license == "cc-by-nc-4.0" and "Non-commercial licence" in card.text
    assert "non-commercial" in caplog.text


def spectrogram(model: torch.nn.Module, speaker: torch.Tensor) -> torch.Tensor:
    ids = torch.tensor([[4, 5, 6, 7, 8, 9, 2]])
    torch.manual_seed(0)
    with torch.no_grad():
        return model(input_ids=ids, decoder_input_values=torch.zeros(1, 6, 80), speaker_embeddings=speaker[None]).spectrogram


def tiny_hifigan() -> SpeechT5HifiGan:
    config = SpeechT5HifiGanConfig(model_in_dim=80, upsample_initial_channel=16, upsample_rates=[4, 4],
                                   upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3],
                                   resblock_dilation_sizes=[[1, 3]], sampling_rate=16000)
    torch.manual_seed(0)
    return SpeechT5HifiGan(config).eval()


def test_merged_export_loads_with_plain_from_pretrained_and_the_tts_pipeline(lora_voice: Path, tmp_path: Path) -> None:
    from hf_vclone.cli import main

    merged = tmp_path / "merged"
    assert main(["export", str(lora_voice), str(merged), "--merge"]) == 0
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()
    # a VITS inference setting on a SpeechT5 voice: refused with its reason, nothing written
    assert main(["export", str(lora_voice), str(tmp_path / "noisy"), "--merge", "--noise-scale", "0.3"]) == 2
    assert not (tmp_path / "noisy").exists()
    adapter_voice = Synthesizer(lora_voice)
    speaker = adapter_voice.voice.speakers.vector().detach()
    plain = SpeechT5ForTextToSpeech.from_pretrained(merged).eval()
    torch.testing.assert_close(spectrogram(plain, speaker), spectrogram(adapter_voice.voice.tts, speaker))
    card = ModelCard.load(merged / "README.md")
    assert card.data.library_name == "transformers" and "merged into the weights" in card.text

    tts = pipeline("text-to-speech", model=str(merged), vocoder=tiny_hifigan())
    out = tts("Hello there.", forward_params={"speaker_embeddings": speaker[None], "maxlenratio": 2.0})
    assert out["sampling_rate"] == 16000 and np.asarray(out["audio"]).size > 0


def test_adapters_of_several_speakers_share_one_base_and_switch_by_name(
    lora_voice: Path, corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    train_voice(corpus, tiny_base, other, strategy={"name": "lora"}, training={"seed": 1, "learning_rate": 3e-3})
    bank = load_voices({"first": lora_voice, "second": other})
    assert bank.names == ["first", "second"]
    alone = {"first": load_voice(lora_voice), "second": load_voice(other)}
    text = "The old farmer found a map."
    mels = {name: bank.mel(text, name, maxlenratio=2.0) for name in ("second", "first", "second")}
    for name, voice in alone.items():
        # Same voice as loaded alone, up to float rounding (peft's multi-adapter path sums in another order).
        np.testing.assert_allclose(mels[name], voice.mel(text, maxlenratio=2.0), rtol=1e-5, atol=1e-6)
    assert not np.array_equal(mels["first"][: len(mels["second"])], mels["second"][: len(mels["first"])])
    audio, rate = bank.synthesize(text, speaker="first")
    assert audio.ndim == 1 and audio.size > 0 and rate == 16000


# ---- push, against a stand-in for the Hub's HTTP API (tests/hub_standin.py) ------------------
import hub_standin  # noqa: E402
from hub_standin import HubStandIn  # noqa: E402

hub = hub_standin.hub
TOKEN = "hf_secret_test_token_do_not_leak"
VOICE_FILES = {"adapter_config.json", "adapter_model.safetensors", "speaker_embeddings.safetensors",
               "vclone.json", "README.md", "processor_config.json", "tokenizer_config.json", "spm_char.model"}


def test_push_uploads_the_voice_and_its_card_and_what_was_pushed_speaks_identically(
    lora_voice: Path, hub: HubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture
) -> None:
    import os
    import subprocess
    import sys

    from hf_vclone.cli import main

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert main(["push", str(lora_voice), "me/my-voice"]) == 0
    repo = hub.repos["me/my-voice"]
    assert repo.private and repo.commits == ["Upload voice fine-tuned with hf_vclone"]
    files = repo.files
    assert VOICE_FILES <= set(files) and "report.md" in files and any(f.startswith("samples/") for f in files)
    assert not any(f.startswith(("checkpoint-", "runs/", "eval_samples/")) or f == "training_args.json" for f in files)
    for name in ("adapter_model.safetensors", "speaker_embeddings.safetensors", "vclone.json"):
        assert files[name] == (lora_voice / name).read_bytes(), name
    card = files["README.md"].decode()
    assert 'load_voice("me/my-voice")' in card and 'PeftModel.from_pretrained(base, "me/my-voice")' in card
    # The token was used (as a Bearer header) and is nowhere it could leak.
    assert f"Bearer {TOKEN}" in hub.authorizations
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    assert not any(TOKEN.encode() in data for data in files.values())
    assert not any(TOKEN.encode() in p.read_bytes() for p in lora_voice.rglob("*") if p.is_file())

    # Reloaded from the Hub, the voice speaks exactly as the local one.
    text = "A tired sailor opened the red door."
    np.testing.assert_array_equal(load_voice("me/my-voice").mel(text, maxlenratio=2.0),
                                  load_voice(lora_voice).mel(text, maxlenratio=2.0))

    # The card's usage snippets really run, in a fresh process that only knows the repo id.
    snippets = card.split("```python\n")[1:]
    for i, code in enumerate(snippets):
        code = code.split("```")[0]
        run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=os.environ.copy(),
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"snippet {i} failed:\n{code}\n{run.stderr[-2000:]}"
    assert (tmp_path / "hello.wav").is_file()


def test_push_merged_sends_a_full_model_and_no_token_is_a_clear_error(
    lora_voice: Path, hub: HubStandIn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from hf_vclone.cli import main

    assert main(["push", str(lora_voice), "me/no-token"]) == 2
    assert "HF_TOKEN" in capsys.readouterr().err and "me/no-token" not in hub.repos

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert main(["push", str(lora_voice), "me/merged", "--merge", "--public"]) == 0
    repo = hub.repos["me/merged"]
    assert not repo.private and "model.safetensors" in repo.files and "adapter_config.json" not in repo.files
    assert ModelCard(repo.files["README.md"].decode()).data.library_name == "transformers"
    voice = load_voice("me/merged")
    speaker = voice.voice.speakers.vector().detach()
    torch.testing.assert_close(spectrogram(voice.voice.tts, speaker),
                               spectrogram(load_voice(lora_voice).voice.tts, speaker))


def test_push_to_hub_section_pushes_after_training(
    corpus: Path, tiny_base: Path, hub: HubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    job = train_voice(corpus, tiny_base, tmp_path / "v", strategy={"name": "lora"},
                      push_to_hub={"repo_id": "me/from-recipe", "private": False})
    repo = hub.repos["me/from-recipe"]
    assert not repo.private and "adapter_model.safetensors" in repo.files
    assert yaml.safe_load(repo.files["recipe.yaml"])["push_to_hub"]["repo_id"] == "me/from-recipe"
    assert job.recipe.push_to_hub.repo_id == "me/from-recipe"
