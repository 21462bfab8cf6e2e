//! The one table from keys to [`Action`]s. Panes never match on key codes; the help overlay and
//! the hint bar are generated from this table so they cannot drift from the real bindings.
//!
//! Key strings (used in the `[keys]` config section and shown in help) are written as optional
//! modifiers `ctrl-`, `alt-`, `shift-` followed by a key: a single character (`q`, `G`, `/`, `-`)
//! or a name: `enter`, `esc`, `tab`, `backtab`, `space`, `backspace`, `delete`, `insert`, `home`,
//! `end`, `pgup`, `pgdn`, `up`, `down`, `left`, `right`, `f1`…`f12`. Names are case-insensitive;
//! single characters are not (`G` is Shift-g). `shift-tab` means `backtab`.

mod combo;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::action::Action;
pub use combo::{FORCE_QUIT_KEY, KeyCombo, KeyParseError};

/// Which keys are global: in a focused text field, printable keys belong to the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputContext {
    /// Lists and trees: every binding applies.
    #[default]
    Normal,
    /// A text field has focus: only Esc, Enter, Tab, Shift-Tab and Ctrl-chords are looked up;
    /// everything else returns `None` so the field receives it.
    TextInput,
}

/// The key table: defaults, possibly overridden per action from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<(KeyCombo, Action)>,
}

fn default_bindings() -> Vec<(KeyCombo, Action)> {
    use KeyCode as K;
    let c = |ch| KeyCombo::plain(K::Char(ch));
    let k = KeyCombo::plain;
    vec![
        (c('?'), Action::Help),
        (k(K::F(1)), Action::Help),
        (c('q'), Action::Quit),
        (FORCE_QUIT_KEY, Action::ForceQuit),
        (k(K::Esc), Action::Back),
        (c('r'), Action::Refresh),
        (k(K::F(5)), Action::Refresh),
        (k(K::Up), Action::Up),
        (c('k'), Action::Up),
        (k(K::Down), Action::Down),
        (c('j'), Action::Down),
        (k(K::Left), Action::Left),
        (c('h'), Action::Left),
        (k(K::Right), Action::Right),
        (c('l'), Action::Right),
        (k(K::Enter), Action::Toggle),
        (c(' '), Action::Toggle),
        (k(K::PageUp), Action::PageUp),
        (k(K::PageDown), Action::PageDown),
        (c('g'), Action::Top),
        (k(K::Home), Action::Top),
        (c('G'), Action::Bottom),
        (k(K::End), Action::Bottom),
        (k(K::Tab), Action::NextPane),
        (k(K::BackTab), Action::PrevPane),
        (c('['), Action::ShrinkPane),
        (c(']'), Action::GrowPane),
        (c('1'), Action::ViewUsers),
        (c('2'), Action::ViewGroups),
        (c('s'), Action::Sort),
        (c('/'), Action::Search),
        (c('n'), Action::NextMatch),
        (c('N'), Action::PrevMatch),
        (c('y'), Action::Copy),
        (c('c'), Action::Compose),
        (c('e'), Action::Edit),
        (c('o'), Action::Outbox),
        // Ctrl-chords, because a focused form field takes every printable key.
        (KeyCombo::ctrl('s'), Action::Send),
        (KeyCombo::ctrl('l'), Action::SaveLocal),
        (KeyCombo::ctrl('n'), Action::AddField),
        (KeyCombo::ctrl('d'), Action::RemoveField),
        (c('t'), Action::Retry),
        (c('T'), Action::RetryAll),
        (c('d'), Action::Drop),
    ]
}

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap {
            bindings: default_bindings(),
        }
    }
}

impl Keymap {
    /// The defaults with `overrides` applied: each listed action gets exactly the given keys
    /// (an empty list unbinds it), and a key taken by an override is removed from whatever action
    /// had it by default. Returns human-readable warnings for rejected bindings.
    pub fn with_overrides(overrides: &[(Action, Vec<KeyCombo>)]) -> (Keymap, Vec<String>) {
        let mut warnings = Vec::new();
        let mut claimed: Vec<(KeyCombo, Action)> = Vec::new();
        for (action, keys) in overrides {
            for key in keys {
                if *key == FORCE_QUIT_KEY && *action != Action::ForceQuit {
                    warnings.push(format!(
                        "[keys] {action}: {key} always means force_quit and cannot be rebound"
                    ));
                    continue;
                }
                if let Some((_, other)) = claimed.iter().find(|(k, a)| k == key && a != action) {
                    warnings.push(format!(
                        "[keys] {action}: {key} is already bound to {other}; ignored here"
                    ));
                    continue;
                }
                if !claimed.contains(&(*key, *action)) {
                    claimed.push((*key, *action));
                }
            }
        }
        let overridden = |a: Action| overrides.iter().any(|(o, _)| *o == a);
        let mut bindings: Vec<(KeyCombo, Action)> = Vec::new();
        // Keep help order: walk actions in ALL order, defaults first unless overridden.
        for action in Action::ALL {
            if overridden(action) {
                bindings.extend(claimed.iter().filter(|(_, a)| *a == action));
            } else {
                bindings.extend(
                    default_bindings()
                        .into_iter()
                        .filter(|(k, a)| *a == action && !claimed.iter().any(|(ck, _)| ck == k)),
                );
            }
        }
        if !bindings.contains(&(FORCE_QUIT_KEY, Action::ForceQuit)) {
            // Ctrl-c cannot be unbound; keep it listed so help shows it.
            let at = bindings
                .iter()
                .position(|(_, a)| *a > Action::ForceQuit)
                .unwrap_or(bindings.len());
            bindings.insert(at, (FORCE_QUIT_KEY, Action::ForceQuit));
        }
        (Keymap { bindings }, warnings)
    }

