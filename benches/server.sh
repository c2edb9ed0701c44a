# Sourced by the bench scripts: builds (unless SKIP_BUILD) and names the release server BIN, and
# starts and stops a fresh server on a temporary data directory with one admin account
# ($ADMIN / $PASSWORD, set by the caller), its HTTP port in $PORT and its log in $OUT/server.log.
mkdir -p "$OUT"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin giaoban >&2
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/giaoban}
SERVER_PID=""
DATA=""

start_server() {
  DATA=$(mktemp -d)
  GIAOBAN_DATA_DIR=$DATA GIAOBAN_PASSWORD=$PASSWORD "$BIN" user add --name "$ADMIN" \
    --role admin >/dev/null 2>&1
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  GIAOBAN_DATA_DIR=$DATA GIAOBAN_HTTP_ADDR=127.0.0.1:$PORT GIAOBAN_MEDIA_UDP_PORT=0 \
    GIAOBAN_LOG=error "$BIN" serve >"$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "server did not start" >&2
  exit 1
}

stop_server() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  [ -n "$DATA" ] && rm -rf "$DATA"
  DATA=""
}
trap stop_server EXIT
