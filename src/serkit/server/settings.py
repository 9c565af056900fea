"""What one server may spend: every limit of ``serkit serve`` with its valid range, declared once.

The ranges are used twice: by ``ServerSettings`` (a library caller gets a ``ConfigError``) and by
the CLI's argument types (``option_type``: argparse prints one error line naming the option).
Each field's metadata holds its option's help and metavar (``_option``): ``serkit.cli.serve`` declares
one option per field from it. Nothing here imports FastAPI, so ``serkit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from serkit.errors import ConfigError
from serkit.validation import Bound

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
ANY_HOST = "*"


# One row per numeric option of `serkit serve` (field name = option name with - for _).
BOUNDS: dict[str, Bound] = {
    "port": Bound(int, 1, 65535),
    "max_upload_mb": Bound(float, 0, 256, above=True),  # 10 min of 48 kHz stereo float WAV is 220 MB
    "max_concurrent": Bound(int, 1, 1024),
    "read_timeout": Bound(float, 0, 3600, above=True),
    "upload_timeout": Bound(float, 0, 3600, above=True),
    "keep_alive_timeout": Bound(float, 0, 3600, above=True),
    "max_streams": Bound(int, 1, 1024),
    "max_stream_seconds": Bound(float, 0, 86400, above=True),
    "max_message_kb": Bound(int, 1, 16384),
    "max_stream_lead": Bound(float, 0, 3600, above=True),
    "max_stream_messages": Bound(float, 0, 1_000_000, above=True),
}


def check(name: str, value: float) -> None:
    """Raise ``ConfigError`` naming the setting, the value and the valid range."""
    BOUNDS[name].check(name, value)


def default_max_concurrent() -> int:
    """One request in progress per core this process may run on."""
    from serkit.parallel import cpu_count

    return cpu_count()


def normalise_host(raw: str) -> str:
    """A Host header or a configured name without port, brackets, case or trailing dot."""
    host = raw.strip().lower()
    if host.startswith("["):  # [::1]:8000
        end = host.find("]")
        host = host[1:end] if end > 0 else host[1:]
    elif host.count(":") == 1:  # name:port (an IPv6 address has several colons)
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def parse_hosts(items: Iterable[str]) -> tuple[str, ...]:
    """Host names or addresses (a port is ignored); ``*.example.org`` matches its sub-domains, ``*`` every host."""
    out: list[str] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        if item == ANY_HOST:
            out.append(ANY_HOST)
            continue
        host = normalise_host(item)
        bare = host[2:] if host.startswith("*.") else host
        if not bare or any(ch in item for ch in "/@ ?#") or "*" in bare:
            raise ConfigError(
                f"allowed host {item!r}: give a host name or address without scheme or path "
                "(e.g. localhost, 192.168.1.5, *.example.org, or * for any)"
            )
        out.append(host)
    if not out:
        raise ConfigError("allowed hosts: the list is empty (give at least one host name, or *)")
    return tuple(dict.fromkeys(out))


def parse_origins(items: Iterable[str]) -> tuple[str, ...]:
    """Origins as browsers send them: ``scheme://host[:port]``, nothing after."""
    out: list[str] = []
    for item in items:
        item = item.strip().rstrip("/")
        if not item:
            continue
        parts = urlsplit(item)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path or parts.query or parts.fragment:
            raise ConfigError(f"allowed origin {item!r}: give scheme://host[:port] (e.g. https://app.example.org)")
        out.append(item.lower())
    return tuple(dict.fromkeys(out))


