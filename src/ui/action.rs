//! User intents. Keys are mapped to these by [`crate::ui::keymap`]; panes react to them, never to
//! raw key codes. The snake_case names are the vocabulary of the `[keys]` config section.

use serde::{Deserialize, Serialize};

/// One thing the user wants to do, independent of the key that asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Show or hide the help overlay.
    Help,
    /// Leave the application (may ask for confirmation when drafts are unsent).
    Quit,
    /// Leave immediately; bound to Ctrl-c, which cannot be unbound.
    ForceQuit,
    /// Close a popup, cancel an input, or go back one level.
    Back,
    /// Reload the current source.
    Refresh,
    /// Move the selection up one row.
    Up,
    /// Move the selection down one row.
    Down,
    /// Collapse the current node or go to its parent.
    Left,
    /// Expand the current node.
    Right,
    /// Expand/collapse, open or submit (Enter/Space).
    Toggle,
    /// Move up one screen.
    PageUp,
    /// Move down one screen.
    PageDown,
    /// Jump to the first row.
    Top,
    /// Jump to the last row.
    Bottom,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Make the focused pane narrower.
    ShrinkPane,
    /// Make the focused pane wider.
    GrowPane,
    /// Show the users view.
    ViewUsers,
    /// Show the groups view.
    ViewGroups,
    /// Cycle the sort order of the focused list.
    Sort,
    /// Start a text search.
    Search,
    /// Jump to the next search match.
    NextMatch,
    /// Jump to the previous search match.
    PrevMatch,
    /// Copy the selected value to the clipboard.
    Copy,
    /// Compose a group call: reopen the current draft, or start a blank one.
    Compose,
    /// Compose a group call prefilled from the selected group and user.
    Edit,
    /// Show the outbox (calls waiting to be sent) and the saved drafts.
    Outbox,
    /// Send the call in the form to the data plane.
    Send,
    /// Keep the call in the form in the store as a local call, never sent.
    SaveLocal,
    /// Add a custom trait row to the form.
    AddField,
    /// Remove the focused custom trait row from the form.
    RemoveField,
    /// Send the selected outbox entry again.
    Retry,
    /// Send every outbox entry again.
    RetryAll,
    /// Drop the selected outbox entry or delete the selected draft.
    Drop,
}

/// Sections of the help overlay; actions are listed under the section they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionGroup {
    /// Help, quitting, going back.
    General,
    /// Moving the selection.
    Navigation,
    /// Panes, views and ordering.
    Layout,
    /// Finding text.
    Search,
    /// Copying, composing and sending.
    Data,
}

impl ActionGroup {
    /// Every group, in the order the help overlay shows them.
    pub const ALL: [ActionGroup; 5] = [
        ActionGroup::General,
        ActionGroup::Navigation,
        ActionGroup::Layout,
        ActionGroup::Search,
        ActionGroup::Data,
    ];

    /// Heading shown in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            ActionGroup::General => "General",
            ActionGroup::Navigation => "Navigation",
            ActionGroup::Layout => "Panes and views",
            ActionGroup::Search => "Search",
            ActionGroup::Data => "Copy, compose, send",
        }
    }
}

impl Action {
    /// Every action, grouped in help order.
    pub const ALL: [Action; 35] = [
        Action::Help,
        Action::Quit,
        Action::ForceQuit,
        Action::Back,
        Action::Refresh,
        Action::Up,
        Action::Down,
        Action::Left,
        Action::Right,
        Action::Toggle,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::NextPane,
        Action::PrevPane,
        Action::ShrinkPane,
        Action::GrowPane,
        Action::ViewUsers,
        Action::ViewGroups,
        Action::Sort,
        Action::Search,
        Action::NextMatch,
        Action::PrevMatch,
        Action::Copy,
        Action::Compose,
        Action::Edit,
        Action::Outbox,
        Action::Send,
        Action::SaveLocal,
        Action::AddField,
        Action::RemoveField,
        Action::Retry,
        Action::RetryAll,
        Action::Drop,
    ];

