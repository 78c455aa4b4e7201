//! The server side of an iperf3 test on Linnet's blocking sockets.
//!
//! One test at a time, as iperf3 does: [`Server::serve_one`] takes a control connection, reads
//! the parameters, accepts the data connections that carry the test's cookie, runs one thread
//! per data connection — reading and counting, or writing blocks — until the client says
//! TEST_END, then exchanges results and returns a [`TestReport`] of exactly what it counted and
//! reported. Other clients that connect meanwhile are told ACCESS_DENIED; one that connects
//! between tests waits in the accept queue for the next [`Server::serve_one`].
//!
//! Every wait is bounded: the cookie, parameters and results by [`Limits::step`], the test by
//! its duration plus [`Limits::grace`] (or [`Limits::idle`] without data for `-n`/`-k` tests),
//! and data threads wake every [`POLL`] to see whether the test has ended.

use crate::proto::{
    self, ierr, Cookie, Params, Protocol, Refusal, Results, Role, State, StreamResult,
};
use linnet::socket::{SockId, SockOpt, SockOptName, SockOptValue};
use linnet::transport::tcp::cong::CcAlgorithm;
use linnet::Errno;
use linnet::Handle;
use linnet::{TcpListener, TcpStream};
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a data thread looks up from a blocked read or write to check for the test's end.
pub const POLL: Duration = Duration::from_millis(100);

/// Most connections turned away per look at the listener during a test.
const MAX_DENIALS: usize = 16;

/// Time limits of a server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long [`Server::serve_one`] waits for a client (`None`: for ever).
    pub accept: Option<Duration>,
    /// Longest wait for each set-up and wind-down step: the cookie, the parameters, all data
    /// connections, the client's results and its IPERF_DONE.
    pub step: Duration,
    /// Time past the test's duration (and omitted start) after which the server gives up
    /// waiting for TEST_END (iperf3 allows 40 s).
    pub grace: Duration,
    /// A test without a duration (`-n`, `-k`) is abandoned after this long with neither data
    /// nor a control message.
    pub idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            accept: None,
            step: Duration::from_secs(10),
            grace: Duration::from_secs(40),
            idle: Duration::from_secs(30),
        }
    }
}

/// What one data connection carried.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// iperf3's stream id.
    pub id: u32,
    /// Direction, seen from the server.
    pub role: Role,
    /// The client's end of the connection.
    pub peer: SocketAddrV4,
    /// Bytes the server read (`Receive`) or wrote (`Send`) in the measured interval; this is
    /// what the server reports to the client.
    pub bytes: u64,
    /// Retransmitted segments (sending streams).
    pub retransmits: Option<u64>,
    /// The error that ended the stream before TEST_END, if one did.
    pub error: Option<String>,
}

/// The outcome of one test.
#[derive(Debug, Clone)]
pub struct TestReport {
    /// The client's control connection.
    pub client: SocketAddrV4,
    /// What the client asked for.
    pub params: Params,
    /// Each data connection, in stream-id order.
    pub streams: Vec<StreamReport>,
    /// The measured interval: from TEST_START (or the end of the omitted start) to TEST_END.
    pub seconds: f64,
    /// The server process's CPU use over the test (total, user, system; percent of one CPU).
    pub cpu_util: [f64; 3],
    /// Congestion control of the data connections.
    pub congestion: Option<String>,
    /// The results the client sent.
    pub client_results: Results,
    /// The client ended with IPERF_DONE (rather than just closing).
    pub clean_end: bool,
}

impl TestReport {
    /// Bytes over all streams of one direction.
    pub fn bytes(&self, role: Role) -> u64 {
        self.streams
            .iter()
            .filter(|s| s.role == role)
            .map(|s| s.bytes)
            .sum()
    }

    /// What the client says it moved over the streams of one direction (server's view).
    pub fn client_bytes(&self, role: Role) -> u64 {
        self.client_results
            .streams
            .iter()
            .filter(|c| self.streams.iter().any(|s| s.id == c.id && s.role == role))
            .map(|c| c.bytes)
            .sum()
    }

    /// A short human-readable report: one line per stream and a sum per direction.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let version = self.params.client_version.as_deref().unwrap_or("?");
        let _ = writeln!(
            out,
            "iperf3-server: test from {} (iperf3 {version}), {} stream{}, {:.2} s, cpu {:.1}%",
            self.client,
            self.streams.len(),
            if self.streams.len() == 1 { "" } else { "s" },
            self.seconds,
            self.cpu_util[0],
        );
        let verb = |r: Role| match r {
            Role::Receive => "received",
            Role::Send => "sent",
        };
        for s in &self.streams {
            let _ = write!(
                out,
                "[{:>3}] {:<8} {:>12} bytes in {:.2} s = {:.3} Gbit/s",
                s.id,
                verb(s.role),
                s.bytes,
                self.seconds,
                gbit_per_s(s.bytes, self.seconds)
            );
            if let Some(r) = s.retransmits {
                let _ = write!(out, ", {r} retransmits");
            }
            if let Some(e) = &s.error {
                let _ = write!(out, " (ended early: {e})");
            }
            out.push('\n');
        }
        for role in [Role::Receive, Role::Send] {
            if !self.streams.iter().any(|s| s.role == role) {
                continue;
            }
            let bytes = self.bytes(role);
            let _ = write!(
                out,
                "[SUM] {:<8} {:>12} bytes in {:.2} s = {:.3} Gbit/s",
                verb(role),
                bytes,
                self.seconds,
                gbit_per_s(bytes, self.seconds)
            );
            let peer = self.client_bytes(role);
            let _ = match role {
                Role::Receive => writeln!(out, " (client sent {peer})"),
                Role::Send => writeln!(out, " (client received {peer})"),
            };
        }
        out
    }
}

