#!/usr/bin/env bash
# Run packetdrill scripts (Linux's TCP tests) against Linnet through liblinnet_packetdrill.so.
#
#   scripts/packetdrill.sh [FILE.pkt|DIR]...     (no argument: the whole gtests/net/tcp suite)
#
# Prints "PASS path" or "FAIL path: <packetdrill's error line>" per script and a last line
# "N passed, M failed". Exit status 0 when every script passed.
#
# Environment: PACKETDRILL_SRC (packetdrill's tree; default ../shared/packetdrill beside the
# repository), PD_TIMEOUT (seconds per script, default 60), LINNET_PD_SO (use this .so instead
# of building target/release/liblinnet_packetdrill.so), PD_JOBS (scripts run at once, default 1),
# PD_VERBOSE=1 (run packetdrill with --verbose and print each script's log to stderr),
# PD_EXTRA_ARGS (more packetdrill arguments, e.g. --verbose), PD_LOG_DIR (keep each script's
# output there as NAME.log).
#
# Each script runs in its own directory (scripts name helpers relative to themselves:
# ../common/defaults.sh, or ./defaults.sh in Linux's selftests layout) with shims first in PATH:
# `sysctl` writes net.ipv4.KEY=VALUE into a per-script directory standing for
# /proc/sys/net/ipv4, which the library applies to the stack under test; `ip tcp_metrics
# flush|delete` reaches the stack's Fast Open cache the same way, and IPv4 `ip route` lines
# its routing table (crates/linnet-packetdrill/src/route.rs); `nstat` prints the stack's
# counters (a file the library keeps current) as nstat does; `tc` lines go to the stack's own
# qdiscs on tun0 (see crates/linnet-packetdrill/src/tc.rs); other `ip` lines and
# `ethtool` do nothing (there is no host device to configure). As root, each script also runs in private
# network and mount namespaces with that directory bind-mounted over /proc/sys/net/ipv4, so
# scripts writing /proc/sys directly (set_sysctls.py) reach the stack and never the host.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
src=${PACKETDRILL_SRC:-}
if [ -z "$src" ]; then
    for c in "$repo/../shared/packetdrill" "$repo/../../shared/packetdrill"; do
        if [ -d "$c/gtests/net/packetdrill" ]; then src=$(cd "$c" && pwd); break; fi
    done
fi
if [ -z "$src" ] || [ ! -d "$src/gtests/net/packetdrill" ]; then
    echo "packetdrill sources not found: set PACKETDRILL_SRC" >&2
    exit 2
fi
target=${CARGO_TARGET_DIR:-$repo/target}
timeout_s=${PD_TIMEOUT:-60}
jobs=${PD_JOBS:-1}

# packetdrill itself, built by one run at a time (tests run this script in parallel).
mkdir -p "$target"
exec 9>"$target/packetdrill.lock"
flock 9
if [ -x "$src/build.sh" ]; then
    "$src/build.sh" "$target/packetdrill" >/dev/null || { echo "packetdrill build failed" >&2; exit 2; }
else
    mkdir -p "$target/packetdrill"
    if [ ! -x "$target/packetdrill/packetdrill" ]; then
        rm -rf "$target/packetdrill/src" && cp -r "$src/gtests/net/packetdrill" "$target/packetdrill/src"
        (cd "$target/packetdrill/src" && ./configure >/dev/null && make -j"$(nproc)" packetdrill >/dev/null) \
            || { echo "packetdrill build failed" >&2; exit 2; }
        cp "$target/packetdrill/src/packetdrill" "$target/packetdrill/packetdrill"
    fi
fi
pd="$target/packetdrill/packetdrill"
flock -u 9

# The shared object.
so=${LINNET_PD_SO:-}
if [ -z "$so" ]; then
    (cd "$repo" && cargo build --release -q -p linnet-packetdrill) || { echo "cargo build failed" >&2; exit 2; }
    so="$target/release/liblinnet_packetdrill.so"
fi
so=$(cd "$(dirname "$so")" && pwd)/$(basename "$so")

