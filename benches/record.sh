#!/usr/bin/env bash
# What recording costs (docs/performance.md, "Recording"): a release server with a temporary data
# directory, 20 publishing sites in 10 sessions of two (each site sees the other), driven by
# `giaoban loadtest`, once without and once with every session recorded (started through the
# API as soon as the load tester has created the sessions, before the measured window; stopped
# after it), ROUNDS times alternately. Per round it prints the server's CPU per forwarded packet in both runs, the extra
# CPU per recorded packet (every packet the server received in the window is recorded), the bytes
# written per minute per site, and the time the composite job takes per minute of recording (one
# recording of the last run, built through the API).
# Usage: benches/record.sh    Env: ROUNDS (default 2), DURATION (s, default 20), WARMUP (8),
# OUT (default target/record-bench), SKIP_BUILD=1, BIN (the server binary).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-8}
OUT=${OUT:-target/record-bench}
PASSWORD="record-bench-password-2026"
ADMIN=bench-admin
. benches/server.sh

JAR="$OUT/cookies"
CSRF=""
login() {
  rm -f "$JAR"
  curl -sf -c "$JAR" -H 'content-type: application/json' \
    -d "{\"username\":\"$ADMIN\",\"password\":\"$PASSWORD\"}" \
    "http://127.0.0.1:$PORT/api/login" >/dev/null
  CSRF=$(awk '$6 == "giaoban_csrf" {print $7}' "$JAR")
}
post() { # path
  curl -sf -b "$JAR" -H "x-csrf-token: $CSRF" -H 'content-type: application/json' -d '{}' \
    "http://127.0.0.1:$PORT$1"
}
sessions() {
  sqlite3 "$DATA/giaoban.db" "SELECT id FROM sessions WHERE status = 'scheduled' AND title LIKE 'Đo tải%'"
}

run() { # name, record (yes/no)
  local name=$1 record=$2
  start_server
  GIAOBAN_LOADTEST_USER=$ADMIN GIAOBAN_LOADTEST_PASSWORD=$PASSWORD "$BIN" loadtest \
    --url "http://127.0.0.1:$PORT" --server-pid "$SERVER_PID" --duration "$DURATION" \
    --warmup "$WARMUP" --sites 20 --sessions 10 --quiet --json >"$OUT/$name.json" &
  local lt=$!
  if [ "$record" = yes ]; then
    login
    for _ in $(seq 200); do
      [ "$(sessions | wc -l)" -ge 10 ] && break
      sleep 0.05
    done
    for id in $(sessions); do post "/api/sessions/$id/recording/start" >/dev/null; done
  fi
  wait "$lt"
  if [ "$record" = yes ]; then
    for id in $(sqlite3 "$DATA/giaoban.db" "SELECT session_id FROM recordings WHERE status = 'recording'"); do
      post "/api/sessions/$id/recording/stop" >/dev/null
    done
  fi
}

# Builds the composite of one recording through the API; prints "seconds recording_seconds".
composite() {
  local rec id total start job status
  rec=$(ls -d "$DATA"/recordings/*/ | head -1)
  id=$(basename "$rec")
  total=$(jq '[.files[] | .offset_ms + (.duration_ms // 0)] | max / 1000' "$rec/manifest.json")
  start=$(date +%s.%N)
  post "/api/recordings/$id/composite" >/dev/null
  while :; do
    job=$(curl -sf -b "$JAR" "http://127.0.0.1:$PORT/api/recordings/$id/composite")
    status=$(jq -r .status <<<"$job")
    [ "$status" = done ] && break
    [ "$status" = failed ] && { echo "composite failed: $job" >&2; echo "0 $total"; return; }
    sleep 0.2
  done
  echo "$(echo "$(date +%s.%N) - $start" | bc) $total"
}

for round in $(seq "$ROUNDS"); do
  run plain no
  stop_server
  run record yes
  bytes=$(find "$DATA/recordings" -name '*.webm' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  minutes=$(cat "$DATA"/recordings/*/manifest.json | jq -s '[.[].files[].duration_ms // 0] | add / 60000')
  read -r comp_s comp_total < <(composite)
  stop_server
  jq -n --slurpfile p "$OUT/plain.json" --slurpfile r "$OUT/record.json" \
    --argjson bytes "$bytes" --argjson minutes "$minutes" \
    --argjson comp_s "$comp_s" --argjson comp_total "$comp_total" --arg round "$round" '
    ($p[0].server) as $a | ($r[0].server) as $b |
    "| \($round) | \($a.us_per_forwarded_packet*10|round/10) | \($b.us_per_forwarded_packet*10|round/10) | \($b.packets_in) | \((($b.cpu_seconds - $a.cpu_seconds) * 1e6 / $b.packets_in)*10|round/10) | \($r[0].server.peak_rss_mb|round) (\($a.peak_rss_mb|round)) | \(($bytes / $minutes / 1e6)*100|round/100) MB | \($comp_s*10|round/10) s for \($comp_total) s: \(($comp_s * 60 / $comp_total)*10|round/10) s/min | \($r[0].packets.loss_ratio*100*1000|round/1000) % |"' -r
done
