//! TCP under impairment (issue 14's "How it is measured"): the same transfer against Linnet and
//! against Linux on the same impaired path, in one run, on the rig of [`crate::rig`].
//!
//! For every impairment (the router's netem: loss, reordering, corruption, duplication,
//! delay with jitter), on the data direction and on the ACK direction, two cases:
//! - Linnet receives: Linux A sends to Linnet C; the reference is Linux A sending to Linux B.
//! - Linnet sends: Linnet C sends to Linux A; the reference is Linux B sending to Linux A.
//!
//! The Linnet transfer and its Linux reference cross the same router with the same netem on
//! the same kind of port (the egress towards the receiver for "data", towards the sender
//! for "acks"), one after the other. Each transfer is a payload of random bytes, checked by
//! SHA-256 at the receiver, timed from `connect` to the receiver's EOF, and cut (a failure,
//! ratio infinite) at a timeout. The sender's retransmissions and retransmission timeouts
//! are read from its stack: `linnet netstat -s` for Linnet, the namespace's
//! `/proc/net/snmp` for Linux.

use crate::probe::{self, Probe};
use crate::report::{Better, Row};
use crate::rig::{
    linux_recovery_counters, linux_recovery_diff, linux_retrans, Rig, LINNET_C, LINUX_A, LINUX_B,
};
use crate::sha256::{self, Sha256};
use crate::transfer::{payload, recv_all, retry_until, send_all, POLL};
use linnet::runtime::Handle;
use linnet_testkit::NetNs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Linnet's transfer time may be at most this many times Linux's (issue 14's target).
pub const TARGET: f64 = 1.5;

/// How a transfer whose bytes arrived but differ is reported.
const NOT_EXACT: &str = "NOT byte-exact";

/// One impairment: its label in row names and the router's `netem` arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Impairment {
    /// Label in row names.
    pub label: &'static str,
    /// `tc qdisc ... netem ARGS`, or None for the unimpaired path.
    pub netem: Option<&'static str>,
}

const fn imp(label: &'static str, netem: &'static str) -> Impairment {
    Impairment {
        label,
        netem: Some(netem),
    }
}

/// The impairments measured, in order (the unimpaired path first, as the rig's ceiling).
pub const IMPAIRMENTS: [Impairment; 7] = [
    Impairment {
        label: "none",
        netem: None,
    },
    imp("loss 1%", "loss 1%"),
    imp("loss 5%", "loss 5%"),
    imp("reorder 25% delay 20ms 5ms", "delay 20ms 5ms reorder 25%"),
    imp("corrupt 2%", "corrupt 2%"),
    imp("duplicate 5%", "duplicate 5%"),
    imp("delay 20ms 5ms", "delay 20ms 5ms"),
];

/// The path under the impairments: both directions of the router carry its netem in both
/// runs of a case (Linnet's and Linux's), the impairment added on its side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    /// Label in row names and on the command line.
    pub label: &'static str,
    /// The bottleneck rate on each direction (netem `rate`), or None for the bare link.
    pub rate: Option<&'static str>,
    /// The one-way delay on each direction (netem `delay`); an impairment with its own delay
    /// replaces it on its side.
    pub delay: Option<&'static str>,
}

/// The bare link: nothing but the impairment, Linux at 1.6-1.8 Gbit/s through the router
/// (an 8 MiB transfer takes 0.04 s, so per-packet cost and startup decide the unimpaired
/// rows).
pub const LINE_RATE: Path = Path {
    label: "line",
    rate: None,
    delay: None,
};

/// A path like a real network's: a 200 Mbit/s bottleneck and 5 ms each way (10 ms RTT, a
/// bandwidth-delay product of 172 segments), where the rows measure TCP's recovery and ACK
/// clock rather than the CPU per packet.
pub const WAN: Path = Path {
    label: "wan",
    rate: Some("200mbit"),
    delay: Some("5ms"),
};

/// The paths measured, in order.
pub const PATHS: [Path; 2] = [LINE_RATE, WAN];

/// Which direction of the path the netem is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The data segments' direction (the router's egress towards the receiver).
    Data,
    /// The ACKs' direction (the router's egress towards the sender).
    Acks,
}

/// What the Linnet host does in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Linnet C sends to Linux A (reference: Linux B sends to Linux A).
    Sends,
    /// Linux A sends to Linnet C (reference: Linux A sends to Linux B).
    Receives,
}

/// One row: an impairment on one side of a path, Linnet in one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    /// The path under the impairment.
    pub path: Path,
    /// The impairment.
    pub imp: Impairment,
    /// Where it is.
    pub side: Side,
    /// Linnet's role.
    pub role: Role,
}

impl Case {
    /// The row's name, e.g. `impair loss 5% on data, linnet sends` on the bare link, `impair
    /// wan: loss 5% on data, linnet sends` on another path.
    pub fn name(&self) -> String {
        let role = match self.role {
            Role::Sends => "linnet sends",
            Role::Receives => "linnet receives",
        };
        let path = if self.path == LINE_RATE {
            String::new()
        } else {
            format!("{}: ", self.path.label)
        };
        match (self.imp.netem, self.side) {
            (None, _) => format!("impair {path}none, {role}"),
            (Some(_), Side::Data) => format!("impair {path}{} on data, {role}", self.imp.label),
            (Some(_), Side::Acks) => format!("impair {path}{} on acks, {role}", self.imp.label),
        }
    }

