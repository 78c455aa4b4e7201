//! Idiomatic Rust sockets over a running stack: [`TcpListener`], [`TcpStream`] and
//! [`UdpSocket`], shaped like `std::net`'s, with `std::io::Read`/`Write`.
//!
//! Each call takes the stack's lock through a [`Handle`](crate::runtime::Handle), does the non-blocking socket call,
//! and when it would block registers a waker that unparks the calling thread (Linux: the
//! socket's wait queue, `sk_wait_event`). With the `tokio` feature, `api::tokio` has the same
//! sockets for async code, implementing tokio's `AsyncRead`/`AsyncWrite`.

mod blocking;
mod tcp;
#[cfg(feature = "tokio")]
pub mod tokio;
mod udp;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

pub(crate) use blocking::{block_on, Mode};
