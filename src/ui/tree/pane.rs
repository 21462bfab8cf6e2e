//! The tree pane: both views' trees, the group order, the filter's saved positions, and drawing
//! the window of rows.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use std::sync::Arc;

use crate::model::{GroupId, Model};
use crate::ui::search::Filter;
use crate::ui::text::{Tone, push_highlighted};
use crate::ui::theme::{NO_SELECTION_MARKER, SELECTION_MARKER, Theme};

use super::{Ctx, GroupSort, Tree, View, label::label};

/// Every group in each [`GroupSort`] order, made once per model (where the model is made, off
/// the UI thread), so changing the order on a key press only moves rows.
type Orders = Arc<[Vec<GroupId>; 3]>;

/// Both views and what they share.
#[derive(Debug, Clone)]
pub struct TreePane {
    view: View,
    sort: GroupSort,
    orders: Orders,
    users: Tree,
    groups: Tree,
    /// The trees as they were before a filter narrowed them.
    saved: Option<(Tree, Tree)>,
}

impl TreePane {
    /// Both views of `model`, unfiltered, groups by name. Makes all three group orders, which
    /// takes a while with 100,000 groups: build it off the UI thread when the model is big.
    pub fn new(model: &Model) -> TreePane {
        let sort = GroupSort::default();
        let orders: Orders = Arc::new(GroupSort::ALL.map(|s| s.order(model)));
        let ctx = Ctx {
            model,
            filter: None,
        };
        let order = &orders[sort.index()];
        TreePane {
            view: View::Groups,
            sort,
            users: Tree::new(ctx, View::Users, order),
            groups: Tree::new(ctx, View::Groups, order),
            orders,
            saved: None,
        }
    }

    /// The groups in the order shown.
    fn order(&self) -> &[GroupId] {
        &self.orders[self.sort.index()]
    }

    /// `fresh` (the [`TreePane::new`] of `model`, another model of the same input than `old`,
    /// the one this pane shows) with this pane's view and order, and its open rows, selections
    /// and scroll positions carried over as far as they still exist. With `filter` (compiled
    /// for `model`) the views are narrowed by it, at the positions the narrowed views had;
    /// without, the views are as they were before any filter.
    pub fn carried(
        &self,
        old: &Model,
        fresh: TreePane,
        model: &Model,
        filter: Option<&Filter>,
    ) -> TreePane {
        let (users, groups) = match &self.saved {
            Some((users, groups)) => (users, groups),
            None => (&self.users, &self.groups),
        };
        let (users, groups) = (users.remember(old), groups.remember(old));
        let ctx = Ctx {
            model,
            filter: None,
        };
        let fresh_sort = fresh.sort;
        let mut pane = TreePane {
            view: self.view,
            sort: self.sort,
            ..fresh
        };
        if pane.sort != fresh_sort {
            pane.groups = Tree::new(ctx, View::Groups, pane.order());
        }
        pane.users.restore(ctx, &users);
        pane.groups.restore(ctx, &groups);
        if let Some(f) = filter {
            pane.apply_filter(model, Some(f));
            if self.saved.is_some() {
                let ctx = Ctx {
                    model,
                    filter: Some(f),
                };
                pane.users.restore(ctx, &self.users.remember(old));
                pane.groups.restore(ctx, &self.groups.remember(old));
            }
        }
        pane
    }

    /// The view shown.
    pub fn view(&self) -> View {
        self.view
    }

    /// Shows a view; each keeps its own position.
    pub fn set_view(&mut self, view: View) {
        self.view = view;
    }

    /// The group order.
    pub fn sort(&self) -> GroupSort {
        self.sort
    }

    /// The tree of the view shown.
    pub fn tree(&self) -> &Tree {
        match self.view {
            View::Users => &self.users,
            View::Groups => &self.groups,
        }
    }

    /// The tree of the view shown, to move in.
    pub fn tree_mut(&mut self) -> &mut Tree {
        match self.view {
            View::Users => &mut self.users,
            View::Groups => &mut self.groups,
        }
    }

    /// Moves to the next group order, keeping open rows and the selection.
    pub fn cycle_sort(&mut self) -> GroupSort {
        self.sort = self.sort.next();
        let orders = self.orders.clone();
        let order = &orders[self.sort.index()];
        self.groups.reorder(order);
        if let Some((_, saved)) = &mut self.saved {
            saved.reorder(order);
        }
        self.sort
    }

