//! Replays the `topic_parse` fuzz target's corpus (`fuzz/corpus/topic_parse/`)
//! through the same checks the target runs, so the seeds (and any crash
//! input added there) are tested on every `cargo test`, without cargo-fuzz.

use std::path::Path;

use evlatch_verify::topic_fuzz::check;

#[test]
fn replay_topic_parse_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/topic_parse");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 5,
        "expected the seed files in {}",
        dir.display()
    );
    for path in entries {
        let data = std::fs::read(&path).unwrap();
        eprintln!("replaying {}", path.display());
        check(&data);
    }
}

/// A few inputs written out here too, so the checks run even if the corpus
/// is pruned.
#[test]
fn replay_inline_seeds() {
    for data in [
        &b""[..],
        b"\n",
        b"a\na",
        b"a.b\n?.*",
        b"a.b.c\n*.*.*.*",
        b"x.*\nx.?",
        b"a b\na.*b",
        b"sys.x\nsys.*",
    ] {
        check(data);
    }
}
