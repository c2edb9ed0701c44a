#!/usr/bin/env bash
# The load scenarios of docs/performance.md, against a release server with a temporary data
# directory (a fresh server per scenario), driven by `giaoban loadtest`:
#   pairs   20 pairs: 40 sites, 20 publishers, 20 sessions of one publisher and one viewer
#   fanout  4 publishers x 25 viewers in one session (publishers also see each other)
#   city    the city-wide briefing: 1 host and 150 sites, every site publishing, each page with
#           the default layouts (remote sites: host and floor; the host: a page of 25); the sites
#           join muted (more than chair.join_muted_above_sites); the cameras no page shows are
#           paused after media.pause_unwatched_after_ms (5 s): measure with WARMUP=8 or more
#   city-unpaused  the same with sites that keep sending what nobody receives (--ignore-pause)
#   city-viewers  the earlier stand-in for it: the host publishing to 150 receive-only sites
#   layouts 30 sites all publishing, each page with the default layout (remote sites: host and
#           floor; the host: a page of 25); sites join muted (more than 5 sites)
#   alltoall the same 30 sites, every site showing every other and unmuted (--layout all)
#   memory  idle RSS of a fresh server, then 10 s after ten sessions of 50 sites (2 publishing,
#           one session after the other), split into anonymous and file-backed memory, with the
#           live heap (jemalloc, from /metrics), the thread count and the peak RSS
# Usage: benches/scenarios.sh [pairs|fanout|city|city-unpaused|layouts|alltoall|memory ...]
#        (default: pairs fanout city)
# Env: DURATION (s, default 20), WARMUP (s, default 3), OUT (directory for the JSON reports,
# default target/scenarios), PROFILE=pairs (record `perf record -F 499 -g` of that scenario's
# server for 15 s into $OUT/<scenario>.perf.data), SKIP_BUILD=1, BIN (the server binary).
# Prints one markdown row per scenario for the results table of docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
OUT=${OUT:-target/scenarios}
PROFILE=${PROFILE:-}
PASSWORD="scenario-password-2026"
ADMIN=scenario-admin
. benches/server.sh

loadtest() { # name, then loadtest options
  local name=$1
  shift
  GIAOBAN_LOADTEST_USER=$ADMIN GIAOBAN_LOADTEST_PASSWORD=$PASSWORD "$BIN" loadtest \
    --url "http://127.0.0.1:$PORT" --server-pid "$SERVER_PID" --duration "$DURATION" \
    --warmup "$WARMUP" --json "$@" >"$OUT/$name.json"
}

profile_during() { # name, seconds to wait before recording
  local name=$1 wait=$2
  sleep "$wait"
  perf record -F 499 -g -p "$SERVER_PID" -o "$OUT/$name.perf.data" -- sleep 15 \
    >/dev/null 2>&1 || echo "perf record failed" >&2
}

row() { # name, label
  local commit machine
  commit=$(git rev-parse --short HEAD)
  machine="$(nproc) cores $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg)"
  jq -r --arg lbl "$2" --arg date "$(date -u +%d/%m/%Y)" --arg commit "$commit" \
    --arg machine "$machine" '
    "| \($lbl) | \($date) | \($machine) | \($commit) | \(.sites.connected)/\(.sites.requested) (\(.sites.failed) failed) | \(.server.packets_in // "?" | tostring) / \(.server.packets_out // "?" | tostring) in/out | \((.packets.received_per_s|floor)) | \(.packets.loss_ratio*100*1000|round/1000) % | \(.join_to_first_frame_ms.p50|round) / \(.join_to_first_frame_ms.p95|round) / \(.join_to_first_frame_ms.max|round) | \(.delay_ms.p50*100|round/100) / \(.delay_ms.p99*100|round/100) | \(.rtcp.nacks_received) / \(.rtcp.keyframe_requests_received) | \(.server.cpu_percent*10|round/10) % | \(.server.us_per_forwarded_packet*10|round/10) | \(.server.packets_per_s_per_core|round) | \(.server.peak_rss_mb|round) | \(.loadtest.cpu_percent|round) % |"' \
    "$OUT/$1.json"
}

