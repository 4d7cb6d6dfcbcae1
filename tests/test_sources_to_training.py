"""Other sources all the way through: a Hub-layout dataset prepared by the CLI (and cached),
streamed into training, and a plain folder of recordings."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import yaml

from conftest import tiny_recipe
from hf_vclone.config import recipe_from_dict
from hf_vclone.finetune import FineTuneRun

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def hub_copy(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The target speaker as a Hub dataset would store it: parquet with embedded audio bytes,
    Common-Voice-like column names, loadable with load_dataset(<folder>)."""
    folder = tmp_path_factory.mktemp("hub_copy")
    lines = (corpus / "us_f5" / "metadata.csv").read_text().splitlines()
    rows = {"audio": [], "sentence": [], "client_id": [], "path": []}
    for line in lines:
        clip_id, text = line.split("|", 1)
        rows["audio"].append({"bytes": (corpus / "us_f5" / "wavs" / f"{clip_id}.wav").read_bytes(), "path": f"{clip_id}.wav"})
        rows["sentence"].append(text)
        rows["client_id"].append("speaker_a")
        rows["path"].append(clip_id)
    ds = datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio())
    ds.to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    return folder


def hub_data(folder: Path, **extra) -> dict:
    return {"format": "hub", "path": str(folder), "text_column": "sentence", "speaker_column": "client_id",
            "id_column": "path", "speaker": "speaker_a", "eval_size": 2, **extra}


def test_prepare_cli_caches_and_a_second_run_reuses(hub_copy: Path, corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    recipe = tiny_recipe(corpus, tiny_base, tmp_path / "out", data=hub_data(hub_copy))
    recipe["data"] = hub_data(hub_copy)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    env = {"HF_DATASETS_CACHE": str(tmp_path / "cache"), "PATH": str(BIN),  # the worker's numba cache (conftest)
           **{k: os.environ[k] for k in ("NUMBA_CACHE_DIR", "PYTHONFAULTHANDLER") if k in os.environ}}
    runs = [subprocess.run([str(BIN / "hf-vclone"), "prepare", str(path)], capture_output=True, text=True, env=env)
            for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
        assert "8 training clips (speaker_a" in run.stdout and "2 held out" in run.stdout
    assert "computed and cached" in runs[0].stdout
    assert "(reused)" in runs[1].stdout
    card = (tmp_path / "out" / "data_card.md").read_text()
    assert "| speaker_a | 10 |" in card
    assert (tmp_path / "out" / "durations.png").is_file()


def test_streaming_hub_dataset_trains_with_max_steps(hub_copy: Path, corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(corpus, tiny_base, tmp_path, evaluation={"enabled": False})
    raw["data"] = hub_data(hub_copy, streaming=True)
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    assert isinstance(job.data.train, datasets.IterableDataset)
    before = job.voice.speakers.vectors.detach().clone()
    job.train()
    assert job.trainer.state.global_step == 4
    assert not job.voice.speakers.vectors.detach().equal(before)
    assert (tmp_path / "skipped.csv").read_text().startswith("id,speaker,path,reason")


def test_streaming_without_max_steps_is_refused(hub_copy: Path, corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(corpus, tiny_base, tmp_path, evaluation={"enabled": False})
    raw["data"] = hub_data(hub_copy, streaming=True)
    del raw["training"]["max_steps"]
    with pytest.raises(Exception, match="training.max_steps"):
        FineTuneRun(recipe_from_dict(raw)).setup()


def test_plain_folder_of_recordings_with_same_name_transcripts(corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    folder = tmp_path / "my_voice"
    folder.mkdir()
    for line in (corpus / "us_f5" / "metadata.csv").read_text().splitlines():
        clip_id, text = line.split("|", 1)
        shutil.copy(corpus / "us_f5" / "wavs" / f"{clip_id}.wav", folder / f"{clip_id}.wav")
        (folder / f"{clip_id}.txt").write_text(text)
    (folder / "extra.wav").write_bytes((corpus / "us_f5" / "wavs" / "us_f5_0001.wav").read_bytes())  # no transcript
    raw = tiny_recipe(corpus, tiny_base, tmp_path / "out", evaluation={"enabled": False})
    raw["data"] = {"format": "folder", "path": str(folder), "eval_size": 2}
    job = FineTuneRun(recipe_from_dict(raw))
    data = job.prepare_data()
    assert len(data.train) + len(data.eval) == 10 and data.speakers == ["my_voice"]
    assert [row["id"] for row in data.skipped] == ["extra"]
    assert "no transcript" in data.skipped[0]["reason"]


def test_a_tacotron2_recipe_prepares_in_forked_workers_without_hanging(corpus: Path, tiny_tacotron2_base: Path,
                                                                       tmp_path: Path) -> None:
    """`data.num_proc: 2` on a Tacotron 2 recipe: the forked map workers once hung at their first torch op on the
    OpenMP pool the parent had started (0/50 clips at 0% CPU until killed, session 34)."""
    recipe = tiny_recipe(corpus, tiny_tacotron2_base, tmp_path / "out", model={"type": "tacotron2"},
                         data={"num_proc": 2})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    env = {"HF_DATASETS_CACHE": str(tmp_path / "cache"), "PATH": str(BIN),
           **{k: os.environ[k] for k in ("NUMBA_CACHE_DIR", "PYTHONFAULTHANDLER") if k in os.environ}}
    runs = [subprocess.run([str(BIN / "hf-vclone"), "prepare", str(path)], capture_output=True, text=True, env=env,
                           timeout=120) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
        assert "8 training clips (us_f5" in run.stdout and "2 held out" in run.stdout
    assert "_of_00002.arrow (computed and cached)" in runs[0].stdout  # two workers wrote it
    assert "(reused)" in runs[1].stdout
