//! The control plane: Linnet's netlink. Typed, versioned requests and responses, carried as
//! one JSON object per line over a Unix stream socket that `linnetd` serves and `linnet` uses.
//!
//! Linux: rtnetlink (`RTM_GETLINK`, `RTM_GETADDR`, `RTM_GETROUTE`, `RTM_GETNEIGH`) and the
//! `/proc/net/snmp` files.

pub mod client;
pub mod ip6;
pub(crate) mod nf;
pub mod route;
pub(crate) mod rtnl;
#[allow(unsafe_code)]
pub mod server;
#[allow(unsafe_code)]
pub(crate) mod stream;
pub mod sysctl;
pub(crate) mod tcp_metrics;

use crate::ip::fib::{Route, RouteMatch};
use crate::ip::rules::{FibRule, RuleMatch};
use crate::link::neighbour::NeighInfo;
use crate::socket::SocketInfo;
use crate::stack::{LinkInfo, Stack};
use crate::stats::Snmp;
use crate::time::Instant;
use crate::transport::ping::PingReply;
use crate::wire::{EthernetAddress, Ipv4Addr, Ipv4Cidr};
use serde::{Deserialize, Serialize};

/// Protocol version; a peer speaking another is refused.
pub const VERSION: u32 = 1;

/// Default path of the daemon's control socket.
pub const DEFAULT_SOCKET: &str = "/run/linnet/linnetd.sock";

/// The unit lines are sized in: responses stream in batches of about four, and the client
/// reads one of up to sixteen.
pub const MAX_LINE: usize = 64 * 1024;

