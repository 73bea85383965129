"""The generated Qwen2-architecture test model: its file, and that real llama.cpp runs it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, TokenType

from edge.llm.engine import LlmEngine, parse_json_output
from edge.ops.byte_bpe import byte_to_unicode
from edge.ops.synth.qwen_gguf import (
    QWEN25_CHAT_TEMPLATE,
    SPECIAL_TOKENS,
    qwen2_vocabulary,
    write_random_qwen2_gguf,
)


def _field(reader: GGUFReader, key: str) -> object:
    return reader.fields[key].contents()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_byte_map_covers_every_byte_once() -> None:
    mapping = byte_to_unicode()
    assert sorted(mapping) == list(range(256))
    assert len(set(mapping.values())) == 256
    assert all(ch.isprintable() and not ch.isspace() for ch in mapping.values())


def test_vocabulary_has_all_bytes_merges_and_chatml_specials() -> None:
    tokens, types, merges = qwen2_vocabulary()
    assert tokens[:256] == list(byte_to_unicode().values())
    assert len(tokens) == len(set(tokens)) == len(types)
    for merge in merges:
        left, right = merge.split(" ")
        assert left in tokens and right in tokens and left + right in tokens
    for special in SPECIAL_TOKENS:
        assert types[tokens.index(special)] == TokenType.CONTROL
    assert set(types[:-3]) == {TokenType.NORMAL}


def test_file_has_qwen2_metadata_and_tensors(qwen2_model: Path) -> None:
    reader = GGUFReader(qwen2_model)
    assert _field(reader, "general.architecture") == "qwen2"
    assert _field(reader, "tokenizer.ggml.model") == "gpt2"
    assert _field(reader, "tokenizer.ggml.pre") == "qwen2"
    assert _field(reader, "tokenizer.chat_template") == QWEN25_CHAT_TEMPLATE
    tokens = _field(reader, "tokenizer.ggml.tokens")
    assert tokens[_field(reader, "tokenizer.ggml.eos_token_id")] == "<|im_end|>"
    assert tokens[_field(reader, "tokenizer.ggml.bos_token_id")] == "<|endoftext|>"
    assert _field(reader, "tokenizer.ggml.add_bos_token") is False
    shapes = {t.name: tuple(int(d) for d in t.shape) for t in reader.tensors}
    # GGUF lists dims innermost first: (n_embd, n_vocab) is a [n_vocab, n_embd] matrix.
    assert shapes["token_embd.weight"] == (64, len(tokens))
    assert shapes["blk.1.attn_q.bias"] == (64,)
    assert shapes["blk.1.attn_k.weight"] == (64, 32)
    assert shapes["blk.1.attn_k.bias"] == (32,)
    assert shapes["blk.1.attn_v.bias"] == (32,)
    assert shapes["blk.1.ffn_down.weight"] == (128, 64)
    assert len(shapes) == 3 + 2 * 12


def test_same_seed_same_bytes_other_seed_other_weights(tmp_path: Path) -> None:
    a = write_random_qwen2_gguf(tmp_path / "a.gguf", seed=7)
    b = write_random_qwen2_gguf(tmp_path / "b.gguf", seed=7)
    c = write_random_qwen2_gguf(tmp_path / "c.gguf", seed=8)
    assert _sha(a) == _sha(b) != _sha(c)
    weights = {name: GGUFReader(p).get_tensor(0).data for name, p in (("a", a), ("c", c))}
    assert not np.array_equal(weights["a"], weights["c"])


def test_written_atomically_over_an_old_file(tmp_path: Path) -> None:
    out = tmp_path / "models" / "q.gguf"
    out.parent.mkdir()
    out.write_bytes(b"old")
    written = write_random_qwen2_gguf(out, n_layer=1)
    assert written == out.absolute()
    assert out.read_bytes()[:4] == b"GGUF"
    assert [p.name for p in out.parent.iterdir()] == ["q.gguf"]


def test_rejects_shapes_that_do_not_divide(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_head"):
        write_random_qwen2_gguf(tmp_path / "bad.gguf", n_embd=64, n_head=5)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def engine(qwen2_model: Path):
    with LlmEngine(qwen2_model, n_ctx=1024, threads=1) as llm:
        yield llm


def test_llama_cpp_loads_it_with_its_chat_template(engine: LlmEngine) -> None:
    assert engine.has_chat_template
    assert engine.info.n_vocab == len(qwen2_vocabulary()[0])


def test_byte_level_vocabulary_tokenizes_any_utf8(engine: LlmEngine) -> None:
    # No merge touches these characters, so each UTF-8 byte is one token.
    for text in ("한국어", "漢字", "🙂", "\x00\x7f"):
        assert engine.count_tokens(text) == len(text.encode("utf-8"))
    assert engine.count_tokens(" the") == 1  # "Ġ t" then "Ġt he" merge


def test_chat_completion_runs_through_the_chatml_template(engine: LlmEngine) -> None:
    messages = [{"role": "system", "content": "JSON only."}, {"role": "user", "content": "안녕하세요"}]
    # <|im_start|>system\n...<|im_end|>\n<|im_start|>user\n...<|im_end|>\n<|im_start|>assistant\n
    rendered = (
        1 + engine.count_tokens("system\nJSON only.") + 1 + engine.count_tokens("\n")
        + 1 + engine.count_tokens("user\n안녕하세요") + 1 + engine.count_tokens("\n")
        + 1 + engine.count_tokens("assistant\n")
    )  # fmt: skip
    assert engine.count_prompt_tokens(messages) == rendered
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    pieces: list[str] = []
    result = engine.chat_json(messages, schema, max_tokens=24, on_token=pieces.append)
    assert result.prompt_tokens == rendered
    assert 1 <= result.completion_tokens <= 25
    assert result.text.startswith("{")
    assert "".join(pieces).startswith(result.text.rstrip())
    parsed = parse_json_output(result.text)
    assert (parsed is not None and isinstance(parsed["a"], int)) or result.finish_reason == "length"
