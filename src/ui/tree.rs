//! The tree pane's data: a flattened list of the rows that are currently open, built lazily.
//!
//! Only the top level and the children of expanded nodes exist as [`Row`]s; a row is 24 bytes,
//! so 100,000 groups cost 2.4 MB, and drawing touches only the rows in the window. Moving is
//! O(1); expanding or collapsing splices one range and fixes parent links in one pass.

pub mod label;
mod memory;
mod pane;

use crate::model::{CallId, GroupId, Model, UserId};

use super::search::{Filter, Hit};

pub use memory::{Key, TreeMemory};
pub use pane::TreePane;

/// The two top-level views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Users → their groups → the group's traits → each trait's changes.
    Users,
    /// Groups → members, traits (→ changes), calls.
    Groups,
}

impl View {
    /// The view's title.
    pub fn title(self) -> &'static str {
        match self {
            View::Users => "Users",
            View::Groups => "Groups",
        }
    }
}

/// How groups are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupSort {
    /// By name (the id where there is none), ignoring case.
    #[default]
    Name,
    /// Most members first.
    Members,
    /// Most recently changed first.
    LastChange,
}

impl GroupSort {
    /// Every order, in the cycle's order.
    pub const ALL: [GroupSort; 3] = [GroupSort::Name, GroupSort::Members, GroupSort::LastChange];

    /// Where it is in [`GroupSort::ALL`].
    pub fn index(self) -> usize {
        match self {
            GroupSort::Name => 0,
            GroupSort::Members => 1,
            GroupSort::LastChange => 2,
        }
    }

    /// The next order in the cycle.
    pub fn next(self) -> GroupSort {
        match self {
            GroupSort::Name => GroupSort::Members,
            GroupSort::Members => GroupSort::LastChange,
            GroupSort::LastChange => GroupSort::Name,
        }
    }

    /// How the order is named in the status bar.
    pub fn label(self) -> &'static str {
        match self {
            GroupSort::Name => "name",
            GroupSort::Members => "member count",
            GroupSort::LastChange => "last change",
        }
    }

    /// Every group of `model`, in this order.
    pub fn order(self, model: &Model) -> Vec<GroupId> {
        let mut ids: Vec<GroupId> = (0..model.groups().len() as u32).map(GroupId).collect();
        match self {
            GroupSort::Name => {
                let keys: Vec<String> = ids
                    .iter()
                    .map(|&g| {
                        model
                            .group_name(g)
                            .unwrap_or_else(|| model.str(model.group(g).id).to_string())
                            .to_lowercase()
                    })
                    .collect();
                ids.sort_by(|a, b| keys[a.0 as usize].cmp(&keys[b.0 as usize]));
            }
            GroupSort::Members => {
                ids.sort_by_key(|&g| std::cmp::Reverse(model.group(g).members.len()));
            }
            GroupSort::LastChange => {
                ids.sort_by_key(|&g| std::cmp::Reverse(model.group(g).last_change));
            }
        }
        ids
    }
}

/// What a row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// A user (Users view).
    User(UserId),
    /// A group under a user.
    UserGroup(UserId, GroupId),
    /// A group (Groups view).
    Group(GroupId),
    /// The members of a group.
    Members(GroupId),
    /// One member.
    Member(GroupId, UserId),
    /// The current traits of a group.
    Traits(GroupId),
    /// One current trait: the group and the index in its `traits`.
    Trait(GroupId, u32),
    /// One change of a trait: group, trait index, index in its changes (oldest first).
    Change(GroupId, u32, u32),
    /// The calls of a group.
    Calls(GroupId),
    /// One call.
    Call(CallId),
}

/// No parent: a top-level row.
pub const NO_PARENT: u32 = u32::MAX;

/// One visible row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// What it stands for.
    pub node: Node,
    /// Index of its parent row, or [`NO_PARENT`].
    pub parent: u32,
    /// Nesting depth (0 at the top).
    pub depth: u8,
    /// Whether its children are in the list.
    pub expanded: bool,
    /// Whether everything below it is shown even under a filter (it or an ancestor matched).
    pub unfiltered: bool,
}

/// What the tree needs to know to build rows.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The data.
    pub model: &'a Model,
    /// The active filter, if any.
    pub filter: Option<&'a Filter>,
}

