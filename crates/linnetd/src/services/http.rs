//! `linnetd --http PORT`: a minimal HTTP/1.1 server on the Linnet stack, answering every GET
//! or HEAD with a small page and closing, so Linux's curl has a Linnet server to fetch from
//! (the capture test records such an exchange). A client that sends no complete request head
//! within the idle timeout is closed (nginx: `client_header_timeout`).

use super::{idle, Limits, Services};
use linnet::api::tokio::TcpStream;
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest request head read.
const MAX_HEAD: usize = 8192;

/// The page served.
pub const PAGE: &str =
    "<!doctype html>\n<title>linnet</title>\n<p>Hello from the Linnet stack.</p>\n";

/// Serve HTTP on `port`.
pub fn serve(svc: &Services, port: u16) -> io::Result<()> {
    svc.tcp("http", port, answer)
}

async fn answer(mut s: TcpStream, limits: Limits) -> io::Result<()> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = idle(limits, s.read(&mut chunk)).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
        if head.len() > MAX_HEAD {
            idle(limits, s.write_all(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )).await?;
            return s.shutdown().await;
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
    idle(limits, s.write_all(reply.as_bytes())).await?;
    s.shutdown().await?;
    // Read until the client closes, so our FIN is not followed by a reset.
    while idle(limits, s.read(&mut chunk))
        .await
        .map(|n| n > 0)
        .unwrap_or(false)
    {}
    Ok(())
}
