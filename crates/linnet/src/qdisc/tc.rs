//! The `tc` command set on a stack: `tc qdisc|class|filter add|change|replace|del|show`,
//! parsed here from argv so the daemon, the CLI and tests report the same errors, plus the
//! printing of what `tc [-s] ... show` prints.
//!
//! Linux: `tc_modify_qdisc`, `tc_get_qdisc`, `tc_dump_qdisc` (net/sched/sch_api.c),
//! `tc_ctl_tclass`, `tc_new_tfilter`/`tc_del_tfilter` (cls_api.c); iproute2's tc/tc_qdisc.c,
//! tc_class.c, tc_filter.c for the words and the output.

use super::bfifo::Bfifo;
use super::cls::{insert_sorted, Filter};
use super::fq_codel::FqCodel;
use super::htb::Htb;
use super::netem::Netem;
use super::pfifo::{Pfifo, DEFAULT_LIMIT};
use super::pfifo_fast::PfifoFast;
use super::prio::Prio;
use super::tbf::Tbf;
use super::units::{fmt_handle, fmt_size, parse_handle, tc_err, TcError, ROOT_HANDLE};
use super::{ClassInfo, Qdisc, QdiscEnv, QdiscStats, Slot};
use crate::buf::PacketBuf;
use crate::stack::{Interface, LinkKind, Stack};
use crate::time::Instant;
use serde::{Deserialize, Serialize};

/// The kinds `tc qdisc add` accepts.
pub const KINDS: [&str; 8] = [
    "pfifo_fast",
    "pfifo",
    "bfifo",
    "tbf",
    "netem",
    "prio",
    "fq_codel",
    "htb",
];

/// Build a qdisc of `kind` from its words. Linux: `qdisc_create` → `ops->init`.
pub fn qdisc_create(
    kind: &str,
    args: &[String],
    env: &QdiscEnv,
) -> Result<Box<dyn Qdisc>, TcError> {
    Ok(match kind {
        "pfifo_fast" => {
            let mut q = PfifoFast::new(env.txqueuelen);
            q.change(args)?;
            Box::new(q)
        }
        "pfifo" => Box::new(Pfifo::from_args(args, env.txqueuelen)?),
        "bfifo" => Box::new(Bfifo::from_args(args, env.txqueuelen, env.mtu)?),
        "tbf" => Box::new(Tbf::from_args(args, env)?),
        "netem" => Box::new(Netem::from_args(args, env)?),
        "prio" => Box::new(Prio::from_args(args, env)?),
        "fq_codel" => Box::new(FqCodel::from_args(args, env)?),
        "htb" => Box::new(Htb::from_args(args, env)?),
        _ => {
            return Err(tc_err!(
                "unknown qdisc \"{kind}\" (known: {})",
                KINDS.join(", ")
            ))
        }
    })
}

/// One qdisc as `tc qdisc show` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QdiscInfo {
    /// Device name.
    pub dev: String,
    /// Kind.
    pub kind: String,
    /// Handle (`MAJ:0`).
    pub handle: u32,
    /// Parent class, or [`ROOT_HANDLE`].
    pub parent: u32,
    /// Parameters as tc prints them.
    pub options: String,
    /// Counters.
    pub stats: QdiscStats,
    /// Extra counters.
    pub xstats: String,
}

/// One class as `tc class show` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcClassInfo {
    /// Device name.
    pub dev: String,
    /// Kind of the qdisc owning the class.
    pub kind: String,
    /// The class (full id), its parent, leaf, parameters and counters.
    pub class: ClassInfo,
}

/// One filter as `tc filter show` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterInfo {
    /// Device name.
    pub dev: String,
    /// The qdisc it is attached to.
    pub parent: u32,
    /// The filter.
    pub filter: Filter,
}

/// What a tc command answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TcReply {
    /// A change was made.
    Done,
    /// `tc qdisc show`.
    Qdiscs(Vec<QdiscInfo>),
    /// `tc class show`.
    Classes(Vec<TcClassInfo>),
    /// `tc filter show`.
    Filters(Vec<FilterInfo>),
}

/// The words common to every tc object command.
#[derive(Debug, Default)]
struct Common<'a> {
    dev: Option<&'a str>,
    parent: Option<u32>,
    handle: Option<u32>,
    classid: Option<u32>,
    kind: Option<&'a str>,
    rest: Vec<String>,
}

fn parse_common<'a>(words: &'a [String], object: &str) -> Result<Common<'a>, TcError> {
    let mut c = Common::default();
    let mut i = 0;
    let value = |i: usize, w: &str| -> Result<&'a str, TcError> {
        words
            .get(i + 1)
            .map(|s| s.as_str())
            .ok_or_else(|| tc_err!("option \"{w}\" needs a value"))
    };
    while i < words.len() {
        let w = words[i].as_str();
        match w {
            "dev" => {
                c.dev = Some(value(i, w)?);
                i += 2;
            }
            "root" => {
                c.parent = Some(ROOT_HANDLE);
                i += 1;
            }
            "parent" => {
                c.parent = Some(parse_handle(value(i, w)?)?);
                i += 2;
            }
            "handle" if object != "filter" => {
                c.handle = Some(parse_handle(value(i, w)?)?);
                i += 2;
            }
            "classid" if object == "class" => {
                c.classid = Some(parse_handle(value(i, w)?)?);
                i += 2;
            }
            _ if object == "filter" => {
                // Everything else belongs to the filter itself.
                c.rest.push(w.to_string());
                i += 1;
            }
            _ => {
                c.kind = Some(w);
                c.rest = words[i + 1..].to_vec();
                break;
            }
        }
    }
    Ok(c)
}

