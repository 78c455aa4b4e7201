//! Multicast groups of an interface and the MLDv2 reports that announce them, so that
//! switches snooping MLD deliver the solicited-node groups' neighbour solicitations.
//!
//! Linux: net/ipv6/mcast.c (`ipv6_dev_mc_inc`, `ipv6_dev_mc_dec`, `igmp6_join_group`,
//! `mld_send_report`, `mld_newpack`, `igmp6_event_query`).

use super::netns::Ifmcaddr6;
use super::route::Rt6Result;
use crate::buf::MAX_HEADER;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::icmpv6::Icmpv6Packet;
use crate::wire::ipv6::{ipv6_addr_type, Ipv6Scope, ALL_MLDV2_ROUTERS, HEADER_LEN};
use crate::wire::ipv6ext::{emit_router_alert_hbh, ROUTER_ALERT_MLD};
use crate::wire::mld::{record_type, MldRecord, RECORD_LEN};
use crate::wire::{IpProtocol, Ipv6Repr};
use std::net::Ipv6Addr;

/// Groups MLD never reports: all-nodes, and anything of interface-local scope
/// (RFC 3810 section 6). Linux: the `IFF_LOOPBACK`/`MAF_NOREPORT` rule of `igmp6_join_group`.
fn mld_noreport(group: &Ipv6Addr) -> bool {
    *group == crate::wire::ipv6::ALL_NODES || ipv6_addr_type(group).1 < Ipv6Scope::LinkLocal
}

impl Stack {
    /// Join `group` on `ifindex` (or count one more user of it) and report the join.
    /// Linux: `ipv6_dev_mc_inc` → `igmp6_group_added` → `igmp6_join_group`.
    pub(crate) fn ipv6_dev_mc_inc(&mut self, ifindex: u32, group: Ipv6Addr, now: Instant) {
        let list = self.ipv6.mc.entry(ifindex).or_default();
        if let Some(m) = list.iter_mut().find(|m| m.group == group) {
            m.users += 1;
            return;
        }
        list.push(Ifmcaddr6 { group, users: 1 });
        if !mld_noreport(&group) {
            self.mld_send_report(ifindex, &[group], record_type::CHANGE_TO_EXCLUDE, now);
        }
    }

    /// Drop one user of `group` on `ifindex`, leaving it with the last one and reporting
    /// the leave (a `CHANGE_TO_INCLUDE` record with no sources).
    /// Linux: `ipv6_dev_mc_dec` → `igmp6_group_dropped` → `igmp6_leave_group`.
    pub(crate) fn ipv6_dev_mc_dec(&mut self, ifindex: u32, group: Ipv6Addr, now: Instant) {
        let Some(list) = self.ipv6.mc.get_mut(&ifindex) else {
            return;
        };
        let Some(i) = list.iter().position(|m| m.group == group) else {
            return;
        };
        list[i].users -= 1;
        if list[i].users > 0 {
            return;
        }
        list.swap_remove(i);
        let up = self.iface(ifindex).is_some_and(|d| d.up);
        if up && !mld_noreport(&group) {
            self.mld_send_report(ifindex, &[group], record_type::CHANGE_TO_INCLUDE, now);
        }
    }

    /// Send one MLDv2 report with a record of `rtype` for each group, to ff02::16 with hop
    /// limit 1 and a router alert, from the link-local address (`::` while there is none,
    /// RFC 3590). Linux: `mld_send_report` / `mld_newpack` / `mld_sendpack`.
    pub(crate) fn mld_send_report(
        &mut self,
        ifindex: u32,
        groups: &[Ipv6Addr],
        rtype: u8,
        now: Instant,
    ) {
        if groups.is_empty() {
            return;
        }
        let src = self
            .ipv6
            .devs
            .get(&ifindex)
            .and_then(|d| d.ipv6_get_lladdr())
            .unwrap_or(Ipv6Addr::UNSPECIFIED);
        let dst = ALL_MLDV2_ROUTERS;
        let icmp_len = 8 + RECORD_LEN * groups.len();
        let mut buf = self.pool.get(MAX_HEADER);
        let body = buf.put(8 + icmp_len);
        emit_router_alert_hbh(&mut body[..8], IpProtocol::ICMPV6, ROUTER_ALERT_MLD);
        let msg = &mut body[8..];
        msg[..8].fill(0);
        msg[0] = crate::wire::Icmpv6Message::MLD2_REPORT.0;
        msg[6..8].copy_from_slice(&(groups.len() as u16).to_be_bytes());
        let mut off = 8;
        for g in groups {
            off += MldRecord::emit_no_sources(&mut msg[off..], rtype, g);
        }
        Icmpv6Packet::new_unchecked(&mut msg[..icmp_len]).fill_checksum(&src, &dst);
        let repr = Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::HOPOPTS,
            payload_len: buf.len(),
            hop_limit: 1,
            traffic_class: 0,
            flow_label: 0,
        };
        match buf.push(HEADER_LEN) {
            Some(h) => repr.emit(h),
            None => return self.pool.put(buf),
        }
        buf.reset_network_header();
        self.ipv6.icmp6.out_msgs += 1;
        self.ipv6.icmp6.out_mldv2_reports += 1;
        let rt = Rt6Result {
            ifindex,
            nexthop: dst,
        };
        let _ = self.ip6_finish_output2(buf, rt, now);
    }

    /// A listener query: report every reportable group of the interface at once (Linux
    /// waits a random time below the maximum response delay). Linux: `igmp6_event_query`.
    pub(crate) fn igmp6_event_query(&mut self, ifindex: u32, now: Instant) {
        let groups: Vec<Ipv6Addr> = self
            .ipv6
            .mc
            .get(&ifindex)
            .map(|v| {
                v.iter()
                    .map(|m| m.group)
                    .filter(|g| !mld_noreport(g))
                    .collect()
            })
            .unwrap_or_default();
        self.mld_send_report(ifindex, &groups, record_type::MODE_IS_EXCLUDE, now);
    }
}
