"""Text-to-speech alignment: where the decoder looks in the text while it speaks.

An autoregressive TTS model reads its text through encoder-decoder (cross-) attention. Plotted
as decoder steps against text tokens, a model that reads its text draws a clean diagonal; one
that ignores it draws a blur or a horizontal band (it stares at one token, or at none). It is
the first picture Tacotron and coqui users look at, and the failure it shows (attention that
stalls, skips or never reaches the end of the text) is one the loss does not.

`diagonality` puts one number on the picture, so a test or a training log can read it:
the Pearson correlation between decoder step and token position, with every cell of the
alignment weighted by its attention. Read the alignment as a joint distribution over (step,
token); the number is 1 when all the mass lies on a rising straight line, close to 1 for a
clean staircase (uneven speaking rates bend the line a little), 0 when where the decoder looks
does not depend on when (a horizontal band, a uniform blur), and negative when it reads
backwards. It is weighted rather than taken on each step's argmax so that mass off the path
counts against it: a wide blur whose peak happens to wander along the diagonal is not a clean
alignment.

A diagonal says where the decoder looks, not what it finds there: a model whose encoder carries
only position draws a clean diagonal over nothing (speecht5.init_text_embedding). Read it beside
CER, which says whether the text came out.
"""

from __future__ import annotations

import numpy as np


def diagonality(alignment: np.ndarray) -> float:
    """Attention-weighted Pearson correlation of decoder step and token index, for a (steps,
    tokens) alignment; 0.0 when either has no spread (one step, one token, one attended column)."""
    weights = np.asarray(alignment, dtype=np.float64)
    total = weights.sum()
    if total <= 0:
        return 0.0
    weights = weights / total
    steps = np.arange(weights.shape[0], dtype=np.float64)[:, None]
    tokens = np.arange(weights.shape[1], dtype=np.float64)[None, :]
    step_dev = steps - (weights * steps).sum()
    token_dev = tokens - (weights * tokens).sum()
    spread = np.sqrt((weights * step_dev**2).sum() * (weights * token_dev**2).sum())
    return float((weights * step_dev * token_dev).sum() / spread) if spread > 1e-12 else 0.0


def most_diagonal(per_layer: np.ndarray) -> np.ndarray:
    """The (steps, tokens) alignment of the layer with the highest `diagonality`, from (layers,
    steps, tokens).

    One layer rather than their average: a decoder needs only one layer to fetch the right token,
    and the others are free to look elsewhere (often broadly, at the whole sentence); averaging
    them in would blur a clean diagonal into a band, so a model that reads its text would look as
    if it did not. A model that ignores its text has no diagonal layer, so taking the best layer
    does not hide that."""
    return per_layer[int(np.argmax([diagonality(layer) for layer in per_layer]))]
