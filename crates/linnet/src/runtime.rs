//! The threaded runtime: the I/O edge that owns devices, the clock and a thread, and drives a
//! [`Stack`] with them.
//!
//! Linux: the NAPI softirq loop (`net_rx_action`), `qdisc_run` and the timer wheel, folded
//! into one thread per stack. Other threads reach the stack through a [`Handle`], whose calls
//! take the stack's lock between batches (the way a syscall takes the socket lock).

use crate::buf::{BufPool, PacketBuf, LARGE_BUF_SIZE, MAX_FREE_LARGE};
use crate::device::NetDevice;
use crate::driver::packet::PacketDevice;
use crate::driver::tap::TapDevice;
use crate::errno::Errno;
use crate::stack::{Stack, StackConfig};
use crate::time::{HostClock, Instant};
use crate::wire::{EthernetAddress, Ipv4Cidr, Ipv6Cidr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Frames read from one device per wakeup (the NAPI budget).
const RX_BUDGET: usize = 64;
/// Longest sleep when nothing is due.
const MAX_SLEEP: Duration = Duration::from_millis(200);
/// First wait before a device that refused a frame (its queue was full) is tried again;
/// each refusal in a row doubles it, up to [`TX_BUSY_MAX_WAIT`]. No event says when a TAP's
/// reader (or a veth peer's backlog) has made room, so the driver polls, like a NIC's
/// completion interrupt that the reader's progress stands in for.
const TX_BUSY_WAIT: Duration = Duration::from_micros(25);
/// Longest wait before retrying a full device.
const TX_BUSY_MAX_WAIT: Duration = Duration::from_micros(800);

/// A device's stopped transmit queue, as the stack thread (its driver) tracks it.
#[derive(Debug, Clone, Copy)]
struct TxBusy {
    /// When to wake the stopped queue and try again; None while the device takes frames.
    retry_at: Option<Instant>,
    /// The wait after the next refusal.
    wait: Duration,
}

impl Default for TxBusy {
    fn default() -> Self {
        TxBusy {
            retry_at: None,
            wait: TX_BUSY_WAIT,
        }
    }
}

impl TxBusy {
    /// The device refused a frame at `now`: stop until the wait is over, and wait longer
    /// next time. Linux: the driver's `netif_tx_stop_queue`.
    fn refused(&mut self, now: Instant) {
        self.retry_at = Some(now + self.wait);
        self.wait = (self.wait * 2).min(TX_BUSY_MAX_WAIT);
    }

    /// The device took a frame: it has room again.
    fn took(&mut self) {
        self.wait = TX_BUSY_WAIT;
    }
}

/// Normal buffers the stack thread keeps for reading frames outside the stack's lock: a
/// budget's worth, topped up from the stack's pool each round.
const RX_POOL_IDLE: usize = RX_BUDGET + 8;

/// An eventfd that wakes the stack thread.
#[derive(Debug)]
struct Waker {
    fd: OwnedFd,
}

impl Waker {
    fn new() -> io::Result<Waker> {
        // SAFETY: eventfd has no memory-safety preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly created descriptor we own.
        Ok(Waker {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                &one as *const u64 as *const libc::c_void,
                8,
            );
        }
    }

    fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our non-blocking eventfd.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                &mut v as *mut u64 as *mut libc::c_void,
                8,
            );
        }
    }
}

/// What the stack thread and the handles share.
struct Shared {
    stack: Mutex<Option<Stack>>,
    waker: Waker,
    stop: AtomicBool,
    /// A call ran on the stack since the stack thread's round began (it may have queued
    /// frames or armed a timer): the thread runs another round before it sleeps.
    kicked: AtomicBool,
    /// The stack thread sleeps in poll(2), or is about to: only then does a kick need the
    /// eventfd (a busy thread sees `kicked` before it sleeps).
    sleeping: AtomicBool,
    clock: HostClock,
    /// Device counters, refreshed by the stack thread for `ip -s link`.
    dev_stats: Mutex<Vec<(u32, crate::device::DeviceStats)>>,
    /// How the stack thread spends its rounds.
    rounds: AtomicU64,
    sleeps: AtomicU64,
    idle_rounds: AtomicU64,
    rx_failures: AtomicU64,
    /// The stack thread's kernel thread id (0 until it runs).
    tid: AtomicI32,
}

/// How often the stack thread ran a round and slept ([`Handle::loop_stats`]): the
/// evidence that it sleeps when there is nothing to do rather than spinning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopStats {
    /// Rounds run (receive, stack, transmit).
    pub rounds: u64,
    /// Times the thread went to sleep in ppoll(2), however briefly.
    pub sleeps: u64,
    /// Rounds that read no frame and sent none (woken by a timer or a call, or spinning).
    pub idle_rounds: u64,
    /// Device reads that failed (each puts the device on a backoff).
    pub rx_failures: u64,
    /// The stack thread's kernel thread id, for its CPU time in `/proc/self/task/TID/stat`.
    pub tid: i32,
}

impl Shared {
    /// Make the stack thread run a round soon. The flag and the thread's `sleeping` are
    /// stored then loaded in opposite orders (both `SeqCst`), so either the thread sees the
    /// flag before sleeping or this sees it sleeping and writes the eventfd: no kick is lost,
    /// and a busy thread costs no system call. Linux: `napi_schedule` skipping an already
    /// scheduled NAPI.
    fn kick(&self) {
        self.kicked.store(true, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            self.waker.wake();
        }
    }
}

