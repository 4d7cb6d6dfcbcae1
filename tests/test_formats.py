"""Corpus readers on tiny corpora written in each corpus's real on-disk layout.

Speech comes from espeak-ng (synthesised once per module) and is written as WAV, FLAC, MP3 or
OGG with soundfile, wherever the real corpus uses that format. Each format is checked for the
exact ids, speakers and texts it reads, that its audio paths decode, and that every clip it cannot
use comes back as a row whose problem names the file, never as a crash or a silent gap.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile as sf

from hf_vclone.config import DataConfig
from hf_vclone.data.formats.common import DataError
from hf_vclone.data.formats.common_voice import read_common_voice
from hf_vclone.data.formats.folder import read_folder
from hf_vclone.data.formats.hub import COLUMNS, load_hub
from hf_vclone.data.formats.librispeech import read_librispeech
from hf_vclone.data.formats.libritts import read_libritts
from hf_vclone.data.formats.manifest import read_manifest
from hf_vclone.data.formats.vctk import read_vctk

SENTENCES = ["HELLO WORLD", "THE QUICK BROWN FOX", "A THIRD SENTENCE"]
NOT_UTF8 = b"caf\xe9"


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    """One (wave, rate) per sentence, from espeak-ng."""
    folder = tmp_path_factory.mktemp("espeak")
    waves = []
    for i, sentence in enumerate(SENTENCES):
        subprocess.run(["espeak-ng", "-w", str(folder / f"{i}.wav"), sentence.lower()], check=True)
        waves.append(sf.read(folder / f"{i}.wav"))
    return waves


@pytest.fixture()
def put(speech: list[tuple]):
    """put(path, i): write sentence i's speech at `path`, in the format its extension names."""
    def write(path: Path, i: int = 0) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        wave, rate = speech[i]
        sf.write(path, wave, rate, format=path.suffix[1:].upper())
        return path

    return write


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def table(rows: list[dict]) -> list[tuple]:
    return [(r["speaker"], r["id"], r["text"]) for r in rows]


def assert_audio_decodes(rows: list[dict], missing: tuple[str, ...] = ()) -> None:
    """Every row's audio decodes, except the ids listed as deliberately missing (and emptied paths)."""
    for r in rows:
        if r["id"] in missing:
            assert not Path(r["audio"]).exists(), r["audio"]
        elif r["audio"]:
            wave, rate = sf.read(r["audio"])
            assert len(wave) > rate * 0.3, r["audio"]


def problems(rows: list[dict]) -> dict[str, str]:
    return {r["id"]: r["problem"] for r in rows if r["problem"]}


# --- LibriSpeech ---------------------------------------------------------------------------------

def test_librispeech_reads_every_speaker_chapter_and_transcript_line(tmp_path: Path, put) -> None:
    root = tmp_path / "LibriSpeech" / "train-clean-100"
    for speaker, chapter, n in [("19", "198", 2), ("26", "495", 3)]:
        folder = root / speaker / chapter
        for utt in range(n):
            put(folder / f"{speaker}-{chapter}-{utt:04d}.flac", utt)
        lines = [f"{speaker}-{chapter}-{utt:04d} {SENTENCES[utt]}" for utt in range(n)]
        write(folder / f"{speaker}-{chapter}.trans.txt", "\n".join(lines) + "\n")
    rows = read_librispeech(root)
    assert table(rows) == [
        ("19", "19-198-0000", SENTENCES[0]), ("19", "19-198-0001", SENTENCES[1]),
        ("26", "26-495-0000", SENTENCES[0]), ("26", "26-495-0001", SENTENCES[1]), ("26", "26-495-0002", SENTENCES[2]),
    ]
    assert not problems(rows)
    assert all(Path(r["audio"]).is_file() for r in rows)
    assert_audio_decodes(rows)


