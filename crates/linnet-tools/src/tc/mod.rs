//! tc in user space: `tc qdisc|class|filter add|change|replace|del|show ...` into a typed
//! [`TcChange`] (or a show request) for a [`Backend`] (a running daemon, or a [`Stack`] in
//! the same program), and the `show` output as tc prints it ([`format`](mod@format)).
//!
//! Each kind's own options (`netem delay 50ms`, `htb rate 10mbit`, a filter's `u32 match
//! ...`) are read here, one file a kind as iproute2's `q_*.c`/`f_*.c`, into the typed
//! options the stack takes ([`linnet::qdisc::opt`]), and printed back from the typed options
//! the stack reports.
//!
//! Linux userspace: iproute2's tc/tc.c (`do_cmd`), tc_qdisc.c (`tc_qdisc_modify`),
//! tc_class.c (`tc_class_modify`), tc_filter.c (`tc_filter_modify`).

pub mod f_u32;
pub mod format;
pub mod q_fifo;
pub mod q_fq_codel;
pub mod q_htb;
pub mod q_netem;
pub mod q_prio;
pub mod q_tbf;
pub mod units;

use linnet::qdisc::opt::{ClassOpt, QdiscOpt, TcOptions};
use linnet::qdisc::tc::{TcChange, TcObject, TcReply, TcVerb};
use linnet::qdisc::TcError;
use units::{parse_handle, parse_u32, ROOT_HANDLE};

/// Build a [`TcError`] from a format string.
macro_rules! tc_err {
    ($($t:tt)*) => { linnet::qdisc::TcError(format!($($t)*)) };
}
pub(crate) use tc_err;

/// A qdisc kind's options from its words; `None` for a kind tc does not know here (the
/// stack names it in its error). Linux/iproute2: `get_qdisc_kind` → `q->parse_qopt`.
pub fn parse_qdisc_opt(kind: &str, args: &[String]) -> Result<Option<QdiscOpt>, TcError> {
    Ok(Some(match kind {
        "pfifo_fast" => q_fifo::parse_pfifo_fast(args)?,
        "pfifo" | "bfifo" => q_fifo::parse_opt(kind, args)?,
        "tbf" => q_tbf::parse_opt(args)?,
        "netem" => q_netem::parse_opt(args)?,
        "prio" => q_prio::parse_opt(args)?,
        "fq_codel" => q_fq_codel::parse_opt(args)?,
        "htb" => q_htb::parse_opt(args)?,
        _ => return Ok(None),
    }))
}

/// A class's options from its words; `None` for kinds without class options (the stack
/// says what is wrong). Linux/iproute2: `q->parse_copt`.
pub fn parse_class_opt(kind: &str, args: &[String]) -> Result<Option<ClassOpt>, TcError> {
    match kind {
        "htb" => q_htb::parse_class_opt(args).map(Some),
        _ => Ok(None),
    }
}

/// `tc filter del ... [prio N]`: the priority, other words left alone.
fn parse_filter_del(args: &[String]) -> Result<TcOptions, TcError> {
    let pos = args
        .iter()
        .position(|w| matches!(w.as_str(), "prio" | "pref" | "priority"));
    let prio = match pos {
        Some(i) => {
            let v = args
                .get(i + 1)
                .ok_or_else(|| tc_err!("option \"prio\" needs a value"))?;
            Some(parse_u32(v, "prio")?)
        }
        None => None,
    };
    Ok(TcOptions::FilterDel { prio })
}

/// The options of a change: the kind's, read by the kind (none for a delete of a qdisc or
/// class, whose words tc leaves alone).
fn parse_options(
    object: TcObject,
    verb: TcVerb,
    kind: Option<&str>,
    rest: &[String],
) -> Result<Option<TcOptions>, TcError> {
    Ok(match (object, verb, kind) {
        (TcObject::Filter, TcVerb::Del, _) => Some(parse_filter_del(rest)?),
        (TcObject::Filter, _, _) => Some(TcOptions::Filter(f_u32::parse_filter(rest)?)),
        (_, TcVerb::Del, _) | (_, _, None) => None,
        (TcObject::Qdisc, _, Some(k)) => parse_qdisc_opt(k, rest)?.map(TcOptions::Qdisc),
        (TcObject::Class, _, Some(k)) => parse_class_opt(k, rest)?.map(TcOptions::Class),
    })
}
use linnet::Instant;
use linnet::Stack;

/// What a tc command line asks.
#[derive(Debug, Clone, PartialEq)]
pub enum TcCommand {
    /// A change.
    Change(TcChange),
    /// `show [dev D]`; `extra` is a word tc does not know there (refused once the device is
    /// known to exist, as tc does).
    Show {
        /// Qdiscs, classes or filters.
        object: TcObject,
        /// Only this device.
        dev: Option<String>,
        /// A stray word.
        extra: Option<String>,
    },
}

/// The words common to every tc object command. Linux userspace: the option loops of
/// `tc_qdisc_modify`, `tc_class_modify`, `tc_filter_modify`.
#[derive(Debug, Default)]
struct Common {
    dev: Option<String>,
    parent: Option<u32>,
    handle: Option<u32>,
    classid: Option<u32>,
    kind: Option<String>,
    rest: Vec<String>,
}