/// Longest request line accepted: room for an iptables-restore's tables, which travel typed
/// (about 2.5 times the size of their iptables-save text).
pub const MAX_REQUEST: usize = 4 * MAX_LINE;

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Interfaces with counters (`ip -s link show`, `ip addr show`).
    LinkShow,
    /// Routes of the main table (`ip route show`).
    RouteShow,
    /// Neighbours (`ip neigh show`).
    NeighShow,
    /// Protocol counters (`netstat -s`).
    Snmp,
    /// Open a ping socket.
    PingOpen,
    /// Send one echo request.
    PingSend {
        /// Socket.
        ident: u16,
        /// Target.
        dst: Ipv4Addr,
        /// Sequence number.
        seq: u16,
        /// Data bytes after the ICMP header.
        size: usize,
        /// TTL, or the default.
        ttl: Option<u8>,
    },
    /// Collect replies received so far.
    PingRecv {
        /// Socket.
        ident: u16,
    },
    /// Close a ping socket.
    PingClose {
        /// Socket.
        ident: u16,
    },
    /// `ip link set dev D [up|down] [mtu N]`. Linux: `RTM_NEWLINK` (`rtnl_setlink`).
    LinkSet {
        /// Interface name.
        dev: String,
        /// Administrative state, if changed.
        up: Option<bool>,
        /// MTU, if changed.
        mtu: Option<usize>,
        /// Link address, if changed.
        #[serde(default)]
        address: Option<EthernetAddress>,
    },
    /// `ip addr add A/N dev D`. Linux: `RTM_NEWADDR`.
    AddrAdd {
        /// Interface name.
        dev: String,
        /// Address and prefix.
        addr: Ipv4Cidr,
    },
    /// `ip addr del A/N dev D`. Linux: `RTM_DELADDR`.
    AddrDel {
        /// Interface name.
        dev: String,
        /// Address (the prefix must match when given).
        addr: Ipv4Cidr,
    },
    /// `ip addr flush dev D`.
    AddrFlush {
        /// Interface name.
        dev: String,
    },
    /// `ip neigh add|replace A lladdr M dev D`. Linux: `RTM_NEWNEIGH`.
    NeighAdd {
        /// Interface name.
        dev: String,
        /// Neighbour's address.
        ip: Ipv4Addr,
        /// Its link address.
        lladdr: EthernetAddress,
    },
    /// `ip neigh del A dev D`. Linux: `RTM_DELNEIGH`.
    NeighDel {
        /// Interface name.
        dev: String,
        /// Neighbour's address.
        ip: Ipv4Addr,
    },
    /// `ip neigh flush [dev D]`.
    NeighFlush {
        /// Interface name, or all.
        dev: Option<String>,
    },
    /// Sockets (`ss`). Linux: `sock_diag` (`inet_diag_dump`).
    Sockets,
    /// Routes of one table (`None`: main; `Some(0)`: all), `ip route show table T`.
    RouteList {
        /// Table id.
        table: Option<u32>,
    },
    /// `ip route add|replace`. Linux: `RTM_NEWROUTE`.
    RouteAdd {
        /// The route; its `ifindex` is filled from `dev` when given.
        route: Route,
        /// Output device name.
        dev: Option<String>,
        /// Replace a route to the same prefix, table and metric.
        replace: bool,
    },
    /// `ip route del`. Linux: `RTM_DELROUTE`.
    RouteDel {
        /// What must match.
        route: RouteMatch,
        /// Output device name, if it must match.
        dev: Option<String>,
    },
    /// `ip route get`. Linux: `RTM_GETROUTE`.
    RouteGet {
        /// Destination.
        dst: Ipv4Addr,
        /// Source.
        from: Option<Ipv4Addr>,
        /// Input device: look up as if received there.
        iif: Option<String>,
        /// Firewall mark.
        mark: u32,
    },
    /// `ip rule show`.
    RuleShow,
    /// `ip rule add`. Linux: `RTM_NEWRULE`.
    RuleAdd {
        /// The rule; `iif` filled from `iif_dev`.
        rule: FibRule,
        /// Input device name.
        iif_dev: Option<String>,
        /// Choose the priority (none was given).
        auto_priority: bool,
    },
    /// `ip rule del`. Linux: `RTM_DELRULE`.
    RuleDel {
        /// What must match.
        rule: RuleMatch,
        /// Input device name, if it must match.
        iif_dev: Option<String>,
    },
    /// Read (value `None`) or write a sysctl; key `None` lists them all.
    Sysctl {
        /// Dotted name.
        key: Option<String>,
        /// New value.
        value: Option<String>,
    },
    /// Read or write several sysctls in one go, as `sysctl(8)` given several keys: each is
    /// carried out on its own, in order; a bad one is reported in its place and does not stop
    /// the others. Linux: one `/proc/sys` write (or read) per key.
    SysctlMany {
        /// Dotted names with the value to write (`None`: read).
        ops: Vec<(String, Option<String>)>,
    },
    /// Read a table with its counters, as iptables does before it lists or changes it.
    /// Linux: `IPT_SO_GET_INFO` + `IPT_SO_GET_ENTRIES`.
    NfGetTable {
        /// Which.
        table: crate::netfilter::table::TableId,
    },
    /// Change one table by one typed rule or chain operation (`iptables -A/-D/-N...`).
    NfChange {
        /// Which.
        table: crate::netfilter::table::TableId,
        /// The generation the change was made against ([`Response::NfTable`]); refused
        /// with status 4 if the tables changed since.
        gen: Option<u64>,
        /// The change (boxed: a rule is large beside the other requests).
        change: Box<crate::netfilter::change::TableChange>,
    },
    /// Put whole tables in place at once (iptables-restore). Linux: `IPT_SO_SET_REPLACE`.
    NfReplace {
        /// The tables, each checked before any is put in place.
        tables: Vec<crate::netfilter::table::Table>,
    },
    /// `conntrack -L`.
    ConntrackList,
    /// `ip tcp_metrics show|flush [all|ADDR]`: the TCP Fast Open cache. Linux:
    /// `TCP_METRICS_CMD_GET` / `TCP_METRICS_CMD_DEL`.
    TcpMetrics {
        /// Flush instead of show.
        flush: bool,
        /// Only this destination.
        addr: Option<Ipv4Addr>,
    },
    /// `tc qdisc|class|filter add|change|replace|del`: one typed change (the kind's options
    /// as its words). Linux: `RTM_NEWQDISC`, `RTM_NEWTCLASS`, `RTM_NEWTFILTER`...
    TcChange {
        /// The change (boxed: it is large beside the other requests).
        change: Box<crate::qdisc::tc::TcChange>,
    },
    /// `tc qdisc|class|filter show [dev D]`. Linux: `tc_dump_qdisc`...
    TcShow {
        /// Qdiscs, classes or filters.
        object: crate::qdisc::tc::TcObject,
        /// Only this device.
        dev: Option<String>,
    },
    /// Stream captured frames (`linnet capture`): after `CaptureStarted`, the connection
    /// carries `Captured` batches until the client closes it. Linux: an `AF_PACKET` socket.
    CaptureStart {
        /// Device name, or all devices.
        dev: Option<String>,
        /// Filter expression (see `crate::trace::filter`).
        filter: String,
        /// Bytes kept of each frame (default 262144, capped at 65535).
        snaplen: Option<usize>,
    },
    /// Stream per-packet trace records (`linnet trace`): after `TraceStarted`, the connection
    /// carries `Traced` batches until the client closes it.
    TraceStart {
        /// Filter expression selecting the packets to follow.
        filter: String,
    },
    /// An IPv6 request (`ip -6 ...`, `ping -6`).
    Ip6(ip6::Ip6Request),
}

