//! A path-compressed binary trie of prefixes, each holding an ordered list of entries: the
//! shape of IPv4's routing tables (Linux: net/ipv4/fib_trie.c) and of IPv6's (Linux's fib6
//! radix tree, net/ipv6/ip6_fib.c), generic over the key width (32 or 128 bits).
//!
//! A node stands for one prefix. Nodes exist only where entries are or where two prefixes
//! part ways, so a lookup visits at most `BITS + 1` nodes however many entries the trie holds.
//! A lookup takes, longest prefix first, the first entry the caller finds usable (Linux's
//! fib_trie backtracks the same way when a next hop is dead).

/// A key of the trie: an address as an unsigned integer, most significant bit first.
pub trait PrefixKey: Copy + Eq + std::fmt::Debug {
    /// Bits in a key (32 for IPv4, 128 for IPv6).
    const BITS: u8;
    /// The key with only its first `plen` bits kept.
    fn masked(self, plen: u8) -> Self;
    /// Bit `pos` of the key, counting from the most significant (`pos` < `BITS`).
    fn bit(self, pos: u8) -> usize;
    /// How many leading bits `self` and `other` share.
    fn common_len(self, other: Self) -> u8;
}

impl PrefixKey for u32 {
    const BITS: u8 = 32;
    fn masked(self, plen: u8) -> u32 {
        match plen {
            0 => 0,
            p => self & (u32::MAX << (32 - u32::from(p.min(32)))),
        }
    }
    fn bit(self, pos: u8) -> usize {
        ((self >> (31 - u32::from(pos))) & 1) as usize
    }
    fn common_len(self, other: u32) -> u8 {
        (self ^ other).leading_zeros() as u8
    }
}

impl PrefixKey for u128 {
    const BITS: u8 = 128;
    fn masked(self, plen: u8) -> u128 {
        match plen {
            0 => 0,
            p => self & (u128::MAX << (128 - u32::from(p.min(128)))),
        }
    }
    fn bit(self, pos: u8) -> usize {
        ((self >> (127 - u32::from(pos))) & 1) as usize
    }
    fn common_len(self, other: u128) -> u8 {
        (self ^ other).leading_zeros() as u8
    }
}

/// One prefix in the trie. Linux: a `key_vector` leaf (with its `fib_alias` list) or tnode;
/// a `fib6_node` with its `fib6_info` leaf list.
#[derive(Debug, Clone)]
struct Node<K, V> {
    /// The prefix, host bits clear.
    key: K,
    /// Its length.
    plen: u8,
    /// Entries for exactly this prefix, in the order the caller keeps them.
    entries: Vec<V>,
    /// Longer prefixes, split on bit `plen`.
    child: [Option<Box<Node<K, V>>>; 2],
}

type Slot<K, V> = Option<Box<Node<K, V>>>;

/// How `slot`'s node relates to the prefix being looked for.
enum Place {
    /// No node here.
    Empty,
    /// The node is this prefix.
    Here,
    /// The node is a shorter prefix of it: go down this child.
    Below(usize),
    /// They part (or the prefix is the shorter) at this bit length.
    Split(u8),
}

fn place<K: PrefixKey, V>(slot: &Slot<K, V>, key: K, plen: u8) -> Place {
    let Some(n) = slot else {
        return Place::Empty;
    };
    let common = key.common_len(n.key).min(plen).min(n.plen);
    if common == n.plen && common == plen {
        Place::Here
    } else if common == n.plen {
        Place::Below(key.bit(n.plen))
    } else {
        Place::Split(common)
    }
}

fn new_node<K, V>(key: K, plen: u8) -> Box<Node<K, V>> {
    Box::new(Node {
        key,
        plen,
        entries: Vec::new(),
        child: [None, None],
    })
}

