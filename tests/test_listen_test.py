"""The listening test: blinded trials over evaluation folders, ratings that survive restarts and
concurrent listeners, and MOS with Student-t intervals, through the real HTTP server."""

from __future__ import annotations

import json
import math
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from hf_vclone.cli import main
from hf_vclone.config import EvaluationConfig
from hf_vclone.errors import UserError
from hf_vclone.evaluation import compare_systems
from hf_vclone.listening.mos import mos, to_csv
from hf_vclone.listening.server import ListeningTest, serve
from hf_vclone.listening.store import RatingStore
from hf_vclone.listening.trials import order_for

RATE = 16000
TEXTS = ["the first sentence", "a second one", "and a third"]


def tone(freq: float, seconds: float = 0.6) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def evaluated_folder(out: Path, fine_tuned_freq: float) -> Path:
    """A folder in the layout evaluation writes, written by evaluation itself (compare_systems)
    with stand-in systems that speak tones."""
    rows = Dataset.from_dict({"id": [f"clip{i}" for i in range(3)], "text": TEXTS,
                              "labels": [np.zeros((20, 80), np.float32)] * 3})

    def system(freq: float):
        return lambda text: (np.zeros((20, 80), np.float32), tone(freq))

    compare_systems({"base": system(200), "fine_tuned": system(fine_tuned_freq)}, rows,
                    EvaluationConfig(num_samples=3, asr_model=None), out, RATE, lambda row: tone(300))
    return out


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("listen")
    return [evaluated_folder(root / "voice_full", 310), evaluated_folder(root / "voice_lora", 320)]


def test_mos_and_interval_match_hand_computed_student_t() -> None:
    row = mos("x", [4, 5, 3, 4], raters=2)
    # mean 4, sample sd sqrt(2/3), t(0.975, 3) = 3.182446
    assert row.mean == 4 and row.ratings == 4 and row.raters == 2
    assert row.ci95 == pytest.approx(3.182446 * math.sqrt(2 / 3) / 2, rel=1e-6)
    assert mos("y", [3], raters=1).ci95 is None
    assert mos("z", [5, 5, 4], raters=3).bounds[1] == 5.0  # clipped to the scale
    assert to_csv([row]).splitlines()[1] == f"x,4.0000,{4 - row.ci95:.4f},5.0000,4,2"  # 5.30 clipped to the scale


def test_trials_are_every_system_on_the_shared_sentences_under_blinded_ids(folders, tmp_path: Path) -> None:
    test = ListeningTest(folders, tmp_path / "r.db")
    systems = sorted({t.system for t in test.trials})
    assert systems == ["base", "reference", "voice_full", "voice_lora"]
    assert len(test.trials) == 4 * 3 and {t.sentence for t in test.trials} == {"clip0", "clip1", "clip2"}
    for trial in test.trials:  # the id says nothing about the system
        assert all(word not in trial.id for word in ("base", "ref", "voice", "clip"))
    a, b = order_for("ann", test.trials), order_for("bob", test.trials)
    assert sorted(t.id for t in a) == sorted(t.id for t in b) and a != b
    assert order_for("ann", test.trials) == a  # stable for one listener


