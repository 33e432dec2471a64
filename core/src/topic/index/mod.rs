#![cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
//! [`TopicIndex`]: which subscriptions a topic reaches, at a cost that does
//! not grow with the number of subscriptions.
//!
//! Layout:
//!
//! - subscriptions live in a slab addressed by [`SubscriptionId`]
//!   (index + generation, so a stale id never names a newer subscription);
//! - exact patterns (no wildcard) sit in a hash table keyed by their text:
//!   one lookup per topic;
//! - wildcard patterns sit in a segment trie: one node per distinct pattern
//!   prefix, children by literal segment (in one hash table of edges keyed by
//!   `(parent, segment)`), plus at most one `?` child and one `*` child per
//!   node; a subscription hangs on the node its pattern ends at.
//!
//! A match walks the trie breadth-first, one topic segment at a time, with
//! the set of nodes whose prefix fits the topic so far (an NFA simulation; a
//! `*` node stays in the set to take more segments). Per segment, each node
//! in the set costs at most one hash lookup; the set is sorted and
//! deduplicated, so no node is visited twice per segment — no exponential
//! blow-up with many `*`. The cost is O(topic segments × live nodes × log
//! live nodes) plus one step per reported subscription, where *live nodes*
//! are the pattern prefixes that fit the topic so far: subscriptions on other
//! branches cost nothing.

mod hash;
mod set;
mod table;

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::hash::BuildHasher;

pub use hash::{FixedHasher, FixedState};
use set::NodeSet;
use table::RawTable;

use super::{Pattern, PatternSegment, Topic};

/// Names one subscription of a [`TopicIndex`]: returned by
/// [`insert`](TopicIndex::insert), taken by [`remove`](TopicIndex::remove).
///
/// An id is never reused for another subscription of the same index until
/// its slot has been reused 2³² times.
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Pattern, TopicIndex};
/// let mut index = TopicIndex::new();
/// let a = index.insert(Pattern::new("a.*").unwrap(), "a");
/// let b = index.insert(Pattern::new("a.*").unwrap(), "b");
/// assert_ne!(a, b);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId {
    /// Slot in the slab.
    index: u32,
    /// Generation of the slot when this subscription was inserted.
    generation: u32,
}

/// A subscription index: patterns to subscriber keys, and for a topic, every
/// subscription whose pattern matches it.
///
/// Each [`insert`](TopicIndex::insert) is one subscription with one pattern
/// and one key `K` (a subscriber handle, a channel, a callback); a match
/// reports each matching subscription exactly once, in no particular order.
/// Matching cost does not grow with the number of subscriptions (see the
/// module docs for the exact bound): exact patterns are one hash lookup,
/// wildcard patterns a walk of a segment trie.
///
/// A plain single-threaded structure; for adding and removing subscriptions
/// while events are delivered, wrap it in a `RwLock` or swap whole
/// [`Clone`]s (copy-on-write).
///
/// `S` hashes segments and topics; the default [`FixedState`] is fast but
/// unkeyed (see there for when to pick a keyed hasher).
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Pattern, Topic, TopicIndex};
///
/// let mut index = TopicIndex::new();
/// let all = index.insert(Pattern::new("functions.signals.*")?, "all signals");
/// let it = index.insert(Pattern::new("functions.signals.iteration")?, "iterations");
/// index.insert(Pattern::new("io.?")?, "io");
///
/// let topic = Topic::new("functions.signals.iteration")?;
/// let mut hits: Vec<&str> = index.matches(&topic).map(|(_, key)| *key).collect();
/// hits.sort();
/// assert_eq!(hits, ["all signals", "iterations"]);
///
/// assert_eq!(index.remove(all), Some("all signals"));
/// assert_eq!(index.matches(&topic).map(|(id, _)| id).collect::<Vec<_>>(), [it]);
/// # Ok::<(), evlatch::topic::TopicError>(())
/// ```
#[derive(Clone)]
pub struct TopicIndex<K, S = FixedState> {
    /// The slab of subscriptions; `SubscriptionId::index` indexes it.
    subs: Vec<Slot<K>>,
    /// Vacant slots of `subs`.
    free_subs: Vec<u32>,
    /// Number of occupied slots of `subs`.
    len: usize,
    /// The trie's nodes; `ROOT` is always present.
    nodes: Vec<Node>,
    /// Vacant entries of `nodes` (pruned nodes, label `Vacant`).
    free_nodes: Vec<u32>,
    /// Literal edges, keyed by `edge_hash(parent, segment)`; the segment is
    /// the child's label.
    edges: RawTable<Edge>,
    /// Exact patterns, keyed by the hash of their text.
    exact: RawTable<Exact>,
    hasher: S,
}