run_scenario() { # name, label, options...
  local name=$1 label=$2
  shift 2
  start_server
  if [ "$PROFILE" = "$name" ]; then
    loadtest "$name" "$@" &
    local lt=$!
    # Sites join at --ramp per second (default 10); record inside the measured window.
    profile_during "$name" $((WARMUP + 8))
    wait "$lt"
  else
    loadtest "$name" "$@"
  fi
  stop_server
  row "$name" "$label"
}

rss_kb() { grep VmRSS "/proc/$SERVER_PID/status" | awk '{print $2}'; }
# What the RSS is made of: anonymous memory (heap, stacks) vs the binary's and libraries' pages.
anon_kb() { grep '^Anonymous' "/proc/$SERVER_PID/smaps_rollup" | awk '{print $2}'; }
threads() { grep Threads "/proc/$SERVER_PID/status" | awk '{print $2}'; }
peak_kb() { grep VmHWM "/proc/$SERVER_PID/status" | awk '{print $2}'; }
ratio() { python3 -c "print(round($1/$2, 2))"; }
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }
# jemalloc's live heap (every Rust allocation and SQLite's), from /metrics, in MB.
heap_mb() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk '/^giaoban_heap_allocated_bytes /{printf "%.1f", $2/1048576}'; }

memory() {
  start_server
  sleep 5
  local fresh fresh_anon fresh_threads fresh_heap after after_anon after_threads after_heap
  fresh=$(rss_kb) fresh_anon=$(anon_kb) fresh_threads=$(threads) fresh_heap=$(heap_mb)
  for i in $(seq 10); do
    DURATION=5 WARMUP=1 loadtest "memory-$i" --sites 50 --publishers 2 --ramp 25 --quiet
    echo "memory: after session $i: RSS $(($(rss_kb) / 1024)) MB, anonymous $(($(anon_kb) / 1024)) MB, $(threads) threads" >&2
  done
  sleep 10
  after=$(rss_kb) after_anon=$(anon_kb) after_threads=$(threads) after_heap=$(heap_mb)
  echo "| memory | $(date -u +%d/%m/%Y) | $(git rev-parse --short HEAD) | load $(cut -d' ' -f1 /proc/loadavg) | idle RSS fresh $(mb "$fresh") MB, after ten 50-site sessions $(mb "$after") MB, ratio $(ratio "$after" "$fresh") | anonymous $(mb "$fresh_anon") → $(mb "$after_anon") MB, file-backed $(mb $((fresh - fresh_anon))) → $(mb $((after - after_anon))) MB | live heap $fresh_heap → $after_heap MB | threads $fresh_threads → $after_threads | peak RSS $(($(peak_kb) / 1024)) MB |"
  stop_server
}

echo "| scenario | date | machine | commit | sites connected | server packets in/out (window) | received/s | loss | join→first frame p50/p95/max ms | delay p50/p99 ms | NACKs / PLIs at sites | server CPU (one core) | µs per forwarded packet | packets/s/core | peak RSS MB | load tester CPU |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for s in "${@:-pairs fanout city}"; do
  for name in $s; do
    case $name in
      pairs) run_scenario pairs "(a) 20 pairs" --sites 40 --publishers 20 --sessions 20 ;;
      fanout) run_scenario fanout "(b) 4 publishers × 25 viewers" --sites 29 --publishers 4 --layout all ;;
      city) run_scenario city "(c) city: host + 150 sites, all publishing, default layouts" --sites 151 --ramp 25 ;;
      city-unpaused) run_scenario city-unpaused "(c) city, sites ignoring video_paused" --sites 151 --ramp 25 --ignore-pause ;;
      city-viewers) run_scenario city-viewers "host → 150 viewers" --sites 151 --publishers 1 --ramp 25 ;;
      layouts) run_scenario layouts "30 sites, default layouts" --sites 30 --ramp 5 ;;
      alltoall) run_scenario alltoall "30 sites, all to all" --sites 30 --ramp 5 --layout all ;;
      memory) memory ;;
      *) echo "unknown scenario $name" >&2; exit 2 ;;
    esac
  done
done
