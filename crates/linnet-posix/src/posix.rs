//! [`Posix`]: one instance of the socket ABI — a stack, its virtual clock and its descriptor
//! table under one lock — and the driving of blocking calls.
//!
//! Every call takes the lock, runs the non-blocking socket call of Linnet, runs the stack's
//! due work (what Linux does in softirq on the way out of a system call) and wakes the
//! threads waiting in blocking calls. A call that would block waits in one of two ways:
//! - [`Driven::External`]: another thread moves the clock and feeds the device (packetdrill's
//!   main thread, a simulation); the blocked thread sleeps on a condition variable until a
//!   change lets it finish or its virtual timeout (`SO_RCVTIMEO`...) passes.
//! - [`Driven::Itself`]: nothing else runs the stack (a single-threaded program over
//!   loopback); the blocked call runs virtual time forward itself, timer by timer, until it
//!   can complete or its timeout passes. When nothing is pending at all it would sleep
//!   forever: it returns `EAGAIN` instead.
//!
//! Linux: `sk_wait_event` (the socket's wait queue) with `schedule_timeout`.

use crate::errno::{Errno, SysResult, EAGAIN, EBADF};
use crate::fd::File;
use crate::net::Net;
use linnet::{Instant, Stack};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Who moves the clock while a call blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driven {
    /// Another thread drives the stack (it calls [`Posix::advance`], [`Posix::with_net`]).
    External,
    /// A blocking call runs virtual time forward itself.
    Itself,
}

struct Shared {
    net: Mutex<Net>,
    changed: Condvar,
    /// Signalled when a notified blocked caller has looked at the change.
    settled: Condvar,
    driven: Driven,
    /// Blocking calls that returned after having waited (see [`Posix::woken_returns`]).
    woken_returns: AtomicU64,
}

/// Longest real time a driving call waits for blocked callers to look at a change (a
/// safety net: they normally take microseconds).
const MAX_SETTLE: std::time::Duration = std::time::Duration::from_millis(200);

/// One instance of the POSIX socket ABI over a Linnet stack. Cheap to clone (shared).
#[derive(Clone)]
pub struct Posix {
    shared: Arc<Shared>,
}

/// Which timeout of a descriptor a blocking call obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// `SO_RCVTIMEO` (receive, accept).
    Rcv,
    /// `SO_SNDTIMEO` (connect).
    Snd,
    /// `SO_SNDTIMEO`, for a writer: while it waits it counts in the socket's
    /// `sk_write_pending` (a SYN-ACK then leaves its ACK to the data the writer sends).
    Write,
}

impl Posix {
    /// An instance around `stack`, its clock starting at `now`.
    pub fn new(stack: Stack, now: Instant, driven: Driven) -> Posix {
        Posix {
            shared: Arc::new(Shared {
                net: Mutex::new(Net::new(stack, now)),
                changed: Condvar::new(),
                settled: Condvar::new(),
                driven,
                woken_returns: AtomicU64::new(0),
            }),
        }
    }

    /// A stack with only its loopback interface (127.0.0.1), driven by its own blocking
    /// calls: what a single program talking to itself needs.
    pub fn loopback() -> Posix {
        Posix::new(
            Stack::new(linnet::StackConfig::default()),
            Instant::ZERO,
            Driven::Itself,
        )
    }

    /// Take descriptor numbers from the process: each Linnet descriptor holds a placeholder
    /// (`/dev/null`) open under the same number, so it never collides with the process's
    /// own descriptors (what a program running on this ABI beside real files needs).
    pub fn use_os_fds(&self) {
        self.lock().fds.use_os_fds();
    }

    fn lock(&self) -> MutexGuard<'_, Net> {
        self.shared.net.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the world (stack, clock, devices), then the stack's due work, and wake
    /// blocked callers. Harnesses feed devices and read what the stack sent through this.
    /// Blocked callers that were woken look at the change before `f` runs, so a driver that
    /// moves the clock never runs ahead of a call that could already return (the kernel's
    /// woken task runs before more time passes).
    pub fn with_net<R>(&self, f: impl FnOnce(&mut Net) -> R) -> R {
        let g = self.lock();
        let mut g = self.settle(g);
        let r = f(&mut g);
        g.run();
        self.notify(&mut g);
        r
    }

    /// [`Posix::with_net`] for a system call: [`Net::before_call`] runs first.
    pub(crate) fn sys<R>(&self, f: impl FnOnce(&mut Net) -> R) -> R {
        let mut g = self.lock();
        g.before_call_hook();
        let r = f(&mut g);
        g.run();
        self.notify(&mut g);
        r
    }

    /// Wake blocked callers if something they may wait for happened (a socket woke, or a
    /// virtual deadline passed).
    fn notify(&self, g: &mut Net) {
        let now = g.now;
        if g.woke || g.wait_deadlines.iter().any(|&d| d <= now) {
            g.pending = g.waiters;
            g.woke = false;
            self.shared.changed.notify_all();
        }
    }

