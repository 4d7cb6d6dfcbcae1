"""A stand-in for the Hugging Face Hub's HTTP API, so tests can run the real client offline.

Tests point `HF_ENDPOINT` at it (see the `hub` fixture) and call `huggingface_hub` as usual, so
uploads and downloads take the same client code paths as against huggingface.co. It serves model
repos on branch "main" (and any earlier commit by its sha) and records what it received.

Every file is answered "regular" at preupload, so its bytes travel base64-encoded inside the commit
payload; huggingface_hub 2.4 accepts that for any size and content (it never second-guesses the
server's upload mode), so neither Git LFS nor Xet is ever involved: there are no LFS routes and
no `X-Xet-*` headers, and downloads fall back to plain HTTP GETs of `/resolve/`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

Reply = tuple[int, dict[str, str], bytes]  # status, headers, body (Content-Length is added)


def git_blob_oid(data: bytes) -> str:
    """The git blob sha1: the Hub's ETag and tree `oid` of a regular file, and the client's too."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode()


def _error(status: int, message: str, code: str | None = None, **headers: str) -> Reply:
    """An error the way the Hub sends it: the client maps X-Error-Code to its exception classes."""
    extra = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {}), **headers}
    return _json(status, {"error": message}, extra)


@dataclass
class Repo:
    """One model repo: a snapshot of its files per commit sha, and `head`, the sha of main."""

    private: bool
    head: str
    snapshots: dict[str, dict[str, bytes]]
    commits: list[str] = field(default_factory=list)  # commit summaries, oldest first

    @property
    def files(self) -> dict[str, bytes]:
        """The files at the head of main, {path in repo: bytes}."""
        return self.snapshots[self.head]


