//! An echo server (RFC 862) on Linnet sockets: a thread per connection, but bounded, as a
//! model to copy: at most `--max-conns` connections are served at once (the rest wait in the
//! accept queue, whose backlog is `net.core.somaxconn`), and a client silent for
//! `--idle-timeout` seconds is closed. (`linnetd --echo` serves any number of clients on
//! two threads with the async API instead.)
//!
//! ```text
//! sudo cargo run --example echo-server -- --tap linnet0 --addr 192.0.2.2/24 --port 7
//! # from Linux, with 192.0.2.1/24 on linnet0:  nc 192.0.2.2 7
//! ```

mod common;

use clap::Parser;
use linnet::TcpListener;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Serve RFC 862 echo on a Linnet stack.
#[derive(Parser, Debug)]
#[command(name = "echo-server")]
struct Args {
    #[command(flatten)]
    host: common::HostArgs,
    /// TCP port.
    #[arg(long, default_value_t = 7)]
    port: u16,
    /// Connections served at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    max_conns: u32,
    /// Seconds a client may stay silent before it is closed.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

/// Counts connections in service; `acquire` waits while all slots are taken.
struct Slots {
    used: Mutex<u32>,
    freed: Condvar,
    max: u32,
}

impl Slots {
    fn acquire(&self) {
        let mut used = self.used.lock().unwrap();
        if *used >= self.max {
            println!(
                "echo-server: {} connections in service; new ones wait",
                self.max
            );
        }
        while *used >= self.max {
            used = self.freed.wait(used).unwrap();
        }
        *used += 1;
    }

    fn release(&self) {
        *self.used.lock().unwrap() -= 1;
        self.freed.notify_one();
    }
}

fn main() {
    let a = Args::parse();
    let host = common::host(&a.host);
    let listener = TcpListener::bind_with_backlog(
        &host.handle,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, a.port),
        u32::MAX,
    )
    .unwrap_or_else(|e| common::fail(&format!("bind: {e}")));
    println!(
        "echo-server: listening on {}",
        listener.local_addr().expect("local address")
    );
    let slots = Arc::new(Slots {
        used: Mutex::new(0),
        freed: Condvar::new(),
        max: a.max_conns,
    });
    let idle = Duration::from_secs(a.idle_timeout);
    loop {
        slots.acquire();
        let (mut s, peer) = match listener.accept() {
            Ok(v) => v,
            Err(e) => common::fail(&format!("accept: {e}")),
        };
        println!("echo-server: connection from {peer}");
        s.set_read_timeout(Some(idle));
        s.set_write_timeout(Some(idle));
        let slots = slots.clone();
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
            slots.release();
        });
    }
}
