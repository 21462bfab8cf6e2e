//! Search: the query being typed, and the [`Filter`] it compiles to.
//!
//! A filter matches user ids (userId and anonymousIds), group ids and names, and current trait
//! keys and values. It is computed once per query over the whole model (a flag per group and per
//! user), so narrowing the tree and highlighting rows stay cheap however big the input is.
//! Matching is smart-case: a query with no capital letters ignores ASCII case.

use std::cell::RefCell;
use std::ops::Range;

use memchr::memmem::Finder;

use crate::model::{GroupId, Model, Sym, TraitEntry, UserId};

/// How a node relates to the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hit {
    /// Neither it nor anything below it matches.
    None,
    /// Something below it matches (a trait, a member), not its own label.
    Within,
    /// Its own label matches: everything below it is shown.
    Direct,
}

/// How a group matched, from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum GroupHit {
    None,
    /// Only through a member's id.
    Member,
    /// Through a current trait key or value.
    Trait,
    /// Its id or name.
    Direct,
}

/// Longest text lowercased on the stack; longer text takes the slower byte-by-byte path.
const STACK_FOLD: usize = 256;

/// A compiled query.
#[derive(Debug, Clone)]
pub struct Filter {
    query: String,
    matcher: Matcher,
    groups: Vec<GroupHit>,
    users: Vec<Hit>,
    /// Per interned string: 0 unknown, 1 no match, 2 match (trait keys and values repeat a lot).
    memo: RefCell<Vec<u8>>,
    /// Groups, users and events of the model it was compiled for (see [`Filter::fits`]).
    shape: (usize, usize, u64),
}

impl Filter {
    /// Compiles `query` against every group and user of `model`.
    pub fn new(model: &Model, query: &str) -> Filter {
        // Smart case: ASCII case is ignored unless the query has a capital letter.
        let ignore_case = !query.chars().any(char::is_uppercase)
            && query.bytes().any(|b| b.is_ascii_alphabetic());
        let needle = if ignore_case {
            query.to_ascii_lowercase().into_bytes()
        } else {
            query.as_bytes().to_vec()
        };
        let mut filter = Filter {
            query: query.to_string(),
            matcher: Matcher {
                finder: Finder::new(&needle).into_owned(),
                needle,
                ignore_case,
            },
            groups: Vec::new(),
            users: Vec::new(),
            memo: RefCell::new(Vec::new()),
            shape: shape(model),
        };
        let user_direct = filter.users_matching(model);
        filter.groups = (0..model.groups().len())
            .map(|g| {
                let g = GroupId(g as u32);
                let group = model.group(g);
                if filter.matches(model.str(group.id))
                    || model.group_name(g).is_some_and(|n| filter.matches(&n))
                {
                    GroupHit::Direct
                } else if group.traits.iter().any(|t| filter.trait_matches(model, t)) {
                    GroupHit::Trait
                } else if model
                    .members(g)
                    .iter()
                    .any(|m| user_direct[m.user.0 as usize])
                {
                    GroupHit::Member
                } else {
                    GroupHit::None
                }
            })
            .collect();
        // A user is shown for its own ids, or for a group that matches by itself; not because
        // some other member of one of its groups matched.
        filter.users = (0..model.users().len())
            .map(|u| {
                if user_direct[u] {
                    Hit::Direct
                } else if model
                    .user_groups(UserId(u as u32))
                    .any(|m| filter.groups[m.group.0 as usize] >= GroupHit::Trait)
                {
                    Hit::Within
                } else {
                    Hit::None
                }
            })
            .collect();
        filter
    }

    /// Whether it was compiled for `model`. Models of one input loaded so far differ in how
    /// many events they hold, so the counts tell a partial model from the next one.
    pub fn fits(&self, model: &Model) -> bool {
        self.shape == shape(model)
    }

    /// The query as typed.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// How a group relates to the query (Groups view: members count).
    pub fn group(&self, id: GroupId) -> Hit {
        match self.groups.get(id.0 as usize) {
            Some(GroupHit::Direct) => Hit::Direct,
            Some(GroupHit::Trait | GroupHit::Member) => Hit::Within,
            _ => Hit::None,
        }
    }

