"""Reading one upload: the multipart body streamed into memory, bounded in size and in time.

Uploads never touch the disk: the body is parsed as it streams in and only the bytes of the
``file`` part are kept, bounded by the upload limit. A declared ``Content-Length`` over the
limit is refused before reading anything; a body without one is refused (413) as soon as the
running count passes the limit. A body that stops arriving (a client that declares more than
it sends) or trickles in is cut off with 408 and the connection closed, so it cannot hold a
slot of ``--max-concurrent`` for ever.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

import anyio
from starlette.requests import ClientDisconnect, Request

from serkit.server.problems import ApiError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MIB = 1024 * 1024
# Room for the multipart framing (boundaries, part headers) around the file's own bytes.
MULTIPART_OVERHEAD = 64 * 1024
FIELD_NAME = "file"


def safe_upload_name(raw: str | None) -> str:
    """The client's file name reduced to a harmless display name: base name only, printable.

    Only ever used as a label in messages and in the result's ``path``; nothing is written
    under it.
    """
    if not raw:
        return "upload"
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name in {"", ".", ".."}:
        return "upload"
    if len(name) > 128:
        suffix = PurePath(name).suffix[:16]
        name = name[: 128 - len(suffix)] + suffix
    return name


def too_large(limit_bytes: int) -> ApiError:
    return ApiError(413, f"upload too large: the limit is {limit_bytes / MIB:g} MB")


class FilePart:
    """python-multipart callbacks that keep only the bytes of the ``file`` field, bounded."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.data: bytearray | None = None
        self.filename: str | None = None
        self.seen_fields: list[str] = []
        self.finished = False
        self.ended = False
        self.in_file = False
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""

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

    def on_part_begin(self) -> None:
        self.disposition = b""
        self.in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self.disposition)
        field = options.get(b"name", b"").decode("utf-8", "replace")
        self.seen_fields.append(field)
        if field != FIELD_NAME:
            return
        if self.data is not None:
            raise ApiError(422, f"send exactly one '{FIELD_NAME}' field")
        self.in_file = True
        self.data = bytearray()
        raw_name = options.get(b"filename")
        self.filename = None if raw_name is None else raw_name.decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file or self.data is None:
            return  # other fields are counted against the body limit, then dropped
        if len(self.data) + (end - start) > self.limit_bytes:
            raise too_large(self.limit_bytes)
        self.data += data[start:end]

    def on_part_end(self) -> None:
        if self.in_file:
            self.finished = True
        self.in_file = False

    def on_end(self) -> None:
        self.ended = True


async def read_upload(
    request: Request, *, limit_bytes: int, read_timeout: float, upload_timeout: float
) -> tuple[bytes, str]:
    """Stream the multipart body, keep the ``file`` part in memory; returns (bytes, safe name).

    ``read_timeout``: longest wait for the next piece of the body; ``upload_timeout``: longest
    time for the whole body. Either one passing is a 408 that closes the connection.
    """
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    needs = f"send the audio as multipart/form-data in a field named '{FIELD_NAME}'"
    mime, params = parse_options_header(request.headers.get("content-type", ""))
    if mime != b"multipart/form-data":
        raise ApiError(422, f"no file uploaded: {needs}")
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "malformed multipart body: no boundary in Content-Type")

    body_limit = limit_bytes + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_bytes = int(declared)
        except ValueError:
            raise ApiError(400, "invalid Content-Length header") from None
        if declared_bytes > body_limit:
            raise too_large(limit_bytes)  # refused before reading a byte of the body

    part = FilePart(limit_bytes)
    parser = MultipartParser(boundary, part.callbacks())
    received = 0
    whole_body_by = anyio.current_time() + upload_timeout
    try:
        with anyio.CancelScope(deadline=min(whole_body_by, anyio.current_time() + read_timeout)) as waiting:
            async for chunk in request.stream():
                received += len(chunk)
                if received > body_limit:
                    raise too_large(limit_bytes)
                if chunk:
                    parser.write(chunk)
                waiting.deadline = min(whole_body_by, anyio.current_time() + read_timeout)
        if waiting.cancelled_caught:
            late = anyio.current_time() >= whole_body_by
            reason = f"not complete after {upload_timeout:g} s" if late else f"no data for {read_timeout:g} s"
            raise ApiError(408, f"upload timed out: {reason}", headers={"Connection": "close"})
        parser.finalize()
    except MultipartParseError as exc:
        raise ApiError(
            400, f"malformed multipart body: {str(exc).splitlines()[0] if str(exc) else 'parse error'}"
        ) from None
    except ClientDisconnect:
        raise ApiError(400, "the client disconnected during the upload") from None

    if part.data is None:
        got = ", ".join(repr(f) for f in part.seen_fields)
        raise ApiError(422, f"no file uploaded: {needs}" + (f" (got fields: {got})" if got else ""))
    if not part.finished or not part.ended:
        raise ApiError(400, "malformed multipart body: the upload is incomplete")
    return bytes(part.data), safe_upload_name(part.filename)
