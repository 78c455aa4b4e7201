//! What `tc [-s] qdisc|class|filter show` prints.
//!
//! Linux userspace: iproute2's tc/tc_qdisc.c (`print_qdisc`), tc_class.c (`print_class`),
//! tc_filter.c (`print_filter`), tc_util.c (`print_tcstats_attr`).

use super::units::{fmt_handle, fmt_size, ROOT_HANDLE};
use super::{f_u32, q_fifo, q_fq_codel, q_htb, q_netem, q_prio, q_tbf};
use linnet::qdisc::opt::{ClassOpt, QdiscOpt, XStats};
use linnet::qdisc::tc::{FilterInfo, QdiscInfo, TcClassInfo};
use linnet::qdisc::QdiscStats;

/// A qdisc's options as tc prints them after its parent. Linux/iproute2: the kind's
/// `print_qopt`.
pub fn print_qdisc_opt(o: &QdiscOpt) -> String {
    match o {
        QdiscOpt::PfifoFast(p) | QdiscOpt::Prio(p) => q_prio::print_opt(p),
        QdiscOpt::Pfifo(f) => q_fifo::print_opt(f, false),
        QdiscOpt::Bfifo(f) => q_fifo::print_opt(f, true),
        QdiscOpt::Tbf(t) => q_tbf::print_opt(t),
        QdiscOpt::Netem(n) => q_netem::print_opt(n),
        QdiscOpt::FqCodel(f) => q_fq_codel::print_opt(f),
        QdiscOpt::Htb(h) => q_htb::print_opt(h),
    }
}

/// A class's options as tc prints them. Linux/iproute2: the kind's `print_copt`.
pub fn print_class_opt(o: &ClassOpt) -> String {
    match o {
        ClassOpt::Htb(h) => q_htb::print_class_opt(h),
    }
}

/// A kind's own counters as `tc -s` prints them. Linux/iproute2: the kind's `print_xstats`.
pub fn print_xstats(x: &XStats) -> String {
    match *x {
        XStats::FqCodel {
            maxpacket,
            drop_overlimit,
            new_flow_count,
            ecn_mark,
            new_flows_len,
            old_flows_len,
        } => format!(
            "maxpacket {maxpacket} drop_overlimit {drop_overlimit} new_flow_count \
             {new_flow_count} ecn_mark {ecn_mark}\n  new_flows_len {new_flows_len} \
             old_flows_len {old_flows_len}"
        ),
        XStats::Netem {
            lost,
            duplicated,
            reordered,
            corrupted,
            ecn_marked,
        } => format!(
            "lost {lost} duplicated {duplicated} reordered {reordered} corrupted {corrupted} \
             ecn_marked {ecn_marked}"
        ),
        XStats::HtbClass {
            lends,
            borrows,
            giants,
            tokens,
            ctokens,
        } => format!(
            "lended: {lends} borrowed: {borrows} giants: {giants}\n tokens: {tokens} ctokens: {ctokens}"
        ),
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
        if let Some(o) = &q.options {
            s += " ";
            s += &print_qdisc_opt(o);
        }
        s += "\n";
        if stats {
            s += &format_stats(&q.stats);
            if let Some(x) = &q.xstats {
                s += &format!("  {}\n", print_xstats(x));
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
        if let Some(o) = &ci.opts {
            s += " ";
            s += &print_class_opt(o);
        }
        s += "\n";
        if stats {
            s += &format_stats(&ci.stats);
            if let Some(x) = &ci.xstats {
                s += &format!(" {}\n", print_xstats(x));
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
            f_u32::print_filter(&f.filter)
        );
    }
    s
}
