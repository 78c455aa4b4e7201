//! A pcapng writer (and a small reader for tests): Section Header, Interface Description and
//! Enhanced Packet blocks, little-endian, microsecond timestamps, direction flags.
//!
//! Written from the pcapng specification (draft-ietf-opsawg-pcapng): every block is
//! `type, total length, body padded to 32 bits, total length`; options are
//! `code, length, value padded to 32 bits`, ended by `opt_endofopt`.

use super::capture::Direction;
use std::io::{self, Write};

/// Section Header Block type.
pub const SHB: u32 = 0x0A0D_0D0A;
/// Interface Description Block type.
pub const IDB: u32 = 1;
/// Enhanced Packet Block type.
pub const EPB: u32 = 6;
/// Byte-order magic.
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u16 = 1;

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

fn opt(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&(value.len() as u16).to_le_bytes());
    body.extend_from_slice(value);
    body.resize(pad4(body.len()), 0);
}

fn end_opts(body: &mut Vec<u8>) {
    body.extend_from_slice(&[0, 0, 0, 0]);
}

/// Writes a pcapng stream: one section, interfaces added as they appear.
pub struct PcapngWriter<W: Write> {
    out: W,
    interfaces: u32,
    body: Vec<u8>,
}

impl<W: Write> PcapngWriter<W> {
    /// Start a section (writes the Section Header Block), naming the writing application.
    pub fn new(mut out: W, application: &str) -> io::Result<PcapngWriter<W>> {
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        opt(&mut body, 4, application.as_bytes()); // shb_userappl
        end_opts(&mut body);
        write_block(&mut out, SHB, &body)?;
        Ok(PcapngWriter {
            out,
            interfaces: 0,
            body,
        })
    }

    /// Describe an Ethernet interface (Interface Description Block); returns its id for
    /// [`PcapngWriter::packet`].
    pub fn interface(&mut self, name: &str, snaplen: u32) -> io::Result<u32> {
        let b = &mut self.body;
        b.clear();
        b.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&snaplen.to_le_bytes());
        opt(b, 2, name.as_bytes()); // if_name
        opt(b, 9, &[6]); // if_tsresol: 10^-6 s
        end_opts(b);
        write_block(&mut self.out, IDB, b)?;
        self.interfaces += 1;
        Ok(self.interfaces - 1)
    }

    /// Write one packet (Enhanced Packet Block) with its timestamp in microseconds since
    /// the Unix epoch, its length on the wire and its direction (`epb_flags`).
    pub fn packet(
        &mut self,
        interface: u32,
        ts_us: u64,
        data: &[u8],
        orig_len: usize,
        dir: Direction,
    ) -> io::Result<()> {
        if interface >= self.interfaces {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("pcapng: interface {interface} was not described"),
            ));
        }
        let b = &mut self.body;
        b.clear();
        b.extend_from_slice(&interface.to_le_bytes());
        b.extend_from_slice(&((ts_us >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(ts_us as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&(orig_len.max(data.len()) as u32).to_le_bytes());
        b.extend_from_slice(data);
        b.resize(pad4(b.len()), 0);
        let flags: u32 = match dir {
            Direction::In => 1,
            Direction::Out => 2,
        };
        opt(b, 2, &flags.to_le_bytes()); // epb_flags
        end_opts(b);
        write_block(&mut self.out, EPB, b)
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn write_block(out: &mut impl Write, ty: u32, body: &[u8]) -> io::Result<()> {
    let total = (12 + pad4(body.len())) as u32;
    out.write_all(&ty.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&[0u8; 3][..pad4(body.len()) - body.len()])?;
    out.write_all(&total.to_le_bytes())
}

/// A block read back by [`read_blocks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Block type.
    pub ty: u32,
    /// Body (between the two length fields).
    pub body: Vec<u8>,
}

/// A packet read back from an Enhanced Packet Block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Interface id.
    pub interface: u32,
    /// Timestamp (in the interface's resolution).
    pub ts: u64,
    /// Captured bytes.
    pub data: Vec<u8>,
    /// Original length.
    pub orig_len: u32,
    /// `epb_flags`, if present.
    pub flags: Option<u32>,
}

/// Split a little-endian pcapng stream into blocks, checking both length fields.
pub fn read_blocks(mut b: &[u8]) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let u32_at = |s: &[u8], i: usize| -> Result<u32, String> {
        s.get(i..i + 4)
            .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
            .ok_or_else(|| "truncated".to_string())
    };
    while !b.is_empty() {
        let ty = u32_at(b, 0)?;
        let len = u32_at(b, 4)? as usize;
        if len < 12 || len & 3 != 0 || len > b.len() {
            return Err(format!("bad block length {len}"));
        }
        if u32_at(b, len - 4)? as usize != len {
            return Err("trailing length differs".into());
        }
        out.push(Block {
            ty,
            body: b[8..len - 4].to_vec(),
        });
        b = &b[len..];
    }
    Ok(out)
}

