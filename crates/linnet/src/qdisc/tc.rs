//! Traffic control on a stack: typed `tc qdisc|class|filter add|change|replace|del` changes
//! and the `show` lists. tc's command line and output are user space's (`linnet-tools`, as
//! iproute2's tc); each kind's options travel typed ([`super::opt`]), are checked by the
//! kind (`Qdisc::change`, `Qdisc::class_change`) and reported back typed (`Qdisc::dump`).
//!
//! Linux: `tc_modify_qdisc`, `tc_get_qdisc`, `tc_dump_qdisc` (net/sched/sch_api.c),
//! `tc_ctl_tclass`, `tc_new_tfilter`/`tc_del_tfilter` (cls_api.c).

use super::bfifo::Bfifo;
use super::cls::{insert_sorted, Filter};
use super::fq_codel::FqCodel;
use super::htb::Htb;
use super::netem::Netem;
use super::opt::{FifoOpt, FqCodelOpt, HtbGlob, NetemOpt, QdiscOpt, TcOptions, XStats};
use super::pfifo::{Pfifo, DEFAULT_LIMIT};
use super::pfifo_fast::PfifoFast;
use super::prio::Prio;
use super::tbf::Tbf;
use super::units::{fmt_handle, tc_err, TcError, ROOT_HANDLE};
use super::{ClassInfo, Qdisc, QdiscEnv, QdiscStats, Slot};
use crate::buf::PacketBuf;
use crate::device::netns::NetnsDev;
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

/// The options `kind` gets when a change gives none: its defaults, for kinds that have
/// them all (tbf has no default rate).
fn default_opt(kind: &str) -> Option<QdiscOpt> {
    Some(match kind {
        "pfifo_fast" => QdiscOpt::PfifoFast(super::pfifo_fast::OPT),
        "pfifo" => QdiscOpt::Pfifo(FifoOpt::default()),
        "bfifo" => QdiscOpt::Bfifo(FifoOpt::default()),
        "netem" => QdiscOpt::Netem(NetemOpt::default()),
        "prio" => QdiscOpt::Prio(super::pfifo_fast::OPT),
        "fq_codel" => QdiscOpt::FqCodel(FqCodelOpt::default()),
        "htb" => QdiscOpt::Htb(HtbGlob::default()),
        _ => return None,
    })
}

/// Build a qdisc of `kind` (tc's `TCA_KIND`) from its options, its defaults without them.
/// Linux: `qdisc_create` → `ops->init`.
pub fn qdisc_create(
    kind: &str,
    opt: Option<&QdiscOpt>,
    env: &QdiscEnv,
) -> Result<Box<dyn Qdisc>, TcError> {
    if !KINDS.contains(&kind) {
        return Err(tc_err!(
            "unknown qdisc \"{kind}\" (known: {})",
            KINDS.join(", ")
        ));
    }
    let dflt;
    let opt = match opt {
        Some(o) => o,
        None => {
            dflt = default_opt(kind).ok_or_else(|| tc_err!("{kind}: \"rate\" is required"))?;
            &dflt
        }
    };
    if opt.kind() != kind {
        return Err(tc_err!(
            "qdisc \"{kind}\" given the options of \"{}\"",
            opt.kind()
        ));
    }
    Ok(match opt {
        QdiscOpt::PfifoFast(_) => {
            let mut q = PfifoFast::new(env.txqueuelen);
            q.change(opt)?;
            Box::new(q)
        }
        QdiscOpt::Pfifo(o) => Box::new(Pfifo::from_opt(o, env.txqueuelen)),
        QdiscOpt::Bfifo(o) => Box::new(Bfifo::from_opt(o, env.txqueuelen, env.mtu)),
        QdiscOpt::Tbf(o) => Box::new(Tbf::from_opt(o)?),
        QdiscOpt::Netem(o) => Box::new(Netem::from_opt(o, env)?),
        QdiscOpt::Prio(o) => Box::new(Prio::from_opt(o, env)?),
        QdiscOpt::FqCodel(o) => Box::new(FqCodel::from_opt(o, env)?),
        QdiscOpt::Htb(o) => Box::new(Htb::from_opt(o, env)?),
    })
}

