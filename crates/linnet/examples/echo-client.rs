//! An echo client on Linnet sockets: sends each line of stdin, prints what comes back.
//!
//! ```text
//! sudo cargo run --example echo-client -- --tap linnet0 --addr 192.0.2.2/24 --connect 192.0.2.1:7
//! ```

mod common;

use clap::Parser;
use linnet::TcpStream;
use std::io::{BufRead, Read, Write};
use std::net::SocketAddrV4;

/// Send each line of stdin to an echo server and print what comes back.
#[derive(Parser, Debug)]
#[command(name = "echo-client")]
struct Args {
    #[command(flatten)]
    host: common::HostArgs,
    /// The server, IP:PORT.
    #[arg(long, value_name = "IP:PORT")]
    connect: SocketAddrV4,
}

fn main() {
    let a = Args::parse();
    let target = a.connect;
    let host = common::host(&a.host);
    let mut s = TcpStream::connect(&host.handle, target)
        .unwrap_or_else(|e| common::fail(&format!("connect {target}: {e}")));
    eprintln!(
        "echo-client: connected to {target} from {}",
        s.local_addr().expect("local address")
    );
    let mut back = vec![0u8; 65536];
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let msg = format!("{line}\n");
        s.write_all(msg.as_bytes())
            .unwrap_or_else(|e| common::fail(&format!("send: {e}")));
        let mut got = 0;
        while got < msg.len() {
            match s.read(&mut back[got..]) {
                Ok(0) => common::fail("server closed the connection"),
                Ok(n) => got += n,
                Err(e) => common::fail(&format!("recv: {e}")),
            }
        }
        print!("{}", String::from_utf8_lossy(&back[..got]));
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
}
