#!/usr/bin/env bash
# The Linnet demo: linnetd runs the stack on a TAP device whose Linux side lives in a network
# namespace made for the demo. Linux pings Linnet, Linnet pings Linux, and the linnet CLI shows
# what the stack saw. Everything is removed at the end, even on failure. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

NS="linnet-demo-$$"
TAP="lndemo$$"
TAP="${TAP:0:15}"
SOCK="$(mktemp -u /tmp/linnetd-demo.XXXXXX.sock)"
DAEMON_PID=""

cleanup() {
    [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -f "$SOCK"
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
    echo "the demo creates a TAP device and a network namespace: run it as root" >&2
    exit 1
fi

echo "building linnetd and the linnet CLI (release; the first build takes a minute or two)..."
cargo build --release -p linnetd -p linnet-cli
BIN=target/release

ip netns add "$NS"
"$BIN/linnetd" --tap "$TAP" --addr 192.0.2.2/24 --gateway 192.0.2.1 --control "$SOCK" &
DAEMON_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && [ -e "/sys/class/net/$TAP" ] && break; sleep 0.05; done
ip link set "$TAP" netns "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 192.0.2.1/24 dev "$TAP"
ip -n "$NS" link set "$TAP" up

echo; echo "== Linux (namespace $NS) pings Linnet =="
ip netns exec "$NS" ping -c 3 -i 0.2 192.0.2.2
echo; echo "== Linnet pings Linux =="
"$BIN/linnet" -S "$SOCK" ping -c 3 -i 0.2 192.0.2.1
echo; echo "== linnet ip -s link / ip addr / ip route / ip neigh =="
"$BIN/linnet" -S "$SOCK" ip -s link show
"$BIN/linnet" -S "$SOCK" ip addr show
"$BIN/linnet" -S "$SOCK" ip route show
"$BIN/linnet" -S "$SOCK" ip neigh show
echo; echo "== linnet netstat -s =="
"$BIN/linnet" -S "$SOCK" netstat -s