fn parse_common(words: &[String], object: TcObject) -> Result<Common, TcError> {
    let mut c = Common::default();
    let mut i = 0;
    let value = |i: usize, w: &str| -> Result<&str, TcError> {
        words
            .get(i + 1)
            .map(|s| s.as_str())
            .ok_or_else(|| TcError(format!("option \"{w}\" needs a value")))
    };
    while i < words.len() {
        let w = words[i].as_str();
        match w {
            "dev" => {
                c.dev = Some(value(i, w)?.to_string());
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
            "handle" if object != TcObject::Filter => {
                c.handle = Some(parse_handle(value(i, w)?)?);
                i += 2;
            }
            "classid" if object == TcObject::Class => {
                c.classid = Some(parse_handle(value(i, w)?)?);
                i += 2;
            }
            _ if object == TcObject::Filter => {
                // Everything else belongs to the filter itself.
                c.rest.push(w.to_string());
                i += 1;
            }
            _ => {
                c.kind = Some(w.to_string());
                c.rest = words[i + 1..].to_vec();
                break;
            }
        }
    }
    Ok(c)
}

/// Parse a tc command line (the words after `tc`, global options already taken).
/// Linux userspace: `do_cmd` and the object's `*_modify` / `print` entry.
pub fn parse_command(argv: &[String]) -> Result<TcCommand, TcError> {
    let Some((object, rest)) = argv.split_first() else {
        return Err(TcError(
            "usage: tc qdisc|class|filter add|change|replace|del|show ...".into(),
        ));
    };
    let object = match object.as_str() {
        o if !o.is_empty() && "qdisc".starts_with(o) => TcObject::Qdisc,
        o if !o.is_empty() && "class".starts_with(o) => TcObject::Class,
        o if !o.is_empty() && "filter".starts_with(o) => TcObject::Filter,
        o => {
            return Err(TcError(format!(
                "unknown object \"{o}\" (qdisc, class, filter)"
            )))
        }
    };
    let (cmd, words) = match rest.split_first() {
        Some((c, w)) => (c.as_str(), w),
        None => ("show", rest),
    };
    let verb = match cmd {
        "add" => Some(TcVerb::Add),
        "change" => Some(TcVerb::Change),
        "replace" => Some(TcVerb::Replace),
        "del" | "delete" => Some(TcVerb::Del),
        "show" | "list" | "ls" => None,
        _ => {
            return Err(TcError(format!(
                "unknown command \"{cmd}\" for tc {}",
                object.name()
            )))
        }
    };
    let c = parse_common(words, object)?;
    let Some(verb) = verb else {
        return Ok(TcCommand::Show {
            object,
            dev: c.dev,
            extra: c.kind.filter(|_| object != TcObject::Filter),
        });
    };
    let dev = c.dev.ok_or_else(|| TcError("\"dev\" is required".into()))?;
    let options = parse_options(object, verb, c.kind.as_deref(), &c.rest)?;
    Ok(TcCommand::Change(TcChange {
        object,
        verb,
        dev,
        parent: c.parent,
        handle: c.handle,
        classid: c.classid,
        kind: c.kind,
        options,
    }))
}

/// Where tc sends its changes and reads its lists. Linux: rtnetlink.
pub trait Backend {
    /// Carry out one change.
    fn tc_change(&mut self, c: TcChange) -> Result<(), TcError>;

    /// List qdiscs, classes or filters, of one device or all.
    fn tc_show(&mut self, object: TcObject, dev: Option<String>) -> Result<TcReply, TcError>;
}

/// A stack in the same program, at time `now`.
pub struct At<'a>(pub &'a mut Stack, pub Instant);

impl Backend for At<'_> {
    fn tc_change(&mut self, c: TcChange) -> Result<(), TcError> {
        self.0.tc_change(&c, self.1)
    }

    fn tc_show(&mut self, object: TcObject, dev: Option<String>) -> Result<TcReply, TcError> {
        self.0.tc_show(object, dev.as_deref())
    }
}

/// Run one tc command line: a change answers [`TcReply::Done`], a show its list. On error
/// nothing has changed.
pub fn do_command<B: Backend + ?Sized>(b: &mut B, argv: &[String]) -> Result<TcReply, TcError> {
    match parse_command(argv)? {
        TcCommand::Change(c) => b.tc_change(c).map(|()| TcReply::Done),
        TcCommand::Show { object, dev, extra } => {
            let reply = b.tc_show(object, dev)?;
            match extra {
                Some(w) => Err(TcError(format!("unknown word \"{w}\""))),
                None => Ok(reply),
            }
        }
    }
}

/// tc on a [`Stack`] in the same program, as the `linnet tc` command drives a daemon's.
pub trait Tc {
    /// Run one `tc` command given as words (`qdisc add dev eth0 root netem delay 50ms`).
    /// On error nothing has changed.
    fn tc(&mut self, argv: &[String], now: Instant) -> Result<TcReply, TcError>;
}

impl Tc for Stack {
    fn tc(&mut self, argv: &[String], now: Instant) -> Result<TcReply, TcError> {
        do_command(&mut At(self, now), argv)
    }
}

#[cfg(test)]
mod tests;
