"""Turn an ``OLLAMA_HOST`` value into the base URL of an Ollama server."""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit

from costkit import ConfigurationError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "HOST_ENV", "parse_host"]

HOST_ENV: Final = "OLLAMA_HOST"
"""The environment variable the Ollama CLI and client libraries read the server address from."""

DEFAULT_PORT: Final = 11434
"""The port ``ollama serve`` listens on by default."""

DEFAULT_HOST: Final = f"http://127.0.0.1:{DEFAULT_PORT}"
"""The base URL used when neither ``base_url`` nor ``OLLAMA_HOST`` is set."""

_SCHEME_PORTS: Final = {"http": 80, "https": 443}


def parse_host(value: str | None) -> str:
    """Return the base URL for an ``OLLAMA_HOST``-style address.

    Follows the rules of the official ``ollama`` Python client (0.6). A bare ``host``,
    ``host:port`` or ``[ipv6]:port`` means ``http``, on port 11434 unless a port is given.
    An explicit ``http://`` or ``https://`` without a port means port 80 or 443. An empty
    host means 127.0.0.1, and a path is kept without its trailing slash.

    Args:
        value: The address, such as ``"0.0.0.0:11434"``, ``"ollama.internal"`` or
            ``"https://gpu-box.example:8443/ollama"``; ``None`` or ``""`` for the default.

    Raises:
        ConfigurationError: The scheme is not http or https, or the port is not a number.
    """
    value = (value or "").strip()
    scheme, separator, rest = value.partition("://")
    if separator:
        scheme = scheme.lower()
        if scheme not in _SCHEME_PORTS:
            message = f"the Ollama address {value!r} has the scheme {scheme!r}; use http:// or https://"
            raise ConfigurationError(message)
        default_port = _SCHEME_PORTS[scheme]
    else:
        scheme, rest, default_port = "http", value, DEFAULT_PORT

    parts = urlsplit(f"{scheme}://{rest}")
    try:
        port = parts.port or default_port
    except ValueError:
        message = f"the Ollama address {value!r} has an invalid port; write it as host:port, such as 127.0.0.1:11434"
        raise ConfigurationError(message) from None
    host = parts.hostname or "127.0.0.1"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name, not an IP address

    path = parts.path.strip("/")
    base = f"{scheme}://{host}:{port}"
    return f"{base}/{path}" if path else base