def test_librispeech_unmatched_audio_and_lines_are_kept_with_reasons(tmp_path: Path, put) -> None:
    folder = tmp_path / "19" / "198"
    put(folder / "19-198-0000.flac")
    put(folder / "19-198-0001.flac")  # no transcript line
    put(folder / "19-198-0002.flac")  # its line is not UTF-8
    trans = write(folder / "19-198.trans.txt", b"19-198-0000 HELLO WORLD\n19-198-0002 " + NOT_UTF8 + b"\n19-198-0003 NO AUDIO\n")
    put(tmp_path / "26" / "495" / "26-495-0000.flac")  # a chapter without a trans.txt at all
    rows = {r["id"]: r for r in read_librispeech(tmp_path)}
    assert sorted(rows) == ["19-198-0000", "19-198-0001", "19-198-0002", "19-198-0003", "26-495-0000"]
    assert problems(list(rows.values())) == {
        "19-198-0001": f"no transcript: 19-198-0001.flac has no line in {trans}",
        "19-198-0002": f"line 2 of {trans} is not UTF-8; re-save it as UTF-8",
        "26-495-0000": f"no transcript: {tmp_path / '26' / '495' / '26-495.trans.txt'} is missing",
    }
    # A line without audio is still a row: decoding reports the missing file, so it is not lost.
    assert rows["19-198-0003"]["text"] == "NO AUDIO"
    assert rows["19-198-0003"]["audio"] == str(folder / "19-198-0003.flac")
    assert_audio_decodes(list(rows.values()), missing=("19-198-0003",))



@pytest.mark.parametrize("layout", ["librispeech", "folder"])
def test_no_reader_hands_on_a_path_outside_the_data_root(tmp_path: Path, put, layout: str) -> None:
    """An id in a transcript file that climbs out (`../../..`) and a symlink pointing out are both
    reported by id with no path left to open, whichever reader listed them."""
    from hf_vclone.data.sources import load_source

    root, outside = tmp_path / "corpus", put(tmp_path / "secret.flac")
    if layout == "librispeech":
        folder = root / "19" / "198"
        put(folder / "19-198-0000.flac")
        (folder / "19-198-0001.flac").symlink_to(outside)
        write(folder / "19-198.trans.txt", "19-198-0000 HELLO\n19-198-0001 LINKED\n../../../secret CLIMBS OUT\n")
    else:
        put(root / "a.flac")
        write(root / "a.txt", "hello")
        (root / "b.flac").symlink_to(outside)
        write(root / "b.txt", "linked")
    rows = load_source(DataConfig(path=str(root), format=layout)).to_list()
    bad = {r["id"]: r for r in rows if r["problem"]}
    assert len(bad) == len(rows) - 1 == (2 if layout == "librispeech" else 1)
    for r in bad.values():
        assert r["problem"].startswith("path escapes the data root:") and str(root.resolve()) in r["problem"]
        assert r["audio"]["path"] in ("", None) and r["text"] is None

def test_librispeech_corpus_folder_instead_of_a_split_names_the_splits(tmp_path: Path, put) -> None:
    put(tmp_path / "train-clean-100" / "19" / "198" / "19-198-0000.flac")
    write(tmp_path / "train-clean-100" / "19" / "198" / "19-198.trans.txt", "19-198-0000 HELLO WORLD\n")
    with pytest.raises(DataError, match="set data.path to one split inside it \\(train-clean-100\\)"):
        read_librispeech(tmp_path)


def test_librispeech_root_that_is_not_a_folder_names_the_path_and_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"data.path {tmp_path / 'nope'} is not a directory.*LibriSpeech layout"):
        read_librispeech(tmp_path / "nope")


# --- VCTK ----------------------------------------------------------------------------------------