/// A way into a running stack from other threads. Calls take the stack's lock (the way a
/// system call takes the socket lock), run, release it, fire the wakers of sockets whose
/// readiness changed, and kick the stack thread so that queued frames go out.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// Run `f` on the stack and return its result. Fails if the stack has stopped.
    pub fn call<R>(&self, f: impl FnOnce(&mut Stack, Instant) -> R) -> io::Result<R> {
        let mut wakers = Vec::new();
        let r = {
            let mut g = self.shared.stack.lock().unwrap_or_else(|e| e.into_inner());
            let Some(stack) = g.as_mut() else {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "stack has stopped",
                ));
            };
            if let Ok(st) = self.shared.dev_stats.lock() {
                for (ifindex, stats) in st.iter() {
                    stack.dev.set_device_stats(*ifindex, *stats);
                }
            }
            let now = self.shared.clock.now();
            let r = f(stack, now);
            stack.take_wakers(&mut wakers);
            r
        };
        for w in wakers {
            w.wake();
        }
        self.shared.kick();
        Ok(r)
    }

    /// The stack's clock.
    pub fn now(&self) -> Instant {
        self.shared.clock.now()
    }

    /// The stack thread's round and sleep counts so far.
    pub fn loop_stats(&self) -> LoopStats {
        LoopStats {
            rounds: self.shared.rounds.load(Ordering::Relaxed),
            sleeps: self.shared.sleeps.load(Ordering::Relaxed),
            idle_rounds: self.shared.idle_rounds.load(Ordering::Relaxed),
            rx_failures: self.shared.rx_failures.load(Ordering::Relaxed),
            tid: self.shared.tid.load(Ordering::Relaxed),
        }
    }

    /// Ask the stack thread to stop.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.waker.wake();
    }
}

/// A device attached to an interface of the stack.
pub struct Attached {
    /// The stack's interface index for it.
    pub ifindex: u32,
    /// The driver.
    pub device: Box<dyn NetDevice>,
}

