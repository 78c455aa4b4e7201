//! An echo server (RFC 862) on Linnet sockets, one thread per connection.
//!
//! ```text
//! sudo cargo run --example echo-server -- --tap linnet0 --addr 192.0.2.2/24 --port 7
//! # from Linux, with 192.0.2.1/24 on linnet0:  nc 192.0.2.2 7
//! ```

mod common;

use linnet::api::TcpListener;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};

fn main() {
    let a = common::args();
    let port: u16 = a.get("port").map_or(7, |p| {
        p.parse().unwrap_or_else(|_| common::fail("bad --port"))
    });
    let host = common::host(&a);
    let listener = TcpListener::bind(&host.handle, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .unwrap_or_else(|e| common::fail(&format!("bind: {e}")));
    println!(
        "echo-server: listening on {}",
        listener.local_addr().expect("local address")
    );
    loop {
        let (mut s, peer) = match listener.accept() {
            Ok(v) => v,
            Err(e) => common::fail(&format!("accept: {e}")),
        };
        println!("echo-server: connection from {peer}");
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 16384];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            println!("echo-server: {peer} closed");
        });
    }
}
