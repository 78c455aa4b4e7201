//! Frames captured from Linux for the wire tests (test builds only).
//!
//! Captured with an AF_PACKET socket on a veth pair between two network namespaces,
//! 192.0.2.1/24 (MAC 02:00:00:00:0a:01) and 192.0.2.2/24 (MAC 02:00:00:00:0b:02); ICMP
//! echoes were sent from a raw socket, the record-route option set with `IP_OPTIONS`, and the
//! port unreachable provoked with a UDP datagram to a closed port. The 14-byte Ethernet
//! header is stripped: each array starts at the network header.
//!
//! The IPv6 captures (hex strings, decoded by [`from_hex`]) come from the same pair with
//! 2001:db8::1/64 and 2001:db8::2/64 (Linux 6.18): the link coming up (DAD probes, MLDv2
//! reports, a router solicitation), neighbour resolution, an echo from a raw ICMPv6 socket,
//! and a 3072-byte UDP datagram to a closed port, fragmented on the way out.

/// ARP request: who has 192.0.2.2? tell 192.0.2.1 (02:00:00:00:0a:01).
pub const ARP_REQUEST: [u8; 28] = [
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0xc0, 0x00,
    0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x02,
];

/// ARP reply: 192.0.2.2 is at 02:00:00:00:0b:02, to 192.0.2.1.
pub const ARP_REPLY: [u8; 28] = [
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0xc0, 0x00,
    0x02, 0x02, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0xc0, 0x00, 0x02, 0x01,
];

/// IPv4 + ICMP echo request 192.0.2.1 -> 192.0.2.2, id 0x1234 seq 1, 32 data bytes 0x10..=0x2f, DF set.
pub const ECHO_REQUEST: [u8; 60] = [
    0x45, 0x00, 0x00, 0x3c, 0x26, 0x69, 0x40, 0x00, 0x40, 0x01, 0x90, 0x54, 0xc0, 0x00, 0x02, 0x01,
    0xc0, 0x00, 0x02, 0x02, 0x08, 0x00, 0xf3, 0xc8, 0x12, 0x34, 0x00, 0x01, 0x10, 0x11, 0x12, 0x13,
    0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23,
    0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
];

/// IPv4 + ICMP echo reply 192.0.2.2 -> 192.0.2.1 answering [`ECHO_REQUEST`].
pub const ECHO_REPLY: [u8; 60] = [
    0x45, 0x00, 0x00, 0x3c, 0x04, 0xa5, 0x00, 0x00, 0x40, 0x01, 0xf2, 0x18, 0xc0, 0x00, 0x02, 0x02,
    0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0xfb, 0xc8, 0x12, 0x34, 0x00, 0x01, 0x10, 0x11, 0x12, 0x13,
    0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23,
    0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
];

/// IPv4 with a record-route option (IHL 15) + ICMP echo request id 0x1234 seq 2, data "linnet-rr".
pub const RR_ECHO_REQUEST: [u8; 77] = [
    0x4f, 0x00, 0x00, 0x4d, 0x26, 0x8d, 0x40, 0x00, 0x40, 0x01, 0x75, 0x35, 0xc0, 0x00, 0x02, 0x01,
    0xc0, 0x00, 0x02, 0x02, 0x07, 0x27, 0x08, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x06, 0x0b,
    0x12, 0x34, 0x00, 0x02, 0x6c, 0x69, 0x6e, 0x6e, 0x65, 0x74, 0x2d, 0x72, 0x72,
];

/// The reply to [`RR_ECHO_REQUEST`], record-route option filled in by Linux.
pub const RR_ECHO_REPLY: [u8; 77] = [
    0x4f, 0x00, 0x00, 0x4d, 0x04, 0xe6, 0x00, 0x00, 0x40, 0x01, 0xc9, 0x59, 0xc0, 0x00, 0x02, 0x02,
    0xc0, 0x00, 0x02, 0x01, 0x07, 0x27, 0x10, 0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02, 0xc0,
    0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x0b,
    0x12, 0x34, 0x00, 0x02, 0x6c, 0x69, 0x6e, 0x6e, 0x65, 0x74, 0x2d, 0x72, 0x72,
];

/// IPv4 + UDP 192.0.2.1:40000 -> 192.0.2.2:9, data "hello, closed port".
pub const UDP_CLOSED: [u8; 46] = [
    0x45, 0x00, 0x00, 0x2e, 0x64, 0xad, 0x40, 0x00, 0x40, 0x11, 0x52, 0x0e, 0xc0, 0x00, 0x02, 0x01,
    0xc0, 0x00, 0x02, 0x02, 0x9c, 0x40, 0x00, 0x09, 0x00, 0x1a, 0x84, 0x2f, 0x68, 0x65, 0x6c, 0x6c,
    0x6f, 0x2c, 0x20, 0x63, 0x6c, 0x6f, 0x73, 0x65, 0x64, 0x20, 0x70, 0x6f, 0x72, 0x74,
];

/// IPv4 (TOS 0xc0) + ICMP destination unreachable, port unreachable, quoting [`UDP_CLOSED`].
pub const PORT_UNREACH: [u8; 74] = [
    0x45, 0xc0, 0x00, 0x4a, 0x05, 0x0e, 0x00, 0x00, 0x40, 0x01, 0xf0, 0xe1, 0xc0, 0x00, 0x02, 0x02,
    0xc0, 0x00, 0x02, 0x01, 0x03, 0x03, 0x51, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x2e,
    0x64, 0xad, 0x40, 0x00, 0x40, 0x11, 0x52, 0x0e, 0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02,
    0x9c, 0x40, 0x00, 0x09, 0x00, 0x1a, 0x84, 0x2f, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x63,
    0x6c, 0x6f, 0x73, 0x65, 0x64, 0x20, 0x70, 0x6f, 0x72, 0x74,
];

