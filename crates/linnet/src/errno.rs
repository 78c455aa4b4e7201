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
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", io::Error::from_raw_os_error(self.raw()))
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
