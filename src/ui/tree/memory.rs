//! Carrying a tree's position over to another model of the same input: the next partial model
//! of a load, the final one, or a reload. Ids are renumbered between models (groups and users
//! are sorted by their id text, calls by group), so open rows and the selection are remembered
//! by what they name (group and user ids, trait keys, where a call came from) and found again
//! in the new model, as far as they still exist.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::model::{CallId, GroupId, Model, Origin, UserId};

use super::{Ctx, NO_PARENT, Node, Tree};

/// A node named by text and origins rather than by ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A user, by its label (userId, else its first anonymousId).
    User(String),
    /// A group under a user: user label, group id.
    UserGroup(String, String),
    /// A group, by its id.
    Group(String),
    /// A group's members.
    Members(String),
    /// One member: group id, user label.
    Member(String, String),
    /// A group's current traits.
    Traits(String),
    /// One trait: group id, trait key.
    Trait(String, String),
    /// One change of a trait: group id, trait key, where the call that made it came from.
    Change(String, String, Origin),
    /// A group's calls.
    Calls(String),
    /// One call: its group's id and where it came from.
    Call(String, Origin),
}

impl Key {
    /// What `node` of `model` names; `None` for a node the model does not hold.
    pub fn of(model: &Model, node: Node) -> Option<Key> {
        let group = |g: GroupId| -> Option<String> {
            let group = model.groups().get(g.0 as usize)?;
            Some(model.str(group.id).to_string())
        };
        let user = |u: UserId| -> Option<String> {
            model.users().get(u.0 as usize)?;
            Some(model.user_label(u).to_string())
        };
        let trait_key = |g: GroupId, e: u32| -> Option<String> {
            let t = model.groups().get(g.0 as usize)?.traits.get(e as usize)?;
            Some(model.str(t.key).to_string())
        };
        Some(match node {
            Node::User(u) => Key::User(user(u)?),
            Node::UserGroup(u, g) => Key::UserGroup(user(u)?, group(g)?),
            Node::Group(g) => Key::Group(group(g)?),
            Node::Members(g) => Key::Members(group(g)?),
            Node::Member(g, u) => Key::Member(group(g)?, user(u)?),
            Node::Traits(g) => Key::Traits(group(g)?),
            Node::Trait(g, e) => Key::Trait(group(g)?, trait_key(g, e)?),
            Node::Change(g, e, c) => {
                let t = model.groups().get(g.0 as usize)?.traits.get(e as usize)?;
                let change = model.entry_changes(t).get(c as usize)?;
                let origin = model.calls().get(change.call as usize)?.origin;
                Key::Change(group(g)?, trait_key(g, e)?, origin)
            }
            Node::Calls(g) => Key::Calls(group(g)?),
            Node::Call(id) => {
                let call = model.calls().get(id.0 as usize)?;
                Key::Call(group(call.group)?, call.origin)
            }
        })
    }

    /// The node this key names in `model`, if it is there.
    pub fn find(&self, model: &Model) -> Option<Node> {
        let trait_index = |g: GroupId, key: &str| -> Option<u32> {
            let at = model
                .group(g)
                .traits
                .iter()
                .position(|t| model.str(t.key) == key)?;
            u32::try_from(at).ok()
        };
        Some(match self {
            Key::User(u) => Node::User(model.find_user(u)?),
            Key::UserGroup(u, g) => Node::UserGroup(model.find_user(u)?, model.find_group(g)?),
            Key::Group(g) => Node::Group(model.find_group(g)?),
            Key::Members(g) => Node::Members(model.find_group(g)?),
            Key::Member(g, u) => Node::Member(model.find_group(g)?, model.find_user(u)?),
            Key::Traits(g) => Node::Traits(model.find_group(g)?),
            Key::Trait(g, key) => {
                let g = model.find_group(g)?;
                Node::Trait(g, trait_index(g, key)?)
            }
            Key::Change(g, key, origin) => {
                let g = model.find_group(g)?;
                let e = trait_index(g, key)?;
                let t = &model.group(g).traits[e as usize];
                let c = model
                    .entry_changes(t)
                    .iter()
                    .position(|ch| model.call(CallId(ch.call)).origin == *origin)?;
                Node::Change(g, e, u32::try_from(c).ok()?)
            }
            Key::Calls(g) => Node::Calls(model.find_group(g)?),
            Key::Call(g, origin) => {
                let g = model.find_group(g)?;
                let (id, _) = model.group_calls(g).find(|(_, c)| c.origin == *origin)?;
                Node::Call(id)
            }
        })
    }
}

