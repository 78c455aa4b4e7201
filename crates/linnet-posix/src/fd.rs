//! The file descriptor table: small integers, lowest free first (0–2 are left to stdio), each
//! a socket or an epoll instance.
//!
//! Linux: `struct files_struct` with `alloc_fd` (lowest free descriptor) and `struct file`'s
//! `f_flags` (`O_NONBLOCK`) and close-on-exec bit.

use crate::errno::Errno;
use linnet::Stack;
use linnet::{SockId, SockType};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Duration;

/// `SOF_TIMESTAMPING_*` bits and `SCM_TSTAMP_*` kinds (include/uapi/linux/net_tstamp.h).
pub(crate) const SOF_TIMESTAMPING_TX_SOFTWARE: u32 = 1 << 1;
pub(crate) const SOF_TIMESTAMPING_OPT_ID: u32 = 1 << 7;
pub(crate) const SOF_TIMESTAMPING_TX_SCHED: u32 = 1 << 8;
pub(crate) const SOF_TIMESTAMPING_TX_ACK: u32 = 1 << 9;
pub(crate) const SOF_TIMESTAMPING_OPT_TSONLY: u32 = 1 << 11;
pub(crate) const SCM_TSTAMP_SND: u32 = 0;
pub(crate) const SCM_TSTAMP_SCHED: u32 = 1;
pub(crate) const SCM_TSTAMP_ACK: u32 = 2;

/// First descriptor handed out (0, 1, 2 are stdin, stdout, stderr).
pub const FIRST_FD: i32 = 3;
/// Most descriptors open at once (`RLIMIT_NOFILE`'s usual soft limit).
pub const MAX_FDS: usize = 1024;
/// Highest descriptor number taken from the process (see [`FdTable::use_os_fds`]).
pub const MAX_OS_FDS: usize = 65536;

/// Counts the wake-ups of one socket: epoll's edge triggering reports a descriptor again only
/// after a new one. Linux: the socket's wait queue calling `ep_poll_callback`.
#[derive(Debug, Default)]
pub(crate) struct FdWake {
    /// Wake-ups so far.
    pub gen: AtomicU64,
    /// A waker is registered with the stack (they fire once).
    pub armed: AtomicBool,
}

impl Wake for FdWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.gen.fetch_add(1, Ordering::SeqCst);
        self.armed.store(false, Ordering::SeqCst);
    }
}

/// Options the socket layer keeps per descriptor (Linux keeps them in `struct sock` /
/// `struct inet_sock`; they change what this layer reports, not the stack's protocol work).
#[derive(Debug, Clone, Default)]
pub(crate) struct SockOpts {
    pub rcvtimeo: Option<Duration>,
    pub sndtimeo: Option<Duration>,
    pub rcvlowat: i32,
    pub tos: i32,
    pub ttl: Option<i32>,
    pub recverr: bool,
    pub mtu_discover: i32,
    pub quickack: bool,
    pub defer_accept: i32,
    pub inq: bool,
    pub zerocopy: bool,
    pub timestamping: i32,
    pub priority: i32,
    pub mark: i32,
    pub reuseport: bool,
    pub oobinline: bool,
    pub max_pacing_rate: u64,
    pub linger2: i32,
    pub window_clamp: i32,
    pub syncnt: i32,
    /// A non-blocking `connect` is under way (its completion is reported once as 0).
    pub connecting: bool,
    /// `TCP_NOTSENT_LOWAT` in effect (`u32::MAX`: off): the socket's own, else the sysctl's.
    pub notsent_lowat: u32,
    /// `TCP_NOTSENT_LOWAT` as set on the socket (0: unset, what getsockopt reports).
    pub notsent_lowat_set: u32,
    /// `SO_RCVBUF` / `SO_SNDBUF` as set (Linux reports twice the value set).
    pub rcvbuf_set: Option<i32>,
    pub sndbuf_set: Option<i32>,
    /// `TCP_CORK`, and the `MSG_MORE` of the last send: the stack corks while either holds.
    pub cork: bool,
    pub more: bool,
    pub user_timeout: i32,
    pub fastopen: i32,
    pub fastopen_connect: bool,
    pub fastopen_no_cookie: bool,
    /// Boolean `SOL_IP` options (`IP_FREEBIND`, `IP_PKTINFO`...), one bit per option number.
    pub ip_flags: u32,
}

/// `MSG_ZEROCOPY` bookkeeping: Linnet copies what is sent, and reports each zerocopy send
/// complete (`SO_EE_CODE_ZEROCOPY_COPIED`) on the error queue once the peer acknowledged it.
/// Linux: `msg_zerocopy_realloc` / `__msg_zerocopy_callback`.
#[derive(Debug, Default)]
pub(crate) struct Zerocopy {
    /// The id of the next zerocopy send.
    pub next: u32,
    /// Sends not yet acknowledged: (sequence number after their last byte, id).
    pub inflight: std::collections::VecDeque<(linnet::transport::tcp::SeqNumber, u32)>,
}

