//! An iperf3 server on Linnet sockets: Linux's stock `iperf3` client measures TCP throughput
//! to (or, with `-R`, from) a Linnet stack. TCP tests only: `-t`, `-n`, `-k`, `-P`, `-R`,
//! `--bidir`, `-l`, `-w`, `-N`, `-b`, `-O`, `-C reno|cubic`, `--get-server-output`.
//!
//! ```text
//! sudo cargo run --release --example iperf3-server -- --tap linnet0 --addr 192.0.2.2/24
//! # from Linux, with 192.0.2.1/24 on linnet0:  iperf3 -c 192.0.2.2 -t 5 [-P 4] [-R]
//! ```
//!
//! Options: `--port N` (default 5201), `--count N` (serve N tests, then exit; default: run
//! until killed), and `common`'s `--tap`, `--packet`, `--offload`, `--addr`, `--gateway`
//! (`--help` lists them).

mod common;

use clap::Parser;
use linnet_iperf3::server::{Limits, Server};
use std::net::{Ipv4Addr, SocketAddrV4};

/// An iperf3 server (TCP tests) on a Linnet stack.
#[derive(Parser, Debug)]
#[command(name = "iperf3-server")]
struct Args {
    #[command(flatten)]
    host: common::HostArgs,
    /// TCP port.
    #[arg(long, default_value_t = linnet_iperf3::proto::DEFAULT_PORT)]
    port: u16,
    /// Serve this many tests, then exit (default: run until killed).
    #[arg(long)]
    count: Option<u64>,
}

fn main() {
    let a = Args::parse();
    let (port, count) = (a.port, a.count);
    let host = common::host(&a.host);
    let mut server = Server::bind(
        &host.handle,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port),
        Limits::default(),
    )
    .unwrap_or_else(|e| common::fail(&format!("bind: {e}")));
    println!(
        "iperf3-server: listening on {}",
        server.local_addr().expect("local address")
    );
    let mut served = 0u64;
    while count != Some(served) {
        served += 1;
        match server.serve_one() {
            Ok(report) => {
                print!("{}", report.summary());
                if !report.clean_end {
                    println!("iperf3-server: the client closed without IPERF_DONE");
                }
            }
            Err(e) => println!("iperf3-server: test {served} failed: {e}"),
        }
    }
    host.stop();
}
