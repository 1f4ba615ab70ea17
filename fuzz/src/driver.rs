//! The loop: pick an input (a seed, a mutation of a corpus entry, or a structured
//! input from `arbitrary`), run it, classify what happened, keep inputs whose outcome
//! is new, save findings, report progress.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::targets::{Shape, Target};
use crate::{alloc, crash, mutate};

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Total time, split evenly over the targets.
    pub seconds: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// An input running longer than this is a hang.
    pub hang: Duration,
    /// A single allocation larger than this is a finding.
    pub max_alloc: usize,
    /// Where findings are saved.
    pub findings: PathBuf,
    /// Progress line every this many seconds.
    pub report_every: f64,
    /// Inputs kept per target beyond the seeds.
    pub corpus_cap: usize,
    /// End the process when the watchdog sees a hang (the stuck worker cannot be
    /// stopped otherwise). Off only in the fuzzer's own tests, whose slow inputs
    /// finish: the worker then records the hang when the input returns.
    pub exit_on_hang: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seconds: 60.0,
            seed: 1,
            hang: Duration::from_secs(5),
            max_alloc: 256 << 20,
            findings: PathBuf::from("fuzz/findings"),
            report_every: 10.0,
            corpus_cap: 2000,
            exit_on_hang: true,
        }
    }
}

/// Something wrong that an input caused.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The target.
    pub target: &'static str,
    /// `panic`, `alloc`, `memory` or `hang`.
    pub kind: &'static str,
    /// What happened (the panic message and place, the allocation size).
    pub detail: String,
    /// The saved input.
    pub file: PathBuf,
}

/// What one target did in a run.
#[derive(Debug, Clone, Default)]
pub struct TargetStats {
    /// Inputs run.
    pub execs: u64,
    /// Time spent running them, in seconds.
    pub seconds: f64,
    /// Inputs in the corpus at the end (seeds included).
    pub corpus: usize,
    /// Distinct outcome signatures seen.
    pub signatures: usize,
    /// Largest single allocation seen, in bytes.
    pub biggest_alloc: usize,
    /// Largest rise of live heap bytes during one input.
    pub peak_growth: usize,
    /// Slowest input, in seconds.
    pub slowest: f64,
    /// Panics inside the library that it caught itself and turned into a typed error
    /// (symphonia runs under `catch_unwind`): not findings, counted for information.
    pub caught_panics: u64,
}

/// A run's result.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Per target, in run order.
    pub targets: Vec<(&'static str, TargetStats)>,
    /// Everything found.
    pub findings: Vec<Finding>,
    /// Wall time.
    pub seconds: f64,
}

impl Summary {
    /// Inputs run, all targets.
    pub fn execs(&self) -> u64 {
        self.targets.iter().map(|(_, s)| s.execs).sum()
    }
}

static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static QUIET_PANICS: AtomicBool = AtomicBool::new(false);

fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !QUIET_PANICS.load(SeqCst) {
            return default(info);
        }
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "<non-string panic>".into());
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut p) = PANICS.lock() {
            p.push(format!("{msg} (at {at})"));
        }
    }));
}

fn take_panics() -> Vec<String> {
    PANICS
        .lock()
        .map(|mut p| std::mem::take(&mut *p))
        .unwrap_or_default()
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Save `input` as a finding; returns the path.
fn save(dir: &Path, target: &str, kind: &str, input: &[u8], detail: &str) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let base = format!("{target}-{kind}-{:016x}", fnv(input));
    let file = dir.join(format!("{base}.bin"));
    let _ = std::fs::write(&file, input);
    let _ = std::fs::write(dir.join(format!("{base}.txt")), format!("{detail}\n"));
    file
}

fn mb(b: usize) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

struct Shared {
    /// Milliseconds since `epoch` when the current input started; 0 when idle.
    started: AtomicU64,
    epoch: Instant,
    done: AtomicBool,
}

