//! The offload tables: how the core reaches a protocol's segmentation and receive-merging
//! code without importing it. Each network protocol registers its handlers by ethertype, and
//! each IP protocol its handlers by protocol number, when the stack is built; the core's GSO
//! entry ([`super::gso::skb_gso_segment`]) and GRO ([`super::gro::GroList::dev_gro_receive`])
//! and IPv4's halves then call through these tables, so no layer names a layer above it.
//!
//! Linux: `struct packet_offload` and `dev_add_offload` (include/linux/netdevice.h,
//! net/core/gro.c), `struct net_offload`, `inet_offloads` and `inet_add_offload`
//! (include/net/protocol.h, net/ipv4/protocol.c). Linux's tables are global; Linnet keeps one
//! per stack, filled by `Stack::new` (Linux: `ipv4_offload_init`, `tcpv4_offload_init`).

use super::gro::{GroSkb, NapiGroCb};
use super::gso::{GsoError, GsoParams};
use crate::buf::{BufPool, PacketBuf};
use crate::wire::{EtherType, IpProtocol};

/// A network protocol's segmentation handler: split the super-packet of `pkt` whose network
/// header starts at `nhoff` (everything before it copied onto each segment), reaching the
/// transport protocol through `offloads`; returns how many segments were appended to `out`.
/// Linux: `packet_offload.callbacks.gso_segment` (e.g. `inet_gso_segment`).
pub type PacketGsoSegment = fn(
    offloads: &Offloads,
    pkt: &[u8],
    nhoff: usize,
    params: &GsoParams,
    pool: &mut BufPool,
    out: &mut Vec<PacketBuf>,
) -> Result<usize, GsoError>;

/// A transport protocol's segmentation handler: split the segment at `thoff..end` of `pkt`
/// (network header at `nhoff`, every header before `thoff` copied onto each segment) and
/// fill each one's transport header; the network header is left to the caller. Returns how
/// many segments were appended to `out`. Linux: `net_offload.callbacks.gso_segment` (e.g.
/// `tcp4_gso_segment`).
pub type NetGsoSegment = fn(
    pkt: &[u8],
    nhoff: usize,
    thoff: usize,
    end: usize,
    params: &GsoParams,
    pool: &mut BufPool,
    out: &mut Vec<PacketBuf>,
) -> Result<usize, GsoError>;

/// A network protocol's GRO receive handler: read the network header of `skb` (at
/// `cb.nhoff`), put the frame in a flow (`cb.flow`), find the train of that flow among
/// `head`, and hand on to the transport protocol's handler through `offloads`, which merges
/// the frame into that train or not. Returns the index in `head` of a train to complete now;
/// leaves in `cb` whether the frame was merged (`same_flow`) or is to be delivered as it is
/// (`flush`), else the core holds it as a new train. Linux: `packet_offload.callbacks.
/// gro_receive` (e.g. `inet_gro_receive`).
pub type PacketGroReceive = fn(
    offloads: &Offloads,
    head: &mut [GroSkb],
    skb: &PacketBuf,
    cb: &mut NapiGroCb,
    pool: &mut BufPool,
) -> Option<usize>;

/// A network protocol's GRO complete handler: fix the network header (at `nhoff`) of a
/// merged train and hand on to the transport protocol's. Linux: `packet_offload.callbacks.
/// gro_complete` (e.g. `inet_gro_complete`).
pub type PacketGroComplete = fn(offloads: &Offloads, skb: &mut PacketBuf, nhoff: usize);

/// A transport protocol's GRO receive handler: given the train `pp` of the frame's flow (if
/// one is held; the network protocol found it), merge the frame into it or say why not, as
/// for [`PacketGroReceive`] (transport header at `cb.thoff`). Linux: `net_offload.callbacks.
/// gro_receive` (e.g. `tcp4_gro_receive`).
pub type NetGroReceive = fn(
    head: &mut [GroSkb],
    pp: Option<usize>,
    skb: &PacketBuf,
    cb: &mut NapiGroCb,
    pool: &mut BufPool,
) -> Option<usize>;

/// A transport protocol's GRO complete handler: fix the transport header (at `thoff`,
/// network header at `nhoff`) of a merged train. Linux: `net_offload.callbacks.gro_complete`
/// (e.g. `tcp4_gro_complete`).
pub type NetGroComplete = fn(skb: &mut PacketBuf, nhoff: usize, thoff: usize);

