"""Ratings in SQLite: written the moment they arrive, safe with several listeners at once.

Every rating is its own transaction (`BEGIN IMMEDIATE` ... `COMMIT`) in WAL mode with
synchronous=FULL, so an answered request means the rating is on disk; a crash or restart loses
nothing that was acknowledged. Each request uses its own connection (sqlite3 connections are not
shared across threads) and SQLite's lock serialises writers, so concurrent listeners cannot
interleave a half-written row. A listener who rates the same sample again replaces their rating.

The trials (which blinded id plays which system's file) are stored too, so a restarted test
keeps the same ids and the ratings already given stay attached to the right system.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from contextlib import closing
from pathlib import Path

from .trials import Trial

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (id TEXT PRIMARY KEY, system TEXT NOT NULL, sentence TEXT NOT NULL,
                                   text TEXT NOT NULL, wav TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ratings (rater TEXT NOT NULL, trial TEXT NOT NULL REFERENCES trials(id),
                                    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5), at REAL NOT NULL,
                                    PRIMARY KEY (rater, trial));
"""


class RatingStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def trials(self) -> list[Trial]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT id, system, sentence, text, wav FROM trials ORDER BY id").fetchall()
        return [Trial(*row) for row in rows]

    def save_trials(self, trials: list[Trial]) -> None:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR IGNORE INTO trials VALUES (?, ?, ?, ?, ?)",
                           [(t.id, t.system, t.sentence, t.text, t.wav) for t in trials])
            db.execute("COMMIT")

    def rate(self, rater: str, trial: str, score: int) -> None:
        if not rater.strip():
            raise ValueError("a rating needs the listener's name")
        if not isinstance(score, int) or not 1 <= score <= 5:
            raise ValueError(f"a rating is a whole number from 1 to 5, got {score!r}")
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?)", (rater.strip(), trial, score, time.time()))
            except sqlite3.IntegrityError:
                db.execute("ROLLBACK")
                raise ValueError(f"unknown sample {trial!r}") from None
            db.execute("COMMIT")

    def rated_by(self, rater: str) -> dict[str, int]:
        with closing(self._connect()) as db:
            return dict(db.execute("SELECT trial, score FROM ratings WHERE rater = ?", (rater.strip(),)).fetchall())

    def scores(self) -> dict[str, tuple[list[int], int]]:
        """system -> (its ratings, how many listeners gave them)."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT t.system, r.score, r.rater FROM ratings r JOIN trials t ON t.id = r.trial").fetchall()
        scores: dict[str, list[int]] = defaultdict(list)
        raters: dict[str, set[str]] = defaultdict(set)
        for system, score, rater in rows:
            scores[system].append(score)
            raters[system].add(rater)
        return {system: (scores[system], len(raters[system])) for system in scores}
