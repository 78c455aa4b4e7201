//! `linnetd --echo PORT`: RFC 862 echo over TCP and UDP on the Linnet stack (like inetd's
//! internal echo), so Linux clients have a Linnet server to talk to.

use super::{idle, Limits, Services};
use linnet::api::tokio::{TcpStream, UdpSocket};
use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes read at a time on one connection.
const ECHO_BUF: usize = 4096;

/// Serve echo on `port`, TCP (IPv4) and UDP (IPv4 and IPv6).
pub fn serve(svc: &Services, port: u16) -> io::Result<()> {
    // UDP: each datagram goes back to its sender (up to 64 KiB, so reassembled ones too).
    // At [::] without IPV6_V6ONLY: IPv6 clients and IPv4 ones (as ::ffff:a.b.c.d) alike.
    let udp = UdpSocket::bind(
        svc.stack(),
        SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0),
    )?;
    svc.spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            if let Err(e) = udp.send_to(&buf[..n], from).await {
                tracing::debug!(%from, "udp echo: {e}");
            }
        }
    });
    svc.tcp("echo", port, echo_conn)
}

/// One TCP connection: every byte read is written back, until the peer closes or goes
/// quiet for the idle timeout.
async fn echo_conn(mut s: TcpStream, limits: Limits) -> io::Result<()> {
    let mut buf = vec![0u8; ECHO_BUF];
    loop {
        let n = idle(limits, s.read(&mut buf)).await?;
        if n == 0 {
            break;
        }
        idle(limits, s.write_all(&buf[..n])).await?;
    }
    s.shutdown().await
}
