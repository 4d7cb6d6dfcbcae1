"""hf_vclone: clone a voice by fine-tuning a pretrained text-to-speech model.

    from hf_vclone import load_voice
    audio, rate = load_voice("outputs/quickstart").synthesize("Hello from my new voice.")
"""

__all__ = ["load_voice", "load_voices"]


def __getattr__(name: str):
    # Lazy: `import hf_vclone.config` (the CLI's recipe check) should not pay for torch and peft.
    if name in __all__:
        from . import synthesize

        return getattr(synthesize, name)
    raise AttributeError(f"module 'hf_vclone' has no attribute {name!r}")
