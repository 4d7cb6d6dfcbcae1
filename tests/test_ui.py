"""`hf-vclone ui` in a real browser: clips in, the data doctor's report, a tiny training with a
playable sample, speaking with the new voice, and every kind of bad input as a message on the page."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from conftest import tiny_recipe
from hf_vclone.data.formats.ljspeech import read_ljspeech
from hf_vclone.errors import UserError
from hf_vclone.ui.corpus import Clip, parse_transcripts, write_corpus



def test_transcripts_pair_by_name_or_by_order_and_problems_name_the_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.wav", tmp_path / "b.flac"
    assert parse_transcripts([a, b], "b.flac|second\na|first") == [Clip(a, "first"), Clip(b, "second")]
    assert parse_transcripts([a, b], "first\nsecond") == [Clip(a, "first"), Clip(b, "second")]
    with pytest.raises(UserError, match="b.flac: no transcript"):
        parse_transcripts([a, b], "a|first")
    with pytest.raises(UserError, match="2 clips but 1 transcript lines"):
        parse_transcripts([a, b], "only one")
    with pytest.raises(UserError, match="not uploaded: c"):
        parse_transcripts([a], "a|x\nc|y")


def test_the_corpus_is_an_ljspeech_folder_and_bad_clips_are_named(tmp_path: Path) -> None:
    wav = tmp_path / "my clip.wav"
    sf.write(wav, np.zeros(8000, np.float32) + 0.1, 16000)
    folder = write_corpus([Clip(wav, "Hello there.")], tmp_path / "corpus")
    rows = read_ljspeech(folder)
    assert [(r["id"], r["text"]) for r in rows] == [("my_clip", "Hello there.")]
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio")
    with pytest.raises(UserError, match="notes.txt: not audio that can be read"):
        write_corpus([Clip(notes, "text")], tmp_path / "c2")
    with pytest.raises(UserError, match="my clip.wav: the transcript is empty"):
        write_corpus([Clip(wav, "  ")], tmp_path / "c3")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def page_url(corpus: Path, tiny_base: Path, tmp_path_factory: pytest.TempPathFactory):
    from hf_vclone.ui.app import launch

    recipes = tmp_path_factory.mktemp("recipes")
    tiny = tiny_recipe(corpus, tiny_base, Path("unused"), evaluation={"num_samples": 1, "minlenratio": 0.5,
                                                                      "maxlenratio": 2.0, "during_training": 1})
    (recipes / "a_tiny_speecht5.yaml").write_text(yaml.safe_dump(tiny))
    broken = tiny_recipe(corpus, tiny_base, Path("unused"), evaluation={"asr_model": "nobody/no-such-asr-model"})
    (recipes / "b_broken.yaml").write_text(yaml.safe_dump(broken))
    page, url = launch(tmp_path_factory.mktemp("workspace"), recipes, port=_free_port(), block=False)
    yield url
    page.close()


def _clips(corpus: Path, count: int) -> tuple[list[str], str]:
    rows = [r for r in read_ljspeech(corpus) if r["speaker"] == "us_f5"][:count]
    return [r["audio"] for r in rows], "\n".join(f"{Path(r['audio']).name}|{r['text']}" for r in rows)


@pytest.mark.slow
def test_upload_check_train_listen_and_speak_in_a_browser(page_url: str, corpus: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from browser import chromium, screenshot

    paths, transcripts = _clips(corpus, 8)
    short = tmp_path / "tiny_blip.wav"
    sf.write(short, 0.3 * np.sin(np.linspace(0, 60, 1600)).astype(np.float32), 16000)  # 0.1 s
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("this is not a recording")

    def text_of(session, element_id: str) -> str:
        return session.find_element(By.ID, element_id).text

    def audio_duration(session, element_id: str) -> float:
        audio = session.find_element(By.CSS_SELECTOR, f"#{element_id} audio")
        session.set_script_timeout(30)
        return session.execute_async_script(
            "const a = arguments[0], done = arguments[1];"
            "if (a.readyState >= 1) { done(a.duration); return; }"
            "a.addEventListener('loadedmetadata', () => done(a.duration)); a.load();", audio)

    def upload(session, files: list[str], lines: str) -> None:
        clear = session.find_elements(By.CSS_SELECTOR, "#clips button[aria-label='Clear']")
        if clear:
            clear[0].click()
        session.find_element(By.CSS_SELECTOR, "#clips input[type=file]").send_keys("\n".join(files))
        WebDriverWait(session, 30).until(lambda s: len(s.find_elements(By.CSS_SELECTOR, "#clips .file-name, "
                                                                                         "#clips tr")) >= 1)
        box = session.find_element(By.CSS_SELECTOR, "#transcripts textarea")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE)
        box.send_keys(lines)

    def check(session) -> str:
        before = text_of(session, "data_status")
        session.find_element(By.ID, "check").click()
        WebDriverWait(session, 120).until(
            lambda s: text_of(s, "data_status") not in ("", before) and "processing" not in text_of(s, "data_status"))
        return text_of(session, "data_status")

    with chromium() as session:
        session.get(page_url)
        wait = WebDriverWait(session, 60)
        wait.until(lambda s: s.find_elements(By.ID, "check"))

        upload(session, [str(not_audio)], "notes.txt|some words")
        assert "notes.txt: not audio that can be read" in check(session)
        upload(session, [paths[0]], f"{Path(paths[0]).name}|")
        assert "the transcript is empty" in check(session)

        upload(session, [*paths, str(short)], transcripts + "\ntiny_blip.wav|A blip.")
        status = check(session)
        assert status.startswith("OK.") and "6 training clips" in status and "2 held out; 1 skipped" in status
        dropped = text_of(session, "dropped")
        assert "tiny_blip" in dropped and "short" in dropped
        screenshot(session, "ui_data_doctor")

        session.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Train')]").click()
        steps = session.find_element(By.CSS_SELECTOR, "#steps input[type=number]")
        steps.send_keys(Keys.CONTROL, "a")
        steps.send_keys("4", Keys.ENTER)
        session.find_element(By.ID, "train").click()
        WebDriverWait(session, 600, poll_frequency=2).until(
            lambda s: text_of(s, "run_status").startswith(("OK.", "Problem")))
        assert text_of(session, "run_status").startswith("OK. done"), text_of(session, "run_status")
        wait.until(lambda s: s.find_elements(By.CSS_SELECTOR, "#sample audio"))
        assert audio_duration(session, "sample") > 0
        screenshot(session, "ui_trained")

        session.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Speak')]").click()
        assert session.find_element(By.CSS_SELECTOR, "#voice textarea, #voice input").get_attribute("value")
        session.find_element(By.ID, "speak").click()
        wait.until(lambda s: s.find_elements(By.CSS_SELECTOR, "#spoken audio"))
        assert audio_duration(session, "spoken") > 0
        screenshot(session, "ui_spoken")

        session.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Train')]").click()
        recipe = session.find_element(By.CSS_SELECTOR, "#recipe input")
        recipe.click()
        session.find_element(By.XPATH, "//ul[@role='listbox']//li[contains(., 'b_broken')]").click()
        session.find_element(By.ID, "train").click()
        WebDriverWait(session, 300, poll_frequency=2).until(lambda s: text_of(s, "run_status").startswith("Problem"))
        message = text_of(session, "run_status")
        assert "evaluation.asr_model" in message and "Traceback" not in session.page_source
        screenshot(session, "ui_failed_run")