/// One slab slot.
#[derive(Clone)]
struct Slot<K> {
    /// Bumped on every removal, so stale ids miss.
    generation: u32,
    entry: Option<Entry<K>>,
}

/// A subscription.
#[derive(Clone)]
struct Entry<K> {
    key: K,
    pattern: Box<str>,
    /// Where its id is listed.
    list: List,
    /// Its position in that list.
    pos: u32,
}

/// Which list of slab indices a subscription is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    /// `Exact::subs` of the entry for its pattern text.
    Exact,
    /// `Node::subs` of this trie node.
    Node(u32),
}

/// The trie root's id.
const ROOT: u32 = 0;
/// "No child" in `Node::one` / `Node::star`.
const NONE: u32 = u32::MAX;

/// A trie node: the pattern prefix spelled by the labels from the root.
#[derive(Clone)]
struct Node {
    /// The parent (unused for the root and vacant nodes).
    parent: u32,
    label: Label,
    /// `?` child or `NONE`.
    one: u32,
    /// `*` child or `NONE`.
    star: u32,
    /// Number of literal children (edges from this node in `edges`).
    literal_children: u32,
    /// Slab indices of the subscriptions whose pattern ends here.
    subs: Vec<u32>,
}

/// The label on the edge into a node.
#[derive(Clone, PartialEq, Eq)]
enum Label {
    Root,
    Literal(Box<str>),
    One,
    /// A `*` node: it stays live to take more segments.
    Star,
    /// A pruned node, on the free list.
    Vacant,
}

/// A literal edge of the trie.
#[derive(Clone, Copy)]
struct Edge {
    parent: u32,
    child: u32,
}

/// The subscriptions of one exact pattern.
#[derive(Clone)]
struct Exact {
    topic: Box<str>,
    subs: Vec<u32>,
}

impl Node {
    fn new(parent: u32, label: Label) -> Node {
        Node {
            parent,
            label,
            one: NONE,
            star: NONE,
            literal_children: 0,
            subs: Vec::new(),
        }
    }

    /// No subscription and no child: can be pruned.
    fn is_unused(&self) -> bool {
        self.subs.is_empty() && self.one == NONE && self.star == NONE && self.literal_children == 0
    }
}

impl<K> TopicIndex<K> {
    /// An empty index with the default [`FixedState`] hasher.
    ///
    /// # Examples
    ///
    /// ```
    /// let index = evlatch::topic::TopicIndex::<u32>::new();
    /// assert!(index.is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::with_hasher(FixedState)
    }
}

impl<K, S: BuildHasher + Default> Default for TopicIndex<K, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K, S: BuildHasher> TopicIndex<K, S> {
    /// An empty index that hashes with `hasher`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{FixedState, TopicIndex};
    /// let index: TopicIndex<u32> = TopicIndex::with_hasher(FixedState);
    /// assert_eq!(index.len(), 0);
    /// ```
    #[must_use]
    pub fn with_hasher(hasher: S) -> Self {
        TopicIndex {
            subs: Vec::new(),
            free_subs: Vec::new(),
            len: 0,
            nodes: vec![Node::new(ROOT, Label::Root)],
            free_nodes: Vec::new(),
            edges: RawTable::new(),
            exact: RawTable::new(),
            hasher,
        }
    }