    /// Narrows both views to `filter`, or (with `None`) puts back the trees as they were before
    /// the first filter.
    pub fn apply_filter(&mut self, model: &Model, filter: Option<&Filter>) {
        match filter {
            Some(f) => {
                let ctx = Ctx {
                    model,
                    filter: Some(f),
                };
                let users = Tree::new(ctx, View::Users, self.order());
                let groups = Tree::new(ctx, View::Groups, self.order());
                // The unfiltered trees move aside (no copy: 600,000 users are 15 MB of rows).
                let unfiltered = (
                    std::mem::replace(&mut self.users, users),
                    std::mem::replace(&mut self.groups, groups),
                );
                if self.saved.is_none() {
                    self.saved = Some(unfiltered);
                }
            }
            None => {
                if let Some((users, groups)) = self.saved.take() {
                    self.users = users;
                    self.groups = groups;
                }
            }
        }
    }

    /// Draws the pane into `area`; `focused` picks the border style.
    pub fn draw(
        &mut self,
        frame: &mut Frame,
        area: Rect,
        ctx: Ctx<'_>,
        theme: &Theme,
        focused: bool,
    ) {
        let (users, groups) = (ctx.model.users().len(), ctx.model.groups().len());
        let tab = |view: View, key: &str, n: usize| {
            let text = format!(" {key} {} ({n}) ", view.title());
            if view == self.view {
                Span::styled(text, theme.heading.patch(theme.selected_row))
            } else {
                Span::styled(text, theme.dim)
            }
        };
        let mut title = vec![tab(View::Users, "1", users), tab(View::Groups, "2", groups)];
        if self.view == View::Groups {
            title.push(Span::styled(
                format!(" by {} ", self.sort.label()),
                theme.dim,
            ));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(if focused {
                theme.border_focused
            } else {
                theme.border
            })
            .title(Line::from(title));
        let inner = block.inner(area);
        let tree = self.tree_mut();
        tree.set_height(inner.height as usize);
        let total = tree.rows().len();
        let block = if total > inner.height as usize {
            block.title_bottom(format!(" {}/{} ", tree.selected() + 1, total))
        } else {
            block
        };
        let tree = self.tree();
        let mut lines: Vec<Line> = Vec::with_capacity(inner.height as usize);
        let labels: Vec<_> = tree
            .window()
            .map(|(i, row)| (i, *row, label(ctx.model, row.node)))
            .collect();
        for (i, row, pieces) in &labels {
            let selected = *i == tree.selected();
            let mut spans = vec![Span::raw(if selected {
                SELECTION_MARKER
            } else {
                NO_SELECTION_MARKER
            })];
            spans.push(Span::raw("  ".repeat(row.depth as usize)));
            let expander = if row.expanded {
                "▾ "
            } else if ctx.has_children(row.node) {
                "▸ "
            } else {
                "  "
            };
            spans.push(Span::styled(expander, theme.dim));
            for piece in pieces {
                // Times and counts are not searched; highlighting them would mislead.
                let filter = if piece.tone == Tone::Dim {
                    None
                } else {
                    ctx.filter
                };
                push_highlighted(
                    &mut spans,
                    &piece.text,
                    piece.tone.style(theme),
                    theme,
                    filter,
                );
            }
            let mut line = Line::from(spans);
            if selected {
                line = line.style(theme.selected_row);
            }
            lines.push(line);
        }
        if lines.is_empty() {
            let what = match self.view {
                View::Users => "users",
                View::Groups => "groups",
            };
            let text = match ctx.filter {
                Some(f) => format!("No {what} match {:?}. Esc clears the search.", f.query()),
                None => {
                    let c = ctx.model.counts();
                    let mut t = format!("No {what}: the input holds no group calls.");
                    if c.problems > 0 {
                        t.push_str(&format!(
                            " {} lines could not be read (`groupscope stats` lists them).",
                            c.bad_lines
                        ));
                    }
                    t
                }
            };
            lines.push(Line::styled(text, theme.dim));
        }
        frame.render_widget(Paragraph::new(lines).block(block), area);
    }
}
