//! The services linnetd runs on its own stack (echo, http, and any later one), all on one
//! small async runtime over [`linnet::api::tokio`]: a fixed number of worker threads
//! whatever the number of connections, a connection limit per service (a log line when it
//! is reached; connections beyond it wait in the accept queue, whose backlog is
//! `net.core.somaxconn`, as a Linux server's `listen(fd, SOMAXCONN)`), and an idle timeout
//! on every read and write, so a client that connects and says nothing cannot hold a
//! connection for ever.
//!
//! A new service is an `async fn(TcpStream, &Limits)` started with [`Services::tcp`].

pub mod echo;
pub mod http;

use linnet::api::tokio::{TcpListener, TcpStream};
use linnet::Handle;
use linnet::SockOpt;
use std::future::Future;
use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Worker threads of the services' runtime (the machines this runs on have few cores, and
/// the stack has its own thread).
const WORKERS: usize = 2;

/// Pause after a failed accept before the next (Linux servers back off the same way on
/// `EMFILE`, so an error does not spin).
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// Receive and send buffer of each service connection (`SO_RCVBUF`/`SO_SNDBUF` on the
/// listener): at most twice this in rings per connection, instead of the 256 KiB defaults
/// each, which a bulk transfer would want and an echo or a page does not.
const SERVICE_BUF: usize = 64 * 1024;

/// Limits every service applies to its connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once, per service.
    pub max_conns: usize,
    /// A read or write that waits longer than this closes the connection.
    pub idle_timeout: Duration,
}

/// The runtime the services run on.
pub struct Services {
    rt: tokio::runtime::Runtime,
    stack: Handle,
    limits: Limits,
}

impl Services {
    /// Start the runtime (its threads are named `linnet-svc`).
    pub fn new(stack: &Handle, limits: Limits) -> io::Result<Services> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .max_blocking_threads(1)
            .thread_name("linnet-svc")
            .enable_time()
            .build()?;
        Ok(Services {
            rt,
            stack: stack.clone(),
            limits,
        })
    }

    /// The stack the services run on.
    pub fn stack(&self) -> &Handle {
        &self.stack
    }

    /// Run a task on the services' runtime.
    pub fn spawn(&self, f: impl Future<Output = ()> + Send + 'static) {
        self.rt.spawn(f);
    }

    /// Listen on TCP `port` at `[::]` (IPv4 and IPv6 clients; backlog `net.core.somaxconn`) and serve each connection with
    /// `serve`, at most [`Limits::max_conns`] at once. Linux: what inetd or a server built
    /// on epoll does around `accept(2)`.
    pub fn tcp<F, Fut>(&self, name: &'static str, port: u16, serve: F) -> io::Result<()>
    where
        F: Fn(TcpStream, Limits) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind_with_backlog(
            &self.stack,
            // `[::]`: dual stack, IPv4 clients too (Linux: an AF_INET6 listener without
            // IPV6_V6ONLY).
            SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0),
            u32::MAX,
        )?;
        // Small request/response services: modest buffers, inherited by every connection,
        // so the connection limit bounds the memory a flood of busy clients can take.
        listener.set_option(SockOpt::RcvBuf(SERVICE_BUF))?;
        listener.set_option(SockOpt::SndBuf(SERVICE_BUF))?;
        // TCP Fast Open once `net.ipv4.tcp_fastopen` has the server bit (0x2): a request in
        // the SYN is served before the handshake completes (a queue of 64 pending ones).
        listener.set_option(SockOpt::FastOpen(64))?;
        let limits = self.limits;
        let slots = Arc::new(Semaphore::new(limits.max_conns));
        let serve = Arc::new(serve);
        self.rt.spawn(async move {
            let mut full = false;
            loop {
                let permit = match slots.clone().try_acquire_owned() {
                    Ok(p) => {
                        full = false;
                        p
                    }
                    Err(_) => {
                        if !full {
                            tracing::warn!(
                                service = name,
                                port,
                                max_conns = limits.max_conns,
                                "connection limit reached; new connections wait in the accept queue"
                            );
                            full = true;
                        }
                        match slots.clone().acquire_owned().await {
                            Ok(p) => p,
                            Err(_) => return,
                        }
                    }
                };
                let (s, peer) = match listener.accept().await {
                    Ok(c) => c,
                    // The stack is gone: so is the service.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return,
                    Err(e) => {
                        tracing::warn!(service = name, port, "accept: {e}");
                        tokio::time::sleep(ACCEPT_RETRY).await;
                        continue;
                    }
                };
                let serve = serve.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(s, limits).await {
                        tracing::debug!(service = name, %peer, "{e}");
                    }
                    drop(permit);
                });
            }
        });
        Ok(())
    }

    /// Stop every service at once: their sockets close (the connections themselves were
    /// already aborted by the caller). Linux: the process's files released on exit.
    pub fn shutdown(self) {
        self.rt.shutdown_timeout(Duration::from_millis(100));
    }
}

/// Await `f`, failing with `TimedOut` after the idle timeout.
pub async fn idle<T>(limits: Limits, f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    match tokio::time::timeout(limits.idle_timeout, f).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "idle timeout: connection closed",
        )),
    }
}