/// The path of class minors from the root to the qdisc whose handle has major `major`.
fn find_path(slot: &Slot, major: u32, path: &mut Vec<u32>) -> bool {
    if slot.handle >> 16 == major && slot.handle != 0 {
        return true;
    }
    for (minor, child) in slot.qdisc.children() {
        path.push(minor);
        if find_path(child, major, path) {
            return true;
        }
        path.pop();
    }
    false
}

/// Every qdisc under `slot` (itself first), with its parent id.
fn walk<'a>(slot: &'a Slot, parent: u32, out: &mut Vec<(u32, &'a Slot)>) {
    out.push((parent, slot));
    for (minor, child) in slot.qdisc.children() {
        walk(child, (slot.handle & 0xffff_0000) | minor, out);
    }
}

impl Stack {
    /// Run one `tc` command given as words (`qdisc add dev eth0 root netem delay 50ms`).
    /// On error nothing has changed. Linux: the rtnetlink `RTM_*QDISC`/`RTM_*TCLASS`/
    /// `RTM_*TFILTER` handlers.
    pub fn tc(&mut self, argv: &[String], now: Instant) -> Result<TcReply, TcError> {
        let Some((object, rest)) = argv.split_first() else {
            return Err(tc_err!(
                "usage: tc qdisc|class|filter add|change|replace|del|show ..."
            ));
        };
        let object = match object.as_str() {
            o if !o.is_empty() && "qdisc".starts_with(o) => "qdisc",
            o if !o.is_empty() && "class".starts_with(o) => "class",
            o if !o.is_empty() && "filter".starts_with(o) => "filter",
            o => return Err(tc_err!("unknown object \"{o}\" (qdisc, class, filter)")),
        };
        let (cmd, words) = match rest.split_first() {
            Some((c, w)) => (c.as_str(), w),
            None => ("show", rest),
        };
        let cmd = match cmd {
            "add" | "change" | "replace" | "show" | "list" | "ls" | "del" | "delete" => cmd,
            _ => return Err(tc_err!("unknown command \"{cmd}\" for tc {object}")),
        };
        let c = parse_common(words, object)?;
        let show = matches!(cmd, "show" | "list" | "ls");
        let ifindex = match c.dev {
            Some(d) => Some(
                self.ifindex_by_name(d)
                    .ok_or_else(|| tc_err!("Cannot find device \"{d}\""))?,
            ),
            None if show => None,
            None => return Err(tc_err!("\"dev\" is required")),
        };
        if show {
            if c.kind.is_some() && object != "filter" {
                return Err(tc_err!("unknown word \"{}\"", c.kind.unwrap_or_default()));
            }
            return Ok(match object {
                "qdisc" => TcReply::Qdiscs(self.tc_qdiscs(ifindex)),
                "class" => TcReply::Classes(self.tc_classes(ifindex)),
                _ => TcReply::Filters(self.tc_filters(ifindex)),
            });
        }
        let ifindex = ifindex.expect("dev checked");
        let iface = self.iface(ifindex).expect("found by name");
        if iface.kind == LinkKind::Loopback {
            return Err(tc_err!(
                "device \"{}\" is loopback: its packets bypass qdiscs",
                iface.name
            ));
        }
        let env = QdiscEnv {
            mtu: iface.mtu,
            txqueuelen: DEFAULT_LIMIT,
            seed: 0,
        };
        let dropped = match object {
            "qdisc" => self.tc_qdisc_modify(ifindex, cmd, c, env, now)?,
            "class" => self.tc_class_modify(ifindex, cmd, c, env, now)?,
            _ => self.tc_filter_modify(ifindex, cmd, c)?,
        };
        for b in dropped {
            self.pool.put(b);
        }
        Ok(TcReply::Done)
    }

    /// Take the device's root as a slot for tree work; put it back with [`Stack::put_root`].
    fn take_root(&mut self, ifindex: u32) -> Slot {
        let i = self.iface_mut(ifindex).expect("device exists");
        let q = std::mem::replace(&mut i.qdisc, Box::new(Pfifo::new(0)));
        Slot::new(i.qdisc_handle, q)
    }

    fn put_root(&mut self, ifindex: u32, root: Slot) {
        let i = self.iface_mut(ifindex).expect("device exists");
        i.qdisc = root.qdisc;
        i.qdisc_handle = root.handle;
    }

