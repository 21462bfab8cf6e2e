//! The explorer's responsiveness on a big model: `cargo bench --bench explorer`.
//!
//! Loads generated data (default 1,000,000 events, made by `../shared/bench/gen_events.py` and
//! cached under `target/bench-data`) with the progressive loader the explorer uses, on a
//! thread of its own as in the explorer, and drives `ui::app::App` on ratatui's `TestBackend`
//! at 120x40 as the event loop does (message, settle, draw). It prints medians for: the first
//! frame of a loading explorer; each partial model and the final one arriving (building it on
//! the loader's thread, and the UI's part: carrying the tree over and drawing); a key press to
//! the next frame (down, page down, top/bottom, expanding and collapsing the biggest group,
//! switching views, cycling the sort, typing a search character), also while the tree is still
//! filling; and a search over every group: compiling the query (off the UI thread in the real
//! loop) plus the first frame of the narrowed tree.
//!
//! The generator picks each user's groups from a Zipf-like spread over `--groups`, so the groups
//! that appear are far fewer than that; by default `--users` is the number of events and
//! `--groups` three times it, which gives a model of about 120,000 groups (and 620,000 users)
//! for a million events: the size the explorer is meant to stay smooth at.
//!
//! Environment: `GROUPSCOPE_BENCH_EVENTS`, `GROUPSCOPE_BENCH_USERS` and
//! `GROUPSCOPE_BENCH_GROUPS` change the size, `GROUPSCOPE_GEN` points at gen_events.py when the
//! checkout is not beside `shared/`.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use groupscope::source::{LoadOptions, LoadProgress, load_progressive};
use groupscope::ui::app::{App, Arrival, Message};
use groupscope::ui::keymap::{KeyCombo, Keymap};
use groupscope::ui::search::{Compiler, Filter};
use groupscope::ui::status::LoadState;
use groupscope::ui::theme::Theme;
use groupscope::ui::tree::{GroupSort, TreePane};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyEvent;

// The binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOC: groupscope::alloc::HugePageAlloc = groupscope::alloc::HugePageAlloc;

const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The generated input, made once and cached.
fn data(events: u64, users: u64, groups: u64) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("bench-data");
    std::fs::create_dir_all(&dir).expect("create target/bench-data");
    let out = dir.join(format!("ev{events}-u{users}-g{groups}.jsonl"));
    if out.metadata().is_ok_and(|m| m.len() > 0) {
        return out;
    }
    let script = std::env::var_os("GROUPSCOPE_GEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/bench/gen_events.py"));
    eprintln!("generating {} …", out.display());
    let tmp = out.with_extension("tmp");
    let status = Command::new("python3")
        .arg(&script)
        .args(["--events", &events.to_string()])
        .args(["--users", &users.to_string()])
        .args(["--groups", &groups.to_string()])
        .args(["--identify-fraction", "0.1", "--seed", "1", "--out"])
        .arg(&tmp)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run python3 gen_events.py");
    assert!(
        status.success(),
        "gen_events.py failed ({})",
        script.display()
    );
    std::fs::rename(&tmp, &out).expect("rename generated data");
    out
}

/// Median, 95th percentile and maximum of some timings.
struct Summary {
    median: Duration,
    p95: Duration,
    max: Duration,
    n: usize,
}

fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    let n = samples.len();
    Summary {
        median: samples[n / 2],
        p95: samples[(n * 95 / 100).min(n - 1)],
        max: samples[n - 1],
        n,
    }
}

fn report(name: &str, samples: Vec<Duration>, budget_ms: f64) {
    let s = summarize(samples);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let verdict = if budget_ms.is_infinite() {
        "—".to_string()
    } else if ms(s.median) <= budget_ms {
        format!("within {budget_ms} ms")
    } else {
        format!("OVER {budget_ms} ms")
    };
    println!(
        "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {} | {verdict} |",
        ms(s.median),
        ms(s.p95),
        ms(s.max),
        s.n
    );
}

