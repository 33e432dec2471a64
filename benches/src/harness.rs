//! The measuring harness: groups of lines, timed in interleaved rounds.
//!
//! A *group* compares a few *lines* that do the same job: one **baseline**
//! (the thing a user would pick instead of evlatch, or the hardware floor)
//! and any number of **contenders**. Each line is a closure that runs a
//! batch of `iters` iterations of the operation.
//!
//! How a group is measured:
//!
//! 1. Calibrate: each line gets its own batch size, so that one batch takes
//!    about [`Config::batch`] (default 10 ms), then runs one warm-up batch.
//! 2. Run [`Config::rounds`] rounds. A round runs *one batch of every line*;
//!    the starting line rotates from round to round. Drift (frequency
//!    scaling, a noisy neighbour on the VM, page-cache state) therefore hits
//!    every line about equally, instead of hitting whichever line happened
//!    to run last.
//! 3. Report per line: the median ns/op over the rounds, the spread (the
//!    interquartile range as a percent of the median, plus min..max), and
//!    `ratio = line median / baseline median`: **below 1.00 the line is
//!    faster than the baseline; lower is better.** Next to the ratio the
//!    table shows the quartiles of the *paired* per-round ratios (line and
//!    baseline batch of the same round), a drift-free view of the same
//!    number.
//!
//! Adding a group (see `event.rs` for real ones):
//!
//! ```ignore
//! pub fn register(h: &mut Harness) {
//!     let q = MyQueue::new();
//!     h.group("queue.spsc", "one producer, one consumer, 64 slots")
//!         .baseline("crossbeam ArrayQueue", |iters| { /* iters ops */ })
//!         .line("evlatch queue", |iters| { /* iters ops */ })
//!         .goal(1.0) // optional: the ratio the last line should stay under
//!         .run();
//! }
//! ```
//!
//! A line that needs untimed setup per batch (threads to spawn, a queue to
//! fill) uses [`Group::line_timed`] / [`Group::baseline_timed`] and returns
//! the time of the part that counts.
//!
//! No result of this module is ever asserted: it measures and reports.

use core::fmt::Write as _;
use core::time::Duration;
use std::io::{IsTerminal, Write as _};
use std::time::Instant;

/// A timed batch: runs `iters` iterations, returns how long the measured part took.
type Batch<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// Settings of one run, from the command line.
#[derive(Clone, Debug)]
pub struct Config {
    /// Rounds per group (every line runs one batch per round).
    pub rounds: usize,
    /// Target wall time of one batch.
    pub batch: Duration,
    /// Run only groups whose name contains one of these (all if empty).
    pub filters: Vec<String>,
    /// Where to write the JSON report, if anywhere.
    pub json: Option<String>,
    /// `--quick`: few short rounds, for smoke runs.
    pub quick: bool,
    /// `--list`: print the group names and exit without measuring.
    pub list: bool,
}

impl Config {
    const DEFAULT_ROUNDS: usize = 101;
    const DEFAULT_BATCH_MS: u64 = 10;
    const QUICK_ROUNDS: usize = 11;
    const QUICK_BATCH_MS: u64 = 5;

    /// Parses the arguments after the program name. `Ok(None)` means `--help`
    /// was asked for (the usage is already printed).
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Option<Self>, String> {
        let mut rounds = None;
        let mut batch_ms = None;
        let mut config = Config {
            rounds: Self::DEFAULT_ROUNDS,
            batch: Duration::from_millis(Self::DEFAULT_BATCH_MS),
            filters: Vec::new(),
            json: None,
            quick: false,
            list: false,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            // Accept both `--flag value` and `--flag=value`.
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = |what: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs {what} after it"))
            };
            match flag.as_str() {
                "-h" | "--help" => {
                    print!("{}", usage());
                    return Ok(None);
                }
                "--quick" => config.quick = true,
                "--list" => config.list = true,
                "--json" => config.json = Some(value("a file path")?),
                "--filter" => config.filters.push(value("a substring of group names")?),
                "--rounds" => rounds = Some(parse_count(&flag, &value("a number")?, 3)?),
                "--batch-ms" => batch_ms = Some(parse_count(&flag, &value("a number")?, 1)?),
                _ => return Err(format!("unknown argument `{arg}`; see --help")),
            }
        }
        if config.quick {
            config.rounds = Self::QUICK_ROUNDS;
            config.batch = Duration::from_millis(Self::QUICK_BATCH_MS);
        }
        if let Some(r) = rounds {
            config.rounds = r;
        }
        if let Some(ms) = batch_ms {
            config.batch = Duration::from_millis(ms as u64);
        }
        Ok(Some(config))
    }

    fn selects(&self, group: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| group.contains(f.as_str()))
    }
}