/// Throughput in Gbit/s (0 for an empty interval).
pub fn gbit_per_s(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 * 8.0 / seconds / 1e9
    } else {
        0.0
    }
}

/// Whether this server can run the test the client asks for.
pub fn check_supported(p: &Params) -> Result<(), Refusal> {
    if p.protocol != Protocol::Tcp {
        return Err(Refusal::new(
            ierr::IEUNIMP,
            format!("{:?} tests are not supported (TCP only)", p.protocol),
        ));
    }
    if let Some(mss) = p.mss {
        return Err(Refusal {
            ierrno: ierr::IESETMSS,
            errno: libc::ENOPROTOOPT,
            reason: format!("MSS {mss} requested; Linnet has no TCP_MAXSEG"),
        });
    }
    if let Some(cc) = &p.congestion {
        if let Err(e) = cc.parse::<CcAlgorithm>() {
            return Err(Refusal {
                ierrno: ierr::IESETCONGESTION,
                errno: libc::ENOENT,
                reason: e,
            });
        }
    }
    Ok(())
}

/// An iperf3 server on a Linnet stack.
pub struct Server {
    h: Handle,
    listener: TcpListener,
    limits: Limits,
}

impl Server {
    /// Listen on `addr` (iperf3's port is [`proto::DEFAULT_PORT`]).
    pub fn bind(h: &Handle, addr: SocketAddrV4, limits: Limits) -> io::Result<Server> {
        Ok(Server {
            h: h.clone(),
            listener: TcpListener::bind(h, addr)?,
            limits,
        })
    }