/// Start a thread driving `stack` with `devices`. Returns a handle and the thread, which
/// returns the stack when stopped.
pub fn spawn(mut stack: Stack, devices: Vec<Attached>) -> io::Result<(Handle, JoinHandle<Stack>)> {
    for d in &devices {
        stack.set_dev_features(d.ifindex, d.device.features());
    }
    let shared = Arc::new(Shared {
        stack: Mutex::new(Some(stack)),
        waker: Waker::new()?,
        stop: AtomicBool::new(false),
        kicked: AtomicBool::new(false),
        sleeping: AtomicBool::new(false),
        clock: HostClock::new(),
        dev_stats: Mutex::new(Vec::new()),
        rounds: AtomicU64::new(0),
        sleeps: AtomicU64::new(0),
        idle_rounds: AtomicU64::new(0),
        rx_failures: AtomicU64::new(0),
        tid: AtomicI32::new(0),
    });
    let handle = Handle {
        shared: shared.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("linnet-stack".into())
        .spawn(move || run(shared, devices))?;
    Ok((handle, thread))
}

/// Top up `rx` (the stack thread's pool for reading frames) from the stack's pool, where
/// received frames are freed: [`RX_POOL_IDLE`] normal buffers and as many large ones (GSO
/// super-frames) as it may hold, so that a full budget of either is read without allocating.
/// Only idle buffers move: nothing is allocated or freed here.
fn level_pools(stack: &mut BufPool, rx: &mut BufPool) {
    while rx.idle() < RX_POOL_IDLE && stack.idle() > 0 {
        rx.put(stack.get(0));
    }
    while rx.idle() > 2 * RX_POOL_IDLE {
        stack.put(rx.get(0));
    }
    if stack.buf_size() < LARGE_BUF_SIZE && rx.buf_size() == stack.buf_size() {
        while rx.large_idle() < MAX_FREE_LARGE && stack.large_idle() > 0 {
            rx.put(stack.get_sized(LARGE_BUF_SIZE, 0));
        }
    }
}

/// The stack thread. Each round reads a budget of frames from every device, then takes the
/// stack's lock only to run them through the stack, poll it and take what it transmits; the
/// device I/O (the copies of `readv`/`writev`, and what the kernel does for our writes) runs
/// outside the lock, so that user calls (`recv` copying out data) proceed meanwhile.
/// A device whose reads fail: when to try it again, and how often it failed in a row.
#[derive(Debug, Clone, Copy, Default)]
struct RxFailure {
    retry_at: Option<Instant>,
    failures: u32,
}

impl RxFailure {
    /// First wait after a failed read; it doubles up to [`RX_RETRY_MAX`].
    const FIRST: Duration = Duration::from_millis(10);

    /// A read failed at `now`: wait before the next, twice as long as last time, and say so
    /// the first time and each time the wait reaches its ceiling (not once per round).
    fn failed(&mut self, dev: &str, e: &io::Error, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        let wait = Self::FIRST
            .saturating_mul(1 << self.failures.min(16).saturating_sub(1))
            .min(RX_RETRY_MAX);
        if self.failures == 1 {
            tracing::warn!(dev, "receive failed: {e}; retrying with a backoff");
        } else if wait == RX_RETRY_MAX {
            tracing::warn!(dev, failures = self.failures, "receive still failing: {e}");
        }
        self.retry_at = Some(now + wait);
    }

    /// A read worked: back to normal polling.
    fn recovered(&mut self, dev: &str) {
        if self.failures > 0 {
            tracing::info!(dev, failures = self.failures, "receive works again");
        }
        *self = RxFailure::default();
    }
}

/// Longest wait between reads of a device whose reads fail.
const RX_RETRY_MAX: Duration = Duration::from_secs(1);

fn run(shared: Arc<Shared>, mut devices: Vec<Attached>) -> Stack {
    // SAFETY: gettid(2) takes no arguments and cannot fail.
    shared
        .tid
        .store(unsafe { libc::gettid() }, Ordering::Relaxed);
    let mut batches: Vec<Vec<PacketBuf>> = devices
        .iter()
        .map(|_| Vec::with_capacity(RX_BUDGET))
        .collect();
    let mut tx: Vec<(usize, PacketBuf)> = Vec::with_capacity(RX_BUDGET);
    // Frames a full device refused, handed back to the stack under the next lock, and each
    // device's stopped state.
    let mut refused: Vec<(usize, PacketBuf, bool)> = Vec::new();
    let mut busy_devs: Vec<TxBusy> = vec![TxBusy::default(); devices.len()];
    // Frames sent since the last round, given back to the stack's pool under the next lock.
    let mut sent: Vec<PacketBuf> = Vec::with_capacity(RX_BUDGET);
    let mut rx_pool = {
        let mut g = shared.stack.lock().unwrap_or_else(|e| e.into_inner());
        let size = g
            .as_mut()
            .map_or(crate::buf::DEFAULT_BUF_SIZE, |s| s.pool_mut().buf_size());
        BufPool::new(size, 2 * RX_POOL_IDLE)
    };
    let mut pollfds: Vec<libc::pollfd> = Vec::new();
    // Devices whose reads fail (a TAP detached or deleted under us: EBADFD) are retried with
    // a backoff instead of polled: their descriptor stays readable, and polling it would spin.
    let mut rx_fail: Vec<RxFailure> = vec![RxFailure::default(); devices.len()];
    let mut wakers = Vec::new();
    let mut stats_at = Instant::ZERO;
    let mut published: Vec<crate::device::DeviceStats> = Vec::with_capacity(devices.len());
    while !shared.stop.load(Ordering::SeqCst) {
        // Calls from here on are not yet seen by this round.
        shared.kicked.store(false, Ordering::SeqCst);
        let now = shared.clock.now();
        let mut busy = false;
        let mut deadline;
        // Frames read and sent this round.
        let mut work = 0usize;
        shared.rounds.fetch_add(1, Ordering::Relaxed);
        // Receive: a budget of frames from each device (NAPI), outside the lock.
        for ((d, batch), f) in devices
            .iter_mut()
            .zip(batches.iter_mut())
            .zip(rx_fail.iter_mut())
        {
            if f.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            match d.device.recv_batch(&mut rx_pool, batch, RX_BUDGET, now) {
                Ok(n) => {
                    busy |= n == RX_BUDGET;
                    work += n;
                    f.recovered(d.device.name());
                }
                Err(e) => {
                    shared.rx_failures.fetch_add(1, Ordering::Relaxed);
                    f.failed(d.device.name(), &e, now)
                }
            }
        }
        {
            let mut g = shared.stack.lock().unwrap_or_else(|e| e.into_inner());
            let Some(stack) = g.as_mut() else { break };
            for buf in sent.drain(..) {
                stack.recycle(buf);
            }
            // What a full device refused goes back to the head of its queue, which stays
            // stopped until its retry time (Linux: `dev_requeue_skb`).
            for (i, buf, tried) in refused.drain(..) {
                if tried {
                    stack.dev_requeue_skb(devices[i].ifindex, buf);
                } else {
                    stack.dev_requeue_untried(devices[i].ifindex, buf);
                }
            }
            for (d, b) in devices.iter().zip(busy_devs.iter_mut()) {
                if b.retry_at.is_some_and(|t| t <= now) {
                    b.retry_at = None;
                    stack.dev.netif_wake_queue(d.ifindex);
                }
            }
            for (d, batch) in devices.iter().zip(batches.iter_mut()) {
                // GRO merges each flow's in-order segments within the batch.
                stack.receive_batch(d.ifindex, batch.drain(..), now);
            }
            // Timers, loopback, and the ACKs the batch deferred.
            deadline = stack.poll(now);
            // What the qdiscs release, sent once the lock is dropped.
            for (i, d) in devices.iter().enumerate() {
                while let Some(buf) = stack.take_tx(d.ifindex, now) {
                    tx.push((i, buf));
                }
            }
            if let Some(t) = stack.tx_deadline() {
                deadline = Some(deadline.map_or(t, |d| d.min(t)));
            }
            stack.take_wakers(&mut wakers);
            level_pools(stack.pool_mut(), &mut rx_pool);
        }
        for w in wakers.drain(..) {
            w.wake();
        }
        work += tx.len();
        if work == 0 {
            shared.idle_rounds.fetch_add(1, Ordering::Relaxed);
        }
        for (i, buf) in tx.drain(..) {
            let d = &mut devices[i];
            if busy_devs[i].retry_at.is_some() {
                // The device refused an earlier frame of this round: the rest wait behind it.
                refused.push((i, buf, false));
                continue;
            }
            match d.device.transmit_buf(&buf, now) {
                Ok(()) => busy_devs[i].took(),
                Err(e) if crate::device::txq::is_tx_busy(&e) => {
                    busy_devs[i].refused(now);
                    refused.push((i, buf, true));
                    continue;
                }
                Err(e) => tracing::debug!(dev = d.device.name(), "transmit failed: {e}"),
            }
            sent.push(buf);
        }
        // A stopped device is retried at its time.
        for t in busy_devs.iter().filter_map(|b| b.retry_at) {
            deadline = Some(deadline.map_or(t, |d| d.min(t)));
        }
        // Device counters reach the stack at most every 100 ms while frames flow, and
        // whenever the thread is about to sleep with counts not yet published, so that a
        // reader after a quiet moment sees every frame counted.
        let again = busy || deadline.is_some_and(|d| d <= now);
        if now >= stats_at || !again {
            let changed = devices.len() != published.len()
                || devices
                    .iter()
                    .zip(&published)
                    .any(|(d, p)| d.device.stats() != *p);
            if changed {
                stats_at = now + Duration::from_millis(100);
                published.clear();
                published.extend(devices.iter().map(|d| d.device.stats()));
                if let Ok(mut st) = shared.dev_stats.lock() {
                    st.clear();
                    st.extend(
                        devices
                            .iter()
                            .map(|d| d.ifindex)
                            .zip(published.iter().copied()),
                    );
                }
            }
        }
        if again {
            continue;
        }
        // Sleep until a device is readable, a call kicks us, or the next deadline.
        let mut next = deadline;
        for f in &rx_fail {
            if let Some(t) = f.retry_at {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        for d in devices.iter() {
            if let Some(t) = d.device.next_event() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        let sleep = Stack::delay_until(shared.clock.now(), next, MAX_SLEEP);
        pollfds.clear();
        pollfds.push(libc::pollfd {
            fd: shared.waker.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        for (d, f) in devices.iter().zip(&rx_fail) {
            if f.retry_at.is_some() {
                continue;
            }
            if let Some(fd) = d.device.raw_fd() {
                pollfds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
        }
        // Microsecond precision (ppoll): pacing and shaping wait for fractions of a
        // millisecond, which poll(2)'s millisecond timeout would round up.
        let ts = libc::timespec {
            tv_sec: sleep.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(sleep.subsec_micros() as i32) * 1000,
        };
        shared.sleeping.store(true, Ordering::SeqCst);
        if shared.kicked.load(Ordering::SeqCst) || shared.stop.load(Ordering::SeqCst) {
            // A call ran since this round took the stack: run another round first.
            shared.sleeping.store(false, Ordering::SeqCst);
            continue;
        }
        shared.sleeps.fetch_add(1, Ordering::Relaxed);
        // SAFETY: pollfds is a valid array of pollfd of the given length, ts a valid
        // timespec, and a null signal mask leaves the thread's mask alone.
        unsafe {
            libc::ppoll(
                pollfds.as_mut_ptr(),
                pollfds.len() as libc::nfds_t,
                &ts,
                std::ptr::null(),
            );
        }
        shared.sleeping.store(false, Ordering::SeqCst);
        if pollfds[0].revents & libc::POLLIN != 0 {
            shared.waker.drain();
        }
    }
    let stack = shared
        .stack
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    stack.unwrap_or_default()
}

/// What [`spawn_host`] sets up: one device, its addresses and an optional default route.
///
/// New code uses [`Host::builder`], which has defaults and a typed error; this struct and
/// [`spawn_host`] remain for the callers that fill every field.
pub struct HostConfig {
    /// The driver.
    pub device: Box<dyn NetDevice>,
    /// Interface name inside the stack (default: the device's name).
    pub ifname: Option<String>,
    /// MAC address (default: the device's, or a locally administered one from `seed`).
    pub mac: Option<EthernetAddress>,
    /// Addresses to add.
    pub addrs: Vec<Ipv4Cidr>,
    /// Default gateway.
    pub gateway: Option<std::net::Ipv4Addr>,
    /// Seed of the stack's randomness.
    pub seed: u64,
}

/// A running host: the handle, the stack thread, and its interfaces (`ifindex`, `ifname` and
/// `mac` are the first one's, as most hosts have one).
pub struct Host {
    /// Way into the stack.
    pub handle: Handle,
    /// The stack thread (returns the stack when stopped).
    pub thread: JoinHandle<Stack>,
    /// The first interface's index.
    pub ifindex: u32,
    /// The first interface's name.
    pub ifname: String,
    /// The first interface's MAC address.
    pub mac: EthernetAddress,
    /// Every interface, in the order the devices were given.
    pub ifaces: Vec<HostIface>,
}

/// One interface of a [`Host`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIface {
    /// Index in the stack.
    pub ifindex: u32,
    /// Name in the stack.
    pub ifname: String,
    /// The device's own name (the TAP's, the interface the AF_PACKET socket is bound to).
    pub device: String,
    /// MAC address in use.
    pub mac: EthernetAddress,
}

impl Host {
    /// A builder for a host on one device or several, with defaults: no address, no
    /// gateway, offloads on, a random seed, each device's name and MAC. What `linnetd` and
    /// the examples do at start-up.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = linnet::Host::builder()
    ///     .tap("tap0")
    ///     .addr("192.0.2.2/24".parse()?)
    ///     .spawn()?;
    /// let _listener = linnet::TcpListener::bind(&host.handle, "[::]:7".parse::<std::net::SocketAddr>()?)?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// Stop the stack thread and wait for it.
    pub fn stop(self) -> Stack {
        self.handle.stop();
        self.thread.join().unwrap_or_default()
    }
}

/// A device a [`HostBuilder`] runs on.
enum DeviceSpec {
    /// A TAP interface to create or attach to.
    Tap(String),
    /// An existing interface through an AF_PACKET socket.
    Packet(String),
    /// A device the caller opened.
    Device(Box<dyn NetDevice>),
}

/// Which interface a [`HostBuilder::addr`] goes to.
enum AddrOn {
    /// The device with this position.
    Index(usize),
    /// The device with this interface or device name.
    Name(String),
}

/// An interface address of either family, as `ip addr add` takes (`192.0.2.2/24` or
/// `2001:db8::2/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfAddr {
    /// An IPv4 address with its prefix.
    V4(Ipv4Cidr),
    /// An IPv6 address with its prefix (duplicate address detection runs on it, as on Linux).
    V6(Ipv6Cidr),
}

impl From<Ipv4Cidr> for IfAddr {
    fn from(c: Ipv4Cidr) -> Self {
        IfAddr::V4(c)
    }
}

impl From<Ipv6Cidr> for IfAddr {
    fn from(c: Ipv6Cidr) -> Self {
        IfAddr::V6(c)
    }
}

impl std::str::FromStr for IfAddr {
    type Err = String;

    /// `192.0.2.2/24` or `2001:db8::2/64` (an IPv6 one has colons).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(':') {
            s.parse().map(IfAddr::V6)
        } else {
            s.parse().map(IfAddr::V4)
        }
    }
}

impl std::fmt::Display for IfAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IfAddr::V4(c) => c.fmt(f),
            IfAddr::V6(c) => c.fmt(f),
        }
    }
}