def _option(
    help: str, metavar: str, *, parse: Callable[[Iterable[str]], tuple[str, ...]] | None = None
) -> dict[str, Any]:
    """The ``serkit serve`` option of a ``ServerSettings`` field, as the field's metadata.

    Args:
        help: The option's help (argparse adds the field's default where it has one).
        metavar: The option's value as the help shows it.
        parse: For a list setting, what checks its comma-separated items (numeric settings are
            checked by their ``BOUNDS`` row instead).

    Returns:
        The metadata that ``serkit.cli.serve`` declares the option from.
    """
    return {"help": help, "metavar": metavar, "parse": parse}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """The limits and the exposure policy of one app; validated on creation.

    ``allowed_hosts`` None accepts every Host header (tests, or a proxy in front that checks it);
    ``serkit serve`` always gives a list (default: the bind address and the loopback names).
    ``allowed_origins``: other origins whose pages may call the API (CORS); none by default,
    so a browser page from another site cannot post to the server.
    """

    max_upload_mb: float = dataclasses.field(default=25.0, metadata=_option("largest accepted upload", "MB"))
    max_concurrent: int = dataclasses.field(
        default_factory=default_max_concurrent,
        metadata=_option(
            "predictions in progress at once, uploads included; more get 503 with Retry-After (default: one per core)",
            "N",
        ),
    )
    # longest silence while a request body is being received
    read_timeout: float = dataclasses.field(
        default=15.0, metadata=_option("408 and close when a request body stops arriving for S seconds", "S")
    )
    # longest time to receive one whole body (25 MB at 1.7 Mbit/s)
    upload_timeout: float = dataclasses.field(
        default=120.0, metadata=_option("408 and close when a whole request body takes longer than S seconds", "S")
    )
    # an idle connection is closed after this
    keep_alive_timeout: float = dataclasses.field(
        default=5.0, metadata=_option("close idle connections after S seconds", "S")
    )
    # live streams (/api/stream) open at once; the next is refused
    max_streams: int = dataclasses.field(
        default=8,
        metadata=_option(
            "live streams (WebSocket /api/stream) open at once; the next is refused with close code 1013", "N"
        ),
    )
    # a live stream ends after this much audio (or wall-clock time)
    max_stream_seconds: float = dataclasses.field(
        default=600.0,
        metadata=_option("a live stream ends (with its summary) after S seconds of audio or of wall-clock time", "S"),
    )
    # largest WebSocket message: 0.68 s of 48 kHz 16-bit PCM
    max_message_kb: int = dataclasses.field(
        default=64, metadata=_option("largest WebSocket message of a live stream", "KB")
    )
    # how far a live client may send ahead of real time before it is refused
    max_stream_lead: float = dataclasses.field(
        default=5.0,
        metadata=_option("a live client sending more than S seconds ahead of real time is refused (not queued)", "S"),
    )
    # Messages a second a live client may send on average, after a burst of 10 s worth: each message costs the
    # server work whatever its size, so 2-byte messages as fast as a client can send are a flood, not audio.
    max_stream_messages: float = dataclasses.field(
        default=100.0,
        metadata=_option(
            "messages a second a live client may send on average, after a burst of 10 s worth; "
            "a flood is refused with close code 1008",
            "N",
        ),
    )
    allowed_hosts: tuple[str, ...] | None = dataclasses.field(
        default=None,
        metadata=_option(
            "Host names the server answers (DNS rebinding); *.example.org for sub-domains, * for any "
            "(default: the --host address, localhost, 127.0.0.1, ::1)",
            "HOST[,HOST]",
            parse=parse_hosts,
        ),
    )
    allowed_origins: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata=_option(
            "other sites (https://app.example.org) whose pages may call the API; by default only "
            "the server's own page may POST",
            "ORIGIN[,ORIGIN]",
            parse=parse_origins,
        ),
    )

    def __post_init__(self) -> None:
        for name in BOUNDS:
            if hasattr(self, name):
                check(name, getattr(self, name))
        if self.allowed_hosts is not None:
            object.__setattr__(self, "allowed_hosts", parse_hosts(self.allowed_hosts))
        object.__setattr__(self, "allowed_origins", parse_origins(self.allowed_origins))

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_kb * 1024


def option_type(name: str) -> Callable[[str], int | float]:
    """An argparse ``type=`` for the numeric setting ``name``: out of range is argparse's one error line."""
    bound = BOUNDS[name]

    def parse(text: str) -> int | float:
        try:
            return bound.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


def list_type(parse_items: Callable[[Iterable[str]], tuple[str, ...]]) -> Callable[[str], tuple[str, ...]]:
    """An argparse ``type=`` for a comma-separated list checked by ``parse_items``."""

    def parse(text: str) -> tuple[str, ...]:
        try:
            return parse_items(text.split(","))
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse
