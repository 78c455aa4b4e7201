//! The control protocol's IPv6 requests: `ip -6 addr|route|neigh` and `ping -6`.
//! Linux: rtnetlink's `AF_INET6` handlers (`inet6_rtm_newaddr`, `inet6_dump_ifaddr`,
//! `inet6_rtm_newroute`, `inet6_dump_fib`, `neigh_dump_table` on `nd_tbl`).

use super::{dev_index, done, errno_response, with_iface_names, Response};
use crate::ipv6::dev::Inet6AddrInfo;
use crate::ipv6::ping::Ping6Reply;
use crate::ipv6::route::Route6Info;
use crate::ipv6::rtnl::Route6Config;
use crate::link::neighbour::NeighInfo;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::{EthernetAddress, Ipv6Addr, Ipv6Cidr};
use serde::{Deserialize, Serialize};

/// An IPv6 request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ip6", rename_all = "snake_case")]
pub enum Ip6Request {
    /// `ip -6 addr show`.
    AddrShow,
    /// `ip -6 addr add A/N dev D [nodad]`.
    AddrAdd {
        /// Interface name.
        dev: String,
        /// Address and prefix.
        addr: Ipv6Cidr,
        /// Skip duplicate address detection.
        nodad: bool,
    },
    /// `ip -6 addr del A/N dev D`.
    AddrDel {
        /// Interface name.
        dev: String,
        /// Address.
        addr: Ipv6Addr,
    },
    /// `ip -6 route show`.
    RouteShow,
    /// `ip -6 route add|replace|del PREFIX [via GW] [dev D] [metric N]`.
    RouteChange {
        /// Prefix.
        dst: Ipv6Cidr,
        /// Gateway.
        via: Option<Ipv6Addr>,
        /// Interface name.
        dev: Option<String>,
        /// Metric.
        metric: Option<u32>,
        /// Delete instead of add.
        del: bool,
        /// Replace an existing route.
        replace: bool,
    },
    /// `ip -6 neigh show`.
    NeighShow,
    /// `ip -6 neigh add A lladdr M dev D`.
    NeighAdd {
        /// Interface name.
        dev: String,
        /// Address.
        ip: Ipv6Addr,
        /// Link address.
        lladdr: EthernetAddress,
    },
    /// Open an ICMPv6 ping socket.
    PingOpen,
    /// Send one echo request.
    PingSend {
        /// Socket.
        ident: u16,
        /// Target.
        dst: Ipv6Addr,
        /// Interface for a link-local target (`ping -6 fe80::1%eth0`).
        dev: Option<String>,
        /// Sequence number.
        seq: u16,
        /// Data bytes.
        size: usize,
        /// Hop limit.
        hop_limit: Option<u8>,
    },
    /// Collect replies.
    PingRecv {
        /// Socket.
        ident: u16,
    },
    /// Close a ping socket.
    PingClose {
        /// Socket.
        ident: u16,
    },
}

/// An IPv6 answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ip6", rename_all = "snake_case")]
pub enum Ip6Response {
    /// Addresses with their interface names.
    Addrs {
        /// (address, interface name).
        addrs: Vec<(Inet6AddrInfo, String)>,
    },
    /// Routes with their interface names.
    Routes {
        /// (route, interface name).
        routes: Vec<(Route6Info, String)>,
    },
    /// Neighbours with their interface names.
    Neighbours {
        /// (entry, interface name).
        neighbours: Vec<(NeighInfo<Ipv6Addr>, String)>,
    },
    /// A ping socket was opened.
    PingOpened {
        /// Its identifier.
        ident: u16,
    },
    /// Replies received.
    PingReplies {
        /// In arrival order.
        replies: Vec<Ping6Reply>,
    },
}

/// Carry out an IPv6 request.
pub(crate) fn handle(stack: &mut Stack, req: Ip6Request, now: Instant) -> Response {
    let idx = |stack: &Stack, dev: &str| dev_index(stack, dev);
    match req {
        Ip6Request::AddrShow => {
            let addrs = with_iface_names(stack, stack.ipv6_addrs(now), |a| a.ifindex);
            Response::Ip6(Ip6Response::Addrs { addrs })
        }
        Ip6Request::AddrAdd { dev, addr, nodad } => match idx(stack, &dev) {
            Ok(i) => done(stack.ipv6_addr_add(i, addr, nodad, now)),
            Err(r) => r,
        },
        Ip6Request::AddrDel { dev, addr } => match idx(stack, &dev) {
            Ok(i) => done(stack.ipv6_addr_del(i, addr, now)),
            Err(r) => r,
        },
        Ip6Request::RouteShow => {
            let routes = with_iface_names(stack, stack.ip6_routes(now), |r| r.ifindex);
            Response::Ip6(Ip6Response::Routes { routes })
        }
        Ip6Request::RouteChange {
            dst,
            via,
            dev,
            metric,
            del,
            replace,
        } => {
            let ifindex = match dev.as_deref().map(|d| idx(stack, d)).transpose() {
                Ok(i) => i,
                Err(r) => return r,
            };
            let c = Route6Config {
                dst,
                via,
                ifindex,
                metric,
            };
            done(if del {
                stack.ip6_route_del(c)
            } else {
                stack.ip6_route_add(c, replace)
            })
        }
        Ip6Request::NeighShow => {
            let neighbours = with_iface_names(stack, stack.ipv6_neighbours(), |n| n.ifindex);
            Response::Ip6(Ip6Response::Neighbours { neighbours })
        }
        Ip6Request::NeighAdd { dev, ip, lladdr } => match idx(stack, &dev) {
            Ok(i) => done(stack.ipv6_neigh_add(i, ip, lladdr, now)),
            Err(r) => r,
        },
        Ip6Request::PingOpen => match stack.ping6_open() {
            Ok(ident) => Response::Ip6(Ip6Response::PingOpened { ident }),
            Err(e) => errno_response(e),
        },
        Ip6Request::PingSend {
            ident,
            dst,
            dev,
            seq,
            size,
            hop_limit,
        } => {
            let oif = match dev.as_deref().map(|d| idx(stack, d)).transpose() {
                Ok(i) => i,
                Err(r) => return r,
            };
            done(stack.ping6_send(ident, dst, oif, seq, size, hop_limit, now))
        }
        Ip6Request::PingRecv { ident } => {
            let mut replies = Vec::new();
            loop {
                match stack.ping6_recv(ident) {
                    Ok(Some(r)) => replies.push(r),
                    Ok(None) => break,
                    Err(e) => return errno_response(e),
                }
            }
            Response::Ip6(Ip6Response::PingReplies { replies })
        }
        Ip6Request::PingClose { ident } => done(stack.ping6_close(ident)),
    }
}