    /// Linux: `tc_modify_qdisc` / `tc_get_qdisc` (delete).
    fn tc_qdisc_modify(
        &mut self,
        ifindex: u32,
        cmd: &str,
        c: Common,
        mut env: QdiscEnv,
        now: Instant,
    ) -> Result<Vec<PacketBuf>, TcError> {
        env.seed = self.random_u64();
        let parent = c.parent.or_else(|| {
            if cmd == "change" && c.handle.is_some() {
                None
            } else {
                Some(ROOT_HANDLE)
            }
        });
        let mut root = self.take_root(ifindex);
        let r = qdisc_modify_tree(&mut root, cmd, parent, &c, &env, now);
        self.put_root(ifindex, root);
        r
    }

    /// Linux: `tc_ctl_tclass`.
    fn tc_class_modify(
        &mut self,
        ifindex: u32,
        cmd: &str,
        c: Common,
        env: QdiscEnv,
        now: Instant,
    ) -> Result<Vec<PacketBuf>, TcError> {
        let classid = c
            .classid
            .ok_or_else(|| tc_err!("\"classid\" is required"))?;
        let mut root = self.take_root(ifindex);
        let r = (|| {
            let q = find_mut(&mut root, classid >> 16).ok_or_else(|| {
                tc_err!("no qdisc with handle {}", fmt_handle(classid & 0xffff_0000))
            })?;
            if matches!(cmd, "del" | "delete") {
                return q.qdisc.class_delete(classid);
            }
            let kind = c
                .kind
                .ok_or_else(|| tc_err!("class kind is required (e.g. htb)"))?;
            if kind != q.qdisc.kind() {
                return Err(tc_err!(
                    "class kind \"{kind}\" does not match qdisc {} ({})",
                    fmt_handle(q.handle),
                    q.qdisc.kind()
                ));
            }
            let parent = c.parent.unwrap_or(classid & 0xffff_0000);
            let exists = q
                .qdisc
                .classes()
                .iter()
                .any(|ci| ci.classid & 0xffff == classid & 0xffff);
            let create = match cmd {
                "add" => true,
                "change" => false,
                _ => !exists,
            };
            q.qdisc
                .class_change(classid, parent, create, &c.rest, &env, now)?;
            Ok(Vec::new())
        })();
        self.put_root(ifindex, root);
        r
    }

    /// Linux: `tc_new_tfilter` / `tc_del_tfilter`.
    fn tc_filter_modify(
        &mut self,
        ifindex: u32,
        cmd: &str,
        c: Common,
    ) -> Result<Vec<PacketBuf>, TcError> {
        let parent = c
            .parent
            .ok_or_else(|| tc_err!("\"parent\" (or \"root\") is required"))?;
        let mut root = self.take_root(ifindex);
        let r = (|| {
            let q = if parent == ROOT_HANDLE {
                Some(&mut root)
            } else {
                find_mut(&mut root, parent >> 16)
            }
            .ok_or_else(|| tc_err!("no qdisc with handle {}", fmt_handle(parent & 0xffff_0000)))?;
            let kind = q.qdisc.kind();
            let list = q
                .qdisc
                .filters_mut()
                .ok_or_else(|| tc_err!("qdisc {kind} does not take filters"))?;
            if matches!(cmd, "del" | "delete") {
                // `prio N` deletes that priority's filters; no prio deletes them all.
                let pos = c
                    .rest
                    .iter()
                    .position(|w| matches!(w.as_str(), "prio" | "pref" | "priority"));
                let prio = match pos {
                    Some(i) => {
                        let v = c
                            .rest
                            .get(i + 1)
                            .ok_or_else(|| tc_err!("option \"prio\" needs a value"))?;
                        Some(super::units::parse_u32(v, "prio")?)
                    }
                    None => None,
                };
                let before = list.len();
                list.retain(|g| prio.is_some_and(|p| g.prio != p));
                if list.len() == before {
                    return Err(tc_err!("no filter to delete"));
                }
                return Ok(Vec::new());
            }
            let default_prio = list
                .last()
                .map_or(49152, |f| f.prio.saturating_sub(1).max(1));
            let f = Filter::parse(&c.rest, default_prio)?;
            if cmd == "replace" || cmd == "change" {
                list.retain(|g| g.prio != f.prio);
            }
            insert_sorted(list, f);
            Ok(Vec::new())
        })();
        self.put_root(ifindex, root);
        r
    }

    /// What `tc qdisc show [dev D]` lists.
    pub fn tc_qdiscs(&self, ifindex: Option<u32>) -> Vec<QdiscInfo> {
        let mut out = Vec::new();
        for i in self.tc_ifaces(ifindex) {
            if i.kind == LinkKind::Loopback {
                out.push(QdiscInfo {
                    dev: i.name.clone(),
                    kind: "noqueue".into(),
                    handle: 0,
                    parent: ROOT_HANDLE,
                    options: String::new(),
                    stats: QdiscStats::default(),
                    xstats: String::new(),
                });
                continue;
            }
            for (parent, handle, q) in tc_tree(i) {
                out.push(QdiscInfo {
                    dev: i.name.clone(),
                    kind: q.kind().into(),
                    handle,
                    parent,
                    options: q.dump(),
                    stats: q.stats(),
                    xstats: q.dump_stats(),
                });
            }
        }
        out
    }