fn parse_count(flag: &str, text: &str, min: usize) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("{flag} wants a whole number ≥ {min}, got `{text}`")),
    }
}

/// The `--help` text.
pub fn usage() -> String {
    format!(
        "\
evlatch-bench: evlatch side by side with the crates users would pick instead.

USAGE:
    cargo run --release -p evlatch-bench -- [OPTIONS]

OPTIONS:
    --json PATH       also write the results as JSON to PATH
    --quick           {qr} rounds of ~{qb} ms batches (smoke runs, CI); default {dr} × ~{db} ms
    --filter SUBSTR   run only groups whose name contains SUBSTR (repeatable)
    --rounds N        rounds per group (overrides --quick's and the default)
    --batch-ms N      target milliseconds per batch (overrides likewise)
    --list            list the groups and their lines, measure nothing
    -h, --help        this text

Every line of a group runs one batch per round, the lines alternating, so
drift hits all of them alike. ratio = line median / baseline median:
below 1.00 is faster than the baseline; lower is better.
",
        qr = Config::QUICK_ROUNDS,
        qb = Config::QUICK_BATCH_MS,
        dr = Config::DEFAULT_ROUNDS,
        db = Config::DEFAULT_BATCH_MS,
    )
}

/// Collects and runs groups; prints the table; writes the JSON report.
pub struct Harness {
    config: Config,
    reports: Vec<GroupReport>,
    started: Instant,
    live_progress: bool,
}

impl Harness {
    /// A harness for one run with `config`.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            reports: Vec::new(),
            started: Instant::now(),
            live_progress: std::io::stderr().is_terminal(),
        }
    }

    /// Whether `--filter` selects the group `name`. A registration function
    /// may use this to skip expensive setup; [`Group::run`] checks it anyway.
    #[allow(dead_code, reason = "API for groups with costly setup")]
    pub fn selects(&self, name: &str) -> bool {
        self.config.selects(name)
    }

    /// Whether this is a `--quick` run (for groups that pick their own
    /// measuring window).
    pub fn is_quick(&self) -> bool {
        self.config.quick
    }

    /// Starts a group named `name` (dot-separated, e.g. `event.cycle`; what
    /// `--filter` matches) described by `title` (one line, printed above it).
    pub fn group<'a>(&'a mut self, name: &str, title: &str) -> Group<'a> {
        Group {
            harness: self,
            name: name.to_owned(),
            title: title.to_owned(),
            lines: Vec::new(),
            baseline: None,
            batch: None,
            max_rounds: None,
            note: None,
        }
    }

    /// Prints the header of the table (to stdout).
    pub fn print_header(&self) {
        let c = &self.config;
        println!(
            "evlatch-bench: {} rounds per group, ~{} ms per batch{}{}",
            c.rounds,
            c.batch.as_millis(),
            if c.quick { " (--quick)" } else { "" },
            if c.filters.is_empty() {
                String::new()
            } else {
                format!(", filter {:?}", c.filters)
            },
        );
        if cfg!(debug_assertions) {
            println!("WARNING: built without optimisations; run with --release for real numbers");
        }
        println!(
            "ns/op: median over rounds | IQR%: interquartile range / median | \
             ratio: line median / baseline median (lower = faster; < 1.00 beats the baseline)"
        );
        println!(
            "paired: quartiles of the per-round ratios (same round, back to back) | \
             goal: the ratio a line should stay at or under"
        );
    }

    /// Prints the footer and writes the JSON report if asked. Returns an
    /// error message if the JSON file could not be written.
    pub fn finish(self) -> Result<(), String> {
        if self.config.list {
            return Ok(());
        }
        if self.reports.is_empty() {
            return Err(format!(
                "no group matched the filter {:?}; see --list",
                self.config.filters
            ));
        }
        println!(
            "\n{} group(s) in {:.1} s",
            self.reports.len(),
            self.started.elapsed().as_secs_f64()
        );
        if let Some(path) = &self.config.json {
            let json = self.to_json();
            std::fs::write(path, json)
                .map_err(|e| format!("could not write the JSON report to {path}: {e}"))?;
            println!("JSON report written to {path}");
        }
        Ok(())
    }

    /// Progress on stderr. A `tick` only shows on a terminal, where it
    /// rewrites the current line; other messages are whole lines everywhere.
    fn progress(&self, text: &str, tick: bool) {
        let mut err = std::io::stderr().lock();
        if self.live_progress {
            let _ = write!(err, "\r\x1b[2K{text}{}", if tick { "" } else { "\n" });
        } else if !tick {
            let _ = writeln!(err, "{text}");
        }
        let _ = err.flush();
    }

    fn to_json(&self) -> String {
        let c = &self.config;
        let mut j = String::new();
        j.push_str("{\n");
        let _ = writeln!(j, "  \"schema\": \"evlatch-bench/1\",");
        let _ = writeln!(
            j,
            "  \"evlatch_version\": {},",
            json_str(env!("CARGO_PKG_VERSION"))
        );
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let _ = writeln!(j, "  \"unix_time\": {unix},");
        let _ = writeln!(
            j,
            "  \"machine\": {{ \"cpus\": {}, \"cpu_model\": {}, \"os\": {}, \"arch\": {} }},",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            json_str(&cpu_model()),
            json_str(std::env::consts::OS),
            json_str(std::env::consts::ARCH),
        );
        let _ = writeln!(
            j,
            "  \"config\": {{ \"rounds\": {}, \"batch_ms\": {}, \"quick\": {}, \"optimized\": {}, \"filters\": [{}] }},",
            c.rounds,
            c.batch.as_millis(),
            c.quick,
            !cfg!(debug_assertions),
            c.filters.iter().map(|f| json_str(f)).collect::<Vec<_>>().join(", "),
        );
        j.push_str("  \"ratio_meaning\": \"line median / baseline median; lower is faster\",\n");
        j.push_str("  \"groups\": [\n");
        for (gi, g) in self.reports.iter().enumerate() {
            j.push_str("    {\n");
            let _ = writeln!(j, "      \"name\": {},", json_str(&g.name));
            let _ = writeln!(j, "      \"title\": {},", json_str(&g.title));
            if let Some(note) = &g.note {
                let _ = writeln!(j, "      \"note\": {},", json_str(note));
            }
            let _ = writeln!(j, "      \"rounds\": {},", g.rounds);
            let _ = writeln!(j, "      \"baseline\": {},", json_str(&g.lines[0].name));
            j.push_str("      \"lines\": [\n");
            for (li, l) in g.lines.iter().enumerate() {
                let s = &l.stats;
                let _ = write!(
                    j,
                    "        {{ \"name\": {}, \"baseline\": {}, \"iters_per_batch\": {}, \
                     \"median_ns\": {}, \"q1_ns\": {}, \"q3_ns\": {}, \"min_ns\": {}, \"max_ns\": {}, \
                     \"iqr_pct\": {}, \"ratio\": {}, \"paired_ratio_q1\": {}, \"paired_ratio_median\": {}, \
                     \"paired_ratio_q3\": {}, \"goal_max_ratio\": {}, \"goal_met\": {}, \"samples_ns\": [{}] }}",
                    json_str(&l.name),
                    li == 0,
                    l.iters,
                    json_num(s.median),
                    json_num(s.q1),
                    json_num(s.q3),
                    json_num(s.min),
                    json_num(s.max),
                    json_num(s.iqr_pct()),
                    json_num(l.ratio),
                    json_num(l.paired.q1),
                    json_num(l.paired.median),
                    json_num(l.paired.q3),
                    l.goal.map_or("null".to_owned(), json_num),
                    l.goal
                        .map_or("null".to_owned(), |g| (l.ratio <= g).to_string()),
                    l.samples
                        .iter()
                        .map(|&x| json_num(x))
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                j.push_str(if li + 1 < g.lines.len() { ",\n" } else { "\n" });
            }
            j.push_str("      ]\n");
            j.push_str(if gi + 1 < self.reports.len() {
                "    },\n"
            } else {
                "    }\n"
            });
        }
        j.push_str("  ]\n}\n");
        j
    }
}

