//! Unit tests of the index (small enough for miri).

use super::*;
use alloc::string::String;
use alloc::vec::Vec;

fn p(text: &str) -> Pattern<'_> {
    Pattern::new(text).unwrap()
}

fn hits<K: Copy + Ord + core::fmt::Debug, S: BuildHasher>(
    index: &TopicIndex<K, S>,
    topic: &str,
) -> Vec<K> {
    let topic = Topic::new(topic).unwrap();
    let mut keys: Vec<K> = index.matches(&topic).map(|(_, k)| *k).collect();
    keys.sort();
    let mut via_loop = Vec::new();
    index.for_each_match(&topic, |_, k| via_loop.push(*k));
    via_loop.sort();
    assert_eq!(keys, via_loop);
    keys
}

#[test]
fn exact_and_wildcards_together() {
    let mut index = TopicIndex::new();
    index.insert(p("functions.signals.iteration"), 1);
    index.insert(p("functions.signals.*"), 2);
    index.insert(p("*.signals.*"), 3);
    index.insert(p("functions.signals.?"), 4);
    index.insert(p("*"), 5);
    index.insert(p("functions.*.iteration.*"), 6);
    index.insert(p("other"), 7);
    assert_eq!(hits(&index, "functions.signals.iteration"), [1, 2, 3, 4, 5]);
    assert_eq!(hits(&index, "functions.signals.a.b"), [2, 3, 5]);
    assert_eq!(hits(&index, "other"), [5, 7]);
    assert_eq!(hits(&index, "x.signals"), [5]);
}

#[test]
fn each_subscription_once_even_with_many_paths() {
    // `*.*` can split `a.a.a` two ways, `*.a.*` too: still one report each.
    let mut index = TopicIndex::new();
    index.insert(p("*.*"), 1);
    index.insert(p("*.a.*"), 2);
    index.insert(p("*.*"), 3);
    assert_eq!(hits(&index, "a.a.a.a"), [1, 2, 3]);
}

#[test]
fn remove_prunes_and_ids_do_not_alias() {
    let mut index = TopicIndex::new();
    let a = index.insert(p("a.*.b"), 'a');
    let b = index.insert(p("a.*.b"), 'b');
    let c = index.insert(p("a.b"), 'c');
    let nodes_with_all = index.nodes.len() - index.free_nodes.len();
    assert_eq!(index.remove(a), Some('a'));
    assert_eq!(index.remove(a), None);
    assert_eq!(hits(&index, "a.x.b"), ['b']);
    assert_eq!(index.remove(b), Some('b'));
    assert_eq!(
        index.nodes.len() - index.free_nodes.len(),
        1,
        "only the root left"
    );
    assert!(nodes_with_all > 1);
    assert_eq!(index.edges.len(), 0);
    // The freed slot is reused with a new generation.
    let d = index.insert(p("a.*.b"), 'd');
    assert_ne!(d, a);
    assert_ne!(d, b);
    assert_eq!(index.get(a), None);
    assert_eq!(index.get(d), Some(&'d'));
    assert_eq!(index.remove(c), Some('c'));
    assert_eq!(index.exact.len(), 0);
    assert_eq!(hits(&index, "a.b"), Vec::<char>::new());
    assert_eq!(index.len(), 1);
}

#[test]
fn swap_remove_keeps_positions() {
    let mut index = TopicIndex::new();
    let ids: Vec<_> = (0..10).map(|i| index.insert(p("x.?"), i)).collect();
    let exact: Vec<_> = (10..20).map(|i| index.insert(p("x.y"), i)).collect();
    for &id in ids.iter().step_by(3).chain(exact.iter().step_by(4)) {
        assert!(index.remove(id).is_some());
    }
    let expected: Vec<i32> = (0..10)
        .filter(|i| i % 3 != 0)
        .chain((10..20).filter(|i| (i - 10) % 4 != 0))
        .collect();
    assert_eq!(hits(&index, "x.y"), expected);
    for (i, &id) in ids.iter().enumerate() {
        assert_eq!(index.get(id).is_some(), i % 3 != 0);
    }
    for id in ids.into_iter().chain(exact) {
        index.remove(id);
    }
    assert!(index.is_empty());
    assert_eq!(index.nodes.len() - index.free_nodes.len(), 1);
}

#[test]
fn many_live_nodes_spill() {
    // More than 16 live nodes at once: `*` chains of every length.
    let mut index = TopicIndex::new();
    let mut pattern = String::from("*");
    for k in 1..=20 {
        index.insert(p(&pattern), k);
        pattern.push_str(".*");
    }
    let topic: String = ["t"; 20].join(".");
    assert_eq!(hits(&index, &topic), (1..=20).collect::<Vec<_>>());
}

#[test]
fn pattern_and_get_mut() {
    let mut index = TopicIndex::new();
    let id = index.insert(p("sys.*"), 1);
    assert_eq!(index.pattern(id).unwrap(), "sys.*");
    *index.get_mut(id).unwrap() = 5;
    assert_eq!(hits(&index, "sys.dropped"), [5]);
    let clone = index.clone();
    index.remove(id);
    assert_eq!(hits(&clone, "sys.dropped"), [5]);
    assert!(hits(&index, "sys.dropped").is_empty());
}