    /// The listening address.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        self.listener.local_addr()
    }

    /// Run one test from the next client to connect, to its end.
    pub fn serve_one(&mut self) -> io::Result<TestReport> {
        let deadline = self.limits.accept.map(|d| Instant::now() + d);
        let (mut ctrl, client) = self
            .accept(deadline)
            .map_err(|e| context(e, "waiting for a client"))?;
        let step = self.limits.step;
        ctrl.set_read_timeout(Some(step));
        ctrl.set_write_timeout(Some(step));
        // State bytes are tiny and each waits for an answer: send them at once.
        ctrl.set_nodelay(true)?;
        let cookie = Cookie::read_from(&mut ctrl).map_err(|e| context(e, "reading the cookie"))?;
        proto::write_state(&mut ctrl, State::ParamExchange)?;
        let raw = proto::read_json(&mut ctrl).map_err(|e| context(e, "reading the parameters"))?;
        let params = match Params::from_json(&raw).and_then(|p| check_supported(&p).map(|_| p)) {
            Ok(p) => p,
            Err(r) => {
                let _ = proto::write_server_error(&mut ctrl, r.ierrno, r.errno);
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("refused a test from {client}: {}", r.reason),
                ));
            }
        };
        let streams = self.create_streams(&mut ctrl, &cookie, &params)?;
        let mut report = self.run(&mut ctrl, &params, streams)?;
        // Results: the client's first, then ours.
        proto::write_state(&mut ctrl, State::ExchangeResults)?;
        ctrl.set_read_timeout(Some(step));
        let theirs =
            proto::read_json(&mut ctrl).map_err(|e| context(e, "reading the client's results"))?;
        let client_results = Results::from_json(&theirs)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        report.client_results = client_results;
        let ours = Results {
            cpu_util: report.cpu_util,
            sender_has_retransmits: if params.reverse || params.bidirectional {
                1
            } else {
                -1
            },
            congestion_used: report.congestion.clone(),
            streams: report
                .streams
                .iter()
                .map(|s| StreamResult {
                    id: s.id,
                    bytes: s.bytes,
                    retransmits: s.retransmits.map_or(-1, |r| r as i64),
                    jitter: 0.0,
                    errors: 0,
                    packets: 0,
                    start_time: 0.0,
                    end_time: report.seconds,
                })
                .collect(),
            server_output_text: params.get_server_output.then(|| report.summary()),
        };
        proto::write_json(&mut ctrl, &ours.to_json())?;
        proto::write_state(&mut ctrl, State::DisplayResults)?;
        // The client prints its report and says IPERF_DONE; one that just closes is tolerated.
        report.clean_end = matches!(proto::read_state(&mut ctrl), Ok(State::IperfDone));
        Ok(report)
    }

    /// Accept a connection, waiting at most until `deadline`.
    fn accept(&mut self, deadline: Option<Instant>) -> io::Result<(TcpStream, SocketAddrV4)> {
        let Some(deadline) = deadline else {
            self.listener.set_nonblocking(false);
            return self.listener.accept();
        };
        // The listener has no accept timeout: poll it without blocking.
        self.listener.set_nonblocking(true);
        let r = loop {
            match self.listener.accept() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        break Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no connection in time",
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => break other,
            }
        };
        self.listener.set_nonblocking(false);
        r
    }

    /// Send CREATE_STREAMS and accept the test's data connections, in the client's order.
    fn create_streams(
        &mut self,
        ctrl: &mut TcpStream,
        cookie: &Cookie,
        params: &Params,
    ) -> io::Result<Vec<(TcpStream, SocketAddrV4)>> {
        // Like iperf3, size the buffers on the listener: accepted connections inherit them
        // (and the window scale follows from the receive buffer).
        let saved = match params.window {
            Some(w) => {
                let old = self.listener_buffers()?;
                self.set_listener_buffers(w, w)?;
                Some(old)
            }
            None => None,
        };
        let r = self.accept_streams(ctrl, cookie, params.num_streams());
        if let Some((rcv, snd)) = saved {
            self.set_listener_buffers(rcv, snd)?;
        }
        r
    }

    fn accept_streams(
        &mut self,
        ctrl: &mut TcpStream,
        cookie: &Cookie,
        want: usize,
    ) -> io::Result<Vec<(TcpStream, SocketAddrV4)>> {
        proto::write_state(ctrl, State::CreateStreams)?;
        let deadline = Instant::now() + self.limits.step;
        let mut streams = Vec::with_capacity(want);
        while streams.len() < want {
            let (mut s, peer) = self.accept(Some(deadline)).map_err(|e| {
                context(
                    e,
                    &format!(
                        "waiting for data connection {} of {want}",
                        streams.len() + 1
                    ),
                )
            })?;
            let left = deadline.saturating_duration_since(Instant::now());
            s.set_read_timeout(Some(left.max(Duration::from_millis(1))));
            s.set_write_timeout(Some(self.limits.step));
            match Cookie::read_from(&mut s) {
                Ok(c) if c == *cookie => streams.push((s, peer)),
                // Another client while this test runs: iperf3 turns it away the same way.
                Ok(_) => {
                    let _ = proto::write_state(&mut s, State::AccessDenied);
                }
                // A connection that never sent a cookie is dropped.
                Err(_) => {}
            }
        }
        Ok(streams)
    }

    /// TEST_START and TEST_RUNNING, the data phase until TEST_END, and the counts.
    fn run(
        &mut self,
        ctrl: &mut TcpStream,
        params: &Params,
        streams: Vec<(TcpStream, SocketAddrV4)>,
    ) -> io::Result<TestReport> {
        let congestion = match &params.congestion {
            Some(name) => Some(
                name.parse::<CcAlgorithm>()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            ),
            None => None,
        };
        let mut flows = Flows::new();
        let roles = params.roles();
        let mut senders = Vec::new();
        proto::write_state(ctrl, State::TestStart)?;
        let cpu0 = CpuTimes::now();
        let t0 = Instant::now();
        for (i, ((mut s, peer), role)) in streams.into_iter().zip(roles).enumerate() {
            if params.nodelay {
                s.set_nodelay(true)?;
            }
            if let Some(cc) = congestion {
                s.set_option(SockOpt::Congestion(cc))?;
            }
            s.set_read_timeout(Some(POLL));
            s.set_write_timeout(Some(POLL));
            let id = proto::stream_id(i);
            match role {
                Role::Receive => flows.spawn_receiver(id, peer, s, params.len),
                // Senders start after TEST_RUNNING.
                Role::Send => senders.push((id, peer, s)),
            }
        }
        proto::write_state(ctrl, State::TestRunning)?;
        let sent = Arc::new(AtomicU64::new(0));
        for (id, peer, s) in senders {
            flows.spawn_sender(id, peer, s, params, sent.clone());
        }
        // Wait for TEST_END, taking the omitted start off the counts when it is over.
        let omit_end = t0 + Duration::from_secs(params.omit);
        let mut omitted: Option<Vec<u64>> = (params.omit == 0).then(|| vec![0; flows.len()]);
        let mut measured_from = t0;
        let give_up = (params.time > 0)
            .then(|| t0 + Duration::from_secs(params.time + params.omit) + self.limits.grace);
        // Data moving or a control message: the test is alive (checked when it has no end time).
        let (mut last_total, mut last_sign) = (flows.total(), Instant::now());
        loop {
            let now = Instant::now();
            if omitted.is_none() && now >= omit_end {
                omitted = Some(flows.counts());
                measured_from = now;
            }
            if give_up.is_some_and(|d| now >= d) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no TEST_END {} s after the test's end",
                        self.limits.grace.as_secs()
                    ),
                ));
            }
            let total = flows.total();
            if total != last_total {
                (last_total, last_sign) = (total, now);
            } else if give_up.is_none() && now - last_sign >= self.limits.idle {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no data for {} s", self.limits.idle.as_secs()),
                ));
            }
            let mut wait = Duration::from_millis(250);
            if omitted.is_none() {
                wait = wait.min(omit_end - now);
            }
            if let Some(d) = give_up {
                wait = wait.min(d - now);
            }
            self.deny_newcomers();
            ctrl.set_read_timeout(Some(wait.max(Duration::from_millis(1))));
            match proto::read_state(ctrl) {
                Ok(State::TestEnd) => break,
                // Some clients send TEST_START too; it means nothing to the server.
                Ok(State::TestStart) => last_sign = Instant::now(),
                Ok(State::ClientTerminate) => {
                    return Err(io::Error::new(
                        io::ErrorKind::Interrupted,
                        "the client terminated the test",
                    ))
                }
                Ok(other) => {
                    let _ = proto::write_server_error(ctrl, ierr::IEMESSAGE, 0);
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("unexpected {other:?} during the test"),
                    ));
                }
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(context(e, "waiting for TEST_END")),
            }
        }
        // The interval ends at TEST_END, as iperf3's does; what the threads read while they
        // wind down (data already on its way) still counts.
        let seconds = measured_from.elapsed().as_secs_f64();
        let cpu_util = CpuTimes::now().util_since(&cpu0, t0.elapsed());
        let finished = flows.finish();
        let omitted = omitted.unwrap_or_else(|| vec![0; finished.len()]);
        let mut report_streams = Vec::with_capacity(finished.len());
        let mut cc_used = None;
        for (f, skip) in finished.into_iter().zip(omitted) {
            let info = self.h.call(|s, _| {
                let cc = match s.getsockopt(f.sock, SockOptName::Congestion) {
                    Ok(SockOptValue::Opt(SockOpt::Congestion(a))) => Some(a.to_string()),
                    _ => None,
                };
                let retrans = s
                    .sockets_info()
                    .into_iter()
                    .find(|i| i.id == f.sock)
                    .and_then(|i| i.tcp)
                    .map(|t| t.retrans);
                (cc, retrans)
            });
            let (cc, retrans) = info.unwrap_or((None, None));
            cc_used = cc_used.or(cc);
            report_streams.push(StreamReport {
                id: f.id,
                role: f.role,
                peer: f.peer,
                bytes: f.bytes.saturating_sub(skip),
                retransmits: if f.role == Role::Send { retrans } else { None },
                error: f.error,
            });
            // Dropping the stream closes it (as iperf3 closes its data sockets at TEST_END).
            drop(f.stream);
        }
        Ok(TestReport {
            client: ctrl.peer_addr()?,
            params: params.clone(),
            streams: report_streams,
            seconds,
            cpu_util,
            congestion: cc_used,
            client_results: Results {
                cpu_util: [0.0; 3],
                sender_has_retransmits: 0,
                congestion_used: None,
                streams: Vec::new(),
                server_output_text: None,
            },
            clean_end: false,
        })
    }

    /// Turn away clients that connect while a test runs, as iperf3 does: ACCESS_DENIED at
    /// once, without waiting for their cookie.
    fn deny_newcomers(&mut self) {
        for _ in 0..MAX_DENIALS {
            let Ok((mut s, _)) = self.accept(Some(Instant::now())) else {
                return;
            };
            // As iperf3's server does: read the newcomer's cookie before refusing, so the
            // close that follows does not find unread data and answer with a reset that can
            // overtake the refusal (RFC 2525 2.17, Linux tcp_close).
            s.set_read_timeout(Some(POLL));
            s.set_write_timeout(Some(POLL));
            let _ = proto::Cookie::read_from(&mut s);
            let _ = proto::write_state(&mut s, State::AccessDenied);
        }
    }

    fn listener_buffers(&self) -> io::Result<(usize, usize)> {
        let id = self.listener.id();
        let r = self.h.call(|s, _| -> Result<(usize, usize), Errno> {
            let rcv = match s.getsockopt(id, SockOptName::RcvBuf)? {
                SockOptValue::Opt(SockOpt::RcvBuf(n)) => n,
                _ => return Err(Errno::EINVAL),
            };
            let snd = match s.getsockopt(id, SockOptName::SndBuf)? {
                SockOptValue::Opt(SockOpt::SndBuf(n)) => n,
                _ => return Err(Errno::EINVAL),
            };
            Ok((rcv, snd))
        })??;
        Ok(r)
    }

    fn set_listener_buffers(&self, rcv: usize, snd: usize) -> io::Result<()> {
        let id = self.listener.id();
        self.h.call(|s, now| -> Result<(), Errno> {
            s.setsockopt(id, SockOpt::RcvBuf(rcv), now)?;
            s.setsockopt(id, SockOpt::SndBuf(snd), now)
        })??;
        Ok(())
    }
}