/// A group being built; measured by [`Group::run`].
pub struct Group<'a> {
    harness: &'a mut Harness,
    name: String,
    title: String,
    /// Index 0 is the baseline once `run` starts.
    lines: Vec<LineSpec<'a>>,
    baseline: Option<LineSpec<'a>>,
    batch: Option<Duration>,
    max_rounds: Option<usize>,
    note: Option<String>,
}

struct LineSpec<'a> {
    name: String,
    batch: Batch<'a>,
    goal: Option<f64>,
}

impl<'a> Group<'a> {
    /// The line every other line's ratio is taken against. `f(iters)` runs
    /// `iters` iterations; the harness times the whole call.
    pub fn baseline(self, name: &str, mut f: impl FnMut(u64) + 'a) -> Self {
        self.baseline_timed(name, move |iters| {
            let start = Instant::now();
            f(iters);
            start.elapsed()
        })
    }

    /// Like [`baseline`](Self::baseline), but `f` times itself: it returns
    /// the duration of the part of the batch that counts.
    pub fn baseline_timed(mut self, name: &str, f: impl FnMut(u64) -> Duration + 'a) -> Self {
        assert!(
            self.baseline.is_none(),
            "group {}: a group has exactly one baseline",
            self.name
        );
        self.baseline = Some(LineSpec {
            name: name.to_owned(),
            batch: Box::new(f),
            goal: None,
        });
        self
    }