/// `SO_TIMESTAMPING` transmit bookkeeping: the last byte of each send is followed until it
/// is sent (`SCM_TSTAMP_SCHED`, `SCM_TSTAMP_SND`) and acknowledged (`SCM_TSTAMP_ACK`).
/// Linux: `tcp_tx_timestamp`, `__skb_tstamp_tx`, `tcp_ack_tstamp`.
#[derive(Debug, Default)]
pub(crate) struct TxStamps {
    /// `snd_una` when `SOF_TIMESTAMPING_OPT_ID` was set (Linux: `sk_tskey`).
    pub base: linnet::transport::tcp::SeqNumber,
    /// Sends followed: (sequence number of their last byte, key, reported sent).
    pub inflight: std::collections::VecDeque<(linnet::transport::tcp::SeqNumber, u32, bool)>,
}

/// A socket descriptor.
#[derive(Debug)]
pub(crate) struct SockFile {
    pub id: SockId,
    pub ty: SockType,
    pub protocol: i32,
    pub nonblock: bool,
    pub cloexec: bool,
    pub opts: SockOpts,
    pub wake: Arc<FdWake>,
    pub waker: Waker,
    pub zc: Zerocopy,
    pub ts: TxStamps,
    /// The error queue. Linux: `sk_error_queue`.
    pub errq: std::collections::VecDeque<crate::calls::ErrReport>,
}

/// One interest of an epoll instance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EpollItem {
    pub events: u32,
    pub data: u64,
    /// EPOLLONESHOT fired: disabled until `EPOLL_CTL_MOD`.
    pub disabled: bool,
    /// The socket's wake-up count when last reported (edge triggering).
    pub seen_gen: Option<u64>,
}

/// An epoll descriptor. Linux: `struct eventpoll`.
#[derive(Debug, Default)]
pub(crate) struct EpollFile {
    pub items: BTreeMap<i32, EpollItem>,
    pub cloexec: bool,
}

/// What a descriptor refers to.
#[derive(Debug)]
pub(crate) enum File {
    Sock(Box<SockFile>),
    Epoll(EpollFile),
}

/// The table.
#[derive(Debug, Default)]
pub(crate) struct FdTable {
    files: Vec<Option<File>>,
    /// Take descriptor numbers from the process (a placeholder open of `/dev/null` holds
    /// each): Linnet's descriptors then never collide with the process's own, and a
    /// program that closes one with the real `close` closes only the placeholder.
    os_fds: bool,
}

impl FdTable {
    /// Take descriptor numbers from the process from now on (see the field's note).
    pub fn use_os_fds(&mut self) {
        self.os_fds = true;
    }

