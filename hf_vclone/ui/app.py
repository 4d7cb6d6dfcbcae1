"""`hf-vclone ui`: a local Gradio page to clone a voice: clips in, data doctor, training with a
live loss curve and samples, speaking with any voice, and publishing it.

The page is a thin layer: clips become an LJSpeech folder (`corpus.py`), a recipe from
`recipes/` plus the page's choices becomes the run (`jobs.py`), and training, synthesis and
pushing are the same `FineTuneRun`, `load_voice` and `push_voice` the CLI uses. Every failure
shows as a one-line message in the page's status box, never as a stack trace.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import UserError
from .corpus import Clip, parse_transcripts, slice_recordings, write_corpus
from .jobs import TrainingJob, check_data, page_recipe

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a local tool sends nothing anywhere
STRATEGIES = ["full", "freeze_lower", "lora", "head_only", "auto"]


def _ok(message: str) -> str:
    return f"**OK.** {message}"


def _problem(err: Exception) -> str:
    return f"**Problem:** {' '.join(str(err).split())}"


class Workspace:
    """The page's folder: one corpus (rebuilt on each check) and one output folder per run."""

    def __init__(self, root: str | Path, recipes: str | Path) -> None:
        self.root = Path(root).resolve()
        self.recipes = Path(recipes)
        self.job: TrainingJob | None = None
        self.recorded: list[Clip] = []

    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    def recipe_files(self) -> list[str]:
        return sorted(str(p) for p in self.recipes.glob("*.yaml"))

    def next_run(self) -> Path:
        runs = self.root / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        return runs / f"run-{time.strftime('%Y%m%d-%H%M%S')}"


