"""`hf-vclone ui`: the local Gradio page (install with the [ui] extra)."""