    /// What `tc class show dev D` lists.
    pub fn tc_classes(&self, ifindex: Option<u32>) -> Vec<TcClassInfo> {
        let mut out = Vec::new();
        for i in self.tc_ifaces(ifindex) {
            if i.kind == LinkKind::Loopback {
                continue;
            }
            for (_, handle, q) in tc_tree(i) {
                for mut ci in q.classes() {
                    ci.classid = (handle & 0xffff_0000) | (ci.classid & 0xffff);
                    if ci.parent & 0xffff == 0 {
                        ci.parent = handle & 0xffff_0000;
                    }
                    out.push(TcClassInfo {
                        dev: i.name.clone(),
                        kind: q.kind().into(),
                        class: ci,
                    });
                }
            }
        }
        out
    }

    /// What `tc filter show dev D` lists.
    pub fn tc_filters(&self, ifindex: Option<u32>) -> Vec<FilterInfo> {
        let mut out = Vec::new();
        for i in self.tc_ifaces(ifindex) {
            if i.kind == LinkKind::Loopback {
                continue;
            }
            for (_, handle, q) in tc_tree(i) {
                for f in q.filters() {
                    out.push(FilterInfo {
                        dev: i.name.clone(),
                        parent: handle,
                        filter: f.clone(),
                    });
                }
            }
        }
        out
    }
}

impl Stack {
    /// The interfaces `ifindex` selects (all of them when `None`), for the `show` commands.
    fn tc_ifaces(&self, ifindex: Option<u32>) -> impl Iterator<Item = &Interface> {
        self.ifaces
            .iter()
            .filter(move |i| ifindex.is_none_or(|x| x == i.ifindex))
    }
}

/// Every qdisc of an interface's tree, root first, as (parent, handle, qdisc).
fn tc_tree(i: &Interface) -> Vec<(u32, u32, &dyn Qdisc)> {
    // A temporary view of the root as a slot (the trait object is borrowed).
    let root = SlotRef {
        handle: i.qdisc_handle,
        qdisc: &*i.qdisc,
    };
    let mut list = Vec::new();
    root.walk(ROOT_HANDLE, &mut list);
    list
}

/// A borrowed root, walked like a [`Slot`].
struct SlotRef<'a> {
    handle: u32,
    qdisc: &'a dyn Qdisc,
}