    /// The snake_case name used in the config file (same as the serde name).
    pub fn name(self) -> &'static str {
        match self {
            Action::Help => "help",
            Action::Quit => "quit",
            Action::ForceQuit => "force_quit",
            Action::Back => "back",
            Action::Refresh => "refresh",
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "left",
            Action::Right => "right",
            Action::Toggle => "toggle",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::NextPane => "next_pane",
            Action::PrevPane => "prev_pane",
            Action::ShrinkPane => "shrink_pane",
            Action::GrowPane => "grow_pane",
            Action::ViewUsers => "view_users",
            Action::ViewGroups => "view_groups",
            Action::Sort => "sort",
            Action::Search => "search",
            Action::NextMatch => "next_match",
            Action::PrevMatch => "prev_match",
            Action::Copy => "copy",
            Action::Compose => "compose",
            Action::Edit => "edit",
            Action::Outbox => "outbox",
            Action::Send => "send",
            Action::SaveLocal => "save_local",
            Action::AddField => "add_field",
            Action::RemoveField => "remove_field",
            Action::Retry => "retry",
            Action::RetryAll => "retry_all",
            Action::Drop => "drop",
        }
    }

    /// Looks an action up by its config name; `None` for unknown names.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// A short word for the hint bar ("quit", "search").
    pub fn label(self) -> &'static str {
        match self {
            Action::Help => "help",
            Action::Quit => "quit",
            Action::ForceQuit => "force quit",
            Action::Back => "back",
            Action::Refresh => "refresh",
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "collapse",
            Action::Right => "expand",
            Action::Toggle => "open",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::NextPane => "next pane",
            Action::PrevPane => "prev pane",
            Action::ShrinkPane => "narrower",
            Action::GrowPane => "wider",
            Action::ViewUsers => "users",
            Action::ViewGroups => "groups",
            Action::Sort => "sort",
            Action::Search => "search",
            Action::NextMatch => "next match",
            Action::PrevMatch => "prev match",
            Action::Copy => "copy",
            Action::Compose => "compose",
            Action::Edit => "edit",
            Action::Outbox => "outbox",
            Action::Send => "send",
            Action::SaveLocal => "save locally",
            Action::AddField => "add trait",
            Action::RemoveField => "remove trait",
            Action::Retry => "retry",
            Action::RetryAll => "retry all",
            Action::Drop => "drop",
        }
    }

    /// One line for the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            Action::Help => "Show or hide this help",
            Action::Quit => "Quit",
            Action::ForceQuit => "Quit immediately (always works)",
            Action::Back => "Close popup, cancel input, go back",
            Action::Refresh => "Reload the current source",
            Action::Up => "Move up",
            Action::Down => "Move down",
            Action::Left => "Collapse, or go to the parent",
            Action::Right => "Expand",
            Action::Toggle => "Open, expand/collapse, or submit",
            Action::PageUp => "Page up",
            Action::PageDown => "Page down",
            Action::Top => "Go to the first row",
            Action::Bottom => "Go to the last row",
            Action::NextPane => "Focus the next pane",
            Action::PrevPane => "Focus the previous pane",
            Action::ShrinkPane => "Make the focused pane narrower",
            Action::GrowPane => "Make the focused pane wider",
            Action::ViewUsers => "Show users",
            Action::ViewGroups => "Show groups",
            Action::Sort => "Change the sort order",
            Action::Search => "Search",
            Action::NextMatch => "Next match",
            Action::PrevMatch => "Previous match",
            Action::Copy => "Copy the selected value",
            Action::Compose => "Compose a group call (reopens your draft)",
            Action::Edit => "Compose a call prefilled from the selected group",
            Action::Outbox => "Show the outbox and the saved drafts",
            Action::Send => "Form: send the call to the data plane",
            Action::SaveLocal => "Form: keep the call locally, never sent",
            Action::AddField => "Form: add a custom trait",
            Action::RemoveField => "Form: remove the focused custom trait",
            Action::Retry => "Outbox: send the selected call again",
            Action::RetryAll => "Outbox: send every waiting call again",
            Action::Drop => "Outbox: drop the call or delete the draft",
        }
    }

    /// The help section this action is listed under.
    pub fn group(self) -> ActionGroup {
        match self {
            Action::Help | Action::Quit | Action::ForceQuit | Action::Back | Action::Refresh => {
                ActionGroup::General
            }
            Action::Up
            | Action::Down
            | Action::Left
            | Action::Right
            | Action::Toggle
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => ActionGroup::Navigation,
            Action::NextPane
            | Action::PrevPane
            | Action::ShrinkPane
            | Action::GrowPane
            | Action::ViewUsers
            | Action::ViewGroups
            | Action::Sort => ActionGroup::Layout,
            Action::Search | Action::NextMatch | Action::PrevMatch => ActionGroup::Search,
            Action::Copy
            | Action::Compose
            | Action::Edit
            | Action::Outbox
            | Action::Send
            | Action::SaveLocal
            | Action::AddField
            | Action::RemoveField
            | Action::Retry
            | Action::RetryAll
            | Action::Drop => ActionGroup::Data,
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn name_matches_serde_name_for_every_action() {
        for action in Action::ALL {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.name()));
            let back: Action = serde_json::from_str(&json).unwrap();
            assert_eq!(back, action);
        }
    }

    #[test]
    fn all_lists_each_action_once_in_group_order() {
        let unique: HashSet<Action> = Action::ALL.into_iter().collect();
        assert_eq!(unique.len(), Action::ALL.len());
        // Group order in ALL must follow ActionGroup::ALL so help sections are contiguous.
        let order: Vec<usize> = Action::ALL
            .iter()
            .map(|a| {
                ActionGroup::ALL
                    .iter()
                    .position(|g| *g == a.group())
                    .unwrap()
            })
            .collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    }

    #[test]
    fn from_name_round_trips_and_rejects_unknown() {
        assert_eq!(Action::from_name("next_pane"), Some(Action::NextPane));
        assert_eq!(Action::from_name("force_quit"), Some(Action::ForceQuit));
        assert_eq!(Action::from_name("NextPane"), None);
        assert_eq!(Action::from_name("explode"), None);
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
        }
    }
}
