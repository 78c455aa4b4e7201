//! The sysctl table: every tunable of the stack by its Linux name, with how it reads, how a
//! written value is checked and where it goes, in one place.
//!
//! Linux: the `ctl_table` arrays of net/core/sysctl_net_core.c, net/ipv4/sysctl_net_ipv4.c
//! and net/core/neighbour.c (`neigh_sysctl_template`), each entry naming its `proc_handler`
//! (`proc_dointvec_minmax`, `proc_dointvec_jiffies`, `proc_dointvec_ms_jiffies`, ...).
//!
//! [`StackConfig`](crate::stack::StackConfig) fields Linux has no sysctl for are not here:
//! the seed, `hystart` (a module parameter of tcp_cubic), the delayed-ACK timeout, the initial
//! RTO and the TIME-WAIT length (`TCP_TIMEWAIT_LEN`).

use super::Response;
use crate::stack::Stack;
use crate::transport::tcp::TcpConfig;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A sysctl value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysctlValue {
    /// Dotted name, e.g. `net.ipv4.ip_forward`.
    pub key: String,
    /// Value as text.
    pub value: String,
}

/// Why one sysctl operation of several failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysctlError {
    /// The errno (`ENOENT` unknown key, `EINVAL` bad value, `EACCES` read-only).
    pub errno: i32,
    /// The line `sysctl(8)` prints for it.
    pub message: String,
    /// What was wrong, in Linnet's words (Linux's line gives only the errno).
    #[serde(default)]
    pub why: String,
}

/// A sysctl error with its errno.
fn error(errno: i32, message: impl Into<String>) -> SysctlError {
    SysctlError {
        errno,
        message: message.into(),
        why: String::new(),
    }
}

impl SysctlError {
    /// The error as procps `sysctl(8)` reports it for `key`, Linnet's own words kept in
    /// `why`: `cannot stat /proc/sys/...: No such file or directory` for an unknown key,
    /// `setting key "...": Invalid argument` for a bad value, `permission denied on key
    /// "..."` for a read-only one.
    fn into_procps(self, key: &str) -> SysctlError {
        let message = match self.errno {
            libc::ENOENT => return self,
            libc::EINVAL => format!("sysctl: setting key \"{key}\": Invalid argument"),
            libc::EACCES => format!("sysctl: permission denied on key \"{key}\""),
            _ => return self,
        };
        SysctlError {
            errno: self.errno,
            why: self.message,
            message,
        }
    }
}

impl From<SysctlError> for Response {
    fn from(e: SysctlError) -> Response {
        super::error(e.errno, e.message)
    }
}

/// How a sysctl's value is written and read (its `proc_handler`).
#[derive(Clone, Copy)]
enum Kind {
    /// A switch: written as a number, nonzero is on; reads as 0 or 1.
    Bool(fn(&Stack) -> bool, fn(&mut Stack, bool)),
    /// An integer in `min..=max`, decimal or `0x` hex (`proc_dointvec_minmax`).
    Int {
        min: u64,
        max: u64,
        get: fn(&Stack) -> u64,
        set: fn(&mut Stack, u64),
    },
    /// A time written as a whole number of `unit`s (seconds: `proc_dointvec_jiffies`;
    /// milliseconds: `proc_dointvec_ms_jiffies`; microseconds: `proc_dointvec_minmax` on a
    /// `_us` value).
    Time {
        unit: Duration,
        min: u64,
        get: fn(&Stack) -> Duration,
        set: fn(&mut Stack, Duration),
    },
    /// Text with a syntax of its own (`proc_tcp_congestion_control`,
    /// `proc_tcp_fastopen_key`, `ipv4_local_port_range`, `tcp_rmem`'s three numbers).
    Text(
        fn(&Stack) -> String,
        fn(&mut Stack, &str) -> Result<(), SysctlError>,
    ),
    /// Read-only (mode 0444).
    ReadOnly(fn(&Stack) -> String),
}

/// One entry of the table. Linux: `struct ctl_table`.
struct Sysctl {
    name: &'static str,
    kind: Kind,
}

/// Largest value of a C `int` sysctl.
const INT_MAX: u64 = i32::MAX as u64;

/// The first number of `tcp_rmem`/`tcp_wmem`: the smallest buffer (Linux: one page).
const TCP_MEM_MIN: usize = 4096;

/// Largest buffer `tcp_rmem`/`tcp_wmem` accept here (64 MiB, SO_RCVBUF's limit too).
const TCP_MEM_LIMIT: usize = 64 << 20;

const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);
const US: Duration = Duration::from_micros(1);
const NS: Duration = Duration::from_nanos(1);

fn tcp(s: &Stack) -> &TcpConfig {
    &s.config().tcp
}

