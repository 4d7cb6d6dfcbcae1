"""Set a trained VITS voice's speaking rate from its recipe's training clips, without training.

    .venv/bin/python scripts/calibrate_vits_pace.py RECIPE.yaml model.name_or_path=CHECKPOINT \
        vits.calibrate_length=1.3 output.dir=OUT [key=value ...]

The same code path as a run with `vits.calibrate_length` (vits/pace.py, through the trainer's
`finalize_voice`), for a voice whose run did not set it: the recipe's data are prepared, the voice
is loaded, nothing trains, and the voice is saved to `output.dir` with the measured rate in its
config and vclone.json. `make vits-base` uses it on the last stage's checkpoint. Set the noise
scales the voice will speak with first (`model.config_overrides.noise_scale_duration=0`): the rate
is measured on durations drawn as the voice draws them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hf_vclone.config import load_recipe
from hf_vclone.finetune import FineTuneRun
from hf_vclone.model_card import write_card
from hf_vclone.voice_io import META_FILE, read_meta


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    recipe = load_recipe(argv[0], argv[1:])
    if recipe.model.type != "vits" or recipe.vits.calibrate_length is None:
        print("calibrate_vits_pace: a VITS recipe with vits.calibrate_length set (e.g. vits.calibrate_length=1.0)")
        return 2
    run = FineTuneRun(recipe)
    run.setup()
    result = run.finish(train_seconds=0.0)
    # Nothing trained here, so the voice's origin is the source's, not the source itself
    source = read_meta(recipe.model.name_or_path)
    path = Path(result.output_dir) / META_FILE
    record = json.loads(path.read_text(encoding="utf-8"))
    record |= {"base_model": source.base_model, "strategy": source.strategy}
    record.pop("warm_start", None)
    record |= {k: source.extra[k] for k in ("warm_start", "strategy_choice") if k in source.extra}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    write_card(result.output_dir)
    print(f"wrote {result.output_dir}: {run.settled['pace']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