    /// How a group under a user relates to the query (Users view: other members don't count).
    pub fn user_group(&self, id: GroupId) -> Hit {
        match self.groups.get(id.0 as usize) {
            Some(GroupHit::Direct) => Hit::Direct,
            Some(GroupHit::Trait) => Hit::Within,
            _ => Hit::None,
        }
    }

    /// How a user relates to the query.
    pub fn user(&self, id: UserId) -> Hit {
        self.users.get(id.0 as usize).copied().unwrap_or(Hit::None)
    }

    /// Whether the user's own ids match (not its groups).
    pub fn user_direct(&self, id: UserId) -> bool {
        self.user(id) == Hit::Direct
    }

    /// Whether a trait's key or current value matches.
    pub fn trait_matches(&self, model: &Model, entry: &TraitEntry) -> bool {
        self.sym_matches(model, entry.key) || self.sym_matches(model, entry.value)
    }

    /// Groups that match or hold a match.
    pub fn group_count(&self) -> usize {
        self.groups.iter().filter(|h| **h != GroupHit::None).count()
    }

    /// Whether `text` contains the query.
    pub fn matches(&self, text: &str) -> bool {
        self.matcher.matches(text)
    }

    /// Byte ranges of every (non-overlapping) match in `text`, for highlighting.
    pub fn ranges(&self, text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut from = 0;
        let len = self.matcher.needle.len();
        while let Some(at) = self.matcher.find(text.as_bytes(), from) {
            out.push(at..at + len);
            from = at + len.max(1);
        }
        out
    }

    /// `matches` for an interned string, remembered per symbol.
    fn sym_matches(&self, model: &Model, sym: Sym) -> bool {
        let i = sym.0 as usize;
        if let Ok(memo) = self.memo.try_borrow()
            && let Some(&known) = memo.get(i)
            && known != 0
        {
            return known == 2;
        }
        let hit = self.matches(model.str(sym));
        if let Ok(mut memo) = self.memo.try_borrow_mut() {
            if memo.len() <= i {
                memo.resize(i + 1, 0);
            }
            memo[i] = if hit { 2 } else { 1 };
        }
        hit
    }

    /// Which users' own ids match, checked on every core: each id is a separate string, so this
    /// is the part of a search that grows with the input.
    fn users_matching(&self, model: &Model) -> Vec<bool> {
        let n = model.users().len();
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let chunk = n.div_ceil(threads).max(4096);
        let mut out = vec![false; n];
        std::thread::scope(|scope| {
            for (i, part) in out.chunks_mut(chunk).enumerate() {
                let matcher = &self.matcher;
                scope.spawn(move || {
                    for (j, hit) in part.iter_mut().enumerate() {
                        *hit = matcher.user_ids_match(model, UserId((i * chunk + j) as u32));
                    }
                });
            }
        });
        out
    }
}

/// What [`Filter::fits`] compares.
fn shape(model: &Model) -> (usize, usize, u64) {
    (
        model.groups().len(),
        model.users().len(),
        model.counts().events,
    )
}

/// The query's bytes and a prebuilt searcher; shared by the threads that check user ids.
#[derive(Debug, Clone)]
struct Matcher {
    needle: Vec<u8>,
    finder: Finder<'static>,
    ignore_case: bool,
}

impl Matcher {
    fn matches(&self, text: &str) -> bool {
        self.find(text.as_bytes(), 0).is_some()
    }

    fn user_ids_match(&self, model: &Model, id: UserId) -> bool {
        let user = model.user(id);
        user.user_id.is_some_and(|s| self.matches(model.str(s)))
            || user
                .anonymous_ids
                .iter()
                .any(|&a| self.matches(model.str(a)))
    }