    /// The netem arguments for the router's egress carrying `dir` (the data's or the ACKs'
    /// direction): the impairment if it is on that side, with the path's rate and delay (an
    /// impairment's own delay replacing the path's); None for a bare direction.
    pub fn netem_args(&self, dir: Side) -> Option<String> {
        let imp = self.imp.netem.filter(|_| self.side == dir);
        let mut args: Vec<String> = imp.into_iter().map(String::from).collect();
        if let Some(d) = self.path.delay {
            if !imp.is_some_and(|i| i.split_whitespace().any(|w| w == "delay")) {
                args.push(format!("delay {d}"));
            }
        }
        if let Some(r) = self.path.rate {
            args.push(format!("rate {r}"));
        }
        (!args.is_empty()).then(|| args.join(" "))
    }
}

/// Every case of `path`, in the order they run (the unimpaired path once per role).
pub fn cases_on(path: Path) -> Vec<Case> {
    let mut out = Vec::new();
    for imp in IMPAIRMENTS {
        let sides: &[Side] = if imp.netem.is_some() {
            &[Side::Data, Side::Acks]
        } else {
            &[Side::Data]
        };
        for &side in sides {
            for role in [Role::Receives, Role::Sends] {
                out.push(Case {
                    path,
                    imp,
                    side,
                    role,
                });
            }
        }
    }
    out
}

/// Every case of every path in [`PATHS`], the bare link first.
pub fn cases() -> Vec<Case> {
    PATHS.into_iter().flat_map(cases_on).collect()
}

/// How the cases run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bytes per transfer.
    pub bytes: usize,
    /// Longest a transfer may take before it is cut.
    pub timeout: Duration,
    /// Also run the Linux reference of each case.
    pub reference: bool,
    /// Transfers per side of a case at most (the median is kept); a slow case runs once.
    pub runs: usize,
}

/// How one transfer went.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Seconds from `connect` to the receiver's EOF, if it completed byte-exact in time.
    pub secs: Option<f64>,
    /// Bytes the receiver read.
    pub bytes: u64,
    /// The receiver read exactly the payload (length and SHA-256).
    pub exact: bool,
    /// Why it failed, or what went wrong after the bytes arrived.
    pub error: Option<String>,
    /// The sender's retransmitted segments.
    pub retrans: u64,
    /// The sender's retransmission timeouts.
    pub rtos: u64,
    /// Frames the sender's host dropped before the router (see [`Rig::tx_dropped`]): losses
    /// that are not the netem's. For Linnet, the frames its host device refused and Linnet
    /// kept and sent again (`requeues`, which the TAP counts as dropped too) are not in it.
    pub host_drops: u64,
    /// Frames the Linnet sender's device refused (its ring was full) and Linnet kept for a
    /// retry (Linux: the qdisc's `requeues`); 0 for a Linux sender.
    pub requeues: u64,
    /// What the router's netem did during the transfer (`tc -s qdisc`).
    pub netem: Option<String>,
    /// A Linux sender's recovery counters that moved (`nstat`: TCPLossProbes,
    /// TCPSackRecovery, ...), empty for a Linnet sender.
    pub sender_counters: String,
    /// Transfers made of this case (the figures are the median one's).
    pub runs: usize,
    /// Over all the runs of this case: (retransmissions, RTOs, host drops, requeues), the
    /// counts a busy machine disturbs least.
    pub totals: (u64, u64, u64, u64),
}

impl Outcome {
    fn failed(error: String) -> Outcome {
        Outcome {
            error: Some(error),
            ..Outcome::default()
        }
    }

    /// The receiver read to EOF, but not exactly the payload.
    pub fn corrupt(&self) -> bool {
        self.error
            .as_deref()
            .is_some_and(|e| e.starts_with(NOT_EXACT))
    }

    /// "yes" (complete and byte-exact), "NO" (complete, other bytes) or "cut" (failed
    /// before EOF).
    fn exactness(&self) -> &'static str {
        match (self.secs, self.corrupt()) {
            (Some(_), _) => "yes",
            (None, true) => "NO",
            (None, false) => "cut",
        }
    }

    /// Goodput in Mbit/s, if completed.
    pub fn mbps(&self) -> Option<f64> {
        self.secs.map(|s| self.bytes as f64 * 8.0 / s / 1e6)
    }
}

/// A measured case.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The case.
    pub case: Case,
    /// The transfer with Linnet at one end.
    pub linnet: Outcome,
    /// The same between two Linux hosts (None when references are off).
    pub linux: Option<Outcome>,
}

impl Measured {
    /// Linnet's time over Linux's: infinite when Linnet failed, None without a reference
    /// time.
    pub fn ratio(&self) -> Option<f64> {
        let linux = self.linux.as_ref()?.secs?;
        Some(self.linnet.secs.map_or(f64::INFINITY, |l| l / linux))
    }
}