    /// Number of subscriptions.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, TopicIndex};
    /// let mut index = TopicIndex::new();
    /// index.insert(Pattern::new("a").unwrap(), ());
    /// assert_eq!(index.len(), 1);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no subscription.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(evlatch::topic::TopicIndex::<()>::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a subscription: `key` will be reported for every topic `pattern`
    /// matches, until [`remove`](TopicIndex::remove)d. The same pattern (and
    /// key) may be inserted any number of times; each insert is its own
    /// subscription.
    ///
    /// Cost: O(pattern length) expected, plus amortised growth.
    ///
    /// # Panics
    ///
    /// If the index would hold more than `u32::MAX - 1` subscriptions or trie
    /// nodes at once (memory runs out long before).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, Topic, TopicIndex};
    /// let mut index = TopicIndex::new();
    /// let id = index.insert(Pattern::new("*.signals.*").unwrap(), 7);
    /// assert_eq!(index.get(id), Some(&7));
    /// assert_eq!(index.matches(&Topic::new("f.signals.x").unwrap()).count(), 1);
    /// ```
    pub fn insert(&mut self, pattern: Pattern<'_>, key: K) -> SubscriptionId {
        let slot = match self.free_subs.pop() {
            Some(slot) => slot,
            None => {
                let slot = to_u32(self.subs.len());
                self.subs.push(Slot {
                    generation: 0,
                    entry: None,
                });
                slot
            }
        };
        let (list, pos) = if pattern.is_exact() {
            let text = pattern.as_str();
            let hash = self.hasher.hash_one(text);
            let pos = match self.exact.find_mut(hash, |e| &*e.topic == text) {
                Some(exact) => {
                    exact.subs.push(slot);
                    exact.subs.len() - 1
                }
                None => {
                    let exact = Exact {
                        topic: text.into(),
                        subs: vec![slot],
                    };
                    self.exact.insert(hash, exact);
                    0
                }
            };
            (List::Exact, pos)
        } else {
            let node = self.node_for(pattern);
            let subs = &mut self.nodes[node as usize].subs;
            subs.push(slot);
            (List::Node(node), subs.len() - 1)
        };
        let slot_ref = &mut self.subs[slot as usize];
        debug_assert!(slot_ref.entry.is_none(), "slot {slot} was free");
        slot_ref.entry = Some(Entry {
            key,
            pattern: pattern.as_str().into(),
            list,
            pos: to_u32(pos),
        });
        self.len += 1;
        SubscriptionId {
            index: slot,
            generation: slot_ref.generation,
        }
    }

    /// Removes a subscription and hands its key back; `None` if `id` is not
    /// (or no longer) in this index. Trie nodes left without subscriptions or
    /// children are freed.
    ///
    /// Cost: O(pattern length) expected.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, TopicIndex};
    /// let mut index = TopicIndex::new();
    /// let id = index.insert(Pattern::new("a.?").unwrap(), "k");
    /// assert_eq!(index.remove(id), Some("k"));
    /// assert_eq!(index.remove(id), None);
    /// assert!(index.is_empty());
    /// ```
    pub fn remove(&mut self, id: SubscriptionId) -> Option<K> {
        let slot = self.subs.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let entry = slot.entry.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free_subs.push(id.index);
        self.len -= 1;

        let pos = entry.pos as usize;
        let moved = match entry.list {
            List::Exact => {
                let text = &*entry.pattern;
                let hash = self.hasher.hash_one(text);
                match self.exact.find_mut(hash, |e| &*e.topic == text) {
                    Some(exact) => {
                        let moved = swap_remove(&mut exact.subs, pos, id.index);
                        if exact.subs.is_empty() {
                            self.exact.remove(hash, |e| &*e.topic == text);
                        }
                        moved
                    }
                    None => {
                        debug_assert!(false, "exact entry of {text:?} missing");
                        None
                    }
                }
            }
            List::Node(node) => {
                let moved = swap_remove(&mut self.nodes[node as usize].subs, pos, id.index);
                self.prune(node);
                moved
            }
        };
        if let Some(moved) = moved {
            if let Some(e) = self.subs[moved as usize].entry.as_mut() {
                e.pos = entry.pos;
            }
        }
        Some(entry.key)
    }

