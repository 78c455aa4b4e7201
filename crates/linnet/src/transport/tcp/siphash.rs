//! SipHash-2-4 (Aumasson and Bernstein, 2012), the keyed hash behind ISNs and SYN cookies.
//! Linux: lib/siphash.c (`siphash_3u32` and friends, used by `secure_tcp_seq`).

/// An incremental SipHash-2-4 state with a 128-bit key.
#[derive(Debug, Clone)]
pub struct SipHasher24 {
    v: [u64; 4],
    tail: u64,
    ntail: usize,
    len: u64,
}

impl SipHasher24 {
    /// A hasher keyed with `(k0, k1)`.
    pub fn new(k0: u64, k1: u64) -> SipHasher24 {
        SipHasher24 {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            len: 0,
        }
    }

    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }

    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        Self::round(&mut self.v);
        Self::round(&mut self.v);
        self.v[0] ^= m;
    }

    /// Feed bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.tail |= (b as u64) << (8 * self.ntail);
            self.ntail += 1;
            self.len += 1;
            if self.ntail == 8 {
                let m = self.tail;
                self.compress(m);
                self.tail = 0;
                self.ntail = 0;
            }
        }
    }

    /// Feed a `u32` (little-endian bytes).
    pub fn write_u32(&mut self, x: u32) {
        self.write(&x.to_le_bytes());
    }

    /// Feed a `u16` (little-endian bytes).
    pub fn write_u16(&mut self, x: u16) {
        self.write(&x.to_le_bytes());
    }

    /// The 64-bit hash.
    pub fn finish(mut self) -> u64 {
        let b = ((self.len & 0xff) << 56) | self.tail;
        self.compress(b);
        self.v[2] ^= 0xff;
        for _ in 0..4 {
            Self::round(&mut self.v);
        }
        self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]
    }
}

/// SipHash-2-4 of `data` under `(k0, k1)`.
pub fn siphash24(k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut h = SipHasher24::new(k0, k1);
    h.write(data);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        // Key 00 01 .. 0f, messages 00 01 .. (n-1) (the paper's appendix / reference code).
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0..64).collect();
        assert_eq!(siphash24(k0, k1, &msg[..0]), 0x726f_db47_dd0e_0e31);
        assert_eq!(siphash24(k0, k1, &msg[..1]), 0x74f8_39c5_93dc_67fd);
        assert_eq!(siphash24(k0, k1, &msg[..8]), 0x93f5_f579_9a93_2462);
        assert_eq!(siphash24(k0, k1, &msg[..15]), 0xa129_ca61_49be_45e5);
        assert_eq!(siphash24(k0, k1, &msg[..63]), 0x958a_324c_eb06_4572);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let mut h = SipHasher24::new(1, 2);
        h.write(b"hello ");
        h.write_u32(0x01020304);
        let mut v = b"hello ".to_vec();
        v.extend_from_slice(&0x01020304u32.to_le_bytes());
        assert_eq!(h.finish(), siphash24(1, 2, &v));
    }
}
