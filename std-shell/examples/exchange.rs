//! Four workers exchange records all-to-all, in rounds, over bounded
//! channels; every worker checks it received every record exactly once and
//! stops when its receiver reports that every peer is done.
//!
//! Run with `cargo run -p evlatch-std --example exchange`.

use evlatch_std::exchange::{initialize, Config, RecvError};

const ROUNDS: u64 = 100;
const BATCH: u64 = 256;

fn main() {
    let guards = initialize(Config::Process(4), |mut worker| {
        let me = worker.index() as u64;
        let peers = worker.peers() as u64;
        // Room for two rounds per pair: a peer is at most one round ahead,
        // so the blocking sends below never wait forever.
        let (mut senders, mut receiver) = worker
            .allocate_bounded::<u64>(0, 2 * BATCH as usize)
            .expect("every worker allocates channel 0 for u64");
        let mut batch = Vec::with_capacity(BATCH as usize);
        let mut inbox = Vec::with_capacity((BATCH * peers) as usize);
        let mut sum = 0u64;
        let mut count = 0u64;
        for round in 0..ROUNDS {
            for tx in senders.iter_mut() {
                batch.extend((0..BATCH).map(|i| (round * BATCH + i) * peers + me));
                tx.send_batch(&mut batch)
                    .expect("peers receive until the end");
            }
            // A record's round is `value / peers / BATCH`. A worker ends a
            // round only with every peer's records of it, so no peer gets
            // more than one round ahead (what arrives early is kept).
            while inbox
                .iter()
                .filter(|&&v| v / peers / BATCH == round)
                .count()
                < (BATCH * peers) as usize
            {
                receiver
                    .recv_batch(&mut inbox, usize::MAX)
                    .expect("peers send every round");
            }
            let (this, early): (Vec<u64>, Vec<u64>) =
                inbox.drain(..).partition(|&v| v / peers / BATCH == round);
            inbox = early;
            count += this.len() as u64;
            sum += this.iter().sum::<u64>();
        }
        drop(senders); // done: the peers' receivers disconnect after this
        assert_eq!(receiver.recv(), Err(RecvError::Disconnected));
        (count, sum)
    })
    .expect("four worker threads");

    let n = ROUNDS * BATCH * 4;
    // Every record value `r * 4 + sender`, for r in 0..ROUNDS*BATCH, reaches
    // every worker once: the same sum everywhere.
    let expected_sum: u64 = (0..n).sum();
    for (i, r) in guards.join().into_iter().enumerate() {
        let (count, sum) = r.expect("no worker panics");
        assert_eq!(count, n, "worker {i} received every record");
        assert_eq!(
            sum, expected_sum,
            "worker {i} received each record exactly once"
        );
        println!("worker {i}: {count} records, checksum {sum}");
    }
}
