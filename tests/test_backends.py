"""Every registered backend provides the whole Backend protocol, with the protocol's parameters,
and is rebuilt from a saved voice's own settings."""

from __future__ import annotations

import inspect

import pytest

from hf_vclone.backends import BACKENDS, get_backend, saved_backend
from hf_vclone.config import SECTIONS_BY_BACKEND, VitsConfig
from hf_vclone.errors import UserError
from hf_vclone.models.backend import Backend


def protocol_members() -> dict[str, object]:
    members = {name: value for name, value in vars(Backend).items()
               if not name.startswith("_") and callable(value)}
    members |= {name: None for name in Backend.__annotations__}  # the data members
    return members


def test_the_protocol_is_read_whole() -> None:
    members = protocol_members()
    assert {"name", "model_class", "make_voice", "speak", "card_usage", "trainer_class"} <= set(members)


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_has_every_member_with_the_protocols_parameters(name: str) -> None:
    backend = get_backend(name)
    assert backend.name == name and set(SECTIONS_BY_BACKEND) == set(BACKENDS)
    for member, spec in protocol_members().items():
        assert hasattr(backend, member), f"{name} backend lacks {member}"
        if spec is None:
            continue
        expected = [p for p in inspect.signature(spec).parameters if p != "self"]
        got = list(inspect.signature(getattr(backend, member)).parameters)
        assert got == expected, f"{name}.{member}{tuple(got)} differs from the protocol's {tuple(expected)}"


def test_a_backend_is_built_with_its_saved_settings_and_unknown_names_are_refused() -> None:
    vits = saved_backend("vits", {"mel_bins": 64, "a_key_from_another_version": 1})
    assert vits.settings == VitsConfig(mel_bins=64)
    assert saved_backend("speecht5", None).settings == SECTIONS_BY_BACKEND["speecht5"].SETTINGS()
    for build in (get_backend, saved_backend):
        with pytest.raises(UserError, match="unknown model.type 'tacotron'"):
            build("tacotron")
