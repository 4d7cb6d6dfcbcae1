"""A dataset on the Hugging Face Hub (or a local copy of one in Hub layout), through `datasets`.

The result has the same columns as every local reader: id, speaker, text, audio, problem, so
nothing downstream knows where the clips came from. Audio is cast to `Audio(decode=False)`
before anything touches a row: `datasets` decodes only through torchcodec, which does not load
beside the CPU build of torch here, and with decode=False a row's audio is `{"bytes", "path"}`,
which the soundfile decoder reads later.
"""

from __future__ import annotations

from collections.abc import Callable

from datasets import Audio, Dataset, Features, IterableDataset, Value, concatenate_datasets, load_dataset

from ...config import DataConfig
from .common import DataError

COLUMNS = ["id", "speaker", "text", "audio", "problem"]
FEATURES = Features({"id": Value("string"), "speaker": Value("string"), "text": Value("string"),
                     "audio": Audio(decode=False), "problem": Value("string")})
META = Features({name: FEATURES[name] for name in COLUMNS if name != "audio"})
DEFAULT_SPEAKER = "default"  # data.speaker_column: null means one speaker


def load_hub(cfg: DataConfig) -> Dataset | IterableDataset:
    ds = _load(cfg)
    columns = ds.column_names
    if columns is None:  # only a stream whose builder declares no features; datasets 5 infers them
        raise DataError(f"data.path '{cfg.path}' declares no columns when streamed; set data.streaming to false")
    _check_columns(cfg, columns)
    ds = ds.cast_column(cfg.audio_column, Audio(decode=False))
    id_column = cfg.id_column if cfg.id_column in columns else None
    meta = _meta_function(cfg, id_column)
    if isinstance(ds, IterableDataset):
        # Lazy: the map runs as rows are read, so carrying the audio through it costs nothing.
        def with_audio(row: dict, index: int) -> dict:
            out = {**meta(row, index), "audio": row[cfg.audio_column]}
            return {name: out[name] for name in COLUMNS}

        return ds.map(with_audio, with_indices=True, remove_columns=columns, features=FEATURES)
    # Eager: a map over the audio column would rewrite every clip's bytes into the cache, so the
    # small columns are mapped on their own and set beside the untouched audio column.
    small = [c for c in (cfg.text_column, cfg.speaker_column, id_column) if c]
    table = ds.select_columns(list(dict.fromkeys(small)))
    meta_ds = table.map(meta, with_indices=True, remove_columns=table.column_names, features=META,
                        desc="index hub dataset")
    audio = ds.select_columns([cfg.audio_column])
    if cfg.audio_column != "audio":
        audio = audio.rename_column(cfg.audio_column, "audio")
    return concatenate_datasets([meta_ds, audio], axis=1).select_columns(COLUMNS)


def _load(cfg: DataConfig) -> Dataset | IterableDataset:
    if not cfg.path:
        raise DataError("data.path is empty; set it to a Hub dataset id (e.g. openslr/librispeech_asr) or a local copy")
    try:
        return load_dataset(cfg.path, cfg.dataset_config, split=cfg.split, streaming=cfg.streaming)
    except (OSError, ValueError) as err:  # ConnectionError, DatasetNotFoundError, unknown split/config
        raise DataError(
            f"cannot load data.path '{cfg.path}' (data.dataset_config={cfg.dataset_config}, data.split={cfg.split}): "
            f"{err}. If the Hub is unreachable, copy the dataset where it is reachable "
            f"(hf download --repo-type dataset {cfg.path} --local-dir DIR) and set data.path to DIR, "
            "or set HF_HUB_OFFLINE=1 to use a copy already in the Hugging Face cache"
        ) from err


def _check_columns(cfg: DataConfig, columns: list[str]) -> None:
    """Every missing column at once, each with the key that names it."""
    wanted = {"audio_column": cfg.audio_column, "text_column": cfg.text_column}
    if cfg.speaker_column is not None:
        wanted["speaker_column"] = cfg.speaker_column
    problems = [
        f"column '{name}' not found in {cfg.path}; set data.{key} to one of {columns}"
        + (" (or to null: one speaker)" if key == "speaker_column" else "")
        for key, name in wanted.items()
        if name not in columns
    ]
    if problems:
        raise DataError("; ".join(problems))


def _meta_function(cfg: DataConfig, id_column: str | None) -> Callable[[dict, int], dict]:
    """Row -> id, speaker, text, problem; ids and speakers are often ints on the Hub, hence str()."""
    def meta(row: dict, index: int) -> dict:
        text = row[cfg.text_column]
        speaker = row[cfg.speaker_column] if cfg.speaker_column else DEFAULT_SPEAKER
        clip_id = row[id_column] if id_column else None
        return {
            "id": str(index) if clip_id is None else str(clip_id),
            "speaker": DEFAULT_SPEAKER if speaker is None else str(speaker),
            "text": None if text is None else str(text),
            "problem": f"no transcript: column '{cfg.text_column}' is empty in row {index} of {cfg.path}"
            if text is None else "",
        }

    return meta