impl<'a> SlotRef<'a> {
    fn walk(&self, parent: u32, out: &mut Vec<(u32, u32, &'a dyn Qdisc)>) {
        out.push((parent, self.handle, self.qdisc));
        let mut kids = Vec::new();
        for (minor, child) in self.qdisc.children() {
            kids.push((minor, child));
        }
        for (minor, child) in kids {
            let mut sub = Vec::new();
            walk(child, (self.handle & 0xffff_0000) | minor, &mut sub);
            out.extend(sub.into_iter().map(|(p, s)| (p, s.handle, &*s.qdisc)));
        }
    }
}

/// The qdisc whose handle has major `major`, anywhere in the tree.
fn find_mut(root: &mut Slot, major: u32) -> Option<&mut Slot> {
    let mut path = Vec::new();
    if !find_path(root, major, &mut path) {
        return None;
    }
    let mut cur = root;
    for minor in path {
        cur = cur.qdisc.child_mut(minor)?;
    }
    Some(cur)
}

/// A handle not used in the tree, from 8001: up. Linux: `qdisc_alloc_handle`.
fn alloc_handle(root: &Slot) -> u32 {
    (0x8001..0x10000)
        .find(|m| !find_path(root, *m, &mut Vec::new()))
        .map_or(0, |m| m << 16)
}

/// Add, change, replace or delete a qdisc in the tree of `root`.
fn qdisc_modify_tree(
    root: &mut Slot,
    cmd: &str,
    parent: Option<u32>,
    c: &Common,
    env: &QdiscEnv,
    now: Instant,
) -> Result<Vec<PacketBuf>, TcError> {
    let _ = now;
    if let Some(h) = c.handle {
        if h & 0xffff != 0 {
            return Err(tc_err!(
                "invalid qdisc handle {} (a qdisc handle has no minor)",
                fmt_handle(h)
            ));
        }
    }
    // `change` (and delete by handle) find the qdisc itself.
    let at_root = parent == Some(ROOT_HANDLE);
    if cmd == "change" {
        let target = match (c.handle, parent) {
            (Some(h), _) => find_mut(root, h >> 16),
            (None, Some(ROOT_HANDLE)) => Some(root),
            (None, Some(p)) => {
                let q = find_mut(root, p >> 16).ok_or_else(|| {
                    tc_err!("no qdisc with handle {}", fmt_handle(p & 0xffff_0000))
                })?;
                q.qdisc.child_mut(p & 0xffff)
            }
            (None, None) => None,
        }
        .ok_or_else(|| tc_err!("no such qdisc to change"))?;
        let kind = c.kind.ok_or_else(|| tc_err!("qdisc kind is required"))?;
        if kind != target.qdisc.kind() {
            return Err(tc_err!(
                "cannot change {} into \"{kind}\" (use replace)",
                target.qdisc.kind()
            ));
        }
        target.qdisc.change(&c.rest)?;
        return Ok(Vec::new());
    }
    let delete = matches!(cmd, "del" | "delete");
    let new_slot = if delete {
        None
    } else {
        let kind = c
            .kind
            .ok_or_else(|| tc_err!("qdisc kind is required (e.g. netem, tbf, htb)"))?;
        let q = qdisc_create(kind, &c.rest, env)?;
        let handle = match c.handle {
            Some(h) => {
                let replacing_same = if at_root {
                    root.handle == h
                } else {
                    parent
                        .and_then(|p| {
                            let mut path = Vec::new();
                            find_path(root, p >> 16, &mut path).then_some(())?;
                            find_mut(root, p >> 16)?
                                .qdisc
                                .children()
                                .iter()
                                .find(|(m, _)| *m == p & 0xffff)
                                .map(|(_, s)| s.handle == h)
                        })
                        .unwrap_or(false)
                };
                if !replacing_same && find_path(root, h >> 16, &mut Vec::new()) {
                    return Err(tc_err!("handle {} is already in use", fmt_handle(h)));
                }
                h
            }
            None => alloc_handle(root),
        };
        Some(Slot::new(handle, q))
    };
    if at_root {
        return Ok(match new_slot {
            None => {
                if root.handle == 0 && root.qdisc.kind() == "pfifo_fast" {
                    return Err(tc_err!(
                        "cannot delete the default qdisc (nothing to delete)"
                    ));
                }
                let mut old =
                    std::mem::replace(root, Slot::new(0, Box::new(PfifoFast::new(env.txqueuelen))));
                old.qdisc.reset()
            }
            Some(s) => {
                if cmd == "add" && root.handle != 0 {
                    return Err(tc_err!(
                        "Exclusivity flag on, cannot modify: device already has root qdisc {} {} (use replace)",
                        root.qdisc.kind(),
                        fmt_handle(root.handle)
                    ));
                }
                let mut old = std::mem::replace(root, s);
                old.qdisc.reset()
            }
        });
    }
    let p = parent.ok_or_else(|| tc_err!("\"parent\" or \"root\" is required"))?;
    let pq = find_mut(root, p >> 16)
        .ok_or_else(|| tc_err!("no qdisc with handle {}", fmt_handle(p & 0xffff_0000)))?;
    let minor = p & 0xffff;
    let existing = pq
        .qdisc
        .children()
        .into_iter()
        .find(|(m, _)| *m == minor)
        .map(|(_, s)| s.handle);
    let Some(existing) = existing else {
        return Err(tc_err!(
            "qdisc {} ({}) has no class {}",
            fmt_handle(pq.handle),
            pq.qdisc.kind(),
            fmt_handle(p)
        ));
    };
    let slot = match new_slot {
        Some(s) => {
            if cmd == "add" && existing != 0 {
                return Err(tc_err!(
                    "Exclusivity flag on, cannot modify: class {} already has qdisc {} (use replace)",
                    fmt_handle(p),
                    fmt_handle(existing)
                ));
            }
            s
        }
        None => {
            if existing == 0 {
                return Err(tc_err!(
                    "class {} has only its default qdisc",
                    fmt_handle(p)
                ));
            }
            // The class gets a default child back (tbf: a bfifo at its limit).
            Slot::new(0, pq.qdisc.dflt_child(env))
        }
    };
    match pq.qdisc.graft(minor, slot) {
        Ok(mut old) => Ok(old.qdisc.reset()),
        Err((e, _)) => Err(e),
    }
}

/// Print qdiscs as `tc [-s] qdisc show` does.
pub fn format_qdiscs(list: &[QdiscInfo], stats: bool) -> String {
    let mut s = String::new();
    for q in list {
        let parent = if q.parent == ROOT_HANDLE {
            "root refcnt 2".to_string()
        } else {
            format!("parent {}", fmt_handle(q.parent))
        };
        let handle = if q.handle == 0 {
            "0:".to_string()
        } else {
            fmt_handle(q.handle)
        };
        s += &format!("qdisc {} {handle} dev {} {parent}", q.kind, q.dev);
        if !q.options.is_empty() {
            s += " ";
            s += &q.options;
        }
        s += "\n";
        if stats {
            s += &format_stats(&q.stats);
            if !q.xstats.is_empty() {
                s += &format!("  {}\n", q.xstats);
            }
        }
    }
    s
}

fn format_stats(st: &QdiscStats) -> String {
    format!(
        " Sent {} bytes {} pkt (dropped {}, overlimits {} requeues {})\n backlog {} {}p requeues {}\n",
        st.bytes,
        st.packets,
        st.drops,
        st.overlimits,
        st.requeues,
        fmt_size(st.backlog_bytes),
        st.qlen,
        st.requeues
    )
}

/// Print classes as `tc [-s] class show` does.
pub fn format_classes(list: &[TcClassInfo], stats: bool) -> String {
    let mut s = String::new();
    for c in list {
        let ci = &c.class;
        let parent = if ci.parent & 0xffff == 0 {
            "root".to_string()
        } else {
            format!("parent {}", fmt_handle(ci.parent))
        };
        s += &format!("class {} {} {parent}", c.kind, fmt_handle(ci.classid));
        if let Some(l) = ci.leaf.filter(|&l| l != 0) {
            s += &format!(" leaf {}", fmt_handle(l));
        }
        if !ci.params.is_empty() {
            s += " ";
            s += &ci.params;
        }
        s += "\n";
        if stats {
            s += &format_stats(&ci.stats);
            if !ci.xstats.is_empty() {
                s += &format!(" {}\n", ci.xstats);
            }
        }
    }
    s
}

/// Print filters as `tc filter show` does.
pub fn format_filters(list: &[FilterInfo]) -> String {
    let mut s = String::new();
    for f in list {
        s += &format!(
            "filter parent {} {}\n",
            fmt_handle(f.parent),
            f.filter.describe()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::EthernetAddress;

    fn stack() -> (Stack, u32) {
        let mut s = Stack::default();
        let i = s.add_interface("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500);
        (s, i)
    }

    fn tc(s: &mut Stack, cmd: &str) -> Result<TcReply, TcError> {
        let w: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        s.tc(&w, Instant::ZERO)
    }

    fn show(s: &mut Stack, cmd: &str) -> String {
        match tc(s, cmd).unwrap() {
            TcReply::Qdiscs(q) => format_qdiscs(&q, false),
            TcReply::Classes(c) => format_classes(&c, false),
            TcReply::Filters(f) => format_filters(&f),
            TcReply::Done => String::new(),
        }
    }

    #[test]
    fn default_root_is_pfifo_fast_and_a_tree_builds() {
        let (mut s, _) = stack();
        assert_eq!(
            show(&mut s, "qdisc show dev eth0"),
            "qdisc pfifo_fast 0: dev eth0 root refcnt 2 bands 3 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1\n"
        );
        tc(&mut s, "qdisc add dev eth0 root handle 1: htb default 20").unwrap();
        tc(
            &mut s,
            "class add dev eth0 parent 1: classid 1:1 htb rate 10mbit",
        )
        .unwrap();
        tc(
            &mut s,
            "class add dev eth0 parent 1:1 classid 1:10 htb rate 3mbit ceil 10mbit",
        )
        .unwrap();
        tc(
            &mut s,
            "class add dev eth0 parent 1:1 classid 1:20 htb rate 7mbit ceil 10mbit",
        )
        .unwrap();
        tc(&mut s, "qdisc add dev eth0 parent 1:10 handle 10: fq_codel").unwrap();
        tc(
            &mut s,
            "qdisc add dev eth0 parent 1:20 handle 20: netem delay 5ms",
        )
        .unwrap();
        tc(&mut s, "filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dport 5001 0xffff flowid 1:10").unwrap();
        tc(
            &mut s,
            "filter add dev eth0 parent 1: prio 2 handle 6 fw classid 1:20",
        )
        .unwrap();
        let q = show(&mut s, "qdisc show dev eth0");
        assert!(
            q.contains("qdisc htb 1: dev eth0 root refcnt 2 r2q 10 default 0x20"),
            "{q}"
        );
        assert!(
            q.contains("qdisc fq_codel 10: dev eth0 parent 1:10 limit 10240p"),
            "{q}"
        );
        assert!(
            q.contains("qdisc netem 20: dev eth0 parent 1:20 limit 1000 delay 5ms"),
            "{q}"
        );
        let c = show(&mut s, "class show dev eth0");
        assert!(
            c.contains("class htb 1:1 root rate 10Mbit ceil 10Mbit"),
            "{c}"
        );
        assert!(
            c.contains("class htb 1:10 parent 1:1 leaf 10: prio 0 rate 3Mbit ceil 10Mbit"),
            "{c}"
        );
        let f = show(&mut s, "filter show dev eth0");
        assert_eq!(
            f,
            "filter parent 1: protocol ip pref 1 u32 match ip dport 5001 0xffff classid 1:10\n\
             filter parent 1: protocol ip pref 2 fw handle 0x6 classid 1:20\n"
        );
        // Change a leaf in place, replace another, delete, and the root back to default.
        tc(&mut s, "qdisc change dev eth0 handle 20: netem delay 7ms").unwrap();
        assert!(show(&mut s, "qdisc show").contains("delay 7ms"));
        tc(
            &mut s,
            "qdisc replace dev eth0 parent 1:20 handle 30: pfifo limit 5",
        )
        .unwrap();
        assert!(
            show(&mut s, "qdisc show").contains("qdisc pfifo 30: dev eth0 parent 1:20 limit 5p")
        );
        tc(&mut s, "qdisc del dev eth0 parent 1:20").unwrap();
        tc(&mut s, "filter del dev eth0 parent 1: prio 2").unwrap();
        assert_eq!(show(&mut s, "filter show dev eth0").lines().count(), 1);
        tc(&mut s, "class del dev eth0 classid 1:20").unwrap();
        tc(&mut s, "qdisc del dev eth0 root").unwrap();
        assert!(show(&mut s, "qdisc show dev eth0").starts_with("qdisc pfifo_fast 0:"));
    }

    #[test]
    fn errors_change_nothing_and_name_the_word() {
        let (mut s, _) = stack();
        tc(
            &mut s,
            "qdisc add dev eth0 root handle 1: tbf rate 1mbit burst 10kb latency 50ms",
        )
        .unwrap();
        let before = show(&mut s, "qdisc show");
        for (cmd, word) in [
            ("qdisc add dev eth9 root netem delay 1ms", "eth9"),
            ("qdisc add dev eth0 root netem delay 1ms", "Exclusivity"),
            ("qdisc replace dev eth0 root netem delay 1xs", "1xs"),
            ("qdisc add dev eth0 root fifo", "fifo"),
            ("qdisc add dev eth0 parent 1:2 netem", "1:2"),
            ("qdisc add dev eth0 parent 7:1 netem", "7:"),
            ("qdisc change dev eth0 root netem delay 1ms", "replace"),
            ("qdisc change dev eth0 root tbf rate 2mbit", "burst"),
            ("qdisc add dev eth0 parent 1:1 handle 1: pfifo", "in use"),
            ("qdisc add dev lo root netem delay 1ms", "loopback"),
            (
                "class add dev eth0 classid 1:1 htb rate 1mbit",
                "does not match",
            ),
            (
                "filter add dev eth0 parent 1: u32 match ip dport 1 0xffff flowid 1:1",
                "filters",
            ),
            ("qdisc frob dev eth0", "frob"),
            ("qdiscs show", "qdiscs"),
        ] {
            let e = tc(&mut s, cmd).unwrap_err();
            assert!(e.0.contains(word), "{cmd}: {e}");
            assert_eq!(
                show(&mut s, "qdisc show"),
                before,
                "{cmd} changed something"
            );
        }
    }

    #[test]
    fn the_control_request_carries_tc_words() {
        use crate::control::{handle, Request, Response};
        let (mut s, _) = stack();
        let req = Request::Tc {
            args: "qdisc add dev eth0 root handle 1: netem delay 5ms"
                .split_whitespace()
                .map(String::from)
                .collect(),
        };
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
        assert_eq!(handle(&mut s, req, Instant::ZERO), Response::Ok);
        let show = Request::Tc {
            args: vec!["qdisc".into(), "show".into()],
        };
        match handle(&mut s, show, Instant::ZERO) {
            Response::Tc {
                reply: TcReply::Qdiscs(q),
            } => {
                assert_eq!(
                    q.iter().map(|x| x.kind.as_str()).collect::<Vec<_>>(),
                    ["noqueue", "netem"]
                );
                assert_eq!(q[1].options, "limit 1000 delay 5ms");
            }
            r => panic!("{r:?}"),
        }
        let bad = Request::Tc {
            args: vec![
                "qdisc".into(),
                "add".into(),
                "dev".into(),
                "eth0".into(),
                "root".into(),
                "sfq".into(),
            ],
        };
        match handle(&mut s, bad, Instant::ZERO) {
            Response::Error { message, .. } => assert!(message.contains("\"sfq\""), "{message}"),
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn a_throttled_root_sets_a_timer_instead_of_asking_to_be_polled() {
        use crate::qdisc::cls::test_frame;
        let (mut s, i) = stack();
        let t0 = Instant::from_secs(1);
        s.set_link_up(i, true, t0).unwrap();
        tc(
            &mut s,
            "qdisc add dev eth0 root tbf rate 1mbit burst 2kb limit 10kb",
        )
        .unwrap();
        for _ in 0..3 {
            s.dev_queue_xmit(i, test_frame([1; 4], [2; 4], 17, 1, 2, 0, 1000), t0)
                .unwrap();
        }
        assert!(s.take_tx(i, t0).is_some());
        assert!(s.take_tx(i, t0).is_some());
        assert!(s.take_tx(i, t0).is_none());
        // Held back: no busy polling, a deadline instead (1000 bytes at 1 Mbit/s, less the
        // 48 bytes of tokens left).
        assert!(!s.has_pending_tx());
        let t = s.tx_deadline().expect("a timer");
        assert_eq!(t, t0 + std::time::Duration::from_micros(7616));
        assert!(s.poll(t0).is_some_and(|p| p <= t));
        assert!(s.take_tx(i, t).is_some());
        assert_eq!(s.tx_deadline(), None);
    }

    #[test]
    fn a_victim_dropped_for_room_does_not_fail_the_sender() {
        use crate::qdisc::cls::test_frame;
        use crate::stats::DropReason;
        let (mut s, i) = stack();
        let t0 = Instant::ZERO;
        s.set_link_up(i, true, t0).unwrap();
        tc(&mut s, "qdisc add dev eth0 root fq_codel limit 2").unwrap();
        for _ in 0..2 {
            s.dev_queue_xmit(i, test_frame([1; 4], [2; 4], 17, 1, 1, 0, 500), t0)
                .unwrap();
        }
        // A third packet of another flow: the fat flow pays, the sender is told it went.
        s.dev_queue_xmit(i, test_frame([1; 4], [2; 4], 17, 1, 2, 0, 600), t0)
            .unwrap();
        assert_eq!(s.drops().get(DropReason::QdiscDrop), 1);
        let lens: Vec<usize> = std::iter::from_fn(|| s.take_tx(i, t0))
            .map(|b| b.len())
            .collect();
        assert_eq!(lens.len(), 2);
        assert!(lens.contains(&600));
    }

    /// Words tc commands are made of, plus junk, for the property tests.
    const VOCAB: [&str; 60] = [
        "qdisc",
        "class",
        "filter",
        "add",
        "change",
        "replace",
        "del",
        "show",
        "dev",
        "eth0",
        "lo",
        "root",
        "parent",
        "handle",
        "classid",
        "1:",
        "1:1",
        "1:10",
        "10:",
        "2:",
        "ffff:",
        "netem",
        "tbf",
        "htb",
        "prio",
        "fq_codel",
        "pfifo",
        "bfifo",
        "pfifo_fast",
        "delay",
        "10ms",
        "5ms",
        "loss",
        "10%",
        "gemodel",
        "state",
        "rate",
        "1mbit",
        "burst",
        "10kb",
        "latency",
        "limit",
        "100",
        "0",
        "ceil",
        "default",
        "bands",
        "3",
        "u32",
        "match",
        "ip",
        "dport",
        "0xffff",
        "flowid",
        "fw",
        "prio",
        "reorder",
        "x:y",
        "-1",
        "99999999999",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Any sequence of tc commands: no panic, and a refused command changes nothing.
        #[test]
        fn arbitrary_commands_never_panic_and_errors_change_nothing(
            cmds in proptest::collection::vec(
                proptest::collection::vec(0usize..VOCAB.len(), 0..14), 1..12)
        ) {
            let (mut s, i) = stack();
            s.set_link_up(i, true, Instant::ZERO).unwrap();
            for (n, cmd) in cmds.iter().enumerate() {
                let words: Vec<String> = cmd.iter().map(|&w| VOCAB[w].to_string()).collect();
                let before = (s.tc_qdiscs(None), s.tc_classes(None), s.tc_filters(None));
                let now = Instant::from_millis(n as u64);
                if s.tc(&words, now).is_err() {
                    let after = (s.tc_qdiscs(None), s.tc_classes(None), s.tc_filters(None));
                    proptest::prop_assert_eq!(before, after, "{:?}", words);
                }
                // Traffic through whatever tree there is.
                for k in 0..4u8 {
                    let f = crate::qdisc::cls::test_frame([1; 4], [2; 4], 6, 1, 5000 + k as u16, k << 2, 100 + k as usize * 300);
                    let _ = s.dev_queue_xmit(i, f, now);
                }
                while s.take_tx(i, now + std::time::Duration::from_secs(1)).is_some() {}
            }
        }

        /// Arbitrary frames (short, not IPv4, bad header lengths) through every qdisc kind:
        /// no panic, and the queue accounts for what went in and out.
        #[test]
        fn arbitrary_frames_through_every_qdisc(
            frames in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), 1..50),
            kind in 0usize..KINDS.len(),
        ) {
            let env = QdiscEnv::default();
            let mut q = qdisc_create(KINDS[kind], &match KINDS[kind] {
                "tbf" => "rate 1mbit burst 10kb latency 10ms",
                "netem" => "delay 1ms 1ms loss 5% duplicate 5% reorder 5% corrupt 5%",
                "htb" => "default 1",
                _ => "",
            }.split_whitespace().map(String::from).collect::<Vec<_>>(), &env).unwrap();
            let mut inq = 0usize;
            for (n, f) in frames.iter().enumerate() {
                let mut b = PacketBuf::from_slice(f, 0);
                b.meta.mark = n as u32;
                if q.enqueue(b, Instant::from_micros(n as u64)).is_ok() {
                    inq += 1;
                }
            }
            let mut out = 0usize;
            let mut t = Instant::ZERO;
            for _ in 0..10_000 {
                match q.dequeue(t) {
                    Some(_) => out += 1,
                    None => match q.next_deadline() {
                        Some(d) => t = d.max(t + std::time::Duration::from_micros(1)),
                        None => break,
                    },
                }
                while q.take_dropped().is_some() {}
            }
            proptest::prop_assert!(q.is_empty());
            // netem may duplicate; codel may drop.
            proptest::prop_assert!(out <= inq * 2);
        }
    }
}