def build(workspace: Workspace):
    import gradio as gr
    import pandas as pd

    def add_recording(audio_path: str | None, text: str):
        if not audio_path:
            return _problem(UserError("record a clip first")), len(workspace.recorded)
        if not (text or "").strip():
            return _problem(UserError("type what is said in the recording")), len(workspace.recorded)
        workspace.recorded.append(Clip(Path(audio_path), text.strip()))
        return _ok(f"{len(workspace.recorded)} recorded clip(s) kept for this session."), len(workspace.recorded)

    def slice_long(recordings: list[str] | None, language: str):
        try:
            sliced = slice_recordings([Path(f) for f in recordings or []], _fresh(workspace.root / "long"),
                                      None if language == "auto" else language)
        except Exception as err:  # noqa: BLE001
            return _problem(err), gr.update(), gr.update(), gr.update()
        review = pd.DataFrame(sliced.review, columns=["clip", "recording", "start", "end", "transcript", "flag"])
        return _ok(sliced.summary), sliced.files, sliced.transcripts, review

    def check(files: list[str] | None, transcripts: str, recipe_file: str, eval_size: int):
        empty = pd.DataFrame(columns=["clip", "seconds", "transcript"]), pd.DataFrame(columns=["clip", "reason"])
        try:
            uploaded = parse_transcripts([Path(f) for f in files or []], transcripts or "") if files else []
            clips = uploaded + workspace.recorded
            if not clips:
                raise UserError("no clips: upload audio files or record one")
            write_corpus(clips, _fresh(workspace.corpus))
            report = check_data(page_recipe(recipe_file, workspace.corpus, workspace.root / "doctor", "full", 1,
                                            int(eval_size)))
        except Exception as err:  # noqa: BLE001 - whatever stops the check is shown, named, on the page
            return _problem(err), *empty
        kept = pd.DataFrame(report.kept, columns=["clip", "seconds", "transcript"])
        dropped = pd.DataFrame(report.dropped, columns=["clip", "reason"])
        return _ok(report.summary), kept, dropped

    def start(recipe_file: str, strategy: str, steps: int, eval_size: int):
        if workspace.job is not None and workspace.job.running:
            return _problem(UserError("a run is already training; wait for it to finish"))
        if not (workspace.corpus / "metadata.csv").is_file():
            return _problem(UserError("check the data first (Data tab)"))
        try:
            recipe = page_recipe(recipe_file, workspace.corpus, workspace.next_run(), strategy, int(steps), int(eval_size))
        except Exception as err:  # noqa: BLE001
            return _problem(err)
        workspace.job = TrainingJob(recipe).start()
        return _ok(f"training started; outputs in {recipe.output.dir}")

    def poll():
        job = workspace.job
        if job is None:
            return "No run yet.", None, None, gr.update()
        p = job.progress
        if p.state == "failed":
            status = _problem(UserError(p.error or "training failed"))
        elif p.state == "done":
            status = _ok(f"done: the voice is in {p.out}")
        else:
            status = f"{p.state}: step {p.step} of {p.max_steps or '?'}"
        curve = pd.DataFrame(p.losses, columns=["step", "loss"]) if p.losses else None
        sample = str(p.samples[0]) if p.samples else None
        voice = str(p.out) if p.state == "done" else gr.update()
        return status, curve, sample, voice

    def speak(voice_dir: str, text: str):
        from ..synthesize import load_voice

        try:
            if not (text or "").strip():
                raise UserError("type something to say")
            audio, rate = load_voice(voice_dir.strip()).synthesize(text)
        except Exception as err:  # noqa: BLE001
            return _problem(err), None
        return _ok(f"{len(audio) / rate:.1f} s of audio"), (rate, audio)

    def publish(voice_dir: str, repo_id: str, public: bool):
        from ..publish import push_voice

        try:
            url = push_voice(voice_dir.strip(), repo_id.strip(), private=not public)
        except Exception as err:  # noqa: BLE001
            return _problem(err)
        return _ok(f"pushed: {url}")

    recipes = workspace.recipe_files()
    player = gr.WaveformOptions(show_recording_waveform=False)  # the browser's own <audio> player
    with gr.Blocks(title="hf_vclone") as page:
        gr.Markdown("# hf_vclone\nClone a voice by fine-tuning a text-to-speech model.")
        with gr.Tab("1. Data"):
            with gr.Accordion("From long recordings: cut at pauses and transcribe", open=False):
                long_files = gr.File(label="Long recordings (wav, flac, ogg, mp3)", file_count="multiple",
                                     type="filepath", elem_id="long_recordings")
                language = gr.Textbox(label="Language (or auto)", value="en", elem_id="language")
                slice_button = gr.Button("Cut into clips and transcribe", elem_id="slice")
                review = gr.Dataframe(label="clips found (the transcripts go to the box below, to edit)",
                                      headers=["clip", "recording", "start", "end", "transcript", "flag"],
                                      elem_id="review")
            files = gr.File(label="Clips (wav, flac, ogg, mp3)", file_count="multiple", type="filepath",
                            elem_id="clips")
            transcripts = gr.Textbox(label="Transcripts: one `file name|text` line per clip", lines=6,
                                     elem_id="transcripts")
            with gr.Accordion("Or record clips", open=False):
                recording = gr.Audio(sources=["microphone"], type="filepath", label="Recording")
                said = gr.Textbox(label="What the recording says")
                add = gr.Button("Keep this recording")
                count = gr.Number(label="recorded clips kept", value=0, interactive=False)
            eval_size = gr.Slider(0, 10, value=2, step=1, label="clips held out to listen to (never trained on)",
                                  elem_id="eval_size")
            check_button = gr.Button("Check the data", variant="primary", elem_id="check")
            data_status = gr.Markdown(elem_id="data_status")
            kept = gr.Dataframe(label="kept", headers=["clip", "seconds", "transcript"], elem_id="kept")
            dropped = gr.Dataframe(label="dropped, and why", headers=["clip", "reason"], elem_id="dropped")
        with gr.Tab("2. Train"):
            recipe = gr.Dropdown(recipes, value=recipes[0] if recipes else None, label="Base model and settings (recipe)",
                                 elem_id="recipe")
            strategy = gr.Dropdown(STRATEGIES, value="full", label="Strategy", elem_id="strategy")
            steps = gr.Slider(1, 2000, value=200, step=1, label="Training steps", elem_id="steps")
            train_button = gr.Button("Train", variant="primary", elem_id="train")
            train_status = gr.Markdown(elem_id="train_status")
            run_status = gr.Markdown("No run yet.", elem_id="run_status")
            curve = gr.LinePlot(x="step", y="loss", title="training loss", elem_id="loss_curve")
            sample = gr.Audio(label="latest held-out sample", type="filepath", interactive=False, elem_id="sample",
                              waveform_options=player)
        with gr.Tab("3. Speak"):
            voice = gr.Textbox(label="Voice folder (or Hub repo id)", elem_id="voice")
            text = gr.Textbox(label="Text", value="Hello, this is my new voice.", elem_id="text")
            speak_button = gr.Button("Speak", variant="primary", elem_id="speak")
            speak_status = gr.Markdown(elem_id="speak_status")
            spoken = gr.Audio(label="spoken", type="numpy", interactive=False, elem_id="spoken", waveform_options=player)
        with gr.Tab("4. Publish"):
            gr.Markdown("Needs a token: set HF_TOKEN or run `hf auth login` before starting the page.")
            repo = gr.Textbox(label="Hub repo id", placeholder="your-name/my-voice")
            public = gr.Checkbox(label="public (default: private)")
            push_button = gr.Button("Push to the Hub")
            push_status = gr.Markdown()

        slice_button.click(slice_long, [long_files, language], [data_status, files, transcripts, review])
        add.click(add_recording, [recording, said], [data_status, count])
        check_button.click(check, [files, transcripts, recipe, eval_size], [data_status, kept, dropped])
        train_button.click(start, [recipe, strategy, steps, eval_size], [train_status])
        gr.Timer(1.0).tick(poll, None, [run_status, curve, sample, voice])
        speak_button.click(speak, [voice, text], [speak_status, spoken])
        push_button.click(publish, [voice, repo, public], [push_status])
    return page


def _fresh(folder: Path) -> Path:
    """An empty folder: a re-check must not keep clips the user has since removed."""
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def launch(workspace: str | Path = "outputs/ui", recipes: str | Path = "recipes", host: str = "127.0.0.1",
           port: int | None = None, block: bool = True):
    """Start the page; with block=False returns (page, url) and serves in the background."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise UserError("the page needs Gradio: pip install -e '.[ui]'") from None
    space = Workspace(workspace, recipes)
    if not space.recipe_files():
        raise UserError(f"no recipes (*.yaml) in {recipes}; pass --recipes with a folder of recipes")
    page = build(space)
    _, url, _ = page.launch(server_name=host, server_port=port, prevent_thread_lock=not block, share=False,
                            inbrowser=False, quiet=True)
    return page, url