    /// A contender: `f(iters)` runs `iters` iterations; the harness times it.
    pub fn line(self, name: &str, mut f: impl FnMut(u64) + 'a) -> Self {
        self.line_timed(name, move |iters| {
            let start = Instant::now();
            f(iters);
            start.elapsed()
        })
    }

    /// A contender that times itself (see [`baseline_timed`](Self::baseline_timed)).
    pub fn line_timed(mut self, name: &str, f: impl FnMut(u64) -> Duration + 'a) -> Self {
        self.lines.push(LineSpec {
            name: name.to_owned(),
            batch: Box::new(f),
            goal: None,
        });
        self
    }

    /// [`line_timed`](Self::line_timed) only when `include` holds (for a peer
    /// that is only safe to run in some configurations).
    pub fn line_timed_if(
        self,
        include: bool,
        name: &str,
        f: impl FnMut(u64) -> Duration + 'a,
    ) -> Self {
        if include {
            self.line_timed(name, f)
        } else {
            self
        }
    }

    /// Sets a goal on the last contender added: its ratio should be at most
    /// `max_ratio`. The table says whether it was met; nothing fails.
    pub fn goal(mut self, max_ratio: f64) -> Self {
        let last = self
            .lines
            .last_mut()
            .expect("goal() applies to the last contender: add a line first");
        last.goal = Some(max_ratio);
        self
    }

    /// Overrides the run's target batch time for this group (for lines whose
    /// batches have a large fixed cost, e.g. spawning threads).
    #[allow(dead_code, reason = "API for groups with costly batches")]
    pub fn batch_time(mut self, batch: Duration) -> Self {
        self.batch = Some(batch);
        self
    }