def test_vctk_reads_mic1_only_and_p315_without_transcripts_gives_problem_rows(tmp_path: Path, put) -> None:
    wav, txt = tmp_path / "wav48_silence_trimmed", tmp_path / "txt"
    for utt in (1, 2):
        put(wav / "p225" / f"p225_{utt:03d}_mic1.flac", utt)
        put(wav / "p225" / f"p225_{utt:03d}_mic2.flac", utt)
        write(txt / "p225" / f"p225_{utt:03d}.txt", SENTENCES[utt].lower() + "\n")
        put(wav / "p315" / f"p315_{utt:03d}_mic1.flac", utt)  # p315: no txt/ folder at all, as in VCTK 0.92
    write(txt / "p226" / "p226_001.txt", "a transcript whose audio is missing")
    rows = read_vctk(tmp_path)
    assert table(rows) == [
        ("p225", "p225_001", SENTENCES[1].lower()), ("p225", "p225_002", SENTENCES[2].lower()),
        ("p226", "p226_001", "a transcript whose audio is missing"),
        ("p315", "p315_001", None), ("p315", "p315_002", None),
    ]
    assert all(r["audio"].endswith("_mic1.flac") for r in rows)
    assert problems(rows) == {
        "p315_001": f"no transcript: {txt / 'p315' / 'p315_001.txt'} is missing",
        "p315_002": f"no transcript: {txt / 'p315' / 'p315_002.txt'} is missing",
    }
    assert_audio_decodes(rows, missing=("p226_001",))


def test_vctk_without_mic1_flacs_says_which_layout_it_expects(tmp_path: Path, put) -> None:
    put(tmp_path / "wav48" / "p225" / "p225_001.wav")  # the older 0.80 release
    with pytest.raises(DataError, match="no \\*_mic1.flac files under .*wav48_silence_trimmed.*VCTK 0.80"):
        read_vctk(tmp_path)


# --- LibriTTS ------------------------------------------------------------------------------------

def test_libritts_prefers_normalized_then_original_and_reports_missing_or_bad_text(tmp_path: Path, put) -> None:
    chapter = tmp_path / "19" / "198"
    for utt in range(4):
        put(chapter / f"19_198_000000_00000{utt}.wav", utt % 3)
    write(chapter / "19_198_000000_000000.normalized.txt", "Normalized, twenty three.")
    write(chapter / "19_198_000000_000000.original.txt", "Original, 23.")
    write(chapter / "19_198_000000_000001.original.txt", "Only the original.")
    bad = write(chapter / "19_198_000000_000002.normalized.txt", NOT_UTF8)
    put(tmp_path / "26" / "495" / "26_495_000004_000000.wav", 1)
    write(tmp_path / "26" / "495" / "26_495_000004_000000.normalized.txt", SENTENCES[1])
    rows = read_libritts(tmp_path)
    assert table(rows) == [
        ("19", "19_198_000000_000000", "Normalized, twenty three."),
        ("19", "19_198_000000_000001", "Only the original."),
        ("19", "19_198_000000_000002", None),
        ("19", "19_198_000000_000003", None),
        ("26", "26_495_000004_000000", SENTENCES[1]),
    ]
    found = problems(rows)
    assert found["19_198_000000_000002"].startswith(f"transcript {bad} is not UTF-8")
    assert found["19_198_000000_000003"] == (
        "no transcript: neither 19_198_000000_000003.normalized.txt nor "
        f"19_198_000000_000003.original.txt in {chapter}"
    )
    assert_audio_decodes(rows)


def test_libritts_empty_folder_names_the_expected_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no LibriTTS clips in .*<id>.normalized.txt"):
        read_libritts(tmp_path)


# --- Common Voice --------------------------------------------------------------------------------

CV_HEADER = "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\n"


def cv_line(client: str, path: str, sentence: str) -> str:
    return f"{client}\t{path}\tsid\t{sentence}\t\t2\t0\t\t\n"


def test_common_voice_reads_validated_tsv_with_bare_quotes(tmp_path: Path, put) -> None:
    for i in range(3):
        put(tmp_path / "clips" / f"common_voice_en_{i}.mp3", i)
    write(tmp_path / "validated.tsv", CV_HEADER + cv_line("bbb", "common_voice_en_0.mp3", 'He said "hi')
          + cv_line("aaa", "common_voice_en_1.mp3", SENTENCES[1]) + cv_line("aaa", "common_voice_en_2.mp3", SENTENCES[2]))
    rows = read_common_voice(tmp_path)
    assert table(rows) == [
        ("aaa", "common_voice_en_1", SENTENCES[1]), ("aaa", "common_voice_en_2", SENTENCES[2]),
        ("bbb", "common_voice_en_0", 'He said "hi'),
    ]
    assert rows[0]["audio"] == str(tmp_path / "clips" / "common_voice_en_1.mp3")
    assert not problems(rows)
    assert_audio_decodes(rows)