/// Sets up a [`Host`]: its devices, their addresses and an optional default route (see
/// [`Host::builder`]).
///
/// Each [`tap`](Self::tap), [`packet`](Self::packet) or [`device`](Self::device) adds a
/// device. [`ifname`](Self::ifname), [`mac`](Self::mac) and [`addr`](Self::addr) apply to the
/// device added last (to the first one when none is added yet);
/// [`dev_addr`](Self::dev_addr) names its device.
pub struct HostBuilder {
    devices: Vec<DeviceSpec>,
    offload: bool,
    ifnames: Vec<(usize, String)>,
    macs: Vec<(usize, EthernetAddress)>,
    addrs: Vec<(AddrOn, IfAddr)>,
    gateway: Option<std::net::Ipv4Addr>,
    config: StackConfig,
}

impl Default for HostBuilder {
    fn default() -> Self {
        HostBuilder {
            devices: Vec::new(),
            offload: true,
            ifnames: Vec::new(),
            macs: Vec::new(),
            addrs: Vec::new(),
            gateway: None,
            config: StackConfig {
                seed: random_seed(),
                ..StackConfig::default()
            },
        }
    }
}

impl HostBuilder {
    /// Add the TAP interface `name` (created if missing, set up on the Linux side).
    /// Needs root or CAP_NET_ADMIN.
    pub fn tap(mut self, name: &str) -> Self {
        self.devices.push(DeviceSpec::Tap(name.to_string()));
        self
    }