    /// The key of a subscription, if `id` is in this index.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, TopicIndex};
    /// let mut index = TopicIndex::new();
    /// let id = index.insert(Pattern::new("a").unwrap(), 1);
    /// assert_eq!(index.get(id), Some(&1));
    /// ```
    #[must_use]
    pub fn get(&self, id: SubscriptionId) -> Option<&K> {
        self.entry(id).map(|e| &e.key)
    }

    /// The key of a subscription, mutably, if `id` is in this index.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, TopicIndex};
    /// let mut index = TopicIndex::new();
    /// let id = index.insert(Pattern::new("a").unwrap(), 1);
    /// *index.get_mut(id).unwrap() += 1;
    /// assert_eq!(index.get(id), Some(&2));
    /// ```
    #[must_use]
    pub fn get_mut(&mut self, id: SubscriptionId) -> Option<&mut K> {
        let slot = self.subs.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.entry.as_mut().map(|e| &mut e.key)
    }

    /// The pattern a subscription was inserted with, if `id` is in this index.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, TopicIndex};
    /// let mut index = TopicIndex::new();
    /// let id = index.insert(Pattern::new("a.*").unwrap(), ());
    /// assert_eq!(index.pattern(id).unwrap(), "a.*");
    /// ```
    #[must_use]
    pub fn pattern(&self, id: SubscriptionId) -> Option<Pattern<'_>> {
        // The text was a valid pattern when inserted, so this parse succeeds.
        self.entry(id).and_then(|e| Pattern::new(&e.pattern).ok())
    }

    /// Every subscription whose pattern matches `topic`, each exactly once,
    /// in no particular order, with its key.
    ///
    /// The trie walk happens here, before the first item; the iterator then
    /// only reads the lists of the nodes it ended in. It allocates only if
    /// more than 16 trie nodes are live at once (see the module docs for the
    /// cost).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, Topic, TopicIndex};
    /// let mut index = TopicIndex::new();
    /// index.insert(Pattern::new("a.*").unwrap(), 1);
    /// index.insert(Pattern::new("*.c").unwrap(), 2);
    /// index.insert(Pattern::new("b.*").unwrap(), 3);
    /// let mut keys: Vec<i32> = index
    ///     .matches(&Topic::new("a.b.c").unwrap())
    ///     .map(|(_, key)| *key)
    ///     .collect();
    /// keys.sort();
    /// assert_eq!(keys, [1, 2]);
    /// ```
    pub fn matches(&self, topic: &Topic<'_>) -> Matches<'_, K> {
        let text = topic.as_str();
        let exact = if self.exact.len() == 0 {
            &[][..]
        } else {
            self.exact
                .find(self.hasher.hash_one(text), |e| &*e.topic == text)
                .map_or(&[][..], |e| &e.subs[..])
        };
        let mut live = NodeSet::new();
        if !self.nodes[ROOT as usize].is_unused() {
            self.walk(topic, &mut live);
        }
        Matches {
            subs: &self.subs,
            nodes: &self.nodes,
            current: exact.iter(),
            live,
            next_live: 0,
        }
    }

    /// Calls `f` with every subscription whose pattern matches `topic`, each
    /// exactly once: [`matches`](TopicIndex::matches) as a loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, Topic, TopicIndex};
    /// let mut index = TopicIndex::new();
    /// index.insert(Pattern::new("?.b").unwrap(), 10);
    /// let mut sum = 0;
    /// index.for_each_match(&Topic::new("a.b").unwrap(), |_, key| sum += key);
    /// assert_eq!(sum, 10);
    /// ```
    pub fn for_each_match(&self, topic: &Topic<'_>, mut f: impl FnMut(SubscriptionId, &K)) {
        for (id, key) in self.matches(topic) {
            f(id, key);
        }
    }

    fn entry(&self, id: SubscriptionId) -> Option<&Entry<K>> {
        let slot = self.subs.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.entry.as_ref()
    }

    /// Runs the trie NFA over `topic`; leaves in `live` the nodes whose
    /// prefix matches the whole topic.
    fn walk(&self, topic: &Topic<'_>, live: &mut NodeSet) {
        let mut next = NodeSet::new();
        live.push(ROOT);
        for segment in topic.segments() {
            let segment_hash = self.hasher.hash_one(segment);
            next.clear();
            for &id in live.as_slice() {
                let node = &self.nodes[id as usize];
                if node.label == Label::Star {
                    next.push(id);
                }
                if node.one != NONE {
                    next.push(node.one);
                }
                if node.star != NONE {
                    next.push(node.star);
                }
                if node.literal_children > 0 {
                    if let Some(edge) = self.edges.find(edge_hash(segment_hash, id), |e| {
                        e.parent == id && self.is_literal(e.child, segment)
                    }) {
                        next.push(edge.child);
                    }
                }
            }
            // A `*` node can come both from itself and from its parent.
            next.sort_dedup();
            core::mem::swap(live, &mut next);
            if live.as_slice().is_empty() {
                return;
            }
        }
    }

    fn is_literal(&self, node: u32, segment: &str) -> bool {
        matches!(&self.nodes[node as usize].label, Label::Literal(l) if **l == *segment)
    }

    /// The trie node for a wildcard pattern, created along with its missing
    /// ancestors.
    fn node_for(&mut self, pattern: Pattern<'_>) -> u32 {
        let mut at = ROOT;
        for segment in pattern.segments() {
            at = match segment {
                PatternSegment::One => match self.nodes[at as usize].one {
                    NONE => {
                        let child = self.new_node(at, Label::One);
                        self.nodes[at as usize].one = child;
                        child
                    }
                    child => child,
                },
                PatternSegment::OneOrMore => match self.nodes[at as usize].star {
                    NONE => {
                        let child = self.new_node(at, Label::Star);
                        self.nodes[at as usize].star = child;
                        child
                    }
                    child => child,
                },
                PatternSegment::Literal(literal) => {
                    let hash = edge_hash(self.hasher.hash_one(literal), at);
                    let found = self
                        .edges
                        .find(hash, |e| {
                            e.parent == at && self.is_literal(e.child, literal)
                        })
                        .map(|e| e.child);
                    match found {
                        Some(child) => child,
                        None => {
                            let child = self.new_node(at, Label::Literal(literal.into()));
                            self.edges.insert(hash, Edge { parent: at, child });
                            self.nodes[at as usize].literal_children += 1;
                            child
                        }
                    }
                }
            };
        }
        at
    }

    fn new_node(&mut self, parent: u32, label: Label) -> u32 {
        let node = Node::new(parent, label);
        match self.free_nodes.pop() {
            Some(id) => {
                debug_assert!(self.nodes[id as usize].label == Label::Vacant);
                self.nodes[id as usize] = node;
                id
            }
            None => {
                let id = to_u32(self.nodes.len());
                self.nodes.push(node);
                id
            }
        }
    }

    /// Frees `node` and then its ancestors while they are unused.
    fn prune(&mut self, mut node: u32) {
        while node != ROOT && self.nodes[node as usize].is_unused() {
            let parent = self.nodes[node as usize].parent;
            let label = core::mem::replace(&mut self.nodes[node as usize].label, Label::Vacant);
            match label {
                Label::One => self.nodes[parent as usize].one = NONE,
                Label::Star => self.nodes[parent as usize].star = NONE,
                Label::Literal(literal) => {
                    let hash = edge_hash(self.hasher.hash_one(&*literal), parent);
                    let removed = self
                        .edges
                        .remove(hash, |e| e.parent == parent && e.child == node);
                    debug_assert!(removed.is_some(), "edge to node {node} missing");
                    self.nodes[parent as usize].literal_children -= 1;
                }
                Label::Root | Label::Vacant => {
                    debug_assert!(false, "pruning the root or a vacant node");
                    return;
                }
            }
            self.nodes[node as usize].subs = Vec::new();
            self.free_nodes.push(node);
            node = parent;
        }
    }
}

