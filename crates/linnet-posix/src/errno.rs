//! Error numbers as Linux's system calls return them.

use std::fmt;

/// A Linux errno value (`libc::EBADF`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl From<linnet::Errno> for Errno {
    fn from(e: linnet::Errno) -> Errno {
        Errno(e.raw())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", std::io::Error::from_raw_os_error(self.0))
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> std::io::Error {
        std::io::Error::from_raw_os_error(e.0)
    }
}

/// A system call's result.
pub type SysResult<T> = Result<T, Errno>;

pub(crate) const EBADF: Errno = Errno(libc::EBADF);
pub(crate) const EINVAL: Errno = Errno(libc::EINVAL);
pub(crate) const EAGAIN: Errno = Errno(libc::EAGAIN);
pub(crate) const EFAULT: Errno = Errno(libc::EFAULT);
pub(crate) const ENOPROTOOPT: Errno = Errno(libc::ENOPROTOOPT);
pub(crate) const EOPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);
pub(crate) const ENOTCONN: Errno = Errno(libc::ENOTCONN);
