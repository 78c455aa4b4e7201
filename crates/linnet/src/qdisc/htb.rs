//! `htb`: the hierarchical token bucket. Classes form a tree; each has a guaranteed `rate` and
//! may borrow up to its `ceil` from an ancestor with tokens to spare. Leaves hold a child qdisc
//! (`pfifo` unless another is grafted). Filters pick the leaf; unmatched packets go to the
//! `default` class, or straight out through the direct queue when there is none.
//!
//! Linux: `htb_qdisc_ops` (net/sched/sch_htb.c). As there, tokens are nanoseconds of
//! transmission time, so every bucket refills at the same slope; a class *can send* while its
//! tokens are non-negative, *may borrow* while only its ctokens are, and leaves are served
//! lowest borrowing level first, then by `prio`, then round robin by `quantum` (DRR).

use super::cls::{classify, Filter};
use super::opt::{at_most, ClassOpt, HtbClassOpt, HtbGlob, MAX_SIZE};
use super::tbf::l2t_ns;
use super::units::{fmt_handle, tc_err};
use super::{other_kind, ClassInfo, Qdisc, QdiscEnv, QdiscOpt, QdiscStats, Slot, TcError, XStats};
use crate::buf::PacketBuf;
use crate::time::Instant;
use std::collections::VecDeque;
use std::time::Duration;

/// Lowest prio value is served first; prios are 0–7. Linux: `TC_HTB_NUMPRIO`.
pub const NUMPRIO: usize = 8;
/// Deepest class tree. Linux: `TC_HTB_MAXDEPTH`.
pub const MAXDEPTH: usize = 8;
/// How far into debt a bucket may go (Linux: `mbuffer`, 60 s).
const MBUFFER_NS: i64 = 60_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
struct ClassParams {
    rate: u64,
    ceil: u64,
    burst: u64,
    cburst: u64,
    prio: u8,
    quantum: u32,
}

/// One class.
#[derive(Debug)]
struct HtbClass {
    classid: u32,
    /// Parent class id; 0 for a top class.
    parent: u32,
    p: ClassParams,
    buffer: i64,
    cbuffer: i64,
    tokens: i64,
    ctokens: i64,
    t_c: Instant,
    /// The leaf qdisc; `None` once the class has children.
    leaf: Option<Slot>,
    deficit: i64,
    stats: QdiscStats,
    lends: u64,
    borrows: u64,
}

impl HtbClass {
    /// Tokens and ctokens at `now`, without changing state. Linux: the `diff` in `htb_class_mode`.
    fn toks(&self, now: Instant) -> (i64, i64) {
        let diff = (now.saturating_since(self.t_c).as_nanos() as i64).min(MBUFFER_NS);
        (
            (self.tokens + diff).min(self.buffer),
            (self.ctokens + diff).min(self.cbuffer),
        )
    }

    fn set_params(&mut self, p: ClassParams) {
        self.p = p;
        self.buffer = l2t_ns(p.rate, p.burst);
        self.cbuffer = l2t_ns(p.ceil, p.cburst);
        self.tokens = self.buffer;
        self.ctokens = self.cbuffer;
    }
}

/// The htb qdisc.
#[derive(Debug)]
pub struct Htb {
    classes: Vec<HtbClass>,
    default_minor: u32,
    r2q: u32,
    direct: VecDeque<PacketBuf>,
    direct_qlen: usize,
    direct_packets: u64,
    filters: Vec<Filter>,
    stats: QdiscStats,
    wake: Option<Instant>,
    /// The class being served at each (level, prio) (Linux: `hprio->ptr`).
    current: [[u32; NUMPRIO]; MAXDEPTH],
    env: QdiscEnv,
    /// Reused list of the leaves in one DRR round (no allocation per packet).
    scratch: Vec<usize>,
}

/// The qdisc's options with their defaults filled in: (default minor, r2q, direct_qlen).
/// Linux: `htb_init` / `htb_change` reading `tc_htb_glob`.
fn htb_glob(o: &HtbGlob, env: &QdiscEnv) -> Result<(u32, u32, usize), TcError> {
    let r2q = o.r2q.unwrap_or(10);
    if r2q == 0 {
        return Err(tc_err!("htb: invalid r2q \"{r2q}\""));
    }
    let direct_qlen = o.direct_qlen.map_or(env.txqueuelen, |q| q as usize);
    Ok((o.default.unwrap_or(0), r2q, direct_qlen))
}