fn one_input(rng: &mut StdRng, t: &Target, corpus: &[Vec<u8>]) -> Vec<u8> {
    let roll: f64 = rng.random();
    if let (Some(g), true) = (t.generate, roll < 0.15) {
        let raw: Vec<u8> = (0..rng.random_range(16..4096))
            .map(|_| rng.random())
            .collect();
        let mut u = arbitrary::Unstructured::new(&raw);
        if let Ok(v) = g(&mut u) {
            return v;
        }
    }
    let base = corpus.choose(rng).expect("non-empty corpus");
    let other = corpus.choose(rng).expect("non-empty corpus");
    let mut v = match t.shape {
        Shape::Json { prefix } if rng.random_bool(0.8) && base.len() > prefix => {
            let text = std::str::from_utf8(&base[prefix..]).ok();
            match text.and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok()) {
                Some(mut j) => {
                    mutate::json(rng, &mut j);
                    let mut v = base[..prefix].to_vec();
                    if prefix > 0 && rng.random_bool(0.1) {
                        v[0] = rng.random();
                    }
                    v.extend_from_slice(j.to_string().as_bytes());
                    v
                }
                None => mutate::bytes(rng, base, other, &t.dict, t.max_len),
            }
        }
        _ => mutate::bytes(rng, base, other, &t.dict, t.max_len),
    };
    if t.shape == Shape::Ogg && rng.random_bool(0.9) {
        mutate::fix_ogg_crcs(&mut v);
    }
    v.truncate(t.max_len);
    v
}

/// Run every target for `config.seconds` in total (round-robin slices), with the
/// watchdog on this thread. A hang ends the process (the stuck thread cannot be
/// stopped) with status 2 after saving the input.
pub fn run(config: &Config, targets: Vec<Target>) -> Summary {
    alloc::set_limit(config.max_alloc);
    install_panic_hook();
    let _ = std::fs::create_dir_all(&config.findings);
    crash::install(
        targets
            .iter()
            .map(|t| config.findings.join(format!("{}-abort.bin", t.name)))
            .collect(),
    );
    let shared = Arc::new(Shared {
        started: AtomicU64::new(0),
        epoch: Instant::now(),
        done: AtomicBool::new(false),
    });
    let names: Vec<&'static str> = targets.iter().map(|t| t.name).collect();
    let cfg = config.clone();
    let sh = Arc::clone(&shared);
    let worker = std::thread::Builder::new()
        .name("fuzz-worker".into())
        .stack_size(8 << 20)
        .spawn(move || work(&cfg, targets, &sh))
        .expect("worker thread");
    // The watchdog.
    let hang_ms = config.hang.as_millis() as u64;
    // The worker ends by setting `done`, or by a panic of the driver itself (outside
    // the targets' `catch_unwind`): then it is finished without `done`.
    while !shared.done.load(SeqCst) && !worker.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        let s = shared.started.load(SeqCst);
        let now = shared.epoch.elapsed().as_millis() as u64;
        if config.exit_on_hang && s != 0 && now.saturating_sub(s) > hang_ms {
            if let Some((t, input)) = crash::current() {
                let name = names.get(t).copied().unwrap_or("?");
                let detail = format!(
                    "hang: the input ran more than {:.1} s (watchdog limit)",
                    config.hang.as_secs_f64()
                );
                let file = save(&config.findings, name, "hang", &input, &detail);
                eprintln!(
                    "fuzz: FINDING hang in {name}: {detail}; input saved to {}",
                    file.display()
                );
                eprintln!("fuzz: stopping (a stuck thread cannot be stopped)");
                std::process::exit(2);
            }
        }
    }
    worker.join().unwrap_or_else(|_| {
        // The panic hook kept the message quietly (the worker set QUIET_PANICS).
        for p in take_panics() {
            eprintln!("fuzz: the fuzzer itself panicked: {p}");
        }
        eprintln!("fuzz: the worker itself failed");
        std::process::exit(4)
    })
}