/// A stream of either stack.
trait Stream: Read + Write + Send {
    fn shut_write(&self) -> io::Result<()>;
    /// Where its congestion state can be sampled from another thread.
    fn probe(&self) -> Probe;
}

impl Stream for std::net::TcpStream {
    fn shut_write(&self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
    fn probe(&self) -> Probe {
        use std::os::fd::AsRawFd;
        Probe::Linux(self.as_raw_fd())
    }
}

/// A Linnet stream with the stack it lives in.
struct LinnetStream(linnet::api::TcpStream, Handle);

impl Read for LinnetStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for LinnetStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Stream for LinnetStream {
    fn shut_write(&self) -> io::Result<()> {
        self.0.shutdown(std::net::Shutdown::Write)
    }
    fn probe(&self) -> Probe {
        Probe::Linnet(self.1.clone(), self.0.id())
    }
}

/// An end of a transfer: a Linux host (its namespace) or the Linnet host, with its address.
#[derive(Clone, Copy)]
enum End<'a> {
    /// A Linux host: its namespace, address and rig port (see [`Rig::tx_dropped`]).
    Linux(&'a NetNs, Ipv4Addr, usize),
    /// The Linnet host: its stack, address and rig port.
    Linnet(&'a Handle, Ipv4Addr, usize),
}

impl End<'_> {
    fn addr(&self) -> Ipv4Addr {
        match self {
            End::Linux(_, a, _) | End::Linnet(_, a, _) => *a,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            End::Linux(_, a, _) if *a == LINUX_A => "Linux A",
            End::Linux(..) => "Linux B",
            End::Linnet(..) => "Linnet C",
        }
    }

    fn port(&self) -> usize {
        match self {
            End::Linux(_, _, p) | End::Linnet(_, _, p) => *p,
        }
    }

    /// A Linux host's recovery counters (see [`linux_recovery_counters`]); none for Linnet.
    fn recovery_counters(&self) -> Vec<u64> {
        match self {
            End::Linux(ns, _, _) => linux_recovery_counters(ns),
            End::Linnet(..) => Vec::new(),
        }
    }

    /// Frames the Linnet host's device refused and were kept for a retry, so far (0 for
    /// Linux).
    fn requeues(&self) -> u64 {
        match self {
            End::Linux(..) => 0,
            End::Linnet(h, _, _) => h
                .call(|s, _| s.interfaces().map(|i| i.txq.requeues()).sum())
                .unwrap_or(0),
        }
    }

    /// The loss-recovery counters of [`probe::COUNTERS`] so far.
    fn counters(&self) -> [u64; 10] {
        match self {
            End::Linux(ns, _, _) => crate::rig::linux_tcpext(ns, probe::COUNTERS),
            End::Linnet(h, _, _) => probe::linnet_counters(h),
        }
    }

    /// (retransmitted segments, retransmission timeouts) so far.
    fn retrans(&self) -> (u64, u64) {
        match self {
            End::Linux(ns, _, _) => linux_retrans(ns),
            End::Linnet(h, _, _) => h
                .call(|s, _| {
                    let t = s.snmp().tcp;
                    (t.retrans_segs, t.timeouts)
                })
                .unwrap_or((0, 0)),
        }
    }
}

enum Listener {
    Linux(std::net::TcpListener),
    Linnet(linnet::api::TcpListener, Handle),
}

/// Listen on `end`'s address, port `port`, non-blocking.
fn listen(end: End, port: u16) -> Result<Listener, String> {
    let at = SocketAddrV4::new(end.addr(), port);
    match end {
        End::Linux(ns, _, _) => {
            let l = ns
                .run_in(|| std::net::TcpListener::bind(at))
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("listen {at}: {e}"))?;
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            Ok(Listener::Linux(l))
        }
        End::Linnet(h, _, _) => {
            let mut l = linnet::api::TcpListener::bind(h, at)
                .map_err(|e| format!("linnet listen {at}: {e}"))?;
            l.set_nonblocking(true);
            Ok(Listener::Linnet(l, (*h).clone()))
        }
    }
}

