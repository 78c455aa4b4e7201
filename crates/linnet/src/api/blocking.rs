//! Waiting for socket readiness from a user thread.

use crate::errno::Errno;
use crate::runtime::Handle;
use crate::socket::SockId;
use crate::stack::Stack;
use crate::time::Instant;
use std::io;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

/// Longest single park: a safety net against a lost wake-up, never a correctness need.
const MAX_PARK: Duration = Duration::from_millis(500);

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// How a call behaves when it would block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    /// Return `WouldBlock` at once.
    pub nonblocking: bool,
    /// Give up with `WouldBlock`/`TimedOut` after this long (`SO_RCVTIMEO`/`SO_SNDTIMEO`).
    pub timeout: Option<Duration>,
}

/// Run `op` until it stops saying "would block" (`EAGAIN`, `EINPROGRESS`, `EALREADY`), parking
/// the thread between attempts. Linux: `sk_wait_event` in `inet_csk_wait_for_connect`,
/// `sk_stream_wait_memory`, `sk_wait_data`.
pub(crate) fn block_on<R>(
    h: &Handle,
    id: SockId,
    mode: Mode,
    mut op: impl FnMut(&mut Stack, Instant) -> Result<R, Errno>,
) -> io::Result<R> {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let deadline = mode.timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let r = h.call(|s, now| {
            let r = op(s, now);
            if matches!(r, Err(Errno::EAGAIN | Errno::EINPROGRESS | Errno::EALREADY))
                && !mode.nonblocking
            {
                let _ = s.register_waker(id, &waker);
            }
            r
        })?;
        match r {
            Err(e @ (Errno::EAGAIN | Errno::EINPROGRESS | Errno::EALREADY)) => {
                if mode.nonblocking {
                    return Err(e.into());
                }
                let mut park = MAX_PARK;
                if let Some(d) = deadline {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return Err(io::Error::new(io::ErrorKind::WouldBlock, "timed out"));
                    }
                    park = park.min(d - now);
                }
                std::thread::park_timeout(park);
            }
            other => return other.map_err(io::Error::from),
        }
    }
}
