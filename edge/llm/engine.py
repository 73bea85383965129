"""The local LLM (llama.cpp through llama-cpp-python), owned by one thread.

This is the only module that imports `llama_cpp`, and it does so lazily. The `Llama` object is
created, used and freed on a dedicated owner thread; every call from elsewhere becomes a job on
that thread's queue and comes back as a `concurrent.futures.Future` (the `submit_*` methods) or,
for the blocking methods, as its result. llama.cpp releases the GIL while it computes, so the
rest of the process keeps running while the model works.

Output is never trusted: schema-constrained generation can still stop at `max_tokens` mid-object,
so callers parse it with `parse_json_output` and validate the result themselves.
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from edge.core.errors import ModelError

llama_log = logging.getLogger("edge.llm.llama_cpp")

T = TypeVar("T")
Message = Mapping[str, str]
TokenCallback = Callable[[str], None]

FINISH_STOP = "stop"
FINISH_LENGTH = "length"
FINISH_CANCELLED = "cancelled"
PREFILL_SLICE = 128  # prompt tokens evaluated between two checks for a cancel
_CHAT_FORMAT_FROM_GGUF = "chat_template.default"


class LlmUnavailable(RuntimeError):
    """The LLM cannot be reached now (a server on the LAN that is down, slow or failing): not a verdict on
    the text; work that needed it waits for it to come back."""


class ContextOverflow(ValueError):
    """The prompt plus the output budget does not fit the context window."""

    def __init__(self, prompt_tokens: int, max_tokens: int, n_ctx: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.n_ctx = n_ctx
        super().__init__(
            f"prompt of {prompt_tokens} tokens plus {max_tokens} output tokens does not fit "
            f"the context window of {n_ctx} tokens; shorten the prompt or raise llm.n_ctx"
        )


@dataclass(frozen=True)
class LlmResult:
    """What one generation produced. `finish_reason`: "stop", "length" (hit max_tokens) or
    "cancelled"; `completion_tokens` counts every sampled token, the end-of-text token included."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float = 0.0

    @property
    def truncated(self) -> bool:
        return self.finish_reason != FINISH_STOP


@dataclass(frozen=True)
class LlmStats:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cancelled: int = 0

    def plus(self, result: LlmResult) -> LlmStats:
        """These counts with one more generation: a call cancelled before its first token counts only as
        cancelled."""
        if result.finish_reason == FINISH_CANCELLED and result.completion_tokens == 0:
            return dataclasses.replace(self, cancelled=self.cancelled + 1)
        return LlmStats(
            self.calls + 1, self.prompt_tokens + result.prompt_tokens,
            self.completion_tokens + result.completion_tokens, self.seconds + result.seconds,
            self.cancelled + (result.finish_reason == FINISH_CANCELLED),
        )  # fmt: skip


