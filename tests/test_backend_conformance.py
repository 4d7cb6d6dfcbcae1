"""What every registered backend must do, the same way, on its tiny model: under each strategy it
supports, build, featurise, collate and train a step; save a voice that reads back bit-exact;
featurise as the run did from the saved voice alone; and speak with it. A strategy a backend does not support is refused by name before anything
loads. A new backend is one module plus its entry in BASES below (its tiny fixtures).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_recipe
from hf_vclone.backends import BACKENDS
from hf_vclone.config import RecipeError, recipe_from_dict
from hf_vclone.errors import UserError
from hf_vclone.export import read_voice
from hf_vclone.finetune import FineTuneRun
from hf_vclone.models.backend import Utterance
from hf_vclone.voice_io import save_voice

STRATEGIES = ("full", "freeze_lower", "lora", "head_only", "speaker_embedding")
# backend -> (its tiny base fixture, recipe sections it needs, strategies it refuses: by its recipe rules or at setup)
BASES = {
    "speecht5": ("tiny_base", {}, {}),
    "vits": ("tiny_vits_base", {"vits": {"mel_bins": 20, "discriminator_width": 0.0625}},
             {"speaker_embedding": "recipe"}),
    # a single-speaker Tacotron 2 (its config's speaker_embedding_dim is 0) has no vector to train
    "tacotron2": ("tiny_tacotron2_base", {"tacotron2": {"griffin_lim_iters": 4}}, {"speaker_embedding": "setup"}),
}


def test_every_registered_backend_is_covered() -> None:
    assert set(BASES) == set(BACKENDS)


def cases() -> list[tuple[str, str]]:
    return [(backend, strategy) for backend in sorted(BASES) for strategy in STRATEGIES]


@pytest.mark.parametrize(("backend", "strategy"), cases())
def test_build_train_save_reload_and_speak(backend: str, strategy: str, corpus: Path, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    fixture, sections, refused = BASES[backend]
    base = request.getfixturevalue(fixture)
    raw = tiny_recipe(corpus, base, tmp_path / "out", **sections, model={"type": backend},
                      strategy={"name": strategy}, evaluation={"enabled": False},
                      training={"max_steps": 1, "disable_tqdm": True})
    if refused.get(strategy) == "recipe":  # by the recipe's rules, before anything loads
        with pytest.raises(RecipeError, match=strategy):
            recipe_from_dict(raw)
        return
    if refused.get(strategy) == "setup":  # a property of the checkpoint, known once the model is loaded
        recipe = recipe_from_dict(raw)
        with pytest.raises(UserError, match=strategy):
            FineTuneRun(recipe).setup()
        return
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    batch = job.trainer.data_collator([job.data.train[i] for i in range(2)])
    assert batch["input_ids"].shape[0] == 2 and batch["labels"].shape[0] == 2  # featurised and collated
    trainable = {n for n, p in job.voice.named_parameters() if p.requires_grad}
    assert trainable, f"{strategy} trains nothing"
    before = {n: p.detach().clone() for n, p in job.voice.named_parameters()}
    job.train()
    after = dict(job.voice.named_parameters())
    moved = {n for n in before if not torch.equal(before[n], after[n])}
    assert moved and moved <= trainable, f"frozen parameters moved: {sorted(moved - trainable)[:3]}"

    save_voice(job.voice, job.processor, tmp_path / "voice", job._meta())
    voice, processor, meta = read_voice(tmp_path / "voice")
    assert meta.backend == backend and meta.strategy == strategy
    saved, loaded = job.voice.state_dict(), voice.state_dict()
    assert saved.keys() == loaded.keys()
    for name in saved:
        torch.testing.assert_close(loaded[name], saved[name], rtol=0, atol=0, msg=name)

    # Stateless: a fresh backend, given only the saved voice's processor and config, makes the
    # features the run trained on, with no other call first.
    fresh = type(job.backend)(job.backend.settings)
    spec = fresh.feature_spec(processor, voice.tts.config)
    assert spec.sampling_rate == job.features.sampling_rate
    wave = (0.3 * np.sin(np.arange(spec.sampling_rate) * 0.05)).astype(np.float32)
    np.testing.assert_array_equal(spec.featurize(wave, "the clever fox")["labels"],
                                  job.features.featurize(wave, "the clever fox")["labels"])

    ids = torch.tensor([job.backend.text_tokenizer(processor)("the clever fox")["input_ids"]])
    torch.manual_seed(0)
    spoken = job.backend.speak(voice, ids, voice.speakers.vector().detach(), 0.5, 2.0, processor, None)
    assert isinstance(spoken, Utterance) and spoken.mel.ndim == 2 and spoken.mel.shape[0] > 0
    assert spoken.audio.ndim == 1 and len(spoken.audio) > 0 and np.isfinite(spoken.audio).all()