    /// Add the existing interface `ifname` (e.g. a veth end) through an AF_PACKET socket.
    /// Needs root or CAP_NET_RAW.
    pub fn packet(mut self, ifname: &str) -> Self {
        self.devices.push(DeviceSpec::Packet(ifname.to_string()));
        self
    }

    /// Add a device the caller opened (any [`NetDevice`]: a TAP, an AF_PACKET socket, an
    /// in-memory link).
    pub fn device(mut self, device: Box<dyn NetDevice>) -> Self {
        self.devices.push(DeviceSpec::Device(device));
        self
    }

    /// The device the per-device settings apply to: the last added, or the first to come.
    fn current(&self) -> usize {
        self.devices.len().saturating_sub(1)
    }

    /// Open [`tap`](Self::tap) and [`packet`](Self::packet) devices with virtio-net headers,
    /// TSO and checksum offload (`true`, the default) or without (MTU-sized frames).
    pub fn offload(mut self, on: bool) -> Self {
        self.offload = on;
        self
    }

    /// The interface's name inside the stack (default: the device's name).
    pub fn ifname(mut self, name: &str) -> Self {
        let i = self.current();
        self.ifnames.retain(|(j, _)| *j != i);
        self.ifnames.push((i, name.to_string()));
        self
    }

    /// The interface's MAC address (default: the device's, or a locally administered one
    /// derived from the seed and the device's position).
    pub fn mac(mut self, mac: EthernetAddress) -> Self {
        let i = self.current();
        self.macs.retain(|(j, _)| *j != i);
        self.macs.push((i, mac));
        self
    }

    /// Add an address with its prefix to the interface (may be given several times).
    pub fn addr(mut self, cidr: Ipv4Cidr) -> Self {
        let i = self.current();
        self.addrs.push((AddrOn::Index(i), IfAddr::V4(cidr)));
        self
    }

    /// Add an IPv6 address with its prefix to the interface (may be given several times);
    /// duplicate address detection runs on it as on Linux.
    pub fn addr6(mut self, cidr: Ipv6Cidr) -> Self {
        let i = self.current();
        self.addrs.push((AddrOn::Index(i), IfAddr::V6(cidr)));
        self
    }

    /// Add an address with its prefix to the interface named `dev` (its name in the stack,
    /// or its device's), whichever order the devices are added in. Addresses are added in
    /// the order given, once every interface exists.
    pub fn dev_addr(mut self, dev: &str, cidr: IfAddr) -> Self {
        self.addrs.push((AddrOn::Name(dev.to_string()), cidr));
        self
    }

    /// Route everything else through `gateway` (a default route).
    pub fn gateway(mut self, gateway: std::net::Ipv4Addr) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// Seed of the stack's randomness (default: from the clock and the process id, see
    /// [`random_seed`]); the same seed gives the same ISNs, ports and MAC.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// The stack's configuration (sysctl defaults); its `seed` is the host's seed.
    pub fn config(mut self, config: StackConfig) -> Self {
        self.config = config;
        self
    }

