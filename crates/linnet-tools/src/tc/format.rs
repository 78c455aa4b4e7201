//! What `tc [-s] qdisc|class|filter show` prints.
//!
//! Linux userspace: iproute2's tc/tc_qdisc.c (`print_qdisc`), tc_class.c (`print_class`),
//! tc_filter.c (`print_filter`), tc_util.c (`print_tcstats_attr`).

use linnet::qdisc::tc::{FilterInfo, QdiscInfo, TcClassInfo};
use linnet::qdisc::units::{fmt_handle, fmt_size, ROOT_HANDLE};
use linnet::qdisc::QdiscStats;

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
