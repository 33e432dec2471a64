//! Model tests of topic matching: `Pattern::matches` and `TopicIndex`
//! against a naive recursive matcher, over small alphabets so that matches
//! are common, with any number of `*`.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use evlatch::topic::{Pattern, SubscriptionId, Topic, TopicIndex};
use proptest::prelude::*;

/// The obviously correct matcher: `*` tries every split (one or more
/// segments), `?` takes one, a literal takes itself. Exponential, fine at
/// these sizes.
fn reference(pattern: &[&str], topic: &[&str]) -> bool {
    match pattern.split_first() {
        None => topic.is_empty(),
        Some((&"*", rest)) => (1..=topic.len()).any(|k| reference(rest, &topic[k..])),
        Some((&"?", rest)) => !topic.is_empty() && reference(rest, &topic[1..]),
        Some((literal, rest)) => topic.first() == Some(literal) && reference(rest, &topic[1..]),
    }
}

fn reference_str(pattern: &str, topic: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let t: Vec<&str> = topic.split('.').collect();
    reference(&p, &t)
}

fn topic_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..=7)
        .prop_map(|s| s.join("."))
}

fn pattern_text() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        3 => prop::sample::select(vec!["a", "b"]),
        2 => Just("*"),
        2 => Just("?"),
    ];
    prop::collection::vec(segment, 1..=5).prop_map(|s| s.join("."))
}

/// Every key hashes the same: all table entries collide, so the index's
/// probing and backward-shift removal run on long clusters.
#[derive(Clone, Default)]
struct Colliding;

impl BuildHasher for Colliding {
    type Hasher = CollidingHasher;
    fn build_hasher(&self) -> CollidingHasher {
        CollidingHasher
    }
}

struct CollidingHasher;

impl Hasher for CollidingHasher {
    fn write(&mut self, _: &[u8]) {}
    fn finish(&self) -> u64 {
        7
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(String),
    /// Removes the n-th id ever returned (modulo), live or not.
    Remove(usize),
    Match(String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => pattern_text().prop_map(Op::Insert),
        // Exact patterns from the topic alphabet exercise the exact table.
        1 => topic_text().prop_map(Op::Insert),
        2 => any::<usize>().prop_map(Op::Remove),
        3 => topic_text().prop_map(Op::Match),
    ]
}

/// Runs `ops` on an index and on a plain list of live subscriptions.
fn run_model<S: BuildHasher>(
    mut index: TopicIndex<u32, S>,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    // Every id ever returned, with its pattern and key.
    let mut issued: Vec<(SubscriptionId, String, u32)> = Vec::new();
    let mut live: BTreeMap<u32, String> = BTreeMap::new();
    for (key, op) in (0u32..).zip(ops) {
        match op {
            Op::Insert(text) => {
                let id = index.insert(Pattern::new(text).unwrap(), key);
                prop_assert!(issued.iter().all(|(old, _, _)| *old != id), "id reused");
                issued.push((id, text.clone(), key));
                live.insert(key, text.clone());
            }
            Op::Remove(n) => {
                if issued.is_empty() {
                    continue;
                }
                let (id, text, k) = &issued[n % issued.len()];
                let was_live = live.remove(k).is_some();
                prop_assert_eq!(index.remove(*id), was_live.then_some(*k));
                prop_assert!(index.get(*id).is_none());
                let _ = text;
            }
            Op::Match(topic) => {
                let parsed = Topic::new(topic).unwrap();
                let mut got: Vec<u32> = index.matches(&parsed).map(|(_, k)| *k).collect();
                got.sort();
                let reported = got.len();
                got.dedup();
                prop_assert_eq!(reported, got.len(), "a subscription reported twice");
                let want: Vec<u32> = live
                    .iter()
                    .filter(|(_, p)| reference_str(p, topic))
                    .map(|(k, _)| *k)
                    .collect();
                prop_assert_eq!(got, want, "topic {}", topic);
            }
        }
        prop_assert_eq!(index.len(), live.len());
    }
    for (id, text, k) in &issued {
        let alive = live.contains_key(k);
        prop_assert_eq!(index.get(*id), alive.then_some(k));
        prop_assert_eq!(
            index.pattern(*id).map(|p| p.as_str().to_owned()),
            alive.then(|| text.clone())
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 8 } else { 512 }))]

    #[test]
    fn pattern_matches_like_reference(pattern in pattern_text(), topic in topic_text()) {
        let p = Pattern::new(&pattern).unwrap();
        let t = Topic::new(&topic).unwrap();
        prop_assert_eq!(p.matches(&t), reference_str(&pattern, &topic), "{} vs {}", pattern, topic);
    }

    #[test]
    fn index_matches_like_reference(ops in prop::collection::vec(op(), 1..80)) {
        run_model(TopicIndex::new(), &ops)?;
    }

    #[test]
    fn index_with_colliding_hasher(ops in prop::collection::vec(op(), 1..80)) {
        run_model(TopicIndex::with_hasher(Colliding), &ops)?;
    }
}

/// Many `*` against a long topic that almost matches: the matchers must
/// finish quickly (naive recursion would take ~10^8 steps here).
#[test]
fn many_stars_are_polynomial() {
    let pattern = vec!["*"; 16].join(".") + ".x";
    let topic = vec!["a"; 31].join(".") + ".b";
    let p = Pattern::new(&pattern).unwrap();
    let t = Topic::new(&topic).unwrap();
    assert!(!p.matches(&t));
    let mut index = TopicIndex::new();
    for k in 1..=16 {
        index.insert(Pattern::new(&(vec!["*"; k].join(".") + ".b")).unwrap(), k);
    }
    index.insert(p, 0);
    assert_eq!(index.matches(&t).count(), 16);
}