/// A response from the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// An IPv6 answer.
    Ip6(ip6::Ip6Response),
    /// Interfaces.
    Links {
        /// One per interface.
        links: Vec<LinkInfo>,
    },
    /// Routes.
    Routes {
        /// The routes, best first, with interface names.
        routes: Vec<(Route, String)>,
    },
    /// Neighbours.
    Neighbours {
        /// Entries, with interface names.
        neighbours: Vec<(NeighInfo, String)>,
    },
    /// Counters.
    Snmp {
        /// All of them.
        snmp: Box<Snmp>,
    },
    /// A ping socket was opened.
    PingOpened {
        /// Its identifier.
        ident: u16,
    },
    /// Ping replies.
    PingReplies {
        /// In arrival order.
        replies: Vec<PingReply>,
    },
    /// Sockets.
    Sockets {
        /// Every socket, with TCP internals for TCP ones.
        sockets: Vec<SocketInfo>,
    },
    /// What `ip route get` found.
    RouteGot {
        /// The answer.
        reply: route::RouteGetReply,
    },
    /// Rules in priority order, with input device names.
    Rules {
        /// The rules.
        rules: Vec<(FibRule, Option<String>)>,
    },
    /// Sysctl values.
    Sysctl {
        /// Key and value.
        values: Vec<sysctl::SysctlValue>,
    },
    /// What each operation of a [`Request::SysctlMany`] came to, in order.
    SysctlMany {
        /// The value after it, or the error (as `sysctl(8)` prints it).
        results: Vec<Result<sysctl::SysctlValue, sysctl::SysctlError>>,
    },
    /// Done.
    Ok,
    /// A capture started: the interfaces (index, name) and the clock mapping (stack time and
    /// Unix time, both in microseconds, read together).
    CaptureStarted {
        /// Interfaces by index.
        interfaces: Vec<(u32, String)>,
        /// Snap length in force.
        snaplen: usize,
        /// Stack clock now.
        mono_us: u64,
        /// Unix time now.
        unix_us: u64,
    },
    /// Frames captured since the last batch, and frames dropped so far for a full queue.
    Captured {
        /// Frames, oldest first.
        frames: Vec<crate::trace::CapturedFrame>,
        /// Dropped so far.
        dropped: u64,
    },
    /// A trace started, with the clock mapping.
    TraceStarted {
        /// Stack clock now.
        mono_us: u64,
        /// Unix time now.
        unix_us: u64,
    },
    /// Trace records since the last batch, and records lost so far for a full ring.
    Traced {
        /// Records, in order.
        records: Vec<crate::trace::TraceLine>,
        /// Lost so far.
        lost: u64,
    },
    /// Failed.
    Error {
        /// Errno value, if the failure has one.
        errno: Option<i32>,
        /// What went wrong.
        message: String,
    },
    /// A table, for iptables to list or change.
    NfTable {
        /// The table.
        table: crate::netfilter::table::Table,
        /// The tables' generation when it was read.
        gen: u64,
    },
    /// Tracked connections.
    Conntrack {
        /// One per connection.
        entries: Vec<crate::netfilter::conntrack::CtEntryInfo>,
    },
    /// `ip tcp_metrics show`: one entry per destination.
    TcpMetrics {
        /// The entries.
        entries: Vec<tcp_metrics::TcpMetricsEntry>,
    },
    /// An iptables command failed.
    NfError {
        /// iptables's message.
        message: String,
        /// iptables's exit status.
        status: u8,
    },
    /// What a `tc ... show` lists.
    Tc {
        /// Qdiscs, classes or filters.
        reply: crate::qdisc::tc::TcReply,
    },
}

/// What travels on the wire: a request or response with the protocol version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Protocol version.
    pub version: u32,
    /// The message.
    pub body: T,
}

/// The name of interface `ifindex`, or `if<N>` for one that is gone.
pub(super) fn iface_name(stack: &Stack, ifindex: u32) -> String {
    stack
        .iface(ifindex)
        .map(|i| i.name.clone())
        .unwrap_or_else(|| format!("if{ifindex}"))
}

/// Each entry of a dump with the name of its interface, as the replies carry them.
pub(super) fn with_iface_names<T>(
    stack: &Stack,
    items: Vec<T>,
    ifindex: impl Fn(&T) -> u32,
) -> Vec<(T, String)> {
    items
        .into_iter()
        .map(|x| {
            let name = iface_name(stack, ifindex(&x));
            (x, name)
        })
        .collect()
}

