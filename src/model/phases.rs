//! Phase timings of a model build, printed to stderr when `GROUPSCOPE_DEBUG` is set: how the
//! benchmarks' profile splits `finish` without a profiler.

use std::sync::OnceLock;
use std::time::Instant;

/// Whether `GROUPSCOPE_DEBUG` asks for timings (read once).
fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("GROUPSCOPE_DEBUG").is_some())
}

/// Times the phases of one piece of work; silent unless debugging.
pub(crate) struct Phases {
    what: &'static str,
    last: Option<Instant>,
}

impl Phases {
    /// Starts timing `what`.
    pub(crate) fn start(what: &'static str) -> Self {
        Phases {
            what,
            last: enabled().then(Instant::now),
        }
    }

    /// Reports the time since the previous mark as the phase `name`.
    pub(crate) fn mark(&mut self, name: &str) {
        if let Some(last) = self.last {
            let now = Instant::now();
            eprintln!(
                "groupscope: {} {name} {:.1} ms",
                self.what,
                (now - last).as_secs_f64() * 1e3
            );
            self.last = Some(now);
        }
    }
}
