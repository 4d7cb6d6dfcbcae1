"""A SpeechT5 built from scratch can hear its text: the token embeddings are not drowned by positions."""

import torch

from conftest import TINY
from hf_vclone.config import ModelConfig
from hf_vclone.models.char_tokenizer import build_processor
from hf_vclone.models.speecht5 import SpeechT5Backend

TEXTS = ["the old farmer carried a heavy box near the river.", "xq zvkwp mbuug yjjfl h wqxwj sfk ilqa pfm xzbmb."]


def _centred_cosine_at_equal_positions(model, tokenizer) -> float:
    """How alike the encoder's outputs for two unrelated texts are, position by position (1: text-blind)."""
    model.eval()
    with torch.no_grad():
        a, b = (model.speecht5.encoder(input_values=torch.tensor([tokenizer(t)["input_ids"]])).last_hidden_state[0]
                for t in TEXTS)
    n = min(len(a), len(b))
    mean = torch.cat([a, b]).mean(0)
    return float(torch.nn.functional.cosine_similarity(a[:n] - mean, b[:n] - mean, dim=-1).mean())


def test_scratch_model_embeds_tokens_at_the_scale_of_the_positional_encoding(tmp_path) -> None:
    processor = build_processor(TEXTS * 20, tmp_path)
    torch.manual_seed(0)
    model = SpeechT5Backend().load_model(ModelConfig(name_or_path=None, init_config=dict(TINY)), processor)
    embed = model.speecht5.encoder.prenet.embed_tokens
    assert 0.8 < float(embed.weight.std()) < 1.2
    assert float(embed.weight[embed.padding_idx].abs().sum()) == 0.0
    heard = _centred_cosine_at_equal_positions(model, processor.tokenizer)
    # transformers' own init (std 0.02) for comparison: the encoder output is position, not text
    embed.weight.data.normal_(0.0, 0.02)
    blind = _centred_cosine_at_equal_positions(model, processor.tokenizer)
    assert blind > 0.9 and heard < 0.5, (blind, heard)