impl<K, S> fmt::Debug for TopicIndex<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopicIndex")
            .field("subscriptions", &self.len)
            .field("exact_patterns", &self.exact.len())
            .field("trie_nodes", &(self.nodes.len() - self.free_nodes.len()))
            .finish_non_exhaustive()
    }
}

/// The subscriptions matching a topic, from [`TopicIndex::matches`]: pairs of
/// id and key.
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Pattern, Topic, TopicIndex};
/// let mut index = TopicIndex::new();
/// let id = index.insert(Pattern::new("a").unwrap(), 'k');
/// let mut matches = index.matches(&Topic::new("a").unwrap());
/// assert_eq!(matches.next(), Some((id, &'k')));
/// assert_eq!(matches.next(), None);
/// ```
pub struct Matches<'i, K> {
    subs: &'i [Slot<K>],
    nodes: &'i [Node],
    /// The rest of the list being reported (exact first, then each live node).
    current: core::slice::Iter<'i, u32>,
    /// Trie nodes whose lists are still to be reported, from `next_live` on.
    live: NodeSet,
    next_live: usize,
}

impl<'i, K> Iterator for Matches<'i, K> {
    type Item = (SubscriptionId, &'i K);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(&index) = self.current.next() {
                let slot = &self.subs[index as usize];
                match &slot.entry {
                    Some(entry) => {
                        let id = SubscriptionId {
                            index,
                            generation: slot.generation,
                        };
                        return Some((id, &entry.key));
                    }
                    None => {
                        debug_assert!(false, "listed subscription {index} is vacant");
                        continue;
                    }
                }
            }
            let &node = self.live.as_slice().get(self.next_live)?;
            self.next_live += 1;
            let nodes: &'i [Node] = self.nodes;
            self.current = nodes[node as usize].subs.iter();
        }
    }
}

impl<K> fmt::Debug for Matches<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matches")
            .field("nodes_left", &(self.live.as_slice().len() - self.next_live))
            .finish_non_exhaustive()
    }
}

/// The table hash of the literal edge `(parent, segment)`, from the hash of
/// the segment.
fn edge_hash(segment_hash: u64, parent: u32) -> u64 {
    // An odd multiplier is a bijection on the low bits the table indexes by,
    // so different parents spread the same segment to different slots.
    segment_hash ^ u64::from(parent).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Removes `list[pos]` (which holds `expected`) by swapping in the last
/// entry; returns the entry that moved into `pos`, if any.
fn swap_remove(list: &mut Vec<u32>, pos: usize, expected: u32) -> Option<u32> {
    debug_assert_eq!(
        list.get(pos),
        Some(&expected),
        "subscription list out of sync"
    );
    list.swap_remove(pos);
    list.get(pos).copied()
}

/// `n` as a `u32` id.
fn to_u32(n: usize) -> u32 {
    match u32::try_from(n) {
        Ok(id) if id < NONE => id,
        _ => panic!("TopicIndex: more than u32::MAX - 1 subscriptions or trie nodes"),
    }
}

#[cfg(test)]
mod tests;
