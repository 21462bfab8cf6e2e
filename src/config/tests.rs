use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;

use super::*;
use crate::ui::action::Action;
use crate::ui::keymap::KeyCombo;

fn key(s: &str) -> KeyCombo {
    s.parse().unwrap()
}

#[test]
fn empty_file_gives_defaults() {
    let (config, warnings) = Config::from_toml_str("");
    assert!(warnings.is_empty());
    assert_eq!(config, Config::default());
    assert!(config.mouse);
    assert_eq!(config.theme, ThemeName::Dark);
}

#[test]
fn shipped_example_parses_without_warnings_and_matches_default_keys() {
    let (config, warnings) =
        Config::from_toml_str(include_str!("../../assets/config.example.toml"));
    assert_eq!(warnings, Vec::<String>::new());
    // The example lists every action with its default keys, so it cannot drift from the table.
    assert_eq!(config.keymap, Keymap::default());
    assert_eq!(config.theme, ThemeName::Dark);
    assert!(config.mouse);
    let (name, profile) = config.profile(None).unwrap();
    assert_eq!(name, "local");
    assert_eq!(profile.data_plane_url, "http://localhost:8080");
    assert_eq!(
        profile.write_key.as_ref().unwrap().expose(),
        "replace-with-your-source-write-key"
    );
}

#[test]
fn example_documents_every_action() {
    let text = include_str!("../../assets/config.example.toml");
    for action in Action::ALL {
        assert!(
            text.contains(&format!("\n{} = ", action.name())),
            "{action} missing from example"
        );
    }
}

#[test]
fn partial_config_merges_over_defaults() {
    let text = r#"
theme = "light"
[keys]
quit = ["q", "ctrl-q"]
"#;
    let (config, warnings) = Config::from_toml_str(text);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.theme, ThemeName::Light);
    assert!(config.mouse, "unset mouse keeps its default");
    assert_eq!(
        config.keymap.keys_for(Action::Quit),
        vec![key("q"), key("ctrl-q")]
    );
    // Untouched actions keep their defaults.
    assert_eq!(
        config.keymap.keys_for(Action::Help),
        vec![key("?"), key("f1")]
    );
    assert!(config.profiles.is_empty());
}

#[test]
fn bad_toml_gives_defaults_and_a_warning_that_hides_the_write_key() {
    let text = "theme = \"light\"\n[profiles.prod]\nwrite_key = \"2AbCdEfGhIjKlMnOpQrStUv\" oops\n";
    let (config, warnings) = Config::from_toml_str(text);
    assert_eq!(config, Config::default());
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with("not valid TOML at line 3"),
        "{}",
        warnings[0]
    );
    assert!(!warnings[0].contains("2AbCdEf"), "{}", warnings[0]);
}

#[test]
fn each_bad_part_falls_back_alone_with_a_warning() {
    let text = r#"
theme = "blue"
mouse = "no"
colour = 3
default_profile = "missing"
[keys]
explode = "x"
quit = ["ctrl-qq", "Q"]
help = ["nope"]
sort = 5
[profiles.prod]
data_plane_url = "https://hosted.rudderlabs.com"
write_key = 12345
[profiles.bad]
data_plane_url = "hosted.rudderlabs.com"
[profiles.nourl]
write_key = "k"
"#;
    let (config, warnings) = Config::from_toml_str(text);
    let expected = [
        "theme must be \"dark\" or \"light\", not \"blue\"; using dark",
        "mouse must be true or false, not \"no\"",
        "unknown setting `colour` (ignored)",
        "[keys] unknown action `explode` (ignored)",
        "[keys] quit: \"ctrl-qq\" is not a key (unknown key \"ctrl-qq\")",
        "[keys] help: \"nope\" is not a key (unknown key \"nope\")",
        "[keys] sort must be a key or a list of keys in quotes, not 5",
        "[profiles.prod] write_key must be a string in quotes, not integer",
        "[profiles.bad] data_plane_url \"hosted.rudderlabs.com\" must start with https:// or http:// (profile ignored)",
        "[profiles.nourl] has no data_plane_url (profile ignored)",
        "default_profile \"missing\" names no [profiles.missing] section",
    ];
    for w in expected {
        assert!(
            warnings.iter().any(|got| got == w),
            "missing warning {w:?} in {warnings:#?}"
        );
    }
    assert_eq!(warnings.len(), expected.len(), "{warnings:#?}");
    assert!(!warnings.iter().any(|w| w.contains("12345")));
    assert_eq!(config.theme, ThemeName::Dark);
    assert!(config.mouse);
    // The valid part of quit applies; an all-typo list keeps the defaults.
    assert_eq!(config.keymap.keys_for(Action::Quit), vec![key("Q")]);
    assert_eq!(
        config.keymap.keys_for(Action::Help),
        vec![key("?"), key("f1")]
    );
    assert_eq!(config.keymap.keys_for(Action::Sort), vec![key("s")]);
    assert_eq!(config.profiles.keys().collect::<Vec<_>>(), vec!["prod"]);
    assert_eq!(config.profiles["prod"].write_key, None);
    assert_eq!(config.default_profile, None);
}