# Shims.
work=$(mktemp -d "${TMPDIR:-/tmp}/linnet-pd.XXXXXX") && [ -n "$work" ] && [ -d "$work" ] \
    || { echo "cannot make a temporary directory (TMPDIR=${TMPDIR:-/tmp})" >&2; exit 2; }
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin" || exit 2
cat > "$work/bin/sysctl" <<'EOF'
#!/bin/sh
# sysctl shim: net.ipv4.KEY=VALUE goes to $LINNET_SYSCTL_DIR/KEY; reads print what is there.
# When the directory was filled from a fresh namespace's /proc/sys/net/ipv4 (as root), a key
# that Linux does not have fails as sysctl(8) fails on it (status 1), so that a script's
# `sysctl -q OLD_KEY=... || fallback` takes its fallback as it does on Linux.
st=0
unknown() {
    [ -f "$LINNET_SYSCTL_DIR/.linux_keys" ] && [ ! -f "$LINNET_SYSCTL_DIR/$1" ] || return 1
    echo "sysctl: cannot stat /proc/sys/net/ipv4/$1: No such file or directory" >&2
    st=1
}
for a in "$@"; do
    case "$a" in
        -*) ;;
        net.ipv4.*=*|net/ipv4/*=*)
            k=${a%%=*}; v=${a#*=}; k=${k#net.ipv4.}; k=${k#net/ipv4/}
            unknown "$k" || printf '%s\n' "$v" > "$LINNET_SYSCTL_DIR/$k" ;;
        *=*) ;;
        net.ipv4.*|net/ipv4/*)
            k=${a#net.ipv4.}; k=${k#net/ipv4/}
            unknown "$k" || { [ -f "$LINNET_SYSCTL_DIR/$k" ] && printf '%s = %s\n' "$a" "$(cat "$LINNET_SYSCTL_DIR/$k")"; } ;;
    esac
done
exit $st
EOF
cat > "$work/bin/nstat" <<'EOF'
#!/bin/sh
# nstat shim: the stack's counters, which the library keeps in $LINNET_NSTAT_FILE ("Name value"
# lines), printed as iproute2's nstat prints the kernel's: the increments since the last run
# (history in $LINNET_NSTAT_FILE.hist), nonzero ones only. -a/-r: absolute values; -z: zeros
# too; -n: no output; -s: keep the history; other arguments: glob patterns of names.
abs=0 zeros=0 out=1 upd=1 pats=
for a in "$@"; do
    case "$a" in
        --ignore|--reset) abs=1 ;;
        --zeros) zeros=1 ;;
        --nooutput) out=0 ;;
        --noupdate) upd=0 ;;
        --*) ;;
        -*) o=${a#-}
            while [ -n "$o" ]; do
                case "$o" in a*|r*) abs=1 ;; z*) zeros=1 ;; n*) out=0 ;; s*) upd=0 ;; esac
                o=${o#?}
            done ;;
        *) pats="$pats $a" ;;
    esac
done
cur=${LINNET_NSTAT_FILE:-} hist=${LINNET_NSTAT_FILE:-}.hist
if [ -z "$cur" ] || [ ! -f "$cur" ]; then echo "nstat: no counters (LINNET_NSTAT_FILE)" >&2; exit 1; fi
snap=$(cat "$cur")
if [ $out = 1 ]; then
    echo "#kernel"
    { if [ $abs = 0 ] && [ -f "$hist" ]; then cat "$hist"; fi; echo "--"; printf '%s\n' "$snap"; } |
    awk -v zeros=$zeros '
        $0 == "--" { cur = 1; next }
        !cur { old[$1] = $2; next }
        { d = $2 - old[$1]; if (d != 0 || zeros) printf "%-32s%-19s%s\n", $1, d, "0.0" }' |
    while IFS= read -r l; do
        n=${l%% *}
        if [ -z "$pats" ]; then printf '%s\n' "$l"; continue; fi
        for p in $pats; do
            case "$n" in $p) printf '%s\n' "$l"; break ;; esac
        done
    done
fi
if [ $upd = 1 ]; then printf '%s\n' "$snap" > "$hist"; fi
exit 0
EOF
printf '#!/bin/sh\n# No host device to configure: the stack under test lives in the library.\nexit 0\n' > "$work/bin/ethtool"
cat > "$work/bin/tc" <<'EOF'
#!/bin/sh
# tc shim: the arguments go, 0x1f-separated, as one line to $LINNET_SYSCTL_DIR/.tc, which
# the library runs through Linnet's tc before the next socket call.
[ -n "${LINNET_SYSCTL_DIR:-}" ] || exit 0
for a in "$@"; do printf '%s\037' "$a"; done >> "$LINNET_SYSCTL_DIR/.tc"
printf '\n' >> "$LINNET_SYSCTL_DIR/.tc"
exit 0
EOF
cat > "$work/bin/ip" <<'EOF'
#!/bin/sh
# ip shim: `ip tcp_metrics flush|delete ...` is queued for the stack in
# $LINNET_SYSCTL_DIR/.ip_tcp_metrics and IPv4 `ip route add|change|replace|append|del ...`
# (metrics such as `mtu lock N advmss N initcwnd N` included) in .ip_route; the library
# applies them before the next socket call. Every other `ip` line does nothing (no host
# device to configure; Linnet has no IPv6).
v6=0
while [ $# -gt 0 ]; do
    case "$1" in
        -6) v6=1; shift ;;
        -*) shift ;;
        *) break ;;
    esac
done
case "$1" in
    tcp_metrics|tcpmetrics|tcpm)
        case "$2" in flush|delete) shift; printf '%s\n' "$*" >> "$LINNET_SYSCTL_DIR/.ip_tcp_metrics" ;; esac ;;
    route|r|ro|rou|rout)
        [ $v6 = 0 ] && [ -n "${LINNET_SYSCTL_DIR:-}" ] && { shift; printf '%s\n' "$*" >> "$LINNET_SYSCTL_DIR/.ip_route"; } ;;
esac
exit 0
EOF
chmod +x "$work/bin/sysctl" "$work/bin/nstat" "$work/bin/ip" "$work/bin/tc" "$work/bin/ethtool"
# Mounts a symlink over the symlink /proc/net (-> self/net), which mount(8) cannot do (it
# follows the target): open_tree(2) + move_mount(2) without following either link.
cat > "$work/mount_procnet.py" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC, AT_SYMLINK_NOFOLLOW = 1, 0o2000000, 0x100
AT_FDCWD, MOVE_MOUNT_F_EMPTY_PATH = -100, 4
fd = libc.syscall(428, AT_FDCWD, sys.argv[1].encode(),  # open_tree
                  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW)
if fd < 0 or libc.syscall(429, fd, b"", AT_FDCWD, b"/proc/net", MOVE_MOUNT_F_EMPTY_PATH) < 0:  # move_mount
    sys.exit("mount over /proc/net: " + os.strerror(ctypes.get_errno()))
EOF

isroot=0
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n -m true 2>/dev/null; then isroot=1; fi

# The scripts run from a symlink farm of their tree (from the highest ancestor, at most three
# levels up, that holds a "common" directory of shared helpers, as gtests/net does; else the
# directory itself): a copy of a tree whose symlinks were flattened into one-line text files
# (a helper "defaults.sh" holding "../../common/defaults.sh") gets real symlinks back, so that
# the helpers execute.
farm_of() {  # farm_of DIR -> prints the farm path of DIR
    local d=$1 root k p key farm
    root=$d; p=$d
    for k in 1 2 3; do
        p=$(dirname "$p")
        [ "$p" = / ] && break
        [ -d "$p/common" ] && root=$p
    done
    key=$(printf '%s' "$root" | cksum | cut -d' ' -f1)
    farm="$work/farm.$key"
    if [ ! -d "$farm" ]; then
        mkdir -p "$farm" && cp -rs "$root/." "$farm/" 2>/dev/null
        while IFS= read -r l; do
            local orig tgt
            orig=$(readlink "$l")
            [ -f "$orig" ] && [ ! -x "$orig" ] && [ "$(wc -c < "$orig")" -lt 256 ] || continue
            [ "$(wc -l < "$orig")" -le 1 ] || continue
            tgt=$(head -1 "$orig")
            [ -n "$tgt" ] && [ -f "$(dirname "$orig")/$tgt" ] || continue
            ln -sf "$(cd "$(dirname "$orig")/$(dirname "$tgt")" && pwd)/$(basename "$tgt")" "$l"
        done < <(find "$farm" -type l -name '*.sh')
    fi
    printf '%s%s\n' "$farm" "${d#"$root"}"
}

# The scripts: (display path, file in the farm) pairs.
list=()
add_dir() {
    local d f fd; d=$(cd "$1" && pwd); fd=$(farm_of "$d")
    while IFS= read -r f; do list+=("${f#"$d"/}|$fd/${f#"$d"/}"); done < <(find "$d" -name '*.pkt' -type f | LC_ALL=C sort)
}
if [ $# -eq 0 ]; then
    add_dir "$src/gtests/net/tcp"
else
    for a in "$@"; do
        if [ -d "$a" ]; then add_dir "$a"
        elif [ -f "$a" ]; then
            fd=$(farm_of "$(cd "$(dirname "$a")" && pwd)")
            list+=("$a|$fd/$(basename "$a")")
        else echo "no such script or directory: $a" >&2; exit 2
        fi
    done
fi

# One script: writes "PASS path" or "FAIL path: reason" to $2.
run_one() {
    local show=$1 file=$2 out=$3 i=$4
    local dir base sysdir netdir log rc
    dir=$(dirname "$file"); base=$(basename "$file")
    sysdir="$work/sysctl.$i"; netdir="$work/procnet.$i"; log="$work/log.$i"
    mkdir -p "$sysdir" "$netdir"
    if [ $isroot = 1 ]; then
        # A fresh namespace's values are Linux's defaults: start the directory from them.
        unshare -n sh -c 'for f in /proc/sys/net/ipv4/*; do [ -f "$f" ] && cat "$f" > "$1/${f##*/}" 2>/dev/null; done; true' _ "$sysdir"
        : > "$sysdir/.linux_keys"
    fi
    # A script's own IPv4 addresses (header lines "--local_ip=..." / "--remote_ip=...": the
    # Fast Open cookie scripts expect the cookie of theirs) win over the defaults; packetdrill
    # lets command-line options override the script's, so the defaults are only passed when
    # the script names none.
    local lip=192.168.0.1 rip=192.0.2.1 v
    v=$(sed -n 's/^--local_ip=\([0-9]\{1,3\}\(\.[0-9]\{1,3\}\)\{3\}\)[[:space:]]*$/\1/p' "$file" | head -1)
    [ -n "$v" ] && lip=$v
    v=$(sed -n 's/^--remote_ip=\([0-9]\{1,3\}\(\.[0-9]\{1,3\}\)\{3\}\)[[:space:]]*$/\1/p' "$file" | head -1)
    [ -n "$v" ] && rip=$v
    local args=(--ip_version=ipv4 --local_ip="$lip" --gateway_ip=192.168.0.1
        --netmask_ip=255.255.0.0 --remote_ip="$rip"
        -D TFO_COOKIE=3021b9d889017eeb -D TFO_COOKIE_ZERO=b7c12350a90dc8f5 -D CODE=host_unreachable
        -D CMSG_LEVEL_IP=SOL_IP -D CMSG_TYPE_RECVERR=IP_RECVERR
        "--so_filename=$so" "--so_flags=local_ip=$lip prefix=16 remote_ip=$rip sysctl=$sysdir nstat=$work/nstat.$i procnet=$netdir"
        --tolerance_usecs=14000 ${PD_EXTRA_ARGS:-} "$base")
    [ -n "${PD_VERBOSE:-}" ] && args=(--verbose "${args[@]}")
    (
        cd "$dir" || exit 1
        export LINNET_SYSCTL_DIR="$sysdir" LINNET_NSTAT_FILE="$work/nstat.$i" PATH="$work/bin:$PATH"
        if [ $isroot = 1 ]; then
            # /proc/net becomes a directory the library keeps tcp and tcp6 in (the rest
            # links to the namespace's own entries).
            exec timeout -k 5 "$timeout_s" unshare -n -m --propagation private \
                sh -c 'mount --bind "$1" /proc/sys/net/ipv4 &&
                    for f in /proc/$$/net/*; do
                        case ${f##*/} in tcp|tcp6) ;; *) ln -s "$f" "$2/${f##*/}" ;; esac
                    done &&
                    ln -s "$2" "$2.link" && python3 "$3" "$2.link" &&
                    pre=$4 && shift 4 && exec env LD_PRELOAD="$pre" "$@"' _ "$sysdir" "$netdir" "$work/mount_procnet.py" "$so" "$pd" "${args[@]}"
        else
            LD_PRELOAD="$so" exec timeout -k 5 "$timeout_s" "$pd" "${args[@]}"
        fi
    ) > "$log" 2>&1
    rc=$?
    if [ -n "${PD_LOG_DIR:-}" ]; then cp "$log" "$PD_LOG_DIR/${base%.pkt}.log"; fi
    [ -n "${PD_VERBOSE:-}" ] && cat "$log" >&2
    if [ $rc = 0 ]; then
        echo "PASS $show" > "$out"
    else
        local why
        if [ $rc = 124 ] || [ $rc = 137 ]; then
            why="timed out after ${timeout_s}s"
        else
            why=$(grep -m1 -E "^$base:[0-9]+: |error|Error|assert" "$log" | tr -s ' \t' ' ')
            [ -n "$why" ] || why=$(grep -v '^\s*$' "$log" | tail -1)
            [ -n "$why" ] || why="exit status $rc"
        fi
        echo "FAIL $show: $why" > "$out"
    fi
}

pass=0 fail=0 i=0
pids=()
for entry in "${list[@]}"; do
    i=$((i + 1))
    run_one "${entry%%|*}" "${entry#*|}" "$work/res.$i" "$i" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
wait
for n in $(seq 1 "$i"); do
    line=$(cat "$work/res.$n" 2>/dev/null || echo "FAIL ?: no result")
    echo "$line"
    case "$line" in PASS*) pass=$((pass + 1)) ;; *) fail=$((fail + 1)) ;; esac
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