    /// Open the devices, build the stack around them (interfaces, addresses, every
    /// interface up, default route) and start the stack thread.
    pub fn spawn(self) -> Result<Host, HostError> {
        if self.devices.is_empty() {
            return Err(HostError::NoDevice);
        }
        let offload = self.offload;
        let devices = self
            .devices
            .into_iter()
            .map(|d| open_device(d, offload))
            .collect::<Result<Vec<_>, _>>()?;
        let clock = HostClock::new();
        let seed = self.config.seed;
        let mut stack = Stack::new(self.config);
        let mut ifaces = Vec::with_capacity(devices.len());
        let mut attached = Vec::with_capacity(devices.len());
        for (n, device) in devices.into_iter().enumerate() {
            let setting = |list: &[(usize, _)]| list.iter().find(|(i, _)| *i == n).map(|x| x.1);
            let mac = setting(&self.macs)
                .or(device.hw_addr())
                .unwrap_or_else(|| EthernetAddress::local_from_seed(seed.wrapping_add(n as u64)));
            let ifname = self
                .ifnames
                .iter()
                .find(|(i, _)| *i == n)
                .map_or_else(|| device.name().to_string(), |x| x.1.clone());
            let ifindex = stack.add_interface(&ifname, mac, device.mtu());
            ifaces.push(HostIface {
                ifindex,
                ifname,
                device: device.name().to_string(),
                mac,
            });
            attached.push(Attached { ifindex, device });
        }
        let now = clock.now();
        for (on, cidr) in &self.addrs {
            let iface = match on {
                AddrOn::Index(i) => ifaces.get(*i),
                AddrOn::Name(d) => ifaces.iter().find(|f| &f.ifname == d || &f.device == d),
            }
            .ok_or_else(|| HostError::NoSuchDevice {
                dev: match on {
                    AddrOn::Index(i) => format!("#{i}"),
                    AddrOn::Name(d) => d.clone(),
                },
                cidr: *cidr,
            })?;
            match *cidr {
                IfAddr::V4(c) => stack.add_addr(iface.ifindex, c, now),
                IfAddr::V6(c) => stack.ipv6_addr_add(iface.ifindex, c, false, now),
            }
            .map_err(|errno| HostError::Addr { cidr: *cidr, errno })?;
        }
        for f in &ifaces {
            stack
                .set_link_up(f.ifindex, true, now)
                .map_err(|errno| HostError::LinkUp {
                    ifname: f.ifname.clone(),
                    errno,
                })?;
        }
        if let Some(gateway) = self.gateway {
            stack
                .add_default_gateway(gateway)
                .map_err(|errno| HostError::Gateway { gateway, errno })?;
        }
        let (handle, thread) = spawn(stack, attached).map_err(HostError::Spawn)?;
        let first = ifaces[0].clone();
        Ok(Host {
            handle,
            thread,
            ifindex: first.ifindex,
            ifname: first.ifname,
            mac: first.mac,
            ifaces,
        })
    }
}

/// Open one device a [`HostBuilder`] was given.
fn open_device(spec: DeviceSpec, offload: bool) -> Result<Box<dyn NetDevice>, HostError> {
    Ok(match spec {
        DeviceSpec::Device(d) => d,
        DeviceSpec::Tap(name) => {
            let tap = if offload {
                TapDevice::open_offload(&name)
            } else {
                TapDevice::open(&name)
            }
            .map_err(|e| HostError::open(format!("TAP {name}"), "CAP_NET_ADMIN", e))?;
            // The Linux side of the TAP: up, as `ip link set NAME up`.
            tap.set_link_up(true)
                .map_err(|e| HostError::open(format!("TAP {name}"), "CAP_NET_ADMIN", e))?;
            Box::new(tap)
        }
        DeviceSpec::Packet(ifname) => Box::new(
            if offload {
                PacketDevice::open_offload(&ifname)
            } else {
                PacketDevice::open(&ifname)
            }
            .map_err(|e| HostError::open(format!("AF_PACKET on {ifname}"), "CAP_NET_RAW", e))?,
        ),
    })
}

/// Why [`HostBuilder::spawn`] failed; its message says what to do next.
#[derive(Debug)]
pub enum HostError {
    /// No device was chosen ([`HostBuilder::tap`], [`HostBuilder::packet`] or
    /// [`HostBuilder::device`]).
    NoDevice,
    /// The OS refused to open the device for lack of privilege.
    Permission {
        /// The device, e.g. `TAP tap0`.
        what: String,
        /// The capability that would allow it (`CAP_NET_ADMIN`, `CAP_NET_RAW`).
        capability: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The device could not be opened for another reason.
    Open {
        /// The device, e.g. `AF_PACKET on veth0`.
        what: String,
        /// The OS error.
        source: io::Error,
    },
    /// An address names an interface the host does not have.
    NoSuchDevice {
        /// The name given.
        dev: String,
        /// The address.
        cidr: IfAddr,
    },
    /// An address was refused.
    Addr {
        /// The address.
        cidr: IfAddr,
        /// Why.
        errno: Errno,
    },
    /// The interface could not be brought up.
    LinkUp {
        /// The interface.
        ifname: String,
        /// Why.
        errno: Errno,
    },
    /// The default route was refused.
    Gateway {
        /// The gateway.
        gateway: std::net::Ipv4Addr,
        /// Why.
        errno: Errno,
    },
    /// The stack thread could not start.
    Spawn(io::Error),
}

impl HostError {
    /// An open failure, told apart by whether privilege was missing.
    fn open(what: String, capability: &'static str, source: io::Error) -> HostError {
        if source.kind() == io::ErrorKind::PermissionDenied {
            HostError::Permission {
                what,
                capability,
                source,
            }
        } else {
            HostError::Open { what, source }
        }
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::NoDevice => write!(
                f,
                "no device: choose one with .tap(NAME), .packet(IFNAME) or .device(DEV)"
            ),
            HostError::Permission {
                what,
                capability,
                source,
            } => write!(
                f,
                "cannot open {what}: {source} (needs root or {capability}: run with sudo, or \
                 `sudo setcap cap_net_admin,cap_net_raw+ep` on the program)"
            ),
            HostError::Open { what, source } => write!(f, "cannot open {what}: {source}"),
            HostError::NoSuchDevice { dev, cidr } => {
                write!(f, "cannot add address {cidr}: no device \"{dev}\"")
            }
            HostError::Addr { cidr, errno } => write!(f, "cannot add address {cidr}: {errno}"),
            HostError::LinkUp { ifname, errno } => write!(f, "cannot bring {ifname} up: {errno}"),
            HostError::Gateway { gateway, errno } => {
                write!(f, "cannot add default route via {gateway}: {errno}")
            }
            HostError::Spawn(e) => write!(f, "cannot start the stack: {e}"),
        }
    }
}

