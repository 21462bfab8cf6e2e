//! Walks the parsed TOML by hand instead of deriving `Deserialize`, so one bad value costs only
//! that value (with a precise warning) rather than the whole file.

use toml::{Table, Value};

use super::{Config, Profile, Secret};
use crate::ui::action::Action;
use crate::ui::keymap::{KeyCombo, Keymap};
use crate::ui::theme::ThemeName;

/// Parses `text` over the defaults; see [`Config::from_toml_str`].
pub(super) fn parse(text: &str) -> (Config, Vec<String>) {
    let mut config = Config::default();
    let mut warnings = Vec::new();
    let table = match text.parse::<Table>() {
        Ok(table) => table,
        Err(err) => {
            // toml's Display quotes the offending line, which may hold a write key: report only
            // the message and the position.
            let at = err
                .span()
                .map(|span| line_col(text, span.start))
                .unwrap_or_default();
            warnings.push(format!(
                "not valid TOML{at}: {}; using defaults",
                err.message().trim_end()
            ));
            return (config, warnings);
        }
    };
    let mut default_profile = None;
    for (key, value) in &table {
        match key.as_str() {
            "theme" => match value.as_str().and_then(ThemeName::from_name) {
                Some(theme) => config.theme = theme,
                None => warnings.push(format!(
                    "theme must be \"dark\" or \"light\", not {}; using dark",
                    describe(value)
                )),
            },
            "mouse" => match value.as_bool() {
                Some(mouse) => config.mouse = mouse,
                None => warnings.push(format!(
                    "mouse must be true or false, not {}",
                    describe(value)
                )),
            },
            "default_profile" => match value.as_str() {
                Some(name) => default_profile = Some(name.to_string()),
                None => warnings.push(format!(
                    "default_profile must be a profile name in quotes, not {}",
                    describe(value)
                )),
            },
            "keys" => match value.as_table() {
                Some(keys) => config.keymap = parse_keys(keys, &mut warnings),
                None => warnings.push("keys must be a [keys] section".to_string()),
            },
            "profiles" => match value.as_table() {
                Some(profiles) => parse_profiles(profiles, &mut config, &mut warnings),
                None => warnings.push("profiles must be [profiles.NAME] sections".to_string()),
            },
            other => warnings.push(format!("unknown setting `{other}` (ignored)")),
        }
    }
    if let Some(name) = default_profile {
        if config.profiles.contains_key(&name) {
            config.default_profile = Some(name);
        } else {
            warnings.push(format!(
                "default_profile \"{name}\" names no [profiles.{name}] section"
            ));
        }
    }
    (config, warnings)
}

fn parse_keys(keys: &Table, warnings: &mut Vec<String>) -> Keymap {
    let mut overrides: Vec<(Action, Vec<KeyCombo>)> = Vec::new();
    for (name, value) in keys {
        let Some(action) = Action::from_name(name) else {
            warnings.push(format!("[keys] unknown action `{name}` (ignored)"));
            continue;
        };
        let strings: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) if items.iter().all(Value::is_str) => {
                items.iter().filter_map(Value::as_str).collect()
            }
            other => {
                warnings.push(format!(
                    "[keys] {name} must be a key or a list of keys in quotes, not {}",
                    describe(other)
                ));
                continue;
            }
        };
        let mut combos = Vec::new();
        for s in &strings {
            match s.parse::<KeyCombo>() {
                Ok(combo) => combos.push(combo),
                Err(err) => warnings.push(format!("[keys] {name}: {s:?} is not a key ({err})")),
            }
        }
        // A list of only typos keeps the defaults; only an explicit `[]` unbinds.
        if combos.is_empty() && !strings.is_empty() {
            continue;
        }
        overrides.push((action, combos));
    }
    let (keymap, found) = Keymap::with_overrides(&overrides);
    warnings.extend(found);
    keymap
}

fn parse_profiles(profiles: &Table, config: &mut Config, warnings: &mut Vec<String>) {
    for (name, value) in profiles {
        let Some(fields) = value.as_table() else {
            warnings.push(format!(
                "profiles.{name} must be a [profiles.{name}] section (ignored)"
            ));
            continue;
        };
        let mut url = None;
        let mut write_key = None;
        for (field, value) in fields {
            match (field.as_str(), value) {
                ("data_plane_url", Value::String(s)) => url = Some(s.trim().to_string()),
                ("write_key", Value::String(s)) if s.trim().is_empty() => {
                    warnings.push(format!("[profiles.{name}] write_key is empty (ignored)"));
                }
                ("write_key", Value::String(s)) => write_key = Some(Secret::new(s.trim())),
                // Never echo the value: it may be a write key typed without quotes.
                ("data_plane_url" | "write_key", other) => warnings.push(format!(
                    "[profiles.{name}] {field} must be a string in quotes, not {}",
                    other.type_str()
                )),
                (other, _) => warnings.push(format!(
                    "[profiles.{name}] unknown field `{other}` (ignored)"
                )),
            }
        }
        match url {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                config.profiles.insert(name.clone(), Profile { data_plane_url: url, write_key });
            }
            Some(url) => warnings.push(format!(
                "[profiles.{name}] data_plane_url {url:?} must start with https:// or http:// (profile ignored)"
            )),
            None => warnings.push(format!("[profiles.{name}] has no data_plane_url (profile ignored)")),
        }
    }
}

/// A value as the user wrote it, for warnings about settings that hold no secrets.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Integer(n) => n.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        other => format!("a {}", other.type_str()),
    }
}

/// " at line L, column C" (1-based) for byte offset `at`.
fn line_col(text: &str, at: usize) -> String {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" at line {line}, column {column}")
}
