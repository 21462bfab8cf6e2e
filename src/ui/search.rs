//! Search: the query being typed, and the [`Filter`] it compiles to.
//!
//! A filter matches user ids (userId and anonymousIds), group ids and names, and current trait
//! keys and values. It is computed once per query over the whole model (a flag per group and per
//! user), so narrowing the tree and highlighting rows stay cheap however big the input is.
//! Matching is smart-case: a query with no capital letters ignores ASCII case.

use std::ops::Range;

use memchr::memmem::Finder;

use crate::model::{GroupId, Model, TraitEntry, UserId};

mod compile;
mod scan;

pub use compile::Compiler;

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
    /// One bit per interned string: whether it contains the query.
    strings: Vec<u64>,
    /// Groups, users and events of the model it was compiled for (see [`Filter::fits`]).
    shape: (usize, usize, u64),
}

impl Filter {
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
    pub fn trait_matches(&self, _model: &Model, entry: &TraitEntry) -> bool {
        self.entry_matches(entry)
    }

    fn entry_matches(&self, entry: &TraitEntry) -> bool {
        self.sym_matches(entry.key) || self.sym_matches(entry.value)
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

    fn group(m: &Model, id: &str) -> GroupId {
        m.find_group(id).unwrap()
    }

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

        // Names are matched as text: escapes decoded, quotes only where the text has them.
        let m = crate::ui::testdata::model_from(concat!(
            r#"{"type":"group","messageId":"e1","userId":"u","groupId":"g-cafe","traits":{"name":"Caf\u00e9 \"Blue\"","plan":"x\u0079z"}}"#,
            "\n",
            r#"{"type":"group","messageId":"e2","userId":"v","groupId":"g-plain","traits":{"name":"Plain","motto":"say \"blue\""}}"#,
            "\n",
        ));
        let (cafe, plain) = (group(&m, "g-cafe"), group(&m, "g-plain"));
        let f = Filter::new(&m, "café");
        assert_eq!((f.group(cafe), f.group(plain)), (Hit::Direct, Hit::None));
        let f = Filter::new(&m, "\"blue\"");
        assert_eq!((f.group(cafe), f.group(plain)), (Hit::Direct, Hit::Within));
        let f = Filter::new(&m, "xyz");
        assert_eq!((f.group(cafe), f.group(plain)), (Hit::Within, Hit::None));
        let f = Filter::new(&m, "plain");
        assert_eq!((f.group(cafe), f.group(plain)), (Hit::None, Hit::Direct));

        // Typing narrows the last filter: the same answers as compiling afresh, through a
        // switch to case-sensitive, escapes and quotes, and back to a shorter query.
        let m = crate::ui::testdata::model_from(&format!(
            "{}{}",
            crate::ui::testdata::EVENTS,
            r#"{"type":"group","messageId":"e1","userId":"u","groupId":"g-cafe","traits":{"name":"Caf\u00e9 \"Blue\""}}"#,
        ));
        let mut compiler = Compiler::default();
        for q in [
            "a", "ac", "acm", "acmE", "a", "c", "ca", "caf", "café", "\"", "\"b", "\"blue\"", "g-",
        ] {
            let (narrowed, fresh) = (compiler.compile(&m, q), Filter::new(&m, q));
            assert_eq!(narrowed.strings, fresh.strings, "{q}");
            assert_eq!(narrowed.groups, fresh.groups, "{q}");
            assert_eq!(narrowed.users, fresh.users, "{q}");
        }

        // Digits only: no case to fold.
        let f = Filter::new(&m, "2024");
        assert!(f.matches("x2024"));
        let long = format!("{}Acme", "x".repeat(300));
        assert_eq!(Filter::new(&m, "acme").ranges(&long), vec![300..304]);
    }
}
