//! Multicast listener discovery messages: MLDv1 (RFC 2710) and MLDv2 (RFC 3810).
//!
//! Linux: `struct mld_msg`, `struct mld2_query`, `struct mld2_report`, `struct mld2_grec`
//! (include/net/mld.h); the length rules of `igmp6_event_query` (net/ipv6/mcast.c).
//!
//! A host joins its solicited-node groups with MLDv2 reports so that switches that snoop MLD
//! deliver neighbour solicitations to it. Like [`super::ndisc`], these take the whole ICMPv6
//! message; the checksum is the ICMPv6 layer's.

use super::icmpv6::Icmpv6Message;
use super::{Result, WireError};
use std::net::Ipv6Addr;

/// Length of an MLDv1 message, query, report or done (`MLD_V1_QUERY_LEN`).
pub const V1_LEN: usize = 24;
/// Smallest MLDv2 query (`MLD_V2_QUERY_LEN_MIN`).
pub const V2_QUERY_MIN_LEN: usize = 28;
/// Length of an MLDv2 group record without sources or auxiliary data.
pub const RECORD_LEN: usize = 20;

/// MLDv2 group record types (RFC 3810 section 5.2.12; Linux: `MLD2_*`).
pub mod record_type {
    /// Current state: include the listed sources (`MLD2_MODE_IS_INCLUDE`).
    pub const MODE_IS_INCLUDE: u8 = 1;
    /// Current state: exclude the listed sources (`MLD2_MODE_IS_EXCLUDE`).
    pub const MODE_IS_EXCLUDE: u8 = 2;
    /// Filter change to include (`MLD2_CHANGE_TO_INCLUDE`): with no sources, a leave.
    pub const CHANGE_TO_INCLUDE: u8 = 3;
    /// Filter change to exclude (`MLD2_CHANGE_TO_EXCLUDE`): with no sources, a join.
    pub const CHANGE_TO_EXCLUDE: u8 = 4;
    /// Sources allowed (`MLD2_ALLOW_NEW_SOURCES`).
    pub const ALLOW_NEW_SOURCES: u8 = 5;
    /// Sources blocked (`MLD2_BLOCK_OLD_SOURCES`).
    pub const BLOCK_OLD_SOURCES: u8 = 6;
}

/// The MLDv2 part of a query (RFC 3810 section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mldv2Query<'a> {
    /// Suppress router-side processing (S).
    pub suppress: bool,
    /// Querier's robustness variable (QRV), 0-7.
    pub qrv: u8,
    /// Querier's query interval code (QQIC).
    pub qqic: u8,
    /// The source addresses, 16 bytes each.
    pub sources: &'a [u8],
}

/// One group record of an MLDv2 report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MldRecord<'a> {
    /// [`record_type`].
    pub record_type: u8,
    /// The multicast group.
    pub group: Ipv6Addr,
    /// The source addresses, 16 bytes each.
    pub sources: &'a [u8],
}

impl MldRecord<'_> {
    /// Writes a record with no sources or auxiliary data (a join or leave) into `buf`'s
    /// first [`RECORD_LEN`] bytes. Linux: `add_grhead`.
    pub fn emit_no_sources(buf: &mut [u8], record_type: u8, group: &Ipv6Addr) -> usize {
        buf[..4].copy_from_slice(&[record_type, 0, 0, 0]);
        buf[4..RECORD_LEN].copy_from_slice(&group.octets());
        RECORD_LEN
    }
}

/// The group records of an MLDv2 report, checked when the report was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MldRecords<'a> {
    count: u16,
    bytes: &'a [u8],
}