fn terminal() -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test backend")
}

fn key(name: &str) -> Message {
    let combo: KeyCombo = name.parse().expect("key name");
    Message::Key(KeyEvent::new(combo.code, combo.modifiers))
}

/// One message applied and the next frame drawn, as the event loop does.
fn step(app: &mut App, term: &mut Terminal<TestBackend>, message: Message) -> Duration {
    let t = Instant::now();
    app.update(message);
    // Raw calls are read on a background thread in the real loop: not part of the frame.
    let _ = app.settle();
    term.draw(|f| app.draw(f)).expect("draw");
    t.elapsed()
}

fn first_frames(path: &Path) -> Vec<Duration> {
    (0..200)
        .map(|i| {
            let t = Instant::now();
            let mut app = App::new(
                LoadState::Loading(None),
                Keymap::default(),
                Theme::default(),
                &[],
            );
            let mut term = terminal();
            if i % 2 == 1 {
                app.update(Message::Progress(LoadProgress {
                    source: 0,
                    sources: 1,
                    path: path.to_path_buf(),
                    bytes_done: 1 << 20,
                    bytes_total: Some(1 << 30),
                    events: 1000,
                    problems: 0,
                }));
            }
            term.draw(|f| app.draw(f)).expect("draw");
            t.elapsed()
        })
        .collect()
}

fn new_app() -> App {
    App::new(
        LoadState::Loading(None),
        Keymap::default(),
        Theme::default(),
        &[],
    )
}

fn keys(app: &mut App, term: &mut Terminal<TestBackend>, names: &str) -> Vec<Duration> {
    names
        .split_whitespace()
        .map(|k| step(app, term, key(k)))
        .collect()
}

/// What the progressive load measured.
struct Loaded {
    app: App,
    term: Terminal<TestBackend>,
    /// Per partial model: events in it, time to build it (loader thread), time to show it.
    partials: Vec<(u64, Duration, Duration)>,
    /// Key presses while the tree was filling.
    keys_loading: Vec<Duration>,
    /// The final model's tree pane made (loader thread).
    prepared: Duration,
    /// The final model arriving: carried tree and frame.
    last: Duration,
    load: Duration,
}

/// What the loader thread posts.
enum Posted {
    Progress(LoadProgress),
    /// A partial model and how long building it (and its tree pane) took.
    Partial(Arrival, Duration),
    /// The final model, how long its tree pane took, and the whole load.
    Last(Arrival, Duration, Duration),
}

/// Loads `path` as the explorer does: on a thread of its own (so memory is allocated, and
/// replaced models freed, where the explorer does it), posting progress and partial models to
/// this thread, which shows them; after each the user moves about (the first time opening the
/// first group), so carrying the tree over has work to do.
fn load_progressively(path: &Path) -> Loaded {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    let loader = std::thread::spawn(move || {
        let started = Instant::now();
        let mut last = Instant::now();
        let partial_tx = tx.clone();
        let model = load_progressive(
            std::slice::from_ref(&path),
            &LoadOptions::default(),
            &mut |p| {
                if last.elapsed() >= Duration::from_millis(50) {
                    last = Instant::now();
                    let _ = tx.send(Posted::Progress(p.clone()));
                }
            },
            &mut |builder| {
                let t = Instant::now();
                let arrival = Arrival::new(Arc::new(builder.partial()));
                let _ = partial_tx.send(Posted::Partial(arrival, t.elapsed()));
                ControlFlow::Continue(())
            },
        )
        .expect("load the generated data");
        let t = Instant::now();
        let arrival = Arrival::from(model);
        let _ = partial_tx.send(Posted::Last(arrival, t.elapsed(), started.elapsed()));
    });
    let (mut app, mut term) = (new_app(), terminal());
    let mut partials = Vec::new();
    let mut keys_loading = Vec::new();
    for posted in rx {
        match posted {
            Posted::Progress(p) => {
                step(&mut app, &mut term, Message::Progress(p));
            }
            Posted::Partial(arrival, built) => {
                let events = arrival.model().counts().events;
                let shown = step(&mut app, &mut term, Message::Partial(Box::new(arrival)));
                partials.push((events, built, shown));
                let moves = if partials.len() == 1 {
                    "enter j j enter j j j j pgdn"
                } else {
                    "j j j pgdn pgup k"
                };
                keys_loading.extend(keys(&mut app, &mut term, moves));
            }
            Posted::Last(arrival, prepared, load) => {
                let last = step(&mut app, &mut term, Message::Loaded(Box::new(Ok(arrival))));
                loader.join().expect("loader thread");
                return Loaded {
                    app,
                    term,
                    partials,
                    keys_loading,
                    prepared,
                    last,
                    load,
                };
            }
        }
    }
    panic!("the loader thread ended without a model");
}

