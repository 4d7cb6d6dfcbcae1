"""The listening test's web server: stdlib HTTP, one thread per request, ratings straight to SQLite.

Nothing here needs a framework: a page, the audio files, one JSON endpoint for a rating and the
results. Every request reads state from the store, so several listeners (and restarts) see
the same test.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import UserError
from . import page
from .mos import MOS, markdown, mos, to_csv
from .store import RatingStore
from .trials import Trial, design, order_for

logger = logging.getLogger(__name__)
MAX_BODY = 4096


class ListeningTest:
    """A test over `folders`, stored in `db`. Reopening the same db keeps its trials and ratings."""

    def __init__(self, folders: list[str | Path], db: str | Path) -> None:
        self.store = RatingStore(db)
        stored = self.store.trials()
        fresh = design(folders)
        if stored:
            if {(t.system, t.sentence, t.wav) for t in stored} != {(t.system, t.sentence, t.wav) for t in fresh}:
                raise UserError(f"{db} holds another test (other folders or samples); give a new --db for this one")
            self.trials = stored
        else:
            self.store.save_trials(fresh)
            self.trials = fresh
        self.by_id = {t.id: t for t in self.trials}

    def results(self) -> list[MOS]:
        scores = self.store.scores()
        return sorted((mos(system, values, raters) for system, (values, raters) in scores.items()),
                      key=lambda r: -r.mean)


def _handler(test: ListeningTest) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the parent's signature
            logger.debug(format, *args)

        def _send(self, body: bytes, content_type: str = "text/html; charset=utf-8",
                  status: HTTPStatus = HTTPStatus.OK) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, payload: dict, status: HTTPStatus = HTTPStatus.OK) -> None:
            self._send(json.dumps(payload).encode(), "application/json", status)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            if url.path == "/":
                rater = parse_qs(url.query).get("rater", [""])[0].strip()
                if not rater:
                    return self._send(page.welcome(len(test.trials)))
                return self._send(page.trials_page(rater, order_for(rater, test.trials), test.store.rated_by(rater)))
            if url.path.startswith("/audio/"):
                trial: Trial | None = test.by_id.get(url.path.removeprefix("/audio/"))
                if trial is None:
                    return self._send(b"no such sample", "text/plain", HTTPStatus.NOT_FOUND)
                return self._send(Path(trial.wav).read_bytes(), "audio/wav")
            if url.path == "/results":
                return self._send(page.results_page(test.results()))
            if url.path == "/results.csv":
                return self._send(to_csv(test.results()).encode(), "text/csv; charset=utf-8")
            if url.path == "/results.md":
                return self._send(markdown(test.results()).encode(), "text/markdown; charset=utf-8")
            return self._send(b"not found", "text/plain", HTTPStatus.NOT_FOUND)

        def do_POST(self) -> None:  # noqa: N802
            if urlsplit(self.path).path != "/rate":
                return self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                return self._json({"error": "a rating is a small JSON object"}, HTTPStatus.BAD_REQUEST)
            try:
                body = json.loads(self.rfile.read(length))
                test.store.rate(str(body.get("rater", "")), str(body.get("trial", "")), body.get("score"))
            except (ValueError, AttributeError) as err:  # bad JSON, score or sample: say which
                return self._json({"error": str(err)}, HTTPStatus.BAD_REQUEST)
            return self._json({"ok": True})

    return Handler


def serve(test: ListeningTest, host: str = "127.0.0.1", port: int = 7861) -> ThreadingHTTPServer:
    """A server bound and ready; call serve_forever() (port 0 picks a free port)."""
    return ThreadingHTTPServer((host, port), _handler(test))
