//! The user's config file: theme, mouse, key overrides and data-plane profiles.
//!
//! Looked up at `$GROUPSCOPE_CONFIG`, else `$XDG_CONFIG_HOME/groupscope/config.toml`, else
//! `~/.config/groupscope/config.toml` — on every unix, macOS included. Whatever is in the file is
//! merged over the defaults; anything wrong (bad TOML, unknown action, bad key string, wrong type)
//! falls back to the default for that part and becomes a human-readable warning for the UI to
//! show. Loading never fails.

mod parse;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::ui::keymap::Keymap;
use crate::ui::theme::{Theme, ThemeName};

/// Files bigger than this are not config files; refusing them keeps a mistake cheap.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A string that must never be printed: `Debug` shows `Secret(…)`, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for building a request. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A recognisable but useless form for the UI: the last 4 characters of a long secret
    /// (`…4f2a`), nothing of a short one.
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < 16 {
            return "…".to_string();
        }
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("…{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Where to send group calls: one `[profiles.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Base URL of the data plane, e.g. `https://example.dataplane.rudderstack.com`.
    pub data_plane_url: String,
    /// The source's write key; may be absent and supplied another way (flag, prompt).
    pub write_key: Option<Secret>,
}

/// Everything the config file can set, with defaults for what it does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `theme = "dark" | "light"`.
    pub theme: ThemeName,
    /// `mouse = true | false`: capture the mouse (blocks the terminal's own text selection).
    pub mouse: bool,
    /// The defaults with `[keys]` overrides applied.
    pub keymap: Keymap,
    /// `[profiles.NAME]` sections by name.
    pub profiles: BTreeMap<String, Profile>,
    /// `default_profile = "NAME"`; always names an entry of `profiles` when set.
    pub default_profile: Option<String>,
    /// The file the config came from; `None` when only defaults are in effect.
    pub path: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            theme: ThemeName::Dark,
            mouse: true,
            keymap: Keymap::default(),
            profiles: BTreeMap::new(),
            default_profile: None,
            path: None,
        }
    }
}

/// Where the config path came from, which decides whether a missing file is worth a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLocation {
    /// The file to read.
    pub path: PathBuf,
    /// True when `$GROUPSCOPE_CONFIG` named it, so its absence is a mistake to report.
    pub explicit: bool,
}

/// Resolves the config path from environment variables read through `var`.
pub fn locate(var: impl Fn(&str) -> Option<OsString>) -> Option<ConfigLocation> {
    let non_empty = |name: &str| var(name).filter(|v| !v.is_empty());
    if let Some(path) = non_empty("GROUPSCOPE_CONFIG") {
        return Some(ConfigLocation {
            path: PathBuf::from(path),
            explicit: true,
        });
    }
    // The XDG spec says relative values are invalid and must be ignored.
    let base = non_empty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(ConfigLocation {
        path: base.join("groupscope").join("config.toml"),
        explicit: false,
    })
}

impl Config {
    /// Loads the config from the usual place (see the module docs), returning warnings for
    /// everything that was ignored.
    pub fn load() -> (Config, Vec<String>) {
        match locate(|name| std::env::var_os(name)) {
            Some(location) => Config::load_from(&location),
            None => (Config::default(), Vec::new()),
        }
    }

    /// Loads the config at `location`; a missing file is only a warning when it was explicit.
    pub fn load_from(location: &ConfigLocation) -> (Config, Vec<String>) {
        let path = &location.path;
        let shown = path.display();
        let text = match read_config_file(path) {
            Ok(Some(file)) => file,
            Ok(None) if !location.explicit => return (Config::default(), Vec::new()),
            Ok(None) => {
                let warning = format!(
                    "{shown}: GROUPSCOPE_CONFIG names this file but it does not exist; using defaults"
                );
                return (Config::default(), vec![warning]);
            }
            Err(err) => {
                return (
                    Config::default(),
                    vec![format!("{shown}: {err}; using defaults")],
                );
            }
        };
        let (mut config, found) = Config::from_toml_str(&text.contents);
        let mut warnings: Vec<String> =
            found.into_iter().map(|w| format!("{shown}: {w}")).collect();
        let has_write_key = config.profiles.values().any(|p| p.write_key.is_some());
        if let Some(mode) = text.mode.filter(|m| has_write_key && m & 0o044 != 0) {
            warnings.push(format!(
                "{shown}: holds a write key but is readable by other users (mode {:o}); run: chmod 600 {shown}",
                mode & 0o777
            ));
        }
        config.path = Some(path.clone());
        (config, warnings)
    }

    /// Parses config text, merging it over the defaults. Warnings never quote a write key.
    pub fn from_toml_str(text: &str) -> (Config, Vec<String>) {
        parse::parse(text)
    }

    /// The profile called `name`, or the default profile when `name` is `None`.
    pub fn profile(&self, name: Option<&str>) -> Option<(&str, &Profile)> {
        let name = name.or(self.default_profile.as_deref())?;
        self.profiles
            .get_key_value(name)
            .map(|(k, v)| (k.as_str(), v))
    }

    /// The configured theme, switched to monochrome when `NO_COLOR` is set.
    pub fn theme(&self) -> Theme {
        Theme::from_env(self.theme)
    }
}

struct ConfigText {
    contents: String,
    /// Unix permission bits, taken from the opened file (not a second lookup by path).
    mode: Option<u32>,
}

/// Reads the file; `Ok(None)` when it does not exist.
fn read_config_file(path: &Path) -> Result<Option<ConfigText>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot open: {err}")),
    };
    let meta = file
        .metadata()
        .map_err(|err| format!("cannot read: {err}"))?;
    if meta.is_dir() {
        return Err("is a directory, not a file".to_string());
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(format!(
            "is {} bytes, too big for a config file",
            meta.len()
        ));
    }
    let mut contents = String::new();
    file.take(MAX_CONFIG_BYTES)
        .read_to_string(&mut contents)
        .map_err(|err| format!("cannot read as UTF-8 text: {err}"))?;
    Ok(Some(ConfigText {
        contents,
        mode: file_mode(&meta),
    }))
}

#[cfg(unix)]
fn file_mode(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode())
}

#[cfg(not(unix))]
fn file_mode(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests;