    /// Wait until every notified blocked caller has looked at the change.
    fn settle<'a>(&'a self, mut g: MutexGuard<'a, Net>) -> MutexGuard<'a, Net> {
        let start = std::time::Instant::now();
        while g.pending > 0 {
            let left = MAX_SETTLE.saturating_sub(start.elapsed());
            if left.is_zero() {
                g.pending = 0;
                break;
            }
            g = self
                .shared
                .settled
                .wait_timeout(g, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        g
    }

    /// Wall-clock microseconds since the epoch of a virtual instant (see
    /// [`Net::realtime_base_us`]).
    pub fn realtime_usecs(&self, at: Instant) -> i64 {
        self.lock().realtime_base_us + at.total_micros() as i64
    }

    /// How many calls have returned after blocking (counted when they take their result,
    /// under the lock). A driver that moves the clock from another thread compares it before
    /// and after to know that a blocked call was released and its thread is on its way out.
    pub fn woken_returns(&self) -> u64 {
        self.shared.woken_returns.load(Ordering::SeqCst)
    }

    fn count_woken_return(&self, waited: bool) {
        if waited {
            self.shared.woken_returns.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Virtual now.
    pub fn now(&self) -> Instant {
        self.lock().now
    }

    /// Move the virtual clock forward by `d`, firing the stack's timers in order.
    pub fn advance(&self, d: Duration) {
        self.with_net(|n| {
            let t = n.now + d;
            n.advance_to(t)
        })
    }

    /// Run a call on a descriptor that may block. `op` is tried; while it says `EAGAIN` on a
    /// blocking descriptor (and `dontwait` is not set) the caller waits for a change (see
    /// the module's documentation) until the descriptor's timeout for `wait`, after which
    /// `EAGAIN` is returned. Linux: `sk_wait_event`.
    pub(crate) fn block<R>(
        &self,
        fd: i32,
        wait: Wait,
        dontwait: bool,
        mut op: impl FnMut(&mut Net) -> SysResult<R>,
    ) -> SysResult<R> {
        let mut g = self.lock();
        g.before_call_hook();
        let mut deadline: Option<Option<Instant>> = None;
        loop {
            let r = op(&mut g);
            g.run();
            self.notify(&mut g);
            if !matches!(r, Err(e) if e == EAGAIN) {
                self.count_woken_return(deadline.is_some());
                return r;
            }
            let (nonblock, timeout) = match g.fds.get(fd) {
                Ok(File::Sock(s)) => (
                    s.nonblock,
                    match wait {
                        Wait::Rcv => s.opts.rcvtimeo,
                        Wait::Snd | Wait::Write => s.opts.sndtimeo,
                    },
                ),
                Ok(_) => (false, None),
                Err(_) => return Err(EBADF),
            };
            if nonblock || dontwait {
                return r;
            }
            let now = g.now;
            let until = *deadline.get_or_insert_with(|| timeout.map(|t| now + t));
            if until.is_some_and(|u| now >= u) {
                self.count_woken_return(true);
                return Err(EAGAIN);
            }
            // Linux: sk_stream_wait_connect / sk_stream_wait_memory / inet_wait_for_connect
            // (writebias) count the waiting writer in sk->sk_write_pending.
            let writer = match wait {
                Wait::Write => g.fds.sock(fd).ok().map(|s| s.id),
                _ => None,
            };
            if let Some(id) = writer {
                g.stack.tcp_write_pending(id, true);
            }
            let woke = self.wait_change(g, until);
            g = match woke {
                Ok(mut g) => {
                    if let Some(id) = writer {
                        g.stack.tcp_write_pending(id, false);
                    }
                    g
                }
                Err(e) => {
                    // (The guard went with the error: take the lock again to undo the count.)
                    if let Some(id) = writer {
                        self.lock().stack.tcp_write_pending(id, false);
                    }
                    return Err(e);
                }
            };
        }
    }

    /// Wait until the world may have changed, or virtual time reaches `until`.
    pub(crate) fn wait_change<'a>(
        &'a self,
        mut g: MutexGuard<'a, Net>,
        until: Option<Instant>,
    ) -> SysResult<MutexGuard<'a, Net>> {
        match self.shared.driven {
            Driven::External => {
                g.waiters += 1;
                if let Some(u) = until {
                    g.wait_deadlines.push(u);
                }
                let mut g = self
                    .shared
                    .changed
                    .wait(g)
                    .unwrap_or_else(|e| e.into_inner());
                g.waiters -= 1;
                if let Some(u) = until {
                    if let Some(i) = g.wait_deadlines.iter().position(|&d| d == u) {
                        g.wait_deadlines.swap_remove(i);
                    }
                }
                g.pending = g.pending.saturating_sub(1);
                self.shared.settled.notify_all();
                Ok(g)
            }
            Driven::Itself => {
                let next = g.run();
                let t = match (next, until) {
                    (Some(a), Some(b)) => a.min(b),
                    (a, b) => a.or(b).ok_or(EAGAIN)?,
                };
                let t = t.max(g.now + Duration::from_micros(1));
                g.advance_to(t);
                Ok(g)
            }
        }
    }

    /// Wait, for `poll`/`epoll_wait`, until `ready` returns a nonzero count or the timeout
    /// (milliseconds; negative: none) passes.
    pub(crate) fn wait_ready(
        &self,
        timeout_ms: i32,
        mut ready: impl FnMut(&mut Net) -> SysResult<usize>,
    ) -> SysResult<usize> {
        let mut g = self.lock();
        g.before_call_hook();
        let until = (timeout_ms >= 0).then(|| g.now + Duration::from_millis(timeout_ms as u64));
        let mut waited = false;
        loop {
            g.run();
            let n = ready(&mut g)?;
            if n > 0 || until.is_some_and(|u| g.now >= u) {
                self.notify(&mut g);
                self.count_woken_return(waited);
                return Ok(n);
            }
            waited = true;
            g = match self.wait_change(g, until) {
                Ok(g) => g,
                Err(e) if e == EAGAIN => return Ok(0),
                Err(e) => return Err(e),
            };
        }
    }
}

/// `Errno` of a Linnet call.
pub(crate) fn lx<T>(r: Result<T, linnet::Errno>) -> SysResult<T> {
    r.map_err(Errno::from)
}
