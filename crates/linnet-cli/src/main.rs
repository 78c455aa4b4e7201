//! `linnet`: iproute2-style control of a running `linnetd`.
//!
//! `linnet ip link|addr|route|neigh show`, `linnet netstat -s`, `linnet ping`, each speaking
//! to the daemon over its control socket. `-j` prints JSON.

mod capture;
mod conntrack;
mod ip;
mod ip6;
mod iptables;
mod json;
mod netstat;
mod netstat_tcp;
mod ping;
mod route;
mod ss;
mod sysctl;
mod tc;

use clap::Parser;
use linnet::Client;
use linnet::{Request, Response};
use std::path::PathBuf;
use std::process::ExitCode;

/// Steer a running linnetd.
#[derive(Parser, Debug)]
#[command(
    name = "linnet",
    version,
    after_help = "Commands:\n  ip [-s] [-j [-p]] [-br] link|addr|route|neigh [show]\n  ip -6 addr|route|neigh [show] | addr add|del ADDR/LEN dev DEV [nodad] | route add|replace|del PREFIX [via GW] [dev DEV] [metric N] | neigh add ADDR lladdr MAC dev DEV\n  ip link set [dev] DEV [up|down] [mtu N]\n  ip addr add|del ADDR/LEN dev DEV; ip addr flush dev DEV\n  ip neigh add|replace ADDR lladdr MAC dev DEV; ip neigh del ADDR dev DEV; ip neigh flush [dev DEV|all]\n  ip route [show [table T|all]] | add|replace|del ROUTE | get ADDR [from A] [iif D]\n  ip rule [show] | add|del [pref N] [from P] [to P] [iif D] [fwmark M] lookup T|blackhole|unreachable|prohibit\n  ss [-tuanlij]\n  sysctl [-a] [-n] [-w] net.ipv4.ip_forward[=1]\n  netstat -s [-j] | netstat [-tuanl]\n  iptables [-t filter|nat] -A|-I|-D|-R|-L|-S|-F|-Z|-N|-X|-P ... (iptables syntax)\n  iptables-save [-t T]; iptables-restore [--noflush] < FILE\n  conntrack -L|-C\n  tc [-s] [-j] qdisc|class|filter add|change|replace|del|show dev DEV [root|parent X:Y] [handle H|classid C] KIND ...\n  capture [-i DEV|any] [-w FILE.pcapng] [-c N] [-s SNAPLEN] [FILTER]\n  trace [-c N] [-j] [FILTER]\n  FILTER: [src|dst] host A | [src|dst] net CIDR | [src|dst] port N | tcp|udp|icmp|arp|ip, and/or/not, ( )\n  ping [-c count] [-i interval] [-s size] [-t ttl] [-W timeout] destination"
)]
struct Args {
    /// Control socket of the daemon.
    #[arg(long = "socket", short = 'S', global = true, default_value = linnet::control::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// The command and its words, as for iproute2 / net-tools / iputils.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    words: Vec<String>,
}

/// A user error: message, exit code.
#[derive(Debug)]
pub struct Failure(pub String, pub u8);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string(), 1)
    }
}

/// Send one request; an error response becomes a failure.
pub fn call(client: &mut Client, req: Request) -> Result<Response, Failure> {
    match client.call(req)? {
        Response::Error { message, .. } => Err(Failure(message, 2)),
        r => Ok(r),
    }
}

fn run(args: Args) -> Result<u8, Failure> {
    let (cmd, rest) = args.words.split_first().expect("clap requires a word");
    let connect = || Client::connect(&args.socket).map_err(|e| Failure(e.to_string(), 1));
    match cmd.as_str() {
        "ip" => ip::run(rest, connect),
        "netstat" => netstat::run(rest, connect),
        "ping" => ping::run(rest, connect),
        "ss" => ss::run(rest, connect),
        "capture" => capture::run_capture(rest, connect),
        "trace" => capture::run_trace(rest, connect),
        "sysctl" => sysctl::run(rest, connect),
        "iptables" => iptables::run(rest, connect),
        "iptables-save" => iptables::run_save(rest, connect),
        "iptables-restore" => iptables::run_restore(rest, connect),
        "conntrack" => conntrack::run(rest, connect),
        "tc" => tc::run(rest, connect),
        other => Err(Failure(
            format!("unknown command \"{other}\"; try \"linnet --help\""),
            2,
        )),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(Failure(msg, code)) => {
            eprintln!("{msg}");
            ExitCode::from(code)
        }
    }
}
