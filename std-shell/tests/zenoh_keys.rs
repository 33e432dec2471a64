//! The topic/pattern ↔ zenoh key mapping, checked against zenoh's own
//! key-expression matcher: for random topics and patterns over a small
//! alphabet (so that matches are common), evlatch's `Pattern::matches`
//! agrees with `keyexpr::includes` (and `intersects`, the same thing when
//! one side has no wildcard) after translation. Plus the round trip
//! topic → key → topic and the errors for keys that are not topics.

use evlatch::topic::{Pattern, Topic};
use evlatch_std::zenoh::engine::key_expr::OwnedKeyExpr;
use evlatch_std::zenoh::{KeyError, KeyMap};
use proptest::prelude::*;

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("a".to_owned()),
        3 => Just("b".to_owned()),
        1 => Just("signals".to_owned()),
        1 => "[A-Za-z0-9_-]{1,6}",
    ]
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 1..7).prop_map(|s| s.join("."))
}

fn pattern() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        3 => segment(),
        2 => Just("?".to_owned()),
        2 => Just("*".to_owned()),
    ];
    prop::collection::vec(seg, 1..6).prop_map(|s| s.join("."))
}

/// Asserts that evlatch and zenoh agree on `pattern` and `topic`.
fn agree(keys: &KeyMap, pattern: &str, topic: &str) {
    let p = Pattern::new(pattern).unwrap();
    let t = Topic::new(topic).unwrap();
    let pk = keys.pattern_key(pattern).unwrap();
    let tk = keys.topic_key(topic).unwrap();
    let ours = p.matches(&t);
    assert_eq!(
        ours,
        pk.includes(&tk),
        "pattern `{pattern}` (key `{pk}`) vs topic `{topic}` (key `{tk}`): evlatch says {ours}"
    );
    assert_eq!(ours, pk.intersects(&tk), "intersects: `{pk}` vs `{tk}`");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn matching_agrees_with_zenoh(pattern in pattern(), topic in topic()) {
        agree(&KeyMap::default(), &pattern, &topic);
    }

    #[test]
    fn matching_agrees_under_a_deep_root(pattern in pattern(), topic in topic()) {
        agree(&KeyMap::new("site/lab-1/evlatch").unwrap(), &pattern, &topic);
    }

    #[test]
    fn a_topic_maps_and_maps_back(topic in "[A-Za-z0-9_-]{1,12}(\\.[A-Za-z0-9_-]{1,12}){0,10}") {
        let keys = KeyMap::default();
        let key = keys.topic_key(&topic).unwrap();
        prop_assert!(!key.is_wild());
        prop_assert_eq!(keys.topic_of(&key).unwrap(), topic);
    }

    #[test]
    fn an_exact_pattern_is_its_topic_key(topic in topic()) {
        let keys = KeyMap::default();
        prop_assert_eq!(keys.pattern_key(&topic).unwrap(), keys.topic_key(&topic).unwrap());
    }
}

#[test]
fn hand_picked_cases_agree() {
    let keys = KeyMap::default();
    let cases = [
        ("*.signals.*", "functions.signals.iteration"),
        ("*.signals.*", "a.b.signals.c.d"),
        ("*.signals.*", "signals.a"),
        ("*.signals.*", "a.signals"),
        ("*.signals.*", "signals.signals"),
        ("*.signals.*", "a.signals.signals"),
        ("?", "a"),
        ("?", "a.b"),
        ("?.?", "a.b"),
        ("?.?", "a"),
        ("*", "a"),
        ("*", "a.b.c"),
        ("*.*", "a"),
        ("*.*", "a.b"),
        ("*.*.*", "a.b"),
        ("*.*.*", "a.b.c.d"),
        ("a.*.*.b", "a.x.b"),
        ("a.*.*.b", "a.x.y.b"),
        ("a.*.?.*", "a.b.c"),
        ("a.*.?.*", "a.b.c.d"),
        ("?.*", "a"),
        ("*.?", "a.b"),
        ("a.*", "a"),
        ("a.b", "a.b"),
        ("a.b", "a.bb"),
    ];
    for (pattern, topic) in cases {
        agree(&keys, pattern, topic);
    }
}

#[test]
fn patterns_translate_as_documented() {
    let keys = KeyMap::default();
    for (pattern, key) in [
        ("a", "evlatch/a"),
        ("a.?", "evlatch/a/*"),
        ("a.*", "evlatch/a/*/**"),
        ("*.signals.*", "evlatch/*/**/signals/*/**"),
        ("*.*", "evlatch/*/*/**"),
        ("?.*.?", "evlatch/*/*/*/**"),
    ] {
        let got = keys.pattern_key(pattern).unwrap();
        assert_eq!(got.as_str(), key, "pattern `{pattern}`");
        // Canonical: zenoh's canonizer leaves it unchanged.
        assert_eq!(OwnedKeyExpr::autocanonize(key.to_owned()).unwrap(), got);
    }
}

#[test]
fn keys_that_are_not_topics_are_clear_errors() {
    let keys = KeyMap::default();
    let key = |k: &str| OwnedKeyExpr::new(k).unwrap();
    for k in ["other/a", "evlatch", "evlatchx/a", "evlatc/a"] {
        assert!(
            matches!(keys.topic_of(&key(k)), Err(KeyError::OutsideRoot { .. })),
            "{k}"
        );
    }
    for k in [
        "evlatch/a.b",
        "evlatch/*",
        "evlatch/a/**",
        "evlatch/a/$*b",
        "evlatch/a b",
    ] {
        let Ok(k) = OwnedKeyExpr::new(k) else {
            continue;
        };
        let err = keys.topic_of(&k).unwrap_err();
        assert!(matches!(err, KeyError::NotATopic { .. }), "{k}: {err}");
        assert!(err.to_string().contains(k.as_str()), "{err}");
    }
    let long = format!("evlatch/{}", vec!["a"; 40].join("/"));
    assert!(matches!(
        keys.topic_of(&key(&long)),
        Err(KeyError::NotATopic { .. })
    ));
    assert!(matches!(
        keys.topic_key("a..b"),
        Err(KeyError::InvalidTopic(_))
    ));
    assert!(matches!(
        keys.pattern_key("a.b*"),
        Err(KeyError::InvalidPattern(_))
    ));
    for root in ["", "a/*", "a/**", "@admin", "a//b", "/a", "a/"] {
        assert!(
            matches!(KeyMap::new(root), Err(KeyError::InvalidRoot { .. })),
            "root `{root}`"
        );
    }
}
