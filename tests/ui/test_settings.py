from __future__ import annotations

import pytest

from tokentrail.errors import ConfigurationError
from tokentrail.ui.settings import UiSettings, is_loopback, load


def test_loopback_needs_no_token_but_any_other_address_does() -> None:
    assert UiSettings(database_url="postgresql://x/y").host == "127.0.0.1"
    assert UiSettings(database_url="postgresql://x/y", host="::1").token is None
    with pytest.raises(ConfigurationError, match="without a token"):
        UiSettings(database_url="postgresql://x/y", host="0.0.0.0")
    assert UiSettings(database_url="postgresql://x/y", host="0.0.0.0", token="t").token == "t"


def test_is_loopback() -> None:
    assert is_loopback("localhost")
    assert is_loopback("127.0.0.2")
    assert is_loopback("::1")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("example.org")


def test_load_reads_the_environment_and_arguments_win() -> None:
    env = {
        "TOKENTRAIL_DATABASE_URL": "postgresql://a/b",
        "TOKENTRAIL_UI_PORT": "9000",
        "TOKENTRAIL_UI_TOKEN": "tok",
        "TOKENTRAIL_UI_JAEGER_URL": "http://localhost:16686/",
        "TOKENTRAIL_UI_REFRESH": "5",
    }
    settings = load(env)
    assert (settings.database_url, settings.port, settings.token) == ("postgresql://a/b", 9000, "tok")
    assert settings.jaeger_url == "http://localhost:16686"
    assert settings.refresh_seconds == 5
    assert load(env, port=1234, database_url="postgresql://c/d").port == 1234
    with pytest.raises(ConfigurationError, match="TOKENTRAIL_UI_PORT"):
        load({**env, "TOKENTRAIL_UI_PORT": "abc"})
    with pytest.raises(ConfigurationError, match="Jaeger"):
        load({**env, "TOKENTRAIL_UI_JAEGER_URL": "javascript:alert(1)"})