impl Htb {
    /// From its options. Linux: `htb_init`.
    pub fn from_opt(opt: &HtbGlob, env: &QdiscEnv) -> Result<Htb, TcError> {
        let (default_minor, r2q, direct_qlen) = htb_glob(opt, env)?;
        Ok(Htb {
            classes: Vec::new(),
            default_minor,
            r2q,
            direct: VecDeque::new(),
            direct_qlen,
            direct_packets: 0,
            filters: Vec::new(),
            stats: QdiscStats::default(),
            wake: None,
            current: [[0; NUMPRIO]; MAXDEPTH],
            env: *env,
            scratch: Vec::new(),
        })
    }

    fn idx(&self, classid_or_minor: u32) -> Option<usize> {
        let minor = classid_or_minor & 0xffff;
        self.classes
            .iter()
            .position(|c| c.classid & 0xffff == minor)
    }

    /// Class indexes from `leaf` up to its top class.
    fn path(&self, leaf: usize) -> ([usize; MAXDEPTH], usize) {
        let mut p = [0; MAXDEPTH];
        let mut n = 0;
        let mut cur = Some(leaf);
        while let Some(i) = cur {
            if n == MAXDEPTH {
                break;
            }
            p[n] = i;
            n += 1;
            let parent = self.classes[i].parent;
            cur = if parent & 0xffff == 0 {
                None
            } else {
                self.idx(parent)
            };
        }
        (p, n)
    }

    /// The leaf a packet goes to, or `None` for the direct queue. Linux: `htb_classify`.
    fn htb_classify(&self, buf: &PacketBuf) -> Option<usize> {
        let target = match classify(&self.filters, buf) {
            Some(c) if c & 0xffff == 0 => return None,
            Some(c) => Some(c),
            None => None,
        };
        if let Some(i) = target.and_then(|c| self.idx(c)) {
            if self.classes[i].leaf.is_some() {
                return Some(i);
            }
        }
        self.idx(self.default_minor)
            .filter(|&i| self.default_minor != 0 && self.classes[i].leaf.is_some())
    }

    /// For a backlogged leaf: the borrowing level it can send at now (0 = on its own rate),
    /// or how long until it can. Linux: `htb_class_mode` up the tree.
    fn level_or_wait(&self, leaf: usize, now: Instant) -> Result<usize, i64> {
        let (path, n) = self.path(leaf);
        let mut c_need = 0i64;
        let mut wait = i64::MAX;
        for (level, &i) in path[..n].iter().enumerate() {
            let (t, ct) = self.classes[i].toks(now);
            c_need = c_need.max(-ct);
            if c_need <= 0 && t >= 0 {
                return Ok(level);
            }
            wait = wait.min(c_need.max(-t));
        }
        Err(wait.max(1))
    }

    /// Charge `len` bytes sent from `leaf` borrowing at `level`. Linux: `htb_charge_class`.
    fn charge(&mut self, leaf: usize, level: usize, len: usize, now: Instant) {
        let (path, n) = self.path(leaf);
        for (l, &i) in path[..n].iter().enumerate() {
            let c = &mut self.classes[i];
            let (t, ct) = c.toks(now);
            c.t_c = now;
            c.tokens = t;
            c.ctokens = ct;
            if l >= level {
                if l == level && l > 0 {
                    c.lends += 1;
                }
                c.tokens = (c.tokens - l2t_ns(c.p.rate, len as u64)).max(1 - MBUFFER_NS);
            } else {
                c.borrows += 1;
            }
            c.ctokens = (c.ctokens - l2t_ns(c.p.ceil, len as u64)).max(1 - MBUFFER_NS);
            c.stats.bytes += len as u64;
            c.stats.packets += 1;
        }
    }