/// A data connection's thread and its live byte count.
struct Flow {
    id: u32,
    role: Role,
    peer: SocketAddrV4,
    sock: SockId,
    bytes: Arc<AtomicU64>,
    thread: Option<JoinHandle<(TcpStream, Option<io::Error>)>>,
}

/// A data connection after its thread ended.
struct Finished {
    id: u32,
    role: Role,
    peer: SocketAddrV4,
    sock: SockId,
    bytes: u64,
    error: Option<String>,
    stream: Option<TcpStream>,
}

/// The data threads of a test. Dropping it stops and joins them, so no thread outlives a test
/// that ended in an error.
struct Flows {
    stop: Arc<AtomicBool>,
    list: Vec<Flow>,
}

impl Flows {
    fn new() -> Flows {
        Flows {
            stop: Arc::new(AtomicBool::new(false)),
            list: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn counts(&self) -> Vec<u64> {
        self.list
            .iter()
            .map(|f| f.bytes.load(Ordering::Relaxed))
            .collect()
    }

    fn total(&self) -> u64 {
        self.counts().iter().sum()
    }

    fn push(
        &mut self,
        id: u32,
        role: Role,
        peer: SocketAddrV4,
        s: TcpStream,
        body: impl FnOnce(TcpStream, &AtomicU64, &AtomicBool) -> (TcpStream, Option<io::Error>)
            + Send
            + 'static,
    ) {
        let bytes = Arc::new(AtomicU64::new(0));
        let (b, stop) = (bytes.clone(), self.stop.clone());
        let sock = s.id();
        let thread = std::thread::Builder::new()
            .name(format!("iperf3-stream-{id}"))
            .spawn(move || body(s, &b, &stop))
            .ok();
        self.list.push(Flow {
            id,
            role,
            peer,
            sock,
            bytes,
            thread,
        });
    }

    /// Read and count until the test ends or the client closes.
    fn spawn_receiver(&mut self, id: u32, peer: SocketAddrV4, s: TcpStream, len: usize) {
        self.push(id, Role::Receive, peer, s, move |mut s, bytes, stop| {
            let mut buf = vec![0u8; len];
            let mut err = None;
            while !stop.load(Ordering::Relaxed) {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e) if is_timeout(&e) => {}
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            (s, err)
        });
    }

    /// Write blocks until the test ends, at the test's rate (if any) and up to its byte limit
    /// (if any, shared by all sending streams through `sent`).
    fn spawn_sender(
        &mut self,
        id: u32,
        peer: SocketAddrV4,
        s: TcpStream,
        params: &Params,
        sent: Arc<AtomicU64>,
    ) {
        let (len, rate, limit) = (params.len, params.rate, params.send_limit());
        self.push(id, Role::Send, peer, s, move |mut s, bytes, stop| {
            let block = payload(len, u64::from(id));
            let start = Instant::now();
            let (mut off, mut mine, mut err) = (0usize, 0u64, None);
            while !stop.load(Ordering::Relaxed) {
                let mut room = len - off;
                if let Some(limit) = limit {
                    room = room.min(limit.saturating_sub(sent.load(Ordering::Relaxed)) as usize);
                }
                let over_rate =
                    rate > 0 && mine as f64 * 8.0 > rate as f64 * start.elapsed().as_secs_f64();
                if room == 0 || over_rate {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                match s.write(&block[off..off + room]) {
                    Ok(n) => {
                        off = (off + n) % len;
                        mine += n as u64;
                        bytes.fetch_add(n as u64, Ordering::Relaxed);
                        sent.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e) if is_timeout(&e) => {}
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            (s, err)
        });
    }

    /// Stop every thread and collect the final counts and the streams.
    fn finish(&mut self) -> Vec<Finished> {
        self.stop.store(true, Ordering::Relaxed);
        self.list
            .drain(..)
            .map(|mut f| {
                let (stream, error) = match f.thread.take().map(JoinHandle::join) {
                    Some(Ok((s, e))) => (Some(s), e.map(|e| e.to_string())),
                    Some(Err(_)) => (None, Some("stream thread panicked".into())),
                    None => (None, Some("could not start a thread".into())),
                };
                Finished {
                    id: f.id,
                    role: f.role,
                    peer: f.peer,
                    sock: f.sock,
                    bytes: f.bytes.load(Ordering::Relaxed),
                    error,
                    stream,
                }
            })
            .collect()
    }
}

impl Drop for Flows {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// A block of pseudo-random bytes (iperf3 also sends random data, so that compression on the
/// path cannot flatter the result).
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A read or write that gave up at its timeout.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// `e` with what was being done, keeping its kind.
fn context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// The process's CPU time so far (user, system).
struct CpuTimes {
    user: Duration,
    system: Duration,
}

impl CpuTimes {
    fn now() -> CpuTimes {
        // SAFETY: rusage is plain data for which all-zero bytes are valid, and getrusage(2)
        // only writes into the struct it is given.
        let (rc, ru) = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            (libc::getrusage(libc::RUSAGE_SELF, &mut ru), ru)
        };
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        if rc != 0 {
            return CpuTimes {
                user: Duration::ZERO,
                system: Duration::ZERO,
            };
        }
        CpuTimes {
            user: tv(ru.ru_utime),
            system: tv(ru.ru_stime),
        }
    }

    /// Percent of one CPU used since `start`, over `wall`: total, user, system.
    fn util_since(&self, start: &CpuTimes, wall: Duration) -> [f64; 3] {
        let wall = wall.as_secs_f64();
        if wall <= 0.0 {
            return [0.0; 3];
        }
        let user = self.user.saturating_sub(start.user).as_secs_f64() / wall * 100.0;
        let system = self.system.saturating_sub(start.system).as_secs_f64() / wall * 100.0;
        [user + system, user, system]
    }
}

#[cfg(test)]
mod tests {
    //! The server against a scripted client on the same Linnet stack (over its loopback
    //! interface): no root and no iperf3 needed, and every step of the protocol under control.

    use super::*;
    use linnet::Host;
    use linnet::{LinkConfig, MemLink};
    use serde_json::{json, Value};
    use std::net::Ipv4Addr;

    const T: Duration = Duration::from_secs(5);

    /// A stack (on an in-memory link nobody else uses) and a server thread on it.
    fn start(limits: Limits) -> (Host, MemLink, JoinHandle<io::Result<TestReport>>) {
        let (dev, other_end) = MemLink::pair(LinkConfig::default());
        let host = Host::builder()
            .device(Box::new(dev))
            .ifname("eth0")
            .addr("10.9.0.1/24".parse().unwrap())
            .seed(7)
            .spawn()
            .unwrap();
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, proto::DEFAULT_PORT);
        let mut server = Server::bind(&host.handle, any, limits).unwrap();
        let thread = std::thread::spawn(move || server.serve_one());
        (host, other_end, thread)
    }

    fn limits() -> Limits {
        Limits {
            accept: Some(T),
            step: T,
            grace: T,
            idle: T,
        }
    }

    fn cookie(c: u8) -> [u8; proto::COOKIE_SIZE] {
        let mut raw = [c; proto::COOKIE_SIZE];
        raw[proto::COOKIE_SIZE - 1] = 0;
        raw
    }

    /// Connect to the server over loopback and send a cookie.
    fn open(h: &Handle, cookie: &[u8]) -> TcpStream {
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, proto::DEFAULT_PORT);
        let mut s = TcpStream::connect_timeout(h, to, Some(T)).unwrap();
        s.set_read_timeout(Some(T));
        s.set_write_timeout(Some(T));
        s.write_all(cookie).unwrap();
        s
    }

    /// Parameters as iperf3 3.12 sends them, with `extra` keys added.
    fn params(extra: Value) -> Value {
        let mut p = json!({"tcp": true, "omit": 0, "time": 1, "num": 0, "blockcount": 0,
            "parallel": 1, "len": 16384, "pacing_timer": 1000, "client_version": "3.12"});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    }

    /// Control connection through CREATE_STREAMS.
    fn begin(h: &Handle, p: Value) -> TcpStream {
        let mut ctrl = open(h, &cookie(b'a'));
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::ParamExchange);
        proto::write_json(&mut ctrl, &p).unwrap();
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::CreateStreams);
        ctrl
    }

    /// Wait until the server has read everything on the connection from `client` and seen its
    /// FIN, so that its count is final.
    fn wait_drained(h: &Handle, client: &TcpStream) {
        let port = client.local_addr().unwrap().port();
        let deadline = Instant::now() + T;
        loop {
            let done = h
                .call(|s, _| {
                    s.sockets_info().into_iter().any(|i| {
                        i.remote.port() == port && i.state == "CLOSE-WAIT" && i.recv_q == 0
                    })
                })
                .unwrap();
            if done {
                return;
            }
            assert!(Instant::now() < deadline, "server did not drain the stream");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Read until EOF (or a timeout, which fails the test); the byte count.
    fn read_to_eof(s: &mut TcpStream) -> u64 {
        let mut buf = vec![0u8; 65536];
        let mut n = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) => return n,
                Ok(k) => n += k as u64,
                Err(e) => panic!("reading to EOF after {n} bytes: {e}"),
            }
        }
    }

