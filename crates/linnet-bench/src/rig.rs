//! The impairment rig's topology: a Linnet router with three ports, two Linux hosts and one
//! Linnet host, each on its own port, so that a Linux host talks to Linnet and to Linux over
//! the same router, the same kind of link and the same netem (root only).
//!
//! ```text
//!  Linux A (ns a)                     Linnet router                     Linux B (ns b)
//!  198.51.100.1 ── TAP ── ra 198.51.100.254 │ rb 203.0.113.254 ── TAP ── 203.0.113.1
//!                                           │
//!                                  rc 192.0.2.254 ── TAP ── (ns c) AF_PACKET ── Linnet C
//!                                                                            192.0.2.1
//! ```
//!
//! The router is a Linnet stack (`linnet::runtime`, its own thread) with forwarding on, as
//! `linnetd --tap .. --tap .. --tap .. --forward` runs it. It opens its TAPs without
//! virtio-net headers (`linnetd --no-offload`), so Linux hands it MTU-sized frames with
//! complete checksums and the router's netem drops, delays, duplicates and corrupts wire
//! segments, not 64 KiB GSO super-frames (and never corrupts a frame whose checksum is still
//! partial). Each TAP's Linux end lives in a namespace: Linux A and B there have an address
//! and a default route via the router; in namespace c the TAP's Linux end has no address,
//! and the Linnet host C drives it through an `AF_PACKET` socket, so its frames cross the
//! TAP just as Linux A's and B's do. IPv6 is off in the namespaces (no stray solicitations).
//!
//! Namespaces and TAPs carry unique names and go when the rig is dropped, also on error.

use crate::linux::move_into_ns;
use linnet::device::NetDevice;
use linnet::driver::packet::PacketDevice;
use linnet::driver::tap::TapDevice;
use linnet::runtime::{self, random_seed, spawn_host, Attached, Handle, Host, HostConfig};
use linnet::stack::{Stack, StackConfig};
use linnet::time::HostClock;
use linnet::wire::EthernetAddress;
use linnet_testkit::NetNs;
use linnet_tools::tc::Tc;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

/// Linux A's address, and the router's on its side.
pub const LINUX_A: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// Linux B's address.
pub const LINUX_B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The Linnet host's address.
pub const LINNET_C: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The router's interfaces (names inside Linnet, for `tc ... dev NAME`), towards A, B and C.
pub const ROUTER_IFS: [&str; 3] = ["ra", "rb", "rc"];

static RIGS: AtomicU32 = AtomicU32::new(0);

/// The running topology.
pub struct Rig {
    /// Linux A's namespace.
    pub a: NetNs,
    /// Linux B's namespace.
    pub b: NetNs,
    /// The namespace holding the Linux end of the Linnet host's TAP.
    c: NetNs,
    /// The TAPs' names (their Linux ends are in a, b and c).
    taps: [String; 3],
    router: Option<(Handle, JoinHandle<Stack>)>,
    linnet: Option<Host>,
    /// `tshark` captures on the hosts' TAP ends, when [`CAPTURE_ENV`] asks for them.
    captures: Vec<std::process::Child>,
}

/// Environment variable naming a directory: when set, the rig captures the first 128 bytes of
/// every frame on the Linux end of each host's TAP (`a.pcap`, `b.pcap`, `c.pcap`: Linux A,
/// Linux B, Linnet C) with `tshark`, for comparing Linnet's segments with Linux's. Linnet C's
/// packet socket bypasses the interface's qdisc and with it its packet taps, so `c.pcap`
/// holds only what reaches Linnet C; what it sends is in `a.pcap` (after the router).
pub const CAPTURE_ENV: &str = "LINNET_IMPAIR_PCAP";

/// Environment variable: `off` turns GRO off on the Linnet host's interface (`ethtool -K eth0
/// gro off`), so that it receives frame by frame as Linux B does: B's TAP is opened without
/// `IFF_NAPI` (`tun_flags` 0x1002), so Linux's tun driver hands each frame to
/// `netif_receive_skb` (`tun_rx_batched`) and GRO never runs there, whatever `ethtool -k`
/// says.
pub const GRO_ENV: &str = "LINNET_IMPAIR_GRO";

/// Environment variable: `KEY=VALUE` sysctls, separated by commas, set on the Linnet host
/// after the rig's own (e.g. `net.ipv4.tcp_backlog_ack_defer=0`), for experiments.
pub const SYSCTL_ENV: &str = "LINNET_IMPAIR_SYSCTL";