/// Where a tree stood, in terms that survive a change of model.
#[derive(Debug, Clone, Default)]
pub struct TreeMemory {
    /// The path (top level first) of every open row, parents before children.
    open: Vec<Vec<Key>>,
    /// The path of the selected row.
    selected: Vec<Key>,
    /// The selected index, for when nothing of its path is left.
    index: usize,
    /// How many rows below the top of the window the selection was.
    screen_row: usize,
    /// The window height.
    height: usize,
}

/// A hash of a row's path, built one level at a time.
fn step_hash(parent: u64, node: Node) -> u64 {
    let mut h = DefaultHasher::new();
    parent.hash(&mut h);
    node.hash(&mut h);
    h.finish()
}

/// The hash a path of nodes ends with.
fn path_hash(path: &[Node]) -> u64 {
    path.iter().fold(0, |h, &n| step_hash(h, n))
}

impl Tree {
    /// The nodes from the top level down to row `index`.
    fn path_to(&self, index: usize) -> Vec<Node> {
        let mut path = Vec::new();
        let mut i = index as u32;
        while let Some(row) = self.rows.get(i as usize) {
            path.push(row.node);
            if row.parent == NO_PARENT {
                break;
            }
            i = row.parent;
        }
        path.reverse();
        path
    }

    /// Remembers the open rows, the selection and the scroll position, by name (`model` is the
    /// one this tree was built from).
    pub fn remember(&self, model: &Model) -> TreeMemory {
        let keys = |path: Vec<Node>| -> Vec<Key> {
            path.into_iter().map_while(|n| Key::of(model, n)).collect()
        };
        let open = (0..self.rows.len())
            .filter(|&i| self.rows[i].expanded)
            .map(|i| keys(self.path_to(i)))
            .collect();
        TreeMemory {
            open,
            selected: keys(self.path_to(self.selected)),
            index: self.selected,
            screen_row: self.selected.saturating_sub(self.offset),
            height: self.height,
        }
    }