/// The node for exactly (`key`, `plen`) under `slot`, created (with any branching node it
/// needs) if absent.
fn node_for<K: PrefixKey, V>(slot: &mut Slot<K, V>, key: K, plen: u8) -> &mut Node<K, V> {
    match place(slot, key, plen) {
        Place::Empty => slot.insert(new_node(key, plen)),
        Place::Here => slot.as_mut().expect("occupied"),
        Place::Below(b) => {
            let n = slot.as_mut().expect("occupied");
            node_for(&mut n.child[b], key, plen)
        }
        Place::Split(common) => {
            let old = slot.take().expect("occupied");
            let mut up = new_node(key.masked(common), common);
            let ob = old.key.bit(common);
            up.child[ob] = Some(old);
            let up = slot.insert(up);
            if common == plen {
                up
            } else {
                // `common` < `plen`: the new prefix goes on the other side of the split.
                up.child[1 - ob].insert(new_node(key, plen))
            }
        }
    }
}

/// Removes the first entry `pick` accepts from the node for (`key`, `plen`), then splices out
/// nodes left with no entries and fewer than two children on the way back up.
fn remove_from<K: PrefixKey, V>(
    slot: &mut Slot<K, V>,
    key: K,
    plen: u8,
    pick: &mut impl FnMut(&V) -> bool,
) -> Option<V> {
    let removed = match place(slot, key, plen) {
        Place::Empty | Place::Split(_) => return None,
        Place::Here => {
            let n = slot.as_mut().expect("occupied");
            let pos = n.entries.iter().position(&mut *pick)?;
            n.entries.remove(pos)
        }
        Place::Below(b) => {
            let n = slot.as_mut().expect("occupied");
            remove_from(&mut n.child[b], key, plen, pick)?
        }
    };
    let n = slot.as_mut().expect("occupied");
    if n.entries.is_empty() {
        match (n.child[0].is_some(), n.child[1].is_some()) {
            (true, true) => {}
            (true, false) => *slot = n.child[0].take(),
            (false, _) => *slot = n.child[1].take(),
        }
    }
    Some(removed)
}

/// The longest-prefix entry under `node` for `key` that `usable` accepts.
fn lookup_in<'a, K: PrefixKey, V>(
    node: Option<&'a Node<K, V>>,
    key: K,
    usable: &impl Fn(&V) -> bool,
) -> Option<&'a V> {
    let n = node?;
    if key.masked(n.plen) != n.key {
        return None;
    }
    if n.plen < K::BITS {
        if let Some(v) = lookup_in(n.child[key.bit(n.plen)].as_deref(), key, usable) {
            return Some(v);
        }
    }
    n.entries.iter().find(|e| usable(e))
}

/// A trie of prefixes of `K`, each with its entries `V`.
#[derive(Debug, Clone)]
pub struct PrefixTrie<K, V> {
    root: Slot<K, V>,
    len: usize,
}

impl<K, V> Default for PrefixTrie<K, V> {
    fn default() -> Self {
        PrefixTrie { root: None, len: 0 }
    }
}

impl<K: PrefixKey, V> PrefixTrie<K, V> {
    /// The entries of exactly `key/plen` (host bits of `key` are cleared), created empty if
    /// absent, for the caller to insert into in its own order. `plen` must be at most
    /// `K::BITS`. Call [`PrefixTrie::inserted`] after adding an entry.
    pub fn entries_mut(&mut self, key: K, plen: u8) -> &mut Vec<V> {
        debug_assert!(plen <= K::BITS);
        &mut node_for(&mut self.root, key.masked(plen), plen).entries
    }

    /// Counts an entry added through [`PrefixTrie::entries_mut`].
    pub fn inserted(&mut self) {
        self.len += 1;
    }

    #[cfg(test)]
    /// The entries of exactly `key/plen`, if any.
    pub fn entries(&self, key: K, plen: u8) -> &[V] {
        let key = key.masked(plen);
        let mut cur = self.root.as_deref();
        while let Some(n) = cur {
            if n.plen > plen || key.masked(n.plen) != n.key {
                return &[];
            }
            if n.plen == plen {
                return &n.entries;
            }
            cur = n.child[key.bit(n.plen)].as_deref();
        }
        &[]
    }

    /// Removes the first entry of exactly `key/plen` that `pick` accepts.
    pub fn remove(&mut self, key: K, plen: u8, mut pick: impl FnMut(&V) -> bool) -> Option<V> {
        let v = remove_from(&mut self.root, key.masked(plen), plen, &mut pick)?;
        self.len -= 1;
        Some(v)
    }