    /// A descriptor number reserved in the process.
    fn os_reserve() -> Result<i32, Errno> {
        // SAFETY: open(2) of a constant NUL-terminated path; the result is checked.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(Errno(
                std::io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EMFILE),
            ));
        }
        if fd < FIRST_FD || fd as usize >= MAX_OS_FDS {
            // SAFETY: closing the descriptor just opened.
            unsafe { libc::close(fd) };
            return Err(Errno(libc::EMFILE));
        }
        Ok(fd)
    }

    /// Install a file at the lowest free descriptor. Linux: `alloc_fd` + `fd_install`.
    pub fn install(&mut self, f: File) -> Result<i32, Errno> {
        if self.os_fds {
            let fd = Self::os_reserve()?;
            let slot = (fd - FIRST_FD) as usize;
            if self.files.len() <= slot {
                self.files.resize_with(slot + 1, || None);
            }
            // The process freed this number (it closed our placeholder): forget the stale
            // file that had it.
            self.files[slot] = Some(f);
            return Ok(fd);
        }
        let slot = match self.files.iter().position(Option::is_none) {
            Some(i) => i,
            None if self.files.len() < MAX_FDS => {
                self.files.push(None);
                self.files.len() - 1
            }
            None => return Err(Errno(libc::EMFILE)),
        };
        self.files[slot] = Some(f);
        Ok(slot as i32 + FIRST_FD)
    }

    fn slot(fd: i32) -> Option<usize> {
        if fd < FIRST_FD {
            None
        } else {
            Some((fd - FIRST_FD) as usize)
        }
    }

    /// The file of a descriptor, `EBADF` if none.
    pub fn get(&self, fd: i32) -> Result<&File, Errno> {
        Self::slot(fd)
            .and_then(|s| self.files.get(s))
            .and_then(Option::as_ref)
            .ok_or(Errno(libc::EBADF))
    }

    /// The file of a descriptor, mutably.
    pub fn get_mut(&mut self, fd: i32) -> Result<&mut File, Errno> {
        Self::slot(fd)
            .and_then(|s| self.files.get_mut(s))
            .and_then(Option::as_mut)
            .ok_or(Errno(libc::EBADF))
    }

    /// A socket descriptor: `EBADF` if closed, `ENOTSOCK` if another kind of file.
    pub fn sock(&self, fd: i32) -> Result<&SockFile, Errno> {
        match self.get(fd)? {
            File::Sock(s) => Ok(s),
            _ => Err(Errno(libc::ENOTSOCK)),
        }
    }

    /// A socket descriptor, mutably.
    pub fn sock_mut(&mut self, fd: i32) -> Result<&mut SockFile, Errno> {
        match self.get_mut(fd)? {
            File::Sock(s) => Ok(s),
            _ => Err(Errno(libc::ENOTSOCK)),
        }
    }

    /// An epoll descriptor: `EBADF` if closed, `EINVAL` if another kind of file.
    pub fn epoll_mut(&mut self, fd: i32) -> Result<&mut EpollFile, Errno> {
        match self.get_mut(fd)? {
            File::Epoll(e) => Ok(e),
            _ => Err(Errno(libc::EINVAL)),
        }
    }

    /// Remove a descriptor, returning its file; it is also dropped from every epoll set
    /// (Linux: `eventpoll_release` on the last close).
    pub fn remove(&mut self, fd: i32) -> Result<File, Errno> {
        let f = Self::slot(fd)
            .and_then(|s| self.files.get_mut(s))
            .and_then(Option::take)
            .ok_or(Errno(libc::EBADF))?;
        if self.os_fds {
            // SAFETY: `fd` is the placeholder this table reserved for the file just removed.
            unsafe { libc::close(fd) };
        }
        for e in self.files.iter_mut().flatten() {
            if let File::Epoll(ep) = e {
                ep.items.remove(&fd);
            }
        }
        Ok(f)
    }

    /// A new socket descriptor's bookkeeping.
    pub fn new_sock(
        id: SockId,
        ty: SockType,
        protocol: i32,
        nonblock: bool,
        cloexec: bool,
    ) -> File {
        let wake = Arc::new(FdWake::default());
        let waker = Waker::from(wake.clone());
        File::Sock(Box::new(SockFile {
            id,
            ty,
            protocol,
            nonblock,
            cloexec,
            opts: SockOpts {
                notsent_lowat: u32::MAX,
                ..SockOpts::default()
            },
            wake,
            waker,
            zc: Zerocopy::default(),
            ts: TxStamps::default(),
            errq: std::collections::VecDeque::new(),
        }))
    }

    /// Queue the error-queue reports that became due: zerocopy sends the peer acknowledged,
    /// transmit timestamps of sends that left or were acknowledged.
    pub fn errq_reap(&mut self, stack: &Stack, now: linnet::Instant) {
        use crate::calls::ErrReport;
        for f in self.files.iter_mut().flatten() {
            let File::Sock(s) = f else { continue };
            if s.zc.inflight.is_empty() && s.ts.inflight.is_empty() {
                continue;
            }
            let Ok(t) = stack.tcp_sock(s.id) else {
                s.zc.inflight.clear();
                s.ts.inflight.clear();
                continue;
            };
            let (una, max) = (t.snd_una, t.snd_max);
            let closed = t.state == linnet::transport::tcp::sock::TcpState::Closed;
            while let Some(&(end, id)) = s.zc.inflight.front() {
                if end > una && !closed {
                    break;
                }
                s.zc.inflight.pop_front();
                match s.errq.back_mut() {
                    Some(ErrReport::Zerocopy { hi, .. }) if hi.wrapping_add(1) == id => *hi = id,
                    _ => s.errq.push_back(ErrReport::Zerocopy { lo: id, hi: id }),
                }
            }
            let flags = s.opts.timestamping as u32;
            let tsonly = flags & SOF_TIMESTAMPING_OPT_TSONLY != 0;
            for e in s.ts.inflight.iter_mut() {
                if !e.2 && max > e.0 {
                    e.2 = true;
                    for (bit, kind) in [
                        (SOF_TIMESTAMPING_TX_SCHED, SCM_TSTAMP_SCHED),
                        (SOF_TIMESTAMPING_TX_SOFTWARE, SCM_TSTAMP_SND),
                    ] {
                        if flags & bit != 0 {
                            s.errq.push_back(ErrReport::Timestamp {
                                kind,
                                key: e.1,
                                at: now,
                                tsonly,
                            });
                        }
                    }
                }
            }
            while let Some(&(last, key, sent)) = s.ts.inflight.front() {
                if !sent || last >= una {
                    break;
                }
                s.ts.inflight.pop_front();
                if flags & SOF_TIMESTAMPING_TX_ACK != 0 {
                    s.errq.push_back(ErrReport::Timestamp {
                        kind: SCM_TSTAMP_ACK,
                        key,
                        at: now,
                        tsonly,
                    });
                }
            }
        }
    }

    /// Register a waker with the stack for every socket whose last one fired.
    pub fn arm_wakers(&mut self, stack: &mut Stack) {
        for f in self.files.iter().flatten() {
            if let File::Sock(s) = f {
                if !s.wake.armed.swap(true, Ordering::SeqCst)
                    && stack.register_waker(s.id, &s.waker).is_err()
                {
                    s.wake.armed.store(false, Ordering::SeqCst);
                }
            }
        }
    }
}
