"""An address written ``http://user:secret@host:8123/`` works: ClickHouse refuses its headers
together with HTTP basic auth, so the client moves the credentials to the headers."""

from __future__ import annotations

import pytest

from splitlab.store.clickhouse import LocalServer
from splitlab.store.clickhouse.http import ClickHouseClient, ClickHouseError


def _with_userinfo(url: str, userinfo: str) -> str:
    return url.replace("http://", f"http://{userinfo}@", 1)


def test_the_addresss_user_and_empty_password_are_used(clickhouse: LocalServer) -> None:
    """Before: 401 "it is not allowed to use X-ClickHouse HTTP headers and other
    authentication methods simultaneously"."""
    client = ClickHouseClient(_with_userinfo(clickhouse.url, "default:"))
    try:
        assert client.query("SELECT 1")[1] == [[1]]
        assert "@" not in client.url
    finally:
        client.close()


def test_the_addresss_password_is_sent_and_never_shown(clickhouse: LocalServer) -> None:
    """A wrong password in the address is refused as a wrong password (it reached the
    server), and the message names the address without it."""
    client = ClickHouseClient(_with_userinfo(clickhouse.url, "default:not%2Dthe-password"))
    try:
        with pytest.raises(ClickHouseError) as refused:
            client.query("SELECT 1")
    finally:
        client.close()
    message = str(refused.value)
    assert "password" in message.lower() and "X-ClickHouse" not in message, message
    assert "not-the-password" not in message and "not%2D" not in message
    assert f"ClickHouse at {clickhouse.url}" in message


def test_the_addresss_user_reaches_the_server(clickhouse: LocalServer) -> None:
    """The user named in the address is the one ClickHouse checks."""
    client = ClickHouseClient(_with_userinfo(clickhouse.url, "nobody:x"))
    try:
        with pytest.raises(ClickHouseError, match="Unknown user nobody"):
            client.query("SELECT 1")
    finally:
        client.close()
