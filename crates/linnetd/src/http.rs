//! `linnetd --http PORT`: a minimal HTTP/1.1 server on the Linnet stack, answering every GET
//! or HEAD with a small page and closing, so Linux's curl has a Linnet server to fetch from
//! (the capture test records such an exchange).

use linnet::runtime::Handle;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Longest request head read.
const MAX_HEAD: usize = 8192;

/// The page served.
pub const PAGE: &str =
    "<!doctype html>\n<title>linnet</title>\n<p>Hello from the Linnet stack.</p>\n";

/// Serve HTTP on `port` from a background thread.
pub fn serve(handle: &Handle, port: u16) -> std::io::Result<()> {
    let listener =
        linnet::api::TcpListener::bind(handle, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
    std::thread::Builder::new()
        .name("linnet-http".into())
        .spawn(move || {
            while let Ok((s, peer)) = listener.accept() {
                let _ = std::thread::Builder::new()
                    .name("linnet-http-conn".into())
                    .spawn(move || {
                        if let Err(e) = answer(s) {
                            tracing::debug!(%peer, "http: {e}");
                        }
                    });
            }
        })?;
    Ok(())
}

fn answer(mut s: linnet::api::TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
        if head.len() > MAX_HEAD {
            s.write_all(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return s.shutdown(std::net::Shutdown::Write);
        }
    }
    let method = head.split(|&b| b == b' ').next().unwrap_or(b"");
    let reply = match method {
        b"GET" | b"HEAD" => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                PAGE.len()
            );
            if method == b"GET" {
                r.push_str(PAGE);
            }
            r
        }
        _ => "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
    };
    s.write_all(reply.as_bytes())?;
    s.shutdown(std::net::Shutdown::Write)?;
    // Read until the client closes, so our FIN is not followed by a reset.
    while s.read(&mut chunk).map(|n| n > 0).unwrap_or(false) {}
    Ok(())
}