    /// Caps this group's rounds (for groups whose batches are long, e.g. a
    /// whole pipeline run of SPDL's length); `--rounds` still lowers it.
    pub fn max_rounds(mut self, rounds: usize) -> Self {
        self.max_rounds = Some(rounds.max(1));
        self
    }

    /// A one-line note printed under the group (what the lines do exactly).
    pub fn note(mut self, note: &str) -> Self {
        self.note = Some(note.to_owned());
        self
    }

    /// Measures the group (if `--filter` selects it) and prints its rows.
    pub fn run(self) {
        let Group {
            harness,
            name,
            title,
            mut lines,
            baseline,
            batch,
            max_rounds,
            note,
        } = self;
        let baseline = baseline.unwrap_or_else(|| panic!("group {name}: no baseline"));
        lines.insert(0, baseline);
        if !harness.selects(&name) {
            return;
        }
        if harness.config.list {
            println!("{name}: {title}");
            for (i, l) in lines.iter().enumerate() {
                println!("    {}{}", l.name, if i == 0 { " (baseline)" } else { "" });
            }
            return;
        }
        let rounds = max_rounds.map_or(harness.config.rounds, |m| m.min(harness.config.rounds));
        let target = batch.unwrap_or(harness.config.batch);
        let group_start = Instant::now();
        harness.progress(
            &format!(
                "{name}: {} lines × {rounds} rounds of ~{} ms batches",
                lines.len(),
                target.as_millis()
            ),
            false,
        );

        // 1. Calibrate each line, then warm it up with one full batch.
        let mut iters = Vec::with_capacity(lines.len());
        for l in &mut lines {
            harness.progress(&format!("{name}: calibrating {}", l.name), true);
            let n = calibrate(&mut l.batch, target);
            let _ = (l.batch)(n);
            iters.push(n);
        }

        // 2. Interleaved rounds, the starting line rotating.
        let mut samples = vec![Vec::with_capacity(rounds); lines.len()];
        for round in 0..rounds {
            harness.progress(&format!("{name}: round {}/{rounds}", round + 1), true);
            for k in 0..lines.len() {
                let i = (round + k) % lines.len();
                let took = (lines[i].batch)(iters[i]);
                samples[i].push(took.as_nanos() as f64 / iters[i] as f64);
            }
        }
        harness.progress(
            &format!(
                "{name}: done in {:.1} s",
                group_start.elapsed().as_secs_f64()
            ),
            false,
        );

        // 3. Statistics.
        let base_median = Stats::of(&samples[0]).median;
        let mut reports = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            let stats = Stats::of(&samples[i]);
            let paired: Vec<f64> = samples[i]
                .iter()
                .zip(&samples[0])
                .map(|(x, b)| x / b)
                .collect();
            reports.push(LineReport {
                name: l.name.clone(),
                iters: iters[i],
                ratio: stats.median / base_median,
                paired: Stats::of(&paired),
                stats,
                goal: l.goal,
                samples: samples[i].clone(),
            });
        }
        let report = GroupReport {
            name,
            title,
            note,
            rounds,
            lines: reports,
        };
        report.print();
        harness.reports.push(report);
    }
}

/// Finds a batch size whose batch takes about `target`.
fn calibrate(batch: &mut Batch<'_>, target: Duration) -> u64 {
    let target_ns = target.as_nanos().max(1) as f64;
    let mut n: u64 = 1;
    loop {
        let took = batch(n).as_nanos().max(1) as f64;
        // Grow geometrically until a batch is long enough to time well
        // (a tenth of the target), then scale to the target.
        if took >= target_ns / 10.0 || n >= 1 << 40 {
            let scaled = (n as f64 * target_ns / took).round();
            return (scaled as u64).max(1);
        }
        n = n.saturating_mul(if took < target_ns / 1000.0 { 16 } else { 2 });
    }
}

/// Order statistics of a sample.
#[derive(Clone, Copy, Debug)]
struct Stats {
    min: f64,
    q1: f64,
    median: f64,
    q3: f64,
    max: f64,
}