/// The qdisc options of a change, if it carries some.
fn qdisc_opt(c: &TcChange) -> Option<&QdiscOpt> {
    match &c.options {
        Some(TcOptions::Qdisc(o)) => Some(o),
        _ => None,
    }
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
    /// Its options (none for `noqueue`).
    pub options: Option<QdiscOpt>,
    /// Counters.
    pub stats: QdiscStats,
    /// Its kind's own counters.
    pub xstats: Option<XStats>,
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

/// The object a tc change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TcObject {
    /// `tc qdisc`. Linux: `RTM_*QDISC`.
    Qdisc,
    /// `tc class`. Linux: `RTM_*TCLASS`.
    Class,
    /// `tc filter`. Linux: `RTM_*TFILTER`.
    Filter,
}

impl TcObject {
    /// The name tc gives it.
    pub fn name(self) -> &'static str {
        match self {
            TcObject::Qdisc => "qdisc",
            TcObject::Class => "class",
            TcObject::Filter => "filter",
        }
    }
}

/// What a tc change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TcVerb {
    /// `add` (`NLM_F_EXCL | NLM_F_CREATE`).
    Add,
    /// `change`: parameters of an existing one.
    Change,
    /// `replace` (`NLM_F_CREATE | NLM_F_REPLACE`).
    Replace,
    /// `del`.
    Del,
}