fn main() {
    let events = env_number("GROUPSCOPE_BENCH_EVENTS", 1_000_000);
    let users = env_number("GROUPSCOPE_BENCH_USERS", events);
    let groups = env_number("GROUPSCOPE_BENCH_GROUPS", events * 3);
    let path = data(events, users, groups);

    let Loaded {
        mut app,
        mut term,
        partials,
        keys_loading,
        prepared,
        last,
        load,
    } = load_progressively(&path);
    let model = app.shared_model().expect("model");
    println!(
        "explorer bench: {} events, {} groups, {} users, {} group calls; progressive load {:.2} s \
         ({} partial models); {WIDTH}x{HEIGHT}",
        model.counts().events,
        model.groups().len(),
        model.users().len(),
        model.counts().group,
        load.as_secs_f64(),
        partials.len(),
    );
    println!();
    println!("| measurement | median | p95 | max | n | budget |");
    println!("|---|---:|---:|---:|---:|---|");
    report(
        "first frame of a loading explorer (new App + draw)",
        first_frames(&path),
        100.0,
    );
    for (events, built, shown) in &partials {
        report(
            &format!("partial model of {events} events + its tree pane: built (loader thread)"),
            vec![*built],
            f64::INFINITY,
        );
        report(
            &format!("partial model of {events} events arrives → tree carried over + frame"),
            vec![*shown],
            16.0,
        );
    }
    report("key → frame while the tree fills", keys_loading, 16.0);
    report(
        "final model's tree pane: built (loader thread)",
        vec![prepared],
        f64::INFINITY,
    );
    report(
        "final model arrives → tree carried over + frame",
        vec![last],
        16.0,
    );

    step(&mut app, &mut term, key("g"));
    let biggest = (0..model.groups().len())
        .max_by_key(|&g| model.groups()[g].members.len())
        .map_or(0, |g| model.groups()[g].members.len());
    let n = model.groups().len();
    let mut parts = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        std::hint::black_box(TreePane::new(&model));
        parts.push((
            "TreePane::new (name order, both views' top rows)",
            t.elapsed(),
        ));
        for sort in [GroupSort::Name, GroupSort::Members, GroupSort::LastChange] {
            let t = Instant::now();
            std::hint::black_box(sort.order(&model));
            parts.push((sort.label(), t.elapsed()));
        }
    }
    drop(model);

    report(
        "key → frame: down (j)",
        keys(&mut app, &mut term, &"j ".repeat(300)),
        16.0,
    );
    report(
        "key → frame: page down",
        keys(&mut app, &mut term, &"pgdn ".repeat(100)),
        16.0,
    );
    report(
        "key → frame: bottom / top (G, g)",
        keys(&mut app, &mut term, &"G g ".repeat(20)),
        16.0,
    );
    // Sort by member count (s once from name), then the biggest group is at the top.
    report(
        "key → frame: cycle the sort (s)",
        keys(&mut app, &mut term, &"s ".repeat(30)),
        16.0,
    );
    keys(&mut app, &mut term, "s g");
    let mut expand = Vec::new();
    let mut collapse = Vec::new();
    for _ in 0..20 {
        expand.push(step(&mut app, &mut term, key("enter")));
        collapse.push(step(&mut app, &mut term, key("enter")));
    }
    report(
        &format!("key → frame: expand the biggest group ({biggest} members)"),
        expand,
        16.0,
    );
    report("key → frame: collapse it", collapse, 16.0);
    // Into its members and down through them.
    step(&mut app, &mut term, key("enter"));
    report(
        "key → frame: down inside the open group",
        keys(&mut app, &mut term, &"j ".repeat(100)),
        16.0,
    );
    report(
        "key → frame: switch view (1, 2)",
        keys(&mut app, &mut term, &"1 2 ".repeat(25)),
        16.0,
    );

    // A search as the user sees it: the query typed, compiled over every group (off the UI
    // thread in the real loop), and the narrowed tree drawn.
    let queries = [
        "lumen",
        "Healthcare",
        "user_00123",
        "enterprise",
        "zzzz-none",
    ];
    let mut search = Vec::new();
    let mut compile = Vec::new();
    for _ in 0..3 {
        for q in queries {
            step(&mut app, &mut term, key("/"));
            for c in q.chars() {
                app.update(Message::Key(KeyEvent::from(
                    ratatui::crossterm::event::KeyCode::Char(c),
                )));
            }
            let _ = app.settle();
            let model = app.filter_model().expect("model");
            let t = Instant::now();
            let filter = Filter::new(&model, q);
            compile.push(t.elapsed());
            step(&mut app, &mut term, Message::Filtered(Box::new(filter)));
            search.push(t.elapsed());
            std::hint::black_box(app.filter().map(|f| f.group_count()));
            step(&mut app, &mut term, key("esc"));
        }
    }
    report(
        &format!("search over {n} groups: compile (Filter::new)"),
        compile,
        100.0,
    );
    report(
        &format!("search over {n} groups: compile + narrowed tree drawn"),
        search,
        100.0,
    );
    // Typing a query: the key applies at once; the filter arrives later and narrows the tree.
    // As on the search thread, each query is compiled knowing the last (`Compiler`), so after
    // the first character only what still matched is looked at again.
    let mut typed = Vec::new();
    let mut applied = Vec::new();
    step(&mut app, &mut term, key("/"));
    let mut query = String::new();
    let mut compiler = Compiler::default();
    for c in "lumen".chars() {
        typed.push(step(&mut app, &mut term, key(&c.to_string())));
        query.push(c);
        let model = app.filter_model().expect("model");
        let t = Instant::now();
        let filter = compiler.compile(&model, &query);
        step(&mut app, &mut term, Message::Filtered(Box::new(filter)));
        applied.push(t.elapsed());
    }
    report("key → frame: type a search character", typed, 16.0);
    report(
        "search as typed: compile + narrowed tree drawn",
        applied,
        100.0,
    );
    step(&mut app, &mut term, key("enter"));
    report(
        "key → frame: down in the narrowed tree",
        keys(&mut app, &mut term, &"j ".repeat(100)),
        16.0,
    );

    println!();
    println!("Where the time of a model arriving goes:");
    println!();
    println!("| part | median | p95 | max | n | budget |");
    println!("|---|---:|---:|---:|---:|---|");
    for name in [
        "TreePane::new (name order, both views' top rows)",
        "name",
        "member count",
        "last change",
    ] {
        let samples: Vec<Duration> = parts
            .iter()
            .filter(|(p, _)| *p == name)
            .map(|(_, d)| *d)
            .collect();
        let label = if name.starts_with("TreePane") {
            name.to_string()
        } else {
            format!("group order by {name}")
        };
        report(&label, samples, f64::INFINITY);
    }
    let t = Instant::now();
    drop(app);
    report(
        "dropping the explorer and its model",
        vec![t.elapsed()],
        f64::INFINITY,
    );
}