/// Parse an Enhanced Packet Block's body.
pub fn parse_epb(body: &[u8]) -> Result<Packet, String> {
    let u = |i: usize| -> Result<u32, String> {
        body.get(i..i + 4)
            .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
            .ok_or_else(|| "truncated EPB".to_string())
    };
    let caplen = u(12)? as usize;
    let data = body
        .get(20..20 + caplen)
        .ok_or("EPB data beyond block")?
        .to_vec();
    let mut o = 20 + pad4(caplen);
    let mut flags = None;
    while o + 4 <= body.len() {
        let code = u16::from_le_bytes([body[o], body[o + 1]]);
        let len = u16::from_le_bytes([body[o + 2], body[o + 3]]) as usize;
        if code == 0 {
            break;
        }
        if code == 2 && len == 4 {
            flags = Some(u(o + 4)?);
        }
        o += 4 + pad4(len);
    }
    Ok(Packet {
        interface: u(0)?,
        ts: ((u(4)? as u64) << 32) | u(8)? as u64,
        data,
        orig_len: u(16)?,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_laid_out_as_the_spec_says() {
        let mut w = PcapngWriter::new(Vec::new(), "linnet").unwrap();
        assert_eq!(w.interface("eth0", 65535).unwrap(), 0);
        assert_eq!(w.interface("lo", 262144).unwrap(), 1);
        let frame: Vec<u8> = (0..61u8).collect();
        let ts = 1_700_000_000_123_456u64;
        w.packet(0, ts, &frame, 61, Direction::In).unwrap();
        w.packet(1, ts + 1, &frame[..20], 61, Direction::Out)
            .unwrap();
        assert!(w.packet(2, 0, &frame, 61, Direction::In).is_err());
        let bytes = w.into_inner();
        // SHB: type, length, magic, version 1.0, section length -1.
        assert_eq!(&bytes[0..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
        assert_eq!(&bytes[8..12], &[0x4d, 0x3c, 0x2b, 0x1a]);
        assert_eq!(&bytes[12..16], &[1, 0, 0, 0]);
        assert_eq!(&bytes[16..24], &[0xff; 8]);
        assert_eq!(bytes.len() % 4, 0);
        let blocks = read_blocks(&bytes).unwrap();
        let types: Vec<u32> = blocks.iter().map(|b| b.ty).collect();
        assert_eq!(types, [SHB, IDB, IDB, EPB, EPB]);
        // IDB: linktype 1, snaplen, if_name "eth0", if_tsresol 6.
        let idb = &blocks[1].body;
        assert_eq!(&idb[0..2], &[1, 0]);
        assert_eq!(u32::from_le_bytes(idb[4..8].try_into().unwrap()), 65535);
        assert_eq!(&idb[8..16], &[2, 0, 4, 0, b'e', b't', b'h', b'0']);
        assert_eq!(&idb[16..21], &[9, 0, 1, 0, 6]);
        let p = parse_epb(&blocks[3].body).unwrap();
        assert_eq!(
            (p.interface, p.ts, p.orig_len, p.flags),
            (0, ts, 61, Some(1))
        );
        assert_eq!(p.data, frame);
        let q = parse_epb(&blocks[4].body).unwrap();
        assert_eq!(
            (q.interface, q.data.len(), q.orig_len, q.flags),
            (1, 20, 61, Some(2))
        );
    }

    #[test]
    fn reader_rejects_damaged_streams() {
        let mut w = PcapngWriter::new(Vec::new(), "t").unwrap();
        w.interface("x", 100).unwrap();
        let mut b = w.into_inner();
        assert!(read_blocks(&b[..b.len() - 1]).is_err());
        let n = b.len();
        b[n - 1] ^= 1;
        assert!(read_blocks(&b).is_err());
    }
}
