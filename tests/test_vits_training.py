"""VITS fine-tuning on a tiny VitsModel: every loss trains every part, the discriminator steps in
the training step (never in a loss) and travels with checkpoints, strategies train exactly their
parameters, and what is saved is a plain VitsModel (or a peft adapter) that transformers' own
pipeline speaks with."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import VitsModel, pipeline, set_seed

from hf_vclone.config import RecipeError, VitsConfig, recipe_from_dict
from hf_vclone.errors import UserError
from hf_vclone.export import merge_voice, read_voice
from hf_vclone.finetune import FineTuneRun, run
from hf_vclone.vits.trainer import DISCRIMINATOR_FILE, LOGGED, build_discriminator
from test_robustness import run_subprocess

PARTS = ("text_encoder.", "duration_predictor.", "flow.", "posterior_encoder.", "decoder.")


def vits_recipe(corpus: Path, base: Path, out: Path, strategy: str = "full", evaluation: bool = False,
                strategy_extra: dict | None = None, **training) -> dict:
    train = {"max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": 2e-3, "save_strategy": "no",
             "use_cpu": True, "logging_steps": 1, "seed": 0, "disable_tqdm": True, **training}
    return {
        "model": {"type": "vits", "name_or_path": str(base)},
        "data": {"path": str(corpus), "speaker": "us_f5", "eval_size": 2},
        "strategy": {"name": strategy, **(strategy_extra or {})},
        "evaluation": {"enabled": evaluation, "num_samples": 2, "asr_model": None},
        "vits": {"mel_bins": 20, "discriminator_width": 0.0625},
        "output": {"dir": str(out)},
        "training": train,
    }


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


@pytest.fixture(scope="module")
def full_run(corpus: Path, tiny_vits_base: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("vits_full")
    result = run(recipe_from_dict(vits_recipe(corpus, tiny_vits_base, out, evaluation=True)))
    return out, result


def test_every_loss_is_logged_and_every_part_of_the_model_trains(full_run, tiny_vits_base: Path) -> None:
    out, _ = full_run
    base = load_file(str(tiny_vits_base / "model.safetensors"))
    tuned = load_file(str(out / "model.safetensors"))
    moved = changed(base, tuned)
    for part in PARTS:
        names = {k for k in base if k.startswith(part)}
        assert names and names & moved, f"no weight of {part} changed"


@pytest.mark.parametrize("bf16", [False, True])
def test_loss_terms_are_logged_finite_at_every_step(bf16: bool, corpus: Path, tiny_vits_base: Path,
                                                    tmp_path: Path) -> None:
    job = FineTuneRun(recipe_from_dict(vits_recipe(corpus, tiny_vits_base, tmp_path / "out", max_steps=2, bf16=bf16)))
    job.setup()
    job.train()
    steps = [h for h in job.trainer.state.log_history if "loss" in h]
    assert len(steps) == 2
    for entry in steps:
        for name in LOGGED:
            assert np.isfinite(entry[name]), (name, entry)
        assert entry["mel_loss"] > 0 and entry["discriminator_loss"] > 0


def test_the_generator_loss_leaves_the_discriminator_alone_and_the_training_step_trains_it(
    corpus: Path, tiny_vits_base: Path, tmp_path: Path
) -> None:
    job = FineTuneRun(recipe_from_dict(vits_recipe(corpus, tiny_vits_base, tmp_path / "out")))
    job.setup()
    trainer = job.trainer
    trainer.create_optimizer_and_scheduler(num_training_steps=4)
    discriminator = trainer._discriminator

    def weights_now() -> dict[str, torch.Tensor]:
        """Its weights, not its spectral norm's power-iteration vectors (buffers any forward moves)."""
        return {n: p.detach().clone() for n, p in discriminator.named_parameters()}

    before = weights_now()
    batch = trainer.data_collator([job.data.train[i] for i in range(2)])
    job.voice.train()
    loss = trainer.compute_loss(job.voice, batch)
    # a loss function steps no optimizer: the discriminator is as it was ...
    assert not changed(before, weights_now())
    loss.backward()
    # ... and the generator's loss reaches the generator only
    assert all(p.grad is None for p in discriminator.parameters())
    assert all(p.requires_grad for p in discriminator.parameters())
    grads = [p.grad for n, p in job.voice.named_parameters() if n.startswith("tts.decoder.")]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    job.voice.zero_grad(set_to_none=True)
    # evaluation calls compute_loss too, and never trains it
    job.voice.eval()
    trainer.compute_loss(job.voice, batch)
    assert not changed(before, weights_now())
    # the training step does: the generator's step, then the discriminator's, which leaves no gradient
    job.train()
    assert changed(before, weights_now())
    assert all(p.grad is None for p in discriminator.parameters())


