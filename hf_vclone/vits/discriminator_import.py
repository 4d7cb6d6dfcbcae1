"""Read a discriminator someone else trained, so a fine-tune starts against the base's own critic.

Fine-tuning VITS / MMS-TTS against a fresh discriminator makes the first thousands of steps
adversarial noise: the new critic learns from scratch while the generator already speaks. The
original training runs kept theirs; this module reads them into `VitsDiscriminator`:

- **hf_vclone** folders: `discriminator.safetensors`, our own keys, with the layout and width in
  its metadata (read from the tensors' shapes for files written before the metadata existed).
- **Original VITS / MMS training checkpoints** (`D_<step>.pth`): a dict whose `model` is the state
  dict of VITS' `MultiPeriodDiscriminator`, weight-normalised with the old
  `torch.nn.utils.weight_norm` (`discriminators.<i>.convs.<j>.weight_g / weight_v / bias`,
  `discriminators.<i>.conv_post.*`, maybe under `module.`). Index 0 is the scale discriminator
  (1-D convolutions), the others the period discriminators 2, 3, 5, 7, 11.
- **finetune-hf-vits' converted models** (`model.safetensors` or `pytorch_model.bin`, the
  generator's keys beside `discriminator.discriminators.<i>.convs.<j>.weight`, `final_conv`),
  whose weight normalisation was removed before saving; the periods come from its config.json.

Everything is read with `weights_only=True` (a pickle cannot run code), and every key and shape is
checked against the discriminator it must fill; what does not fit is named, with the fix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from ..errors import UserError
from ..models.loading import read_torch_checkpoint, state_dict_problems
from .discriminator import LAYOUTS, PERIODS, VitsDiscriminator

OWN_FILE = "discriminator.safetensors"
HF_FILES = ("model.safetensors", "pytorch_model.bin")
_SUB = re.compile(r"^discriminators\.(\d+)\.(convs\.(\d+)|conv_post|final_conv)\.(weight|weight_g|weight_v|bias)$")
BASE_CHANNELS = 32  # the first period convolution's width at width 1.0


@dataclass
class ImportedDiscriminator:
    """A state dict in VitsDiscriminator's keys, and the discriminator it fits."""

    state: dict[str, torch.Tensor]
    layout: str
    width: float
    periods: tuple[int, ...]
    source: str  # what the file was read as, for the log

    def build(self) -> VitsDiscriminator:
        discriminator = VitsDiscriminator(self.periods, width=self.width, layout=self.layout)
        discriminator.load_state_dict(self.state)
        return discriminator


def read_discriminator(path: str | Path) -> ImportedDiscriminator:
    """Any of the three sources above, from a folder or a file."""
    path = Path(path)
    where = f"vits.discriminator: {path}"
    if path.is_dir():
        if (path / OWN_FILE).is_file():
            return _read_own(path / OWN_FILE)
        for name in HF_FILES:
            if (path / name).is_file():
                return _read_foreign(_load(path / name, where), _periods_from_config(path), f"finetune-hf-vits {name}",
                                     f"{where}/{name}")
        raise UserError(f"{where} holds none of {OWN_FILE} (an hf_vclone voice or checkpoint), {', '.join(HF_FILES)} "
                        "(a finetune-hf-vits model); give one of those folders, an original VITS D_*.pth, or remove "
                        "the key for a fresh discriminator")
    if not path.is_file():
        raise UserError(f"{where} does not exist; give an hf_vclone voice folder, a finetune-hf-vits model folder "
                        "or an original VITS D_*.pth, or remove the key for a fresh discriminator")
    if path.name == OWN_FILE:
        return _read_own(path)
    state = _load(path, where)
    if "model" in state and isinstance(state["model"], dict):  # a VITS training checkpoint
        return _read_foreign(state["model"], PERIODS, "original VITS checkpoint", where)
    return _read_foreign(state, _periods_from_config(path.parent), "state dict", where)


def _load(path: Path, where: str) -> dict:
    if path.suffix == ".safetensors":
        return load_file(str(path))
    return read_torch_checkpoint(path, where, "a D_*.pth of a VITS run, or a safetensors file")


def _periods_from_config(folder: Path) -> tuple[int, ...]:
    config = folder / "config.json"
    if config.is_file():
        periods = json.loads(config.read_text(encoding="utf-8")).get("discriminator_periods")
        if periods:
            return tuple(int(p) for p in periods)
    return PERIODS


