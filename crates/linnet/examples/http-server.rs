//! A tiny HTTP/1.1 file server on Linnet sockets (GET and HEAD, keep-alive).
//!
//! ```text
//! sudo cargo run --example http-server -- --tap linnet0 --addr 192.0.2.2/24 --port 80 --root .
//! # from Linux: curl http://192.0.2.2/README.md
//! ```

mod common;

use clap::Parser;
use linnet::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Serve files over HTTP/1.1 from a Linnet stack.
#[derive(Parser, Debug)]
#[command(name = "http-server")]
struct Args {
    #[command(flatten)]
    host: common::HostArgs,
    /// TCP port.
    #[arg(long, default_value_t = 80)]
    port: u16,
    /// Directory served.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Connections served at once (one thread each); more get 503 and are closed.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    max_conns: u32,
    /// Seconds a client may stay silent before it is closed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

fn main() {
    let a = Args::parse();
    let root = a.root.clone();
    let host = common::host(&a.host);
    let listener = TcpListener::bind_with_backlog(
        &host.handle,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, a.port),
        u32::MAX,
    )
    .unwrap_or_else(|e| common::fail(&format!("bind: {e}")));
    println!(
        "http-server: serving {} on {}",
        root.display(),
        listener.local_addr().expect("local address")
    );
    // A thread per connection, bounded: past the limit a client is told to come back.
    let active = Arc::new(AtomicU32::new(0));
    let idle = Duration::from_secs(a.idle_timeout);
    for s in listener.incoming() {
        let Ok(mut s) = s else { continue };
        if active.load(Ordering::SeqCst) >= a.max_conns {
            println!(
                "http-server: {} connections in service; refusing",
                a.max_conns
            );
            let _ = s.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            continue;
        }
        s.set_read_timeout(Some(idle));
        s.set_write_timeout(Some(idle));
        active.fetch_add(1, Ordering::SeqCst);
        let (root, active) = (root.clone(), active.clone());
        std::thread::spawn(move || {
            serve(s, &root);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Serve requests on one connection until the client closes or asks to.
fn serve(mut s: TcpStream, root: &Path) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 16384 {
                let _ = s.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let mut lines = head.lines();
        let request = lines.next().unwrap_or("");
        let mut parts = request.split_whitespace();
        let (method, target, version) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let close = version != "HTTP/1.1"
            || lines.any(|l| {
                l.to_ascii_lowercase().starts_with("connection:")
                    && l.to_ascii_lowercase().contains("close")
            });
        let (status, body) = match (method, resolve(root, target)) {
            ("GET" | "HEAD", Some(path)) => match std::fs::read(&path) {
                Ok(b) => ("200 OK", b),
                Err(_) => ("404 Not Found", b"not found\n".to_vec()),
            },
            ("GET" | "HEAD", None) => ("400 Bad Request", b"bad path\n".to_vec()),
            _ => ("405 Method Not Allowed", b"only GET and HEAD\n".to_vec()),
        };
        let header = format!(
            "HTTP/1.1 {status}\r\nServer: linnet-http\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: {}\r\n\r\n",
            body.len(),
            if close { "close" } else { "keep-alive" }
        );
        if s.write_all(header.as_bytes()).is_err() {
            return;
        }
        if method != "HEAD" && s.write_all(&body).is_err() {
            return;
        }
        if close {
            let _ = s.shutdown(std::net::Shutdown::Write);
            // Drain until the client closes, so that close() does not reset unread data.
            while let Ok(n) = s.read(&mut chunk) {
                if n == 0 {
                    break;
                }
            }
            return;
        }
    }
}

/// Map a request target to a file under `root`, refusing `..` and absolute escapes.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split('?').next()?.trim_start_matches('/');
    let rel = Path::new(if path.is_empty() { "index.html" } else { path });
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(root.join(rel))
}