impl std::error::Error for HostError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HostError::Permission { source, .. } | HostError::Open { source, .. } => Some(source),
            HostError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

/// Build a stack around one device (interface up, addresses, default route) and start it;
/// [`Host::builder`] with every field given, its error as text.
pub fn spawn_host(cfg: HostConfig) -> Result<Host, String> {
    let mut b = Host::builder().device(cfg.device).seed(cfg.seed);
    if let Some(name) = &cfg.ifname {
        b = b.ifname(name);
    }
    if let Some(mac) = cfg.mac {
        b = b.mac(mac);
    }
    for cidr in cfg.addrs {
        b = b.addr(cidr);
    }
    if let Some(gw) = cfg.gateway {
        b = b.gateway(gw);
    }
    b.spawn().map_err(|e| e.to_string())
}

/// A seed from the clock and the process id, for stacks that need not be reproducible.
pub fn random_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ ((std::process::id() as u64) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::memlink::{LinkConfig, MemLink};

    /// A device whose descriptor is always readable and whose reads always fail, as a TAP
    /// deleted under the daemon (EBADFD): counts its reads.
    struct Broken {
        fd: OwnedFd,
        reads: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl NetDevice for Broken {
        fn name(&self) -> &str {
            "broken0"
        }
        fn mtu(&self) -> usize {
            1500
        }
        fn hw_addr(&self) -> Option<EthernetAddress> {
            None
        }
        fn recv_batch(
            &mut self,
            _pool: &mut BufPool,
            _out: &mut Vec<PacketBuf>,
            _budget: usize,
            _now: Instant,
        ) -> io::Result<usize> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Err(io::Error::from_raw_os_error(libc::EBADFD))
        }
        fn transmit(&mut self, _frame: &[u8], _now: Instant) -> io::Result<()> {
            Ok(())
        }
        fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
            Some(self.fd.as_raw_fd())
        }
        fn stats(&self) -> crate::device::DeviceStats {
            Default::default()
        }
    }

    #[test]
    fn a_device_whose_reads_fail_is_retried_with_a_backoff_not_spun_on() {
        // SAFETY: eventfd(2) with valid flags; the descriptor is owned below.
        #[allow(unsafe_code)]
        let fd = unsafe { libc::eventfd(1, libc::EFD_CLOEXEC) };
        assert!(fd >= 0);
        // SAFETY: a fresh descriptor nothing else owns.
        #[allow(unsafe_code)]
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut stack = Stack::new(StackConfig::default());
        let ifindex = stack.add_interface("broken0", EthernetAddress::local_from_seed(3), 1500);
        let dev = Broken {
            fd,
            reads: reads.clone(),
        };
        let (handle, thread) = spawn(
            stack,
            vec![Attached {
                ifindex,
                device: Box::new(dev),
            }],
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(600));
        handle.stop();
        thread.join().unwrap();
        let n = reads.load(Ordering::SeqCst);
        // 10, 20, 40, 80, 160, 320 ms waits: at most 7 reads in 600 ms (a spinning loop made
        // hundreds of thousands).
        assert!(
            (2..=8).contains(&n),
            "{n} reads of a broken device in 600 ms"
        );
    }

    /// Rounds the stack thread runs over `wait`, with no call made meanwhile.
    fn rounds_over(handle: &Handle, wait: std::time::Duration) -> LoopStats {
        let before = handle.loop_stats();
        std::thread::sleep(wait);
        let after = handle.loop_stats();
        LoopStats {
            rounds: after.rounds - before.rounds,
            sleeps: after.sleeps - before.sleeps,
            idle_rounds: after.idle_rounds - before.idle_rounds,
            rx_failures: after.rx_failures - before.rx_failures,
            tid: after.tid,
        }
    }

    #[test]
    fn the_stack_thread_sleeps_with_an_idle_connection_and_a_full_peer_window() {
        use crate::core::sock::SockType;
        use std::net::{Ipv4Addr, SocketAddrV4};
        let (handle, thread) = spawn(Stack::new(StackConfig::default()), Vec::new()).unwrap();
        let at = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5001);
        let (listener, client) = handle
            .call(|s, now| {
                let l = s.socket(SockType::Stream).unwrap();
                s.bind(l, at).unwrap();
                s.listen(l, 4).unwrap();
                let c = s.socket(SockType::Stream).unwrap();
                assert_eq!(s.connect(c, at, now), Err(Errno::EINPROGRESS));
                (l, c)
            })
            .unwrap();
        // Accept over loopback (bounded: 2 s).
        let mut server = None;
        for _ in 0..200 {
            server = handle.call(|s, _| s.accept(listener).ok()).unwrap();
            if server.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(server.is_some(), "no connection over loopback");
        // (a) An established connection with nothing to do: the thread sleeps up to
        // MAX_SLEEP (200 ms) at a time, so a few rounds in 600 ms. A loop spinning on a due
        // timer or a deferred-work flag ran hundreds of thousands.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let idle = rounds_over(&handle, std::time::Duration::from_millis(600));
        assert!(idle.rounds <= 8, "idle connection: {idle:?}");
        // (c) The sender fills the peer's window (the server never reads), then waits on
        // it: zero-window probes at the RTO's backoff, not a busy loop.
        let chunk = vec![0x5au8; 64 * 1024];
        for _ in 0..400 {
            let r = handle.call(|s, now| s.send(client, &chunk, now)).unwrap();
            if r.is_err() {
                std::thread::sleep(std::time::Duration::from_millis(20));
                if handle
                    .call(|s, now| s.send(client, &chunk, now))
                    .unwrap()
                    .is_err()
                {
                    break;
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let blocked = rounds_over(&handle, std::time::Duration::from_millis(600));
        assert!(blocked.rounds <= 20, "window-blocked sender: {blocked:?}");
        handle.stop();
        thread.join().unwrap();
    }

    #[test]
    fn builder_sets_up_the_interface_addresses_and_gateway() {
        let (dev, _peer) = MemLink::pair(LinkConfig::default());
        let host = Host::builder()
            .device(Box::new(dev))
            .ifname("eth0")
            .addr("192.0.2.2/24".parse().unwrap())
            .gateway(std::net::Ipv4Addr::new(192, 0, 2, 1))
            .seed(9)
            .spawn()
            .unwrap();
        assert_eq!(host.ifname, "eth0");
        assert_eq!(host.mac, EthernetAddress::local_from_seed(9));
        let ifindex = host.ifindex;
        let routes = host.handle.call(|s, _| s.ipv4.routes()).unwrap();
        assert!(routes
            .iter()
            .any(|r| r.ifindex == ifindex && r.dst.prefix_len == 24));
        assert!(routes
            .iter()
            .any(|r| r.dst.prefix_len == 0
                && r.gateway == Some(std::net::Ipv4Addr::new(192, 0, 2, 1))));
        host.stop();
    }

    #[test]
    fn builder_takes_several_devices_with_their_own_names_macs_and_addresses() {
        let (a, _pa) = MemLink::pair(LinkConfig::default());
        let (b, _pb) = MemLink::pair(LinkConfig::default());
        let (c, _pc) = MemLink::pair(LinkConfig::default());
        let mac = EthernetAddress([2, 0, 0, 0, 0, 0x42]);
        // An address given before any device goes to the first.
        let host = Host::builder()
            .addr("192.0.2.2/24".parse().unwrap())
            .device(Box::new(a))
            .ifname("eth0")
            .device(Box::new(b))
            .ifname("eth1")
            .mac(mac)
            .addr("198.51.100.1/24".parse().unwrap())
            .device(Box::new(c))
            .dev_addr("eth1", "198.51.100.9/24".parse().unwrap())
            .dev_addr("eth0", "192.0.2.3/24".parse().unwrap())
            .seed(5)
            .spawn()
            .unwrap();
        let names: Vec<&str> = host.ifaces.iter().map(|f| f.ifname.as_str()).collect();
        assert_eq!(names[..2], ["eth0", "eth1"]);
        assert_eq!(host.ifaces.len(), 3);
        assert_eq!(
            (host.ifindex, host.ifname.as_str(), host.mac),
            (
                host.ifaces[0].ifindex,
                "eth0",
                EthernetAddress::local_from_seed(5)
            )
        );
        assert_eq!(host.ifaces[1].mac, mac);
        assert_eq!(host.ifaces[2].mac, EthernetAddress::local_from_seed(7));
        let want = [
            (0, vec!["192.0.2.2/24", "192.0.2.3/24"]),
            (1, vec!["198.51.100.1/24", "198.51.100.9/24"]),
            (2, vec![]),
        ];
        let ifaces = host.ifaces.clone();
        let links = host.handle.call(|s, _| s.links()).unwrap();
        for (i, addrs) in want {
            let l = links
                .iter()
                .find(|l| l.ifindex == ifaces[i].ifindex)
                .unwrap();
            let got: Vec<String> = l.addrs.iter().map(|c| c.to_string()).collect();
            assert_eq!(got, addrs, "{}", l.name);
            assert!(l.up, "{} is up", l.name);
        }
        host.stop();
        // An address for a device the host does not have is refused, naming it.
        let (a, _pa) = MemLink::pair(LinkConfig::default());
        let e = Host::builder()
            .device(Box::new(a))
            .dev_addr("eth7", "192.0.2.2/24".parse().unwrap())
            .spawn()
            .err()
            .unwrap();
        assert!(matches!(e, HostError::NoSuchDevice { .. }));
        assert_eq!(
            e.to_string(),
            "cannot add address 192.0.2.2/24: no device \"eth7\""
        );
    }

    #[test]
    fn builder_errors_say_what_to_do() {
        let e = Host::builder().spawn().err().unwrap();
        assert!(matches!(e, HostError::NoDevice));
        assert!(e.to_string().contains(".tap(NAME)"));
        let denied = io::Error::from_raw_os_error(1); // EPERM
        let e = HostError::open("TAP tap0".into(), "CAP_NET_ADMIN", denied);
        assert!(matches!(e, HostError::Permission { .. }));
        assert!(e.to_string().contains("needs root or CAP_NET_ADMIN"));
        let other = io::Error::from_raw_os_error(19); // ENODEV
        let e = HostError::open("AF_PACKET on veth9".into(), "CAP_NET_RAW", other);
        assert!(matches!(e, HostError::Open { .. }));
        // A gateway off every connected subnet is refused, as `ip route add default via`.
        let (dev, _peer) = MemLink::pair(LinkConfig::default());
        let e = Host::builder()
            .device(Box::new(dev))
            .addr("192.0.2.2/24".parse().unwrap())
            .gateway(std::net::Ipv4Addr::new(203, 0, 113, 1))
            .spawn()
            .err()
            .unwrap();
        assert!(matches!(e, HostError::Gateway { .. }), "{e}");
    }
}
