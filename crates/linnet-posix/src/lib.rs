//! A POSIX socket ABI over Linnet: descriptors, Linux's numbers, errno and semantics.
//!
//! [`Posix`] is one instance — a [`linnet::Stack`] under a virtual clock, with a file
//! descriptor table — and offers the socket system calls in Rust (`socket`, `bind`,
//! `listen`, `accept4`, `connect`, `sendmsg`/`recvmsg` and their short forms, `shutdown`,
//! `close`, `getsockname`/`getpeername`, `fcntl`, `ioctl`, `getsockopt`/`setsockopt`,
//! `poll`, `epoll_*`). [`cabi`] takes C's arguments for them (pointers checked as the kernel
//! checks them, `errno`), and [`ffi`] exports them as `linnet_socket`, `linnet_bind`, ... over
//! a process-wide instance, for C programs (`liblinnet_posix.so`).
//!
//! Blocking calls wait in virtual time: see [`posix`] for who moves the clock.
//!
//! Linux: net/socket.c, net/ipv4/af_inet.c, fs/eventpoll.c, fs/select.c, fs/fcntl.c.

pub mod cabi;
pub mod calls;
mod consts;
pub mod epoll;
pub mod errno;
mod fd;
pub mod ffi;
pub mod net;
pub mod posix;
pub mod sockopt;
pub mod splice;
pub mod tcp_info;

pub use calls::{EpollEvent, PollFd, RecvInfo};
pub use errno::{Errno, SysResult};
pub use net::Net;
pub use posix::{Driven, Posix};
pub use tcp_info::{TcpInfoC, TCP_INFO_SIZE};