def test_common_voice_bad_lines_become_problem_rows_naming_the_tsv(tmp_path: Path, put) -> None:
    put(tmp_path / "clips" / "ok.mp3")
    tsv = write(tmp_path / "validated.tsv", CV_HEADER.encode() + cv_line("aaa", "ok.mp3", "fine").encode()
                + cv_line("aaa", "bad.mp3", "x").encode().replace(b"\tx\t", b"\t" + NOT_UTF8 + b"\t")
                + cv_line("aaa", "../../secret.mp3", "escape").encode())
    found = problems(read_common_voice(tmp_path))
    assert found == {
        "bad": f"line 3 of {tsv} is not UTF-8; re-save it as UTF-8",
        "secret": f"line 4 of {tsv}: path '../../secret.mp3' is not a file name inside {tmp_path / 'clips'}",
    }


def test_common_voice_missing_column_names_the_column_and_the_file(tmp_path: Path) -> None:
    tsv = write(tmp_path / "validated.tsv", "client_id\tpath\ttext\n")
    with pytest.raises(DataError, match=f"{tsv} has no column 'sentence'; found \\['client_id', 'path', 'text'\\]"):
        read_common_voice(tmp_path)


def test_common_voice_without_validated_tsv_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"{tmp_path / 'validated.tsv'} does not exist; expected the Common Voice"):
        read_common_voice(tmp_path)


# --- plain folder --------------------------------------------------------------------------------

def test_folder_speaker_is_the_subfolder_and_top_level_files_belong_to_the_root(tmp_path: Path, put) -> None:
    root = tmp_path / "my_voice"
    put(root / "intro.wav", 0)
    write(root / "intro.txt", SENTENCES[0])
    for name, i, suffix in [("001", 1, ".flac"), ("002", 2, ".ogg")]:
        put(root / "alice" / f"{name}{suffix}", i)
        write(root / "alice" / f"{name}.txt", SENTENCES[i] + "\n")
    put(root / "bob" / "s1" / "001.mp3", 2)
    write(root / "bob" / "s1" / "001.txt", SENTENCES[2])
    write(root / "notes.md", "not audio, not read")
    rows = read_folder(root)
    assert table(rows) == [
        ("alice", "alice-001", SENTENCES[1]), ("alice", "alice-002", SENTENCES[2]),
        ("bob/s1", "bob-s1-001", SENTENCES[2]), ("my_voice", "intro", SENTENCES[0]),
    ]
    assert not problems(rows)
    assert_audio_decodes(rows)


def test_folder_missing_or_non_utf8_transcript_is_a_problem_row_naming_it(tmp_path: Path, put) -> None:
    put(tmp_path / "a.wav")
    put(tmp_path / "b.wav")
    write(tmp_path / "b.txt", NOT_UTF8)
    found = problems(read_folder(tmp_path))
    assert found["a"] == f"no transcript: {tmp_path / 'a.txt'} is missing"
    assert found["b"].startswith(f"transcript {tmp_path / 'b.txt'} is not UTF-8 (")
    assert found["b"].endswith("at byte 3); re-save it as UTF-8")


def test_folder_without_audio_names_the_folder(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "text without audio")
    with pytest.raises(DataError, match=f"no audio files in {tmp_path}"):
        read_folder(tmp_path)


# --- manifest ------------------------------------------------------------------------------------

def test_manifest_csv_resolves_paths_beside_it_and_defaults_id_and_speaker(tmp_path: Path, put) -> None:
    put(tmp_path / "data" / "clips" / "a.wav", 0)
    put(tmp_path / "data" / "b.flac", 1)
    manifest = write(tmp_path / "data" / "metadata.csv",
                     'file_name,text\nclips/a.wav,"Hello, world"\n' f"{tmp_path / 'data' / 'b.flac'},{SENTENCES[1]}\n")
    rows = read_manifest(manifest)
    assert table(rows) == [("data", "a", "Hello, world"), ("data", "b", SENTENCES[1])]
    assert rows[0]["audio"] == str((tmp_path / "data" / "clips" / "a.wav").resolve())
    assert_audio_decodes(rows)