#[test]
fn empty_key_list_unbinds_but_ctrl_c_stays() {
    let (config, warnings) =
        Config::from_toml_str("[keys]\nsort = []\nforce_quit = []\ncopy = \"ctrl-c\"\n");
    assert_eq!(
        warnings,
        vec!["[keys] copy: ctrl-c always means force_quit and cannot be rebound".to_string()]
    );
    assert!(config.keymap.keys_for(Action::Sort).is_empty());
    assert_eq!(
        config.keymap.keys_for(Action::ForceQuit),
        vec![key("ctrl-c")]
    );
    // copy's list had only the rejected key, so copy is unbound; y is free.
    assert!(config.keymap.keys_for(Action::Copy).is_empty());
}

#[test]
fn write_key_never_appears_in_debug_output() {
    let text = "[profiles.prod]\ndata_plane_url = \"https://x.example\"\nwrite_key = \"2AbCdEfGhIjKlMnOpQrStUv\"\n";
    let (config, warnings) = Config::from_toml_str(text);
    assert!(warnings.is_empty(), "{warnings:?}");
    let debug = format!("{config:?} {config:#?}");
    assert!(!debug.contains("2AbCdEf"), "{debug}");
    assert!(debug.contains("Secret(…)"));
    let secret = config.profiles["prod"].write_key.as_ref().unwrap();
    assert_eq!(secret.expose(), "2AbCdEfGhIjKlMnOpQrStUv");
    assert_eq!(secret.hint(), "…StUv");
    assert_eq!(Secret::new("short").hint(), "…");
}

#[test]
fn locate_follows_the_documented_order() {
    let env = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |name: &str| map.get(name).cloned()
    };
    let all = env(&[
        ("GROUPSCOPE_CONFIG", "/etc/gs.toml"),
        ("XDG_CONFIG_HOME", "/xdg"),
        ("HOME", "/home/u"),
    ]);
    assert_eq!(
        locate(all),
        Some(ConfigLocation {
            path: "/etc/gs.toml".into(),
            explicit: true
        })
    );
    let xdg = env(&[
        ("GROUPSCOPE_CONFIG", ""),
        ("XDG_CONFIG_HOME", "/xdg"),
        ("HOME", "/home/u"),
    ]);
    assert_eq!(
        locate(xdg).unwrap().path,
        PathBuf::from("/xdg/groupscope/config.toml")
    );
    let relative_xdg = env(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/home/u")]);
    let home = locate(relative_xdg).unwrap();
    assert_eq!(
        home.path,
        PathBuf::from("/home/u/.config/groupscope/config.toml")
    );
    assert!(!home.explicit);
    assert_eq!(locate(env(&[])), None);
}

#[test]
fn missing_file_warns_only_when_explicit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let implicit = Config::load_from(&ConfigLocation {
        path: path.clone(),
        explicit: false,
    });
    assert_eq!(implicit, (Config::default(), vec![]));
    let (config, warnings) = Config::load_from(&ConfigLocation {
        path,
        explicit: true,
    });
    assert_eq!(config, Config::default());
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("does not exist"), "{}", warnings[0]);
}

#[test]
fn loaded_warnings_name_the_file_and_path_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    fs::write(&path, "mouse = false\nwat = 1\n").unwrap();
    let (config, warnings) = Config::load_from(&ConfigLocation {
        path: path.clone(),
        explicit: false,
    });
    assert!(!config.mouse);
    assert_eq!(config.path.as_deref(), Some(path.as_path()));
    assert_eq!(
        warnings,
        vec![format!(
            "{}: unknown setting `wat` (ignored)",
            path.display()
        )]
    );
}

#[test]
fn a_directory_is_not_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let (config, warnings) = Config::load_from(&ConfigLocation {
        path: dir.path().to_path_buf(),
        explicit: true,
    });
    assert_eq!(config, Config::default());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[cfg(unix)]
#[test]
fn readable_write_key_file_gets_a_permission_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let location = ConfigLocation {
        path: path.clone(),
        explicit: false,
    };
    fs::write(&path, "[profiles.p]\ndata_plane_url = \"https://x.example\"\nwrite_key = \"secretsecretsecret\"\n").unwrap();

    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let (_, warnings) = Config::load_from(&location);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("mode 644") && warnings[0].contains("chmod 600"),
        "{}",
        warnings[0]
    );
    assert!(!warnings[0].contains("secretsecret"));

    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(Config::load_from(&location).1.len(), 1);

    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(Config::load_from(&location).1, Vec::<String>::new());

    // Without a write key, a world-readable file is fine.
    fs::write(&path, "theme = \"light\"\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(Config::load_from(&location).1, Vec::<String>::new());
}
