//! The detail pane: what the selected row stands for, in full. Content is built once when the
//! selection changes (long lists are capped), then only the window is drawn.

pub mod json;
mod sections;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::model::{CallId, Model, Origin, display_value};

use super::search::Filter;
use super::text::{TextLine, render};
use super::theme::Theme;
use super::tree::Node;

pub use sections::{group_lines, trait_lines, user_lines};

/// Longest list (members, calls, changes) the detail pane shows in full.
pub const LIST_CAP: usize = 500;

/// The raw JSON of a call, as far as it has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    /// Being read on a background thread.
    Loading,
    /// The event's text as it was in the input.
    Loaded(String),
    /// It could not be read.
    Failed(String),
}

/// What the pane shows.
#[derive(Debug, Clone, Default)]
pub struct Content {
    /// The pane title.
    pub title: String,
    /// The lines.
    pub lines: Vec<TextLine>,
    /// The call whose raw JSON this content wants, if any.
    pub origin: Option<Origin>,
    /// What `y` copies.
    pub copy: Option<String>,
}

/// The call a node is about, for nodes that show a raw call.
pub fn call_of(model: &Model, node: Node) -> Option<CallId> {
    match node {
        Node::Call(id) => Some(id),
        Node::Change(g, e, c) => {
            let t = model.group(g).traits.get(e as usize)?;
            let change = model.entry_changes(t).get(c as usize)?;
            Some(CallId(change.call))
        }
        _ => None,
    }
}

/// The content for `node`; `raw` is the state of its call's raw JSON, when it has one.
pub fn content(model: &Model, node: Node, raw: Option<&Raw>) -> Content {
    match node {
        Node::Group(g)
        | Node::UserGroup(_, g)
        | Node::Members(g)
        | Node::Traits(g)
        | Node::Calls(g) => Content {
            title: format!("Group {}", model.str(model.group(g).id)),
            lines: group_lines(model, g),
            origin: None,
            copy: Some(model.str(model.group(g).id).to_string()),
        },
        Node::User(u) | Node::Member(_, u) => Content {
            title: format!("User {}", model.user_label(u)),
            lines: user_lines(model, u),
            origin: None,
            copy: Some(model.user_label(u).to_string()),
        },
        Node::Trait(g, e) => {
            let entry = model.group(g).traits.get(e as usize);
            Content {
                title: format!(
                    "Trait {}",
                    entry.map(|t| model.str(t.key)).unwrap_or_default()
                ),
                lines: trait_lines(model, g, e, None),
                origin: None,
                copy: entry.map(|t| display_value(model.str(t.value)).into_owned()),
            }
        }
        Node::Change(g, e, c) => {
            let mut lines = trait_lines(model, g, e, Some(c));
            let call = call_of(model, node);
            let new = model
                .group(g)
                .traits
                .get(e as usize)
                .and_then(|t| model.entry_changes(t).get(c as usize))
                .map(|ch| display_value(model.str(ch.new)).into_owned());
            if let Some(id) = call {
                lines.push(vec![]);
                lines.extend(sections::call_lines(model, id, raw));
            }
            Content {
                title: "Trait change".into(),
                lines,
                origin: call.map(|id| model.call(id).origin),
                copy: raw_text(raw).or(new),
            }
        }
        Node::Call(id) => Content {
            title: "Group call".into(),
            lines: sections::call_lines(model, id, raw),
            origin: Some(model.call(id).origin),
            copy: raw_text(raw),
        },
    }
}

fn raw_text(raw: Option<&Raw>) -> Option<String> {
    match raw {
        Some(Raw::Loaded(text)) => Some(pretty_text(text)),
        _ => None,
    }
}

/// Raw JSON pretty-printed as plain text (for copying).
fn pretty_text(raw: &str) -> String {
    match serde_json::from_str::<&serde_json::value::RawValue>(raw) {
        Ok(_) => json::pretty(raw)
            .iter()
            .map(|l| super::text::plain(l))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(_) => raw.to_string(),
    }
}

