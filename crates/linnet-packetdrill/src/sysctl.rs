//! `net.ipv4.*` settings written by a script's shell lines. The harness puts a `sysctl` shim
//! first in `PATH` that writes each `net.ipv4.KEY=VALUE` into a file `KEY` of a directory
//! standing for `/proc/sys/net/ipv4`; before every socket call the library applies the files
//! that changed to the stack under test.
//!
//! Linux: the `/proc/sys/net/ipv4/*` handlers (`proc_dointvec`, `proc_tcp_congestion_control`,
//! `ipv4_sysctl_rtcache_flush`...), here for the settings Linnet has.

use linnet::Stack;
use std::collections::HashMap;
use std::time::SystemTime;

/// Settings the harness keeps itself rather than the stack: `tcp_notsent_lowat` is the
/// default the socket layer gives new sockets.
pub const HARNESS_KEYS: &[&str] = &["tcp_notsent_lowat"];

/// The `net.ipv4` settings applied to the stack, as file names under `/proc/sys/net/ipv4`
/// (the shim writes `net.ipv4.route.min_pmtu` as `route.min_pmtu`): every writable
/// `net.ipv4.*` entry of the stack's sysctl table, then [`HARNESS_KEYS`].
pub fn known() -> Vec<&'static str> {
    linnet::control::sysctl::writable_names()
        .filter_map(|k| k.strip_prefix("net.ipv4."))
        .chain(HARNESS_KEYS.iter().copied())
        .collect()
}

/// A directory standing for `/proc/sys/net/ipv4`: one file per setting, holding its value.
/// The harness's `sysctl` shim writes the files; when run as root the harness also
/// bind-mounts the directory over `/proc/sys/net/ipv4` in a private namespace, so scripts
/// that write `/proc/sys` directly (`set_sysctls.py`) land there too.
#[derive(Debug)]
pub struct SysctlDir {
    dir: String,
    seen: HashMap<&'static str, (SystemTime, u64)>,
    /// The file names watched ([`known`]).
    known: Vec<&'static str>,
    /// `tcp_notsent_lowat`: the socket layer's default for new sockets.
    pub notsent_lowat: u32,
}

impl SysctlDir {
    /// Watch `dir`.
    pub fn new(dir: String) -> SysctlDir {
        SysctlDir {
            dir,
            seen: HashMap::new(),
            known: known(),
            notsent_lowat: u32::MAX,
        }
    }

    /// Apply the settings whose files changed since the last call.
    pub fn apply_new(&mut self, stack: &mut Stack) {
        for i in 0..self.known.len() {
            let name = self.known[i];
            let path = format!("{}/{}", self.dir, name);
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let stamp = (
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                meta.len(),
            );
            if self.seen.get(name) == Some(&stamp) {
                continue;
            }
            self.seen.insert(name, stamp);
            let Ok(v) = std::fs::read_to_string(&path) else {
                continue;
            };
            let v = v.trim();
            if name == "tcp_notsent_lowat" {
                if let Ok(n) = v.parse::<u64>() {
                    self.notsent_lowat = n.min(u64::from(u32::MAX)) as u32;
                }
                continue;
            }
            apply(stack, &format!("net.ipv4.{name}"), v);
        }
        // `ip tcp_metrics flush|delete` lines the harness's `ip` shim queued.
        let path = format!("{}/{}", self.dir, TCP_METRICS_FILE);
        if let Ok(text) = std::fs::read_to_string(&path) {
            let _ = std::fs::remove_file(&path);
            for line in text.lines() {
                ip_tcp_metrics(stack, line);
            }
        }
    }
}

/// The file the `ip` shim appends `tcp_metrics` commands to (one per line, without the
/// leading `ip tcp_metrics`).
pub const TCP_METRICS_FILE: &str = ".ip_tcp_metrics";

/// One `ip tcp_metrics` command: `flush [all]` forgets every destination, `flush ADDR[/N]`
/// and `delete [address] ADDR` one (Linnet's `tcp_metrics` holds the Fast Open cache).
/// Linux: `tcp_metrics_nl_cmd_del` (iproute2's `ip tcp_metrics`).
pub fn ip_tcp_metrics(stack: &mut Stack, line: &str) {
    let mut words = line.split_whitespace();
    let cmd = words.next();
    let addr = words
        .find(|w| !matches!(*w, "all" | "address" | "addr" | "daddr" | "dst"))
        .and_then(|w| w.split('/').next())
        .and_then(|a| a.parse::<std::net::Ipv4Addr>().ok());
    match (cmd, addr) {
        (Some("flush"), None) => stack.tcp_fastopen_cache_flush(),
        (Some("flush" | "delete"), Some(a)) => stack.tcp_fastopen_cache_remove(a),
        _ => {}
    }
}

/// Apply one setting; unknown keys and values Linnet cannot take are ignored (the harness's
/// shim records them all; docs/packetdrill.md lists what is applied).
pub fn apply(stack: &mut Stack, key: &str, v: &str) {
    let key = key.replace('/', ".");
    // The stack's sysctl table checks the value as Linux's handler would; a refused one
    // (tcp_ecn's AccECN modes 3-5, say) leaves the setting as it was.
    let _ = linnet::control::sysctl::sysctl(stack, &key, Some(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watched_files_come_from_the_stack_table() {
        let k = known();
        // What the harness's own list held before it was derived from the table.
        for name in [
            "tcp_rmem",
            "tcp_wmem",
            "tcp_timestamps",
            "tcp_sack",
            "tcp_congestion_control",
            "tcp_notsent_lowat",
            "tcp_fastopen_key",
            "tcp_mtu_probe_floor",
        ] {
            assert!(k.contains(&name), "{name} missing from {k:?}");
        }
        // Keys of the table the old list missed, subdirectories as the shim names them;
        // read-only and other families' keys are not watched.
        assert!(k.contains(&"tcp_reordering"));
        assert!(k.contains(&"route.min_pmtu"));
        assert!(!k.contains(&"tcp_available_congestion_control"));
        assert!(!k.iter().any(|n| n.contains("somaxconn")));
    }
}
