//! Per-packet receive cost of the IPv4 + TCP established fast path.
//!
//! Two Linnet stacks are connected over the in-memory link; the client's first full-sized
//! data segment is captured as a template. Frames are then built from it with consecutive
//! sequence numbers (checksum updated incrementally) into pool buffers, outside the timed
//! section, and fed to `Stack::receive` of the server in batches: only those calls are timed.
//! Between batches the server's application reads the data and the server's ACKs are
//! discarded (the client never sees them: it is not part of the measurement).
//!
//! `rules` is the number of netfilter rules installed on the receiver's INPUT hook before the
//! measurement ([`install_rules`]: a chain of rules that do not match, walked in full).

use crate::linnet_pair::LinnetPair;
use linnet::wire::checksum::update32;
use linnet::Errno;
use linnet::Stack;
use linnet::{MsgFlags, SockOpt};
use linnet_tools::iptables::Iptables;
use std::time::Duration;

/// Frames fed per timed batch (stays well inside the 256 KiB receive window).
const BATCH: usize = 64;
const ETH: usize = 14;

/// Measured receive cost.
#[derive(Debug, Clone, Copy)]
pub struct RxCost {
    /// Nanoseconds per packet spent in `Stack::receive`.
    pub ns_per_packet: f64,
    /// Packets measured.
    pub packets: u64,
    /// Allocations per packet during the timed calls.
    pub allocs_per_packet: f64,
}

/// Install `rules` netfilter rules on the receiver's INPUT chain, none of which matches the
/// benchmark's traffic (other sources, other ports), through `iptables-restore` text.
fn install_rules(stack: &mut Stack, rules: usize) -> Result<(), String> {
    if rules == 0 {
        return Ok(());
    }
    let mut text = String::from("*filter\n");
    for k in 0..rules {
        text.push_str(&format!(
            "-A INPUT -s 203.0.113.{}/32 -p tcp -m tcp --dport {} -j DROP\n",
            k % 256,
            1000 + k % 60000
        ));
    }
    text.push_str("COMMIT\n");
    stack
        .iptables_restore(&text, false)
        .map_err(|e| format!("iptables-restore: {}", e.message))
}

/// Measure for about `dur` of timed receive calls.
pub fn rx_cost(rules: usize, dur: Duration) -> Result<RxCost, String> {
    let mut p = LinnetPair::new(1500, |_| {});
    let (c, s, _) = p.establish();
    install_rules(&mut p.stacks[1], rules)?;
    let now = p.now();
    p.stacks[0]
        .setsockopt(c, SockOpt::NoDelay(true), now)
        .map_err(|e| format!("nodelay: {e}"))?;
    // The template: the client's first full-sized segment, taken off its device queue.
    let payload = vec![0xa5u8; 1448];
    p.stacks[0]
        .send(c, &payload, now)
        .map_err(|e| format!("send: {e}"))?;
    let ifx0 = p.ifindex(0);
    let mut template = None;
    while let Some(b) = p.stacks[0].take_tx(ifx0, now) {
        if template.is_none() && b.len() > 1000 {
            template = Some(b.data().to_vec());
        }
        p.stacks[0].recycle(b);
    }
    let template = template.ok_or("no data segment captured")?;
    let ihl = ((template[ETH] & 0x0f) as usize) * 4;
    let tcp = ETH + ihl;
    let doff = ((template[tcp + 12] >> 4) as usize) * 4;
    let seg_len = (template.len() - tcp - doff) as u32;
    let seq0 = u32::from_be_bytes(template[tcp + 4..tcp + 8].try_into().expect("4 bytes"));
    let csum0 = u16::from_be_bytes([template[tcp + 16], template[tcp + 17]]);

    let ifx1 = p.ifindex(1);
    let mut rbuf = vec![0u8; 256 * 1024];
    let mut bufs = Vec::with_capacity(BATCH);
    let mut k: u32 = 0;
    let mut timed = Duration::ZERO;
    let mut packets = 0u64;
    let mut allocs = 0u64;
    let mut received = 0u64;
    while timed < dur {
        let now = p.now();
        let stack = &mut p.stacks[1];
        for _ in 0..BATCH {
            let seq = seq0.wrapping_add(k.wrapping_mul(seg_len));
            k = k.wrapping_add(1);
            let mut b = stack.pool_mut().get(64);
            b.tailroom_mut()[..template.len()].copy_from_slice(&template);
            b.commit_put(template.len());
            let d = b.data_mut();
            d[tcp + 4..tcp + 8].copy_from_slice(&seq.to_be_bytes());
            d[tcp + 16..tcp + 18].copy_from_slice(&update32(csum0, seq0, seq).to_be_bytes());
            bufs.push(b);
        }
        let a0 = crate::alloc::count();
        let t0 = crate::workload::CpuTimer::start();
        for b in bufs.drain(..) {
            stack.receive(ifx1, b, now);
        }
        timed += t0.elapsed();
        allocs += crate::alloc::count() - a0;
        packets += BATCH as u64;
        loop {
            match stack.recv(s, &mut rbuf, MsgFlags::default(), now) {
                Ok(n) => received += n as u64,
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(format!("recv: {e}")),
            }
        }
        while let Some(b) = stack.take_tx(ifx1, now) {
            stack.recycle(b);
        }
        stack.poll(now);
    }
    if received != packets * seg_len as u64 {
        return Err(format!(
            "fed {packets} segments of {seg_len} bytes but the socket read {received} bytes"
        ));
    }
    Ok(RxCost {
        ns_per_packet: timed.as_nanos() as f64 / packets as f64,
        packets,
        allocs_per_packet: allocs as f64 / packets as f64,
    })
}