/// One tc change: the object, the device, where in the tree, and the kind with its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcChange {
    /// Qdisc, class or filter.
    pub object: TcObject,
    /// What to do.
    pub verb: TcVerb,
    /// Device name.
    pub dev: String,
    /// `parent` (or [`ROOT_HANDLE`] for `root`).
    #[serde(default)]
    pub parent: Option<u32>,
    /// `handle` (qdiscs, classes).
    #[serde(default)]
    pub handle: Option<u32>,
    /// `classid` (classes).
    #[serde(default)]
    pub classid: Option<u32>,
    /// The kind (`netem`, `htb`...), for qdiscs and classes. Linux: `TCA_KIND`.
    #[serde(default)]
    pub kind: Option<String>,
    /// The kind's options, typed (a filter's: its match, priority and class). Linux:
    /// `TCA_OPTIONS`.
    #[serde(default)]
    pub options: Option<TcOptions>,
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
    /// Carry out one tc change. On error nothing has changed. Linux: the rtnetlink
    /// `RTM_NEWQDISC`/`RTM_DELQDISC`, `RTM_*TCLASS`, `RTM_*TFILTER` handlers.
    pub fn tc_change(&mut self, c: &TcChange, now: Instant) -> Result<(), TcError> {
        let rng = &mut self.rng;
        let dropped = self
            .dev
            .tc_change(c, || crate::stack::splitmix64(rng), now)?;
        for b in dropped {
            self.pool.put(b);
        }
        Ok(())
    }

    /// What `tc qdisc|class|filter show [dev D]` lists.
    pub fn tc_show(&self, object: TcObject, dev: Option<&str>) -> Result<TcReply, TcError> {
        self.dev.tc_show(object, dev)
    }

    /// What `tc qdisc show [dev D]` lists.
    pub fn tc_qdiscs(&self, ifindex: Option<u32>) -> Vec<QdiscInfo> {
        self.dev.tc_qdiscs(ifindex)
    }

    /// What `tc class show dev D` lists.
    pub fn tc_classes(&self, ifindex: Option<u32>) -> Vec<TcClassInfo> {
        self.dev.tc_classes(ifindex)
    }

    /// What `tc filter show dev D` lists.
    pub fn tc_filters(&self, ifindex: Option<u32>) -> Vec<FilterInfo> {
        self.dev.tc_filters(ifindex)
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

/// `tc qdisc change`: the qdisc named by handle (or hanging at `parent`) takes new options
/// of its own kind. Linux: `tc_modify_qdisc` → `qdisc_change`.
fn qdisc_change(root: &mut Slot, parent: Option<u32>, c: &TcChange) -> Result<(), TcError> {
    let target = match (c.handle, parent) {
        (Some(h), _) => find_mut(root, h >> 16),
        (None, Some(ROOT_HANDLE)) => Some(root),
        (None, Some(p)) => {
            let q = find_mut(root, p >> 16)
                .ok_or_else(|| tc_err!("no qdisc with handle {}", fmt_handle(p & 0xffff_0000)))?;
            q.qdisc.child_mut(p & 0xffff)
        }
        (None, None) => None,
    }
    .ok_or_else(|| tc_err!("no such qdisc to change"))?;
    let kind = c
        .kind
        .as_deref()
        .ok_or_else(|| tc_err!("qdisc kind is required"))?;
    if kind != target.qdisc.kind() {
        return Err(tc_err!(
            "cannot change {} into \"{kind}\" (use replace)",
            target.qdisc.kind()
        ));
    }
    let dflt;
    let opt = match qdisc_opt(c) {
        Some(o) => o,
        None => {
            dflt = default_opt(kind).ok_or_else(|| tc_err!("{kind}: \"rate\" is required"))?;
            &dflt
        }
    };
    target.qdisc.change(opt)?;
    Ok(())
}

/// The qdisc an add or replace puts in the tree, with its handle: the one given (unless
/// another qdisc has it) or a free one. Linux: `qdisc_create` + `qdisc_alloc_handle`.
fn qdisc_new_slot(
    root: &mut Slot,
    parent: Option<u32>,
    c: &TcChange,
    env: &QdiscEnv,
) -> Result<Slot, TcError> {
    let at_root = parent == Some(ROOT_HANDLE);
    let kind = c
        .kind
        .as_deref()
        .ok_or_else(|| tc_err!("qdisc kind is required (e.g. netem, tbf, htb)"))?;
    let q = qdisc_create(kind, qdisc_opt(c), env)?;
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
    Ok(Slot::new(handle, q))
}

/// Put `new` at the device's root (or, deleting, the default `pfifo_fast` back), returning
/// the old root's packets. Linux: `qdisc_graft` with no parent (`dev_graft_qdisc`).
fn qdisc_graft_root(
    root: &mut Slot,
    new: Option<Slot>,
    verb: TcVerb,
    env: &QdiscEnv,
) -> Result<Vec<PacketBuf>, TcError> {
    Ok(match new {
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
            if verb == TcVerb::Add && root.handle != 0 {
                return Err(tc_err!(
                    "Exclusivity flag on, cannot modify: device already has root qdisc {} {} (use replace)",
                    root.qdisc.kind(),
                    fmt_handle(root.handle)
                ));
            }
            let mut old = std::mem::replace(root, s);
            old.qdisc.reset()
        }
    })
}