fn work(config: &Config, targets: Vec<Target>, shared: &Shared) -> Summary {
    let start = Instant::now();
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut corpora: Vec<Vec<Vec<u8>>> = targets.iter().map(|t| t.seeds.clone()).collect();
    let mut sigs: Vec<HashSet<String>> = vec![HashSet::new(); targets.len()];
    let mut stats: Vec<TargetStats> = vec![TargetStats::default(); targets.len()];
    let mut findings: Vec<Finding> = Vec::new();
    let mut seen_panics: HashSet<(usize, String)> = HashSet::new();
    let mut caught_examples: BTreeMap<String, ()> = BTreeMap::new();
    let slice = 2.0f64;
    let budget = config.seconds.max(0.0);
    let mut next_report = config.report_every;
    QUIET_PANICS.store(true, SeqCst);

    // Every seed first, in order: a seed that fails to give "ok" is reported, since
    // a broken seed makes a target fuzz nothing.
    let mut queue: Vec<(usize, Vec<u8>)> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        for s in &t.seeds {
            queue.push((i, s.clone()));
        }
    }
    let mut round = 0usize;
    'outer: loop {
        for (ti, t) in targets.iter().enumerate() {
            let slice_end = Instant::now() + Duration::from_secs_f64(slice);
            loop {
                let elapsed = start.elapsed().as_secs_f64();
                if elapsed >= budget && queue.is_empty() {
                    break 'outer;
                }
                if elapsed >= next_report {
                    next_report += config.report_every;
                    let execs: u64 = stats.iter().map(|s| s.execs).sum();
                    let corpus: usize = corpora.iter().map(Vec::len).sum();
                    eprintln!(
                        "fuzz: {:>5.0} s  {:>8} execs  {:>6.0}/s  corpus {:>5}  findings {}",
                        elapsed,
                        execs,
                        execs as f64 / elapsed.max(1e-9),
                        corpus,
                        findings.len()
                    );
                }
                let (which, input, is_seed) = if let Some((i, s)) = queue.first().cloned() {
                    queue.remove(0);
                    (i, s, true)
                } else {
                    if Instant::now() >= slice_end {
                        break;
                    }
                    (ti, one_input(&mut rng, t, &corpora[ti]), false)
                };
                let tt = &targets[which];
                let _ = take_panics();
                crash::set_current(which, &input);
                let base = alloc::begin();
                let t0 = Instant::now();
                shared
                    .started
                    .store(shared.epoch.elapsed().as_millis() as u64 + 1, SeqCst);
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (tt.run)(&input)));
                shared.started.store(0, SeqCst);
                let dt = t0.elapsed().as_secs_f64();
                let usage = alloc::end(base);
                crash::clear();
                let panics = take_panics();
                let st = &mut stats[which];
                st.execs += 1;
                st.seconds += dt;
                st.slowest = st.slowest.max(dt);
                st.biggest_alloc = st.biggest_alloc.max(usage.biggest);
                st.peak_growth = st.peak_growth.max(usage.peak_growth);
                let mut record = |kind: &'static str, detail: String, key: String| {
                    if seen_panics.insert((which, key)) {
                        let file = save(&config.findings, tt.name, kind, &input, &detail);
                        eprintln!(
                            "fuzz: FINDING {kind} in {}: {detail}; input saved to {}",
                            tt.name,
                            file.display()
                        );
                        findings.push(Finding {
                            target: tt.name,
                            kind,
                            detail,
                            file,
                        });
                    }
                };
                match &r {
                    Err(_) => {
                        let detail = panics.last().cloned().unwrap_or_else(|| "panic".into());
                        let key = detail.rsplit("(at ").next().unwrap_or("").to_string();
                        record("panic", format!("panic: {detail}"), key);
                    }
                    Ok(_) if !panics.is_empty() => {
                        st.caught_panics += 1;
                        for p in &panics {
                            let key = p.rsplit("(at ").next().unwrap_or("").to_string();
                            if caught_examples.len() < 20
                                && caught_examples.insert(key, ()).is_none()
                            {
                                eprintln!("fuzz: note: {} panicked inside a guarded decoder (turned into a typed error): {p}", tt.name);
                                save(
                                    &config.findings.join("caught"),
                                    tt.name,
                                    "caught-panic",
                                    &input,
                                    p,
                                );
                            }
                        }
                    }
                    Ok(_) => {}
                }
                if usage.biggest > config.max_alloc {
                    record(
                        "alloc",
                        format!(
                            "a single allocation of {} (limit {}) for a {}-byte input",
                            mb(usage.biggest),
                            mb(config.max_alloc),
                            input.len()
                        ),
                        format!("alloc-{}", usage.biggest.ilog2()),
                    );
                }
                if usage.peak_growth > config.max_alloc.saturating_mul(4) {
                    record(
                        "memory",
                        format!(
                            "live heap grew by {} (limit {}) for a {}-byte input",
                            mb(usage.peak_growth),
                            mb(config.max_alloc.saturating_mul(4)),
                            input.len()
                        ),
                        format!("memory-{}", usage.peak_growth.ilog2()),
                    );
                }
                if dt > config.hang.as_secs_f64() {
                    record(
                        "hang",
                        format!(
                            "the input ran {dt:.1} s (watchdog limit {:.1} s)",
                            config.hang.as_secs_f64()
                        ),
                        "hang".into(),
                    );
                }
                if let Ok(sig) = r {
                    if is_seed
                        && !(sig.contains("ok")
                            || sig.contains("load:")
                            || sig.contains("feat:")
                            || sig.starts_with("file"))
                    {
                        eprintln!("fuzz: note: a seed of {} gives `{sig}`", tt.name);
                    }
                    if sigs[which].insert(sig) && !is_seed {
                        let c = &mut corpora[which];
                        if c.len() < tt.seeds.len() + config.corpus_cap {
                            c.push(input);
                        } else {
                            let k = rng.random_range(tt.seeds.len()..c.len());
                            c[k] = input;
                        }
                    }
                }
            }
        }
        round += 1;
        let _ = round;
    }
    QUIET_PANICS.store(false, SeqCst);
    shared.done.store(true, SeqCst);
    for (i, s) in stats.iter_mut().enumerate() {
        s.corpus = corpora[i].len();
        s.signatures = sigs[i].len();
    }
    Summary {
        targets: targets.iter().map(|t| t.name).zip(stats).collect(),
        findings,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// The summary as the table printed at the end of a run.
pub fn table(s: &Summary) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<11} {:>9} {:>8} {:>7} {:>5} {:>11} {:>11} {:>8} {:>7} {:>8}\n",
        "target",
        "execs",
        "execs/s",
        "corpus",
        "sigs",
        "max alloc",
        "peak heap+",
        "slowest",
        "caught",
        "findings"
    ));
    for (name, t) in &s.targets {
        let f = s.findings.iter().filter(|f| f.target == *name).count();
        out.push_str(&format!(
            "{:<11} {:>9} {:>8.0} {:>7} {:>5} {:>11} {:>11} {:>7.2}s {:>7} {:>8}\n",
            name,
            t.execs,
            t.execs as f64 / t.seconds.max(1e-9),
            t.corpus,
            t.signatures,
            mb(t.biggest_alloc),
            mb(t.peak_growth),
            t.slowest,
            t.caught_panics,
            f
        ));
    }
    out.push_str(&format!(
        "fuzz: {:.0} s, {} executions ({:.0}/s), {} targets, {} findings\n",
        s.seconds,
        s.execs(),
        s.execs() as f64 / s.seconds.max(1e-9),
        s.targets.len(),
        s.findings.len()
    ));
    out
}
