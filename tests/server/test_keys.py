"""API keys: stored hashed, compared in constant time, created / listed / revoked by CLI."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import duckdb
from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.server.keys import KeyKind, KeyStore

from .server_helpers import Api


def _store(tmp_path: Path) -> KeyStore:
    return KeyStore(duckdb.connect(str(tmp_path / "keys.duckdb")), threading.Lock())


def test_only_the_hash_is_stored(tmp_path: Path) -> None:
    """The database holds the key's SHA-256, never the key."""
    keys = _store(tmp_path)
    new = keys.create(KeyKind.ADMIN, "ops")
    con = keys._db
    rows = con.execute("SELECT * FROM api_keys").fetchall()
    flat = json.dumps([[str(c) for c in row] for row in rows])
    assert new.secret not in flat
    assert hashlib.sha256(new.secret.encode()).hexdigest() in flat


def test_verify_accepts_the_key_and_refuses_near_misses(tmp_path: Path) -> None:
    """The exact key verifies; a changed character, another kind prefix or garbage does not."""
    keys = _store(tmp_path)
    secret = keys.create("sdk").secret
    assert keys.verify(secret) is not None
    last = "A" if secret[-1] != "A" else "B"
    assert keys.verify(secret[:-1] + last) is None
    assert keys.verify(secret.replace("sl_sdk_", "sl_admin_")) is None
    assert keys.verify("") is None
    assert keys.verify("Bearer nonsense") is None


def test_keys_survive_a_reopen_and_revocation_is_immediate(tmp_path: Path) -> None:
    """A key created earlier verifies after reopening; once revoked it does not."""
    keys = _store(tmp_path)
    new = keys.create("admin", "first")
    keys.create("admin", "second")  # the last admin key cannot be revoked
    keys._db.close()
    again = _store(tmp_path)
    assert again.verify(new.secret) is not None
    again.revoke(new.key.key_id)
    assert again.verify(new.secret) is None
    assert again.list()[0].revoked_at is not None


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    """`splitlab keys create|list|revoke --db` manage keys and print the secret once."""
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--db", db, "--kind", "sdk", "--json"])
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["secret"].startswith("sl_sdk_")
    listed = runner.invoke(cli, ["keys", "list", "--db", db, "--json"])
    [key] = json.loads(listed.output)
    assert key["keyId"] == data["key"]["keyId"]
    assert data["secret"] not in listed.output
    revoked = runner.invoke(cli, ["keys", "revoke", key["keyId"], "--db", db])
    assert revoked.exit_code == 0
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--db", db, "--json"]).output)
    assert listed[0]["revokedAt"] is not None


def test_cli_errors_are_clean(tmp_path: Path) -> None:
    """An unknown key id or kind gives a message and a non-zero exit, never a traceback."""
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    runner.invoke(cli, ["keys", "create", "--db", db, "--kind", "admin"])
    r = runner.invoke(cli, ["keys", "revoke", "0123456789ab", "--db", db])
    assert r.exit_code != 0
    assert "no key '0123456789ab'" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(cli, ["keys", "create", "--db", db, "--kind", "root"])
    assert r.exit_code == 2


def test_cli_refuses_to_revoke_the_last_admin_key(tmp_path: Path) -> None:
    """`keys revoke` of the last active admin key fails cleanly; after another one it works."""
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()

    def create(kind: str) -> str:
        made = runner.invoke(cli, ["keys", "create", "--db", db, "--kind", kind, "--json"])
        key_id: str = json.loads(made.output)["key"]["keyId"]
        return key_id

    first, sdk = create("admin"), create("sdk")
    refused = runner.invoke(cli, ["keys", "revoke", first, "--db", db])
    assert refused.exit_code == 3
    assert "last active admin key" in refused.output
    assert "splitlab keys create --kind admin" in refused.output
    assert "Traceback" not in refused.output
    assert runner.invoke(cli, ["keys", "revoke", sdk, "--db", db]).exit_code == 0
    create("admin")
    assert runner.invoke(cli, ["keys", "revoke", first, "--db", db]).exit_code == 0
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--db", db, "--json"]).output)
    assert [k["revokedAt"] is None for k in listed] == [False, False, True]


def test_keys_over_http_and_revocation_takes_effect(api: Api) -> None:
    """An admin creates an SDK key over HTTP; it works at once and stops when revoked."""
    r = api.client.post("/v1/keys", json={"kind": "sdk", "name": "ios"}, headers=api.admin)
    assert r.status_code == 201
    secret, key_id = r.json()["secret"], r.json()["key"]["keyId"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/v1/config", headers=headers).status_code == 200
    listed = api.client.get("/v1/keys", headers=api.admin).json()["keys"]
    assert secret not in json.dumps(listed)
    api.client.delete(f"/v1/keys/{key_id}", headers=api.admin)
    assert api.client.get("/v1/config", headers=headers).status_code == 401


def test_an_admin_key_may_also_do_what_an_sdk_key_does(api: Api) -> None:
    """Admin keys are a superset: they may assign and read the config too."""
    assert api.client.get("/v1/config", headers=api.admin).status_code == 200
    r = api.client.post("/v1/assign", json={"unitId": "u"}, headers=api.admin)
    assert r.status_code == 200