/// Decodes one of the hex captures below (test helper).
pub fn from_hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex capture"))
        .collect()
}

/// IPv6 + ICMPv6 echo request 2001:db8::1 -> 2001:db8::2, id 0x1234 seq 1, 32 data bytes 0x10..=0x2f (sent from a raw socket).
pub const ECHO6_REQUEST: &str = concat!(
    "60031c2400283a4020010db800000000000000000000000120010db800000000000000000000000280001ff1",
    "12340001101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f",
);

/// IPv6 + ICMPv6 echo reply 2001:db8::2 -> 2001:db8::1 answering [`ECHO6_REQUEST`].
pub const ECHO6_REPLY: &str = concat!(
    "600d2fbc00283a4020010db800000000000000000000000220010db800000000000000000000000181001ef1",
    "12340001101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f",
);

/// Neighbour solicitation 2001:db8::1 -> ff02::1:ff00:2 for target 2001:db8::2, source link-layer address option 02:00:00:00:0a:01.
pub const NS6_SOLICIT: &str = concat!(
    "6000000000203aff20010db8000000000000000000000001ff0200000000000000000001ff00000287001227",
    "0000000020010db80000000000000000000000020101020000000a01",
);

/// Neighbour advertisement 2001:db8::2 -> 2001:db8::1 answering [`NS6_SOLICIT`]: solicited and override, target link-layer address option 02:00:00:00:0b:02.
pub const NA6_SOLICITED: &str = concat!(
    "6000000000203aff20010db800000000000000000000000220010db800000000000000000000000188007f71",
    "6000000020010db80000000000000000000000020201020000000b02",
);

/// Duplicate address detection probe :: -> ff02::1:ff00:1 for target 2001:db8::1, with a nonce option (type 14, RFC 7527) and no link-layer address option.
pub const NS6_DAD: &str = concat!(
    "6000000000203aff00000000000000000000000000000000ff0200000000000000000001ff0000018700b6d1",
    "0000000020010db80000000000000000000000010e010dc657f32259",
);

/// Router solicitation fe80::ff:fe00:a01 -> ff02::2 with a source link-layer address option.
pub const RS6: &str = concat!(
    "6000000000103afffe80000000000000000000fffe000a01ff0200000000000000000000000000028500672c",
    "000000000101020000000a01",
);

/// MLDv2 report :: -> ff02::16 behind a hop-by-hop header with the router alert option: two CHANGE_TO_EXCLUDE records, ff02::1:ff00:a01 and ff02::1:ff00:1.
pub const MLD2_REPORT6: &str = concat!(
    "600000000038000100000000000000000000000000000000ff0200000000000000000000000000163a000502",
    "000001008f00636e0000000204000000ff0200000000000000000001ff000a0104000000ff02000000000000",
    "00000001ff000001",
);

/// The last fragment (offset 2896: two 1448-byte fragments before it; M clear, id 0x2dcc9e84) of a 3072-byte UDP datagram 2001:db8::1 -> 2001:db8::2 port 9.
pub const FRAG6_LAST: &str = concat!(
    "6001796e00c02c4020010db800000000000000000000000120010db800000000000000000000000211000b50",
    "2dcc9e8448494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f",
    "707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b",
    "9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7",
    "c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3",
    "f4f5f6f7f8f9fafbfcfdfeff",
);

/// ICMPv6 port unreachable 2001:db8::2 -> 2001:db8::1 quoting the reassembled UDP datagram of [`FRAG6_LAST`] up to the 1280-byte minimum MTU.
pub const PORT_UNREACH6: &str = concat!(
    "600fd95704d83a4020010db800000000000000000000000220010db80000000000000000000000010104ecba",
    "000000006001796e0c08114020010db800000000000000000000000120010db8000000000000000000000002",
    "dcb300090c08acaf000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223",
    "2425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
    "505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b",
    "7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7",
    "a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3",
    "d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b",
    "2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f5051525354555657",
    "58595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283",
    "8485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadb",
    "dcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff0001020304050607",
    "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233",
    "3435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f",
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b",
    "8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7",
    "b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3",
    "e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f",
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b",
    "3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061626364656667",
    "68696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f90919293",
    "9495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaeb",
    "ecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f1011121314151617",
    "18191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40414243",
    "4445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f",
    "707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b",
    "9c9d9e9f",
);

/// `ping -6 -s 3000 2001:db8::2` from 2001:db8::1 over a 1500-byte veth (Linux 6.18, captured
/// with tshark on the receiving end): the 40-byte IPv6 header and 8-byte fragment header of
/// each of the three fragments (1496, 1496 and 160 bytes; offsets 0, 1448, 2896; id
/// 0x3e93140d). The 3008-byte ICMPv6 payload is [`PING6_3000_ICMP_HEAD`] followed by ping's
/// pattern (data byte i = i mod 256 from byte 16 of the echo data on), checked over the
/// whole capture.
pub const PING6_3000_FRAG_HEADERS: [&str; 3] = [
    "60031c2405b02c4020010db800000000000000000000000120010db80000000000000000000000023a0000013e93140d",
    "60031c2405b02c4020010db800000000000000000000000120010db80000000000000000000000023a0005a93e93140d",
    "60031c2400782c4020010db800000000000000000000000120010db80000000000000000000000023a000b503e93140d",
];

/// The first 24 bytes of the echo request of [`PING6_3000_FRAG_HEADERS`]: ICMPv6 header (id
/// 0x1a5e, seq 1) and ping's 16-byte timestamp.
pub const PING6_3000_ICMP_HEAD: &str = "80005d881a5e00016df2166b00000000389d040000000000";