/// Turn IPv6 off in the namespace of the calling thread (for interfaces moved in later too).
fn ipv6_off(ns: &NetNs) {
    let _ = ns.run_in(|| {
        for p in ["all", "default"] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{p}/disable_ipv6"), "1\n");
        }
    });
}

impl Rig {
    /// Build the topology (see the module documentation). Needs root.
    pub fn new() -> Result<Rig, String> {
        let e = |e: std::io::Error| e.to_string();
        let a = NetNs::new("limp-a").map_err(e)?;
        let b = NetNs::new("limp-b").map_err(e)?;
        let c = NetNs::new("limp-c").map_err(e)?;
        for ns in [&a, &b, &c] {
            ipv6_off(ns);
        }
        let tag = format!(
            "{}{}",
            std::process::id() % 100_000,
            RIGS.fetch_add(1, Ordering::Relaxed) % 100
        );
        let mut rig = Rig {
            a,
            b,
            c,
            taps: Default::default(),
            router: None,
            linnet: None,
            captures: Vec::new(),
        };
        // The router's TAPs, opened here and moved into the namespaces.
        let mut taps = Vec::new();
        let sides = [
            ("a", &rig.a, Some("198.51.100.1/24")),
            ("b", &rig.b, Some("203.0.113.1/24")),
            ("c", &rig.c, None),
        ];
        let mut names = Vec::new();
        for (side, ns, addr) in sides {
            let tap =
                TapDevice::open(&format!("lim{side}{tag}")).map_err(|e| format!("tap: {e}"))?;
            move_into_ns(tap.name(), ns, addr)?;
            names.push(tap.name().to_string());
            taps.push(tap);
        }
        for (slot, name) in rig.taps.iter_mut().zip(names) {
            *slot = name;
        }
        for (ns, gw) in [(&rig.a, "198.51.100.254"), (&rig.b, "203.0.113.254")] {
            ns.exec_ok(&["ip", "route", "add", "default", "via", gw])
                .map_err(e)?;
        }
        if let Some(dir) = std::env::var_os(CAPTURE_ENV) {
            rig.capture(std::path::Path::new(&dir))?;
        }
        let c_name = taps[2].name().to_string();
        let seed = random_seed();
        let mut stack = Stack::new(StackConfig {
            seed,
            ip_forward: true,
            ..StackConfig::default()
        });
        let now = HostClock::new().now();
        let mut attached = Vec::new();
        for (n, (tap, (ifname, cidr))) in taps
            .into_iter()
            .zip(ROUTER_IFS.into_iter().zip([
                "198.51.100.254/24",
                "203.0.113.254/24",
                "192.0.2.254/24",
            ]))
            .enumerate()
        {
            let mac = EthernetAddress::local_from_seed(seed.wrapping_add(n as u64 + 1));
            let ifindex = stack.add_interface(ifname, mac, tap.mtu());
            stack
                .add_addr(ifindex, cidr.parse().expect("cidr"), now)
                .map_err(|e| format!("router: add {cidr}: {e}"))?;
            stack
                .set_link_up(ifindex, true, now)
                .map_err(|e| format!("router: {ifname} up: {e}"))?;
            attached.push(Attached {
                ifindex,
                device: Box::new(tap),
            });
        }
        rig.router = Some(runtime::spawn(stack, attached).map_err(|e| format!("router: {e}"))?);
        // The Linnet host on the Linux end of the third TAP, in namespace c.
        let dev = rig
            .c
            .run_in(|| PacketDevice::open(&c_name))
            .map_err(e)?
            .map_err(|e| format!("AF_PACKET on {c_name}: {e}"))?;
        rig.linnet = Some(spawn_host(HostConfig {
            device: Box::new(dev),
            ifname: Some("eth0".into()),
            mac: None,
            addrs: vec!["192.0.2.1/24".parse().expect("cidr")],
            gateway: Some(Ipv4Addr::new(192, 0, 2, 254)),
            seed: seed ^ 0x5a5a,
        })?);
        rig.same_buffers()?;
        for kv in std::env::var(SYSCTL_ENV).unwrap_or_default().split(',') {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim().to_string(), v.trim().to_string());
            let r = rig
                .linnet()
                .call(move |s, _| linnet::control::sysctl::sysctl(s, &k, Some(&v)))
                .map_err(|e| e.to_string())?;
            if let linnet::control::Response::Error { message, .. } = r {
                return Err(format!("{SYSCTL_ENV}: {kv}: {message}"));
            }
        }
        if std::env::var(GRO_ENV).is_ok_and(|v| v == "off") {
            rig.linnet()
                .call(|s, _| {
                    if let Some(i) = s.ifindex_by_name("eth0") {
                        s.set_gro(i, false);
                    }
                })
                .map_err(|e| e.to_string())?;
        }
        Ok(rig)
    }

    /// Start `tshark` on each host's TAP end, writing DIR/{a,b,c}.pcap (see [`CAPTURE_ENV`]),
    /// and give it a moment to open the interfaces.
    fn capture(&mut self, dir: &std::path::Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let hosts = [("a", &self.a), ("b", &self.b), ("c", &self.c)];
        for ((side, ns), tap) in hosts.into_iter().zip(&self.taps) {
            let file = dir.join(format!("{side}.pcap"));
            let child = std::process::Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    ns.name(),
                    "tshark",
                    "-q",
                    "-B",
                    "64",
                    "-s",
                    "128",
                    "-i",
                    tap,
                ])
                .arg("-w")
                .arg(&file)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|e| format!("tshark: {e}"))?;
            self.captures.push(child);
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
        Ok(())
    }

    /// Give the Linnet host the TCP buffer sizes the Linux hosts have (`net.ipv4.tcp_rmem` and
    /// `tcp_wmem` of namespace a, which a new namespace inherits from the host's defaults):
    /// the two receivers compared then start from the same receive buffer and window.
    fn same_buffers(&self) -> Result<(), String> {
        for key in ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"] {
            let v = self
                .a
                .exec_ok(&["sysctl", "-n", key])
                .map_err(|e| format!("sysctl {key}: {e}"))?;
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            let r = self
                .linnet()
                .call(move |s, _| linnet::control::sysctl::sysctl(s, key, Some(&v)))
                .map_err(|e| e.to_string())?;
            if let linnet::control::Response::Error { message, .. } = r {
                return Err(format!("linnet sysctl {key}: {message}"));
            }
        }
        Ok(())
    }

    /// The router's stack.
    pub fn router(&self) -> &Handle {
        &self.router.as_ref().expect("running").0
    }

    /// The Linnet host's stack.
    pub fn linnet(&self) -> &Handle {
        &self.linnet.as_ref().expect("running").handle
    }

    /// Frames host `side` (0: Linux A, 1: Linux B, 2: Linnet C) dropped on its way to the
    /// router: `tx_dropped` of its TAP's Linux end (the TAP's ring overflowing while the
    /// router does not read fast enough). For Linnet C this also counts the frames the full
    /// ring refused, which Linnet kept and sent again (its packet socket bypasses the qdisc,
    /// so the driver's refusal reaches it as `ENOBUFS`): subtract its `requeues`.
    pub fn tx_dropped(&self, side: usize) -> u64 {
        let ns = [&self.a, &self.b, &self.c][side];
        ns.exec_ok(&[
            "cat",
            &format!("/sys/class/net/{}/statistics/tx_dropped", self.taps[side]),
        ])
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
    }

    /// Run `tc ARGS` on the router (`linnet tc ...`).
    pub fn tc(&self, args: &str) -> Result<(), String> {
        let argv: Vec<String> = args.split_whitespace().map(String::from).collect();
        self.router()
            .call(|s, now| s.tc(&argv, now).map(drop))
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("tc {args}: {e}"))
    }

    /// What the netem on `dev` did so far (`tc -s qdisc show dev DEV`): packets sent on,
    /// dropped (lost or over its limit), and its own counts; None without a netem there.
    pub fn netem_stats(&self, dev: &str) -> Option<String> {
        self.router()
            .call(|s, _| {
                let ifindex = s.ifindex_by_name(dev)?;
                let q = s
                    .tc_qdiscs(Some(ifindex))
                    .into_iter()
                    .find(|q| q.kind == "netem")?;
                Some(format!(
                    "{} sent, {} dropped ({})",
                    q.stats.packets,
                    q.stats.drops,
                    q.xstats
                        .as_ref()
                        .map(linnet_tools::tc::format::print_xstats)
                        .unwrap_or_default()
                ))
            })
            .ok()
            .flatten()
    }

    /// Put `netem ARGS` on the router's egress towards `dev` (one of [`ROUTER_IFS`]), or take
    /// every qdisc off it with `None`.
    pub fn netem(&self, dev: &str, args: Option<&str>) -> Result<(), String> {
        match args {
            Some(a) => self.tc(&format!("qdisc replace dev {dev} root netem {a}")),
            None => {
                // Nothing to delete is fine: the device had its default qdisc.
                let _ = self.tc(&format!("qdisc del dev {dev} root"));
                Ok(())
            }
        }
    }
}

