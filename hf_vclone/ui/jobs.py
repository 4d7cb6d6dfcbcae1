"""What the page runs: the recipe, the data doctor and training, through the same code as the CLI.

A run from the page is a recipe file (the base model and its settings) with the page's choices
written over it as `key=value` overrides, exactly as on the command line; `FineTuneRun` does
the rest. Training runs in a background thread and reports through a TrainerCallback, so the
page can poll its progress, loss curve and the samples each evaluation writes.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from transformers import TrainerCallback

from ..config import Recipe, load_recipe
from ..errors import UserError
from ..backends import recipe_backend
from ..finetune import FineTuneRun
from ..recipe_data import prepare_recipe_data


def page_recipe(recipe_file: str | Path, corpus: Path, out: Path, strategy: str, max_steps: int,
                eval_size: int) -> Recipe:
    """The chosen recipe with the page's data, strategy and length (the recipe's base model stays)."""
    overrides = [f"data.path={corpus}", "data.format=ljspeech", "data.speaker=null", "data.generate_demo=false",
                 "data.max_minutes=null", f"data.eval_size={eval_size}", f"strategy.name={strategy}",
                 f"training.max_steps={max_steps}", f"output.dir={out}"]
    if eval_size > 0:
        # listen while it trains: evaluate (speak held-out sentences) four times over the run
        overrides += ["training.eval_strategy=steps", f"training.eval_steps={max(1, max_steps // 4)}"]
    return load_recipe(recipe_file, overrides)


@dataclass
class DoctorReport:
    kept: list[list]  # [clip id, seconds, transcript]
    dropped: list[list]  # [clip id, reason]
    summary: str


def check_data(recipe: Recipe) -> DoctorReport:
    """The data doctor: the recipe's own preparation (checks, clean-up, features) on the clips."""
    data = prepare_recipe_data(recipe, recipe_backend(recipe), Path(recipe.output.dir)).data
    kept = [[row["id"], round(float(row["seconds"]), 2), row["text"]]
            for split in (data.train, data.eval) if split is not None for row in split]
    dropped = [[s.get("id", ""), s.get("reason", "")] for s in data.skipped]
    return DoctorReport(kept, dropped, data.summary())


@dataclass
class Progress:
    state: str = "starting"  # starting | training | evaluating | done | failed
    step: int = 0
    max_steps: int = 0
    losses: list[tuple[int, float]] = field(default_factory=list)
    samples: list[Path] = field(default_factory=list)  # newest evaluation's clips
    error: str | None = None
    out: Path | None = None


class _Reporter(TrainerCallback):
    def __init__(self, progress: Progress, out: Path) -> None:
        self.progress, self.out = progress, out

    def on_train_begin(self, args, state, control, **kwargs):
        self.progress.state, self.progress.max_steps = "training", state.max_steps

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.progress.step = state.global_step
        if logs and "loss" in logs:
            self.progress.losses.append((state.global_step, float(logs["loss"])))

    def on_evaluate(self, args, state, control, **kwargs):
        folder = self.out / "eval_samples" / f"step-{state.global_step}"
        if folder.is_dir():
            self.progress.samples = sorted(folder.glob("*.wav"))


class TrainingJob:
    """One training run in a background thread; `progress` is safe to read while it runs."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.progress = Progress(out=Path(recipe.output.dir))
        self.thread = threading.Thread(target=self._run, name="hf-vclone-ui-training", daemon=True)

    def start(self) -> "TrainingJob":
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            job = FineTuneRun(self.recipe)
            job.setup()
            job.trainer.add_callback(_Reporter(self.progress, Path(self.recipe.output.dir)))
            seconds = job.train()
            self.progress.state = "evaluating"
            result = job.finish(seconds)
            if samples := sorted((result.output_dir / "samples").glob("*_fine_tuned.wav")):
                self.progress.samples = samples
            self.progress.state = "done"
        except (UserError, FileNotFoundError) as err:
            self.progress.error, self.progress.state = " ".join(str(err).split()), "failed"
        except Exception as err:  # noqa: BLE001 - a crash must reach the page, not die in a thread
            traceback.print_exc()
            self.progress.error = f"training crashed: {type(err).__name__}: {' '.join(str(err).split())[:300]} (the console has the traceback)"
            self.progress.state = "failed"

    @property
    def running(self) -> bool:
        return self.thread.is_alive()