    /// Opens the rows `memory` had open and selects what it had selected (or the nearest of its
    /// parents that is left), at the same height in the window. The tree is fresh from
    /// [`Tree::new`] over `ctx`; one pass over its rows does it.
    pub fn restore(&mut self, ctx: Ctx<'_>, memory: &TreeMemory) {
        let nodes =
            |keys: &[Key]| -> Vec<Node> { keys.iter().map_while(|k| k.find(ctx.model)).collect() };
        let mut open: HashSet<u64> = memory
            .open
            .iter()
            .filter_map(|keys| {
                let path = nodes(keys);
                (path.len() == keys.len()).then(|| path_hash(&path))
            })
            .collect();
        // Each prefix of the selected path: the deepest one found is selected.
        let selected = nodes(&memory.selected);
        let wanted: Vec<u64> = (1..=selected.len())
            .map(|n| path_hash(&selected[..n]))
            .collect();
        let mut found: Option<(usize, usize)> = None;
        let mut stack: Vec<u64> = Vec::new();
        let mut i = 0;
        while i < self.rows.len() {
            let row = self.rows[i];
            stack.truncate(row.depth as usize);
            let h = step_hash(stack.last().copied().unwrap_or(0), row.node);
            stack.push(h);
            if wanted.get(stack.len() - 1) == Some(&h) {
                found = Some((stack.len(), i));
            }
            if open.remove(&h) {
                self.expand_at(ctx, i);
            }
            let done_selecting = found.is_some_and(|(depth, _)| depth == wanted.len());
            if open.is_empty() && (done_selecting || wanted.is_empty()) {
                break;
            }
            i += 1;
        }
        self.height = memory.height.max(1);
        let index = found.map_or(memory.index, |(_, i)| i);
        self.selected = index.min(self.rows.len().saturating_sub(1));
        self.offset = self.selected.saturating_sub(memory.screen_row);
        self.scroll_into_view();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testdata::{EVENTS, LATER, model_from};
    use crate::ui::tree::{GroupSort, View};

    fn plan(m: &Model, g: GroupId) -> u32 {
        let at = m
            .group(g)
            .traits
            .iter()
            .position(|t| m.str(t.key) == "plan");
        at.unwrap() as u32
    }

    fn open_nodes(t: &Tree) -> Vec<Node> {
        t.rows()
            .iter()
            .filter(|r| r.expanded)
            .map(|r| r.node)
            .collect()
    }

    #[test]
    fn open_rows_and_selection_follow_their_names_into_a_renumbered_model() {
        let (old, new) = (model_from(EVENTS), model_from(&format!("{EVENTS}{LATER}")));
        let (acme, acme2) = (
            old.find_group("g-acme").unwrap(),
            new.find_group("g-acme").unwrap(),
        );
        // g-aaa sorts first: every group id moves.
        assert_ne!(acme, acme2);
        let ctx = |m| Ctx {
            model: m,
            filter: None,
        };
        let mut t = Tree::new(ctx(&old), View::Groups, &GroupSort::Name.order(&old));
        t.set_height(4);
        assert!(t.select_node(Node::Group(acme)) && t.expand(ctx(&old)));
        assert!(t.select_node(Node::Traits(acme)) && t.expand(ctx(&old)));
        let p = plan(&old, acme);
        assert!(t.select_node(Node::Trait(acme, p)) && t.expand(ctx(&old)));
        // The newest plan change, "pro → enterprise" (index 2 of 3).
        assert!(t.select_node(Node::Change(acme, p, 2)));
        let screen_row = t.selected() - t.offset();
        let memory = t.remember(&old);

        let order = GroupSort::Name.order(&new);
        let mut carried = Tree::new(ctx(&new), View::Groups, &order);
        carried.restore(ctx(&new), &memory);
        let p2 = plan(&new, acme2);
        assert_eq!(
            open_nodes(&carried),
            vec![
                Node::Group(acme2),
                Node::Traits(acme2),
                Node::Trait(acme2, p2)
            ]
        );
        // The older call from LATER went first in the history: the same change is now 3 of 5.
        assert_eq!(carried.selected_node(), Some(Node::Change(acme2, p2, 3)));
        let change = new.entry_changes(&new.group(acme2).traits[p2 as usize])[3];
        assert_eq!(new.str(change.new), "\"enterprise\"");
        assert!(carried.offset() > 0);
        assert_eq!(carried.selected() - carried.offset(), screen_row);
    }

    #[test]
    fn users_view_calls_and_a_selection_that_went_away() {
        let (old, new) = (model_from(EVENTS), model_from(&format!("{EVENTS}{LATER}")));
        let ctx = |m| Ctx {
            model: m,
            filter: None,
        };
        let bob = old.find_user("bob").unwrap();
        let acme = old.find_group("g-acme").unwrap();
        let mut t = Tree::new(ctx(&old), View::Users, &[]);
        assert!(t.select_node(Node::User(bob)) && t.expand(ctx(&old)));
        assert!(t.select_node(Node::UserGroup(bob, acme)));
        let mut carried = Tree::new(ctx(&new), View::Users, &[]);
        carried.restore(ctx(&new), &t.remember(&old));
        let (bob2, acme2) = (
            new.find_user("bob").unwrap(),
            new.find_group("g-acme").unwrap(),
        );
        assert_eq!(open_nodes(&carried), vec![Node::User(bob2)]);
        assert_eq!(carried.selected_node(), Some(Node::UserGroup(bob2, acme2)));

        // A call, by where it came from; then back to a model without it: its parent is
        // selected instead (the Calls row of the group, which is still there and open).
        let order = GroupSort::Name.order(&new);
        let mut t = Tree::new(ctx(&new), View::Groups, &order);
        assert!(t.select_node(Node::Group(acme2)) && t.expand(ctx(&new)));
        assert!(t.select_node(Node::Calls(acme2)) && t.expand(ctx(&new)));
        let carol_call = new
            .group_calls(acme2)
            .find(|(_, c)| new.user_label(c.user) == "carol")
            .unwrap()
            .0;
        assert!(t.select_node(Node::Call(carol_call)));
        let memory = t.remember(&new);
        let mut same = Tree::new(ctx(&new), View::Groups, &order);
        same.restore(ctx(&new), &memory);
        assert_eq!(same.selected_node(), Some(Node::Call(carol_call)));
        let mut back = Tree::new(ctx(&old), View::Groups, &GroupSort::Name.order(&old));
        back.restore(ctx(&old), &memory);
        assert_eq!(back.selected_node(), Some(Node::Calls(acme)));
        assert_eq!(
            open_nodes(&back),
            vec![Node::Group(acme), Node::Calls(acme)]
        );
    }
}
