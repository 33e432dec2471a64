//! Replays every file of `corpus/<target>/` through its target function, so
//! that inputs the fuzzer found (and the seeds) stay regression tests.

use std::fs;
use std::path::Path;

#[test]
fn every_corpus_file_replays() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut replayed = 0;
    for dir in fs::read_dir(&root).expect("fuzz/corpus exists") {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some((_, run)) = evlatch_fuzz::TARGETS.iter().find(|(t, _)| *t == name) else {
            panic!("corpus/{name} has no entry in evlatch_fuzz::TARGETS");
        };
        for file in fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let data = fs::read(&path).unwrap();
            run(&data);
            replayed += 1;
        }
    }
    for (name, _) in evlatch_fuzz::TARGETS {
        assert!(
            root.join(name).is_dir(),
            "target {name} has no corpus/{name}/ seeds"
        );
    }
    assert!(replayed > 0, "no corpus files found");
}