/// The table, sorted by name.
static TABLE: &[Sysctl] = &[
    Sysctl {
        name: "net.core.somaxconn",
        kind: Kind::Int {
            min: 1,
            max: INT_MAX,
            get: |s| tcp(s).somaxconn.into(),
            set: |s, n| s.tcp_config_mut().somaxconn = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.icmp_echo_ignore_broadcasts",
        kind: Kind::Bool(
            |s| s.config().icmp_echo_ignore_broadcasts,
            |s, on| s.config_mut().icmp_echo_ignore_broadcasts = on,
        ),
    },
    Sysctl {
        name: "net.ipv4.icmp_msgs_burst",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().icmp_msgs_burst.into(),
            set: |s, n| s.config_mut().icmp_msgs_burst = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.icmp_msgs_per_sec",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().icmp_msgs_per_sec.into(),
            set: |s, n| s.config_mut().icmp_msgs_per_sec = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.icmp_ratelimit",
        kind: Kind::Time {
            unit: MS,
            min: 0,
            get: |s| s.config().icmp_ratelimit,
            set: |s, d| s.config_mut().icmp_ratelimit = d,
        },
    },
    Sysctl {
        name: "net.ipv4.icmp_ratemask",
        kind: Kind::Int {
            min: 0,
            max: u32::MAX as u64,
            get: |s| s.config().icmp_ratemask.into(),
            set: |s, n| s.config_mut().icmp_ratemask = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.ip_default_ttl",
        kind: Kind::Int {
            min: 1,
            max: 255,
            get: |s| s.config().default_ttl.into(),
            set: |s, n| s.config_mut().default_ttl = n as u8,
        },
    },
    Sysctl {
        name: "net.ipv4.ip_forward",
        kind: Kind::Bool(|s| s.ip_forward_enabled(), |s, on| s.set_ip_forward(on)),
    },
    Sysctl {
        name: "net.ipv4.ip_local_port_range",
        kind: Kind::Text(
            |s| {
                let (lo, hi) = tcp(s).local_port_range;
                format!("{lo}\t{hi}")
            },
            set_local_port_range,
        ),
    },
    Sysctl {
        name: "net.ipv4.ipfrag_high_thresh",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().ipfrag.high_thresh as u64,
            set: |s, n| s.config_mut().ipfrag.high_thresh = n as usize,
        },
    },
    Sysctl {
        name: "net.ipv4.ipfrag_low_thresh",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().ipfrag.low_thresh as u64,
            set: |s, n| s.config_mut().ipfrag.low_thresh = n as usize,
        },
    },
    Sysctl {
        name: "net.ipv4.ipfrag_time",
        kind: Kind::Time {
            unit: SEC,
            min: 0,
            get: |s| s.config().ipfrag.time,
            set: |s, d| s.config_mut().ipfrag.time = d,
        },
    },
    Sysctl {
        name: "net.ipv4.neigh.default.base_reachable_time_ms",
        kind: Kind::Time {
            unit: MS,
            min: 0,
            get: |s| s.config().neigh.base_reachable_time,
            set: |s, d| s.config_mut().neigh.base_reachable_time = d,
        },
    },
    Sysctl {
        name: "net.ipv4.neigh.default.delay_first_probe_time",
        kind: Kind::Time {
            unit: SEC,
            min: 0,
            get: |s| s.config().neigh.delay_first_probe_time,
            set: |s, d| s.config_mut().neigh.delay_first_probe_time = d,
        },
    },
    Sysctl {
        name: "net.ipv4.neigh.default.gc_stale_time",
        kind: Kind::Time {
            unit: SEC,
            min: 0,
            get: |s| s.config().neigh.gc_stale_time,
            set: |s, d| s.config_mut().neigh.gc_stale_time = d,
        },
    },
    Sysctl {
        name: "net.ipv4.neigh.default.gc_thresh1",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().neigh.gc_thresh1 as u64,
            set: |s, n| s.config_mut().neigh.gc_thresh1 = n as usize,
        },
    },
    Sysctl {
        name: "net.ipv4.neigh.default.gc_thresh3",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().neigh.gc_thresh3 as u64,
            set: |s, n| s.config_mut().neigh.gc_thresh3 = n as usize,
        },
    },
    Sysctl {
        name: "net.ipv4.neigh.default.mcast_solicit",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().neigh.mcast_solicit.into(),
            set: |s, n| s.config_mut().neigh.mcast_solicit = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.neigh.default.retrans_time_ms",
        kind: Kind::Time {
            unit: MS,
            min: 0,
            get: |s| s.config().neigh.retrans_time,
            set: |s, d| s.config_mut().neigh.retrans_time = d,
        },
    },
    Sysctl {
        name: "net.ipv4.neigh.default.ucast_solicit",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().neigh.ucast_solicit.into(),
            set: |s, n| s.config_mut().neigh.ucast_solicit = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.neigh.default.unres_qlen",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().neigh.unres_qlen as u64,
            set: |s, n| s.config_mut().neigh.unres_qlen = n as usize,
        },
    },
    Sysctl {
        name: "net.ipv4.neigh.default.unres_qlen_bytes",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().neigh.unres_qlen_bytes as u64,
            set: |s, n| s.config_mut().neigh.unres_qlen_bytes = n as usize,
        },
    },
    Sysctl {
        name: "net.ipv4.route.min_pmtu",
        kind: Kind::Int {
            // Linux: at least IPV4_MIN_MTU.
            min: 68,
            max: 65535,
            get: |s| s.config().pmtu.min_pmtu.into(),
            set: |s, n| s.config_mut().pmtu.min_pmtu = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.route.mtu_expires",
        kind: Kind::Time {
            unit: SEC,
            min: 0,
            get: |s| s.config().pmtu.mtu_expires,
            set: |s, d| s.config_mut().pmtu.mtu_expires = d,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_available_congestion_control",
        kind: Kind::ReadOnly(|_| {
            crate::transport::tcp::cong::CcAlgorithm::ALL
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }),
    },
    Sysctl {
        name: "net.ipv4.tcp_backlog_ack_defer",
        kind: Kind::Bool(
            |s| tcp(s).backlog_ack_defer,
            |s, on| s.tcp_config_mut().backlog_ack_defer = on,
        ),
    },
    Sysctl {
        name: "net.ipv4.tcp_base_mss",
        kind: Kind::Int {
            min: 48,
            max: 65535 - 40,
            get: |s| tcp(s).base_mss.into(),
            set: |s, n| s.tcp_config_mut().base_mss = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_challenge_ack_limit",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| tcp(s).challenge_ack_limit.into(),
            set: |s, n| s.tcp_config_mut().challenge_ack_limit = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_comp_sack_delay_ns",
        kind: Kind::Time {
            unit: NS,
            min: 0,
            get: |s| tcp(s).comp_sack_delay,
            set: |s, d| s.tcp_config_mut().comp_sack_delay = d,
        },
    },
    Sysctl {
        // Linux: proc_dou8vec_minmax.
        name: "net.ipv4.tcp_comp_sack_nr",
        kind: Kind::Int {
            min: 0,
            max: 255,
            get: |s| tcp(s).comp_sack_nr.into(),
            set: |s, n| s.tcp_config_mut().comp_sack_nr = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_comp_sack_slack_ns",
        kind: Kind::Time {
            unit: NS,
            min: 0,
            get: |s| tcp(s).comp_sack_slack,
            set: |s, d| s.tcp_config_mut().comp_sack_slack = d,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_congestion_control",
        kind: Kind::Text(
            |s| tcp(s).congestion_control.to_string(),
            |s, v| {
                match v.trim().parse() {
                Ok(alg) => {
                    s.tcp_config_mut().congestion_control = alg;
                    Ok(())
                }
                // Linux: `tcp_set_default_congestion_control` → ENOENT for an unknown name.
                Err(_) => Err(error(
                    libc::ENOENT,
                    "sysctl: setting key \"net.ipv4.tcp_congestion_control\": No such file or directory",
                )),
            }
            },
        ),
    },
    Sysctl {
        name: "net.ipv4.tcp_ecn",
        kind: Kind::Int {
            min: 0,
            max: 2,
            get: |s| tcp(s).ecn.into(),
            set: |s, n| s.tcp_config_mut().ecn = n as u8,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_fastopen",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| tcp(s).fastopen.into(),
            set: |s, n| s.tcp_config_mut().fastopen = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_fastopen_key",
        kind: Kind::Text(
            |s| s.tcp_fastopen_keys().format(),
            |s, v| {
                // Linux: `proc_tcp_fastopen_key`: a primary key, optionally ",backup".
                match crate::transport::tcp::fastopen::FastOpenKeys::parse(v) {
                    Some(k) => {
                        s.set_tcp_fastopen_keys(k);
                        Ok(())
                    }
                    None => Err(error(
                        libc::EINVAL,
                        format!(
                            "sysctl: net.ipv4.tcp_fastopen_key: \"{v}\": want xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx[,...]"
                        ),
                    )),
                }
            },
        ),
    },
    Sysctl {
        name: "net.ipv4.tcp_fin_timeout",
        kind: Kind::Time {
            unit: SEC,
            min: 0,
            get: |s| tcp(s).fin_timeout,
            set: |s, d| s.tcp_config_mut().fin_timeout = d,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_frto",
        kind: Kind::Int {
            min: 0,
            max: 2,
            get: |s| if tcp(s).frto { 2 } else { 0 },
            set: |s, n| s.tcp_config_mut().frto = n > 0,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_keepalive_intvl",
        kind: Kind::Time {
            unit: SEC,
            min: 1,
            get: |s| tcp(s).keepalive_intvl,
            set: |s, d| s.tcp_config_mut().keepalive_intvl = d,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_keepalive_probes",
        kind: Kind::Int {
            min: 0,
            max: 255,
            get: |s| tcp(s).keepalive_probes.into(),
            set: |s, n| s.tcp_config_mut().keepalive_probes = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_keepalive_time",
        kind: Kind::Time {
            unit: SEC,
            min: 1,
            get: |s| tcp(s).keepalive_time,
            set: |s, d| s.tcp_config_mut().keepalive_time = d,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_max_reordering",
        kind: Kind::Int {
            min: 1,
            max: 300,
            get: |s| tcp(s).max_reordering.into(),
            set: |s, n| s.tcp_config_mut().max_reordering = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_max_syn_backlog",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| tcp(s).max_syn_backlog.into(),
            set: |s, n| s.tcp_config_mut().max_syn_backlog = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_moderate_rcvbuf",
        kind: Kind::Bool(
            |s| tcp(s).moderate_rcvbuf,
            |s, on| s.tcp_config_mut().moderate_rcvbuf = on,
        ),
    },
    Sysctl {
        name: "net.ipv4.tcp_mtu_probe_floor",
        kind: Kind::Int {
            min: 48,
            max: 65535 - 40,
            get: |s| tcp(s).mtu_probe_floor.into(),
            set: |s, n| s.tcp_config_mut().mtu_probe_floor = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_mtu_probing",
        kind: Kind::Int {
            min: 0,
            max: 2,
            get: |s| tcp(s).mtu_probing.into(),
            set: |s, n| s.tcp_config_mut().mtu_probing = n as u8,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_probe_interval",
        kind: Kind::Time {
            unit: SEC,
            min: 0,
            get: |s| tcp(s).probe_interval,
            set: |s, d| s.tcp_config_mut().probe_interval = d,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_probe_threshold",
        kind: Kind::Int {
            min: 0,
            max: 65535,
            get: |s| tcp(s).probe_threshold.into(),
            set: |s, n| s.tcp_config_mut().probe_threshold = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_reordering",
        kind: Kind::Int {
            min: 1,
            max: 300,
            get: |s| tcp(s).reordering.into(),
            set: |s, n| s.tcp_config_mut().reordering = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_retries2",
        kind: Kind::Int {
            min: 0,
            max: 255,
            get: |s| tcp(s).retries2.into(),
            set: |s, n| s.tcp_config_mut().retries2 = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_rmem",
        kind: Kind::Text(
            |s| {
                let t = tcp(s);
                format!("{}\t{}\t{}", TCP_MEM_MIN, t.rmem_default, t.rmem_max)
            },
            |s, v| {
                let (def, max) = parse_tcp_mem("net.ipv4.tcp_rmem", v)?;
                let t = s.tcp_config_mut();
                (t.rmem_default, t.rmem_max) = (def, max);
                Ok(())
            },
        ),
    },
    Sysctl {
        name: "net.ipv4.tcp_rto_min_us",
        kind: Kind::Time {
            unit: US,
            min: 1,
            get: |s| tcp(s).rto_min,
            set: |s, d| s.tcp_config_mut().rto_min = d,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_sack",
        kind: Kind::Bool(|s| tcp(s).sack, |s, on| s.tcp_config_mut().sack = on),
    },
    Sysctl {
        name: "net.ipv4.tcp_syn_retries",
        kind: Kind::Int {
            // Linux: 1..=MAX_TCP_SYNCNT.
            min: 1,
            max: 127,
            get: |s| tcp(s).syn_retries.into(),
            set: |s, n| s.tcp_config_mut().syn_retries = n as u32,
        },
    },
    Sysctl {
        name: "net.ipv4.tcp_synack_retries",
        kind: Kind::Int {
            min: 0,
            max: 255,
            get: |s| tcp(s).synack_retries.into(),
            set: |s, n| s.tcp_config_mut().synack_retries = n as u32,
        },
    },
    Sysctl {
        // Linux also has 2 (cookies always); Linnet sends them only when the queue is full.
        name: "net.ipv4.tcp_syncookies",
        kind: Kind::Bool(
            |s| tcp(s).syncookies,
            |s, on| s.tcp_config_mut().syncookies = on,
        ),
    },
    Sysctl {
        name: "net.ipv4.tcp_timestamps",
        kind: Kind::Bool(
            |s| tcp(s).timestamps,
            |s, on| s.tcp_config_mut().timestamps = on,
        ),
    },
    Sysctl {
        name: "net.ipv4.tcp_window_scaling",
        kind: Kind::Bool(
            |s| tcp(s).window_scaling,
            |s, on| s.tcp_config_mut().window_scaling = on,
        ),
    },
    Sysctl {
        name: "net.ipv4.tcp_wmem",
        kind: Kind::Text(
            |s| {
                let t = tcp(s);
                format!("{}\t{}\t{}", TCP_MEM_MIN, t.wmem_default, t.wmem_max)
            },
            |s, v| {
                let (def, max) = parse_tcp_mem("net.ipv4.tcp_wmem", v)?;
                let t = s.tcp_config_mut();
                (t.wmem_default, t.wmem_max) = (def, max);
                Ok(())
            },
        ),
    },
    Sysctl {
        name: "net.ipv6.bindv6only",
        kind: Kind::Bool(|s| s.ipv6_bindv6only(), |s, on| s.set_ipv6_bindv6only(on)),
    },
    Sysctl {
        name: "net.ipv6.conf.all.forwarding",
        kind: Kind::Bool(|s| s.ip6_forward_enabled(), |s, on| s.set_ip6_forward(on)),
    },
    Sysctl {
        name: "net.ipv6.conf.all.hop_limit",
        kind: Kind::Int {
            min: 1,
            max: 255,
            get: |s| s.ip6_hop_limit().into(),
            set: |s, n| s.set_ip6_hop_limit(n as u8),
        },
    },
    Sysctl {
        name: "net.ipv6.icmp.ratelimit",
        kind: Kind::Time {
            unit: MS,
            min: 0,
            get: |s| s.icmpv6_ratelimit(),
            set: |s, d| s.set_icmpv6_ratelimit(d),
        },
    },
    Sysctl {
        name: "net.ipv6.ip6frag_high_thresh",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().ip6frag.high_thresh as u64,
            set: |s, n| s.config_mut().ip6frag.high_thresh = n as usize,
        },
    },
    Sysctl {
        name: "net.ipv6.ip6frag_low_thresh",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            get: |s| s.config().ip6frag.low_thresh as u64,
            set: |s, n| s.config_mut().ip6frag.low_thresh = n as usize,
        },
    },
    Sysctl {
        name: "net.ipv6.ip6frag_time",
        kind: Kind::Time {
            unit: SEC,
            min: 0,
            get: |s| s.config().ip6frag.time,
            set: |s, d| s.config_mut().ip6frag.time = d,
        },
    },
    Sysctl {
        name: "net.ipv6.route.mtu_expires",
        kind: Kind::Time {
            unit: SEC,
            min: 0,
            get: |s| s.config().ip6_pmtu.mtu_expires,
            set: |s, d| s.config_mut().ip6_pmtu.mtu_expires = d,
        },
    },
];

/// Parse an integer as Linux's `proc_dointvec` does: decimal, or hex with `0x`.
fn parse_int(v: &str) -> Option<u64> {
    let t = v.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

/// Parse "MIN DEFAULT MAX" (blanks or tabs between) for `tcp_rmem`/`tcp_wmem`: the
/// default and maximum buffer sizes, with MIN <= DEFAULT <= MAX.
fn parse_tcp_mem(key: &str, v: &str) -> Result<(usize, usize), SysctlError> {
    let bad = |why: &str| error(libc::EINVAL, format!("sysctl: {key}: \"{v}\": {why}"));
    let nums: Vec<&str> = v.split_whitespace().collect();
    if nums.len() != 3 {
        return Err(bad("want three numbers: min default max"));
    }
    let mut n = [0usize; 3];
    for (slot, w) in n.iter_mut().zip(&nums) {
        *slot = w
            .parse()
            .map_err(|_| bad(&format!("\"{w}\" is not a number of bytes")))?;
    }
    if n[0] == 0 || n[0] > n[1] || n[1] > n[2] {
        return Err(bad("want 0 < min <= default <= max"));
    }
    if n[2] > TCP_MEM_LIMIT {
        return Err(bad(&format!("max is above {TCP_MEM_LIMIT}")));
    }
    Ok((n[1].max(TCP_MEM_MIN), n[2].max(TCP_MEM_MIN)))
}

/// `ip_local_port_range`: "LOW HIGH", 1 <= LOW <= HIGH <= 65535. Linux:
/// `ipv4_local_port_range` (which refuses LOW > HIGH with EINVAL).
fn set_local_port_range(s: &mut Stack, v: &str) -> Result<(), SysctlError> {
    let key = "net.ipv4.ip_local_port_range";
    let bad = || {
        error(
            libc::EINVAL,
            format!(
                "sysctl: {key}: \"{v}\": want two ports LOW HIGH with 1 <= LOW <= HIGH <= 65535"
            ),
        )
    };
    let nums: Vec<u16> = v
        .split_whitespace()
        .map(|w| w.parse::<u16>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    match nums[..] {
        [lo, hi] if lo >= 1 && lo <= hi => {
            s.tcp_config_mut().local_port_range = (lo, hi);
            Ok(())
        }
        _ => Err(bad()),
    }
}

fn lookup(key: &str) -> Option<&'static Sysctl> {
    TABLE.iter().find(|e| e.name == key)
}

fn no_such_key(key: &str) -> SysctlError {
    error(
        libc::ENOENT,
        format!(
            "sysctl: cannot stat /proc/sys/{}: No such file or directory",
            key.replace('.', "/")
        ),
    )
}

/// The value of one entry, as `/proc/sys` prints it.
fn read(s: &Stack, e: &Sysctl) -> String {
    match e.kind {
        Kind::Bool(get, _) => if get(s) { "1" } else { "0" }.to_string(),
        Kind::Int { get, .. } => get(s).to_string(),
        Kind::Time { unit, get, .. } => (get(s).as_nanos() / unit.as_nanos()).to_string(),
        Kind::Text(get, _) | Kind::ReadOnly(get) => get(s),
    }
}

/// Check `v` and store it; nothing changes on an error. Linux: the entry's `proc_handler`
/// on a write.
fn write(s: &mut Stack, e: &Sysctl, v: &str) -> Result<(), SysctlError> {
    let key = e.name;
    match e.kind {
        // Linux keeps these as integers (`proc_dointvec`, `proc_dou8vec_minmax`): any number
        // is taken and a nonzero one is on (tcp_timestamps=2, ip_forward=2).
        Kind::Bool(_, set) => match parse_int(v) {
            Some(n) if n <= INT_MAX => set(s, n != 0),
            _ => {
                return Err(error(
                    libc::EINVAL,
                    format!("sysctl: \"{v}\" is not a number for {key} (0 is off, 1 on)"),
                ))
            }
        },
        Kind::Int { min, max, set, .. } => match parse_int(v) {
            Some(n) if (min..=max).contains(&n) => set(s, n),
            _ => {
                return Err(error(
                    libc::EINVAL,
                    format!("sysctl: \"{v}\" is not a number in {min}..={max} for {key}"),
                ))
            }
        },
        Kind::Time { unit, min, set, .. } => {
            let max = INT_MAX;
            match parse_int(v) {
                Some(n) if (min..=max).contains(&n) => {
                    set(s, unit.saturating_mul(n as u32));
                }
                _ => {
                    let unit = if unit == SEC {
                        "seconds"
                    } else if unit == MS {
                        "milliseconds"
                    } else if unit == US {
                        "microseconds"
                    } else {
                        "nanoseconds"
                    };
                    return Err(error(
                        libc::EINVAL,
                        format!(
                            "sysctl: \"{v}\" is not a number of {unit} in {min}..={max} for {key}"
                        ),
                    ));
                }
            }
        }
        Kind::Text(_, set) => set(s, v)?,
        Kind::ReadOnly(_) => {
            return Err(error(
                libc::EACCES,
                format!("sysctl: permission denied on key \"{key}\" (it is read-only)"),
            ))
        }
    }
    s.sysctl_changed();
    Ok(())
}

/// Every sysctl with its current value (`sysctl -a`).
pub fn sysctls(stack: &Stack) -> Vec<SysctlValue> {
    TABLE
        .iter()
        .map(|e| SysctlValue {
            key: e.name.to_string(),
            value: read(stack, e),
        })
        .collect()
}

/// The names of the entries a write can change (`net.ipv4.tcp_rmem`...), in the table's
/// order: every key but the read-only ones.
pub fn writable_names() -> impl Iterator<Item = &'static str> {
    TABLE
        .iter()
        .filter(|e| !matches!(e.kind, Kind::ReadOnly(_)))
        .map(|e| e.name)
}

/// Read or write one sysctl (`sysctl KEY` / `sysctl -w KEY=VALUE`); the answer holds the
/// value after the call.
pub fn sysctl(stack: &mut Stack, key: &str, value: Option<&str>) -> Response {
    match sysctl_one(stack, key, value) {
        Ok(v) => Response::Sysctl { values: vec![v] },
        Err(e) => e.into(),
    }
}

/// [`sysctl`]'s work: the value after the call, or why there is none.
fn sysctl_one(
    stack: &mut Stack,
    key: &str,
    value: Option<&str>,
) -> Result<SysctlValue, SysctlError> {
    let e = lookup(key).ok_or_else(|| no_such_key(key))?;
    if let Some(v) = value {
        write(stack, e, v)?;
    }
    Ok(SysctlValue {
        key: key.to_string(),
        value: read(stack, e),
    })
}

/// Carry out several reads (value `None`) and writes in order, each on its own: a good key
/// is applied whatever the others do, a bad one gives its error in its place. Linux:
/// `sysctl(8)` given several keys (procps `WriteSetting`/`ReadSetting` per argument).
pub fn sysctl_many(
    stack: &mut Stack,
    ops: &[(String, Option<String>)],
) -> Vec<Result<SysctlValue, SysctlError>> {
    ops.iter()
        .map(|(k, v)| sysctl_one(stack, k, v.as_deref()).map_err(|e| e.into_procps(k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sysctls are stack-wide: no interface is needed.
    fn stack() -> Stack {
        Stack::default()
    }

    fn get(s: &mut Stack, k: &str) -> String {
        match sysctl(s, k, None) {
            Response::Sysctl { values } => values[0].value.clone(),
            r => panic!("{k}: {r:?}"),
        }
    }

    fn einval(r: Response) -> bool {
        matches!(
            r,
            Response::Error {
                errno: Some(libc::EINVAL),
                ..
            }
        )
    }

    #[test]
    fn the_table_is_sorted_and_every_entry_reads_back_what_it_was_given() {
        assert!(
            TABLE.windows(2).all(|w| w[0].name < w[1].name),
            "sorted, no duplicates"
        );
        let mut s = stack();
        for e in TABLE {
            let before = get(&mut s, e.name);
            // Writing back what was read is accepted and changes nothing.
            if !matches!(e.kind, Kind::ReadOnly(_)) {
                let r = sysctl(&mut s, e.name, Some(&before));
                assert!(matches!(r, Response::Sysctl { .. }), "{}: {r:?}", e.name);
            }
            assert_eq!(get(&mut s, e.name), before, "{}", e.name);
        }
        assert_eq!(sysctls(&s).len(), TABLE.len());
    }

    #[test]
    fn tcp_fastopen_and_its_key_are_sysctls() {
        let mut s = stack();
        assert_eq!(get(&mut s, "net.ipv4.tcp_fastopen"), "1");
        // packetdrill's defaults write it in hex; it reads back in decimal as in Linux.
        assert!(matches!(
            sysctl(&mut s, "net.ipv4.tcp_fastopen", Some("0x70403")),
            Response::Sysctl { .. }
        ));
        assert_eq!(get(&mut s, "net.ipv4.tcp_fastopen"), "459779");
        assert_eq!(s.config().tcp.fastopen, 0x70403);
        let key = "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4";
        sysctl(&mut s, "net.ipv4.tcp_fastopen_key", Some(key));
        assert_eq!(get(&mut s, "net.ipv4.tcp_fastopen_key"), key);
        for (k, bad) in [
            ("net.ipv4.tcp_fastopen_key", "x"),
            ("net.ipv4.tcp_fastopen_key", "1-2-3"),
            ("net.ipv4.tcp_fastopen", "0xz"),
        ] {
            assert!(einval(sysctl(&mut s, k, Some(bad))), "{k}={bad}");
        }
        assert_eq!(get(&mut s, "net.ipv4.tcp_fastopen_key"), key);
    }

    #[test]
    fn tcp_rmem_and_wmem_take_three_numbers() {
        let mut s = stack();
        let r = sysctl(&mut s, "net.ipv4.tcp_rmem", Some("4096 131072  1048576"));
        assert!(matches!(r, Response::Sysctl { .. }), "{r:?}");
        assert_eq!(s.config().tcp.rmem_default, 131072);
        assert_eq!(s.config().tcp.rmem_max, 1048576);
        assert_eq!(get(&mut s, "net.ipv4.tcp_rmem"), "4096\t131072\t1048576");
        assert!(matches!(
            sysctl(&mut s, "net.ipv4.tcp_wmem", Some("4096\t65536\t65536")),
            Response::Sysctl { .. }
        ));
        assert_eq!(s.config().tcp.wmem_max, 65536);
        for bad in [
            "1 2",
            "4096 x 8192",
            "4096 8192 4096",
            "0 1 2",
            "4096 8192 999999999999",
        ] {
            let r = sysctl(&mut s, "net.ipv4.tcp_rmem", Some(bad));
            assert!(einval(r.clone()), "{bad}: {r:?}");
        }
        assert_eq!(
            s.config().tcp.rmem_max,
            1048576,
            "a refused value changes nothing"
        );
        sysctl(&mut s, "net.ipv4.tcp_moderate_rcvbuf", Some("0"));
        assert!(!s.config().tcp.moderate_rcvbuf);
    }

    #[test]
    fn numbers_are_checked_against_their_range() {
        let mut s = stack();
        assert_eq!(s.config().tcp.reordering, 3);
        let r = sysctl(&mut s, "net.ipv4.tcp_reordering", Some("10"));
        assert!(matches!(r, Response::Sysctl { .. }), "{r:?}");
        assert_eq!(s.config().tcp.reordering, 10);
        sysctl(&mut s, "net.ipv4.tcp_frto", Some("0"));
        assert!(!s.config().tcp.frto);
        assert_eq!(get(&mut s, "net.ipv4.tcp_frto"), "0");
        for (k, bad) in [
            ("net.ipv4.tcp_reordering", "0"),
            ("net.ipv4.tcp_max_reordering", "301"),
            ("net.ipv4.tcp_frto", "3"),
            ("net.ipv4.tcp_reordering", "x"),
            ("net.core.somaxconn", "0"),
            ("net.ipv4.ip_default_ttl", "256"),
            ("net.ipv4.tcp_syn_retries", "128"),
            ("net.ipv4.route.min_pmtu", "67"),
            ("net.ipv4.tcp_ecn", "3"),
            ("net.ipv4.tcp_mtu_probing", "3"),
            ("net.ipv4.tcp_keepalive_time", "0"),
            ("net.ipv4.icmp_ratelimit", "-1"),
            ("net.ipv4.ip_forward", "yes"),
        ] {
            let r = sysctl(&mut s, k, Some(bad));
            assert!(einval(r.clone()), "{k}={bad}: {r:?}");
        }
        assert_eq!(s.config().tcp.max_reordering, 300);
        assert_eq!(s.config().default_ttl, 64);
    }

    #[test]
    fn times_are_written_in_the_unit_of_their_name() {
        let mut s = stack();
        assert_eq!(get(&mut s, "net.ipv4.tcp_rto_min_us"), "200000");
        sysctl(&mut s, "net.ipv4.tcp_rto_min_us", Some("50000"));
        assert_eq!(s.config().tcp.rto_min, Duration::from_millis(50));
        sysctl(&mut s, "net.ipv4.tcp_keepalive_time", Some("600"));
        assert_eq!(s.config().tcp.keepalive_time, Duration::from_secs(600));
        sysctl(&mut s, "net.ipv4.icmp_ratelimit", Some("250"));
        assert_eq!(s.config().icmp_ratelimit, Duration::from_millis(250));
        assert_eq!(get(&mut s, "net.ipv4.icmp_ratelimit"), "250");
    }

    #[test]
    fn sack_compression_sysctls_read_and_set() {
        let mut s = stack();
        // Linux's defaults.
        assert_eq!(get(&mut s, "net.ipv4.tcp_comp_sack_nr"), "44");
        assert_eq!(get(&mut s, "net.ipv4.tcp_comp_sack_delay_ns"), "1000000");
        assert_eq!(get(&mut s, "net.ipv4.tcp_comp_sack_slack_ns"), "100000");
        sysctl(&mut s, "net.ipv4.tcp_comp_sack_nr", Some("0"));
        sysctl(&mut s, "net.ipv4.tcp_comp_sack_delay_ns", Some("250000"));
        assert_eq!(s.config().tcp.comp_sack_nr, 0);
        assert_eq!(s.config().tcp.comp_sack_delay, Duration::from_micros(250));
        for bad in ["256", "-1", "x"] {
            let r = sysctl(&mut s, "net.ipv4.tcp_comp_sack_nr", Some(bad));
            assert!(einval(r.clone()), "{bad}: {r:?}");
        }
        assert_eq!(s.config().tcp.comp_sack_nr, 0);
    }

    #[test]
    fn a_change_reaches_the_layer_that_uses_it() {
        let mut s = stack();
        sysctl(
            &mut s,
            "net.ipv4.neigh.default.base_reachable_time_ms",
            Some("10000"),
        );
        assert_eq!(
            s.neigh_params().base_reachable_time,
            Duration::from_secs(10)
        );
        let r = s.neigh_reachable_time();
        assert!(
            r >= Duration::from_secs(5) && r < Duration::from_secs(15),
            "reachable time re-drawn around the new base: {r:?}"
        );
        sysctl(&mut s, "net.ipv4.ipfrag_time", Some("5"));
        assert_eq!(s.frag_params().time, Duration::from_secs(5));
        assert_eq!(get(&mut s, "net.ipv4.ipfrag_low_thresh"), "3145728");
        sysctl(&mut s, "net.ipv4.ipfrag_low_thresh", Some("1000000"));
        assert_eq!(s.frag_params().low_thresh, 1_000_000);
        sysctl(&mut s, "net.ipv4.route.min_pmtu", Some("1280"));
        assert_eq!(s.pmtu_params().min_pmtu, 1280);
        // IPv6's own: the reassembly queues and the path MTU store take them at once.
        assert_eq!(get(&mut s, "net.ipv6.ip6frag_time"), "60");
        assert_eq!(get(&mut s, "net.ipv6.ip6frag_high_thresh"), "4194304");
        sysctl(&mut s, "net.ipv6.ip6frag_time", Some("5"));
        sysctl(&mut s, "net.ipv6.ip6frag_low_thresh", Some("1000000"));
        let p = *s.frag6_queues().params();
        assert_eq!((p.time, p.low_thresh), (Duration::from_secs(5), 1_000_000));
        assert_eq!(get(&mut s, "net.ipv6.route.mtu_expires"), "600");
        sysctl(&mut s, "net.ipv6.route.mtu_expires", Some("30"));
        let e = s.ip6_pmtu_cache().params().mtu_expires;
        assert_eq!(e, Duration::from_secs(30));
    }

    #[test]
    fn port_range_names_and_read_only_keys() {
        let mut s = stack();
        assert_eq!(get(&mut s, "net.ipv4.ip_local_port_range"), "32768\t60999");
        sysctl(&mut s, "net.ipv4.ip_local_port_range", Some("40000 40100"));
        assert_eq!(s.config().tcp.local_port_range, (40000, 40100));
        for bad in ["40100 40000", "0 10", "1", "1 2 3", "x y", "1 65536"] {
            let r = sysctl(&mut s, "net.ipv4.ip_local_port_range", Some(bad));
            assert!(einval(r.clone()), "{bad}: {r:?}");
        }
        assert_eq!(s.config().tcp.local_port_range, (40000, 40100));
        let r = sysctl(
            &mut s,
            "net.ipv4.tcp_available_congestion_control",
            Some("cubic"),
        );
        assert!(
            matches!(
                r,
                Response::Error {
                    errno: Some(libc::EACCES),
                    ..
                }
            ),
            "{r:?}"
        );
        let r = sysctl(&mut s, "net.ipv4.tcp_congestion_control", Some("nope"));
        assert!(
            matches!(
                r,
                Response::Error {
                    errno: Some(libc::ENOENT),
                    ..
                }
            ),
            "{r:?}"
        );
        let r = sysctl(&mut s, "net.ipv4.nonsense", None);
        assert!(
            matches!(&r, Response::Error { errno: Some(libc::ENOENT), message } if message.contains("nonsense")),
            "{r:?}"
        );
    }

    #[test]
    fn several_keys_apply_every_good_one_and_report_each_bad_one() {
        let mut s = stack();
        let ops = [
            ("net.ipv4.ip_forward", Some("1")),
            ("net.ipv4.nope", Some("1")),
            ("net.ipv4.ip_default_ttl", Some("bad")),
            ("net.ipv4.tcp_sack", Some("0")),
            ("net.ipv4.tcp_available_congestion_control", Some("reno")),
            ("net.ipv4.tcp_timestamps", None),
        ]
        .map(|(k, v)| (k.to_string(), v.map(String::from)));
        let r = sysctl_many(&mut s, &ops);
        assert_eq!(r.len(), 6);
        let value = |i: usize| r[i].as_ref().map(|v| (v.key.as_str(), v.value.as_str()));
        assert_eq!(value(0), Ok(("net.ipv4.ip_forward", "1")));
        assert_eq!(
            r[1].as_ref().unwrap_err().message,
            "sysctl: cannot stat /proc/sys/net/ipv4/nope: No such file or directory"
        );
        assert_eq!(r[1].as_ref().unwrap_err().errno, libc::ENOENT);
        let e = r[2].as_ref().unwrap_err();
        assert_eq!(
            (e.errno, e.message.as_str()),
            (
                libc::EINVAL,
                "sysctl: setting key \"net.ipv4.ip_default_ttl\": Invalid argument"
            )
        );
        assert!(e.why.contains("\"bad\""), "{e:?}");
        assert_eq!(value(3), Ok(("net.ipv4.tcp_sack", "0")));
        assert_eq!(
            r[4].as_ref().unwrap_err().message,
            "sysctl: permission denied on key \"net.ipv4.tcp_available_congestion_control\""
        );
        assert_eq!(value(5), Ok(("net.ipv4.tcp_timestamps", "1")));
        // The good writes took effect, the bad one changed nothing.
        assert!(s.ip_forward_enabled());
        assert_eq!(get(&mut s, "net.ipv4.tcp_sack"), "0");
        assert_eq!(get(&mut s, "net.ipv4.ip_default_ttl"), "64");
    }
}
