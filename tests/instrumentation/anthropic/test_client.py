"""client: endpoint and platform of a call's client."""

from __future__ import annotations

from types import SimpleNamespace as NS

import httpx

from tokentrail.instrumentation.anthropic import client


def test_server_defaults_port_from_scheme():
    assert client.server_of(NS(base_url=httpx.URL("https://api.example.com"))) == ("api.example.com", 443)
    assert client.server_of(NS(base_url=httpx.URL("http://h"))) == ("h", 80)
    assert client.server_of(NS()) == (None, None)


def test_server_is_memoised_per_url_object():
    url = httpx.URL("https://api.example.com:8443")
    holder = NS(base_url=url)
    assert client.server_of(holder) == client.server_of(holder) == ("api.example.com", 8443)
    holder.base_url = httpx.URL("http://other")
    assert client.server_of(holder) == ("other", 80)