/// Add, change, replace or delete a qdisc in the tree of `root`.
fn qdisc_modify_tree(
    root: &mut Slot,
    parent: Option<u32>,
    c: &TcChange,
    env: &QdiscEnv,
) -> Result<Vec<PacketBuf>, TcError> {
    if let Some(h) = c.handle {
        if h & 0xffff != 0 {
            return Err(tc_err!(
                "invalid qdisc handle {} (a qdisc handle has no minor)",
                fmt_handle(h)
            ));
        }
    }
    if c.verb == TcVerb::Change {
        qdisc_change(root, parent, c)?;
        return Ok(Vec::new());
    }
    let at_root = parent == Some(ROOT_HANDLE);
    let delete = c.verb == TcVerb::Del;
    let new_slot = if delete {
        None
    } else {
        Some(qdisc_new_slot(root, parent, c, env)?)
    };
    if at_root {
        return qdisc_graft_root(root, new_slot, c.verb, env);
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
            if c.verb == TcVerb::Add && existing != 0 {
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

impl NetnsDev {
    /// Carry out one tc change on this namespace's devices, drawing a qdisc's random seed
    /// from `seed`; returns the packets a removed or shrunk qdisc let go. On error nothing
    /// has changed.
    pub(crate) fn tc_change(
        &mut self,
        c: &TcChange,
        seed: impl FnOnce() -> u64,
        now: Instant,
    ) -> Result<Vec<PacketBuf>, TcError> {
        let ifindex = self.tc_dev(&c.dev)?;
        let iface = self.dev_get_by_index(ifindex).expect("found by name");
        if iface.kind == LinkKind::Loopback {
            return Err(tc_err!(
                "device \"{}\" is loopback: its packets bypass qdiscs",
                iface.name
            ));
        }
        let mut env = QdiscEnv {
            mtu: iface.mtu,
            txqueuelen: DEFAULT_LIMIT,
            seed: 0,
        };
        match c.object {
            TcObject::Qdisc => {
                env.seed = seed();
                self.tc_qdisc_modify(ifindex, c, env)
            }
            TcObject::Class => self.tc_class_modify(ifindex, c, env, now),
            TcObject::Filter => self.tc_filter_modify(ifindex, c),
        }
    }

    /// The device a tc command names, or tc's error.
    fn tc_dev(&self, dev: &str) -> Result<u32, TcError> {
        self.dev_get_by_name(dev)
            .map(|i| i.ifindex)
            .ok_or_else(|| tc_err!("Cannot find device \"{dev}\""))
    }

    /// What `tc qdisc|class|filter show [dev D]` lists. Linux: `tc_dump_qdisc`,
    /// `tc_dump_tclass`, `tc_dump_tfilter`.
    pub(crate) fn tc_show(&self, object: TcObject, dev: Option<&str>) -> Result<TcReply, TcError> {
        let ifindex = dev.map(|d| self.tc_dev(d)).transpose()?;
        Ok(match object {
            TcObject::Qdisc => TcReply::Qdiscs(self.tc_qdiscs(ifindex)),
            TcObject::Class => TcReply::Classes(self.tc_classes(ifindex)),
            TcObject::Filter => TcReply::Filters(self.tc_filters(ifindex)),
        })
    }

    /// Take the device's root as a slot for tree work; put it back with [`NetnsDev::put_root`].
    fn take_root(&mut self, ifindex: u32) -> Slot {
        let i = self.dev_get_by_index_mut(ifindex).expect("device exists");
        let q = std::mem::replace(&mut i.qdisc, Box::new(Pfifo::new(0)));
        Slot::new(i.qdisc_handle, q)
    }

    fn put_root(&mut self, ifindex: u32, root: Slot) {
        let i = self.dev_get_by_index_mut(ifindex).expect("device exists");
        i.qdisc = root.qdisc;
        i.qdisc_handle = root.handle;
    }

    /// Linux: `tc_modify_qdisc` / `tc_get_qdisc` (delete).
    fn tc_qdisc_modify(
        &mut self,
        ifindex: u32,
        c: &TcChange,
        env: QdiscEnv,
    ) -> Result<Vec<PacketBuf>, TcError> {
        let parent = c.parent.or_else(|| {
            if c.verb == TcVerb::Change && c.handle.is_some() {
                None
            } else {
                Some(ROOT_HANDLE)
            }
        });
        let mut root = self.take_root(ifindex);
        let r = qdisc_modify_tree(&mut root, parent, c, &env);
        self.put_root(ifindex, root);
        r
    }

    /// Linux: `tc_ctl_tclass`.
    fn tc_class_modify(
        &mut self,
        ifindex: u32,
        c: &TcChange,
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
            if c.verb == TcVerb::Del {
                return q.qdisc.class_delete(classid);
            }
            let kind = c
                .kind
                .as_deref()
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
            let create = match c.verb {
                TcVerb::Add => true,
                TcVerb::Change => false,
                _ => !exists,
            };
            let opt = match &c.options {
                Some(TcOptions::Class(o)) => Some(o),
                _ => None,
            };
            q.qdisc
                .class_change(classid, parent, create, opt, &env, now)?;
            Ok(Vec::new())
        })();
        self.put_root(ifindex, root);
        r
    }

    /// Linux: `tc_new_tfilter` / `tc_del_tfilter`.
    fn tc_filter_modify(&mut self, ifindex: u32, c: &TcChange) -> Result<Vec<PacketBuf>, TcError> {
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
            if c.verb == TcVerb::Del {
                // `prio N` deletes that priority's filters; no prio deletes them all.
                let prio = match &c.options {
                    Some(TcOptions::FilterDel { prio }) => *prio,
                    _ => None,
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
            let Some(TcOptions::Filter(o)) = &c.options else {
                return Err(tc_err!("filter: missing the classifier (u32 or fw)"));
            };
            let f = Filter {
                prio: o.prio.unwrap_or(default_prio),
                kind: o.kind.clone(),
                classid: o.classid,
            };
            if matches!(c.verb, TcVerb::Replace | TcVerb::Change) {
                list.retain(|g| g.prio != f.prio);
            }
            insert_sorted(list, f);
            Ok(Vec::new())
        })();
        self.put_root(ifindex, root);
        r
    }

    /// What `tc qdisc show [dev D]` lists.
    pub(crate) fn tc_qdiscs(&self, ifindex: Option<u32>) -> Vec<QdiscInfo> {
        let mut out = Vec::new();
        for i in self.tc_ifaces(ifindex) {
            if i.kind == LinkKind::Loopback {
                out.push(QdiscInfo {
                    dev: i.name.clone(),
                    kind: "noqueue".into(),
                    handle: 0,
                    parent: ROOT_HANDLE,
                    options: None,
                    stats: QdiscStats::default(),
                    xstats: None,
                });
                continue;
            }
            for (parent, handle, q) in tc_tree(i) {
                out.push(QdiscInfo {
                    dev: i.name.clone(),
                    kind: q.kind().into(),
                    handle,
                    parent,
                    options: Some(q.dump()),
                    stats: q.stats(),
                    xstats: q.dump_stats(),
                });
            }
        }
        out
    }

    /// What `tc class show dev D` lists.
    pub(crate) fn tc_classes(&self, ifindex: Option<u32>) -> Vec<TcClassInfo> {
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
    pub(crate) fn tc_filters(&self, ifindex: Option<u32>) -> Vec<FilterInfo> {
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

    /// The interfaces `ifindex` selects (all of them when `None`), for the `show` commands.
    fn tc_ifaces(&self, ifindex: Option<u32>) -> impl Iterator<Item = &Interface> {
        self.for_each_netdev()
            .filter(move |i| ifindex.is_none_or(|x| x == i.ifindex))
    }
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

    /// `tc qdisc add dev eth0 root KIND OPTIONS...`.
    fn add_root(s: &mut Stack, opt: QdiscOpt) {
        s.tc_change(
            &TcChange {
                object: TcObject::Qdisc,
                verb: TcVerb::Add,
                dev: "eth0".into(),
                parent: Some(ROOT_HANDLE),
                handle: None,
                classid: None,
                kind: Some(opt.kind().into()),
                options: Some(TcOptions::Qdisc(opt)),
            },
            Instant::ZERO,
        )
        .unwrap();
    }

    #[test]
    fn a_throttled_root_sets_a_timer_instead_of_asking_to_be_polled() {
        use crate::qdisc::cls::test_frame;
        let (mut s, i) = stack();
        let t0 = Instant::from_secs(1);
        s.set_link_up(i, true, t0).unwrap();
        // `tbf rate 1mbit burst 2kb limit 10kb`.
        let tbf = super::super::opt::TbfOpt {
            rate: 1_000_000,
            burst: 2048,
            limit: 10240,
            peakrate: None,
            mtu: 0,
        };
        add_root(&mut s, QdiscOpt::Tbf(tbf));
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
        add_root(
            &mut s,
            QdiscOpt::FqCodel(FqCodelOpt {
                limit: Some(2),
                ..Default::default()
            }),
        );
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

    /// Options of tc changes, good and bad, of every kind, for the property tests.
    fn sample_options() -> Vec<TcOptions> {
        use super::super::cls::{FilterKind, U32Key};
        use super::super::opt::{ClassOpt, FilterOpt, HtbClassOpt, NetemLoss, PrioOpt, TbfOpt};
        let tbf = TbfOpt {
            rate: 1_000_000,
            burst: 10240,
            limit: 10240,
            peakrate: None,
            mtu: 0,
        };
        let prio = super::super::pfifo_fast::OPT;
        let htb_class = |rate: Option<u64>, prio: Option<u32>| {
            TcOptions::Class(ClassOpt::Htb(HtbClassOpt {
                rate,
                prio,
                ..Default::default()
            }))
        };
        let q = TcOptions::Qdisc;
        vec![
            q(QdiscOpt::PfifoFast(prio)),
            q(QdiscOpt::PfifoFast(PrioOpt { bands: 5, ..prio })),
            q(QdiscOpt::Pfifo(FifoOpt { limit: Some(0) })),
            q(QdiscOpt::Bfifo(FifoOpt { limit: Some(3000) })),
            q(QdiscOpt::Tbf(tbf)),
            q(QdiscOpt::Tbf(TbfOpt { burst: 0, ..tbf })),
            q(QdiscOpt::Tbf(TbfOpt {
                peakrate: Some(1),
                ..tbf
            })),
            q(QdiscOpt::Netem(NetemOpt {
                latency: 5000,
                jitter: 1000,
                loss: NetemLoss::Random { p: 0.1, cor: 0.0 },
                reorder: (0.1, 0.0),
                gap: 1,
                ..NetemOpt::default()
            })),
            q(QdiscOpt::Netem(NetemOpt {
                reorder: (0.5, 0.0),
                ..NetemOpt::default()
            })),
            q(QdiscOpt::Netem(NetemOpt {
                duplicate: (2.0, 0.0),
                ..NetemOpt::default()
            })),
            q(QdiscOpt::Prio(PrioOpt { bands: 1, ..prio })),
            q(QdiscOpt::Prio(PrioOpt { bands: 4, ..prio })),
            q(QdiscOpt::FqCodel(FqCodelOpt {
                flows: Some(0),
                ..Default::default()
            })),
            q(QdiscOpt::FqCodel(FqCodelOpt {
                limit: Some(3),
                ..Default::default()
            })),
            q(QdiscOpt::Htb(HtbGlob {
                default: Some(0x10),
                ..Default::default()
            })),
            q(QdiscOpt::Htb(HtbGlob {
                r2q: Some(0),
                ..Default::default()
            })),
            htb_class(Some(1_000_000), None),
            htb_class(None, None),
            htb_class(Some(1_000_000), Some(9)),
            TcOptions::Filter(FilterOpt {
                prio: Some(1),
                kind: FilterKind::U32(vec![U32Key::Dport {
                    port: 5001,
                    mask: 0xffff,
                }]),
                classid: 0x1_0010,
            }),
            TcOptions::Filter(FilterOpt {
                prio: None,
                kind: FilterKind::Fw { handle: 6, mask: 7 },
                classid: 0x1_0001,
            }),
            TcOptions::FilterDel { prio: Some(1) },
            TcOptions::FilterDel { prio: None },
        ]
    }

    /// Typed options of every kind with values from anywhere (a control socket may send any):
    /// zero, huge, negative or NaN probabilities, out-of-range bands.
    fn arb_qdisc_opt() -> impl proptest::strategy::Strategy<Value = QdiscOpt> {
        use super::super::opt::{Dist, NetemLoss, PrioOpt, TbfOpt};
        use proptest::prelude::*;
        let frac = || {
            prop_oneof![
                Just(0.0),
                0.0..=1.0f64,
                Just(-0.5),
                Just(2.0),
                Just(f64::NAN),
                Just(f64::INFINITY)
            ]
        };
        let num = || prop_oneof![0u64..5000, any::<u64>(), Just(u64::MAX)];
        let small = || prop_oneof![0u32..5000, any::<u32>()];
        let fifo = proptest::option::of(num()).prop_map(|limit| FifoOpt { limit });
        let tbf = (num(), num(), num(), proptest::option::of(num()), num()).prop_map(
            |(rate, burst, limit, peakrate, mtu)| {
                QdiscOpt::Tbf(TbfOpt {
                    rate,
                    burst,
                    limit,
                    peakrate,
                    mtu,
                })
            },
        );
        let loss = prop_oneof![
            Just(NetemLoss::None),
            (frac(), frac()).prop_map(|(p, cor)| NetemLoss::Random { p, cor }),
            proptest::array::uniform5(frac()).prop_map(|p| NetemLoss::State { p }),
            (frac(), frac(), frac(), frac()).prop_map(|(p, r, h1, k1)| NetemLoss::Gemodel {
                p,
                r,
                h1,
                k1
            }),
        ];
        let dist = prop_oneof![
            Just(Dist::Uniform),
            Just(Dist::Normal),
            Just(Dist::Pareto),
            Just(Dist::ParetoNormal)
        ];
        let netem = (
            (small(), num(), num(), frac(), dist, loss),
            (frac(), frac(), small(), frac(), proptest::option::of(num())),
            (proptest::option::of(any::<u64>()), any::<bool>()),
        )
            .prop_map(
                |(
                    (limit, latency, jitter, delay_cor, dist, loss),
                    (dup, reo, gap, cor, rate),
                    (seed, ecn),
                )| {
                    QdiscOpt::Netem(NetemOpt {
                        limit,
                        latency,
                        jitter,
                        delay_cor,
                        dist,
                        loss,
                        duplicate: (dup, cor),
                        reorder: (reo, cor),
                        gap,
                        corrupt: (cor, dup),
                        rate,
                        seed,
                        ecn,
                    })
                },
            );
        let prio =
            (any::<u32>(), proptest::array::uniform16(0u8..20)).prop_map(|(bands, priomap)| {
                PrioOpt {
                    bands: bands % 20,
                    priomap,
                }
            });
        let fq = (
            proptest::option::of(small()),
            proptest::option::of(small()),
            proptest::option::of(small()),
            proptest::option::of(num()),
            proptest::option::of(num()),
            proptest::option::of(num()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(num()),
            proptest::option::of(small()),
        )
            .prop_map(
                |(limit, flows, quantum, target, interval, memory_limit, ecn, ce, batch)| {
                    QdiscOpt::FqCodel(FqCodelOpt {
                        limit,
                        flows: flows.map(|f| f % 70_000),
                        quantum,
                        target,
                        interval,
                        memory_limit,
                        ecn,
                        ce_threshold: ce,
                        drop_batch: batch,
                    })
                },
            );
        let htb = (
            proptest::option::of(small()),
            proptest::option::of(small()),
            proptest::option::of(small()),
        )
            .prop_map(|(default, r2q, direct_qlen)| {
                QdiscOpt::Htb(HtbGlob {
                    default,
                    r2q,
                    direct_qlen: direct_qlen.map(|q| q % 5000),
                    direct_pkts: 0,
                })
            });
        prop_oneof![
            fifo.clone().prop_map(QdiscOpt::Pfifo).boxed(),
            fifo.prop_map(QdiscOpt::Bfifo).boxed(),
            tbf.boxed(),
            netem.boxed(),
            prio.prop_map(QdiscOpt::Prio).boxed(),
            fq.boxed(),
            htb.boxed(),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Any sequence of tc changes (objects, verbs, devices, handles, kinds and typed
        /// options at random): no panic, and a refused change changes nothing.
        #[test]
        fn arbitrary_commands_never_panic_and_errors_change_nothing(
            cmds in proptest::collection::vec(
                (0usize..3, 0usize..4, 0usize..3, proptest::option::of(0usize..8),
                 proptest::option::of(0usize..8), proptest::option::of(0usize..8),
                 proptest::option::of(0usize..KINDS.len() + 1),
                 proptest::option::of(0usize..24)),
                1..12)
        ) {
            const HANDLES: [u32; 8] =
                [ROOT_HANDLE, 0x1_0000, 0x1_0001, 0x1_0010, 0x10_0000, 0x2_0000, 0xffff_0000, 0];
            let (mut s, i) = stack();
            s.set_link_up(i, true, Instant::ZERO).unwrap();
            let options = sample_options();
            for (n, (o, v, d, p, h, c, k, opt)) in cmds.iter().enumerate() {
                let change = TcChange {
                    object: [TcObject::Qdisc, TcObject::Class, TcObject::Filter][*o],
                    verb: [TcVerb::Add, TcVerb::Change, TcVerb::Replace, TcVerb::Del][*v],
                    dev: ["eth0", "lo", "eth9"][*d].into(),
                    parent: p.map(|p| HANDLES[p]),
                    handle: h.map(|h| HANDLES[h]),
                    classid: c.map(|c| HANDLES[c]),
                    kind: k.map(|k| KINDS.get(k).copied().unwrap_or("sfq").into()),
                    options: opt.and_then(|x| options.get(x).cloned()),
                };
                let before = (s.tc_qdiscs(None), s.tc_classes(None), s.tc_filters(None));
                let now = Instant::from_millis(n as u64);
                if s.tc_change(&change, now).is_err() {
                    let after = (s.tc_qdiscs(None), s.tc_classes(None), s.tc_filters(None));
                    proptest::prop_assert_eq!(before, after, "{:?}", change);
                }
                // Traffic through whatever tree there is.
                for k in 0..4u8 {
                    let f = crate::qdisc::cls::test_frame([1; 4], [2; 4], 6, 1, 5000 + k as u16, k << 2, 100 + k as usize * 300);
                    let _ = s.dev_queue_xmit(i, f, now);
                }
                while s.take_tx(i, now + std::time::Duration::from_secs(1)).is_some() {}
            }
        }

        /// Typed options with any values: each kind takes or refuses them (creating, and
        /// changing one of its kind), never panics, and what it took carries traffic.
        #[test]
        fn arbitrary_typed_options_are_taken_or_refused(opt in arb_qdisc_opt()) {
            use crate::qdisc::cls::test_frame;
            let env = QdiscEnv::default();
            let kind = opt.kind();
            // Created from them, or (tbf has no defaults) changed to them.
            let made = qdisc_create(kind, Some(&opt), &env).ok();
            let changed = qdisc_create(kind, None, &env).ok().map(|mut q| {
                let _ = q.change(&opt);
                q
            });
            for mut q in made.into_iter().chain(changed) {
                let mut t = Instant::ZERO;
                for k in 0..20u16 {
                    let f = test_frame([1; 4], [2; 4], 6, 1, 5000 + k % 3, (k as u8) << 2, 60 + k as usize * 70);
                    let _ = q.enqueue(f, t);
                }
                for _ in 0..200 {
                    match q.dequeue(t) {
                        Some(_) => {}
                        None => match q.next_deadline() {
                            Some(d) => t = d.max(t + std::time::Duration::from_micros(1)),
                            None => break,
                        },
                    }
                    while q.take_dropped().is_some() {}
                }
                let _ = q.dump();
                let _ = q.dump_stats();
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
            let opt = match KINDS[kind] {
                // `rate 1mbit burst 10kb latency 10ms`.
                "tbf" => Some(QdiscOpt::Tbf(super::super::opt::TbfOpt {
                    rate: 1_000_000,
                    burst: 10240,
                    limit: 11490,
                    peakrate: None,
                    mtu: 0,
                })),
                // `delay 1ms 1ms loss 5% duplicate 5% reorder 5% corrupt 5%`.
                "netem" => Some(QdiscOpt::Netem(NetemOpt {
                    latency: 1000,
                    jitter: 1000,
                    loss: super::super::opt::NetemLoss::Random { p: 0.05, cor: 0.0 },
                    duplicate: (0.05, 0.0),
                    reorder: (0.05, 0.0),
                    gap: 1,
                    corrupt: (0.05, 0.0),
                    ..NetemOpt::default()
                })),
                "htb" => Some(QdiscOpt::Htb(HtbGlob {
                    default: Some(1),
                    ..Default::default()
                })),
                _ => None,
            };
            let mut q = qdisc_create(KINDS[kind], opt.as_ref(), &env).unwrap();
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