/// The index of the interface `dev`, or the error iproute2 prints for a missing one.
fn dev_index(stack: &Stack, dev: &str) -> Result<u32, Response> {
    stack.ifindex_by_name(dev).ok_or_else(|| Response::Error {
        errno: Some(libc::ENODEV),
        message: format!("Cannot find device \"{dev}\""),
    })
}

fn done(r: Result<(), crate::Errno>) -> Response {
    match r {
        Ok(()) => Response::Ok,
        Err(e) => errno_response(e),
    }
}

/// A refused tc change or show, as tc reports it.
fn tc_error(e: crate::qdisc::TcError) -> Response {
    Response::Error {
        errno: Some(libc::EINVAL),
        message: e.0,
    }
}

/// An error answer: `errno` and a message saying what went wrong.
pub(crate) fn error(errno: i32, message: impl Into<String>) -> Response {
    Response::Error {
        errno: Some(errno),
        message: message.into(),
    }
}

pub(crate) fn errno_response(e: crate::Errno) -> Response {
    Response::Error {
        errno: Some(e.raw()),
        message: e.to_string(),
    }
}

/// The ping requests: an ICMP echo socket opened, used and closed for `linnet ping`.
/// Linux: the `ping` socket (net/ipv4/ping.c) iputils' ping uses.
fn ping(stack: &mut Stack, req: Request, now: Instant) -> Response {
    match req {
        Request::PingOpen => match stack.ping_open() {
            Ok(ident) => Response::PingOpened { ident },
            Err(e) => errno_response(e),
        },
        Request::PingSend {
            ident,
            dst,
            seq,
            size,
            ttl,
        } => match stack.ping_send(ident, dst, seq, size, ttl, now) {
            Ok(()) => Response::Ok,
            Err(e) => errno_response(e),
        },
        Request::PingRecv { ident } => {
            let mut replies = Vec::new();
            loop {
                match stack.ping_recv(ident) {
                    Ok(Some(r)) => replies.push(r),
                    Ok(None) => break Response::PingReplies { replies },
                    Err(e) => break errno_response(e),
                }
            }
        }
        Request::PingClose { ident } => match stack.ping_close(ident) {
            Ok(()) => Response::Ok,
            Err(e) => errno_response(e),
        },
        _ => error(libc::EINVAL, "not a ping request"),
    }
}

