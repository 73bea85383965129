"""Request body limits enforced while the body streams in, never by trusting Content-Length.

Every body is counted as it arrives (`BodySizeLimit`), and uploads are parsed incrementally
(`receive_upload`) with the file part written straight into a temp file in a directory we choose,
deleted again on any failure. Only what the pinned FastAPI/Starlette lack is here (why, at each).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from fastapi import HTTPException, Request, status
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.core.strict_json import JsonRefused, check_json, check_unicode

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MIB = 1024 * 1024
MAX_FIELD_BYTES = 4096
MAX_FIELDS = 16


class BodyTooLarge(HTTPException):
    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"request body is larger than the limit of {_size(limit_bytes)}; "
            "send a smaller file (api.max_upload_mb sets the limit for audio uploads)",
        )


def _size(n_bytes: int) -> str:
    return f"{n_bytes / MIB:.3g} MB" if n_bytes >= MIB // 100 else f"{n_bytes} bytes"


# Not FastAPI's max_body_size: its 413 for a declared Content-Length is plain text sent past the error handlers.
class BodySizeLimit:
    """ASGI middleware: a body longer than its path's limit is answered with 413.

    A declared Content-Length over the limit is refused before reading anything; the bytes that
    actually arrive are counted too, so a lying or absent Content-Length (chunked) changes nothing.
    """

    def __init__(self, app: ASGIApp, *, default_bytes: int, path_bytes: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.path_bytes = dict(path_bytes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_bytes.get(scope["path"], self.default_bytes)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _send_413(send, limit)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # Normally the app's exception handler already answered; this covers code that let it escape.
            if response_started:
                raise
            await _send_413(send, limit)


async def _send_413(send: Send, limit: int) -> None:
    await _send_error(send, 413, BodyTooLarge(limit).detail)


async def _send_error(send: Send, status_code: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})


def allowed_host_names(listen_host: str, extra: list[str]) -> frozenset[str] | None:
    """The Host names a box listening on `listen_host` answers to; None: any (listening on every interface,
    with no names configured, the names people use on the LAN are unknown)."""
    if listen_host in WILDCARD_ADDRESSES and not extra:
        return None
    names = {*LOOPBACK_NAMES, *extra}
    if listen_host not in WILDCARD_ADDRESSES:
        names.add(listen_host)
    return frozenset(name.lower().strip("[]") for name in names)


def _host_name(header: bytes) -> str:
    host = header.decode("latin-1").strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostCheck:
    """ASGI middleware: a request whose Host header names none of `allowed` is answered with 400, so a page
    on another site cannot reach a box on loopback by pointing a DNS name it controls at 127.0.0.1."""

    def __init__(self, app: ASGIApp, *, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = dict(scope["headers"]).get(b"host") if scope["type"] == "http" else None
        if header is not None and _host_name(header) not in self.allowed:
            await _send_error(
                send, 400, f"Host {header.decode('latin-1')[:100]!r} is not a name of this box; use its address, "
                "or add the name to api.allowed_hosts",
            )  # fmt: skip
            return
        await self.app(scope, receive, send)


def _json_content_type(scope: Scope) -> bool:
    """Whether FastAPI would parse this request's body as JSON: no Content-Type, or application/(*+)json."""
    header = dict(scope["headers"]).get(b"content-type")
    if header is None:
        return True
    content_type, _ = parse_options_header(header)
    main, _, sub = content_type.decode("latin-1").lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


class JsonBodyCheck:
    """ASGI middleware: a JSON body too deeply nested, malformed beyond parsing, or holding a lone
    surrogate escape is answered with 400 before any route parses it (edge.core.strict_json says why).

    Runs inside BodySizeLimit, so the body it buffers is already bounded.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS") or not _json_content_type(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = bytearray()
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if body.strip():
            try:
                check_json(bytes(body), what="the request body", max_bytes=self.max_bytes)
                try:
                    document = json.loads(bytes(body))
                except ValueError:
                    document = None  # malformed: the route answers that with its own message
                check_unicode(document, what="the request body")
            except JsonRefused as exc:
                await _send_error(send, 400, str(exc))
                return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


@dataclass
class ReceivedUpload:
    """A multipart upload: the file part on disk (the caller owns and deletes it) and the text fields."""

    path: Path
    filename: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)


def _bad_request(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, detail=detail)


def safe_filename(name: str) -> str:
    """The last path component, without control characters, at most 120 characters."""
    name = re.split(r"[\\/]", name)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[-120:] or "upload"


class _MultipartReader:
    """Callbacks of python-multipart's streaming parser; file data is queued for writing off the loop."""

    def __init__(self, file_field: str, charset: str) -> None:
        self.file_field = file_field
        self.charset = charset
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_bytes = 0
        self.pending: list[bytes] = []
        self.complete = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._is_file = False
        self._data = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def _decode(self, raw: bytes) -> str:
        return raw.decode(self.charset, errors="replace")

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._name = ""
        self._is_file = False
        self._data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise _bad_request('a multipart part has no Content-Disposition name; send form-data fields')
        self._name = self._decode(options[b"name"])
        if self._name == self.file_field:
            if self.filename is not None:
                raise _bad_request(f"send exactly one `{self.file_field}` part")
            self._is_file = True
            self.filename = safe_filename(self._decode(options.get(b"filename", b"")))
        elif len(self.fields) >= MAX_FIELDS:
            raise _bad_request(f"too many form fields (at most {MAX_FIELDS})")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.pending.append(data[start:end])
            self.file_bytes += end - start
            return
        if len(self._data) + end - start > MAX_FIELD_BYTES:
            raise _bad_request(f"form field `{self._name}` is longer than {MAX_FIELD_BYTES} bytes")
        self._data += data[start:end]

    def on_part_end(self) -> None:
        if not self._is_file:
            self.fields[self._name] = self._decode(bytes(self._data))

    def on_end(self) -> None:
        self.complete = True


async def receive_upload(
    request: Request, *, directory: Path, max_bytes: int, file_field: str = "file"
) -> ReceivedUpload:
    """Stream a multipart/form-data body into a temp file in `directory`, at most `max_bytes` of body.

    Not Starlette's form parsing: it spools files into the system temp directory, not the one we choose.

    Raises HTTPException: 413 over the limit, 400 for a malformed body or a missing/empty file part,
    415 when the body is not multipart. Nothing is left on disk when it raises.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"send the file as multipart/form-data with a `{file_field}` part",
        )
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    reader = _MultipartReader(file_field, charset if charset.lower() in ("utf-8", "utf8") else "utf-8")
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
    path = Path(name)
    received = 0
    try:
        with os.fdopen(fd, "wb") as file:
            parser = MultipartParser(params[b"boundary"], reader.callbacks())
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes:
                    raise BodyTooLarge(max_bytes)
                try:
                    parser.write(chunk)
                except FormParserError:
                    raise _bad_request("malformed multipart body; send multipart/form-data") from None
                if reader.pending:
                    data, reader.pending = b"".join(reader.pending), []
                    await anyio.to_thread.run_sync(file.write, data)
        # python-multipart's finalize() does not check that the closing boundary arrived.
        if not reader.complete:
            raise _bad_request("the multipart body ended early (no closing boundary); send the whole form")
        if reader.filename is None:
            raise _bad_request(f"the form has no `{file_field}` part; attach the file as `{file_field}`")
        if reader.file_bytes == 0:
            raise _bad_request("the uploaded file is empty")
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return ReceivedUpload(path, reader.filename, reader.file_bytes, reader.fields)