class HubStandIn:
    """The Hub's endpoints on 127.0.0.1 (random free port), served from a background thread.

    Use as a context manager; `url` is what HF_ENDPOINT must be. Private repos, like on the Hub,
    need some `Authorization` header to be seen at all, and every write needs one.
    """

    def __init__(self) -> None:
        self.url = ""
        self.repos: dict[str, Repo] = {}
        self.authorizations: list[str | None] = []  # every request's Authorization header
        self.requests: list[str] = []  # "METHOD /path", in arrival order
        self.unhandled: list[str] = []  # requests no route matched (404) or a route failed on (400)
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        repo = r"(?P<repo>[^/]+(?:/[^/]+)?)"  # "namespace/name", or a bare canonical "name"
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("POST", re.compile(r"/api/repos/create"), self._create_repo),
            ("POST", re.compile(r"/api/validate-yaml"), self._validate_yaml),
            ("GET", re.compile(rf"/api/models/{repo}(?:/revision/(?P<rev>[^/]+))?"), self._model_info),
            ("GET", re.compile(rf"/api/models/{repo}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?"), self._tree),
            ("POST", re.compile(rf"/api/models/{repo}/preupload/(?P<rev>[^/]+)"), self._preupload),
            ("POST", re.compile(rf"/api/models/{repo}/commit/(?P<rev>[^/]+)"), self._commit),
            ("GET", re.compile(rf"/{repo}/resolve/(?P<rev>[^/]+)/(?P<path>.+)"), self._resolve),
            ("HEAD", re.compile(rf"/{repo}/resolve/(?P<rev>[^/]+)/(?P<path>.+)"), self._resolve),
        ]

    def __enter__(self) -> HubStandIn:
        self._server = _Server(self)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="hub-standin", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def handle(self, method: str, target: str, body: bytes, authorization: str | None) -> Reply:
        """Record one request and answer it; called by the server's handler threads."""
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.authorizations.append(authorization)
            self.requests.append(f"{method} {url.path}")
            for route_method, pattern, route in self._routes:
                match = pattern.fullmatch(url.path)
                if route_method == method and match:
                    groups = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    try:
                        return route(**groups, query=query, body=body, auth=authorization)
                    except Exception as error:  # noqa: BLE001  (misread request: 400, a 5xx is retried)
                        self.unhandled.append(f"{method} {target}: {error!r}")
                        return _error(400, f"HubStandIn failed on {method} {url.path}: {error!r}")
            self.unhandled.append(f"{method} {target}")
        return _error(404, f"HubStandIn does not implement {method} {url.path}")

    # -- repos ---------------------------------------------------------------------------------

    def _create_repo(self, body: bytes, **_: Any) -> Reply:
        spec = json.loads(body)
        if spec.get("type", "model") != "model":
            return _error(400, "HubStandIn only serves model repos")
        repo_id = "/".join(part for part in (spec.get("organization"), spec["name"]) if part)
        url = f"{self.url}/{repo_id}"
        if repo_id in self.repos:  # the client reads `url` from the 409 too when exist_ok=True
            return _json(409, {"error": "You already created this model repo", "url": url})
        initial = hashlib.sha1(f"initial commit of {repo_id}".encode()).hexdigest()
        self.repos[repo_id] = Repo(spec.get("visibility") == "private", initial, {initial: {}})
        return _json(200, {"url": url, "name": repo_id, "id": repo_id})

    def _find(self, repo_id: str, rev: str, auth: str | None, write: bool = False) -> Repo | Reply:
        """The repo if this caller may see it and `rev` exists in it, else the Hub's error reply."""
        repo = self.repos.get(repo_id)
        if repo is None or (not auth and (repo.private or write)):
            return _error(401 if repo else 404, "Repository not found", "RepoNotFound")
        if rev != "main" and (write or rev not in repo.snapshots):  # commits go to main only
            return _error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return repo

    def _model_info(self, repo: str, auth: str | None, rev: str = "main", **_: Any) -> Reply:
        found = self._find(repo, rev, auth)
        if not isinstance(found, Repo):
            return found
        sha = found.head if rev == "main" else rev
        files = found.snapshots[sha]
        siblings = [{"rfilename": p, "size": len(d), "blobId": git_blob_oid(d)} for p, d in files.items()]
        return _json(200, {"id": repo, "modelId": repo, "author": repo.split("/")[0], "sha": sha,
                           "private": found.private, "disabled": False, "gated": False, "tags": [],
                           "downloads": 0, "likes": 0, "siblings": siblings})

    def _tree(
        self, repo: str, rev: str, query: dict[str, str], auth: str | None, path: str = "", **_: Any
    ) -> Reply:
        """Files (and folders) under `path`; one page only, so no `Link` header."""
        found = self._find(repo, rev, auth)
        if not isinstance(found, Repo):
            return found
        files = found.snapshots[found.head if rev == "main" else rev]
        base = path.strip("/") + "/" if path.strip("/") else ""
        recursive = query.get("recursive", "").lower() == "true"
        under = {p: p[len(base):] for p in sorted(files) if p.startswith(base)}  # path: path below base
        if base and not under:
            return _error(404, f"{path} does not exist", "EntryNotFound")
        parts = [rel.split("/") for rel in under.values()]
        folders = {"/".join(rel[:i]) for rel in parts for i in range(1, len(rel))}
        entries = [{"type": "directory", "path": base + rel, "oid": hashlib.sha1(rel.encode()).hexdigest()}
                   for rel in sorted(folders) if recursive or "/" not in rel]
        entries += [{"type": "file", "path": p, "size": len(files[p]), "oid": git_blob_oid(files[p])}
                    for p, rel in under.items() if recursive or "/" not in rel]
        return _json(200, entries)

    # -- uploads -------------------------------------------------------------------------------

    def _validate_yaml(self, **_: Any) -> Reply:
        """README.md front matter is not checked; the client only needs a well-formed answer."""
        return _json(200, {"errors": [], "warnings": []})

    def _preupload(self, repo: str, rev: str, body: bytes, auth: str | None, **_: Any) -> Reply:
        """Every file "regular"; `oid` of an identical file at head lets the client skip it, as on the Hub."""
        found = self._find(repo, rev, auth, write=True)
        if not isinstance(found, Repo):
            return found
        current = found.files
        return _json(200, {"files": [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
             "oid": git_blob_oid(current[f["path"]]) if f["path"] in current else None}
            for f in json.loads(body)["files"]]})

    def _commit(
        self, repo: str, rev: str, query: dict[str, str], body: bytes, auth: str | None, **_: Any
    ) -> Reply:
        """Apply an ndjson commit (header, file, deletedFile, deletedFolder lines) to main."""
        found = self._find(repo, rev, auth, write=True)
        if not isinstance(found, Repo):
            return found
        if query.get("create_pr"):
            return _error(400, "HubStandIn does not support create_pr")
        files, summary = dict(found.files), ""
        for line in filter(None, body.splitlines()):
            op = json.loads(line)
            key, value = op["key"], op["value"]
            if key == "header":
                summary = value["summary"]
                if value.get("parentCommit") not in (None, found.head):
                    return _error(412, "A commit has happened since. Please refresh and try again.")
            elif key == "file" and value.get("encoding") == "base64":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                files = {p: d for p, d in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
            else:  # lfsFile: never asked for, since preupload answers "regular"
                return _error(400, f"HubStandIn cannot apply a {key!r} commit operation")
        digest = hashlib.sha1(f"{found.head}\n{summary}\n".encode())
        for path in sorted(files):
            digest.update(f"{path} {git_blob_oid(files[path])}\n".encode())
        sha = digest.hexdigest()
        found.snapshots[sha], found.head = files, sha
        found.commits.append(summary)
        commit_url = f"{self.url}/{repo}/commit/{sha}"
        return _json(200, {"success": True, "commitOid": sha, "commitUrl": commit_url})

    # -- downloads -----------------------------------------------------------------------------

    def _resolve(self, repo: str, rev: str, path: str, auth: str | None, **_: Any) -> Reply:
        """A file's bytes, with the headers `hf_hub_download` requires: X-Repo-Commit and ETag."""
        found = self._find(repo, rev, auth)
        if not isinstance(found, Repo):
            return found
        sha = found.head if rev == "main" else rev
        data = found.snapshots[sha].get(path)
        if data is None:  # X-Repo-Commit lets the client cache the file's absence
            return _error(404, f"Entry not found: {path}", "EntryNotFound", **{"X-Repo-Commit": sha})
        return 200, {"Content-Type": "application/octet-stream", "X-Repo-Commit": sha,
                     "ETag": f'"{git_blob_oid(data)}"', "Accept-Ranges": "none"}, data


class _Handler(BaseHTTPRequestHandler):
    """Reads one request (body included, so keep-alive stays in step) and writes the stand-in's reply."""

    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses connections
    timeout = 60  # idle keep-alive connections end, and their thread with them
    server: _Server

    def _dispatch(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            body = b"".join(chunks)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        authorization = self.headers.get("Authorization")
        status, headers, payload = self.server.hub.handle(self.command, self.path, body, authorization)
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: `requests` and `unhandled` say what happened."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: HubStandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hub = hub


def point_client_at(url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send huggingface_hub, in this process and in subprocesses, to `url`, with its caches in `home`.

    The environment is enough for subprocesses. This process has usually imported huggingface_hub
    already (transformers does), and it froze these variables at import time into
    `huggingface_hub.constants` and into `huggingface_hub.hf_api.api`, the HfApi behind the
    module-level functions (`huggingface_hub.model_info`, ...): those are patched too.
    """
    from huggingface_hub import constants, hf_api
    from huggingface_hub.utils import _cache_manager, _git_credential, close_session

    paths = {"HF_HOME": home, "HF_HUB_CACHE": home / "hub", "HF_ASSETS_CACHE": home / "assets",
             "HF_XET_CACHE": home / "xet", "HF_TOKEN_PATH": home / "token"}
    switches = {"HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"}
    for name, value in {**paths, **switches, "HF_ENDPOINT": url}.items():
        monkeypatch.setenv(name, str(value))
    no_proxy = ",".join(filter(None, ["127.0.0.1", os.environ.get("NO_PROXY")]))
    monkeypatch.setenv("NO_PROXY", no_proxy)
    monkeypatch.setenv("no_proxy", no_proxy)
    for name in ("TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)  # tests start anonymous and set HF_TOKEN themselves

    frozen = {**{name: str(value) for name, value in paths.items()}, "ENDPOINT": url,
              "HUGGINGFACE_CO_URL_TEMPLATE": url + "/{repo_id}/resolve/{revision}/{filename}",
              "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"), "HF_HUB_OFFLINE": False,
              "HF_HUB_DISABLE_TELEMETRY": True, "HF_URL_HOSTS": constants.HF_URL_HOSTS | {"127.0.0.1"}}
    for name, value in frozen.items():
        monkeypatch.setattr(constants, name, value)
    monkeypatch.setattr(_cache_manager, "HF_HUB_CACHE", str(home / "hub"))  # `from ..constants import`
    monkeypatch.setattr(_git_credential, "ENDPOINT", url)
    monkeypatch.setattr(hf_api.api, "endpoint", url)
    close_session()  # a fresh HTTP client reads the proxy settings above and pools no stale connections


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubStandIn]:
    """A running HubStandIn that huggingface_hub (here and in subprocesses) talks to, with empty caches."""
    from huggingface_hub.utils import close_session

    with HubStandIn() as server:
        point_client_at(server.url, tmp_path_factory.mktemp("hf_home"), monkeypatch)
        yield server
        close_session()  # before the server stops, so no pooled connection outlives it
