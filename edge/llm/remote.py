"""An LLM on a server of the building's LAN, through its OpenAI-compatible API (llama.cpp's server, vLLM,
Ollama, llama-cpp-python's `llama_cpp.server`), with the same surface as the local `LlmEngine`.

JSON output is constrained by the server where it can be: OpenAI's `json_schema` response format first
(vLLM, llama.cpp's server), then `json_object` with a `schema` (llama-cpp-python's server), then none (the
callers validate and repair as they do with any model output); the first form a server accepts is kept.
Token counts come from the server's tokenizer endpoint when it has one, else from an estimate that errs
on the long side, so a prompt never overflows the server's context.

Every failure to reach the server, a time-out or a 5xx raises `LlmUnavailable`; `edge.llm.failover`
decides what happens then.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from edge.llm.engine import (
    FINISH_CANCELLED,
    FINISH_LENGTH,
    FINISH_STOP,
    LlmResult,
    LlmStats,
    LlmUnavailable,
    Message,
    TokenCallback,
)

log = logging.getLogger(__name__)

JSON_FORMS = ("json_schema", "json_object", "none")
# Without the server's tokenizer: a token per 2 UTF-8 bytes over-counts every tokenizer seen for Korean
# and English (a Hangul syllable is 3 bytes and at least one token; English words are 4-6 bytes a token).
BYTES_PER_TOKEN = 2
MESSAGE_OVERHEAD_TOKENS = 8
COUNT_CACHE_SIZE = 4096  # role and template tokens around each chat message


class RemoteEngine:
    def __init__(
        self,
        base_url: str,
        *,
        model: str = "",
        api_key: str | None = None,
        verify: bool | str = True,
        timeout_s: float = 60.0,
        n_ctx: int = 4096,
        seed: int = 0,
    ) -> None:
        """`base_url` is the server's root (`/v1/chat/completions` is added); `verify` is True (the
        system's CAs), a CA bundle path, or False; `n_ctx` is the server's context window."""
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.n_ctx = n_ctx
        self.seed = seed
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, verify=verify,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
        )  # fmt: skip
        self._lock = threading.Lock()
        self._cancel_epoch = 0
        self._held = False
        self._stats = LlmStats()
        self._json_form: str | None = None
        self._tokenizer: str | None = None  # "llama-cpp-python", "llama.cpp" or "estimate", once known
        self._counts: OrderedDict[str, int] = OrderedDict()  # the server's counts of recent texts, oldest first

    # -- what the callers use -------------------------------------------------------------------

    @property
    def has_chat_template(self) -> bool:
        return True

    def stats(self) -> LlmStats:
        with self._lock:
            return self._stats

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        if self._tokenizer == "estimate":
            return estimate_tokens(text)
        # Minutes count every transcript line, again for each chunk and merge: one request per distinct text.
        with self._lock:
            cached = self._counts.get(text)
        if cached is not None:
            return cached
        counted = self._server_count(text)
        if counted is None:
            return estimate_tokens(text)
        with self._lock:
            self._counts[text] = counted
            if len(self._counts) > COUNT_CACHE_SIZE:
                self._counts.popitem(last=False)
        return counted

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(self.count_tokens(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages)

    def chat_json(
        self,
        messages: Sequence[Message],
        schema: Mapping[str, Any],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
    ) -> LlmResult:
        epoch = self._epoch()
        if self._cancelled(epoch):
            return self._record(LlmResult("", FINISH_CANCELLED, 0, 0))
        forms = [self._json_form] if self._json_form else list(JSON_FORMS)
        for form in forms:
            body: dict[str, Any] = {
                "messages": [dict(m) for m in messages], "max_tokens": max_tokens, "temperature": temperature,
                "seed": self.seed, "stream": True, **({"model": self.model} if self.model else {}),
            }  # fmt: skip
            if form == "json_schema":
                body["response_format"] = {"type": "json_schema",
                                           "json_schema": {"name": "output", "schema": dict(schema), "strict": True}}
            elif form == "json_object":
                body["response_format"] = {"type": "json_object", "schema": dict(schema)}
            try:
                result = self._stream(body, on_token, epoch)
            except _Refused as exc:
                log.info("LLM server at %s refused response_format %s (%s); trying the next form",
                         self.base_url, form, exc)  # fmt: skip
                continue
            if self._json_form is None:
                self._json_form = form
                log.info("LLM server at %s: JSON output through response_format %s", self.base_url, form)
            return self._record(result)
        raise LlmUnavailable(f"the LLM server at {self.base_url} refused every chat request; is it an "
                             "OpenAI-compatible server (/v1/chat/completions)?")

    def ping(self) -> None:
        """Raise LlmUnavailable unless the server answers its model list."""
        try:
            response = self._http.get("/v1/models", timeout=5.0)
        except httpx.HTTPError as exc:
            raise LlmUnavailable(f"the LLM server at {self.base_url} cannot be reached ({_reason(exc)})") from None
        if response.status_code >= 400:
            raise LlmUnavailable(f"the LLM server at {self.base_url} answered {response.status_code}")

    def cancel(self) -> None:
        with self._lock:
            self._cancel_epoch += 1

    def hold(self) -> None:
        with self._lock:
            self._held = True
            self._cancel_epoch += 1

    def release(self) -> None:
        with self._lock:
            self._held = False

    def close(self) -> None:
        self.cancel()
        self._http.close()

    # -- the HTTP side --------------------------------------------------------------------------

    def _stream(self, body: dict[str, Any], on_token: TokenCallback | None, epoch: int) -> LlmResult:
        started = time.monotonic()
        pieces: list[str] = []
        finish = FINISH_STOP
        usage: dict[str, Any] = {}
        try:
            with self._http.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    error = response.read().decode("utf-8", "replace")
                    # llama-cpp-python's server answers a request it cannot parse with a 500 naming the field.
                    if response.status_code < 500 or "response_format" in error:
                        raise _Refused(f"{response.status_code}: {error[:200]}")
                    raise LlmUnavailable(f"the LLM server at {self.base_url} failed ({response.status_code})")
                for event in _events(response.iter_lines()):
                    if self._cancelled(epoch):
                        finish = FINISH_CANCELLED
                        break
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            pieces.append(piece)
                            if on_token is not None:
                                on_token(piece)
                        if choice.get("finish_reason") == "length":
                            finish = FINISH_LENGTH
        except httpx.HTTPError as exc:
            raise LlmUnavailable(f"the LLM server at {self.base_url} cannot be reached ({_reason(exc)})") from None
        text = "".join(pieces)
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0) or self.count_tokens(text)
        return LlmResult(text, finish, prompt_tokens, completion_tokens, time.monotonic() - started)

    def _server_count(self, text: str) -> int | None:
        """Tokens of `text` by the server's own tokenizer, if it has an endpoint for it."""
        attempts: list[tuple[str, str, Callable[[Any], int]]] = [
            ("llama-cpp-python", "/extras/tokenize/count", lambda body: int(body["count"])),
            ("llama.cpp", "/tokenize", lambda body: len(body["tokens"])),
        ]
        for name, path, read in attempts:
            if self._tokenizer not in (None, name):
                continue
            payload = {"input": text} if name == "llama-cpp-python" else {"content": text}
            try:
                response = self._http.post(path, json=payload, timeout=10.0)
                if response.status_code == 200:
                    count = read(response.json())
                    self._tokenizer = name
                    return count
            except httpx.HTTPError as exc:
                raise LlmUnavailable(f"the LLM server at {self.base_url} cannot be reached ({_reason(exc)})") from None
            except (KeyError, TypeError, ValueError):
                pass
            if self._tokenizer == name:
                return None
        self._tokenizer = "estimate"
        log.info("LLM server at %s has no tokenizer endpoint: token counts are estimated", self.base_url)
        return None

    def _epoch(self) -> int:
        with self._lock:
            return self._cancel_epoch

    def _cancelled(self, epoch: int) -> bool:
        with self._lock:
            return self._held or epoch < self._cancel_epoch

    def _record(self, result: LlmResult) -> LlmResult:
        with self._lock:
            self._stats = self._stats.plus(result)
        return result


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    return sum(estimate_tokens(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages)


class _Refused(Exception):
    """The server refused the request as malformed (4xx): an unsupported response_format, most likely."""


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON events of a server-sent event stream, until `[DONE]`."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            yield event


def _reason(exc: httpx.HTTPError) -> str:
    return str(exc) or type(exc).__name__


def read_api_key(path: Path | None) -> str | None:
    """The API key in `path` (first line), or None without a file."""
    if path is None:
        return None
    from edge.core.errors import ConfigError

    try:
        return path.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"llm.api_key_file {path} cannot be read ({getattr(exc, 'strerror', None) or exc}); "
                          "put the server's API key in it or fix its permissions") from None