/// `TcpExt` counters of a Linux namespace (`/proc/net/netstat`), in the order of `names`
/// (0 for one the kernel does not have).
pub fn linux_tcpext<const N: usize>(ns: &NetNs, names: [&str; N]) -> [u64; N] {
    ns.run_in(|| {
        let text = std::fs::read_to_string("/proc/thread-self/net/netstat").unwrap_or_default();
        let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
        let (head, vals) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
        let vals: Vec<&str> = vals.split_whitespace().collect();
        names.map(|name| {
            head.split_whitespace()
                .position(|w| w == name)
                .and_then(|i| vals.get(i)?.parse().ok())
                .unwrap_or(0)
        })
    })
    .unwrap_or([0; N])
}

/// A Linux namespace's TCP retransmissions and retransmission timeouts (`RetransSegs` of
/// `/proc/net/snmp`, `TCPTimeouts` of `/proc/net/netstat`), read from inside it.
pub fn linux_retrans(ns: &NetNs) -> (u64, u64) {
    ns.run_in(|| {
        let field = |file: &str, section: &str, name: &str| -> u64 {
            let text = std::fs::read_to_string(format!("/proc/thread-self/net/{file}"))
                .unwrap_or_default();
            let mut lines = text.lines().filter(|l| l.starts_with(section));
            while let (Some(head), Some(vals)) = (lines.next(), lines.next()) {
                if let Some(i) = head.split_whitespace().position(|w| w == name) {
                    return vals
                        .split_whitespace()
                        .nth(i)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                }
            }
            0
        };
        (
            field("snmp", "Tcp:", "RetransSegs"),
            field("netstat", "TcpExt:", "TCPTimeouts"),
        )
    })
    .unwrap_or((0, 0))
}