    /// The action a key event asks for in `context`, or `None` if the key is unbound, is a
    /// release event, or belongs to a focused text field.
    pub fn action_for(&self, event: &KeyEvent, context: InputContext) -> Option<Action> {
        if event.kind == KeyEventKind::Release {
            return None;
        }
        let combo = KeyCombo::from_event(event);
        if combo == FORCE_QUIT_KEY {
            return Some(Action::ForceQuit);
        }
        if context == InputContext::TextInput && combo.is_text_entry() {
            return None;
        }
        self.bindings
            .iter()
            .find(|(k, _)| *k == combo)
            .map(|(_, a)| *a)
    }

    /// Every binding, in help order (grouped by [`Action::group`]).
    pub fn bindings(&self) -> &[(KeyCombo, Action)] {
        &self.bindings
    }

    /// The keys bound to `action`, in table order.
    pub fn keys_for(&self, action: Action) -> Vec<KeyCombo> {
        self.bindings
            .iter()
            .filter(|(_, a)| *a == action)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Hint bar entries: for each action that has a key, its keys joined by `/` and its label.
    /// Unbound actions are left out so the bar never advertises a key that does nothing.
    pub fn hints(&self, actions: &[Action]) -> Vec<(String, &'static str)> {
        actions
            .iter()
            .filter_map(|&action| {
                let keys = self.keys_for(action);
                if keys.is_empty() {
                    return None;
                }
                let joined: Vec<String> = keys.iter().map(KeyCombo::label).collect();
                Some((joined.join("/"), action.label()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::{KeyEventState, KeyModifiers};

    fn key(s: &str) -> KeyCombo {
        s.parse().unwrap()
    }

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn terminal_reports_normalise_to_the_same_combo() {
        let map = Keymap::default();
        let n = InputContext::Normal;
        // 'G' with and without SHIFT (terminals differ).
        assert_eq!(
            map.action_for(&press(KeyCode::Char('G'), KeyModifiers::SHIFT), n),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('G'), KeyModifiers::NONE), n),
            Some(Action::Bottom)
        );
        // BackTab with SHIFT (legacy) and Tab+SHIFT (kitty protocol).
        assert_eq!(
            map.action_for(&press(KeyCode::BackTab, KeyModifiers::SHIFT), n),
            Some(Action::PrevPane)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Tab, KeyModifiers::SHIFT), n),
            Some(Action::PrevPane)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Tab, KeyModifiers::NONE), n),
            Some(Action::NextPane)
        );
    }

    #[test]
    fn default_table_covers_consensus_keys() {
        let map = Keymap::default();
        let n = InputContext::Normal;
        let expect = [
            ("q", Action::Quit),
            ("ctrl-c", Action::ForceQuit),
            ("?", Action::Help),
            ("f1", Action::Help),
            ("up", Action::Up),
            ("k", Action::Up),
            ("j", Action::Down),
            ("h", Action::Left),
            ("l", Action::Right),
            ("enter", Action::Toggle),
            ("space", Action::Toggle),
            ("g", Action::Top),
            ("home", Action::Top),
            ("G", Action::Bottom),
            ("end", Action::Bottom),
            ("pgup", Action::PageUp),
            ("pgdn", Action::PageDown),
            ("/", Action::Search),
            ("n", Action::NextMatch),
            ("N", Action::PrevMatch),
            ("esc", Action::Back),
            ("y", Action::Copy),
            ("[", Action::ShrinkPane),
            ("]", Action::GrowPane),
            ("1", Action::ViewUsers),
            ("2", Action::ViewGroups),
            ("s", Action::Sort),
            ("c", Action::Compose),
            ("e", Action::Edit),
            ("o", Action::Outbox),
            ("ctrl-s", Action::Send),
            ("ctrl-l", Action::SaveLocal),
            ("ctrl-n", Action::AddField),
            ("ctrl-d", Action::RemoveField),
            ("t", Action::Retry),
            ("T", Action::RetryAll),
            ("d", Action::Drop),
            ("r", Action::Refresh),
            ("f5", Action::Refresh),
        ];
        for (s, action) in expect {
            let k = key(s);
            assert_eq!(
                map.action_for(&press(k.code, k.modifiers), n),
                Some(action),
                "{s}"
            );
        }
        // Every action has at least one default key.
        for action in Action::ALL {
            assert!(!map.keys_for(action).is_empty(), "{action} unbound");
        }
        // No key is bound twice.
        let b = map.bindings();
        for (i, (k, _)) in b.iter().enumerate() {
            assert!(!b[i + 1..].iter().any(|(k2, _)| k2 == k), "{k} bound twice");
        }
    }