    /// The entry for `key`: the longest prefix holding an entry `usable` accepts, and its
    /// first such entry.
    pub fn lookup(&self, key: K, usable: impl Fn(&V) -> bool) -> Option<&V> {
        lookup_in(self.root.as_deref(), key, &usable)
    }

    /// Every entry, in prefix order (shorter first for the same address).
    pub fn iter(&self) -> impl Iterator<Item = &V> + '_ {
        let mut stack: Vec<&Node<K, V>> = self.root.as_deref().into_iter().collect();
        std::iter::from_fn(move || {
            let n = stack.pop()?;
            stack.extend(n.child.iter().rev().flatten().map(|c| &**c));
            Some(n.entries.iter())
        })
        .flatten()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the trie holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of nodes (the entries' prefixes plus branching points).
    pub fn nodes(&self) -> usize {
        let mut count = 0;
        let mut stack: Vec<&Node<K, V>> = self.root.as_deref().into_iter().collect();
        while let Some(n) = stack.pop() {
            count += 1;
            stack.extend(n.child.iter().flatten().map(|c| &**c));
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn add<K: PrefixKey>(t: &mut PrefixTrie<K, u32>, k: K, plen: u8, v: u32) {
        t.entries_mut(k, plen).push(v);
        t.inserted();
    }

    #[test]
    fn v6_longest_prefix() {
        let a = |s: &str| u128::from(s.parse::<std::net::Ipv6Addr>().unwrap());
        let mut t = PrefixTrie::<u128, u32>::default();
        add(&mut t, 0, 0, 1);
        add(&mut t, a("2001:db8::"), 32, 2);
        add(&mut t, a("2001:db8:1::"), 48, 3);
        add(&mut t, a("2001:db8:1::5"), 128, 4);
        assert_eq!(t.lookup(a("2001:db8:1::5"), |_| true), Some(&4));
        assert_eq!(t.lookup(a("2001:db8:1::6"), |_| true), Some(&3));
        assert_eq!(t.lookup(a("2001:db8:2::"), |_| true), Some(&2));
        assert_eq!(t.lookup(a("fe80::1"), |_| true), Some(&1));
        assert_eq!(
            t.lookup(a("2001:db8:1::6"), |v| *v != 3),
            Some(&2),
            "backtracks"
        );
        assert_eq!(t.entries(a("2001:db8:1::77"), 48), &[3]);
        assert_eq!(t.entries(a("2001:db8:1::"), 47), &[] as &[u32]);
        assert_eq!(t.remove(a("2001:db8::"), 32, |_| true), Some(2));
        assert_eq!(t.lookup(a("2001:db8:2::"), |_| true), Some(&1));
        assert_eq!(t.len(), 3);
        assert_eq!(t.iter().copied().collect::<Vec<_>>(), vec![1, 3, 4]);
    }

    proptest! {
        /// Against a linear scan: the same answer for any set of prefixes, and removal leaves
        /// no stray nodes.
        #[test]
        fn matches_a_linear_scan(routes in proptest::collection::vec((any::<u32>(), 0u8..=32), 0..40),
                                 probes in proptest::collection::vec(any::<u32>(), 0..40)) {
            let mut t = PrefixTrie::<u32, u32>::default();
            for (i, (k, p)) in routes.iter().enumerate() {
                add(&mut t, *k, *p, i as u32);
            }
            for d in probes {
                let want = routes.iter().enumerate()
                    .filter(|(_, (k, p))| k.masked(*p) == d.masked(*p))
                    .max_by_key(|(i, (_, p))| (*p, std::cmp::Reverse(*i)))
                    .map(|(i, _)| i as u32);
                prop_assert_eq!(t.lookup(d, |_| true).copied(), want);
            }
            for (i, (k, p)) in routes.iter().enumerate() {
                prop_assert_eq!(t.remove(*k, *p, |v| *v == i as u32), Some(i as u32));
            }
            prop_assert!(t.is_empty());
            prop_assert_eq!(t.nodes(), 0);
        }
    }
}