def test_the_saved_voice_is_a_plain_vits_model_for_transformers_pipeline(full_run) -> None:
    out, result = full_run
    assert (out / DISCRIMINATOR_FILE).is_file() and result.outputs["discriminator"] == out / DISCRIMINATOR_FILE
    model = VitsModel.from_pretrained(out)
    assert model.config.vocab_size == len(json.loads((out / "vocab.json").read_text()))
    speak = pipeline("text-to-speech", model=str(out), device="cpu")
    set_seed(0)
    spoken = speak("the north wind and the sun")
    assert spoken["sampling_rate"] == 16000 and spoken["audio"].size > 0 and np.isfinite(spoken["audio"]).all()
    # hf_vclone's own loader gives the model's own waveform for the same seed
    voice, tokenizer, meta = read_voice(out)
    assert meta.backend == "vits"
    # rebuilt with the recipe's vits settings, not the defaults: scored with the 20-band mels it trained on
    assert voice.settings.mel_bins == 20 and voice.log10_mel(torch.zeros(16000)).shape[-1] == 20
    ids = torch.tensor([tokenizer("the north wind and the sun")["input_ids"]])
    set_seed(0)
    ours = voice.generate_waveform(ids).numpy()
    set_seed(0)
    with torch.no_grad():
        plain = model(input_ids=ids).waveform[0].numpy()
    np.testing.assert_allclose(ours, plain, rtol=0, atol=0)


def test_evaluation_scores_base_and_fine_tuned_vits(full_run) -> None:
    out, result = full_run
    systems = json.loads((out / "metrics.json").read_text())["systems"]
    assert set(systems) == {"base", "fine_tuned"}
    for summary in systems.values():
        assert -1 <= summary["speaker_similarity"] <= 1 and summary["rtf"] > 0
    wavs = sorted(p.name for p in (out / "samples").glob("*.wav"))
    assert len(wavs) == 2 * 3  # reference, base and fine-tuned for each of 2 sentences


@pytest.mark.parametrize("groups", [None, ["text_encoder", "flow"]])
def test_freeze_lower_trains_exactly_the_unfrozen_parts(groups, corpus: Path, tiny_vits_base: Path,
                                                        tmp_path: Path) -> None:
    extra = {} if groups is None else {"freeze_groups": groups}
    out = tmp_path / "out"
    run(recipe_from_dict(vits_recipe(corpus, tiny_vits_base, out, "freeze_lower", strategy_extra=extra)))
    frozen = tuple(f"{g}." for g in (groups or ["text_encoder", "duration_predictor"]))
    base = load_file(str(tiny_vits_base / "model.safetensors"))
    moved = changed(base, load_file(str(out / "model.safetensors")))
    assert not {k for k in moved if k.startswith(frozen)}, "a frozen part changed"
    for part in set(PARTS) - set(frozen):
        assert {k for k in moved if k.startswith(part)}, f"{part} did not train"