/// A network protocol's offload handlers, by ethertype. Linux: `struct packet_offload`.
#[derive(Debug, Clone, Copy)]
pub struct PacketOffload {
    /// The ethertype it serves (Linux: `type`).
    pub ty: EtherType,
    /// Its segmentation handler.
    pub gso_segment: PacketGsoSegment,
    /// Its GRO receive handler, if it merges received frames.
    pub gro_receive: Option<PacketGroReceive>,
    /// Its GRO complete handler.
    pub gro_complete: Option<PacketGroComplete>,
}

/// An IP protocol's offload handlers. Linux: `struct net_offload`.
#[derive(Debug, Clone, Copy)]
pub struct NetOffload {
    /// Its segmentation handler.
    pub gso_segment: NetGsoSegment,
    /// Its GRO receive handler, if it merges received segments.
    pub gro_receive: Option<NetGroReceive>,
    /// Its GRO complete handler.
    pub gro_complete: Option<NetGroComplete>,
}

/// Why a handler could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffloadTaken;

/// The offload tables of one stack. Empty by default: a packet whose protocol registered no
/// handler cannot be segmented.
#[derive(Debug, Default)]
pub struct Offloads {
    /// By ethertype, in registration order. Linux: `offload_base`.
    packet: Vec<PacketOffload>,
    /// By IP protocol number. Linux: `inet_offloads[MAX_INET_PROTOS]`.
    inet: Vec<(IpProtocol, NetOffload)>,
}

impl Offloads {
    /// Register a network protocol's handlers; an ethertype already registered keeps its
    /// first handler. Linux: `dev_add_offload`.
    pub fn dev_add_offload(&mut self, po: PacketOffload) {
        if self.packet_offload(po.ty).is_none() {
            self.packet.push(po);
        }
    }

    /// The handlers registered for ethertype `ty`. Linux: the `offload_base` walk in
    /// `skb_mac_gso_segment`.
    #[inline]
    pub fn packet_offload(&self, ty: EtherType) -> Option<&PacketOffload> {
        self.packet.iter().find(|p| p.ty == ty)
    }

    /// Register an IP protocol's handlers; refused if the protocol has some already.
    /// Linux: `inet_add_offload` (a `cmpxchg` on the empty slot).
    pub fn inet_add_offload(
        &mut self,
        proto: IpProtocol,
        ops: NetOffload,
    ) -> Result<(), OffloadTaken> {
        if self.inet_offload(proto).is_some() {
            return Err(OffloadTaken);
        }
        self.inet.push((proto, ops));
        Ok(())
    }

    /// The handlers registered for IP protocol `proto`. Linux: `inet_offloads[proto]`.
    #[inline]
    pub fn inet_offload(&self, proto: IpProtocol) -> Option<&NetOffload> {
        self.inet.iter().find(|(p, _)| *p == proto).map(|(_, o)| o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(
        _: &[u8],
        _: usize,
        _: usize,
        _: usize,
        _: &GsoParams,
        _: &mut BufPool,
        _: &mut Vec<PacketBuf>,
    ) -> Result<usize, GsoError> {
        Err(GsoError::Malformed)
    }

    fn seven(
        _: &[u8],
        _: usize,
        _: usize,
        _: usize,
        _: &GsoParams,
        _: &mut BufPool,
        _: &mut Vec<PacketBuf>,
    ) -> Result<usize, GsoError> {
        Ok(7)
    }

    #[test]
    fn an_ip_protocol_keeps_its_first_handler() {
        let mut o = Offloads::default();
        assert!(o.inet_offload(IpProtocol::TCP).is_none());
        o.inet_add_offload(
            IpProtocol::TCP,
            NetOffload {
                gso_segment: seven,
                gro_receive: None,
                gro_complete: None,
            },
        )
        .unwrap();
        assert_eq!(
            o.inet_add_offload(
                IpProtocol::TCP,
                NetOffload {
                    gso_segment: none,
                    gro_receive: None,
                    gro_complete: None,
                }
            ),
            Err(OffloadTaken)
        );
        let f = o.inet_offload(IpProtocol::TCP).unwrap().gso_segment;
        let p = GsoParams {
            gso_size: 1,
            csum: super::super::gso::SegCsum::Full,
            meta: Default::default(),
            headroom: 0,
        };
        assert_eq!(
            f(&[], 0, 0, 0, &p, &mut BufPool::default(), &mut Vec::new()),
            Ok(7)
        );
        assert!(o.inet_offload(IpProtocol::UDP).is_none());
    }
}