/// The Linux TCP counters that say how a sender recovered (TcpExt of `/proc/net/netstat`,
/// read from inside the namespace): what [`linux_recovery_diff`] compares.
pub const LINUX_RECOVERY_COUNTERS: [&str; 16] = [
    "TCPTimeouts",
    "TCPLossProbes",
    "TCPLossProbeRecovery",
    "TCPSackRecovery",
    "TCPSACKReneging",
    "TCPSackRecoveryFail",
    "TCPLostRetransmit",
    "TCPSpuriousRTOs",
    "TCPDSACKRecv",
    "TCPDSACKOfoRecv",
    "TCPFullUndo",
    "TCPPartialUndo",
    "TCPDSACKUndo",
    "TCPLossUndo",
    "TCPSACKReorder",
    "TCPFastRetrans",
];

/// The values of [`LINUX_RECOVERY_COUNTERS`] in namespace `ns` (missing ones are 0).
pub fn linux_recovery_counters(ns: &NetNs) -> Vec<u64> {
    ns.run_in(|| {
        let text = std::fs::read_to_string("/proc/thread-self/net/netstat").unwrap_or_default();
        let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
        let (head, vals) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
        let pairs: Vec<(&str, u64)> = head
            .split_whitespace()
            .zip(vals.split_whitespace())
            .map(|(k, v)| (k, v.parse().unwrap_or(0)))
            .collect();
        LINUX_RECOVERY_COUNTERS
            .iter()
            .map(|name| pairs.iter().find(|(k, _)| k == name).map_or(0, |&(_, v)| v))
            .collect()
    })
    .unwrap_or_default()
}

/// The counters of [`LINUX_RECOVERY_COUNTERS`] that moved from `before` to `after`, as
/// `NAME n` words.
pub fn linux_recovery_diff(before: &[u64], after: &[u64]) -> String {
    LINUX_RECOVERY_COUNTERS
        .iter()
        .zip(before.iter().zip(after))
        .filter(|(_, (b, a))| a > b)
        .map(|(name, (b, a))| format!("{name} {}", a - b))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(h) = self.linnet.take() {
            h.stop();
        }
        if let Some((h, t)) = self.router.take() {
            h.stop();
            let _ = t.join();
        }
        for mut c in self.captures.drain(..) {
            // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet, so the
            // pid is still ours; SIGINT lets tshark finish its file.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGINT);
            }
            let _ = c.wait();
        }
        // The namespaces (and the TAPs' Linux ends in them) go after this.
    }
}
