//! The world one [`crate::Posix`] instance drives: a Linnet stack, its virtual clock, the file
//! descriptor table and the frames the stack transmitted on its devices.
//!
//! Linux: the process's view of the kernel (one network namespace, one `files_struct`), with
//! softirq work (timers, transmit) run after every system call.

use crate::fd::FdTable;
use linnet::buf::PacketBuf;
use linnet::stack::LinkKind;
use linnet::{Instant, Stack};
use std::collections::VecDeque;
use std::task::Waker;

/// Rounds of due work one [`Net::advance_to`] runs at one instant before it moves on (a stack
/// that keeps saying "now" would otherwise spin).
const MAX_ROUNDS_PER_INSTANT: usize = 64;

/// A hook run before every system call (see [`Net::before_call`]), given the virtual now.
pub type BeforeCall = Box<dyn FnMut(&mut Stack, &mut Defaults, Instant) + Send>;

/// Socket-layer settings new sockets start with.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// `net.ipv4.tcp_notsent_lowat` (`u32::MAX`: off).
    pub notsent_lowat: u32,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults {
            notsent_lowat: u32::MAX,
        }
    }
}

/// A stack under a virtual clock, with its descriptor table.
pub struct Net {
    /// The stack.
    pub stack: Stack,
    /// Virtual now.
    pub now: Instant,
    /// Frames the stack transmitted on its non-loopback interfaces, oldest first, with the
    /// interface index. A harness (a simulated wire, packetdrill) takes them from here.
    pub tx: VecDeque<(u32, PacketBuf)>,
    /// Run before every call reaches the stack (a harness applies settings here, e.g.
    /// sysctls written by a script).
    pub before_call: Option<BeforeCall>,
    /// Defaults of the socket layer for new sockets (Linux: sysctls read at socket creation).
    pub defaults: Defaults,
    /// Wall-clock microseconds (since the epoch) at virtual time zero: what timestamps given
    /// to the user (`SCM_TIMESTAMPING`) count from.
    pub realtime_base_us: i64,
    pub(crate) fds: FdTable,
    wakers: Vec<Waker>,
    /// A socket waker fired since the blocked callers were last notified.
    pub(crate) woke: bool,
    /// Threads blocked in a call, and the virtual deadlines of those that have one.
    pub(crate) waiters: usize,
    pub(crate) wait_deadlines: Vec<Instant>,
    /// Blocked callers notified of a change that have not yet looked at it: the clock
    /// waits for them (see [`crate::Posix::with_net`]).
    pub(crate) pending: usize,
}

impl Net {
    /// A world around `stack`, starting at `now`.
    pub fn new(stack: Stack, now: Instant) -> Net {
        Net {
            stack,
            now,
            tx: VecDeque::new(),
            before_call: None,
            defaults: Defaults::default(),
            realtime_base_us: 0,
            fds: FdTable::default(),
            wakers: Vec::new(),
            woke: false,
            waiters: 0,
            wait_deadlines: Vec::new(),
            pending: 0,
        }
    }

    /// Run what is due at the current instant and collect what the devices transmit; fire the
    /// socket wakers (which mark descriptors for epoll's edge triggering). Returns the stack's
    /// next deadline. Linux: the softirq run on the way out of a system call.
    pub fn run(&mut self) -> Option<Instant> {
        let next = self.stack.poll(self.now);
        let ifaces: Vec<u32> = self
            .stack
            .interfaces()
            .filter(|i| i.kind != LinkKind::Loopback)
            .map(|i| i.ifindex)
            .collect();
        for ifindex in ifaces {
            while let Some(b) = self.stack.take_tx(ifindex, self.now) {
                self.tx.push_back((ifindex, b));
            }
        }
        self.stack.take_wakers(&mut self.wakers);
        self.woke |= !self.wakers.is_empty();
        for w in self.wakers.drain(..) {
            w.wake();
        }
        let now = self.now;
        self.fds.errq_reap(&self.stack, now);
        self.fds.arm_wakers(&mut self.stack);
        let tx_next = self.stack.tx_deadline();
        match (next, tx_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Move the clock to `t`, running every timer that falls due on the way, in order.
    pub fn advance_to(&mut self, t: Instant) {
        let mut rounds = 0;
        loop {
            match self.run() {
                Some(n) if n <= self.now => {
                    rounds += 1;
                    if rounds >= MAX_ROUNDS_PER_INSTANT {
                        break;
                    }
                }
                Some(n) if n <= t => {
                    self.now = n;
                    rounds = 0;
                }
                _ => break,
            }
        }
        if t > self.now {
            self.now = t;
            self.run();
        }
    }

    /// Run [`Net::before_call`], if set.
    pub fn before_call_hook(&mut self) {
        if let Some(h) = self.before_call.as_mut() {
            h(&mut self.stack, &mut self.defaults, self.now);
        }
    }

    /// Hand a received frame (with its link header), given as consecutive parts, to the
    /// stack on `ifindex`, then run.
    pub fn receive(&mut self, ifindex: u32, parts: &[&[u8]]) -> bool {
        let len = parts.iter().map(|p| p.len()).sum();
        let mut buf = self.stack.pool_mut().get_sized(len, 64);
        for p in parts {
            if !buf.extend_from_slice(p) {
                self.stack.recycle(buf);
                return false;
            }
        }
        let now = self.now;
        self.stack.receive(ifindex, buf, now);
        self.run();
        true
    }

    /// The next transmitted frame, if any.
    pub fn take_tx(&mut self) -> Option<(u32, PacketBuf)> {
        self.tx.pop_front()
    }
}
