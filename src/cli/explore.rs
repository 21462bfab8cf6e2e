//! `groupscope [PATH...]`: the terminal explorer.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Common, EXIT_USAGE};
use crate::config::Config;
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

/// Opens the explorer on `paths`, the store, or a screen that says how to open something.
pub fn run_explorer(
    paths: Vec<PathBuf>,
    common: &Common,
    no_mouse: bool,
    theme: Option<&str>,
) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        eprintln!(
            "groupscope: the explorer needs a terminal; for text output use `groupscope stats` or `groupscope history`"
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let (config, warnings) = Config::load();
    let start = if paths.is_empty() {
        let store = common.store.clone().or_else(crate::store::default_path);
        match store {
            Some(p) if p.exists() => Start::Load(vec![p]),
            other => Start::NoInput(no_input_text(other.as_deref())),
        }
    } else {
        Start::Load(paths)
    };
    let theme_name = theme.and_then(ThemeName::from_name).unwrap_or(config.theme);
    run(RunOptions {
        start,
        mouse: config.mouse && !no_mouse,
        theme: Theme::from_env(theme_name),
        keymap: config.keymap.clone(),
        warnings,
        threads: common.threads,
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
