//! Model test of `evlatch::Event`: random sequences of operations, applied
//! through several shared handles (`&Event`) to a few events, interleaved on
//! one thread, checked after every step against a plain sequential model of
//! the transition table: results, status, generation, failure message,
//! callbacks (which ran, in which order, with which outcome), `wake::arm`
//! answers and wake-hook calls.
#![cfg(not(evlatch_loom))]

use std::cell::RefCell;
use std::collections::HashMap;

use evlatch::wake::{register_wake_hook, Finished, WakeHook};
use evlatch::wake::{Snapshot, WakeArm};
use evlatch::{Event, EventError, EventStatus, MESSAGE_CAPACITY};
use proptest::prelude::*;

const EVENTS: usize = 3;
const HANDLES_PER_EVENT: usize = 2;

#[derive(Clone, Debug)]
enum Op {
    Record(usize),
    SetFinished(usize),
    SetFailed(usize, String),
    Reset(usize),
    /// A boxed closure callback.
    OnComplete(usize),
    /// A function-pointer callback.
    OnCompleteFn(usize),
    /// Remember a snapshot of the event for a later `ArmWake`.
    Snapshot(usize),
    /// Arm with the `k`-th remembered snapshot (modulo how many there are).
    ArmWake(usize, usize),
}

fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,20}",
        // Mixed widths, long enough to be cut at every kind of boundary.
        "[aé€😀]{20,90}",
        Just(String::new()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let handle = 0..EVENTS * HANDLES_PER_EVENT;
    prop_oneof![
        3 => handle.clone().prop_map(Op::Record),
        3 => handle.clone().prop_map(Op::SetFinished),
        2 => (handle.clone(), message()).prop_map(|(h, m)| Op::SetFailed(h, m)),
        3 => handle.clone().prop_map(Op::Reset),
        2 => handle.clone().prop_map(Op::OnComplete),
        2 => handle.clone().prop_map(Op::OnCompleteFn),
        1 => handle.clone().prop_map(Op::Snapshot),
        2 => (handle, 0..8usize).prop_map(|(h, k)| Op::ArmWake(h, k)),
    ]
}

thread_local! {
    /// Callback runs on this thread: (callback id, outcome). The model runs
    /// on one thread, so callbacks run here too (finisher or registrant).
    static RUNS: RefCell<Vec<(u64, EventStatus)>> = const { RefCell::new(Vec::new()) };
    /// Wake-hook calls made on this thread: (event address, what finished).
    static HOOK_CALLS: RefCell<Vec<(usize, Finished)>> = const { RefCell::new(Vec::new()) };
}

fn record_run(status: EventStatus, id: usize) {
    RUNS.with(|r| r.borrow_mut().push((id as u64, status)));
}

fn model_hook(event: &Event, finished: Finished) {
    HOOK_CALLS.with(|h| {
        h.borrow_mut()
            .push((event as *const Event as usize, finished))
    });
}

static HOOK: WakeHook = WakeHook::new("evlatch-verify-event-model", model_hook);

/// The model of one event.
#[derive(Debug)]
struct Model {
    status: EventStatus,
    generation: u32,
    /// (text, truncated) while `Failed`.
    message: Option<(String, bool)>,
    /// Callback ids registered this generation, in order.
    pending: Vec<u64>,
    /// Whether a wake-up is armed for this generation.
    armed: bool,
    /// Outcome of every finished generation.
    outcomes: HashMap<u32, EventStatus>,
    /// Remembered snapshots.
    snapshots: Vec<Snapshot>,
}

impl Model {
    fn new() -> Self {
        Model {
            status: EventStatus::Initialized,
            generation: 0,
            message: None,
            pending: Vec::new(),
            armed: false,
            outcomes: HashMap::new(),
            snapshots: Vec::new(),
        }
    }

