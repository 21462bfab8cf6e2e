//! `groupscope [PATH...]`: the terminal explorer.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Common, EXIT_USAGE};
use crate::config::Config;
use crate::ui::run::{RunOptions, Start, run};
use crate::ui::theme::{Theme, ThemeName};

/// Where the store is when neither `--store` nor `GROUPSCOPE_STORE` names one:
/// `$XDG_DATA_HOME/groupscope/store.db`, else `~/.local/share/groupscope/store.db`.
pub fn default_store_path(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let nonempty = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = nonempty("GROUPSCOPE_STORE") {
        return Some(p);
    }
    let data = nonempty("XDG_DATA_HOME")
        .or_else(|| nonempty("HOME").map(|h| h.join(".local").join("share")))?;
    Some(data.join("groupscope").join("store.db"))
}

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
        let store = common
            .store
            .clone()
            .or_else(|| default_store_path(|v| std::env::var_os(v)));
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
    fn store_path_follows_env_then_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(
            default_store_path(env(&[("GROUPSCOPE_STORE", "/s.db"), ("HOME", "/h")])),
            Some(PathBuf::from("/s.db"))
        );
        assert_eq!(
            default_store_path(env(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/groupscope/store.db"))
        );
        assert_eq!(
            default_store_path(env(&[("XDG_DATA_HOME", ""), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.local/share/groupscope/store.db"))
        );
        assert_eq!(default_store_path(env(&[])), None);
        assert!(no_input_text(None).contains("groupscope assets/sample.jsonl"));
    }
}