    fn client_results(streams: &[(u32, u64)]) -> Value {
        let s: Vec<Value> = streams
            .iter()
            .map(|(id, b)| {
                json!({"id": id, "bytes": b, "retransmits": 0, "jitter": 0,
                "errors": 0, "packets": 0, "start_time": 0, "end_time": 1})
            })
            .collect();
        json!({"cpu_util_total": 1.5, "cpu_util_user": 1.0, "cpu_util_system": 0.5,
            "sender_has_retransmits": 1, "streams": s})
    }

    /// TEST_END through IPERF_DONE; the server's results.
    fn finish(ctrl: &mut TcpStream, ours: &[(u32, u64)]) -> Results {
        assert_eq!(proto::read_state(ctrl).unwrap(), State::ExchangeResults);
        proto::write_json(ctrl, &client_results(ours)).unwrap();
        let theirs = Results::from_json(&proto::read_json(ctrl).unwrap()).unwrap();
        assert_eq!(proto::read_state(ctrl).unwrap(), State::DisplayResults);
        proto::write_state(ctrl, State::IperfDone).unwrap();
        theirs
    }

    #[test]
    fn bidirectional_test_counts_every_byte_and_turns_strangers_away() {
        let (host, _link, server) = start(limits());
        let h = &host.handle;
        let mut ctrl = begin(h, params(json!({"bidirectional": true})));
        // A connection with another cookie while streams are being created: ACCESS_DENIED.
        let mut stranger = open(h, &cookie(b'z'));
        assert_eq!(
            proto::read_state(&mut stranger).unwrap(),
            State::AccessDenied
        );
        let mut up = open(h, &cookie(b'a'));
        let mut down = open(h, &cookie(b'a'));
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::TestStart);
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::TestRunning);
        // Another client while the test runs: ACCESS_DENIED too.
        let mut late = open(h, &cookie(b'y'));
        assert_eq!(proto::read_state(&mut late).unwrap(), State::AccessDenied);
        let data = vec![0x5au8; 300_000];
        up.write_all(&data).unwrap();
        up.shutdown(std::net::Shutdown::Write).unwrap();
        // Take some of what the server sends, then end the test.
        let mut buf = vec![0u8; 65536];
        let mut got = 0u64;
        while got < 200_000 {
            got += down.read(&mut buf).unwrap() as u64;
        }
        wait_drained(h, &up);
        proto::write_state(&mut ctrl, State::TestEnd).unwrap();
        // The server closes its sending stream gracefully: the rest arrives, then EOF.
        got += read_to_eof(&mut down);
        let theirs = finish(&mut ctrl, &[(1, 300_000), (3, got)]);
        let report = server.join().unwrap().unwrap();
        assert!(report.clean_end);
        let ids: Vec<(u32, Role)> = report.streams.iter().map(|s| (s.id, s.role)).collect();
        assert_eq!(ids, [(1, Role::Receive), (3, Role::Send)]);
        assert_eq!(report.bytes(Role::Receive), 300_000);
        assert_eq!(report.bytes(Role::Send), got);
        assert_eq!(report.client_bytes(Role::Receive), 300_000);
        assert_eq!(report.client_bytes(Role::Send), got);
        assert_eq!(report.client_results.cpu_util, [1.5, 1.0, 0.5]);
        // The server's results say the same, with retransmits for the stream it sent.
        assert_eq!(theirs.sender_has_retransmits, 1);
        assert_eq!(theirs.streams.len(), 2);
        assert_eq!(
            (theirs.streams[0].id, theirs.streams[0].bytes),
            (1, 300_000)
        );
        assert_eq!(theirs.streams[0].retransmits, -1);
        assert_eq!((theirs.streams[1].id, theirs.streams[1].bytes), (3, got));
        assert!(theirs.streams[1].retransmits >= 0);
        assert_eq!(theirs.streams[1].end_time, report.seconds);
        assert_eq!(theirs.congestion_used.as_deref(), Some("cubic"));
        assert!(report
            .summary()
            .contains("[SUM] received       300000 bytes"));
        host.stop();
    }

    #[test]
    fn reverse_test_stops_at_the_byte_count_and_reports_server_output() {
        let (host, _link, server) = start(limits());
        let h = &host.handle;
        let p = params(json!({"reverse": true, "time": 0, "num": 100_000,
            "get_server_output": 1, "congestion": "reno", "nodelay": true}));
        let mut ctrl = begin(h, p);
        let mut down = open(h, &cookie(b'a'));
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::TestStart);
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::TestRunning);
        let mut buf = vec![0u8; 65536];
        let mut got = 0u64;
        while got < 100_000 {
            got += down.read(&mut buf).unwrap() as u64;
        }
        // Nothing beyond the count.
        down.set_read_timeout(Some(Duration::from_millis(200)));
        let more = down.read(&mut buf);
        assert!(more.as_ref().is_err_and(is_timeout), "more data: {more:?}");
        down.set_read_timeout(Some(T));
        proto::write_state(&mut ctrl, State::TestEnd).unwrap();
        assert_eq!(read_to_eof(&mut down), 0);
        let theirs = finish(&mut ctrl, &[(1, got)]);
        let report = server.join().unwrap().unwrap();
        assert_eq!(got, 100_000);
        assert_eq!(report.bytes(Role::Send), 100_000);
        assert_eq!(theirs.streams[0].bytes, 100_000);
        assert_eq!(report.congestion.as_deref(), Some("reno"));
        let text = theirs.server_output_text.expect("server output");
        assert!(text.contains("[SUM] sent"), "{text}");
        assert!(text.contains("100000 bytes"), "{text}");
        host.stop();
    }

    #[test]
    fn a_paced_stream_keeps_to_its_rate() {
        let (host, _link, server) = start(limits());
        let h = &host.handle;
        // 2 Mbit/s = 250 kB/s, in 16 KiB blocks.
        let mut ctrl = begin(h, params(json!({"reverse": true, "bandwidth": 2_000_000})));
        let mut down = open(h, &cookie(b'a'));
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::TestStart);
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::TestRunning);
        let until = Instant::now() + Duration::from_millis(400);
        let mut buf = vec![0u8; 65536];
        let mut got = 0u64;
        down.set_read_timeout(Some(Duration::from_millis(50)));
        while Instant::now() < until {
            match down.read(&mut buf) {
                Ok(n) => got += n as u64,
                Err(e) if is_timeout(&e) => {}
                Err(e) => panic!("{e}"),
            }
        }
        down.set_read_timeout(Some(T));
        proto::write_state(&mut ctrl, State::TestEnd).unwrap();
        got += read_to_eof(&mut down);
        finish(&mut ctrl, &[(1, got)]);
        let report = server.join().unwrap().unwrap();
        let sent = report.bytes(Role::Send);
        assert_eq!(sent, got);
        // Pacing lets a stream write a block whenever it is behind its rate, never more (with
        // 0.1 s of slack for the moment between TEST_END and the sender seeing it).
        let cap = 2_000_000.0 / 8.0 * (report.seconds + 0.1) + 16384.0;
        assert!(sent > 0 && sent as f64 <= cap, "{sent} bytes, cap {cap}");
        host.stop();
    }

    #[test]
    fn unsupported_tests_are_refused_with_server_error() {
        for (extra, ierrno, errno) in [
            (json!({"udp": true, "tcp": Value::Null}), ierr::IEUNIMP, 0),
            (json!({"MSS": 1200}), ierr::IESETMSS, libc::ENOPROTOOPT),
            (
                json!({"congestion": "vegas"}),
                ierr::IESETCONGESTION,
                libc::ENOENT,
            ),
            (json!({"parallel": 500}), ierr::IENUMSTREAMS, 0),
        ] {
            let (host, _link, server) = start(limits());
            let mut ctrl = open(&host.handle, &cookie(b'a'));
            assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::ParamExchange);
            let mut p = params(extra.clone());
            if p["tcp"].is_null() {
                p.as_object_mut().unwrap().remove("tcp");
            }
            proto::write_json(&mut ctrl, &p).unwrap();
            assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::ServerError);
            let mut ints = [0u8; 8];
            ctrl.read_exact(&mut ints).unwrap();
            let got = (
                i32::from_be_bytes(ints[..4].try_into().unwrap()),
                i32::from_be_bytes(ints[4..].try_into().unwrap()),
            );
            assert_eq!(got, (ierrno, errno), "{extra}");
            let e = server.join().unwrap().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{extra}: {e}");
            host.stop();
        }
    }

    #[test]
    fn silent_or_vanishing_clients_end_the_test_in_bounded_time() {
        let quick = Limits {
            accept: Some(T),
            step: Duration::from_millis(300),
            grace: Duration::from_millis(300),
            idle: Duration::from_millis(300),
        };
        // No parameters after the cookie.
        let (host, _link, server) = start(quick.clone());
        let mut ctrl = open(&host.handle, &cookie(b'a'));
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::ParamExchange);
        let e = server.join().unwrap().unwrap_err();
        assert!(is_timeout(&e), "{e}");
        assert!(e.to_string().contains("parameters"), "{e}");
        host.stop();
        // Too few data connections.
        let (host, _link, server) = start(quick.clone());
        let _ctrl = begin(&host.handle, params(json!({"parallel": 2})));
        let _one = open(&host.handle, &cookie(b'a'));
        let e = server.join().unwrap().unwrap_err();
        assert!(e.to_string().contains("data connection 2 of 2"), "{e}");
        host.stop();
        // The control connection closes during the test.
        let (host, _link, server) = start(quick.clone());
        let mut ctrl = begin(&host.handle, params(json!({})));
        let _up = open(&host.handle, &cookie(b'a'));
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::TestStart);
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::TestRunning);
        drop(ctrl);
        let e = server.join().unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        host.stop();
        // No TEST_END: given up `grace` after the test's 1 s.
        let (host, _link, server) = start(quick.clone());
        let mut ctrl = begin(&host.handle, params(json!({})));
        let _up = open(&host.handle, &cookie(b'a'));
        let started = Instant::now();
        assert_eq!(proto::read_state(&mut ctrl).unwrap(), State::TestStart);
        let e = server.join().unwrap().unwrap_err();
        assert!(e.to_string().contains("no TEST_END"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        host.stop();
        // A -n test where nothing flows: given up after `idle`.
        let (host, _link, server) = start(quick);
        let _ctrl = begin(&host.handle, params(json!({"time": 0, "num": 1000})));
        let _up = open(&host.handle, &cookie(b'a'));
        let e = server.join().unwrap().unwrap_err();
        assert!(e.to_string().contains("no data"), "{e}");
        host.stop();
    }
}