    /// Finishes the model with `outcome`: the hook call (if armed) and the
    /// pending callbacks' runs that the real event must produce, in order.
    fn finish(
        &mut self,
        outcome: EventStatus,
        addr: usize,
        runs: &mut Vec<(u64, EventStatus)>,
        hooks: &mut Vec<(usize, Finished)>,
    ) -> Result<(), EventError> {
        match self.status {
            EventStatus::Initialized | EventStatus::Scheduled => {
                self.status = outcome;
                self.outcomes.insert(self.generation, outcome);
                if self.armed {
                    hooks.push((
                        addr,
                        Finished {
                            generation: self.generation,
                            status: outcome,
                        },
                    ));
                    self.armed = false;
                }
                runs.extend(self.pending.drain(..).map(|id| (id, outcome)));
                Ok(())
            }
            _ => Err(EventError::AlreadyFinished),
        }
    }
}

/// What the event keeps of a message: cut to capacity at a char boundary.
fn kept(msg: &str) -> (String, bool) {
    if msg.len() <= MESSAGE_CAPACITY {
        return (msg.to_string(), false);
    }
    let mut end = MESSAGE_CAPACITY;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    (msg[..end].to_string(), true)
}

fn run_ops(ops: &[Op]) -> Result<(), TestCaseError> {
    register_wake_hook(&HOOK).unwrap();
    RUNS.with(|r| r.borrow_mut().clear());
    HOOK_CALLS.with(|h| h.borrow_mut().clear());

    let events: Vec<Event> = (0..EVENTS).map(|_| Event::new()).collect();
    // Several handles per event, all shared references.
    let handles: Vec<&Event> = (0..EVENTS * HANDLES_PER_EVENT)
        .map(|h| &events[h % EVENTS])
        .collect();
    let mut models: Vec<Model> = (0..EVENTS).map(|_| Model::new()).collect();
    let mut expected_runs: Vec<(u64, EventStatus)> = Vec::new();
    let mut expected_hooks: Vec<(usize, Finished)> = Vec::new();
    let mut next_id: u64 = 0;

    for (step, op) in ops.iter().enumerate() {
        let h = match op {
            Op::Record(h)
            | Op::SetFinished(h)
            | Op::SetFailed(h, _)
            | Op::Reset(h)
            | Op::OnComplete(h)
            | Op::OnCompleteFn(h)
            | Op::Snapshot(h)
            | Op::ArmWake(h, _) => *h,
        };
        let i = h % EVENTS;
        let event = handles[h];
        let addr = event as *const Event as usize;
        let m = &mut models[i];
        match op {
            Op::Record(_) => {
                let expected = match m.status {
                    EventStatus::Initialized => {
                        m.status = EventStatus::Scheduled;
                        Ok(())
                    }
                    EventStatus::Scheduled => Err(EventError::AlreadyRecorded),
                    _ => Err(EventError::AlreadyFinished),
                };
                prop_assert_eq!(event.record(), expected, "step {} {:?}", step, op);
            }
            Op::SetFinished(_) => {
                let expected = m.finish(
                    EventStatus::Success,
                    addr,
                    &mut expected_runs,
                    &mut expected_hooks,
                );
                prop_assert_eq!(event.set_finished(), expected, "step {} {:?}", step, op);
            }
            Op::SetFailed(_, msg) => {
                let expected = m.finish(
                    EventStatus::Failed,
                    addr,
                    &mut expected_runs,
                    &mut expected_hooks,
                );
                if expected.is_ok() {
                    m.message = Some(kept(msg));
                }
                prop_assert_eq!(event.set_failed(msg), expected, "step {} {:?}", step, op);
            }
            Op::Reset(_) => {
                let expected = match m.status {
                    EventStatus::Initialized => Ok(()),
                    EventStatus::Scheduled => Err(EventError::InFlight),
                    _ => {
                        m.status = EventStatus::Initialized;
                        m.generation += 1;
                        m.message = None;
                        debug_assert!(m.pending.is_empty() && !m.armed);
                        Ok(())
                    }
                };
                prop_assert_eq!(event.reset(), expected, "step {} {:?}", step, op);
            }
            Op::OnComplete(_) | Op::OnCompleteFn(_) => {
                let id = next_id;
                next_id += 1;
                // The verify crate builds evlatch with `alloc`: no limit on
                // callbacks per generation.
                if m.status.is_finished() {
                    expected_runs.push((id, m.status));
                } else {
                    m.pending.push(id);
                }
                if let Op::OnComplete(_) = op {
                    event.on_finished(move |s| record_run(s, id as usize));
                } else {
                    prop_assert_eq!(event.on_finished_fn(record_run, id as usize), Ok(()));
                }
            }
            Op::Snapshot(_) => {
                let snap = event.snapshot();
                prop_assert_eq!(snap.status(), m.status);
                prop_assert_eq!(snap.generation(), m.generation);
                m.snapshots.push(snap);
            }
            Op::ArmWake(_, k) => {
                let seen = if m.snapshots.is_empty() {
                    event.snapshot()
                } else {
                    m.snapshots[k % m.snapshots.len()]
                };
                let expected = if seen.generation() != m.generation {
                    // The outcome of the generation just before the current
                    // one (the contract's "most recent earlier generation").
                    WakeArm::Finished(m.outcomes[&(m.generation - 1)])
                } else if m.status.is_finished() {
                    WakeArm::Finished(m.status)
                } else {
                    m.armed = true;
                    WakeArm::Armed
                };
                prop_assert_eq!(
                    evlatch::wake::arm(event, seen),
                    expected,
                    "step {} {:?}",
                    step,
                    op
                );
            }
        }

        // After every step: the touched event agrees with its model...
        let m = &models[i];
        prop_assert_eq!(event.status(), m.status, "step {} {:?}", step, op);
        prop_assert_eq!(event.is_finished(), m.status.is_finished());
        prop_assert_eq!(event.snapshot().generation(), m.generation);
        let message = event
            .error_message()
            .map(|msg| (msg.as_str().to_string(), msg.is_truncated()));
        prop_assert_eq!(&message, &m.message, "step {} {:?}", step, op);
        // ...and exactly the expected callbacks and hook calls happened, in
        // order.
        RUNS.with(|r| {
            prop_assert_eq!(
                &r.borrow()[..],
                &expected_runs[..],
                "step {} {:?}",
                step,
                op
            );
            Ok(())
        })?;
        HOOK_CALLS.with(|h| {
            prop_assert_eq!(
                &h.borrow()[..],
                &expected_hooks[..],
                "step {} {:?}",
                step,
                op
            );
            Ok(())
        })?;
    }

    // Dropping the events drops pending callbacks unrun.
    drop(handles);
    drop(events);
    let runs = RUNS.with(|r| r.borrow().clone());
    prop_assert_eq!(runs, expected_runs);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random operation sequences against the sequential model.
    #[test]
    fn event_matches_sequential_model(ops in proptest::collection::vec(op(), 1..160)) {
        run_ops(&ops)?;
    }
}

/// A fixed sequence that visits every row of the table, every callback
/// form, a stale arm and a truncated message (a readable regression case).
#[test]
fn fixed_sequence_visits_every_row() {
    use Op::*;
    let long = "€".repeat(60);
    let ops = [
        Snapshot(0),
        Reset(0),
        OnComplete(0),
        ArmWake(3, 0),
        Record(3),
        Record(0),
        Reset(0),
        OnCompleteFn(3),
        SetFailed(0, long),
        SetFailed(3, "second".into()),
        SetFinished(0),
        Record(0),
        OnComplete(0),
        ArmWake(0, 0),
        Reset(3),
        ArmWake(0, 0),
        SetFinished(0),
        Reset(0),
        Snapshot(1),
        ArmWake(4, 0),
        SetFailed(1, "x".into()),
        Reset(4),
        Record(4),
        ArmWake(1, 0),
    ];
    run_ops(&ops).unwrap();
}
