"""A tiny random-weight model of the Qwen2 architecture, written as GGUF for tests.

It has what a real Qwen2.5 instruct GGUF has where our code can tell the difference: architecture
"qwen2" (q/k/v biases, grouped-query attention, NEOX rope), a byte-level BPE vocabulary that can
emit any UTF-8 (so Korean and Han characters can come out of it), ChatML special tokens and the
Qwen2.5 chat template. Its weights are noise, so its text is noise: it exercises the real
chat-template, grammar and decoding paths of llama.cpp, not quality.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from edge.ops.byte_bpe import byte_to_unicode

ARCHITECTURE = "qwen2"
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

# Merges that make common English and JSON pieces single tokens; every result is in the vocabulary.
_MERGES = (
    ("Ġ", "t"),
    ("h", "e"),
    ("Ġt", "he"),
    ("i", "n"),
    ("Ġ", "a"),
    ("e", "r"),
    ('"', ":"),
    ('"', ","),
    ("Ġ", '"'),
    ("{", '"'),
)

# The chat template of the Qwen2.5 instruct models, verbatim (no trailing newline).
QWEN25_CHAT_TEMPLATE = (
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    '    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.'
    '\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}\n'
    "    {%- for tool in tools %}\n"
    '        {{- "\\n" }}\n'
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and '
    'arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, '
    '\\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}\n'
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or '
    '(message.role == "assistant" and not message.tool_calls) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    '    {%- elif message.role == "assistant" %}\n'
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    '            {{- \'\\n<tool_call>\\n{"name": "\' }}\n'
    "            {{- tool_call.name }}\n"
    '            {{- \'", "arguments": \' }}\n'
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    '    {%- elif message.role == "tool" %}\n'
    '        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}\n'
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}\n'
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}"
)


def qwen2_vocabulary() -> tuple[list[str], list[int], list[str]]:
    """(tokens, token types, merges): all 256 bytes, the merge results, then the ChatML specials."""
    from gguf import TokenType

    tokens = list(byte_to_unicode().values())
    types = [int(TokenType.NORMAL)] * len(tokens)
    merges: list[str] = []
    for left, right in _MERGES:
        if left not in tokens or right not in tokens:
            raise AssertionError(f"merge {left!r} + {right!r} uses a piece that is not in the vocabulary")
        merges.append(f"{left} {right}")
        if left + right not in tokens:
            tokens.append(left + right)
            types.append(int(TokenType.NORMAL))
    tokens.extend(SPECIAL_TOKENS)
    types.extend([int(TokenType.CONTROL)] * len(SPECIAL_TOKENS))
    return tokens, types, merges


def write_random_qwen2_gguf(
    out: Path,
    *,
    seed: int = 0,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_head_kv: int = 2,
    n_ff: int = 128,
    context_length: int = 4096,
) -> Path:
    """Write the model to `out` (atomically: a temporary file in the same folder, then a rename).

    The same arguments give the same bytes. Returns the absolute path written.
    """
    from gguf import GGUFWriter, LlamaFileType

    if n_embd % n_head or n_head % n_head_kv:
        raise ValueError("n_embd must divide by n_head, and n_head by n_head_kv")
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tokens, types, merges = qwen2_vocabulary()
    n_vocab = len(tokens)
    n_embd_kv = n_embd // n_head * n_head_kv
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    # Shapes are numpy order (rows = outputs); GGUF stores them reversed, as llama.cpp expects.
    tensors: list[tuple[str, np.ndarray]] = [
        ("token_embd.weight", weight(n_vocab, n_embd)),
        ("output_norm.weight", np.ones(n_embd, dtype=np.float32)),
        ("output.weight", weight(n_vocab, n_embd)),
    ]
    for i in range(n_layer):
        blk = f"blk.{i}"
        tensors += [
            (f"{blk}.attn_norm.weight", np.ones(n_embd, dtype=np.float32)),
            (f"{blk}.attn_q.weight", weight(n_embd, n_embd)),
            (f"{blk}.attn_q.bias", weight(n_embd)),
            (f"{blk}.attn_k.weight", weight(n_embd_kv, n_embd)),
            (f"{blk}.attn_k.bias", weight(n_embd_kv)),
            (f"{blk}.attn_v.weight", weight(n_embd_kv, n_embd)),
            (f"{blk}.attn_v.bias", weight(n_embd_kv)),
            (f"{blk}.attn_output.weight", weight(n_embd, n_embd)),
            (f"{blk}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32)),
            (f"{blk}.ffn_gate.weight", weight(n_ff, n_embd)),
            (f"{blk}.ffn_up.weight", weight(n_ff, n_embd)),
            (f"{blk}.ffn_down.weight", weight(n_embd, n_ff)),
        ]

    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer = GGUFWriter(tmp, ARCHITECTURE)
        writer.add_name("edge random-weight qwen2 test model")
        writer.add_file_type(int(LlamaFileType.ALL_F32))
        writer.add_context_length(context_length)
        writer.add_embedding_length(n_embd)
        writer.add_block_count(n_layer)
        writer.add_feed_forward_length(n_ff)
        writer.add_head_count(n_head)
        writer.add_head_count_kv(n_head_kv)
        writer.add_layer_norm_rms_eps(1e-6)
        writer.add_rope_freq_base(1_000_000.0)
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("qwen2")
        writer.add_token_list(tokens)
        writer.add_token_types(types)
        writer.add_token_merges(merges)
        writer.add_bos_token_id(tokens.index("<|endoftext|>"))
        writer.add_eos_token_id(tokens.index("<|im_end|>"))
        writer.add_pad_token_id(tokens.index("<|endoftext|>"))
        writer.add_add_bos_token(False)
        writer.add_chat_template(QWEN25_CHAT_TEMPLATE)
        for name, data in tensors:
            writer.add_tensor(name, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