impl Ctx<'_> {
    /// Whether a node has children at all (before filtering), without building them.
    pub fn has_children(&self, node: Node) -> bool {
        let m = self.model;
        match node {
            Node::User(u) => !m.user(u).memberships.is_empty(),
            Node::UserGroup(_, g) | Node::Traits(g) => !m.group(g).traits.is_empty(),
            Node::Group(_) => true,
            Node::Members(g) => !m.group(g).members.is_empty(),
            Node::Calls(g) => !m.group(g).calls.is_empty(),
            Node::Trait(g, e) => m
                .group(g)
                .traits
                .get(e as usize)
                .is_some_and(|t| !t.changes.is_empty()),
            Node::Member(..) | Node::Change(..) | Node::Call(_) => false,
        }
    }

    /// How a node's own label relates to the filter.
    pub fn hit(&self, node: Node) -> Hit {
        let Some(f) = self.filter else {
            return Hit::None;
        };
        match node {
            Node::User(u) => f.user(u),
            Node::UserGroup(_, g) => f.user_group(g),
            Node::Group(g) => f.group(g),
            Node::Member(_, u) if f.user_direct(u) => Hit::Direct,
            Node::Members(g) if self.model.members(g).iter().any(|m| f.user_direct(m.user)) => {
                Hit::Within
            }
            Node::Traits(g)
                if self
                    .model
                    .group(g)
                    .traits
                    .iter()
                    .any(|t| f.trait_matches(self.model, t)) =>
            {
                Hit::Within
            }
            Node::Trait(g, e) => match self.model.group(g).traits.get(e as usize) {
                Some(t) if f.trait_matches(self.model, t) => Hit::Direct,
                _ => Hit::None,
            },
            _ => Hit::None,
        }
    }

    /// The children of `row`, narrowed by the filter unless the row is unfiltered.
    fn children(&self, row: &Row) -> Vec<(Node, bool)> {
        let m = self.model;
        let all = row.unfiltered || self.filter.is_none();
        let keep = |node: Node| all || self.hit(node) != Hit::None;
        let open = |node: Node| all || self.hit(node) == Hit::Direct;
        let mut out = Vec::new();
        match row.node {
            Node::User(u) => {
                for ms in m.user_groups(u) {
                    let node = Node::UserGroup(u, ms.group);
                    if keep(node) {
                        out.push((node, open(node)));
                    }
                }
            }
            Node::UserGroup(_, g) | Node::Traits(g) => {
                for e in label::trait_order(m, g) {
                    let node = Node::Trait(g, e);
                    if keep(node) {
                        out.push((node, open(node)));
                    }
                }
            }
            Node::Group(g) => {
                let group = m.group(g);
                let f = self.filter;
                let members = !group.members.is_empty()
                    && (all
                        || m.members(g)
                            .iter()
                            .any(|ms| f.is_some_and(|f| f.user_direct(ms.user))));
                let traits = !group.traits.is_empty()
                    && (all
                        || group
                            .traits
                            .iter()
                            .any(|t| f.is_some_and(|f| f.trait_matches(m, t))));
                if members {
                    out.push((Node::Members(g), all));
                }
                if traits {
                    out.push((Node::Traits(g), all));
                }
                if all && !group.calls.is_empty() {
                    out.push((Node::Calls(g), true));
                }
            }
            Node::Members(g) => {
                for ms in m.members(g) {
                    let node = Node::Member(g, ms.user);
                    if keep(node) {
                        out.push((node, true));
                    }
                }
            }
            Node::Trait(g, e) => {
                if let Some(t) = m.group(g).traits.get(e as usize) {
                    out.extend((0..t.changes.len() as u32).map(|c| (Node::Change(g, e, c), true)));
                }
            }
            Node::Calls(g) => {
                out.extend(m.group_calls(g).rev().map(|(id, _)| (Node::Call(id), true)));
            }
            Node::Member(..) | Node::Change(..) | Node::Call(_) => {}
        }
        out
    }
}

/// One view's flattened tree, its selection and scroll position.
#[derive(Debug, Clone)]
pub struct Tree {
    rows: Vec<Row>,
    selected: usize,
    offset: usize,
    height: usize,
}