    /// The first match at or after `from`. Folding ASCII case only keeps byte offsets valid.
    fn find(&self, hay: &[u8], from: usize) -> Option<usize> {
        let n = self.needle.len();
        if n == 0 || hay.len() < n || from > hay.len() - n {
            return None;
        }
        let hay = &hay[from..];
        if !self.ignore_case {
            return self.finder.find(hay).map(|i| i + from);
        }
        if hay.len() <= STACK_FOLD {
            let mut folded = [0u8; STACK_FOLD];
            for (f, b) in folded.iter_mut().zip(hay) {
                *f = b.to_ascii_lowercase();
            }
            return self.finder.find(&folded[..hay.len()]).map(|i| i + from);
        }
        let first = self.needle[0];
        let upper = first.to_ascii_uppercase();
        let last_start = hay.len() - n;
        let mut i = 0;
        while i <= last_start {
            let step = memchr::memchr2(first, upper, &hay[i..=last_start])?;
            let at = i + step;
            if hay[at..at + n].eq_ignore_ascii_case(&self.needle) {
                return Some(at + from);
            }
            i = at + 1;
        }
        None
    }
}

/// The search line: what is being typed and whether typing goes to it.
#[derive(Debug, Clone, Default)]
pub struct SearchInput {
    /// The text typed so far.
    pub text: String,
    /// Whether keys go to the input (between `/` and Enter or Esc).
    pub editing: bool,
}

impl SearchInput {
    /// Starts typing a new query, keeping the old text so it can be edited.
    pub fn start(&mut self) {
        self.editing = true;
    }

    /// Adds a typed character.
    pub fn push(&mut self, c: char) {
        self.text.push(c);
    }

    /// Removes the last character; `false` when there was none.
    pub fn pop(&mut self) -> bool {
        self.text.pop().is_some()
    }

    /// Stops typing, keeping the text.
    pub fn finish(&mut self) {
        self.editing = false;
    }

    /// Forgets the query.
    pub fn clear(&mut self) {
        self.text.clear();
        self.editing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testdata::model;

    #[test]
    fn smart_case_and_ranges() {
        let m = model();
        let f = Filter::new(&m, "acme");
        assert!(f.matches("ACME Corp"));
        assert_eq!(f.ranges("Acme and acme"), vec![0..4, 9..13]);
        let f = Filter::new(&m, "Acme");
        assert!(!f.matches("acme corp"));
        assert!(f.matches("The Acme"));
        assert_eq!(f.ranges("Zürich Acme"), vec![8..12]);
        assert!(Filter::new(&m, "").ranges("abc").is_empty());
    }

    #[test]
    fn groups_and_users_hit_by_id_name_trait_or_member() {
        let m = model();
        let acme = m.find_group("g-acme").unwrap();
        let globex = m.find_group("g-globex").unwrap();
        let alice = m.find_user("alice").unwrap();
        let bob = m.find_user("bob").unwrap();

        let f = Filter::new(&m, "globex");
        assert_eq!(f.group(globex), Hit::Direct);
        assert_eq!(f.group(acme), Hit::None);
        assert_eq!(f.user(bob), Hit::Within);
        assert_eq!(f.user(alice), Hit::None);

        // A trait value: acme's plan is "enterprise" now.
        let f = Filter::new(&m, "enterprise");
        assert_eq!(f.group(acme), Hit::Within);
        assert_eq!(f.group(globex), Hit::None);
        assert_eq!(f.user(alice), Hit::Within);

        // A user id: alice is a member of acme only. Bob, in acme too, is not shown for it.
        let f = Filter::new(&m, "alice");
        assert_eq!(f.user(alice), Hit::Direct);
        assert_eq!(f.group(acme), Hit::Within);
        assert_eq!(f.user_group(acme), Hit::None);
        assert_eq!(f.user(bob), Hit::None);
        assert_eq!(f.group(globex), Hit::None);
        assert_eq!(f.group_count(), 1);

        // Digits only: no case to fold.
        let f = Filter::new(&m, "2024");
        assert!(f.matches("x2024"));
        let long = format!("{}Acme", "x".repeat(300));
        assert_eq!(Filter::new(&m, "acme").ranges(&long), vec![300..304]);
    }
}