def test_manifest_jsonl_reads_speaker_and_id_as_strings(tmp_path: Path, put) -> None:
    put(tmp_path / "x.mp3", 2)
    lines = [{"audio": "x.mp3", "text": SENTENCES[2], "speaker": 7, "id": 12}, {"audio": "y.wav", "text": "no file"}]
    rows = read_manifest(write(tmp_path / "train.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n"))
    assert table(rows) == [("7", "12", SENTENCES[2]), (tmp_path.resolve().name, "y", "no file")]
    assert_audio_decodes(rows, missing=("y",))


def test_manifest_paths_escaping_its_folder_are_problem_rows_and_never_read(tmp_path: Path, put) -> None:
    root = tmp_path / "corpus"
    put(tmp_path / "outside.wav")  # exists, so only the containment check can stop it
    put(root / "ok.wav")
    (root / "link.wav").symlink_to(tmp_path / "outside.wav")
    manifest = write(root / "m.csv", f"audio,text\nok.wav,fine\n../outside.wav,up\n{tmp_path / 'outside.wav'},abs\n"
                                     "sub/../../../etc/passwd,deep\nlink.wav,symlink\n")
    rows = read_manifest(manifest)
    assert [r["id"] for r in rows if not r["problem"]] == ["ok"]
    escaped = [r for r in rows if r["problem"]]
    assert [r["problem"].split(":")[0] for r in escaped] == ["path escapes the data root"] * 4
    assert all(str(root.resolve()) in r["problem"] and "line" in r["problem"] for r in escaped)
    assert {r["id"] for r in escaped} == {"outside", "passwd", "link"}
    assert all(r["audio"] == "" and r["text"] is None for r in escaped)
    first = next(r["problem"] for r in escaped if r["id"] == "outside" and "'../outside.wav'" in r["problem"])
    assert "(line 3 of" in first


def test_manifest_non_utf8_row_is_a_problem_row_and_the_others_still_read(tmp_path: Path, put) -> None:
    put(tmp_path / "a.wav")
    manifest = write(tmp_path / "m.csv", b"audio,text\na.wav,fine\nb.wav," + NOT_UTF8 + b"\n")
    assert table(read_manifest(manifest)) == [(tmp_path.name, "a", "fine"), (tmp_path.name, "b", None)]
    assert problems(read_manifest(manifest)) == {"b": f"line 3 of {manifest} is not UTF-8; re-save m.csv as UTF-8"}


def test_manifest_missing_columns_lists_what_was_found_and_what_to_add(tmp_path: Path) -> None:
    manifest = write(tmp_path / "m.csv", "wav,transcript\na.wav,hi\n")
    with pytest.raises(DataError) as err:
        read_manifest(manifest)
    assert str(err.value) == (
        f"manifest {manifest} has no column 'audio' or 'file_name' or 'path' and no column 'text'; "
        "found ['wav', 'transcript']. Add (or rename a column to) 'audio' or 'file_name' or 'path' and 'text'"
    )


# --- Hub dataset (a local copy in Hub layout: data/train-00000-of-00001.parquet) ------------------