/// Accept one connection by `deadline` (or until `abort`), with [`POLL`] timeouts set.
fn accept(l: &Listener, deadline: Instant, abort: &AtomicBool) -> Result<Box<dyn Stream>, String> {
    loop {
        let r: io::Result<Box<dyn Stream>> = match l {
            Listener::Linux(l) => l.accept().and_then(|(s, _)| {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(POLL))?;
                s.set_write_timeout(Some(POLL))?;
                Ok(Box::new(s) as Box<dyn Stream>)
            }),
            Listener::Linnet(l, h) => l.accept().map(|(mut s, _)| {
                s.set_nonblocking(false);
                s.set_read_timeout(Some(POLL));
                s.set_write_timeout(Some(POLL));
                Box::new(LinnetStream(s, h.clone())) as Box<dyn Stream>
            }),
        };
        match r {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("accept: {e}")),
        }
        if Instant::now() >= deadline || abort.load(Ordering::SeqCst) {
            return Err("accept: no connection".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Connect from `from` to `to`, retrying while refused, by `deadline`.
fn connect(from: End, to: SocketAddrV4, deadline: Instant) -> Result<Box<dyn Stream>, String> {
    let pause = Duration::from_millis(20);
    let step = Duration::from_secs(3);
    match from {
        End::Linux(ns, _, _) => {
            let s = ns
                .run_in(|| {
                    retry_until(deadline, pause, || {
                        std::net::TcpStream::connect_timeout(&to.into(), step)
                    })
                })
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("connect {to}: {e}"))?;
            s.set_read_timeout(Some(POLL)).map_err(|e| e.to_string())?;
            s.set_write_timeout(Some(POLL)).map_err(|e| e.to_string())?;
            Ok(Box::new(s))
        }
        End::Linnet(h, _, _) => {
            let mut s = retry_until(deadline, pause, || {
                linnet::api::TcpStream::connect_timeout(h, to, Some(step))
            })
            .map_err(|e| format!("linnet connect {to}: {e}"))?;
            s.set_read_timeout(Some(POLL));
            s.set_write_timeout(Some(POLL));
            Ok(Box::new(LinnetStream(s, (*h).clone())))
        }
    }
}

/// One transfer of `data` (whose SHA-256 is `want`) from `from` to `to` on `port`, cut at
/// `timeout`.
fn transfer(
    rig: &Rig,
    from: End,
    to: End,
    port: u16,
    data: &[u8],
    want: &[u8; 32],
    timeout: Duration,
) -> Outcome {
    let (r0, t0) = from.retrans();
    let rc0 = from.recovery_counters();
    let d0 = rig.tx_dropped(from.port());
    let q0 = from.requeues();
    let c0 = probe::wanted().then(|| from.counters());
    let deadline = Instant::now() + timeout;
    let listener = match listen(to, port) {
        Ok(l) => l,
        Err(e) => return Outcome::failed(e),
    };
    let abort = AtomicBool::new(false);
    let start = Instant::now();
    let (got, sent) = std::thread::scope(|sc| {
        let rx = sc.spawn(|| {
            let mut s = accept(&listener, deadline, &abort)?;
            Ok::<_, String>(recv_all(&mut s, deadline))
        });
        let sent = connect(from, SocketAddrV4::new(to.addr(), port), deadline).and_then(|mut s| {
            // The sender's window, sampled while it sends (LINNET_IMPAIR_SAMPLE).
            if !probe::wanted() {
                return send_all(&mut s, data, deadline, |s| s.shut_write());
            }
            let stop = AtomicBool::new(false);
            let p = s.probe();
            std::thread::scope(|inner| {
                let sampler = inner.spawn(|| probe::run(&p, &stop));
                let r = send_all(&mut s, data, deadline, |s| s.shut_write());
                stop.store(true, Ordering::SeqCst);
                if let Ok(summary) = sampler.join() {
                    eprintln!("    sender {}: {summary}", from.name());
                }
                r
            })
        });
        if sent.is_err() {
            abort.store(true, Ordering::SeqCst);
        }
        let got = rx
            .join()
            .unwrap_or_else(|_| Err("receiver panicked".into()));
        (got, sent)
    });
    drop(listener);
    let (r1, t1) = from.retrans();
    let requeues = from.requeues().saturating_sub(q0);
    if let Some(c0) = c0 {
        eprintln!(
            "    sender {}: retrans {} RTOs {}; {}",
            from.name(),
            r1.saturating_sub(r0),
            t1.saturating_sub(t0),
            probe::counter_deltas(&c0, &from.counters())
        );
    }
    let mut out = Outcome {
        retrans: r1.saturating_sub(r0),
        rtos: t1.saturating_sub(t0),
        host_drops: rig
            .tx_dropped(from.port())
            .saturating_sub(d0)
            .saturating_sub(requeues),
        requeues,
        sender_counters: linux_recovery_diff(&rc0, &from.recovery_counters()),
        ..Outcome::default()
    };
    let got = match got {
        Ok(g) => g,
        Err(e) => {
            out.error = Some(sent.err().unwrap_or(e));
            return out;
        }
    };
    out.bytes = got.bytes;
    out.exact = got.bytes == data.len() as u64 && &got.digest == want;
    match (got.eof_at, got.error) {
        (Some(at), None) if out.exact => {
            out.secs = Some(at.duration_since(start).as_secs_f64());
            // Bytes complete: a sender complaint after that is only noted.
            out.error = sent.err();
        }
        (Some(_), None) => {
            out.error = Some(format!(
                "{NOT_EXACT}: {} of {} bytes, sha256 {} (sent {})",
                got.bytes,
                data.len(),
                sha256::hex(&got.digest),
                sha256::hex(want)
            ))
        }
        (_, Some(e)) => out.error = Some(sent.err().map_or(e.clone(), |s| format!("{e}; {s}"))),
        (None, None) => out.error = Some("no EOF".into()),
    }
    out
}

/// The router egress the netem goes on for `case`: towards the receiver for data, towards
/// the sender for ACKs, with Linnet (`linnet_end`) or the reference's Linux host B at the
/// far end.
fn netem_dev(case: &Case, linnet_end: bool) -> &'static str {
    egress(case, case.side, linnet_end)
}

