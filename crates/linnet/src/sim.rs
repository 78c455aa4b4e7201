//! Deterministic simulation: several stacks joined by in-memory links under a virtual clock.
//!
//! A test builds a [`Sim`], adds stacks, connects them with [`Sim::connect`] (any impairment
//! the in-memory link offers), and advances virtual time. No thread, no clock, no OS: a run
//! is a pure function of its seeds, so a failure replays exactly.

use crate::device::NetDevice;
use crate::driver::memlink::{LinkConfig, MemLink};
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::{EthernetAddress, Ipv4Cidr};
use std::time::Duration;

/// Frames read from one port per step.
const RX_BUDGET: usize = 256;

struct Port {
    stack: usize,
    ifindex: u32,
    dev: MemLink,
}

/// A set of stacks and links driven under virtual time.
pub struct Sim {
    now: Instant,
    stacks: Vec<Stack>,
    ports: Vec<Port>,
    batch: Vec<crate::buf::PacketBuf>,
}

impl Default for Sim {
    fn default() -> Self {
        Sim::new()
    }
}

impl Sim {
    /// An empty simulation at time zero.
    pub fn new() -> Sim {
        Sim {
            now: Instant::ZERO,
            stacks: Vec::new(),
            ports: Vec::new(),
            batch: Vec::with_capacity(RX_BUDGET),
        }
    }

    /// Virtual now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Add a stack; returns its number.
    pub fn add_stack(&mut self, stack: Stack) -> usize {
        self.stacks.push(stack);
        self.stacks.len() - 1
    }

    /// A stack.
    pub fn stack(&mut self, n: usize) -> &mut Stack {
        &mut self.stacks[n]
    }

    /// Join stacks `a` and `b` with a link, giving each end an interface (named `eth<N>`, up)
    /// with the given address. Returns the two interface indexes.
    pub fn connect(
        &mut self,
        a: usize,
        b: usize,
        cfg: LinkConfig,
        a_addr: Ipv4Cidr,
        b_addr: Ipv4Cidr,
    ) -> (u32, u32) {
        let mtu = cfg.mtu;
        let (ea, eb) = MemLink::pair(cfg);
        let now = self.now;
        let attach = |sim: &mut Sim, s: usize, addr: Ipv4Cidr, dev: MemLink| {
            let n = sim.ports.len() as u64;
            let mac = EthernetAddress::local_from_seed(((s as u64) << 16) | (n + 1));
            let name = format!("eth{}", sim.ports.iter().filter(|p| p.stack == s).count());
            let stack = &mut sim.stacks[s];
            let ifindex = stack.add_interface(&name, mac, mtu);
            stack.add_addr(ifindex, addr, now).expect("address");
            stack.set_link_up(ifindex, true, now).expect("link up");
            sim.ports.push(Port {
                stack: s,
                ifindex,
                dev,
            });
            ifindex
        };
        let ia = attach(self, a, a_addr, ea);
        let ib = attach(self, b, b_addr, eb);
        (ia, ib)
    }

    /// Lose the frames stack `stack` sends on its links for which `f` returns true (see
    /// [`MemLink::set_drop_filter`]); `None` removes it.
    pub fn set_drop_filter(&mut self, stack: usize, f: Option<crate::driver::memlink::DropFilter>) {
        let mut f = f;
        for p in &self.ports {
            if p.stack == stack {
                p.dev.set_drop_filter(f.take());
            }
        }
    }

    /// What the links did to the frames stack `stack` sent (summed over its links).
    pub fn link_stats(&self, stack: usize) -> crate::driver::memlink::LinkStats {
        let mut t = crate::driver::memlink::LinkStats::default();
        for p in self.ports.iter().filter(|p| p.stack == stack) {
            let s = p.dev.link_stats();
            t.lost += s.lost;
            t.overflow += s.overflow;
            t.refused += s.refused;
            t.duplicated += s.duplicated;
            t.corrupted += s.corrupted;
            t.reordered += s.reordered;
        }
        t
    }

    /// Cut (or restore) every link: a cut link loses every frame.
    pub fn cut_links(&mut self, cut: bool) {
        for p in &self.ports {
            p.dev.set_loss(if cut { 1.0 } else { 0.0 });
        }
    }

    /// One round at the current time: receive what has arrived, run timers, transmit.
    /// Returns the earliest time anything is due next.
    pub fn step(&mut self) -> Option<Instant> {
        let now = self.now;
        for p in self.ports.iter_mut() {
            let stack = &mut self.stacks[p.stack];
            let _ = p
                .dev
                .recv_batch(stack.pool_mut(), &mut self.batch, RX_BUDGET, now);
            for buf in self.batch.drain(..) {
                stack.receive(p.ifindex, buf, now);
            }
        }
        let mut next: Option<Instant> = None;
        let mut merge = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        for s in self.stacks.iter_mut() {
            merge(s.poll(now));
        }
        for p in self.ports.iter_mut() {
            let stack = &mut self.stacks[p.stack];
            // A device that refused a frame is retried at every step (steps come when a
            // frame arrives somewhere, which is when a full link has room again).
            stack.dev.netif_wake_queue(p.ifindex);
            while let Some(buf) = stack.take_tx(p.ifindex, now) {
                match p.dev.transmit(buf.data(), now) {
                    Err(e) if crate::device::txq::is_tx_busy(&e) => {
                        stack.dev_requeue_skb(p.ifindex, buf);
                        break;
                    }
                    _ => stack.recycle(buf),
                }
            }
        }
        for p in self.ports.iter() {
            merge(p.dev.next_event());
        }
        for s in self.stacks.iter() {
            merge(s.tx_deadline());
        }
        next
    }

    /// Run until `until`, jumping from event to event.
    pub fn run_until(&mut self, until: Instant) {
        self.run_until_cond(until, |_| false);
    }

    /// Advance virtual time by `d`.
    pub fn advance(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Run until `cond` holds (checked after every step) or `until` passes; returns whether
    /// `cond` held.
    pub fn run_until_cond(
        &mut self,
        until: Instant,
        mut cond: impl FnMut(&mut Sim) -> bool,
    ) -> bool {
        let mut same_time = 0;
        loop {
            let next = self.step();
            if cond(self) {
                return true;
            }
            // Whatever `cond` queued goes out at this same instant.
            if same_time < 1000 && self.stacks.iter().any(|s| s.has_pending_tx()) {
                same_time += 1;
                continue;
            }
            same_time = 0;
            if self.now >= until {
                return false;
            }
            // Progress at least 1 µs, so a deadline of "now" cannot spin.
            let t = next
                .map_or(until, |n| n.min(until))
                .max(self.now + Duration::from_micros(1));
            self.now = t.min(until);
        }
    }
}