    /// A class's parameters from its options, what they leave out kept from `old` (rate,
    /// ceil, prio) or worked out as iproute2 does (bursts, quantum). Linux: `htb_change_class`.
    fn class_params(
        &self,
        o: &HtbClassOpt,
        old: Option<ClassParams>,
    ) -> Result<ClassParams, TcError> {
        let prio = match o.prio {
            Some(p) if p as usize >= NUMPRIO => {
                return Err(tc_err!("htb: \"prio {p}\" must be 0 to 7"))
            }
            Some(p) => p as u8,
            None => old.map_or(0, |o| o.prio),
        };
        for (what, v) in [
            ("burst", o.burst),
            ("cburst", o.cburst),
            ("quantum", o.quantum),
        ] {
            at_most("htb", what, v.unwrap_or(0), MAX_SIZE)?;
        }
        if o.quantum == Some(0) {
            return Err(tc_err!("htb: invalid quantum \"0\""));
        }
        let rate = o
            .rate
            .or(old.map(|o| o.rate))
            .filter(|&r| r > 0)
            .ok_or_else(|| tc_err!("htb: class \"rate\" is required"))?;
        let ceil = o.ceil.or(old.map(|o| o.ceil)).unwrap_or(rate).max(rate);
        // iproute2: buffer = rate / HZ + mtu, with HZ 1000 and mtu 1600.
        let burst = o.burst.unwrap_or(rate / 8 / 1000 + 1600);
        let cburst = o.cburst.unwrap_or(ceil / 8 / 1000 + 1600);
        let quantum = o.quantum.map_or_else(
            || ((rate / 8) / self.r2q as u64).clamp(1000, 200_000) as u32,
            |q| q.min(u32::MAX as u64) as u32,
        );
        Ok(ClassParams {
            rate,
            ceil,
            burst,
            cburst,
            prio,
            quantum,
        })
    }
}

