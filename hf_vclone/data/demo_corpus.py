"""An offline multi-speaker demo corpus spoken by espeak-ng, in the LJSpeech layout.

Nobody here owns recordings we could ship, and the Hub is out of reach, so the quickstart and the
tests speak their own corpus. Each espeak-ng voice + variant + pitch + speed is one "speaker".
Every speaker reads different sentences from a small seeded grammar, so the held-out target's
test sentences are text no model has seen.

Layout (one LJSpeech folder per speaker, which is what `data.path` accepts):
    <root>/<speaker>/wavs/<speaker>_0001.wav
    <root>/<speaker>/metadata.csv      # id|text
    <root>/same_text/<target>/<voice>/wavs/<target>_0001.wav   # every other voice reading the
    <root>/same_text/<target>/<voice>/metadata.csv             # target's sentences (same ids)

`same_text/<target>` is what `evaluation.other_voices` takes: how far the *other* real voices are
from the target on the very sentences the clone is scored on, i.e. how close "close" is. The
corpus reader skips it (it holds no metadata.csv of its own).
"""

from __future__ import annotations

import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import UserError

# name -> espeak-ng arguments (voice+variant, pitch 0-99, words per minute)
BASE_VOICES: dict[str, list[str]] = {
    "us_m1": ["-v", "en-us+m1", "-p", "40", "-s", "165"],
    "gb_m3": ["-v", "en-gb+m3", "-p", "30", "-s", "150"],
    "us_f2": ["-v", "en-us+f2", "-p", "55", "-s", "170"],
    "sc_m2": ["-v", "en-gb-scotland+m2", "-p", "50", "-s", "145"],
    "rp_f4": ["-v", "en-gb-x-rp+f4", "-p", "65", "-s", "160"],
}
# The held-out voice the quickstart clones: a variant and pitch none of the base voices has.
TARGET_VOICE: dict[str, list[str]] = {"us_f5": ["-v", "en-us+f5", "-p", "85", "-s", "135"]}
# A second held-out voice for the strategy benchmark: one the base nearly knows (us_f2's
# variant and accent, a little higher and slower), where us_f5 is one it does not.
NEAR_TARGET_VOICE: dict[str, list[str]] = {"us_f2_near": ["-v", "en-us+f2", "-p", "62", "-s", "160"]}

# Under the corpus root: every other voice reading each held-out target's sentences.
SAME_TEXT = "same_text"
# Base voices read their first DEMO_CLIPS sentences from the front of the grammar's sequence (the
# quickstart corpus); a larger corpus (the base's, `data.demo_clips_per_voice`) adds sentences from
# EXTRA_FIRST on, so the front (target sentences, held-out benchmark sentences) stays unseen text.
DEMO_CLIPS = 150
EXTRA_FIRST = 2000

_SUBJECTS = [
    "the old farmer", "a young painter", "my neighbour", "the tall soldier", "her little brother",
    "the quiet teacher", "a busy doctor", "the clever fox", "our captain", "the brown dog",
    "a tired sailor", "the singer", "his grandmother", "the small girl", "a strange visitor",
    "the baker", "every student", "the king", "a lonely wolf", "the pilot",
]
_VERBS = [
    "carried", "painted", "found", "opened", "watched", "cleaned", "borrowed", "dropped",
    "wanted", "pushed", "followed", "counted", "measured", "repaired", "hid", "sold", "bought",
    "described", "noticed", "delivered",
]
_OBJECTS = [
    "a heavy box", "the red door", "seven apples", "an empty bottle", "the green lamp",
    "a wooden chair", "the broken clock", "some fresh bread", "a silver coin", "the long letter",
    "a warm blanket", "the yellow kite", "three black stones", "the map", "a paper boat",
    "the golden ring", "a cup of tea", "the blue jacket", "a bag of rice", "the garden gate",
]
_PLACES = [
    "near the river", "in the morning", "behind the house", "at the market", "before dinner",
    "under the bridge", "after the storm", "across the field", "by the window", "in the kitchen",
    "on the hill", "during the winter", "at the station", "beside the lake", "in the evening",
]
_ENDINGS = [
    "and smiled", "without a word", "very slowly", "with great care", "and went home",
    "for no reason", "twice", "quite quickly", "while singing", "yesterday",
]
_QUESTIONS = ["Why", "When", "Where", "How often"]
# Extra-sentence text (`data.demo_extra_text`): "grammar" continues the grammar above; "shuffled"
# draws the same words in random order, so that the frames already spoken never predict the next
# word and a decoder must read its text to say it. Measured on a SpeechT5 base in benchmarks/README.md
# item 12: at 2-3k steps on 2 cores it did not make the decoder read, so "grammar" stays the default.
EXTRA_TEXTS = ("grammar", "shuffled")


