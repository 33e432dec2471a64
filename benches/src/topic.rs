//! Lines for topic matching: `TopicIndex::matches` with 8, 1,000 and 100,000
//! subscriptions against a linear scan of `Pattern::matches` over the same
//! subscriptions, and the index against itself across sizes (the goal:
//! flat).
//!
//! Every size holds the same three subscriptions that match the published
//! topics, plus generated ones that do not (exact topics, `app<i>.signals.*`,
//! `*.signals.s<i>`, `app<i>.?.iteration`): every line reports the same
//! matches, so the rows differ only in what the subscriptions around them
//! cost.

use core::hint::black_box;

use evlatch::topic::{Pattern, Topic, TopicIndex};

use crate::harness::Harness;

/// Subscription counts measured.
const SIZES: [usize; 3] = [8, 1_000, 100_000];

/// The topics published, in turn.
const TOPICS: [&str; 4] = [
    "functions.signals.iteration",
    "functions.signals.done",
    "io.disk.read",
    "app3.signals.s5",
];

/// Registers the topic groups.
pub fn register(h: &mut Harness) {
    let topics: Vec<Topic<'static>> = TOPICS
        .iter()
        .map(|t| Topic::new(t).expect("bench topics are valid"))
        .collect();
    for n in SIZES {
        let name = format!("topic.match.{n}");
        if !h.selects(&name) {
            continue;
        }
        let texts = patterns(n);
        let parsed: Vec<Pattern<'_>> = texts
            .iter()
            .map(|p| Pattern::new(p).expect("bench patterns are valid"))
            .collect();
        let index = build(&parsed);
        for topic in &topics {
            assert_eq!(
                scan(&parsed, topic),
                count(&index, topic),
                "index and scan disagree"
            );
        }
        h.group(
            &name,
            &format!("subscribers of one published topic among {n} subscriptions"),
        )
        .note(
            "per op: match one topic (4 in turn) and count the matching subscriptions \
             (the same matches at every size)",
        )
        .baseline("linear scan: Pattern::matches", |iters| {
            for i in 0..iters {
                black_box(scan(black_box(&parsed), topic_at(&topics, i)));
            }
        })
        .line("TopicIndex::matches", |iters| {
            for i in 0..iters {
                black_box(count(black_box(&index), topic_at(&topics, i)));
            }
        })
        .run();
    }

    if h.selects("topic.scale") {
        let indexes: Vec<TopicIndex<u32>> = SIZES
            .iter()
            .map(|&n| {
                let texts = patterns(n);
                let parsed: Vec<Pattern<'_>> = texts
                    .iter()
                    .map(|p| Pattern::new(p).expect("valid"))
                    .collect();
                build(&parsed)
            })
            .collect();
        let mut group = h
            .group(
                "topic.scale",
                "TopicIndex::matches as subscriptions grow (flat is the goal)",
            )
            .note("same op as topic.match.*; ratio = cost at N / cost at 8 subscriptions")
            .baseline(&format!("index, {} subscriptions", SIZES[0]), |iters| {
                for i in 0..iters {
                    black_box(count(black_box(&indexes[0]), topic_at(&topics, i)));
                }
            });
        for (i, &n) in SIZES.iter().enumerate().skip(1) {
            let (index, topics) = (&indexes[i], &topics);
            group = group
                .line(&format!("index, {n} subscriptions"), move |iters| {
                    for i in 0..iters {
                        black_box(count(black_box(index), topic_at(topics, i)));
                    }
                })
                .goal(2.0);
        }
        group.run();
    }
}

/// `n` pattern texts: three that match the published topics, the rest
/// generated to miss them.
fn patterns(n: usize) -> Vec<String> {
    let mut out: Vec<String> = [
        "functions.signals.*",
        "*.signals.?",
        "functions.signals.iteration",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut i = 0usize;
    while out.len() < n {
        out.push(match i % 4 {
            0 => format!("app{i}.signals.iteration"),
            1 => format!("app{i}.signals.*"),
            2 => format!("*.signals.s{i}"),
            _ => format!("app{i}.?.iteration"),
        });
        i += 1;
    }
    out.truncate(n);
    out
}

fn build(patterns: &[Pattern<'_>]) -> TopicIndex<u32> {
    let mut index = TopicIndex::new();
    for (key, p) in (0u32..).zip(patterns) {
        index.insert(*p, key);
    }
    index
}

/// Matches of `topic` by a scan of every pattern.
fn scan(patterns: &[Pattern<'_>], topic: &Topic<'_>) -> usize {
    patterns.iter().filter(|p| p.matches(topic)).count()
}

/// Matches of `topic` by the index.
fn count(index: &TopicIndex<u32>, topic: &Topic<'_>) -> usize {
    index.matches(topic).count()
}

/// The topic of iteration `i`: the topics in turn, so the branch predictor
/// cannot learn one answer.
fn topic_at<'t>(topics: &'t [Topic<'t>], i: u64) -> &'t Topic<'t> {
    &topics[(i % topics.len() as u64) as usize]
}