/// The router egress carrying direction `dir` of `case`'s transfer, with Linnet
/// (`linnet_end`) or the reference's Linux host B at the far end.
fn egress(case: &Case, dir: Side, linnet_end: bool) -> &'static str {
    let far = if linnet_end { "rc" } else { "rb" };
    match (case.role, dir) {
        (Role::Receives, Side::Data) | (Role::Sends, Side::Acks) => far,
        (Role::Receives, Side::Acks) | (Role::Sends, Side::Data) => "ra",
    }
}

/// Run `cases` on a new rig; `each` sees every case as it is measured.
pub fn run(
    cases: &[Case],
    s: &Settings,
    mut each: impl FnMut(&Measured),
) -> Result<Vec<Measured>, String> {
    let rig = Rig::new()?;
    let data = payload(s.bytes, 0x11A9_E714);
    let want = {
        let mut h = Sha256::new();
        h.update(&data);
        h.finish()
    };
    let a = End::Linux(&rig.a, LINUX_A, 0);
    let b = End::Linux(&rig.b, LINUX_B, 1);
    let c = End::Linnet(rig.linnet(), LINNET_C, 2);
    // Warm up every path (ARP, the router's neighbours) and prove the rig works.
    let small = &data[..data.len().min(64 * 1024)];
    let mut small_want = Sha256::new();
    small_want.update(small);
    let small_want = small_want.finish();
    let mut port = 20_000u16;
    for (from, to, what) in [(a, c, "Linux A → Linnet C"), (b, a, "Linux B → Linux A")] {
        port += 1;
        let o = transfer(
            &rig,
            from,
            to,
            port,
            small,
            &small_want,
            Duration::from_secs(10),
        );
        if o.secs.is_none() {
            return Err(format!(
                "rig: warm-up {what} failed: {}",
                o.error.unwrap_or_default()
            ));
        }
    }
    let mut out = Vec::new();
    for case in cases {
        let (linnet_pair, linux_pair) = match case.role {
            Role::Receives => ((a, c), (a, b)),
            Role::Sends => ((c, a), (b, a)),
        };
        let mut one = |(from, to): (End, End), linnet_end: bool| -> Result<Outcome, String> {
            let dev = netem_dev(case, linnet_end);
            let dirs = [Side::Data, Side::Acks];
            for dir in dirs {
                let args = case.netem_args(dir);
                rig.netem(egress(case, dir, linnet_end), args.as_deref())?;
            }
            port += 1;
            let loops = std::env::var_os("LINNET_IMPAIR_LOOPS").is_some();
            let before = [rig.linnet().loop_stats(), rig.router().loop_stats()];
            let cpu_before = before.map(|l| thread_cpu_ticks(l.tid));
            let mut o = transfer(&rig, from, to, port, &data, &want, s.timeout);
            if loops {
                // The stack threads' rounds, sleeps and CPU time over this transfer.
                for (who, (b, cpu)) in ["linnet C", "router"]
                    .iter()
                    .zip(before.iter().zip(cpu_before))
                {
                    let l = if *who == "router" {
                        rig.router().loop_stats()
                    } else {
                        rig.linnet().loop_stats()
                    };
                    eprintln!(
                        "  loops {}: {who}: {:.3} s, cpu {} ms, rounds {}, sleeps {}, idle rounds {}, failed reads {}",
                        if linnet_end { "linnet run" } else { "linux run" },
                        o.secs.unwrap_or(f64::NAN),
                        (thread_cpu_ticks(l.tid) - cpu) * 10,
                        l.rounds - b.rounds,
                        l.sleeps - b.sleeps,
                        l.idle_rounds - b.idle_rounds,
                        l.rx_failures - b.rx_failures,
                    );
                }
            }
            o.netem = rig.netem_stats(dev);
            for dir in dirs {
                rig.netem(egress(case, dir, linnet_end), None)?;
            }
            // Let what a cut transfer left in flight die out before the next one.
            if o.secs.is_none() {
                std::thread::sleep(Duration::from_millis(500));
            }
            Ok(o)
        };
        // Up to `s.runs` alternating pairs, fewer when a pair is slow (a slow case is a
        // long average already); the median of each side is kept.
        // A pair of transfers near a second (a 10 ms path, jitter) stays a dice roll of
        // where each sender's HyStart leaves slow start, so only the first pair's time
        // decides whether to repeat, not the time spent so far.
        let mut linnet_runs = Vec::new();
        let mut linux_runs = Vec::new();
        let started = Instant::now();
        while linnet_runs.len() < s.runs.max(1) {
            linnet_runs.push(one(linnet_pair, true)?);
            if s.reference {
                linux_runs.push(one(linux_pair, false)?);
            }
            if linnet_runs.len() == 1 && started.elapsed() > REPEAT_BELOW {
                break;
            }
        }
        let m = Measured {
            case: *case,
            linnet: median(linnet_runs),
            linux: s.reference.then(|| median(linux_runs)),
        };
        each(&m);
        out.push(m);
    }
    Ok(out)
}

