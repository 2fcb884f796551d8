#!/usr/bin/env bash
# Benchmarks scepgate against micromdm's scepserver (Debian package scep) on
# this machine and writes BENCHMARKS.md. Both servers run from temporary
# folders on free loopback ports; scepclient bench drives them with RSA-2048
# device keys at concurrency 1 and 8.
#
#   N=200 scripts/bench.sh        # enrollments per configuration (default 200)
#   PROFILE=1 scripts/bench.sh    # also record a perf profile of scepgate (needs perf)
set -euo pipefail

N=${N:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
GO=${GO:-go}
cd "$ROOT"

if ! command -v scepserver >/dev/null 2>&1; then
	echo "scepserver is missing; install it with: apt-get install scep" >&2
	exit 1
fi

echo "Building scepgate and scepclient..."
CGO_ENABLED=1 $GO build -o "$BIN/scepgate" ./cmd/scepgate
$GO build -o "$BIN/scepclient" ./cmd/scepclient

WORK=$(mktemp -d)
PIDS=()
cleanup() {
	local status=$?
	if [ "$status" != 0 ]; then
		for log in "$WORK"/gate.log "$WORK"/mm.log; do
			[ -f "$log" ] && { echo "--- last lines of $(basename "$log"):" >&2; tail -n 20 "$log" >&2; }
		done
	fi
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

# free_port prints a loopback port nobody listens on, from $1 upwards.
free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

# wait_http waits until URL answers.
wait_http() {
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "$1 did not come up" >&2
	exit 1
}

GATE_PORT=$(free_port 18080)
NDES_PW=bench-ndes-password
echo "Starting scepgate on 127.0.0.1:$GATE_PORT..."
SCEPGATE_NDES_PASSWORD=$NDES_PW SCEPGATE_ADMIN_PASSWORD=bench-admin-password \
	"$BIN/scepgate" serve --init --data "$WORK/gate" --listen "127.0.0.1:$GATE_PORT" >"$WORK/gate.log" 2>&1 &
GATE_PID=$!
PIDS+=("$GATE_PID")
wait_http "http://127.0.0.1:$GATE_PORT/healthz"
GATE=http://127.0.0.1:$GATE_PORT/pgwy/scep

MM_PORT=$(free_port $((GATE_PORT + 1)))
echo "Starting micromdm's scepserver on 127.0.0.1:$MM_PORT..."
scepserver ca -init -depot "$WORK/depot" -keySize 2048 >/dev/null 2>&1
scepserver -depot "$WORK/depot" -port "$MM_PORT" -challenge bench-static-secret >"$WORK/mm.log" 2>&1 &
MM_PID=$!
PIDS+=("$MM_PID")
wait_http "http://127.0.0.1:$MM_PORT/scep?operation=GetCACaps"
MM=http://127.0.0.1:$MM_PORT/scep

echo "Adding $((2 * N)) pre-registrations to scepgate..."
for c in 1 8; do
	: >"$WORK/challenges-c$c.txt"
	for i in $(seq 1 "$N"); do
		pw="bench-c$c-$i-$RANDOM$RANDOM"
		"$BIN/scepgate" registration add --data "$WORK/gate" \
			--token-procedure "SCEP Registration and Enroll Procedure" --password "$pw" >/dev/null
		echo "$pw" >>"$WORK/challenges-c$c.txt"
	done
done

echo "Timing the floor..."
"$BIN/scepclient" bench-floor -json -d 3s >"$WORK/floor.json"
cat "$WORK/floor.json"

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
bench() {
	"$BIN/scepclient" bench -json -floor 2s -n "$N" "$@" | tee -a "$RESULTS"
}

if [ "${PROFILE:-}" = 1 ] && command -v perf >/dev/null 2>&1; then
	perf record -F 999 -g -o "$ROOT/bin/scepgate.perf.data" -p "$GATE_PID" >/dev/null 2>&1 &
	PERF_PID=$!
fi
for c in 1 8; do
	bench -label "scepgate (pre-registration)" -url "$GATE" -c "$c" -challenges "$WORK/challenges-c$c.txt" -server-pid "$GATE_PID"
	bench -label "scepgate (NDES)" -url "$GATE/ndesrequest" -c "$c" -server-pid "$GATE_PID" \
		-ndes-url "$GATE/ndeschallenge/" -ndes-user ndesadmin -ndes-password "$NDES_PW"
done
if [ -n "${PERF_PID:-}" ]; then
	kill -INT "$PERF_PID"
	wait "$PERF_PID" 2>/dev/null || true
	echo "perf profile of scepgate: bin/scepgate.perf.data (perf report -i bin/scepgate.perf.data --no-children)"
fi
for c in 1 8; do
	bench -label "micromdm scepserver (static)" -url "$MM" -c "$c" -challenge bench-static-secret -server-pid "$MM_PID"
done

"$BIN/scepclient" bench-report -floor "$WORK/floor.json" -results "$RESULTS" -keep BENCHMARKS.md -o BENCHMARKS.md
echo "Wrote BENCHMARKS.md."