def test_ratings_survive_a_restart_and_a_different_test_is_refused(folders, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    test = ListeningTest(folders, db)
    first = test.trials[0]
    test.store.rate("ann", first.id, 4)
    again = ListeningTest(folders, db)  # a restarted server
    assert {t.id for t in again.trials} == {t.id for t in test.trials}
    assert again.store.rated_by("ann") == {first.id: 4}
    with pytest.raises(UserError, match="holds another test"):
        ListeningTest(folders[:1], db)
    with pytest.raises(ValueError, match="from 1 to 5"):
        test.store.rate("ann", first.id, 6)
    with pytest.raises(ValueError, match="unknown sample"):
        test.store.rate("ann", "nope", 3)


def test_concurrent_listeners_lose_no_rating(folders, tmp_path: Path) -> None:
    test = ListeningTest(folders, tmp_path / "r.db")
    raters = [f"listener{i}" for i in range(8)]

    def rate_all(rater: str) -> None:
        store = RatingStore(tmp_path / "r.db")  # each listener's requests come through their own connections
        for i, trial in enumerate(order_for(rater, test.trials)):
            store.rate(rater, trial.id, 1 + (i + len(rater)) % 5)

    threads = [threading.Thread(target=rate_all, args=(r,)) for r in raters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counted = sum(len(scores) for scores, _ in test.store.scores().values())
    assert counted == len(raters) * len(test.trials)
    assert all(n == len(raters) for _, n in test.store.scores().values())


def _post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_server_plays_blinded_audio_takes_ratings_and_reports_mos(folders, tmp_path: Path) -> None:
    test = ListeningTest(folders, tmp_path / "r.db")
    server = serve(test, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        page = urllib.request.urlopen(f"{base}/?rater=ann").read().decode()
        assert all(f'audio/{trial.id}"' in page for trial in test.trials)
        for system in ("reference", "base", "voice_full", "voice_lora", "fine_tuned"):  # never named
            assert not re.search(rf"\b{system}\b", page), system
        audio = urllib.request.urlopen(f"{base}/audio/{test.trials[0].id}").read()
        assert audio == Path(test.trials[0].wav).read_bytes()
        wanted = {"reference": [5, 4], "base": [2, 1], "voice_full": [4, 4], "voice_lora": [3, 4]}
        for rater_index, rater in enumerate(["ann", "bob"]):
            for trial in test.trials:
                status, answer = _post(f"{base}/rate", {"rater": rater, "trial": trial.id,
                                                        "score": wanted[trial.system][rater_index]})
                assert status == 200 and answer == {"ok": True}
        status, answer = _post(f"{base}/rate", {"rater": "ann", "trial": test.trials[0].id, "score": 9})
        assert status == 400 and "from 1 to 5" in answer["error"]
        table = urllib.request.urlopen(f"{base}/results.csv").read().decode().splitlines()
        got = {line.split(",")[0]: float(line.split(",")[1]) for line in table[1:]}
        assert got == {"reference": 4.5, "voice_full": 4.0, "voice_lora": 3.5, "base": 1.5}
    finally:
        server.shutdown()
        server.server_close()


def test_cli_report_prints_the_table_and_writes_csv(folders, tmp_path: Path, capsys) -> None:
    db = tmp_path / "r.db"
    assert main(["listen-test", *map(str, folders), "--db", str(db), "--report"]) == 2  # no ratings yet
    test = ListeningTest(folders, db)
    for trial in test.trials:
        test.store.rate("ann", trial.id, 3)
    assert main(["listen-test", *map(str, folders), "--db", str(db), "--report"]) == 0
    out = capsys.readouterr().out
    assert "| base | 3.00 |" in out and db.with_suffix(".csv").is_file()


@pytest.mark.slow
def test_two_raters_in_a_real_browser_give_the_right_mos_table(folders, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from browser import chromium, screenshot

    test = ListeningTest(folders, tmp_path / "r.db")
    server = serve(test, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    systems = {t.id: t.system for t in test.trials}
    wanted = {"ann": {"reference": 5, "base": 1, "voice_full": 4, "voice_lora": 3},
              "bob": {"reference": 4, "base": 2, "voice_full": 4, "voice_lora": 4}}
    try:
        with chromium() as page:
            wait = WebDriverWait(page, 20)
            for rater, scores in wanted.items():
                page.get(base)
                page.find_element(By.NAME, "rater").send_keys(rater)
                page.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
                wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".trial")))
                first_audio = page.find_element(By.CSS_SELECTOR, ".trial audio")
                duration = page.execute_async_script(
                    "const a = arguments[0], done = arguments[1]; a.preload = 'auto';"
                    "a.addEventListener('loadedmetadata', () => done(a.duration)); a.load();", first_audio)
                assert duration > 0.5  # the blinded sample plays: 0.6 s tones
                for box in page.find_elements(By.CSS_SELECTOR, ".trial"):
                    score = scores[systems[box.get_attribute("data-trial")]]
                    box.find_element(By.CSS_SELECTOR, f"input[value='{score}']").click()
                    wait.until(lambda _: box.find_element(By.CSS_SELECTOR, ".saved").text == "saved")
                assert page.find_element(By.ID, "progress").text == f"{len(test.trials)} of {len(test.trials)} rated"
                screenshot(page, f"listen_test_{rater}")
            page.get(base + "results")
            rows = [[cell.text for cell in r.find_elements(By.TAG_NAME, "td")]
                    for r in page.find_elements(By.CSS_SELECTOR, "#mos tr")[1:]]
            screenshot(page, "listen_test_results")
        expected = {s: (wanted["ann"][s] + wanted["bob"][s]) / 2 for s in wanted["ann"]}
        assert {row[0]: float(row[1]) for row in rows} == expected
        assert all(row[3] == "6" and row[4] == "2" for row in rows)  # 3 sentences x 2 listeners
    finally:
        server.shutdown()
        server.server_close()