/// A thread's user and system CPU time in clock ticks (10 ms), from
/// `/proc/self/task/TID/stat` (0 if it cannot be read).
fn thread_cpu_ticks(tid: i32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return 0;
    };
    // Fields after the command (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    tick(11) + tick(12)
}

/// A case whose first pair of transfers took longer than this is not repeated.
const REPEAT_BELOW: Duration = Duration::from_secs(4);

/// The run to report among repeats: a failed one if any (a stall is never averaged away),
/// otherwise the median by time, with the number of runs noted.
fn median(mut runs: Vec<Outcome>) -> Outcome {
    let n = runs.len();
    let totals = runs.iter().fold((0, 0, 0, 0), |t, o| {
        (
            t.0 + o.retrans,
            t.1 + o.rtos,
            t.2 + o.host_drops,
            t.3 + o.requeues,
        )
    });
    if let Some(i) = runs.iter().position(|o| o.secs.is_none()) {
        let mut o = runs.swap_remove(i);
        o.runs = n;
        o.totals = totals;
        return o;
    }
    runs.sort_by(|a, b| {
        a.secs
            .partial_cmp(&b.secs)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut o = runs.swap_remove(n / 2);
    o.runs = n;
    o.totals = totals;
    o
}

fn mib(bytes: usize) -> String {
    format!("{:.0} MiB", bytes as f64 / (1 << 20) as f64)
}

/// What a failed transfer note says.
fn failure(o: &Outcome, s: &Settings) -> String {
    let why = o.error.clone().unwrap_or_default();
    if why.starts_with("cut") {
        format!(
            "cut at {:.0} s with {:.1} of {} read ({why})",
            s.timeout.as_secs_f64(),
            o.bytes as f64 / (1 << 20) as f64,
            mib(s.bytes)
        )
    } else {
        why
    }
}

/// The bench row of a measured case: seconds, Linnet against Linux.
pub fn row(m: &Measured, s: &Settings) -> Row {
    let name = m.case.name();
    let mut row = Row::new(
        &name,
        0.0,
        m.linux.as_ref().and_then(|l| l.secs),
        "linux",
        "s",
        Better::Lower,
    );
    row.linnet = m.linnet.secs;
    let fmt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    let mut note = vec![format!(
        "{} each, median of {} run(s); goodput Mbit/s linnet {}, linux {}",
        mib(s.bytes),
        m.linnet.runs,
        fmt(m.linnet.mbps()),
        fmt(m.linux.as_ref().and_then(|l| l.mbps()))
    )];
    note.push(format!(
        "sender retrans (RTOs) [frames its host dropped before the router]: linnet run {} \
         ({}) [{}, {} refused by the full device and sent again], linux run {}",
        m.linnet.retrans,
        m.linnet.rtos,
        m.linnet.host_drops,
        m.linnet.requeues,
        m.linux.as_ref().map_or("-".into(), |l| format!(
            "{} ({}) [{}]",
            l.retrans, l.rtos, l.host_drops
        ))
    ));
    let counters = |o: &Outcome| {
        if o.sender_counters.is_empty() {
            "none".to_string()
        } else {
            o.sender_counters.clone()
        }
    };
    if m.case.role == Role::Receives {
        note.push(format!(
            "Linux sender's recovery counters: linnet run {}, linux run {}",
            counters(&m.linnet),
            m.linux.as_ref().map_or("-".into(), counters)
        ));
    } else if let Some(l) = &m.linux {
        note.push(format!(
            "Linux B sender's recovery counters: {}",
            counters(l)
        ));
    }
    let totals = |o: &Outcome| {
        format!(
            "{} ({}) [{}, {} refused]",
            o.totals.0, o.totals.1, o.totals.2, o.totals.3
        )
    };
    note.push(format!(
        "over all runs, retrans (RTOs) [host drops, refused]: linnet {} runs {}, linux {}",
        m.linnet.runs,
        totals(&m.linnet),
        m.linux
            .as_ref()
            .map_or("-".into(), |l| format!("{} runs {}", l.runs, totals(l)))
    ));
    if let Some(n) = &m.linnet.netem {
        note.push(format!(
            "netem on {}: linnet run {n}",
            netem_dev(&m.case, true)
        ));
    }
    if let Some(n) = m.linux.as_ref().and_then(|l| l.netem.as_ref()) {
        note.push(format!(
            "netem on {}: linux run {n}",
            netem_dev(&m.case, false)
        ));
    }
    if m.linnet.secs.is_none() {
        note.insert(0, format!("FAILED, ratio inf: {}", failure(&m.linnet, s)));
    } else {
        note.push("sha256 ok".into());
    }
    if let Some(l) = m.linux.as_ref().filter(|l| l.secs.is_none()) {
        note.push(format!("linux FAILED: {}", failure(l, s)));
    }
    row.note = note.join("; ");
    row
}

fn fmt_secs(o: Option<&Outcome>, s: &Settings) -> String {
    match o {
        None => "-".into(),
        Some(o) => match o.secs {
            Some(t) => format!("{t:.2} s"),
            None if o.error.as_deref().is_some_and(|e| e.starts_with("cut")) => format!(
                "**cut at {:.0} s** ({:.1} MiB)",
                s.timeout.as_secs_f64(),
                o.bytes as f64 / (1 << 20) as f64
            ),
            None => format!("**failed**: {}", o.error.as_deref().unwrap_or("")),
        },
    }
}

/// What a path puts on both directions, for the README.
fn describe(path: &Path) -> String {
    match (path.rate, path.delay) {
        (None, None) => "the bare link (nothing but the impairment)".into(),
        (r, d) => format!(
            "netem{}{} on both directions of the router, under the impairment",
            r.map_or(String::new(), |r| format!(" rate {r}")),
            d.map_or(String::new(), |d| format!(" delay {d}"))
        ),
    }
}

/// The README tables: one per path, one line per case.
pub fn markdown(ms: &[Measured], s: &Settings) -> String {
    let mut out = String::new();
    for path in PATHS {
        let on: Vec<Measured> = ms.iter().filter(|m| m.case.path == path).cloned().collect();
        if !on.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out += &markdown_path(&on, &path, s);
        }
    }
    out
}

/// One path's table.
fn markdown_path(ms: &[Measured], path: &Path, s: &Settings) -> String {
    let mut out = format!(
        "Path \"{}\": {}. {} per transfer, cut at {:.0} s; each figure the median of up to {} \
         runs (a case whose first pair took over {} s runs once; a cut run counts over any \
         other)\n\n\
         | impairment (router netem) | on | Linnet | Linnet time | \
         Linux time | ratio | goodput Linnet / Linux (Mbit/s) | sender retrans (RTOs) Linnet run / \
         Linux run | sender host drops Linnet / Linux | byte-exact (yes, NO, cut) |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---|\n",
        path.label,
        describe(path),
        mib(s.bytes),
        s.timeout.as_secs_f64(),
        s.runs,
        REPEAT_BELOW.as_secs()
    );
    for m in ms {
        let side = match (m.case.imp.netem, m.case.side) {
            (None, _) => "-",
            (_, Side::Data) => "data",
            (_, Side::Acks) => "acks",
        };
        let role = match m.case.role {
            Role::Sends => "sends",
            Role::Receives => "receives",
        };
        let ratio = match m.ratio() {
            Some(r) if r.is_infinite() => "inf".to_string(),
            Some(r) => format!("{r:.2}x"),
            None => "-".into(),
        };
        let mbps = |o: Option<&Outcome>| {
            o.and_then(|o| o.mbps())
                .map_or("-".into(), |v| format!("{v:.0}"))
        };
        let linux = m.linux.as_ref();
        let exact = match (m.linnet.exactness(), linux.map(Outcome::exactness)) {
            ("yes", Some("yes") | None) => "yes".to_string(),
            (l, x) => format!("Linnet {l}, Linux {}", x.unwrap_or("-")),
        };
        out.push_str(&format!(
            "| {} | {side} | {role} | {} | {} | {ratio} | {} / {} | {} ({}) / {} | {} / {} | {exact} |\n",
            m.case.imp.netem.unwrap_or("none"),
            fmt_secs(Some(&m.linnet), s),
            fmt_secs(linux, s),
            mbps(Some(&m.linnet)),
            mbps(linux),
            m.linnet.retrans,
            m.linnet.rtos,
            linux.map_or("-".into(), |l| format!("{} ({})", l.retrans, l.rtos)),
            m.linnet.host_drops,
            linux.map_or("-".into(), |l| l.host_drops.to_string()),
        ));
    }
    out
}

/// Print the target lines, one per path: Linnet's time within [`TARGET`] of Linux's, for
/// every impaired case with a reference.
pub fn target(ms: &[Measured]) {
    for path in PATHS {
        let on: Vec<Measured> = ms.iter().filter(|m| m.case.path == path).cloned().collect();
        target_path(&on, &path);
    }
}

/// One path's target line.
fn target_path(ms: &[Measured], path: &Path) {
    let judged: Vec<(String, f64)> = ms
        .iter()
        .filter(|m| m.case.imp.netem.is_some())
        .filter_map(|m| Some((m.case.name(), m.ratio()?)))
        .collect();
    if judged.is_empty() {
        return;
    }
    let missed: Vec<&(String, f64)> = judged.iter().filter(|(_, r)| *r > TARGET).collect();
    let failed = ms.iter().filter(|m| m.linnet.secs.is_none()).count();
    let not_exact = ms.iter().filter(|m| m.linnet.corrupt()).count();
    println!(
        "target linnet within {TARGET}x of linux under impairment, path \"{}\" (transfer time, \
         same path, same run): {}: within {TARGET}x in {} of {} rows; {failed} cut or failed, {not_exact} not \
         byte-exact",
        path.label,
        if missed.is_empty() { "met" } else { "NOT met" },
        judged.len() - missed.len(),
        judged.len()
    );
    for (name, r) in missed {
        if r.is_infinite() {
            println!("  NOT met: {name}: inf (failed)");
        } else {
            println!("  NOT met: {name}: {r:.2}x");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_impairment_in_both_directions_and_roles() {
        let c = cases();
        // The unimpaired path once per role, every impairment on data and acks, both roles.
        assert_eq!(c.len(), PATHS.len() * (2 + (IMPAIRMENTS.len() - 1) * 4));
        let names: std::collections::HashSet<String> = c.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), c.len(), "names are unique");
        assert!(names.contains("impair loss 5% on data, linnet sends"));
        assert!(names.contains("impair loss 5% on acks, linnet receives"));
        assert!(names.contains("impair none, linnet receives"));
        assert!(names.contains("impair wan: loss 5% on data, linnet sends"));
    }

    #[test]
    fn the_path_is_on_both_directions_and_the_impairment_on_its_side() {
        let case = |path, imp, side| Case {
            path,
            imp,
            side,
            role: Role::Receives,
        };
        // The bare link: only the impaired side has a netem.
        let c = case(LINE_RATE, IMPAIRMENTS[2], Side::Data);
        assert_eq!(c.netem_args(Side::Data).as_deref(), Some("loss 5%"));
        assert_eq!(c.netem_args(Side::Acks), None);
        assert_eq!(
            case(LINE_RATE, IMPAIRMENTS[0], Side::Data).netem_args(Side::Data),
            None
        );
        // The WAN path: rate and delay both ways, the impairment added on its side.
        let c = case(WAN, IMPAIRMENTS[2], Side::Acks);
        assert_eq!(
            c.netem_args(Side::Data).as_deref(),
            Some("delay 5ms rate 200mbit")
        );
        assert_eq!(
            c.netem_args(Side::Acks).as_deref(),
            Some("loss 5% delay 5ms rate 200mbit")
        );
        // An impairment's own delay replaces the path's on its side only.
        let c = case(WAN, IMPAIRMENTS[6], Side::Data);
        assert_eq!(
            c.netem_args(Side::Data).as_deref(),
            Some("delay 20ms 5ms rate 200mbit")
        );
        assert_eq!(
            c.netem_args(Side::Acks).as_deref(),
            Some("delay 5ms rate 200mbit")
        );
    }

    #[test]
    fn netem_goes_towards_the_receiver_for_data_and_the_sender_for_acks() {
        let case = |side, role| Case {
            path: LINE_RATE,
            imp: IMPAIRMENTS[1],
            side,
            role,
        };
        // Linnet receives on port c (reference: Linux B on port b); Linux A sends from a.
        assert_eq!(netem_dev(&case(Side::Data, Role::Receives), true), "rc");
        assert_eq!(netem_dev(&case(Side::Data, Role::Receives), false), "rb");
        assert_eq!(netem_dev(&case(Side::Acks, Role::Receives), true), "ra");
        // Linnet sends from c to Linux A (reference: from B).
        assert_eq!(netem_dev(&case(Side::Data, Role::Sends), true), "ra");
        assert_eq!(netem_dev(&case(Side::Acks, Role::Sends), true), "rc");
        assert_eq!(netem_dev(&case(Side::Acks, Role::Sends), false), "rb");
    }

    #[test]
    fn a_failed_linnet_transfer_has_an_infinite_ratio() {
        let done = |secs| Outcome {
            secs: Some(secs),
            bytes: 1 << 20,
            exact: true,
            ..Outcome::default()
        };
        let mut m = Measured {
            case: cases()[2],
            linnet: done(3.0),
            linux: Some(done(2.0)),
        };
        assert_eq!(m.ratio(), Some(1.5));
        m.linnet = Outcome::failed("cut: 5 bytes read, no EOF".into());
        assert_eq!(m.ratio(), Some(f64::INFINITY));
        assert_eq!(m.linnet.exactness(), "cut");
        assert!(Outcome::failed(format!("{NOT_EXACT}: 3 of 4 bytes")).corrupt());
        let s = Settings {
            bytes: 1 << 20,
            timeout: Duration::from_secs(9),
            reference: true,
            runs: 1,
        };
        let r = row(&m, &s);
        assert_eq!(r.linnet, None);
        assert_eq!(r.reference, Some(2.0));
        assert!(
            r.note.starts_with("FAILED, ratio inf: cut at 9 s"),
            "{}",
            r.note
        );
        m.linux = None;
        assert_eq!(m.ratio(), None);
    }

    #[test]
    fn the_median_run_is_kept_and_a_cut_one_wins() {
        let done = |secs| Outcome {
            secs: Some(secs),
            exact: true,
            ..Outcome::default()
        };
        let m = median(vec![done(3.0), done(1.0), done(2.0)]);
        assert_eq!((m.secs, m.runs), (Some(2.0), 3));
        let m = median(vec![done(3.0), Outcome::failed("cut".into()), done(2.0)]);
        assert_eq!((m.secs, m.runs), (None, 3));
        assert_eq!(median(vec![done(5.0)]).secs, Some(5.0));
    }
}