class ChatModel(Protocol):
    """What the box's LLM work needs from a model: `LlmEngine` (local), `RemoteEngine` (a LAN server) and
    `FailoverEngine` (the server, else the local model) provide it."""

    @property
    def n_ctx(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int: ...

    def chat_json(
        self,
        messages: Sequence[Message],
        schema: Mapping[str, Any],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
    ) -> LlmResult: ...

    def hold(self) -> None: ...

    def release(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    n_ctx: int
    n_vocab: int
    has_chat_template: bool


def parse_json_output(text: str) -> dict[str, Any] | None:
    """The JSON object in a model's output, or None when it is truncated, invalid or not an object.

    Raw newlines and tabs inside strings are accepted (models emit them; strict JSON does not).
    """
    try:
        value = json.loads(text.strip(), strict=False)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def defuse_special_tokens(text: str) -> str:
    """Break ChatML-style special-token text ("<|im_end|>") in untrusted content: prompts are
    tokenized with special-token parsing on, so a transcript could otherwise end a turn."""
    return text.replace("<|", "< |").replace("|>", "| >")


def plain_prompt(messages: Sequence[Message]) -> str:
    """A chat rendered as a plain completion prompt, for models without a chat template."""
    headers = {"user": "### Input:\n", "assistant": "### Response:\n"}
    parts = [headers.get(m["role"], "") + defuse_special_tokens(m["content"].strip()) for m in messages]
    return "\n\n".join(parts) + "\n\n### Response:\n"


class _Cancelled(Exception):
    """Raised from inside llama-cpp-python's sampling loop to stop a generation."""


class _Generation:
    """Follows one generation token by token. llama-cpp-python calls `Llama.sample` once per
    generated token on the owner thread; the hooked model calls this right after each one."""

    def __init__(
        self, detokenize: Callable[[list[int]], bytes], on_token: TokenCallback | None, cancelled: Callable[[], bool]
    ) -> None:
        self.tokens = 0
        self.pieces: list[str] = []
        self._detokenize = detokenize
        self._on_token = on_token
        self._cancelled = cancelled
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def check(self) -> None:
        if self._cancelled():
            raise _Cancelled

    def __call__(self, token: int) -> None:
        self.tokens += 1
        self.check()
        # Byte-level tokens can split a character; the incremental decoder holds the partial bytes.
        piece = self._decoder.decode(self._detokenize([token]))
        if piece:
            self.pieces.append(piece)
            if self._on_token is not None:
                self._on_token(piece)


@functools.cache
def _route_llama_log() -> Any:
    """Send llama.cpp's own log to Python logging (DEBUG, its errors INFO: `edge -vv` / `-v` show them)
    instead of llama-cpp-python's printing to stderr, which prints some warnings even when not verbose
    (Gemma 3's "using full-size SWA cache"). Cached: ctypes must keep the callback alive while it is set."""
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", "replace").rstrip()
        if message:
            llama_log.log(logging.INFO if level == LLAMA_LOG_ERROR else logging.DEBUG, "%s", message)

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    return callback


LLAMA_LOG_ERROR = 3  # ggml_log_level


def _hooked_llama_class() -> type:
    """`Llama` whose `sample` reports every token to the current `_Generation` (if any). This is
    the one per-token Python call on both the chat and plain paths, and an exception raised there
    ends the generation cleanly (unlike llama-cpp-python's streaming mode, which re-decodes the
    pending tail on every token and goes quadratic on output that is not yet valid UTF-8)."""
    from llama_cpp import Llama

    _route_llama_log()

    class HookedLlama(Llama):
        generation: _Generation | None = None

        def sample(self, *args: Any, **kwargs: Any) -> int:
            token = super().sample(*args, **kwargs)
            if self.generation is not None:
                self.generation(token)
            return token

        def eval(self, tokens: Sequence[int]) -> None:
            # The prompt is evaluated in slices, so a cancel lands within a slice's time, not the prompt's.
            for start in range(0, len(tokens), PREFILL_SLICE):
                if self.generation is not None:
                    self.generation.check()
                super().eval(tokens[start : start + PREFILL_SLICE])

    return HookedLlama


class _Owned:
    """The model and everything derived from it; touched only by the owner thread."""

    def __init__(self, path: Path, *, n_ctx: int, n_gpu_layers: int, threads: int, seed: int) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.seed = seed
        self.llama = _hooked_llama_class()(
            model_path=str(path),
            n_ctx=n_ctx,
            n_gpu_layers=n_gpu_layers,
            n_threads=threads,
            n_threads_batch=threads,
            seed=seed,
            verbose=False,
        )
        template = self.llama.metadata.get("tokenizer.chat_template")
        self.formatter: Any = None
        if template:
            # Always the GGUF's own template, never llama-cpp-python's guess of a named format.
            self.llama.chat_format = _CHAT_FORMAT_FROM_GGUF
            eos, bos = self.llama.token_eos(), self.llama.token_bos()
            try:
                self.formatter = Jinja2ChatFormatter(
                    template=template,
                    eos_token=self._token_text(eos),
                    bos_token=self._token_text(bos),
                    stop_token_ids=[eos],
                )
            except Exception as exc:
                self.llama.close()
                raise ValueError(f"its chat template does not compile: {exc}") from exc
        self.info = ModelInfo(path, self.llama.n_ctx(), self.llama.n_vocab(), self.formatter is not None)

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llama.detokenize([token], special=True).decode("utf-8", errors="replace")

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def chat_prompt_tokens(self, messages: Sequence[Message]) -> int:
        prompt = self.formatter(messages=[dict(m) for m in messages]).prompt
        # Exactly how llama-cpp-python's template handler tokenizes the rendered chat.
        return len(self.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def plain_prompt_tokens(self, prompt: str) -> int:
        return len(self.llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))

    def generate(self, call: Callable[[], dict[str, Any]], generation: _Generation) -> tuple[str, str]:
        """Run one llama-cpp-python completion call with `generation` hooked in: (text, finish_reason)."""
        self.llama.generation = generation
        try:
            choice = call()["choices"][0]
        except _Cancelled:
            return "".join(generation.pieces), FINISH_CANCELLED
        finally:
            self.llama.generation = None
        text = choice["message"]["content"] if "message" in choice else choice["text"]
        return text or "", choice.get("finish_reason") or FINISH_LENGTH

    def close(self) -> None:
        self.llama.close()


class LlmEngine:
    """One GGUF model on its own owner thread. Construct, use, `close()` (or use as a context manager)."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 4096,
        n_gpu_layers: int = 0,
        threads: int = 4,
        seed: int = 0,
    ) -> None:
        path = Path(model_path)
        if not path.is_absolute():
            raise ModelError(f"LLM model path must be absolute, got {path}: set llm.model_path to the full path")
        if not path.is_file():
            raise ModelError(f"LLM model not found: {path}: set llm.model_path to an existing .gguf file")
        self.model_path = path
        self._jobs: queue.SimpleQueue[tuple[Callable[[_Owned], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._cancel_epoch = 0
        self._held = False
        self._closed = False
        self._stats = LlmStats()
        loaded: Future[ModelInfo] = Future()
        self._thread = threading.Thread(
            target=self._serve,
            args=(loaded, dict(n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, threads=threads, seed=seed)),
            name="llm-owner",
            daemon=True,
        )
        self._thread.start()
        try:
            self.info = loaded.result()
        except Exception:
            self._thread.join()
            self._closed = True
            raise

    # -- owner thread -------------------------------------------------------------------------

    def _serve(self, loaded: Future[ModelInfo], options: dict[str, int]) -> None:
        try:
            owned = _Owned(self.model_path, **options)
        except Exception as exc:
            loaded.set_exception(
                ModelError(f"cannot load LLM model {self.model_path}: {exc}; is it a valid GGUF file?")
            )
            return
        loaded.set_result(owned.info)
        try:
            while (job := self._jobs.get()) is not None:
                fn, future = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(fn(owned))
                except Exception as exc:
                    future.set_exception(exc)
        finally:
            owned.close()

    def _submit(self, fn: Callable[[_Owned], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the LLM engine is closed")
            self._jobs.put((fn, future))
        return future

    def _wait(self, future: Future[T]) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("blocking LLM call from the owner thread (for example inside on_token)")
        return future.result()

    def _cancelled(self, epoch: int) -> bool:
        return self._held or epoch < self._cancel_epoch

    # -- public API ---------------------------------------------------------------------------

    @property
    def has_chat_template(self) -> bool:
        return self.info.has_chat_template

    @property
    def n_ctx(self) -> int:
        """The context window llama.cpp actually allocated, in tokens."""
        return self.info.n_ctx

    def stats(self) -> LlmStats:
        with self._lock:
            return self._stats

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in the model's own tokenizer (no BOS, special-token text not parsed)."""
        return self._wait(self._submit(lambda owned: owned.count_tokens(text)))

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens of the prompt `chat_json` would send for `messages` (template or plain format)."""
        if self.has_chat_template:
            chat = [{**m, "content": defuse_special_tokens(m["content"])} for m in messages]
            return self._wait(self._submit(lambda owned: owned.chat_prompt_tokens(chat)))
        prompt = plain_prompt(messages)
        return self._wait(self._submit(lambda owned: owned.plain_prompt_tokens(prompt)))

    def chat_json(
        self,
        messages: Sequence[Message],
        schema: Mapping[str, Any],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
    ) -> LlmResult:
        return self._wait(
            self.submit_chat_json(messages, schema, max_tokens=max_tokens, temperature=temperature, on_token=on_token)
        )

    def submit_chat_json(
        self,
        messages: Sequence[Message],
        schema: Mapping[str, Any],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
    ) -> Future[LlmResult]:
        """JSON constrained to `schema`. With a chat template this is llama-cpp-python's chat path
        (`response_format` json_object + schema); without one, `plain_prompt(messages)` through
        `complete` with the same schema as a grammar. `on_token` gets text pieces as they come
        (on the owner thread: keep it quick). Raises ContextOverflow (from the future) when the
        prompt and `max_tokens` do not fit."""
        if not self.has_chat_template:
            return self.submit_complete(
                plain_prompt(messages),
                max_tokens=max_tokens,
                schema=schema,
                temperature=temperature,
                on_token=on_token,
            )
        _check_max_tokens(max_tokens)
        schema = dict(schema)
        _schema_grammar(schema)
        chat_messages = [{**m, "content": defuse_special_tokens(m["content"])} for m in messages]
        epoch = self._cancel_epoch

        def run(owned: _Owned) -> LlmResult:
            prompt_tokens = owned.chat_prompt_tokens(chat_messages)
            self._check_fits(prompt_tokens, max_tokens)

            def call() -> dict[str, Any]:
                return owned.llama.create_chat_completion(
                    chat_messages,
                    response_format={"type": "json_object", "schema": schema},
                    max_tokens=max_tokens,
                    temperature=temperature,
                    seed=owned.seed,
                )

            return self._generate(owned, call, prompt_tokens, max_tokens, on_token, epoch)

        return self._submit(run)

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int,
        grammar: str | None = None,
        schema: Mapping[str, Any] | None = None,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
        stop: Sequence[str] = (),
    ) -> LlmResult:
        return self._wait(
            self.submit_complete(
                prompt,
                max_tokens=max_tokens,
                grammar=grammar,
                schema=schema,
                temperature=temperature,
                on_token=on_token,
                stop=stop,
            )
        )

    def submit_complete(
        self,
        prompt: str,
        *,
        max_tokens: int,
        grammar: str | None = None,
        schema: Mapping[str, Any] | None = None,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
        stop: Sequence[str] = (),
    ) -> Future[LlmResult]:
        """Plain text completion of `prompt`, optionally constrained by a GBNF `grammar` or a JSON
        `schema` (not both). Special-token text in the prompt is parsed as special tokens."""
        _check_max_tokens(max_tokens)
        if grammar is not None and schema is not None:
            raise ValueError("give a grammar or a schema, not both")
        gbnf = _schema_grammar(dict(schema)) if schema is not None else grammar
        epoch = self._cancel_epoch

        def run(owned: _Owned) -> LlmResult:
            from llama_cpp.llama_grammar import LlamaGrammar

            prompt_tokens = owned.plain_prompt_tokens(prompt)
            self._check_fits(prompt_tokens, max_tokens)

            def call() -> dict[str, Any]:
                return owned.llama.create_completion(
                    prompt,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    seed=owned.seed,
                    stop=list(stop),
                    grammar=LlamaGrammar.from_string(gbnf, verbose=False) if gbnf is not None else None,
                )

            return self._generate(owned, call, prompt_tokens, max_tokens, on_token, epoch)

        return self._submit(run)

    def cancel(self) -> None:
        """Stop the running generation (between tokens) and every generation submitted before
        this call; they return finish_reason "cancelled". Later submissions run normally."""
        with self._lock:
            self._cancel_epoch += 1

    def hold(self) -> None:
        """Like `cancel()`, and every generation until `release()` is cancelled too, before its first
        token: a job that was using the model runs out at once instead of starting its next call."""
        with self._lock:
            self._held = True
            self._cancel_epoch += 1

    def release(self) -> None:
        """Generations run normally again after `hold()`."""
        with self._lock:
            self._held = False

    def close(self, timeout: float | None = 60.0) -> None:
        """Cancel pending generations and free the model on its owner thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cancel_epoch += 1
            self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> LlmEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- helpers on the owner thread ----------------------------------------------------------

    def _check_fits(self, prompt_tokens: int, max_tokens: int) -> None:
        if prompt_tokens + max_tokens > self.info.n_ctx:
            raise ContextOverflow(prompt_tokens, max_tokens, self.info.n_ctx)

    def _generate(
        self,
        owned: _Owned,
        call: Callable[[], dict[str, Any]],
        prompt_tokens: int,
        max_tokens: int,
        on_token: TokenCallback | None,
        epoch: int,
    ) -> LlmResult:
        if self._cancelled(epoch):
            return self._record(LlmResult("", FINISH_CANCELLED, prompt_tokens, 0))
        generation = _Generation(owned.llama.detokenize, on_token, lambda: self._cancelled(epoch))
        started = time.monotonic()
        with _overflow_as(prompt_tokens, max_tokens, self.info.n_ctx):
            text, finish = owned.generate(call, generation)
        return self._record(LlmResult(text, finish, prompt_tokens, generation.tokens, time.monotonic() - started))

    def _record(self, result: LlmResult) -> LlmResult:
        with self._lock:
            self._stats = self._stats.plus(result)
        return result


@dataclass(frozen=True)
class RawRequest:
    """One request for `RawLlama`: a plain prompt, or chat messages with a JSON schema."""

    prompt: str = ""
    messages: Sequence[Message] = ()
    schema: Mapping[str, Any] | None = None
    max_tokens: int = 1


class RawLlama:
    """Bare llama-cpp-python on the calling thread: the benchmark's baseline for the engine's
    overhead (loading is not counted). A schema request is sent as the engine sends it: the model's
    chat template with a JSON response format, or without one, `plain_prompt(messages)` with the
    schema's grammar. Token counts are llama.cpp's usage figures (the end-of-text token left out)."""

    def __init__(self, model_path: Path, *, n_ctx: int, threads: int, seed: int = 0) -> None:
        from llama_cpp import Llama

        _route_llama_log()
        self.seed = seed
        # Typed as Any like the engine's own model: llama-cpp-python's response TypedDicts differ per call.
        self.llama: Any = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                                seed=seed, verbose=False)
        self.chat = bool(self.llama.metadata.get("tokenizer.chat_template"))
        if self.chat:
            self.llama.chat_format = _CHAT_FORMAT_FROM_GGUF

    def run(self, request: RawRequest) -> LlmResult:
        from llama_cpp.llama_grammar import LlamaGrammar

        options: dict[str, Any] = dict(max_tokens=request.max_tokens, temperature=0.0, seed=self.seed)
        started = time.monotonic()
        if request.schema is None:
            out = self.llama.create_completion(request.prompt, **options)
        elif self.chat:
            response_format = {"type": "json_object", "schema": dict(request.schema)}
            out = self.llama.create_chat_completion([dict(m) for m in request.messages],
                                                    response_format=response_format, **options)
        else:
            grammar = LlamaGrammar.from_string(_schema_grammar(dict(request.schema)), verbose=False)
            out = self.llama.create_completion(plain_prompt(request.messages), grammar=grammar, **options)
        seconds = time.monotonic() - started
        choice, usage = out["choices"][0], out["usage"]
        text = choice["message"]["content"] if "message" in choice else choice["text"]
        finish = choice.get("finish_reason") or FINISH_LENGTH
        return LlmResult(text or "", finish, usage["prompt_tokens"], usage["completion_tokens"], seconds)

    def close(self) -> None:
        self.llama.close()

    def __enter__(self) -> RawLlama:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_max_tokens(max_tokens: int) -> None:
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")


def _schema_grammar(schema: dict[str, Any]) -> str:
    """GBNF for a JSON schema; raises ValueError for a schema llama.cpp's converter cannot take
    (the chat path would otherwise fall back silently to unconstrained JSON)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    empty = _empty_choice(schema)
    if empty:
        # llama.cpp turns an empty choice into an empty grammar rule and crashes the process when sampling.
        raise ValueError(f"JSON schema has an empty {empty}: no output could satisfy it")
    try:
        return json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:
        raise ValueError(f"JSON schema not supported by llama.cpp's grammar converter: {exc}") from exc


def _empty_choice(node: Any) -> str | None:
    """The first `enum`/`anyOf`/`oneOf` with no alternatives anywhere in a schema, if any."""
    children: Iterable[Any]
    if isinstance(node, dict):
        for key in ("enum", "anyOf", "oneOf"):
            if key in node and not node[key]:
                return f'"{key}"'
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    return next((found for child in children if (found := _empty_choice(child))), None)


@contextmanager
def _overflow_as(prompt_tokens: int, max_tokens: int, n_ctx: int) -> Iterator[None]:
    """llama-cpp-python's own context check raises a bare ValueError; make it ContextOverflow."""
    try:
        yield
    except ValueError as exc:
        if "exceed context window" in str(exc):
            raise ContextOverflow(prompt_tokens, max_tokens, n_ctx) from exc
        raise
