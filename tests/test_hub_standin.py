"""HubStandIn against the real huggingface_hub client, so later Hub tests can trust it.

A private repo gets a folder with a small JSON file and a 3 MB binary .safetensors-like file,
uploaded with a token from HF_TOKEN; the stand-in must hold exactly those bytes, the commit
message, the private flag and the token as a Bearer header. Then everything comes back through
snapshot_download, hf_hub_download, model_info and ModelCard.load, and through a subprocess that
only has HF_ENDPOINT (and the token) in its environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import hub_standin
import pytest
from hub_standin import HubStandIn
from huggingface_hub import HfApi, ModelCard, hf_hub_download, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

hub = hub_standin.hub  # the fixture, for the tests below

REPO = "voices/standin-test"
TOKEN = "hf_standin_test_token"
CARD = "---\nlicense: apache-2.0\ntags:\n- text-to-speech\n---\n\n# A cloned voice\n"


@pytest.fixture
def sent(hub: HubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The files uploaded to REPO (private) by `upload_folder`; a scratch file is left out by pattern."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    folder = tmp_path / "voice"
    (folder / "speakers").mkdir(parents=True)
    files = {
        "config.json": json.dumps({"model_type": "speecht5", "hidden_size": 32}).encode(),
        "model.safetensors": os.urandom(3 * 1024 * 1024),
        "speakers/table.safetensors": bytes(range(256)) * 4,
    }
    for path, data in files.items():
        (folder / path).write_bytes(data)
    (folder / "scratch.log").write_text("not for the Hub")
    api = HfApi()
    api.create_repo(REPO, private=True, exist_ok=True)
    api.upload_folder(folder_path=folder, repo_id=REPO, commit_message="Upload voice",
                      allow_patterns=["*.json", "*.safetensors"])
    return files


def test_upload_folder_sends_the_exact_bytes_with_the_token(hub: HubStandIn, sent: dict[str, bytes]) -> None:
    repo = hub.repos[REPO]
    assert repo.files == sent
    assert repo.commits == ["Upload voice"]
    assert repo.private is True
    assert hub.authorizations and set(hub.authorizations) == {f"Bearer {TOKEN}"}
    assert hub.unhandled == []
    assert not [r for r in hub.requests if "lfs" in r.lower() or "xet" in r.lower()]


def test_create_repo_again_with_exist_ok_keeps_the_repo(hub: HubStandIn, sent: dict[str, bytes]) -> None:
    url = HfApi().create_repo(REPO, private=False, exist_ok=True)
    assert url.repo_id == REPO
    assert hub.repos[REPO].private is True
    assert hub.repos[REPO].files == sent


def test_snapshot_download_into_a_fresh_cache(sent: dict[str, bytes], tmp_path: Path) -> None:
    folder = Path(snapshot_download(REPO, cache_dir=tmp_path / "fresh_cache"))
    got = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert got == sent


def test_hf_hub_download_and_model_info(hub: HubStandIn, sent: dict[str, bytes]) -> None:
    assert Path(hf_hub_download(REPO, "model.safetensors")).read_bytes() == sent["model.safetensors"]
    info = HfApi().model_info(REPO)
    assert sorted(s.rfilename for s in info.siblings) == sorted(sent)
    assert info.sha == hub.repos[REPO].head
    assert info.private is True


def test_upload_file_then_model_card_load(hub: HubStandIn, sent: dict[str, bytes]) -> None:
    HfApi().upload_file(path_or_fileobj=CARD.encode(), path_in_repo="README.md", repo_id=REPO,
                        commit_message="Add model card")
    assert hub.repos[REPO].commits == ["Upload voice", "Add model card"]
    card = ModelCard.load(REPO)
    assert card.data.license == "apache-2.0"
    assert "# A cloned voice" in card.text


def test_private_repo_is_invisible_without_a_token(sent: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info(REPO)


def test_subprocess_downloads_with_hf_endpoint_from_its_environment(
    hub: HubStandIn, sent: dict[str, bytes]
) -> None:
    code = f"from huggingface_hub import hf_hub_download; print(hf_hub_download({REPO!r}, 'config.json'))"
    assert os.environ["HF_ENDPOINT"] == hub.url
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).read_bytes() == sent["config.json"]
    assert hub.requests[-1] == f"GET /{REPO}/resolve/main/config.json"


def test_unknown_route_is_a_recorded_404(hub: HubStandIn, sent: dict[str, bytes]) -> None:
    with pytest.raises(HfHubHTTPError, match="HubStandIn does not implement") as raised:
        HfApi().list_repo_refs(REPO)
    assert raised.value.response.status_code == 404
    assert hub.unhandled == [f"GET /api/models/{REPO}/refs"]