impl<'a> MldRecords<'a> {
    /// `count` records in `bytes` (as written by [`MldRecord::emit_no_sources`]):
    /// [`WireError::Malformed`] unless exactly `count` whole records fill `bytes`.
    pub fn new(count: u16, bytes: &'a [u8]) -> Result<MldRecords<'a>> {
        let r = MldRecords { count, bytes };
        let mut seen = 0u16;
        let mut rest = bytes;
        while !rest.is_empty() {
            let len = record_len(rest).ok_or(WireError::Malformed)?;
            rest = &rest[len..];
            seen = seen.checked_add(1).ok_or(WireError::Malformed)?;
        }
        if seen != count {
            return Err(WireError::Malformed);
        }
        Ok(r)
    }

    /// Number of records.
    pub fn count(&self) -> u16 {
        self.count
    }

    /// The records' bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The records in order.
    pub fn iter(&self) -> impl Iterator<Item = MldRecord<'a>> + 'a {
        let mut rest = self.bytes;
        std::iter::from_fn(move || {
            let len = record_len(rest)?;
            let (r, tail) = rest.split_at(len);
            rest = tail;
            let nsrc = usize::from(u16::from_be_bytes([r[2], r[3]]));
            let mut g = [0u8; 16];
            g.copy_from_slice(&r[4..20]);
            Some(MldRecord {
                record_type: r[0],
                group: Ipv6Addr::from(g),
                sources: &r[RECORD_LEN..RECORD_LEN + 16 * nsrc],
            })
        })
    }
}

/// Length of the record at the start of `b`, if it is whole.
fn record_len(b: &[u8]) -> Option<usize> {
    if b.len() < RECORD_LEN {
        return None;
    }
    let aux = usize::from(b[1]) * 4;
    let nsrc = usize::from(u16::from_be_bytes([b[2], b[3]]));
    let len = RECORD_LEN + 16 * nsrc + aux;
    (len <= b.len()).then_some(len)
}

/// The parsed form of an MLD message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MldRepr<'a> {
    /// Listener query (type 130), MLDv1 or MLDv2.
    Query {
        /// Maximum response code (milliseconds in MLDv1; see [`MldRepr::max_resp_delay_ms`]).
        max_resp_code: u16,
        /// The group asked about, or `::` for a general query.
        group: Ipv6Addr,
        /// The MLDv2 fields, for a query of at least [`V2_QUERY_MIN_LEN`] bytes.
        v2: Option<Mldv2Query<'a>>,
    },
    /// MLDv1 report (type 131).
    Report {
        /// The group joined.
        group: Ipv6Addr,
    },
    /// MLDv1 done (type 132).
    Done {
        /// The group left.
        group: Ipv6Addr,
    },
    /// MLDv2 report (type 143).
    ReportV2 {
        /// The group records.
        records: MldRecords<'a>,
    },
}

fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(o)
}

