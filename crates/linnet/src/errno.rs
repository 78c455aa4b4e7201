//! Errno-like errors returned by the stack's API, as the socket layer of Linux returns them.

use std::fmt;
use std::io;

/// An error number with Linux's meaning and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Errno {
    /// Invalid argument.
    EINVAL,
    /// Network is unreachable (no route).
    ENETUNREACH,
    /// No route to host (neighbour resolution failed).
    EHOSTUNREACH,
    /// No buffer space available (a queue is full).
    ENOBUFS,
    /// Message too long for the path.
    EMSGSIZE,
    /// Cannot assign requested address.
    EADDRNOTAVAIL,
    /// Address already in use.
    EADDRINUSE,
    /// No such device.
    ENODEV,
    /// Resource temporarily unavailable.
    EAGAIN,
    /// Bad file descriptor (unknown handle).
    EBADF,
    /// Connection refused.
    ECONNREFUSED,
    /// Network is down.
    ENETDOWN,
    /// Connection reset by peer.
    ECONNRESET,
    /// Connection timed out.
    ETIMEDOUT,
    /// Broken pipe (writing after shutdown).
    EPIPE,
    /// Transport endpoint is not connected.
    ENOTCONN,
    /// Transport endpoint is already connected.
    EISCONN,
    /// Operation already in progress.
    EALREADY,
    /// Operation now in progress (non-blocking connect).
    EINPROGRESS,
    /// Operation not supported on this socket.
    EOPNOTSUPP,
    /// Address family not supported.
    EAFNOSUPPORT,
    /// Destination address required.
    EDESTADDRREQ,
    /// Permission denied (e.g. broadcast without SO_BROADCAST).
    EACCES,
    /// Protocol not available (unknown socket option).
    ENOPROTOOPT,
    /// Software caused connection abort.
    ECONNABORTED,
    /// Protocol not supported.
    EPROTONOSUPPORT,
    /// Too many open sockets.
    EMFILE,
    /// No such entry (e.g. `ip neigh del` of an absent neighbour).
    ENOENT,
    /// File exists (a route or rule that is already there).
    EEXIST,
    /// No such process (Linux's answer when no route or rule matches a delete).
    ESRCH,
    /// Operation not permitted (a packet refused by a netfilter rule on output).
    EPERM,
    /// Protocol error (an ICMPv6 parameter problem about our datagram).
    EPROTO,
}

impl Errno {
    /// The Linux errno value.
    pub fn raw(self) -> i32 {
        match self {
            Errno::EINVAL => libc::EINVAL,
            Errno::ENETUNREACH => libc::ENETUNREACH,
            Errno::EHOSTUNREACH => libc::EHOSTUNREACH,
            Errno::ENOBUFS => libc::ENOBUFS,
            Errno::EMSGSIZE => libc::EMSGSIZE,
            Errno::EADDRNOTAVAIL => libc::EADDRNOTAVAIL,
            Errno::EADDRINUSE => libc::EADDRINUSE,
            Errno::ENODEV => libc::ENODEV,
            Errno::EAGAIN => libc::EAGAIN,
            Errno::EBADF => libc::EBADF,
            Errno::ECONNREFUSED => libc::ECONNREFUSED,
            Errno::ENETDOWN => libc::ENETDOWN,
            Errno::ECONNRESET => libc::ECONNRESET,
            Errno::ETIMEDOUT => libc::ETIMEDOUT,
            Errno::EPIPE => libc::EPIPE,
            Errno::ENOTCONN => libc::ENOTCONN,
            Errno::EISCONN => libc::EISCONN,
            Errno::EALREADY => libc::EALREADY,
            Errno::EINPROGRESS => libc::EINPROGRESS,
            Errno::EOPNOTSUPP => libc::EOPNOTSUPP,
            Errno::EAFNOSUPPORT => libc::EAFNOSUPPORT,
            Errno::EPROTO => libc::EPROTO,
            Errno::EDESTADDRREQ => libc::EDESTADDRREQ,
            Errno::EACCES => libc::EACCES,
            Errno::ENOPROTOOPT => libc::ENOPROTOOPT,
            Errno::ECONNABORTED => libc::ECONNABORTED,
            Errno::EPROTONOSUPPORT => libc::EPROTONOSUPPORT,
            Errno::EMFILE => libc::EMFILE,
            Errno::ENOENT => libc::ENOENT,
            Errno::EEXIST => libc::EEXIST,
            Errno::ESRCH => libc::ESRCH,
            Errno::EPERM => libc::EPERM,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // strerror's text, without io::Error's " (os error N)" suffix.
        let s = io::Error::from_raw_os_error(self.raw()).to_string();
        f.write_str(s.split(" (os error").next().unwrap_or(&s))
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for io::Error {
    fn from(e: Errno) -> io::Error {
        io::Error::from_raw_os_error(e.raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_io_error_kinds() {
        assert_eq!(
            io::Error::from(Errno::ECONNREFUSED).kind(),
            io::ErrorKind::ConnectionRefused
        );
        assert_eq!(
            io::Error::from(Errno::EAGAIN).kind(),
            io::ErrorKind::WouldBlock
        );
        assert!(Errno::ENETUNREACH.to_string().contains("unreachable"));
    }
}