impl Tree {
    /// The top level of `view`: every user, or every group in `order`, narrowed by the filter.
    pub fn new(ctx: Ctx<'_>, view: View, order: &[GroupId]) -> Tree {
        let top = |node: Node| {
            let hit = ctx.hit(node);
            (ctx.filter.is_none() || hit != Hit::None).then_some(Row {
                node,
                parent: NO_PARENT,
                depth: 0,
                expanded: false,
                unfiltered: ctx.filter.is_none() || hit == Hit::Direct,
            })
        };
        let rows = match view {
            View::Users => (0..ctx.model.users().len() as u32)
                .filter_map(|u| top(Node::User(UserId(u))))
                .collect(),
            View::Groups => order.iter().filter_map(|&g| top(Node::Group(g))).collect(),
        };
        Tree {
            rows,
            selected: 0,
            offset: 0,
            height: 1,
        }
    }

    /// The rows in the list.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Index of the selected row.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// The selected row.
    pub fn selected_row(&self) -> Option<&Row> {
        self.rows.get(self.selected)
    }

    /// The selected node.
    pub fn selected_node(&self) -> Option<Node> {
        self.selected_row().map(|r| r.node)
    }

    /// The first row in the window.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Sets the window height and scrolls so the selection is inside it.
    pub fn set_height(&mut self, height: usize) {
        self.height = height.max(1);
        self.scroll_into_view();
    }

    /// The rows in the window, with their indexes.
    pub fn window(&self) -> impl Iterator<Item = (usize, &Row)> {
        let end = (self.offset + self.height).min(self.rows.len());
        (self.offset..end).map(move |i| (i, &self.rows[i]))
    }

    /// Selects row `index` (clamped).
    pub fn select(&mut self, index: usize) {
        self.selected = index.min(self.rows.len().saturating_sub(1));
        self.scroll_into_view();
    }

    /// Moves the selection by `delta` rows.
    pub fn move_by(&mut self, delta: isize) {
        let target = self.selected.saturating_add_signed(delta);
        self.select(target);
    }

    /// Moves one window down.
    pub fn page_down(&mut self) {
        self.move_by(self.height.saturating_sub(1).max(1) as isize);
    }

    /// Moves one window up.
    pub fn page_up(&mut self) {
        self.move_by(-(self.height.saturating_sub(1).max(1) as isize));
    }

