//! Helpers shared by the integration tests (each test file includes this with `mod common;`
//! and uses what it needs).
#![allow(dead_code)]

/// `len` pseudo-random bytes (xorshift from `seed`): a transfer that arrives shifted,
/// truncated or out of order does not compare equal.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Connect a Linnet stream to `target`, retrying for up to about 5 s while the Linux
/// listener (started in another process) comes up.
pub fn connect_retry(
    handle: &linnet::runtime::Handle,
    target: std::net::SocketAddrV4,
) -> linnet::api::TcpStream {
    use std::time::Duration;
    for _ in 0..50 {
        match linnet::api::TcpStream::connect_timeout(handle, target, Some(Duration::from_secs(2)))
        {
            Ok(c) => return c,
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    panic!("could not connect to {target}");
}