def sentences(count: int, seed: int) -> list[str]:
    """`count` distinct sentences from a seeded grammar: statements, questions and exclamations."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        subject, verb, obj = rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)
        kind = rng.random()
        if kind < 0.7:
            text = f"{subject.capitalize()} {verb} {obj} {rng.choice(_PLACES)} {rng.choice(_ENDINGS)}."
        elif kind < 0.85:
            text = f"{rng.choice(_QUESTIONS)} had {subject} {verb.rstrip('d')} {obj} {rng.choice(_PLACES)}?"
        else:
            text = f"{subject.capitalize()} {verb} {obj}, {rng.choice(_PLACES)}!"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def vocabulary() -> list[str]:
    """Every word the grammar uses, lower case, in first-seen order."""
    words: dict[str, None] = {"had": None}
    for phrase in [*_SUBJECTS, *_VERBS, *_OBJECTS, *_PLACES, *_ENDINGS, *_QUESTIONS]:
        words.update((w.lower(), None) for w in phrase.split())
    return list(words)


def shuffled_sentences(count: int, seed: int) -> list[str]:
    """`count` distinct word strings: an opener and 5-11 of the grammar's words drawn at random
    (with replacement), so they sound like the grammar but no word follows from the ones before."""
    rng = random.Random(seed)
    words = vocabulary()
    # The first word is one the grammar starts sentences with, so that a character tokenizer built
    # on the grammar's corpus (the committed base's) knows every capital letter.
    openers = sorted({p.split()[0] for p in [*_SUBJECTS, *_QUESTIONS]})
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        drawn = [rng.choice(openers).capitalize()] + [rng.choice(words) for _ in range(rng.randint(5, 11))]
        if rng.random() < 0.3:
            drawn[rng.randrange(2, len(drawn) - 1)] += ","
        text = " ".join(drawn) + rng.choice(".......??!")
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def require_espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(
            "espeak-ng is not installed; the offline demo corpus is spoken by it. "
            "Install it with `sudo apt-get install -y espeak-ng` (or run `make setup`)."
        )
    return exe


def corpus_sentences(clips_per_base_voice: int, target_clips: int, targets: list[str], seed: int = 0,
                     extra_text: str = "grammar") -> dict[str, list[str]]:
    """Which sentences each voice reads: base voices (BASE_VOICES order), then `targets`.

    The first DEMO_CLIPS sentences of each base voice and every target's come from the front of
    the grammar's sequence, in voice order, so adding a target or growing the corpus leaves the
    others' sentences as they are; a base voice's sentences beyond DEMO_CLIPS come from its own
    block from EXTRA_FIRST on, which no target and no held-out benchmark sentence reaches.
    `extra_text="shuffled"` makes those extra sentences `shuffled_sentences` instead."""
    front = min(clips_per_base_voice, DEMO_CLIPS)
    extra = clips_per_base_voice - front
    used = front * len(BASE_VOICES) + target_clips * len(targets)
    if used > EXTRA_FIRST:
        raise ValueError(f"{used} front sentences overlap the extra ones (from {EXTRA_FIRST})")
    if extra_text not in EXTRA_TEXTS:
        raise ValueError(f"extra_text must be one of {EXTRA_TEXTS}, got {extra_text!r}")
    texts = sentences(EXTRA_FIRST + extra * len(BASE_VOICES), seed)
    if extra_text == "shuffled":
        texts = texts[:EXTRA_FIRST] + shuffled_sentences(extra * len(BASE_VOICES), seed)
    out: dict[str, list[str]] = {}
    start = 0
    for k, name in enumerate(list(BASE_VOICES) + list(targets)):
        n = front if name in BASE_VOICES else target_clips
        out[name] = texts[start : start + n]
        start += n
        if name in BASE_VOICES:
            out[name] += texts[EXTRA_FIRST + k * extra : EXTRA_FIRST + (k + 1) * extra]
    return out


def build_demo_corpus(
    root: str | Path,
    clips_per_base_voice: int = DEMO_CLIPS,
    target_clips: int = 50,
    seed: int = 0,
    workers: int = 4,
    extra_targets: dict[str, list[str]] | None = None,
    extra_text: str = "grammar",
) -> Path:
    """Write every speaker's folder under `root` (sentences: `corpus_sentences`); existing complete
    speakers are kept as they are. `extra_targets` (e.g. NEAR_TARGET_VOICE) come after the others,
    so they leave every other speaker's sentences as they are."""
    exe = require_espeak()
    root = Path(root)
    targets = {**TARGET_VOICE, **(extra_targets or {})}
    voices = {**BASE_VOICES, **targets}
    texts = corpus_sentences(clips_per_base_voice, target_clips, list(targets), seed, extra_text)
    jobs = [(name, args, texts[name]) for name, args in voices.items()]
    # Each folder: (where, the voice's espeak-ng arguments, the clip-id prefix, its sentences).
    folders = [(root / name, args, name, lines) for name, args, lines in jobs]
    for target, _, lines in (job for job in jobs if job[0] in targets):
        folders += [(root / SAME_TEXT / target / name, args, target, lines)
                    for name, args in voices.items() if name != target]
    todo = [f for f in folders if not (f[0] / "metadata.csv").is_file()]
    for folder, _, _, lines in folders:
        if folder not in {f[0] for f in todo}:
            have = [row.split("|", 1)[-1] for row in (folder / "metadata.csv").read_text(encoding="utf-8").splitlines()]
            if have != lines:
                raise UserError(f"{folder / 'metadata.csv'} holds {len(have)} clips that are not the {len(lines)} "
                                f"sentences this demo corpus gives that voice (another data.demo_clips_per_voice "
                                f"or data.demo_extra_text?); delete {folder} or give another data.path")
    if not todo:
        return root
    tasks = []
    for folder, args, prefix, lines in todo:
        (folder / "wavs").mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(lines, 1):
            tasks.append((exe, args, text, folder / "wavs" / f"{prefix}_{i:04d}.wav"))
    with ThreadPoolExecutor(workers) as pool:
        list(tqdm(pool.map(_speak, tasks), total=len(tasks), desc="espeak-ng demo corpus", unit="clip"))
    for folder, _, prefix, lines in todo:
        # metadata.csv last: its presence marks the folder complete, so a killed run is redone.
        rows = [f"{prefix}_{i:04d}|{text}" for i, text in enumerate(lines, 1)]
        (folder / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def _speak(task: tuple[str, list[str], str, Path]) -> None:
    exe, args, text, out = task
    subprocess.run([exe, *args, "-w", str(out), text], check=True, capture_output=True)