impl Stats {
    fn of(xs: &[f64]) -> Self {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        Stats {
            min: v[0],
            q1: quantile(&v, 0.25),
            median: quantile(&v, 0.5),
            q3: quantile(&v, 0.75),
            max: v[v.len() - 1],
        }
    }

    fn iqr_pct(&self) -> f64 {
        (self.q3 - self.q1) / self.median * 100.0
    }
}

/// Linear-interpolated quantile of sorted, non-empty `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

struct GroupReport {
    name: String,
    title: String,
    note: Option<String>,
    rounds: usize,
    /// Index 0 is the baseline.
    lines: Vec<LineReport>,
}

struct LineReport {
    name: String,
    iters: u64,
    stats: Stats,
    ratio: f64,
    paired: Stats,
    goal: Option<f64>,
    samples: Vec<f64>,
}

/// Marks the baseline's row in the table.
const BASE_SUFFIX: &str = " (base)";

impl GroupReport {
    fn print(&self) {
        let width = self
            .lines
            .iter()
            .map(|l| l.name.chars().count())
            .max()
            .unwrap_or(0)
            .max(12)
            + BASE_SUFFIX.len();
        println!("\n## {} — {}", self.name, self.title);
        if let Some(note) = &self.note {
            println!("   {note}");
        }
        println!(
            "   {:<width$} {:>9} {:>6} {:>17} {:>7} {:>13}  goal",
            "line", "ns/op", "IQR%", "min..max", "ratio", "paired q1..q3"
        );
        for (i, l) in self.lines.iter().enumerate() {
            let s = &l.stats;
            let name = if i == 0 {
                format!("{}{BASE_SUFFIX}", l.name)
            } else {
                l.name.clone()
            };
            let paired = if i == 0 {
                String::new()
            } else {
                format!("{:.2}..{:.2}", l.paired.q1, l.paired.q3)
            };
            let goal = match l.goal {
                None => String::new(),
                Some(g) if l.ratio <= g => format!("≤{g:.2}: met"),
                Some(g) => format!("≤{g:.2}: MISSED"),
            };
            println!(
                "   {:<width$} {:>9} {:>5.1}% {:>17} {:>6.2}x {:>13}  {}",
                name,
                fmt_ns(s.median),
                s.iqr_pct(),
                format!("{}..{}", fmt_ns(s.min), fmt_ns(s.max)),
                l.ratio,
                paired,
                goal,
            );
        }
    }
}

/// ns with three significant digits (at least one decimal below 100).
fn fmt_ns(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.2}")
    } else if ns < 100.0 {
        format!("{ns:.1}")
    } else {
        format!("{ns:.0}")
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number (JSON has no NaN or infinity: those become `null`).
fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "null".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_flags_both_spellings() {
        let c = Config::from_args(args(&["--json=o.json", "--filter", "event", "--quick"]))
            .unwrap()
            .unwrap();
        assert_eq!(c.json.as_deref(), Some("o.json"));
        assert_eq!(c.filters, ["event"]);
        assert_eq!(c.rounds, Config::QUICK_ROUNDS);
        let c = Config::from_args(args(&["--quick", "--rounds", "5"]))
            .unwrap()
            .unwrap();
        assert_eq!(c.rounds, 5);
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(Config::from_args(args(&["--json"])).is_err());
        assert!(Config::from_args(args(&["--rounds", "x"])).is_err());
        assert!(Config::from_args(args(&["--rounds", "1"])).is_err());
        assert!(Config::from_args(args(&["--frobnicate"])).is_err());
    }

    #[test]
    fn quantiles_interpolate() {
        let s = Stats::of(&[4.0, 1.0, 3.0, 2.0, 5.0]);
        assert_eq!(
            (s.min, s.q1, s.median, s.q3, s.max),
            (1.0, 2.0, 3.0, 4.0, 5.0)
        );
        assert_eq!(quantile(&[1.0, 2.0], 0.5), 1.5);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        assert_eq!(json_num(f64::NAN), "null");
    }
}