    #[test]
    fn release_events_are_ignored() {
        let map = Keymap::default();
        let mut ev = press(KeyCode::Char('q'), KeyModifiers::NONE);
        ev.kind = KeyEventKind::Release;
        ev.state = KeyEventState::NONE;
        assert_eq!(map.action_for(&ev, InputContext::Normal), None);
        ev.kind = KeyEventKind::Repeat;
        assert_eq!(
            map.action_for(&ev, InputContext::Normal),
            Some(Action::Quit)
        );
    }

    #[test]
    fn text_input_takes_printable_keys() {
        let map = Keymap::default();
        let t = InputContext::TextInput;
        for ch in ['q', 'H', '?', 'j', '/', 'n', ' ', '1', 'G'] {
            assert_eq!(
                map.action_for(&press(KeyCode::Char(ch), KeyModifiers::NONE), t),
                None,
                "{ch}"
            );
            assert_eq!(
                map.action_for(&press(KeyCode::Char(ch), KeyModifiers::SHIFT), t),
                None,
                "{ch}"
            );
        }
        // Cursor keys, F-keys and Alt-chords also belong to the field.
        assert_eq!(
            map.action_for(&press(KeyCode::Left, KeyModifiers::NONE), t),
            None
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Home, KeyModifiers::NONE), t),
            None
        );
        assert_eq!(
            map.action_for(&press(KeyCode::F(1), KeyModifiers::NONE), t),
            None
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('b'), KeyModifiers::ALT), t),
            None
        );
        // The global few still work.
        assert_eq!(
            map.action_for(&press(KeyCode::Esc, KeyModifiers::NONE), t),
            Some(Action::Back)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Enter, KeyModifiers::NONE), t),
            Some(Action::Toggle)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Tab, KeyModifiers::NONE), t),
            Some(Action::NextPane)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::BackTab, KeyModifiers::SHIFT), t),
            Some(Action::PrevPane)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('c'), KeyModifiers::CONTROL), t),
            Some(Action::ForceQuit)
        );
    }

    #[test]
    fn overrides_replace_an_actions_keys_and_steal_from_defaults() {
        let (map, warnings) = Keymap::with_overrides(&[
            (Action::Quit, vec![key("q"), key("ctrl-q")]),
            (Action::Sort, vec![key("o")]),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        let n = InputContext::Normal;
        assert_eq!(map.keys_for(Action::Quit), vec![key("q"), key("ctrl-q")]);
        assert_eq!(
            map.action_for(&press(KeyCode::Char('q'), KeyModifiers::CONTROL), n),
            Some(Action::Quit)
        );
        // 'o' moved from outbox to sort; 's' no longer sorts.
        assert_eq!(
            map.action_for(&press(KeyCode::Char('o'), KeyModifiers::NONE), n),
            Some(Action::Sort)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('s'), KeyModifiers::NONE), n),
            None
        );
        assert!(map.keys_for(Action::Outbox).is_empty());
        assert_eq!(
            map.hints(&[Action::Outbox, Action::Sort]),
            vec![("o".to_string(), "sort")]
        );
    }

    #[test]
    fn ctrl_c_cannot_be_unbound_or_rebound() {
        let (map, warnings) = Keymap::with_overrides(&[
            (Action::ForceQuit, vec![]),
            (Action::Copy, vec![key("ctrl-c"), key("y")]),
        ]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("copy") && warnings[0].contains("ctrl-c"),
            "{}",
            warnings[0]
        );
        let ev = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            map.action_for(&ev, InputContext::Normal),
            Some(Action::ForceQuit)
        );
        assert_eq!(map.keys_for(Action::ForceQuit), vec![FORCE_QUIT_KEY]);
        assert_eq!(map.keys_for(Action::Copy), vec![key("y")]);
    }

    #[test]
    fn conflicting_overrides_warn_and_keep_the_first() {
        let (map, warnings) = Keymap::with_overrides(&[
            (Action::Help, vec![key("x")]),
            (Action::Edit, vec![key("x"), key("E")]),
        ]);
        assert_eq!(
            warnings,
            vec!["[keys] edit: x is already bound to help; ignored here".to_string()]
        );
        assert_eq!(map.keys_for(Action::Edit), vec![key("E")]);
        assert_eq!(map.keys_for(Action::Help), vec![key("x")]);
    }

    #[test]
    fn hints_join_keys_with_labels() {
        let map = Keymap::default();
        assert_eq!(
            map.hints(&[Action::Up, Action::Help, Action::Quit, Action::PrevPane]),
            vec![
                ("↑/k".to_string(), "up"),
                ("?/f1".to_string(), "help"),
                ("q".to_string(), "quit"),
                ("shift-tab".to_string(), "prev pane"),
            ]
        );
    }
}