@pytest.fixture()
def hub_copy(tmp_path: Path, speech: list[tuple], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Common-Voice-like Hub dataset with FLAC bytes embedded in the parquet, as the Hub stores it."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    clips = []
    for wave, rate in [*speech, speech[0]]:
        buffer = io.BytesIO()
        sf.write(buffer, wave, rate, format="FLAC")
        clips.append({"bytes": buffer.getvalue(), "path": None})
    ds = datasets.Dataset.from_dict({
        "audio": clips, "sentence": [*SENTENCES, None], "client_id": [7, 7, 9, 9], "clip": ["c0", "c1", "c2", "c3"],
        "text": ["an unrelated column", "that must not", "leak", "through"],
    }).cast_column("audio", datasets.Audio())  # the cast makes the parquet declare the column as Audio
    folder = tmp_path / "hub_copy"
    (folder / "data").mkdir(parents=True)
    ds.to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    return folder


def hub_cfg(folder: Path, **fields) -> DataConfig:
    return DataConfig(format="hub", path=str(folder), **{"text_column": "sentence", "speaker_column": "client_id",
                                                          "id_column": None, **fields})


@pytest.mark.parametrize("streaming", [False, True])
def test_hub_copy_gives_the_row_contract_with_undecoded_audio_bytes(hub_copy: Path, streaming: bool) -> None:
    ds = load_hub(hub_cfg(hub_copy, streaming=streaming))
    assert isinstance(ds, datasets.IterableDataset if streaming else datasets.Dataset)
    assert ds.column_names == COLUMNS
    rows = list(ds)
    assert [(r["id"], r["speaker"], r["text"], r["problem"]) for r in rows] == [
        ("0", "7", SENTENCES[0], ""), ("1", "7", SENTENCES[1], ""), ("2", "9", SENTENCES[2], ""),
        ("3", "9", None, f"no transcript: column 'sentence' is empty in row 3 of {hub_copy}"),
    ]
    for r in rows:
        assert set(r["audio"]) == {"bytes", "path"}
        wave, rate = sf.read(io.BytesIO(r["audio"]["bytes"]))
        assert rate == 22050 and len(wave) > rate * 0.3


def test_hub_id_column_is_used_and_no_speaker_column_means_one_speaker(hub_copy: Path) -> None:
    ds = load_hub(hub_cfg(hub_copy, id_column="clip", speaker_column=None))
    assert ds["id"] == ["c0", "c1", "c2", "c3"]
    assert ds["speaker"] == ["default"] * 4


def test_hub_missing_id_column_falls_back_to_the_row_index(hub_copy: Path) -> None:
    assert load_hub(hub_cfg(hub_copy, id_column="id"))["id"] == ["0", "1", "2", "3"]


def test_hub_missing_columns_are_all_named_with_the_key_to_set(hub_copy: Path) -> None:
    with pytest.raises(DataError) as err:
        load_hub(hub_cfg(hub_copy, text_column="transcription", speaker_column="speaker_id"))
    found = "['audio', 'sentence', 'client_id', 'clip', 'text']"
    assert str(err.value) == (
        f"column 'transcription' not found in {hub_copy}; set data.text_column to one of {found}; "
        f"column 'speaker_id' not found in {hub_copy}; set data.speaker_column to one of {found} (or to null: one speaker)"
    )


def test_hub_unreachable_dataset_names_data_path_and_the_offline_fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # fail at once instead of retrying the network
    with pytest.raises(DataError, match="cannot load data.path 'someone/no_such_corpus'.*HF_HUB_OFFLINE=1"):
        load_hub(DataConfig(format="hub", path="someone/no_such_corpus"))


def test_hub_missing_local_copy_names_data_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"cannot load data.path '{tmp_path / 'gone'}'.*local-dir DIR"):
        load_hub(DataConfig(format="hub", path=str(tmp_path / "gone")))


def test_hub_unknown_split_names_data_split_and_the_real_ones(hub_copy: Path) -> None:
    with pytest.raises(DataError, match="data.split=test.*Unknown split \"test\". Should be one of \\['train'\\]"):
        load_hub(hub_cfg(hub_copy, split="test"))


# --- Every reader through preparation: kept or reported, with the true reason ---------------------

KINDS = ["good", "good", "garbage", "silent", "link", "notext"]
EXPECTED = {"garbage": "cannot decode", "silent": "silence only", "link": "path escapes the data root",
            "notext": ("empty transcript", "no transcript", "malformed row")}


