"""The LLM server on the LAN first, the box's own model when the server cannot be reached.

While the server is down every call goes to the local model (loaded on first need), or, without one,
raises `LlmUnavailable`: corrections then stay pending and minutes fall back to the extractive ones,
saying why. A prober thread asks the server every `retry_s` until it answers; then the server takes
calls again and `on_back()` lets the box redo what it had to do without it. Health says which is in use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from edge.llm.engine import ChatModel, LlmResult, LlmUnavailable, Message, TokenCallback
from edge.llm.remote import RemoteEngine, estimate_prompt_tokens, estimate_tokens

log = logging.getLogger(__name__)


class FailoverEngine:
    def __init__(
        self,
        remote: RemoteEngine,
        *,
        local: Callable[[], ChatModel] | None = None,
        retry_s: float = 30.0,
        on_back: Callable[[], None] | None = None,
    ) -> None:
        self.remote = remote
        self._local_factory = local
        self._local: ChatModel | None = None
        self._retry_s = retry_s
        self._on_back = on_back
        self._lock = threading.Lock()
        self._down_since: float | None = None  # monotonic
        self._error: str | None = None
        self._held = False
        self._closed = threading.Event()
        self._prober: threading.Thread | None = None
        self.fallbacks = 0  # calls the local model (or nobody) answered because the server was down

    # -- which model answers --------------------------------------------------------------------

    @property
    def n_ctx(self) -> int:
        return self.remote.n_ctx

    def count_tokens(self, text: str) -> int:
        return self._call(lambda model: model.count_tokens(text), offline=lambda: estimate_tokens(text))

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return self._call(
            lambda model: model.count_prompt_tokens(messages), offline=lambda: estimate_prompt_tokens(messages)
        )

    def chat_json(
        self,
        messages: Sequence[Message],
        schema: Mapping[str, Any],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
    ) -> LlmResult:
        return self._call(lambda model: model.chat_json(
            messages, schema, max_tokens=max_tokens, temperature=temperature, on_token=on_token
        ))  # fmt: skip

    def _call(self, work: Callable[[ChatModel], Any], offline: Callable[[], Any] | None = None) -> Any:
        """`work` on the server, else on the local model; with neither, `offline()` or LlmUnavailable."""
        if self._down_since is None:
            try:
                return work(self.remote)
            except LlmUnavailable as exc:
                self._went_down(str(exc))
        local = self._local_model()
        if local is None:
            if offline is not None:
                return offline()
            with self._lock:
                self.fallbacks += 1
            raise LlmUnavailable(f"{self._error}; no local model (llm.model_path) to fall back on")
        if offline is None:
            with self._lock:
                self.fallbacks += 1
        return work(local)

    def _local_model(self) -> ChatModel | None:
        with self._lock:
            if self._local is None and self._local_factory is not None:
                log.warning("LLM: the local model takes over while the server is unreachable")
                self._local = self._local_factory()
                if self._held:
                    self._local.hold()
            return self._local

    # -- down and back --------------------------------------------------------------------------

    def _went_down(self, error: str) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since, self._error = time.monotonic(), error
            self._prober = threading.Thread(target=self._probe, name="llm-server-probe", daemon=True)
            self._prober.start()
        log.warning("LLM: %s; %s until it answers again", error,
                    "the local model answers" if self._local_factory else "LLM work waits")  # fmt: skip

    def _probe(self) -> None:
        while not self._closed.wait(self._retry_s):
            try:
                self.remote.ping()
            except LlmUnavailable as exc:
                with self._lock:
                    self._error = str(exc)
                continue
            with self._lock:
                down_s = time.monotonic() - (self._down_since or time.monotonic())
                self._down_since, self._error = None, None
            log.warning("LLM: the server at %s answers again after %.0f s; it takes LLM work again",
                        self.remote.base_url, down_s)  # fmt: skip
            if self._on_back is not None:
                try:
                    self._on_back()
                except Exception:
                    log.exception("LLM: redoing work after the server came back failed")
            return

    @property
    def answering(self) -> str:
        """Who answers LLM calls now: "server", "local" (the box's model stands in) or "nobody"."""
        with self._lock:
            return self._answering(self._down_since is not None)

    def _answering(self, down: bool) -> str:
        return ("local" if self._local_factory else "nobody") if down else "server"

    def health(self) -> dict[str, Any]:
        with self._lock:
            down = self._down_since is not None
            return {
                "backend": "openai",
                "server": self.remote.base_url,
                "server_state": "unreachable" if down else "ok",
                "server_down_s": round(time.monotonic() - self._down_since, 1) if self._down_since else None,
                "server_error": self._error,
                "answering": self._answering(down),
                "fallbacks": self.fallbacks,
            }

    # -- the worker's controls ------------------------------------------------------------------

    def hold(self) -> None:
        with self._lock:
            self._held = True
            local = self._local
        self.remote.hold()
        if local is not None:
            local.hold()

    def release(self) -> None:
        with self._lock:
            self._held = False
            local = self._local
        self.remote.release()
        if local is not None:
            local.release()

    def close(self) -> None:
        self._closed.set()
        self.remote.close()
        with self._lock:
            local, self._local = self._local, None
        if local is not None:
            local.close()