def test_lora_voice_is_an_adapter_that_merges_into_a_plain_model(corpus: Path, tiny_vits_base: Path,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "lora"
    run(recipe_from_dict(vits_recipe(corpus, tiny_vits_base, out, "lora")))
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    adapter = load_file(str(out / "adapter_model.safetensors"))
    assert any("conv" in k for k in adapter) and any("q_proj" in k for k in adapter)  # Conv1d and Linear
    voice, tokenizer, _ = read_voice(out)
    merged = merge_voice(out, tmp_path / "merged")
    model = VitsModel.from_pretrained(merged)
    ids = torch.tensor([tokenizer("a quick test")["input_ids"]])
    set_seed(0)
    with_adapter = voice.generate_waveform(ids)
    set_seed(0)
    with torch.no_grad():
        plain = model(input_ids=ids).waveform[0]
    # Merging sums the low-rank product into the weights (another float order); the decoder's
    # upsampling stack amplifies that rounding, so agreement is judged against the signal's scale.
    assert plain.shape == with_adapter.shape
    assert float((plain - with_adapter).abs().max()) <= 1e-3 * float(plain.abs().max())
    # the base itself is untouched: the adapter moved the output away from it
    set_seed(0)
    with torch.no_grad():
        untouched = VitsModel.from_pretrained(tiny_vits_base)(input_ids=ids).waveform[0]
    assert untouched.shape != plain.shape or not torch.allclose(untouched, plain)
    # --noise-scale / --noise-scale-duration are written to the config: at 0 / 0 the voice speaks the
    # same waveform whatever the seed (the prior's and the durations' sampling were its only randomness)
    from hf_vclone.cli import main
    assert main(["export", str(out), str(tmp_path / "quiet"), "--merge", "--noise-scale", "0",
                 "--noise-scale-duration", "0"]) == 0
    quiet = VitsModel.from_pretrained(tmp_path / "quiet").eval()
    assert (quiet.config.noise_scale, quiet.config.noise_scale_duration) == (0.0, 0.0)
    spoken = []
    for seed in (0, 1):
        set_seed(seed)
        with torch.no_grad():
            spoken.append(quiet(input_ids=ids).waveform[0])
    torch.testing.assert_close(spoken[0], spoken[1], rtol=0, atol=0)
    set_seed(1)
    with torch.no_grad():
        assert not torch.equal(model(input_ids=ids).waveform[0], plain)  # at its own 0.667 / 0.8 the seed matters
    # the discriminator travels with an export, in its dtype, and a later fine-tune reads it back
    half = merge_voice(out, tmp_path / "half", dtype="float16")
    saved = load_file(str(half / DISCRIMINATOR_FILE))
    assert saved and all(v.dtype == torch.float16 for v in saved.values() if v.is_floating_point())
    assert build_discriminator(VitsConfig(discriminator=str(half))).width == 0.0625


@pytest.mark.slow
def test_killed_and_resumed_vits_run_continues_exactly_with_its_discriminator(corpus: Path, tiny_vits_base: Path,
                                                                              tmp_path: Path) -> None:
    settings = {"max_steps": 4, "save_strategy": "steps", "save_steps": 2, "per_device_train_batch_size": 2}
    unbroken = tmp_path / "unbroken"
    run(recipe_from_dict(vits_recipe(corpus, tiny_vits_base, unbroken, **settings)))
    checkpoint = unbroken / "checkpoint-2"
    for name in (DISCRIMINATOR_FILE, "discriminator_optimizer.pt", "discriminator_scheduler.pt"):
        assert (checkpoint / name).is_file(), name

    broken = tmp_path / "broken"
    killed = run_subprocess(vits_recipe(corpus, tiny_vits_base, broken, **settings), kill_at=2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = run_subprocess(vits_recipe(corpus, tiny_vits_base, broken, resume_from_checkpoint="latest", **settings))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for name in ("model.safetensors", DISCRIMINATOR_FILE):
        expected, got = load_file(str(unbroken / name)), load_file(str(broken / name))
        assert expected.keys() == got.keys()
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0, msg=f"{name}:{key}")
    logged = [json.loads((folder / "checkpoint-4" / "trainer_state.json").read_text())["log_history"]
              for folder in (unbroken, broken)]
    assert [[h.get(k) for k in ("loss", *LOGGED)] for h in logged[0] if "loss" in h] == \
           [[h.get(k) for k in ("loss", *LOGGED)] for h in logged[1] if "loss" in h]


def test_discriminator_loads_from_a_previous_voice_and_mismatches_are_named(full_run, tmp_path: Path) -> None:
    out, _ = full_run
    saved = load_file(str(out / DISCRIMINATOR_FILE))
    loaded = build_discriminator(VitsConfig(discriminator=str(out), discriminator_width=0.0625)).state_dict()
    assert all(torch.equal(loaded[k], saved[k]) for k in saved)
    with pytest.raises(UserError, match="vits.discriminator_width"):
        build_discriminator(VitsConfig(discriminator=str(out), discriminator_width=0.125))
    with pytest.raises(UserError, match="discriminator.safetensors"):
        build_discriminator(VitsConfig(discriminator=str(tmp_path)))


@pytest.mark.parametrize("change, message", [
    ({"training": {"fp16": True}}, "training.fp16: VITS is known to produce NaNs"),
    ({"strategy": {"name": "freeze_lower", "freeze_groups": ["text_encoder"]}, "model": {"type": "speecht5"}},
     "strategy.freeze_groups: names VITS parts"),
    ({"vits": {"segment_frames": 0}}, "vits.segment_frames: expected 1 or more frames"),
    ({"vits": {"calibrate_length": 0}}, "vits.calibrate_length: expected a length relative to the training clips"),
    ({"strategy": {"name": "speaker_embedding"}}, "a VITS voice has none"),
    ({"strategy": {"name": "auto", "auto": {"little_similar": "speaker_embedding"}}}, "a VITS voice has none"),
])
def test_recipe_mistakes_for_vits_are_named(change: dict, message: str, tmp_path: Path) -> None:
    raw = {"model": {"type": "vits", "name_or_path": "facebook/mms-tts-eng"}, "data": {"path": "corpus"},
           "output": {"dir": str(tmp_path)}}
    for key, value in change.items():
        raw[key] = {**raw.get(key, {}), **value}
    with pytest.raises(RecipeError, match=message):
        recipe_from_dict(raw)


def test_an_unknown_freeze_group_is_named(corpus: Path, tiny_vits_base: Path, tmp_path: Path) -> None:
    raw = vits_recipe(corpus, tiny_vits_base, tmp_path / "out", "freeze_lower",
                      strategy_extra={"freeze_groups": ["text_encoder", "vocoder"]})
    with pytest.raises(UserError, match="unknown part vocoder; VITS parts: text_encoder"):
        FineTuneRun(recipe_from_dict(raw)).setup()


def test_the_model_cards_vits_snippets_run_as_written(full_run, tmp_path: Path) -> None:
    out, _ = full_run
    card = (out / "README.md").read_text()
    assert "VITS, end to end" in card and "pipeline(\"text-to-speech\"" in card
    snippets = [code.split("```")[0] for code in card.split("```python\n")[1:]]
    assert len(snippets) == 2
    for i, code in enumerate(snippets):
        ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert ran.returncode == 0, f"snippet {i} failed:\n{code}\n{ran.stderr[-2000:]}"
    assert (tmp_path / "hello.wav").stat().st_size > 44


def test_a_frozen_waveform_path_skips_the_gan_and_still_trains_the_text_side(corpus: Path, tiny_vits_base: Path,
                                                                              tmp_path: Path) -> None:
    """freeze_lower over [posterior_encoder, flow, decoder]: the adversarial losses could give no
    gradient to anything that trains, so no discriminator step runs (it was half of every step)."""
    extra = {"freeze_groups": ["posterior_encoder", "flow", "decoder"]}
    job = FineTuneRun(recipe_from_dict(vits_recipe(corpus, tiny_vits_base, tmp_path / "out", "freeze_lower",
                                                   strategy_extra=extra, max_steps=2)))
    job.setup()
    discriminator = job.trainer._discriminator
    before = {n: p.detach().clone() for n, p in discriminator.named_parameters()}
    text_before = {n: p.detach().clone() for n, p in job.voice.named_parameters() if "text_encoder." in n}
    job.train()
    assert not changed(before, {n: p.detach() for n, p in discriminator.named_parameters()})
    assert changed(text_before, {n: p.detach() for n, p in job.voice.named_parameters() if "text_encoder." in n})
    steps = [h for h in job.trainer.state.log_history if "loss" in h]
    assert len(steps) == 2
    for entry in steps:
        assert all(np.isfinite(entry[name]) for name in ("mel_loss", "kl_loss", "duration_loss")), entry
        assert "discriminator_loss" not in entry and "adversarial_loss" not in entry


def test_zero_adversarial_weights_skip_the_gan_and_still_train_the_decoder(corpus: Path, tiny_vits_base: Path,
                                                                          tmp_path: Path) -> None:
    """vits.adversarial_weight and feature_matching_weight at 0 (the demo clone's reconstruction-only
    fine-tune): no discriminator forward or update, the decoder still trains on the mel loss; one of
    the two weights above 0 brings the GAN step back."""
    recipe = vits_recipe(corpus, tiny_vits_base, tmp_path / "out", "freeze_lower", max_steps=2)
    recipe["vits"].update(adversarial_weight=0.0, feature_matching_weight=0.0)
    job = FineTuneRun(recipe_from_dict(recipe))
    job.setup()
    discriminator = job.trainer._discriminator
    before = {n: p.detach().clone() for n, p in discriminator.named_parameters()}
    decoder_before = {n: p.detach().clone() for n, p in job.voice.named_parameters() if "decoder." in n}
    job.train()
    assert not changed(before, {n: p.detach() for n, p in discriminator.named_parameters()})
    assert changed(decoder_before, {n: p.detach() for n, p in job.voice.named_parameters() if "decoder." in n})
    steps = [h for h in job.trainer.state.log_history if "loss" in h]
    assert len(steps) == 2
    for entry in steps:
        assert np.isfinite(entry["mel_loss"]), entry
        assert "discriminator_loss" not in entry and "adversarial_loss" not in entry
    recipe["vits"]["feature_matching_weight"] = 2.0
    recipe["output"]["dir"] = str(tmp_path / "out2")
    again = FineTuneRun(recipe_from_dict(recipe))
    again.setup()
    assert again.trainer._gan_trains_voice


def test_espeak_alignment_trains_a_phoneme_vits_on_the_espeak_corpus(corpus: Path, tmp_path: Path) -> None:
    """vits.alignment espeak end to end: every clip of the espeak-ng target voice gets its token
    windows (none skipped), one per token, and training runs on them."""
    from conftest import TINY_VITS

    recipe = vits_recipe(corpus, corpus, tmp_path / "out", max_steps=2)
    recipe["model"] = {"type": "vits", "name_or_path": None, "processor": "build", "init_config": TINY_VITS}
    recipe["vits"].update(phonemize=True, alignment="espeak", espeak_voice="us_f5")
    job = FineTuneRun(recipe_from_dict(recipe))
    job.setup()
    assert not job.data.skipped
    for row in job.data.train:
        assert len(row["token_windows"]) == len(row["input_ids"])
        assert row["token_windows"][-1][1] == row["length"] - 1
    job.train()
    steps = [h for h in job.trainer.state.log_history if "loss" in h]
    assert len(steps) == 2 and all(np.isfinite(h["loss"]) for h in steps)
