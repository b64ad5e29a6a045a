#!/usr/bin/env bash
# System packages the tests need (Debian): headless Chromium for the dashboard's browser tests,
# Node.js for the JavaScript SDK's tests, a ClickHouse server for the ClickHouse store's tests and
# PostgreSQL for SQL metrics over PostgreSQL (tests/postgres.py starts its own server).
# Idempotent; as root it installs what is missing, otherwise it says what to install.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# Node.js 18+ runs the JavaScript SDK's tests (tests/test_js_sdk.py).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
# ClickHouse (tests/clickhouse, bench/clickhouse.py): the server lives in /usr/sbin.
{ command -v clickhouse-server || [ -x /usr/sbin/clickhouse-server ]; } >/dev/null 2>&1 \
  || missing+=(clickhouse-server clickhouse-client)
# PostgreSQL (tests/postgres.py runs initdb and pg_ctl from /usr/lib/postgresql/*/bin).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# PostgreSQL refuses to run as root: as root, the tests run it as this unprivileged user.
if [ "$(id -u)" -eq 0 ] && ! id splitlab-pg >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin splitlab-pg
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Please install: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} (Debian packages) ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
