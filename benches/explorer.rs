//! The explorer's responsiveness on a big model: `cargo bench --bench explorer`.
//!
//! Builds a model from generated data (default 1,000,000 events over 100,000 groups, made by
//! `../shared/bench/gen_events.py` and cached under `target/bench-data`), drives
//! `ui::app::App` on ratatui's `TestBackend` at 120x40 and prints medians for: the first frame
//! of a loading explorer, a key press to the next frame (down, page down, expanding and
//! collapsing the biggest group, switching views, cycling the sort), and compiling a search
//! over every group (`ui::search::Filter::new`).
//!
//! Environment: `GROUPSCOPE_BENCH_EVENTS` and `GROUPSCOPE_BENCH_GROUPS` change the size,
//! `GROUPSCOPE_GEN` points at gen_events.py when the checkout is not beside `shared/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use groupscope::model::Model;
use groupscope::source::{LoadOptions, LoadProgress, load};
use groupscope::ui::app::{App, Message};
use groupscope::ui::keymap::{KeyCombo, Keymap};
use groupscope::ui::search::Filter;
use groupscope::ui::status::LoadState;
use groupscope::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyEvent;

const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The generated input, made once and cached.
fn data(events: u64, groups: u64) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("bench-data");
    std::fs::create_dir_all(&dir).expect("create target/bench-data");
    let out = dir.join(format!("ev{events}-g{groups}.jsonl"));
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
    let verdict = if ms(s.median) <= budget_ms {
        "within"
    } else {
        "OVER"
    };
    println!(
        "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {} | {verdict} {budget_ms} ms |",
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

fn loaded_app(model: Model) -> (App, Terminal<TestBackend>) {
    let mut app = App::new(
        LoadState::Loading(None),
        Keymap::default(),
        Theme::default(),
        &[],
    );
    let mut term = terminal();
    step(&mut app, &mut term, Message::Loaded(Box::new(Ok(model))));
    (app, term)
}

fn main() {
    let events = env_number("GROUPSCOPE_BENCH_EVENTS", 1_000_000);
    let groups = env_number("GROUPSCOPE_BENCH_GROUPS", 100_000);
    let path = data(events, groups);

    let started = Instant::now();
    let model = load(
        std::slice::from_ref(&path),
        &LoadOptions::default(),
        &mut |_| {},
    )
    .expect("load the generated data");
    let load_time = started.elapsed();
    println!(
        "explorer bench: {} events, {} groups, {} users, {} group calls; load {:.2} s; {WIDTH}x{HEIGHT}",
        model.counts().events,
        model.groups().len(),
        model.users().len(),
        model.counts().group,
        load_time.as_secs_f64()
    );
    println!();
    println!("| measurement | median | p95 | max | n | budget |");
    println!("|---|---:|---:|---:|---:|---|");
    report(
        "first frame of a loading explorer (new App + draw)",
        first_frames(&path),
        100.0,
    );

    let biggest = (0..model.groups().len())
        .max_by_key(|&g| model.groups()[g].members.len())
        .map_or(0, |g| model.groups()[g].members.len());
    // Search over the model: compiled off the UI thread in the real loop, so time it alone.
    let queries = [
        "lumen",
        "Healthcare",
        "user_00123",
        "enterprise",
        "zzzz-none",
    ];
    let mut compile = Vec::new();
    for _ in 0..5 {
        for q in queries {
            let t = Instant::now();
            let f = Filter::new(&model, q);
            compile.push(t.elapsed());
            std::hint::black_box(f.group_count());
        }
    }

    let t = Instant::now();
    let (mut app, mut term) = loaded_app(model);
    let first_loaded = t.elapsed();
    report(
        "model arrives: tree built + first frame",
        vec![first_loaded],
        100.0,
    );

    let mut down = Vec::new();
    for _ in 0..300 {
        down.push(step(&mut app, &mut term, key("j")));
    }
    report("key → frame: down (j)", down, 16.0);

    let mut page = Vec::new();
    for _ in 0..100 {
        page.push(step(&mut app, &mut term, key("pgdn")));
    }
    report("key → frame: page down", page, 16.0);

    let mut bottom = Vec::new();
    for _ in 0..20 {
        bottom.push(step(&mut app, &mut term, key("G")));
        bottom.push(step(&mut app, &mut term, key("g")));
    }
    report("key → frame: bottom / top (G, g)", bottom, 16.0);

    // Sort by member count (s once from name), then the biggest group is at the top.
    let mut sort = Vec::new();
    for _ in 0..10 {
        for _ in 0..3 {
            sort.push(step(&mut app, &mut term, key("s")));
        }
    }
    report("key → frame: cycle the sort (s)", sort, 16.0);
    step(&mut app, &mut term, key("s"));
    step(&mut app, &mut term, key("g"));
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
    let mut inside = Vec::new();
    for _ in 0..100 {
        inside.push(step(&mut app, &mut term, key("j")));
    }
    report("key → frame: down inside the open group", inside, 16.0);

    let mut view = Vec::new();
    for _ in 0..25 {
        view.push(step(&mut app, &mut term, key("1")));
        view.push(step(&mut app, &mut term, key("2")));
    }
    report("key → frame: switch view (1, 2)", view, 16.0);

    report(
        &format!("search: compile a query over {groups} groups (Filter::new)"),
        compile,
        100.0,
    );
    // Typing a query: the key applies at once; the filter arrives later and narrows the tree.
    let mut typed = Vec::new();
    let mut applied = Vec::new();
    step(&mut app, &mut term, key("/"));
    let model = app.shared_model().expect("model");
    let mut query = String::new();
    for c in "lumen".chars() {
        typed.push(step(&mut app, &mut term, key(&c.to_string())));
        query.push(c);
        let filter = Filter::new(&model, &query);
        applied.push(step(
            &mut app,
            &mut term,
            Message::Filtered(Box::new(filter)),
        ));
    }
    report("key → frame: type a search character", typed, 16.0);
    report("filter arrives → narrowed tree drawn", applied, 16.0);
}
