"""`hf-vclone export DIR OUT --onnx` (hf_vclone/onnx_export.py): a LoRA VITS voice, merged and
exported, speaks in onnxruntime as it does in torch, at any text length, and the README's
torch-free block tokenizes as VitsTokenizer does."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from hf_vclone.cli import main
from hf_vclone.config import recipe_from_dict
from hf_vclone.errors import UserError
from hf_vclone.finetune import run
from hf_vclone.onnx_export import OnnxVits, export_onnx, vits_model
from test_vits_training import vits_recipe

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ["Hi.", "The clever fox sold the blue jacket.",
             "A busy doctor measured some fresh bread under the bridge and smiled, twice!"]
TOLERANCE = 1e-4  # float32: the two runtimes order their sums differently


@pytest.fixture(scope="module")
def exported(corpus: Path, tiny_vits_base: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    voice = tmp_path_factory.mktemp("lora_voice")
    recipe = vits_recipe(corpus, tiny_vits_base, voice, strategy="lora", max_steps=2)
    recipe["data"]["replacements"] = {"é": "e"}
    run(recipe_from_dict(recipe))
    out = tmp_path_factory.mktemp("onnx")
    assert main(["export", str(voice), str(out), "--onnx"]) == 0
    return voice, out


def _ort(out: Path, ids: list[int], noise: float = 0.0, length: float = 1.0, noise_duration: float = 0.0) -> np.ndarray:
    session = ort.InferenceSession(str(out / "model.onnx"))
    scalar = lambda v: np.array(v, dtype=np.float32)  # noqa: E731
    return session.run(None, {"input_ids": np.array([ids], dtype=np.int64), "noise_scale": scalar(noise),
                              "length_scale": scalar(length), "noise_scale_duration": scalar(noise_duration)})[0][0]


def test_onnxruntime_speaks_as_torch_does_at_every_length(exported: tuple[Path, Path]) -> None:
    voice, out = exported
    vits, tokenizer, _ = vits_model(voice)
    assert not any("lora" in name for name, _ in vits.named_parameters())  # merged
    wrapper = OnnxVits(vits).eval()
    zero, one = torch.tensor(0.0), torch.tensor(1.0)
    for text in SENTENCES:
        ids = tokenizer(text)["input_ids"]
        with torch.no_grad():
            expected = wrapper(torch.tensor([ids]), zero, one, zero)[0].numpy()
        got = _ort(out, ids)
        assert got.shape == expected.shape and got.shape[0] > 0
        assert np.abs(got - expected).max() < TOLERANCE


def test_the_sampling_knobs_are_inputs_of_the_graph(exported: tuple[Path, Path]) -> None:
    voice, out = exported
    vits, tokenizer, _ = vits_model(voice)
    ids = tokenizer(SENTENCES[1])["input_ids"]
    plain, slow = _ort(out, ids), _ort(out, ids, length=2.0)
    with torch.no_grad():
        expected = OnnxVits(vits).eval()(torch.tensor([ids]), torch.tensor(0.0), torch.tensor(2.0), torch.tensor(0.0))
    assert slow.shape == expected[0].shape and np.abs(slow - expected[0].numpy()).max() < TOLERANCE
    assert len(slow) > 1.5 * len(plain)  # each duration doubled, then rounded up to whole frames
    assert not np.array_equal(_ort(out, ids, noise=0.667), plain)
    config = json.loads((out / "onnx_config.json").read_text())
    assert config["inputs"] == ["input_ids", "noise_scale", "length_scale", "noise_scale_duration"]
    assert config["sampling_rate"] == 16000 and config["replacements"] == {"é": "e"}


def test_the_readme_block_runs_without_torch_and_tokenizes_as_vits_tokenizer(
        exported: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    voice, out = exported
    _, tokenizer, _ = vits_model(voice)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### ONNX: a VITS voice without torch"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "torch" not in block.replace("without torch", "") and "transformers" not in block
    monkeypatch.chdir(tmp_path)
    for text in ["Hello from my new voice.", "The Café, at 9; closed!  ", SENTENCES[2]]:
        scope: dict = {}
        exec(block.replace('"voice_onnx", "Hello from my new voice."', f"{str(out)!r}, {text!r}"), scope)  # noqa: S102
        assert scope["ids"] == tokenizer(text.replace("é", "e"))["input_ids"], text
        assert os.path.getsize(tmp_path / "hello.wav") > 1000


def test_only_vits_voices_export(tmp_path: Path) -> None:
    (tmp_path / "vclone.json").write_text(json.dumps({"backend": "speecht5", "strategy": "full", "base_model": None}))
    with pytest.raises(UserError, match="--onnx exports VITS voices; .* is a speecht5 voice"):
        export_onnx(tmp_path, tmp_path / "out")