/// Carry out a request on the stack. Linux: the `doit`/`dumpit` handlers of rtnetlink.
pub fn handle(stack: &mut Stack, req: Request, now: Instant) -> Response {
    match req {
        Request::LinkShow => Response::Links {
            links: stack.links(),
        },
        Request::RouteShow => Response::Routes {
            routes: with_iface_names(stack, stack.ipv4.routes(), |r| r.ifindex),
        },
        Request::NeighShow => Response::Neighbours {
            neighbours: with_iface_names(stack, stack.neighbours().dump(), |n| n.ifindex),
        },
        Request::Ip6(r) => ip6::handle(stack, r, now),
        Request::Snmp => Response::Snmp {
            snmp: Box::new(stack.snmp()),
        },
        Request::PingOpen
        | Request::PingSend { .. }
        | Request::PingRecv { .. }
        | Request::PingClose { .. } => ping(stack, req, now),
        Request::LinkSet {
            dev,
            up,
            mtu,
            address,
        } => rtnl::link_set(stack, &dev, up, mtu, address, now),
        Request::AddrAdd { dev, addr } => rtnl::addr_add(stack, &dev, addr, now),
        Request::AddrDel { dev, addr } => rtnl::addr_del(stack, &dev, addr),
        Request::AddrFlush { dev } => rtnl::addr_flush(stack, &dev),
        Request::NeighAdd { dev, ip, lladdr } => rtnl::neigh_add(stack, &dev, ip, lladdr, now),
        Request::NeighDel { dev, ip } => rtnl::neigh_del(stack, &dev, ip),
        Request::NeighFlush { dev } => rtnl::neigh_flush(stack, dev.as_deref()),
        Request::Sockets => Response::Sockets {
            sockets: stack.sockets_info(),
        },
        Request::RouteList { table } => route::route_list(stack, table),
        Request::RouteAdd {
            route: r,
            dev,
            replace,
        } => route::route_add(stack, r, dev.as_deref(), replace),
        Request::RouteDel { route: m, dev } => route::route_del(stack, m, dev.as_deref()),
        Request::RouteGet {
            dst,
            from,
            iif,
            mark,
        } => route::route_get(stack, dst, from, iif.as_deref(), mark),
        Request::RuleShow => route::rule_show(stack),
        Request::RuleAdd {
            rule,
            iif_dev,
            auto_priority,
        } => route::rule_add(stack, rule, iif_dev.as_deref(), auto_priority),
        Request::RuleDel { rule, iif_dev } => route::rule_del(stack, rule, iif_dev.as_deref()),
        Request::Sysctl { key: None, .. } => Response::Sysctl {
            values: sysctl::sysctls(stack),
        },
        Request::Sysctl {
            key: Some(k),
            value,
        } => sysctl::sysctl(stack, &k, value.as_deref()),
        Request::SysctlMany { ops } => Response::SysctlMany {
            results: sysctl::sysctl_many(stack, &ops),
        },
        Request::NfGetTable { table } => nf::get_table(stack, table),
        Request::NfChange { table, gen, change } => nf::change(stack, table, gen, &change),
        Request::NfReplace { tables } => nf::replace(stack, tables),
        Request::ConntrackList => nf::conntrack_list(stack, now),
        Request::TcpMetrics { flush, addr } => tcp_metrics::tcp_metrics(stack, flush, addr, now),
        Request::TcChange { change } => match stack.tc_change(&change, now) {
            Ok(()) => Response::Ok,
            Err(e) => tc_error(e),
        },
        Request::TcShow { object, dev } => match stack.tc_show(object, dev.as_deref()) {
            Ok(reply) => Response::Tc { reply },
            Err(e) => tc_error(e),
        },
        Request::CaptureStart { .. } | Request::TraceStart { .. } => Response::Error {
            errno: Some(libc::EINVAL),
            message: "capture and trace stream over the control socket (control::stream)".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_as_json() {
        let r = Request::PingSend {
            ident: 7,
            dst: Ipv4Addr::new(192, 0, 2, 1),
            seq: 1,
            size: 56,
            ttl: None,
        };
        let s = serde_json::to_string(&Envelope {
            version: VERSION,
            body: r.clone(),
        })
        .unwrap();
        assert!(s.contains("\"op\":\"ping_send\""), "{s}");
        let back: Envelope<Request> = serde_json::from_str(&s).unwrap();
        assert_eq!(back.body, r);
    }

    #[test]
    fn link_set_changes_nothing_when_one_part_is_invalid() {
        let mut stack = Stack::default();
        let lo = stack.links()[0].clone();
        let r = handle(
            &mut stack,
            Request::LinkSet {
                dev: lo.name.clone(),
                up: Some(false),
                mtu: Some(1400),
                // A loopback device has no link address to change.
                address: Some(crate::wire::EthernetAddress([2, 0, 0, 0, 0, 9])),
            },
            Instant::ZERO,
        );
        assert!(matches!(r, Response::Error { .. }), "{r:?}");
        let after = &stack.links()[0];
        assert_eq!((after.mtu, after.up), (lo.mtu, lo.up), "nothing changed");
    }

    #[test]
    fn somaxconn_is_a_sysctl() {
        let mut stack = Stack::default();
        let get = |stack: &mut Stack| match handle(
            stack,
            Request::Sysctl {
                key: Some("net.core.somaxconn".into()),
                value: None,
            },
            Instant::ZERO,
        ) {
            Response::Sysctl { values } => values[0].value.clone(),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(get(&mut stack), "4096");
        let set = |stack: &mut Stack, v: &str| {
            handle(
                stack,
                Request::Sysctl {
                    key: Some("net.core.somaxconn".into()),
                    value: Some(v.into()),
                },
                Instant::ZERO,
            )
        };
        assert!(matches!(set(&mut stack, "512"), Response::Sysctl { .. }));
        assert_eq!(get(&mut stack), "512");
        for bad in ["0", "-1", "x", "99999999999"] {
            assert!(
                matches!(set(&mut stack, bad), Response::Error { .. }),
                "{bad}"
            );
        }
        assert_eq!(get(&mut stack), "512");
    }

    #[test]
    fn handle_reports_errors_as_errno() {
        let mut stack = Stack::default();
        let r = handle(&mut stack, Request::PingRecv { ident: 9 }, Instant::ZERO);
        assert_eq!(
            r,
            Response::Error {
                errno: Some(libc::EBADF),
                message: crate::Errno::EBADF.to_string()
            }
        );
        match handle(&mut stack, Request::LinkShow, Instant::ZERO) {
            Response::Links { links } => assert_eq!(links[0].name, "lo"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