impl Qdisc for Htb {
    fn kind(&self) -> &'static str {
        "htb"
    }

    /// Linux: `htb_enqueue`.
    fn enqueue(&mut self, buf: PacketBuf, now: Instant) -> Result<(), PacketBuf> {
        let len = buf.len();
        match self.htb_classify(&buf) {
            None => {
                if self.direct.len() >= self.direct_qlen {
                    self.stats.drops += 1;
                    return Err(buf);
                }
                self.direct.push_back(buf);
            }
            Some(i) => {
                let c = &mut self.classes[i];
                let leaf = c.leaf.as_mut().expect("classified to a leaf");
                if let Err(b) = leaf.qdisc.enqueue(buf, now) {
                    c.stats.drops += 1;
                    self.stats.drops += 1;
                    return Err(b);
                }
                c.stats.enqueued(len);
            }
        }
        self.stats.enqueued(len);
        self.wake = None;
        Ok(())
    }

    /// Linux: `htb_dequeue`: the direct queue first, then the leaf chosen by level, prio and
    /// DRR; if every backlogged leaf is over its limits, arm the watchdog.
    fn dequeue(&mut self, now: Instant) -> Option<PacketBuf> {
        if let Some(buf) = self.direct.pop_front() {
            self.direct_packets += 1;
            self.stats.dequeued(buf.len());
            return Some(buf);
        }
        let mut best: Option<(usize, u8)> = None;
        let mut wake: Option<i64> = None;
        let mut child_wake: Option<Instant> = None;
        for i in 0..self.classes.len() {
            let Some(leaf) = self.classes[i].leaf.as_mut() else {
                continue;
            };
            if leaf.qdisc.peek(now).is_none() {
                if let Some(t) = leaf.qdisc.next_deadline() {
                    child_wake = Some(child_wake.map_or(t, |w: Instant| w.min(t)));
                }
                continue;
            }
            match self.level_or_wait(i, now) {
                Ok(level) => {
                    let key = (level, self.classes[i].p.prio);
                    if best.is_none_or(|(l, p)| key < (l, p)) {
                        best = Some(key);
                    }
                }
                Err(w) => wake = Some(wake.map_or(w, |x| x.min(w))),
            }
        }
        let Some((level, prio)) = best else {
            let mut t = wake.map(|ns| now + Duration::from_micros((ns as u64).div_ceil(1000)));
            if t.is_some() {
                self.stats.overlimits += 1;
            }
            if let Some(c) = child_wake {
                t = Some(t.map_or(c, |x| x.min(c)));
            }
            self.wake = t;
            return None;
        };
        // DRR among the leaves at this level and prio, starting from the current one.
        let mut members = std::mem::take(&mut self.scratch);
        members.clear();
        for i in 0..self.classes.len() {
            let c = &self.classes[i];
            if c.p.prio == prio
                && c.leaf.as_ref().is_some_and(|l| !l.qdisc.is_empty())
                && self.level_or_wait(i, now) == Ok(level)
            {
                members.push(i);
            }
        }
        let cur = self.current[level][prio as usize];
        let pos = members
            .iter()
            .position(|&i| self.classes[i].classid == cur)
            .or_else(|| members.iter().position(|&i| self.classes[i].classid > cur))
            .unwrap_or(0);
        let mut chosen = None;
        for k in 0..members.len() {
            let i = members[(pos + k) % members.len()];
            let leaf = self.classes[i].leaf.as_mut().expect("leaf");
            if let Some(buf) = leaf.qdisc.dequeue(now) {
                chosen = Some((k, i, buf));
                break;
            }
        }
        let Some((k, i, buf)) = chosen else {
            self.scratch = members;
            return None;
        };
        let len = buf.len();
        let c = &mut self.classes[i];
        c.stats.backlog_bytes = c.stats.backlog_bytes.saturating_sub(len as u64);
        c.stats.qlen = c.stats.qlen.saturating_sub(1);
        c.deficit -= len as i64;
        let next = if c.deficit < 0 {
            c.deficit += c.p.quantum as i64;
            members[(pos + k + 1) % members.len()]
        } else {
            i
        };
        self.scratch = members;
        self.current[level][prio as usize] = self.classes[next].classid;
        self.charge(i, level, len, now);
        self.stats.dequeued(len);
        self.wake = None;
        Some(buf)
    }

    fn peek(&mut self, now: Instant) -> Option<&PacketBuf> {
        if !self.direct.is_empty() {
            return self.direct.front();
        }
        // The first sendable leaf's head (DRR order aside, the packet that would go soonest).
        let i = (0..self.classes.len()).find(|&i| {
            self.classes[i]
                .leaf
                .as_ref()
                .is_some_and(|l| !l.qdisc.is_empty())
                && self.level_or_wait(i, now).is_ok()
        })?;
        self.classes[i].leaf.as_mut()?.qdisc.peek(now)
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.stats().qlen == 0 {
            return None;
        }
        self.wake
    }

    fn reset(&mut self) -> Vec<PacketBuf> {
        self.stats.qlen = 0;
        self.stats.backlog_bytes = 0;
        self.wake = None;
        let mut out: Vec<PacketBuf> = self.direct.drain(..).collect();
        for c in self.classes.iter_mut() {
            c.stats.qlen = 0;
            c.stats.backlog_bytes = 0;
            if let Some(l) = c.leaf.as_mut() {
                out.extend(l.qdisc.reset());
            }
        }
        out
    }

    /// Queue lengths are the direct queue's and the leaves' (children may drop inside).
    fn stats(&self) -> QdiscStats {
        let mut qlen = self.direct.len() as u64;
        let mut backlog_bytes: u64 = self.direct.iter().map(|b| b.len() as u64).sum();
        for l in self.classes.iter().filter_map(|c| c.leaf.as_ref()) {
            let st = l.qdisc.stats();
            qlen += st.qlen;
            backlog_bytes += st.backlog_bytes;
        }
        QdiscStats {
            qlen,
            backlog_bytes,
            ..self.stats
        }
    }

    fn dump(&self) -> QdiscOpt {
        QdiscOpt::Htb(HtbGlob {
            default: Some(self.default_minor),
            r2q: Some(self.r2q),
            direct_qlen: Some(self.direct_qlen as u32),
            direct_pkts: self.direct_packets,
        })
    }

    fn change(&mut self, opt: &QdiscOpt) -> Result<(), TcError> {
        let QdiscOpt::Htb(o) = opt else {
            return Err(other_kind("htb", opt));
        };
        let (d, r, q) = htb_glob(o, &self.env)?;
        self.default_minor = d;
        self.r2q = r;
        self.direct_qlen = q;
        Ok(())
    }

    fn children(&self) -> Vec<(u32, &Slot)> {
        self.classes
            .iter()
            .filter_map(|c| c.leaf.as_ref().map(|l| (c.classid & 0xffff, l)))
            .collect()
    }

    fn child_mut(&mut self, minor: u32) -> Option<&mut Slot> {
        let i = self.idx(minor)?;
        self.classes[i].leaf.as_mut()
    }

    fn graft(&mut self, minor: u32, slot: Slot) -> Result<Slot, (TcError, Slot)> {
        let Some(i) = self.idx(minor).filter(|&i| self.classes[i].leaf.is_some()) else {
            return Err((tc_err!("htb: no leaf class with minor {minor:x}"), slot));
        };
        let c = &mut self.classes[i];
        let old = std::mem::replace(c.leaf.as_mut().expect("leaf"), slot);
        let (q, b) = (c.stats.qlen, c.stats.backlog_bytes);
        c.stats.qlen = 0;
        c.stats.backlog_bytes = 0;
        self.stats.qlen = self.stats.qlen.saturating_sub(q);
        self.stats.backlog_bytes = self.stats.backlog_bytes.saturating_sub(b);
        Ok(old)
    }

    /// Linux: `htb_change_class`.
    fn class_change(
        &mut self,
        classid: u32,
        parent: u32,
        create: bool,
        opt: Option<&ClassOpt>,
        env: &QdiscEnv,
        now: Instant,
    ) -> Result<(), TcError> {
        let o = match opt {
            Some(ClassOpt::Htb(o)) => *o,
            None => HtbClassOpt::default(),
        };
        if classid & 0xffff == 0 {
            return Err(tc_err!(
                "htb: class id {} needs a minor number",
                fmt_handle(classid)
            ));
        }
        if let Some(i) = self.idx(classid) {
            if create {
                return Err(tc_err!("htb: class {} exists", fmt_handle(classid)));
            }
            let p = self.class_params(&o, Some(self.classes[i].p))?;
            self.classes[i].set_params(p);
            self.classes[i].t_c = now;
            return Ok(());
        }
        if !create {
            return Err(tc_err!("htb: no class {}", fmt_handle(classid)));
        }
        let parent = if parent & 0xffff == 0 { 0 } else { parent };
        let pidx = match parent {
            0 => None,
            p => Some(
                self.idx(p)
                    .ok_or_else(|| tc_err!("htb: no parent class {}", fmt_handle(p)))?,
            ),
        };
        if let Some(pi) = pidx {
            if self.path(pi).1 >= MAXDEPTH - 1 {
                return Err(tc_err!("htb: class tree deeper than {MAXDEPTH}"));
            }
        }
        let p = self.class_params(&o, None)?;
        let mut c = HtbClass {
            classid,
            parent,
            p,
            buffer: 0,
            cbuffer: 0,
            tokens: 0,
            ctokens: 0,
            t_c: now,
            leaf: Some(Slot::default_child(env)),
            deficit: p.quantum as i64,
            stats: QdiscStats::default(),
            lends: 0,
            borrows: 0,
        };
        c.set_params(p);
        if let Some(pi) = pidx {
            // The parent turns inner: its queue goes. Linux: `qdisc_purge_queue`.
            if let Some(mut l) = self.classes[pi].leaf.take() {
                let dropped = l.qdisc.reset();
                let (q, b) = (
                    self.classes[pi].stats.qlen,
                    self.classes[pi].stats.backlog_bytes,
                );
                self.stats.qlen = self.stats.qlen.saturating_sub(q);
                self.stats.backlog_bytes = self.stats.backlog_bytes.saturating_sub(b);
                self.stats.drops += dropped.len() as u64;
                self.classes[pi].stats.qlen = 0;
                self.classes[pi].stats.backlog_bytes = 0;
            }
        }
        self.classes.push(c);
        Ok(())
    }

    /// Linux: `htb_delete`: only a class without children.
    fn class_delete(&mut self, classid: u32) -> Result<Vec<PacketBuf>, TcError> {
        let i = self
            .idx(classid)
            .ok_or_else(|| tc_err!("htb: no class {}", fmt_handle(classid)))?;
        let minor = classid & 0xffff;
        if self
            .classes
            .iter()
            .any(|c| c.parent & 0xffff == minor && c.parent != 0)
        {
            return Err(tc_err!("htb: class {} has children", fmt_handle(classid)));
        }
        let mut c = self.classes.remove(i);
        self.stats.qlen = self.stats.qlen.saturating_sub(c.stats.qlen);
        self.stats.backlog_bytes = self
            .stats
            .backlog_bytes
            .saturating_sub(c.stats.backlog_bytes);
        let out = c.leaf.as_mut().map(|l| l.qdisc.reset()).unwrap_or_default();
        // A parent left without children becomes a leaf again.
        if c.parent != 0 && !self.classes.iter().any(|x| x.parent == c.parent) {
            if let Some(pi) = self.idx(c.parent) {
                self.classes[pi].leaf = Some(Slot::default_child(&self.env));
            }
        }
        Ok(out)
    }

    fn classes(&self) -> Vec<ClassInfo> {
        let now_toks = |c: &HtbClass| (c.tokens, c.ctokens);
        self.classes
            .iter()
            .map(|c| {
                let (t, ct) = now_toks(c);
                ClassInfo {
                    classid: c.classid,
                    parent: c.parent,
                    leaf: c.leaf.as_ref().map(|l| l.handle),
                    opts: Some(ClassOpt::Htb(HtbClassOpt {
                        rate: Some(c.p.rate),
                        ceil: Some(c.p.ceil),
                        burst: Some(c.p.burst),
                        cburst: Some(c.p.cburst),
                        prio: c.leaf.is_some().then_some(c.p.prio as u32),
                        quantum: Some(c.p.quantum as u64),
                    })),
                    stats: match c.leaf.as_ref().map(|l| l.qdisc.stats()) {
                        Some(l) => QdiscStats {
                            qlen: l.qlen,
                            backlog_bytes: l.backlog_bytes,
                            ..c.stats
                        },
                        None => c.stats,
                    },
                    xstats: Some(XStats::HtbClass {
                        lends: c.lends,
                        borrows: c.borrows,
                        giants: 0,
                        tokens: t / 1000,
                        ctokens: ct / 1000,
                    }),
                }
            })
            .collect()
    }

    fn take_dropped(&mut self) -> Option<PacketBuf> {
        self.classes
            .iter_mut()
            .filter_map(|c| c.leaf.as_mut())
            .find_map(|l| l.qdisc.take_dropped())
    }

    fn filters_mut(&mut self) -> Option<&mut Vec<Filter>> {
        Some(&mut self.filters)
    }

    fn filters(&self) -> &[Filter] {
        &self.filters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qdisc::cls::{insert_sorted, test_frame, FilterKind, U32Key};

    /// `rate R [ceil C] [prio P]` in Mbit/s.
    fn class(rate: u64, ceil: Option<u64>, prio: Option<u32>) -> ClassOpt {
        ClassOpt::Htb(HtbClassOpt {
            rate: Some(rate * 1_000_000),
            ceil: ceil.map(|c| c * 1_000_000),
            prio,
            ..Default::default()
        })
    }

    fn setup(default: u32) -> Htb {
        let env = QdiscEnv::default();
        let glob = HtbGlob {
            default: Some(default),
            ..Default::default()
        };
        let mut q = Htb::from_opt(&glob, &env).unwrap();
        let t = Instant::ZERO;
        q.class_change(0x10001, 0x10000, true, Some(&class(8, None, None)), &env, t)
            .unwrap();
        q.class_change(
            0x10010,
            0x10001,
            true,
            Some(&class(2, Some(8), None)),
            &env,
            t,
        )
        .unwrap();
        q.class_change(
            0x10020,
            0x10001,
            true,
            Some(&class(6, Some(8), None)),
            &env,
            t,
        )
        .unwrap();
        insert_sorted(
            q.filters_mut().unwrap(),
            // `u32 match ip dport 10 0xffff flowid 1:10`.
            Filter {
                prio: 1,
                kind: FilterKind::U32(vec![U32Key::Dport {
                    port: 10,
                    mask: 0xffff,
                }]),
                classid: 0x10010,
            },
        );
        q
    }

    /// Offer both classes far more than the link and count bytes each gets.
    fn share(q: &mut Htb, secs: u64) -> (u64, u64) {
        let mut now = Instant::ZERO;
        let (mut a, mut b) = (0u64, 0u64);
        let end = Instant::from_secs(secs);
        while now < end {
            while q.classes[1].stats.qlen < 20 {
                q.enqueue(test_frame([1; 4], [2; 4], 17, 1, 10, 0, 1000), now)
                    .unwrap();
            }
            while q.classes[2].stats.qlen < 20 {
                q.enqueue(test_frame([1; 4], [2; 4], 17, 1, 20, 0, 1000), now)
                    .unwrap();
            }
            while let Some(p) = q.dequeue(now) {
                let ip = crate::qdisc::cls::ipv4_header(&p).unwrap();
                if crate::qdisc::cls::ports(ip).unwrap().1 == 10 {
                    a += p.len() as u64;
                } else {
                    b += p.len() as u64;
                }
            }
            now = q.next_deadline().expect("throttled while backlogged");
        }
        (a, b)
    }

    #[test]
    fn classes_get_their_rates_and_default_catches_the_rest() {
        let mut q = setup(0x20);
        let (a, b) = share(&mut q, 5);
        let (ra, rb) = (a as f64 * 8.0 / 5.0, b as f64 * 8.0 / 5.0);
        assert!((ra / 2e6 - 1.0).abs() < 0.05, "1:10 got {ra}");
        assert!((rb / 6e6 - 1.0).abs() < 0.05, "1:20 got {rb}");
        let classes = q.classes();
        assert_eq!(classes.len(), 3);
        let Some(ClassOpt::Htb(o)) = classes[1].opts else {
            panic!("{:?}", classes[1])
        };
        assert_eq!((o.rate, o.ceil), (Some(2_000_000), Some(8_000_000)));
    }

    #[test]
    fn an_idle_class_lends_to_a_busy_one_up_to_ceil() {
        let env = QdiscEnv::default();
        let mut q = setup(0x20);
        // Only 1:10 is busy: it borrows up to its ceil of 8 Mbit/s.
        let mut now = Instant::ZERO;
        let mut bytes = 0;
        while now < Instant::from_secs(4) {
            while q.classes[1].stats.qlen < 20 {
                q.enqueue(test_frame([1; 4], [2; 4], 17, 1, 10, 0, 1000), now)
                    .unwrap();
            }
            while let Some(p) = q.dequeue(now) {
                bytes += p.len();
            }
            now = q.next_deadline().unwrap();
        }
        let rate = bytes as f64 * 8.0 / 4.0;
        assert!((rate / 8e6 - 1.0).abs() < 0.05, "borrowed to {rate}");
        assert!(q.classes[1].borrows > 0 && q.classes[0].lends > 0);
        // Lower the ceiling: now it is held to 4 Mbit/s.
        q.class_change(0x10010, 0, false, Some(&class(2, Some(4), None)), &env, now)
            .unwrap();
        let start = now;
        let mut bytes = 0;
        while now < start + Duration::from_secs(4) {
            while q.classes[1].stats.qlen < 20 {
                q.enqueue(test_frame([1; 4], [2; 4], 17, 1, 10, 0, 1000), now)
                    .unwrap();
            }
            while let Some(p) = q.dequeue(now) {
                bytes += p.len();
            }
            now = q.next_deadline().unwrap();
        }
        let rate = bytes as f64 * 8.0 / 4.0;
        assert!((rate / 4e6 - 1.0).abs() < 0.05, "ceil held to {rate}");
    }

    #[test]
    fn without_default_unclassified_goes_direct_and_errors_are_clear() {
        let env = QdiscEnv::default();
        let mut q = setup(0);
        let now = Instant::ZERO;
        q.enqueue(test_frame([1; 4], [2; 4], 17, 1, 99, 0, 500), now)
            .unwrap();
        assert_eq!(q.dequeue(now).unwrap().len(), 500);
        let QdiscOpt::Htb(glob) = q.dump() else {
            panic!("{:?}", q.dump())
        };
        assert_eq!(glob.direct_pkts, 1);
        let e = q.class_change(
            0x10030,
            0x10009,
            true,
            Some(&class(1, None, None)),
            &env,
            now,
        );
        assert!(e.unwrap_err().0.contains("1:9"));
        let e = q.class_change(
            0x10030,
            0x10001,
            true,
            Some(&ClassOpt::Htb(HtbClassOpt {
                ceil: Some(1_000_000),
                ..Default::default()
            })),
            &env,
            now,
        );
        assert!(e.unwrap_err().0.contains("rate"));
        let e = q.class_change(
            0x10030,
            0x10001,
            true,
            Some(&class(1, None, Some(9))),
            &env,
            now,
        );
        assert!(e.unwrap_err().0.contains("prio 9"));
        assert!(q.class_delete(0x10001).unwrap_err().0.contains("children"));
        q.class_delete(0x10010).unwrap();
        assert_eq!(q.classes().len(), 2);
    }
}
