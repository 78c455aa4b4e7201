//! Random frames through a stack with tracing and capture on, and random filter texts: no
//! panic, and the trace ring and capture queue never grow past their bounds.

use linnet::buf::PacketBuf;
use linnet::trace::{Filter, TraceRecord};
use linnet::EthernetAddress;
use linnet::{Instant, Stack};
use proptest::prelude::*;
use std::time::Duration;

const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

const WORDS: &[&str] = &[
    "host",
    "src",
    "dst",
    "net",
    "port",
    "tcp",
    "udp",
    "icmp",
    "arp",
    "ip",
    "and",
    "or",
    "not",
    "!",
    "&&",
    "||",
    "(",
    ")",
    "192.0.2.1",
    "192.0.2.0/24",
    "80",
    "7",
    "x",
    "/",
    "99999",
];

fn frame(bytes: &[u8], ethertype: u16, proto: u8) -> Vec<u8> {
    // Half-sensible frames reach further: our MAC, IPv4 or ARP, a protocol byte.
    let mut f = MAC.0.to_vec();
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(bytes);
    if ethertype == 0x0800 && f.len() > 23 {
        f[14] = 0x45;
        f[23] = proto;
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn taps_on_random_frames_stay_bounded(
        frames in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..120), prop::sample::select(vec![0x0800u16, 0x0806, 0x86dd]), any::<u8>()),
            1..40),
        filter in prop::sample::select(vec!["", "tcp", "udp or arp", "not host 192.0.2.1", "port 80 or icmp"]),
    ) {
        let mut s = Stack::default();
        let i = s.add_interface("eth0", MAC, 1500);
        s.add_addr(i, "192.0.2.2/24".parse().unwrap(), Instant::ZERO).unwrap();
        s.set_link_up(i, true, Instant::ZERO).unwrap();
        let f = Filter::parse(filter).unwrap();
        s.trace_start(f.clone(), 16).unwrap();
        let cap = s.capture_start(None, f, 64, 4).unwrap();
        let mut now = Instant::ZERO;
        let mut recs: Vec<TraceRecord> = Vec::new();
        for (bytes, et, proto) in &frames {
            now += Duration::from_millis(1);
            s.receive(i, PacketBuf::from_slice(&frame(bytes, *et, *proto), 0), now);
            s.poll(now);
            while let Some(b) = s.take_tx(i, now) {
                s.recycle(b);
            }
            prop_assert!(s.capture(cap).unwrap().pending() <= 4);
        }
        s.trace_drain(&mut recs);
        prop_assert!(recs.len() <= 16);
        for r in &recs {
            let line = s.trace_line(r);
            prop_assert!(!line.text.is_empty());
            prop_assert!(r.id != 0);
        }
        let mut n = 0;
        s.capture_mut(cap).unwrap().drain(|slot| {
            n += 1;
            assert!(slot.data.len() <= 64);
        });
        prop_assert!(n <= 4);
    }

    #[test]
    fn random_filter_texts_parse_or_fail_cleanly(
        words in prop::collection::vec(prop::sample::select(WORDS.to_vec()), 0..12),
        bytes in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let text = words.join(" ");
        match Filter::parse(&text) {
            Ok(f) => {
                let _ = f.matches_frame(&bytes);
                let _ = f.matches_ipv4(&bytes);
                // The normalised text parses to the same filter.
                prop_assert_eq!(Filter::parse(f.text()).unwrap(), f);
            }
            Err(e) => prop_assert!(e.to_string().starts_with("filter: ")),
        }
    }
}