    /// Scrolls the window by `delta` rows without moving the selection out of it.
    pub fn scroll_by(&mut self, delta: isize) {
        let max = self.rows.len().saturating_sub(self.height);
        self.offset = self.offset.saturating_add_signed(delta).min(max);
        let last = self.offset + self.height - 1;
        self.selected = self.selected.clamp(self.offset, last.max(self.offset));
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    /// Selects the row at `y` rows below the top of the window; `false` when there is none.
    pub fn select_in_window(&mut self, y: usize) -> bool {
        let index = self.offset + y;
        if index < self.rows.len() {
            self.select(index);
            true
        } else {
            false
        }
    }

    fn scroll_into_view(&mut self) {
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + self.height {
            self.offset = self.selected + 1 - self.height;
        }
        let max = self.rows.len().saturating_sub(self.height);
        self.offset = self.offset.min(max);
    }

    /// Expands the selected row; `false` when it has nothing to show.
    pub fn expand(&mut self, ctx: Ctx<'_>) -> bool {
        self.expand_at(ctx, self.selected)
    }

    /// Expands row `index`; `false` when it is open already or has nothing to show.
    pub fn expand_at(&mut self, ctx: Ctx<'_>, index: usize) -> bool {
        let Some(row) = self.rows.get(index).copied() else {
            return false;
        };
        if row.expanded || !ctx.has_children(row.node) {
            return false;
        }
        let kids = ctx.children(&row);
        if kids.is_empty() {
            return false;
        }
        let n = kids.len();
        for r in &mut self.rows[index + 1..] {
            if r.parent != NO_PARENT && r.parent as usize > index {
                r.parent += n as u32;
            }
        }
        let new_rows = kids.into_iter().map(|(node, unfiltered)| Row {
            node,
            parent: index as u32,
            depth: row.depth.saturating_add(1),
            expanded: false,
            unfiltered,
        });
        self.rows.splice(index + 1..index + 1, new_rows);
        self.rows[index].expanded = true;
        if self.selected > index {
            self.selected += n;
        }
        true
    }

    /// Collapses the selected row; `false` when it was not expanded.
    pub fn collapse(&mut self) -> bool {
        self.collapse_at(self.selected)
    }

    /// Collapses row `index` (its subtree is dropped); `false` when it was not expanded.
    pub fn collapse_at(&mut self, index: usize) -> bool {
        if !self.rows.get(index).is_some_and(|r| r.expanded) {
            return false;
        }
        let end = self.subtree_end(index);
        let n = end - index - 1;
        self.rows.drain(index + 1..end);
        for r in &mut self.rows[index + 1..] {
            if r.parent != NO_PARENT && r.parent as usize >= end {
                r.parent -= n as u32;
            }
        }
        self.rows[index].expanded = false;
        if self.selected > index && self.selected < end {
            self.selected = index;
        } else if self.selected >= end {
            self.selected -= n;
        }
        self.scroll_into_view();
        true
    }

    /// Selects the parent of the selected row; `false` at the top level.
    pub fn select_parent(&mut self) -> bool {
        match self.selected_row().map(|r| r.parent) {
            Some(p) if p != NO_PARENT => {
                self.select(p as usize);
                true
            }
            _ => false,
        }
    }

    /// One past the last row below `index`.
    fn subtree_end(&self, index: usize) -> usize {
        let depth = self.rows[index].depth;
        self.rows[index + 1..]
            .iter()
            .position(|r| r.depth <= depth)
            .map_or(self.rows.len(), |p| index + 1 + p)
    }

    /// The next row after `from` (exclusive, wrapping; backwards when `forward` is false) that
    /// matches the filter, or holds a match and is still closed.
    fn next_match_from(&self, ctx: Ctx<'_>, from: usize, forward: bool) -> Option<usize> {
        let n = self.rows.len();
        (1..=n)
            .map(|k| {
                if forward {
                    (from + k) % n
                } else {
                    (from + n * 2 - k) % n
                }
            })
            .find(|&i| {
                let r = &self.rows[i];
                match ctx.hit(r.node) {
                    Hit::Direct => true,
                    Hit::Within => !r.expanded,
                    Hit::None => false,
                }
            })
    }

    /// Selects the next row whose own text matches the filter, opening closed rows that hold
    /// a match on the way; `false` when nothing matches.
    pub fn seek_match(&mut self, ctx: Ctx<'_>, forward: bool) -> bool {
        let mut from = self.selected;
        // Each round opens one level; the depth of the tree bounds the rounds.
        for _ in 0..16 {
            let Some(i) = self.next_match_from(ctx, from, forward) else {
                return false;
            };
            let row = self.rows[i];
            if ctx.hit(row.node) == Hit::Direct || !self.expand_at(ctx, i) {
                self.select(i);
                return true;
            }
            from = if forward { i } else { self.subtree_end(i) };
        }
        false
    }

    /// Puts the top-level group rows in `order` (every group, or a superset of those in the
    /// list), keeping every open subtree and the selected node. No allocation per row: with
    /// 100,000 groups this runs on a key press.
    pub fn reorder(&mut self, order: &[GroupId]) {
        let selected = self.selected_node();
        let slots = order.iter().map(|g| g.0 as usize + 1).max().unwrap_or(0);
        let mut blocks: Vec<(u32, u32)> = vec![(0, 0); slots];
        let mut i = 0;
        while i < self.rows.len() {
            let end = self.subtree_end(i);
            if let Node::Group(g) = self.rows[i].node
                && let Some(block) = blocks.get_mut(g.0 as usize)
            {
                *block = (i as u32, end as u32);
            }
            i = end;
        }
        let mut rows = Vec::with_capacity(self.rows.len());
        for g in order {
            if let Some(&(start, end)) = blocks.get(g.0 as usize) {
                rows.extend_from_slice(&self.rows[start as usize..end as usize]);
            }
        }
        self.rows = rows;
        self.relink();
        let index = selected
            .and_then(|s| self.rows.iter().position(|r| r.node == s))
            .unwrap_or(0);
        self.select(index);
    }

    /// Recomputes every parent link from the depths.
    fn relink(&mut self) {
        let mut stack: Vec<u32> = Vec::new();
        for i in 0..self.rows.len() {
            let depth = self.rows[i].depth as usize;
            stack.truncate(depth);
            self.rows[i].parent = stack.last().copied().unwrap_or(NO_PARENT);
            stack.push(i as u32);
        }
    }

    /// Selects the row for `node` if it is in the list; `false` otherwise.
    pub fn select_node(&mut self, node: Node) -> bool {
        match self.rows.iter().position(|r| r.node == node) {
            Some(i) => {
                self.select(i);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