/// The pane's state: the node shown, its content and the scroll position.
#[derive(Debug, Default)]
pub struct DetailPane {
    node: Option<Node>,
    content: Content,
    raw: Option<(Origin, Raw)>,
    scroll: usize,
    height: usize,
}

impl DetailPane {
    /// Shows `node` (or nothing); returns the origin of a raw call to read, when one is needed
    /// and not already at hand.
    pub fn show(&mut self, model: &Model, node: Option<Node>) -> Option<Origin> {
        if node == self.node {
            return None;
        }
        self.node = node;
        self.scroll = 0;
        let want = node
            .and_then(|n| call_of(model, n))
            .map(|id| model.call(id).origin);
        let mut fetch = None;
        if let Some(want) = want
            && !matches!(&self.raw, Some((o, _)) if *o == want)
        {
            self.raw = Some((want, Raw::Loading));
            fetch = Some(want);
        }
        self.rebuild(model);
        fetch
    }

    /// Takes a raw call that was read; ignored when the pane has moved on to another call.
    pub fn raw_arrived(&mut self, model: &Model, origin: Origin, raw: Raw) {
        if matches!(&self.raw, Some((o, _)) if *o == origin) {
            self.raw = Some((origin, raw));
            self.rebuild(model);
        }
    }

    /// Builds the content again (after a raw call arrived or the model changed).
    pub fn rebuild(&mut self, model: &Model) {
        self.content = match self.node {
            Some(node) => {
                let origin = call_of(model, node).map(|id| model.call(id).origin);
                let raw = match (&self.raw, origin) {
                    (Some((o, r)), Some(w)) if *o == w => Some(r),
                    _ => None,
                };
                content(model, node, raw)
            }
            None => Content::default(),
        };
    }

    /// Shows `node` of a new model of the same input in place of what was shown (the same
    /// thing, renumbered), keeping the scroll position and a raw call already read.
    pub fn remap(&mut self, model: &Model, node: Option<Node>) {
        match node {
            Some(node) => {
                self.node = Some(node);
                self.rebuild(model);
            }
            None => self.clear(),
        }
    }

    /// Forgets what is shown.
    pub fn clear(&mut self) {
        *self = DetailPane::default();
    }

    /// The content shown.
    pub fn content(&self) -> &Content {
        &self.content
    }

    /// The node shown.
    pub fn node(&self) -> Option<Node> {
        self.node
    }

    /// The first line in the window.
    pub fn scroll(&self) -> usize {
        self.scroll
    }

    /// Scrolls by `delta` lines.
    pub fn scroll_by(&mut self, delta: isize) {
        let max = self.content.lines.len().saturating_sub(self.height.max(1));
        self.scroll = self.scroll.saturating_add_signed(delta).min(max);
    }

    /// Scrolls one window.
    pub fn page(&mut self, down: bool) {
        let step = self.height.saturating_sub(1).max(1) as isize;
        self.scroll_by(if down { step } else { -step });
    }

    /// Scrolls to the top or the bottom.
    pub fn jump(&mut self, bottom: bool) {
        self.scroll = 0;
        if bottom {
            self.scroll_by(isize::MAX);
        }
    }

    /// Draws the pane.
    pub fn draw(
        &mut self,
        frame: &mut Frame,
        area: Rect,
        theme: &Theme,
        focused: bool,
        filter: Option<&Filter>,
    ) {
        let title = if self.content.title.is_empty() {
            " Detail ".to_string()
        } else {
            format!(" {} ", super::text::safe(&self.content.title))
        };
        let total = self.content.lines.len();
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(if focused {
                theme.border_focused
            } else {
                theme.border
            })
            .title(title);
        let inner = block.inner(area);
        self.height = inner.height as usize;
        self.scroll_by(0);
        let block = if total > self.height {
            block.title_bottom(format!(
                " {}-{} of {} ",
                self.scroll + 1,
                (self.scroll + self.height).min(total),
                total
            ))
        } else {
            block
        };
        let lines: Vec<_> = self
            .content
            .lines
            .iter()
            .skip(self.scroll)
            .take(self.height)
            .map(|l| render(l, theme, filter))
            .collect();
        frame.render_widget(Paragraph::new(lines).block(block), area);
    }
}
