//! `groupscope [PATH...]`: the terminal explorer.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use super::send::{PlaneArgs, data_plane_from};
use super::{Common, EXIT_USAGE};
use crate::config::Config;
use crate::send::{DataPlane, HttpConfig, UreqTransport};
use crate::ui::compose::ComposeSetup;
use crate::ui::jobs::SharedTransport;
use crate::ui::run::{RunOptions, Start, run};
use crate::ui::theme::{Theme, ThemeName};

/// What to say when there is nothing to open.
pub fn no_input_text(store: Option<&std::path::Path>) -> String {
    let store = match store {
        Some(p) => format!(
            "No input was given and there is no groupscope store at {}.",
            p.display()
        ),
        None => "No input was given and no store location is known (HOME is not set).".into(),
    };
    format!(
        "{store}\n\n\
         Open a file of RudderStack events (JSONL, gzip, JSON arrays, batch bodies):\n\n\
         \x20 groupscope assets/sample.jsonl       the bundled sample\n\
         \x20 groupscope exports/                  every file in a directory\n\
         \x20 groupscope a.jsonl.gz b.json         several inputs at once\n\
         \x20 some-command | groupscope -          standard input\n\n\
         Press q to quit, ? for the keys."
    )
}

/// The explorer's own options.
#[derive(Debug)]
pub struct ExploreArgs<'a> {
    /// Don't capture the mouse.
    pub no_mouse: bool,
    /// The theme name, overriding the config.
    pub theme: Option<&'a str>,
    /// Where composed calls are sent.
    pub plane: &'a PlaneArgs,
}

/// What composing in the explorer uses: the store, the data plane (or why there is none) and
/// a transport for it. Problems become warnings for the status bar; composing still works.
pub fn compose_setup(
    common: &Common,
    plane: &PlaneArgs,
    config: &Config,
    warnings: &mut Vec<String>,
) -> (ComposeSetup, Option<SharedTransport>) {
    let store = common.store.clone().or_else(crate::store::default_path);
    let resolved = match data_plane_from(plane, config) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(format!("{e:#}; calls can only be kept locally"));
            None
        }
    };
    let setup = ComposeSetup {
        store,
        data_plane: resolved.as_ref().map(|p| p.url().to_owned()),
        insecure: resolved.as_ref().is_some_and(DataPlane::is_insecure),
    };
    let transport = resolved
        .map(|p| Arc::new(UreqTransport::new(p, &HttpConfig::default())) as SharedTransport);
    (setup, transport)
}

/// Opens the explorer on `paths`, the store, or a screen that says how to open something.
pub fn run_explorer(
    paths: Vec<PathBuf>,
    common: &Common,
    args: &ExploreArgs<'_>,
) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        eprintln!(
            "groupscope: the explorer needs a terminal; for text output use `groupscope stats` or `groupscope history`"
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let (config, mut warnings) = Config::load();
    let (compose, transport) = compose_setup(common, args.plane, &config, &mut warnings);
    let start = if paths.is_empty() {
        let store = common.store.clone().or_else(crate::store::default_path);
        match store {
            Some(p) if p.exists() => Start::Load(vec![p]),
            other => Start::NoInput(no_input_text(other.as_deref())),
        }
    } else {
        Start::Load(paths)
    };
    let theme_name = args
        .theme
        .and_then(ThemeName::from_name)
        .unwrap_or(config.theme);
    run(RunOptions {
        start,
        mouse: config.mouse && !args.no_mouse,
        theme: Theme::from_env(theme_name),
        keymap: config.keymap.clone(),
        warnings,
        threads: common.threads,
        compose,
        transport,
        policy: args.plane.policy(),
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_input_says_how_to_open_the_sample() {
        let text = no_input_text(Some(std::path::Path::new("/s/store.db")));
        assert!(
            text.contains("no groupscope store at /s/store.db"),
            "{text}"
        );
        assert!(text.contains("groupscope assets/sample.jsonl"), "{text}");
        assert!(no_input_text(None).contains("HOME is not set"));
    }
}
