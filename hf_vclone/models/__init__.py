"""Model backends (one module each) and what they share. Their registry, by the name a recipe
gives in `model.type`, is hf_vclone.backends.

This package imports nothing itself, so that a light module in it (a recipe section, the speaker
table, the loader) can be imported without loading every backend."""
