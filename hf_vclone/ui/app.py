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
from types import SimpleNamespace

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


class PageActions:
    """What the page's buttons do, on one workspace. Each returns what its outputs show; a failure
    is a one-line message in the status box, never a stack trace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def add_recording(self, audio_path: str | None, text: str):
        recorded = self.workspace.recorded
        if not audio_path:
            return _problem(UserError("record a clip first")), len(recorded)
        if not (text or "").strip():
            return _problem(UserError("type what is said in the recording")), len(recorded)
        recorded.append(Clip(Path(audio_path), text.strip()))
        return _ok(f"{len(recorded)} recorded clip(s) kept for this session."), len(recorded)

    def slice_long(self, recordings: list[str] | None, language: str):
        import gradio as gr
        import pandas as pd

        try:
            sliced = slice_recordings([Path(f) for f in recordings or []], _fresh(self.workspace.root / "long"),
                                      None if language == "auto" else language)
        except Exception as err:  # noqa: BLE001
            return _problem(err), gr.update(), gr.update(), gr.update()
        review = pd.DataFrame(sliced.review, columns=["clip", "recording", "start", "end", "transcript", "flag"])
        return _ok(sliced.summary), sliced.files, sliced.transcripts, review

    def check(self, files: list[str] | None, transcripts: str, recipe_file: str, eval_size: int):
        import pandas as pd

        space = self.workspace
        empty = pd.DataFrame(columns=["clip", "seconds", "transcript"]), pd.DataFrame(columns=["clip", "reason"])
        try:
            uploaded = parse_transcripts([Path(f) for f in files or []], transcripts or "") if files else []
            clips = uploaded + space.recorded
            if not clips:
                raise UserError("no clips: upload audio files or record one")
            write_corpus(clips, _fresh(space.corpus))
            report = check_data(page_recipe(recipe_file, space.corpus, space.root / "doctor", "full", 1,
                                            int(eval_size)))
        except Exception as err:  # noqa: BLE001 - whatever stops the check is shown, named, on the page
            return _problem(err), *empty
        kept = pd.DataFrame(report.kept, columns=["clip", "seconds", "transcript"])
        dropped = pd.DataFrame(report.dropped, columns=["clip", "reason"])
        return _ok(report.summary), kept, dropped

    def start(self, recipe_file: str, strategy: str, steps: int, eval_size: int):
        space = self.workspace
        if space.job is not None and space.job.running:
            return _problem(UserError("a run is already training; wait for it to finish"))
        if not (space.corpus / "metadata.csv").is_file():
            return _problem(UserError("check the data first (Data tab)"))
        try:
            recipe = page_recipe(recipe_file, space.corpus, space.next_run(), strategy, int(steps), int(eval_size))
        except Exception as err:  # noqa: BLE001
            return _problem(err)
        space.job = TrainingJob(recipe).start()
        return _ok(f"training started; outputs in {recipe.output.dir}")

    def poll(self):
        import gradio as gr
        import pandas as pd

        job = self.workspace.job
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

    def speak(self, voice_dir: str, text: str):
        from ..synthesize import load_voice

        try:
            if not (text or "").strip():
                raise UserError("type something to say")
            audio, rate = load_voice(voice_dir.strip()).synthesize(text)
        except Exception as err:  # noqa: BLE001
            return _problem(err), None
        return _ok(f"{len(audio) / rate:.1f} s of audio"), (rate, audio)

    def publish(self, voice_dir: str, repo_id: str, public: bool):
        from ..publish import push_voice

        try:
            url = push_voice(voice_dir.strip(), repo_id.strip(), private=not public)
        except Exception as err:  # noqa: BLE001
            return _problem(err)
        return _ok(f"pushed: {url}")


def build(workspace: Workspace):
    """The page: four tabs, each laid out by its own function, wired to `PageActions`."""
    import gradio as gr

    actions = PageActions(workspace)
    player = gr.WaveformOptions(show_recording_waveform=False)  # the browser's own <audio> player
    with gr.Blocks(title="hf_vclone") as page:
        gr.Markdown("# hf_vclone\nClone a voice by fine-tuning a text-to-speech model.")
        with gr.Tab("1. Data"):
            data = _data_tab(gr)
        with gr.Tab("2. Train"):
            train = _train_tab(gr, workspace.recipe_files(), player)
        with gr.Tab("3. Speak"):
            speak = _speak_tab(gr, player)
        with gr.Tab("4. Publish"):
            publish = _publish_tab(gr)

        data.slice.click(actions.slice_long, [data.long_files, data.language],
                         [data.status, data.files, data.transcripts, data.review])
        data.add.click(actions.add_recording, [data.recording, data.said], [data.status, data.count])
        data.check.click(actions.check, [data.files, data.transcripts, train.recipe, data.eval_size],
                         [data.status, data.kept, data.dropped])
        train.train.click(actions.start, [train.recipe, train.strategy, train.steps, data.eval_size], [train.status])
        gr.Timer(1.0).tick(actions.poll, None, [train.run_status, train.curve, train.sample, speak.voice])
        speak.speak.click(actions.speak, [speak.voice, speak.text], [speak.status, speak.spoken])
        publish.push.click(actions.publish, [speak.voice, publish.repo, publish.public], [publish.status])
    return page


def _data_tab(gr) -> SimpleNamespace:
    with gr.Accordion("From long recordings: cut at pauses and transcribe", open=False):
        long_files = gr.File(label="Long recordings (wav, flac, ogg, mp3)", file_count="multiple",
                             type="filepath", elem_id="long_recordings")
        language = gr.Textbox(label="Language (or auto)", value="en", elem_id="language")
        slice_button = gr.Button("Cut into clips and transcribe", elem_id="slice")
        review = gr.Dataframe(label="clips found (the transcripts go to the box below, to edit)",
                              headers=["clip", "recording", "start", "end", "transcript", "flag"], elem_id="review")
    files = gr.File(label="Clips (wav, flac, ogg, mp3)", file_count="multiple", type="filepath", elem_id="clips")
    transcripts = gr.Textbox(label="Transcripts: one `file name|text` line per clip", lines=6, elem_id="transcripts")
    with gr.Accordion("Or record clips", open=False):
        recording = gr.Audio(sources=["microphone"], type="filepath", label="Recording")
        said = gr.Textbox(label="What the recording says")
        add = gr.Button("Keep this recording")
        count = gr.Number(label="recorded clips kept", value=0, interactive=False)
    eval_size = gr.Slider(0, 10, value=2, step=1, label="clips held out to listen to (never trained on)",
                          elem_id="eval_size")
    check = gr.Button("Check the data", variant="primary", elem_id="check")
    status = gr.Markdown(elem_id="data_status")
    kept = gr.Dataframe(label="kept", headers=["clip", "seconds", "transcript"], elem_id="kept")
    dropped = gr.Dataframe(label="dropped, and why", headers=["clip", "reason"], elem_id="dropped")
    return SimpleNamespace(long_files=long_files, language=language, slice=slice_button, review=review, files=files,
                           transcripts=transcripts, recording=recording, said=said, add=add, count=count,
                           eval_size=eval_size, check=check, status=status, kept=kept, dropped=dropped)


def _train_tab(gr, recipes: list[str], player) -> SimpleNamespace:
    recipe = gr.Dropdown(recipes, value=recipes[0] if recipes else None, label="Base model and settings (recipe)",
                         elem_id="recipe")
    strategy = gr.Dropdown(STRATEGIES, value="full", label="Strategy", elem_id="strategy")
    steps = gr.Slider(1, 2000, value=200, step=1, label="Training steps", elem_id="steps")
    train = gr.Button("Train", variant="primary", elem_id="train")
    status = gr.Markdown(elem_id="train_status")
    run_status = gr.Markdown("No run yet.", elem_id="run_status")
    curve = gr.LinePlot(x="step", y="loss", title="training loss", elem_id="loss_curve")
    sample = gr.Audio(label="latest held-out sample", type="filepath", interactive=False, elem_id="sample",
                      waveform_options=player)
    return SimpleNamespace(recipe=recipe, strategy=strategy, steps=steps, train=train, status=status,
                           run_status=run_status, curve=curve, sample=sample)


def _speak_tab(gr, player) -> SimpleNamespace:
    voice = gr.Textbox(label="Voice folder (or Hub repo id)", elem_id="voice")
    text = gr.Textbox(label="Text", value="Hello, this is my new voice.", elem_id="text")
    speak = gr.Button("Speak", variant="primary", elem_id="speak")
    status = gr.Markdown(elem_id="speak_status")
    spoken = gr.Audio(label="spoken", type="numpy", interactive=False, elem_id="spoken", waveform_options=player)
    return SimpleNamespace(voice=voice, text=text, speak=speak, status=status, spoken=spoken)


def _publish_tab(gr) -> SimpleNamespace:
    gr.Markdown("Needs a token: set HF_TOKEN or run `hf auth login` before starting the page.")
    repo = gr.Textbox(label="Hub repo id", placeholder="your-name/my-voice")
    public = gr.Checkbox(label="public (default: private)")
    push = gr.Button("Push to the Hub")
    status = gr.Markdown()
    return SimpleNamespace(repo=repo, public=public, push=push, status=status)


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