impl<'a> MldRepr<'a> {
    /// Reads an MLD message: `msg` is the whole ICMPv6 message, its checksum verified.
    ///
    /// As `igmp6_event_query`: a query of exactly 24 bytes is MLDv1, of 28 or more MLDv2
    /// (its source list must fit), anything else [`WireError::Malformed`]; reports and dones
    /// need 24 bytes, MLDv2 reports whole records ([`MldRecords::new`]).
    pub fn parse(msg: &'a [u8]) -> Result<MldRepr<'a>> {
        if msg.len() < 8 {
            return Err(WireError::Truncated);
        }
        let t = Icmpv6Message(msg[0]);
        match t {
            Icmpv6Message::MLD_QUERY => {
                let max_resp_code = u16::from_be_bytes([msg[4], msg[5]]);
                let v2 = if msg.len() == V1_LEN {
                    None
                } else if msg.len() >= V2_QUERY_MIN_LEN {
                    let n = usize::from(u16::from_be_bytes([msg[26], msg[27]]));
                    let sources = msg
                        .get(V2_QUERY_MIN_LEN..V2_QUERY_MIN_LEN + 16 * n)
                        .ok_or(WireError::Malformed)?;
                    Some(Mldv2Query {
                        suppress: msg[24] & 0x08 != 0,
                        qrv: msg[24] & 0x07,
                        qqic: msg[25],
                        sources,
                    })
                } else {
                    return Err(WireError::Malformed);
                };
                Ok(MldRepr::Query {
                    max_resp_code,
                    group: addr_at(msg, 8),
                    v2,
                })
            }
            Icmpv6Message::MLD_REPORT | Icmpv6Message::MLD_DONE => {
                if msg.len() < V1_LEN {
                    return Err(WireError::Truncated);
                }
                let group = addr_at(msg, 8);
                Ok(if t == Icmpv6Message::MLD_REPORT {
                    MldRepr::Report { group }
                } else {
                    MldRepr::Done { group }
                })
            }
            Icmpv6Message::MLD2_REPORT => {
                let count = u16::from_be_bytes([msg[6], msg[7]]);
                Ok(MldRepr::ReportV2 {
                    records: MldRecords::new(count, &msg[8..])?,
                })
            }
            _ => Err(WireError::Malformed),
        }
    }

    /// The maximum response delay in milliseconds: the code itself in MLDv1 and below 32768
    /// in MLDv2, otherwise MLDv2's floating-point form (RFC 3810 section 5.1.3).
    /// Linux: `mldv2_mrc`.
    pub fn max_resp_delay_ms(&self) -> Option<u32> {
        let MldRepr::Query {
            max_resp_code, v2, ..
        } = *self
        else {
            return None;
        };
        let c = u32::from(max_resp_code);
        if v2.is_none() || c < 0x8000 {
            return Some(c);
        }
        let mant = c & 0x0fff;
        let exp = (c >> 12) & 0x7;
        Some((mant | 0x1000) << (exp + 3))
    }

    /// The ICMPv6 message type.
    pub fn msg_type(&self) -> Icmpv6Message {
        match self {
            MldRepr::Query { .. } => Icmpv6Message::MLD_QUERY,
            MldRepr::Report { .. } => Icmpv6Message::MLD_REPORT,
            MldRepr::Done { .. } => Icmpv6Message::MLD_DONE,
            MldRepr::ReportV2 { .. } => Icmpv6Message::MLD2_REPORT,
        }
    }

    /// Length of the whole ICMPv6 message [`MldRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            MldRepr::Query { v2: None, .. } | MldRepr::Report { .. } | MldRepr::Done { .. } => {
                V1_LEN
            }
            MldRepr::Query { v2: Some(q), .. } => V2_QUERY_MIN_LEN + q.sources.len(),
            MldRepr::ReportV2 { records } => 8 + records.as_bytes().len(),
        }
    }

    /// Writes the whole ICMPv6 message into the first [`buffer_len`](MldRepr::buffer_len)
    /// bytes of `buf`, with a zero checksum for the ICMPv6 layer to fill. Linux:
    /// `mld_sendpack` (MLDv2 reports), `igmp6_send` (MLDv1).
    pub fn emit(&self, buf: &mut [u8]) {
        let len = self.buffer_len();
        let b = &mut buf[..len];
        b[..8].fill(0);
        b[0] = self.msg_type().0;
        match *self {
            MldRepr::Query {
                max_resp_code,
                group,
                v2,
            } => {
                b[4..6].copy_from_slice(&max_resp_code.to_be_bytes());
                b[8..24].copy_from_slice(&group.octets());
                if let Some(q) = v2 {
                    b[24] = (u8::from(q.suppress) << 3) | (q.qrv & 7);
                    b[25] = q.qqic;
                    b[26..28].copy_from_slice(&((q.sources.len() / 16) as u16).to_be_bytes());
                    b[28..].copy_from_slice(q.sources);
                }
            }
            MldRepr::Report { group } | MldRepr::Done { group } => {
                b[8..24].copy_from_slice(&group.octets());
            }
            MldRepr::ReportV2 { records } => {
                b[6..8].copy_from_slice(&records.count().to_be_bytes());
                b[8..].copy_from_slice(records.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::captures::*;
    use super::super::icmpv6::{Icmpv6Packet, Icmpv6Repr};
    use super::super::ipv6::{solicited_node, Ipv6Packet, ALL_MLDV2_ROUTERS};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn join_report_from_linux() {
        let f = from_hex(MLD2_REPORT6);
        let p = Ipv6Packet::new_checked(&f[..]).unwrap();
        assert_eq!((p.hop_limit(), p.dst_addr()), (1, ALL_MLDV2_ROUTERS));
        let (s, d) = (p.src_addr(), p.dst_addr());
        let msg = &p.payload()[8..]; // after the hop-by-hop header
        let icmp = Icmpv6Packet::new_checked(msg).unwrap();
        let r = Icmpv6Repr::parse(&s, &d, &icmp).unwrap();
        let Icmpv6Repr::Mld(MldRepr::ReportV2 { records }) = r else {
            panic!("{r:?}")
        };
        let groups: Vec<_> = records
            .iter()
            .map(|g| (g.record_type, g.group, g.sources.len()))
            .collect();
        let ll: Ipv6Addr = "fe80::ff:fe00:a01".parse().unwrap();
        let global: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            groups,
            vec![
                (record_type::CHANGE_TO_EXCLUDE, solicited_node(&ll), 0),
                (record_type::CHANGE_TO_EXCLUDE, solicited_node(&global), 0),
            ]
        );
        // The same report built from scratch is Linux's, byte for byte.
        let mut recs = [0u8; 2 * RECORD_LEN];
        MldRecord::emit_no_sources(
            &mut recs,
            record_type::CHANGE_TO_EXCLUDE,
            &solicited_node(&ll),
        );
        MldRecord::emit_no_sources(
            &mut recs[RECORD_LEN..],
            record_type::CHANGE_TO_EXCLUDE,
            &solicited_node(&global),
        );
        let ours = Icmpv6Repr::Mld(MldRepr::ReportV2 {
            records: MldRecords::new(2, &recs).unwrap(),
        });
        let mut out = vec![0u8; ours.buffer_len()];
        ours.emit(&s, &d, &mut out);
        assert_eq!(out, msg);
    }

    #[test]
    fn queries_v1_and_v2() {
        let mut q1 = [0u8; V1_LEN];
        q1[0] = Icmpv6Message::MLD_QUERY.0;
        q1[4..6].copy_from_slice(&10_000u16.to_be_bytes());
        let r = MldRepr::parse(&q1).unwrap();
        assert_eq!(r.max_resp_delay_ms(), Some(10_000));
        assert!(matches!(r, MldRepr::Query { v2: None, .. }));

        let mut q2 = [0u8; V2_QUERY_MIN_LEN + 16];
        q2[0] = Icmpv6Message::MLD_QUERY.0;
        q2[4..6].copy_from_slice(&0x8123u16.to_be_bytes());
        q2[24] = 0x0a; // S, QRV 2
        q2[25] = 125;
        q2[27] = 1;
        let r = MldRepr::parse(&q2).unwrap();
        let MldRepr::Query { v2: Some(v2), .. } = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            (v2.suppress, v2.qrv, v2.qqic, v2.sources.len()),
            (true, 2, 125, 16)
        );
        assert_eq!(r.max_resp_delay_ms(), Some((0x123 | 0x1000) << 3));
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&mut out);
        assert_eq!(out, q2);

        // 25-27 bytes is neither; a source list longer than the message is refused.
        assert_eq!(MldRepr::parse(&q2[..26]), Err(WireError::Malformed));
        q2[27] = 2;
        assert_eq!(MldRepr::parse(&q2), Err(WireError::Malformed));
    }

    #[test]
    fn reports_need_whole_records() {
        let mut m = vec![Icmpv6Message::MLD2_REPORT.0, 0, 0, 0, 0, 0, 0, 1];
        m.extend_from_slice(&[4, 0, 0, 1]);
        m.extend_from_slice(&[0xff; 16]);
        assert_eq!(
            MldRepr::parse(&m),
            Err(WireError::Malformed),
            "one source missing"
        );
        m.extend_from_slice(&[0x20; 16]);
        assert!(MldRepr::parse(&m).is_ok());
        m[7] = 2;
        assert_eq!(
            MldRepr::parse(&m),
            Err(WireError::Malformed),
            "count says two"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_messages_never_panic(mut b in proptest::collection::vec(any::<u8>(), 0..120),
                                          ty in prop_oneof![Just(130u8), Just(131), Just(132), Just(143)]) {
            if !b.is_empty() {
                b[0] = ty;
            }
            if let Ok(r) = MldRepr::parse(&b) {
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&mut out);
                prop_assert_eq!(MldRepr::parse(&out).unwrap(), r);
                let _ = r.max_resp_delay_ms();
            }
        }
    }
}
