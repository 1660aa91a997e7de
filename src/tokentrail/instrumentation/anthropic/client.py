"""The client of a call: its endpoint (`server.address` / `server.port`), platform, and whether it signs requests.

All memoised: per client class, and per base URL object (a call reads the same client's URL every time), and the
whole of a call's `Base` per (operation, client class, base URL object).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.util.types import AttributeValue

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv

__all__ = ["Base", "base_attributes", "platform_of", "server_of", "signs_requests"]

_PROVIDER = anthropic_contract.PROVIDER

_PLATFORMS: dict[type, str] = {}
_ServerInfo = tuple[str | None, int | None]
_servers: dict[int, tuple[Any, _ServerInfo]] = {}
"""id(base URL) -> (that URL, its server info): the URL is kept, so its id cannot be reused while cached."""
_MAX_SERVERS = 256


def platform_of(client: Any) -> str:
    """`anthropic`, `bedrock`, `vertex` (or `foundry`) from the client's class (and its bases), memoised per class."""
    cls = type(client)
    platform = _PLATFORMS.get(cls)
    if platform is None:
        names = " ".join(base.__name__ for base in cls.__mro__).lower()
        if "bedrock" in names or "aws" in names:
            platform = "bedrock"
        elif "vertex" in names or "googlecloud" in names:
            platform = "vertex"
        elif "foundry" in names:
            platform = "foundry"
        else:
            platform = "anthropic"
        _PLATFORMS[cls] = platform
    return platform


def server_of(client: Any) -> _ServerInfo:
    """(`server.address`, `server.port`) of the client's base URL; the port defaults from the scheme."""
    url = getattr(client, "base_url", None)
    if url is None:
        return None, None
    cached = _servers.get(id(url))
    if cached is not None and cached[0] is url:
        return cached[1]
    host = getattr(url, "host", None) or None
    port = getattr(url, "port", None)
    if port is None:
        scheme = getattr(url, "scheme", "https")
        port = 443 if scheme == "https" else 80 if scheme == "http" else None
    found = (host, port)
    if len(_servers) >= _MAX_SERVERS:
        _servers.clear()
    _servers[id(url)] = (url, found)
    return found


_SIGNS: dict[type, bool] = {}
_BASE_CLIENT_MODULE = "anthropic._base_client"


def signs_requests(client: Any) -> bool:
    """True when the client's class changes each request after the SDK built it (`_prepare_request`: AWS
    signatures, Google credentials): then trace headers may only be added after that step. Memoised per class."""
    cls = type(client)
    signs = _SIGNS.get(cls)
    if signs is None:
        owner = next((base for base in cls.__mro__ if "_prepare_request" in vars(base)), None)
        signs = owner is not None and owner.__module__ != _BASE_CLIENT_MODULE
        _SIGNS[cls] = signs
    return signs


Base = tuple[dict[str, AttributeValue], str | None, int | None, bool]
"""(request attributes every operation has, server address, server port, whether the client signs requests)."""

_bases: dict[tuple[str, type, int], tuple[Any, Base]] = {}
"""(operation, client class, id(base URL)) -> (that URL, its `Base`): the URL is kept, so its id cannot be reused
while cached; every fact of a `Base` depends only on the class and the URL."""


def base_attributes(operation: str, instance: Any) -> Base:
    """The `Base` of a call on a resource (`instance._client` is its client); the attributes are a fresh dict."""
    try:  # attribute reads, not `getattr` with a default: a builtin call less each, on every call
        client = instance._client
    except AttributeError:
        client = None
    if client is None:
        return {semconv.GEN_AI_OPERATION_NAME: operation, semconv.GEN_AI_PROVIDER_NAME: _PROVIDER}, None, None, False
    try:
        url = client.base_url
    except AttributeError:
        url = None
    key = (operation, type(client), id(url))
    cached = _bases.get(key)
    if cached is None or cached[0] is not url:
        cached = (url, _base(operation, client))
        if len(_bases) >= _MAX_SERVERS:
            _bases.clear()
        _bases[key] = cached
    attributes, address, port, signed = cached[1]
    return attributes.copy(), address, port, signed


def _base(operation: str, client: Any) -> Base:
    attributes: dict[str, AttributeValue] = {
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_PROVIDER_NAME: _PROVIDER,
    }
    address, port = server_of(client)
    if address:
        attributes[semconv.SERVER_ADDRESS] = address
        if port is not None:
            attributes[semconv.SERVER_PORT] = port
    attributes[anthropic_contract.CLIENT_PLATFORM] = platform_of(client)
    return attributes, address, port, signs_requests(client)