def _layout(layout: str, root: Path, put, outside: Path) -> tuple[Path, dict[str, str]]:
    """A corpus in `layout` with one clip of each KIND; (data.path, {id: kind})."""
    ext = {"librispeech": ".flac", "vctk": ".flac", "common_voice": ".mp3"}.get(layout, ".wav")
    ids = {"ljspeech": "c{}", "librispeech": "19-198-{:04d}", "vctk": "p225_{:03d}", "libritts": "19_198_000000_{:06d}",
           "common_voice": "cv_{}", "folder": "c{}", "manifest": "c{}"}[layout]
    audio_dir = {"ljspeech": root / "wavs", "librispeech": root / "19" / "198", "vctk": root / "wav48_silence_trimmed" / "p225",
                 "libritts": root / "19" / "198", "common_voice": root / "clips", "folder": root, "manifest": root / "a"}[layout]
    kinds, lines = {}, []
    for n, kind in enumerate(KINDS):
        clip_id = ids.format(n)
        name = f"{clip_id}_mic1{ext}" if layout == "vctk" else f"{clip_id}{ext}"
        path = audio_dir / name
        if kind == "good":
            put(path, n)
        elif kind == "garbage":
            write(path, b"\x00\x01 not audio at all" * 10)
        elif kind == "silent":
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, np.zeros(16000), 16000, format=ext[1:].upper())
        else:  # link, notext
            put(outside, 0) if not outside.exists() else None
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(outside) if kind == "link" else put(path, 1)
        kinds[clip_id] = kind
        text = "" if kind == "notext" else SENTENCES[n % 3]
        lines.append((clip_id, name, text))
    data_path = root
    if layout == "ljspeech":
        write(root / "metadata.csv", "".join(f"{i}|{t}\n" if t else f"{i}\n" for i, _, t in lines))
    elif layout == "librispeech":
        write(audio_dir / "19-198.trans.txt", "".join(f"{i} {t}\n" for i, _, t in lines if t))
    elif layout == "vctk":
        for i, _, t in lines:
            if t:
                write(root / "txt" / "p225" / f"{i}.txt", t)
    elif layout in ("libritts", "folder"):
        for i, name, t in lines:
            if t:
                write(audio_dir / (f"{i}.normalized.txt" if layout == "libritts" else f"{i}.txt"), t)
    elif layout == "common_voice":
        write(root / "validated.tsv", CV_HEADER + "".join(cv_line("spk", name, t) for _, name, t in lines))
    else:  # manifest
        data_path = write(root / "manifest.csv", "audio,text\n" + "".join(f"a/{name},{t}\n" for _, name, t in lines))
    return data_path, kinds


@pytest.mark.parametrize("layout", ["ljspeech", "librispeech", "vctk", "libritts", "common_voice", "folder", "manifest"])
def test_every_reader_keeps_or_reports_each_clip_with_its_true_reason(layout: str, tmp_path: Path, put, tiny_base: Path) -> None:
    from transformers import SpeechT5Config, SpeechT5Processor

    from hf_vclone.data.prepare import prepare
    from hf_vclone.data.sources import load_source
    from hf_vclone.models.speecht5 import SpeechT5Backend

    path, kinds = _layout(layout, tmp_path / "corpus", put, tmp_path / "outside.wav")
    spec = SpeechT5Backend().feature_spec(SpeechT5Processor.from_pretrained(tiny_base), SpeechT5Config.from_pretrained(tiny_base))
    cfg = DataConfig(path=str(path), format=layout, eval_size=1, max_bad_fraction=0.9, unknown_characters="keep")
    data = prepare(load_source(cfg), cfg, spec, None)
    reasons = {r["id"]: r["reason"] for r in data.skipped}
    kept = {*data.train["id"], *data.eval["id"]}
    if layout == "manifest":  # a manifest without an id column names each row after its file
        kinds = {f"a/{k}" if f"a/{k}" in kept | set(reasons) else k: v for k, v in kinds.items()}
    assert kept == {k for k, v in kinds.items() if v == "good"}, reasons
    assert set(reasons) == {k for k, v in kinds.items() if v != "good"}
    for clip_id, reason in reasons.items():
        assert reason.startswith(EXPECTED[kinds[clip_id]]), (clip_id, reason)
    assert len(kept) + len(reasons) == data.total_clips == len(KINDS)