def _read_own(path: Path) -> ImportedDiscriminator:
    state = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    n_scales = len({k.split(".")[1] for k in state if k.startswith("scales.")})
    layout = meta.get("layout") or next((name for name, (count, _) in LAYOUTS.items() if count == n_scales), "hifigan")
    first = state.get("periods.0.convs.0.parametrizations.weight.original1")
    width = float(meta["width"]) if "width" in meta else (first.shape[0] / BASE_CHANNELS if first is not None else 1.0)
    periods = tuple(int(p) for p in meta["periods"].split(",")) if meta.get("periods") else PERIODS
    imported = ImportedDiscriminator(state, layout, width, periods, "hf_vclone discriminator")
    _check(imported, f"vits.discriminator: {path}")
    return imported


def _read_foreign(state: dict, periods: tuple[int, ...], source: str, where: str) -> ImportedDiscriminator:
    """VITS' module layout (one scale sub-discriminator among the periods) into ours."""
    subs: dict[int, dict[str, torch.Tensor]] = {}
    unknown = []
    for key, value in state.items():
        bare = key
        for prefix in ("module.", "discriminator."):
            bare = bare[len(prefix):] if bare.startswith(prefix) else bare
        if not bare.startswith("discriminators."):
            continue  # the generator's weights beside it (finetune-hf-vits), or optimizer entries
        match = _SUB.match(bare)
        if match is None or not isinstance(value, torch.Tensor):
            unknown.append(key)
            continue
        index, layer, conv, param = match.groups()
        subs.setdefault(int(index), {})[f"{'convs.' + conv if conv else 'post'}.{param}"] = value
    if unknown:
        raise UserError(f"{where}: keys that are not a VITS discriminator's: {', '.join(unknown[:5])}"
                        f"{' ...' if len(unknown) > 5 else ''}; is this a discriminator checkpoint (D_*.pth)?")
    if not subs:
        raise UserError(f"{where} has no discriminators.* keys: it holds no VITS discriminator "
                        "(a generator checkpoint G_*.pth, or a VitsModel without its discriminator?)")
    scale_ids = [i for i in sorted(subs) if _rank(subs[i]) == 3]
    period_ids = [i for i in sorted(subs) if _rank(subs[i]) == 4]
    if len(scale_ids) != 1 or len(period_ids) != len(periods):
        raise UserError(f"{where}: {len(scale_ids)} scale and {len(period_ids)} period sub-discriminators; the VITS "
                        f"layout has 1 scale and {len(periods)} periods ({', '.join(map(str, periods))})")
    first = _weight(subs[period_ids[0]], "convs.0")
    width = first.shape[0] / BASE_CHANNELS
    ours: dict[str, torch.Tensor] = {}
    for name, index in [("scales.0", scale_ids[0])] + [(f"periods.{k}", i) for k, i in enumerate(period_ids)]:
        for layer in sorted({k.rsplit(".", 1)[0] for k in subs[index]}):
            params = subs[index]
            prefix = f"{name}.{layer}"
            if f"{layer}.weight_g" in params:
                g, v = params[f"{layer}.weight_g"], params.get(f"{layer}.weight_v")
                if v is None:
                    raise UserError(f"{where}: {layer}.weight_g of sub-discriminator {index} has no weight_v")
            else:
                v = _weight(params, layer)
                g = torch.linalg.vector_norm(v.float(), dim=tuple(range(1, v.dim())), keepdim=True).to(v.dtype)
            ours[f"{prefix}.parametrizations.weight.original0"] = g
            ours[f"{prefix}.parametrizations.weight.original1"] = v
            if f"{layer}.bias" in params:
                ours[f"{prefix}.bias"] = params[f"{layer}.bias"]
    imported = ImportedDiscriminator(ours, "vits", width, tuple(periods), source)
    _check(imported, where)
    return imported


def _rank(params: dict[str, torch.Tensor]) -> int:
    return _weight(params, "convs.0").dim()


def _weight(params: dict[str, torch.Tensor], layer: str) -> torch.Tensor:
    for name in ("weight", "weight_v"):
        if f"{layer}.{name}" in params:
            return params[f"{layer}.{name}"]
    raise UserError(f"a sub-discriminator has no {layer}.weight (or weight_v): the checkpoint is incomplete")


def _check(imported: ImportedDiscriminator, where: str) -> None:
    """Every key and shape against the discriminator the state must fill, named when they differ."""
    target = VitsDiscriminator(imported.periods, width=imported.width, layout=imported.layout).state_dict()
    problems = state_dict_problems(imported.state, target)
    if problems:
        raise UserError(f"{where} does not fit a {imported.layout}-layout discriminator of width {imported.width:g}: "
                        + " | ".join(problems))
