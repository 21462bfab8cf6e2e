//! Compiling a query over a whole model, fast enough for 100,000 groups and 600,000 users.
//!
//! Every interned string is matched once, reading the string table front to back on every
//! core ([`scan`]), into a bit per string; users and groups are then flagged from their
//! strings' bits. (Matching each user's and group's strings where they are jumps all over
//! memory: with 600,000 users that took half a second.) While a query is typed, each next
//! query extends the last one, so only what matched the last one can match: [`Compiler`]
//! looks only at that.

use memchr::memmem::Finder;

use super::{Filter, GroupHit, Hit, Matcher, scan, shape};
use crate::model::{GroupId, Model, Sym, UserId, display_value};

/// Compiles the queries of one search box one after another, narrowing the last filter when
/// the query extends its query (as typing does). Lives on the search thread.
#[derive(Debug, Default)]
pub struct Compiler {
    last: Option<Filter>,
}

impl Compiler {
    /// The filter of `query` over `model`.
    pub fn compile(&mut self, model: &Model, query: &str) -> Filter {
        let filter = match &self.last {
            Some(last) => Filter::narrowed(last, model, query),
            None => Filter::new(model, query),
        };
        self.last = Some(filter.clone());
        filter
    }
}

impl Filter {
    /// Compiles `query` against every group and user of `model`.
    pub fn new(model: &Model, query: &str) -> Filter {
        Filter::build(model, query, None)
    }

    /// Compiles `query` knowing `last`: when `last` was compiled for `model` and `query`
    /// extends its query, only what `last` matched is looked at again (a string holding the
    /// longer query holds the shorter one too, in any case mode smart case picks).
    pub fn narrowed(last: &Filter, model: &Model, query: &str) -> Filter {
        if last.fits(model) && query.starts_with(last.query()) {
            Filter::build(model, query, Some(last))
        } else {
            Filter::new(model, query)
        }
    }

    fn build(model: &Model, query: &str, last: Option<&Filter>) -> Filter {
        // Smart case: ASCII case is ignored unless the query has a capital letter.
        let ignore_case = !query.chars().any(char::is_uppercase)
            && query.bytes().any(|b| b.is_ascii_alphabetic());
        let needle = if ignore_case {
            query.to_ascii_lowercase().into_bytes()
        } else {
            query.as_bytes().to_vec()
        };
        let matcher = Matcher {
            finder: Finder::new(&needle).into_owned(),
            needle,
            ignore_case,
        };
        let started = std::time::Instant::now();
        let strings = match last.filter(|l| l.few_strings()) {
            Some(last) => matcher.strings_among(model, &last.strings),
            None => matcher.strings_matching(model),
        };
        let t_strings = started.elapsed();
        let mut filter = Filter {
            query: query.to_string(),
            matcher,
            groups: Vec::new(),
            users: Vec::new(),
            strings,
            shape: shape(model),
        };
        let user_direct = filter.users_matching(model, last);
        let t_users = started.elapsed();
        filter.groups = filter.groups_matching(model, &user_direct, last);
        // A user is shown for its own ids, or for a group that matches by itself; not because
        // some other member of one of its groups matched. Walking the matching groups' members
        // reads far less than asking every user about its groups.
        let mut users: Vec<Hit> = user_direct
            .iter()
            .map(|&d| if d { Hit::Direct } else { Hit::None })
            .collect();
        for (g, hit) in filter.groups.iter().enumerate() {
            if *hit >= GroupHit::Trait {
                for m in model.members(GroupId(g as u32)) {
                    let u = &mut users[m.user.0 as usize];
                    if *u == Hit::None {
                        *u = Hit::Within;
                    }
                }
            }
        }
        filter.users = users;
        if std::env::var_os("GROUPSCOPE_DEBUG").is_some() {
            eprintln!(
                "groupscope: search {query:?}{}: strings {:.1} ms, users {:.1} ms, groups and members {:.1} ms",
                if last.is_some() { " (narrowed)" } else { "" },
                t_strings.as_secs_f64() * 1e3,
                (t_users - t_strings).as_secs_f64() * 1e3,
                (started.elapsed() - t_users).as_secs_f64() * 1e3,
            );
        }
        filter
    }

    /// Whether few enough strings matched that checking each again beats reading them all.
    fn few_strings(&self) -> bool {
        let set: u64 = self.strings.iter().map(|w| u64::from(w.count_ones())).sum();
        set * 16 < self.strings.len() as u64 * 64
    }

    /// Whether an interned string of the model it was compiled for contains the query.
    pub(super) fn sym_matches(&self, sym: Sym) -> bool {
        let i = sym.0 as usize;
        self.strings
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Which users' own ids match, from the strings' bits, on every core; with `last`, only
    /// users whose ids matched it are looked at.
    fn users_matching(&self, model: &Model, last: Option<&Filter>) -> Vec<bool> {
        let n = model.users().len();
        let mut out = vec![false; n];
        let chunk = n.div_ceil(threads()).max(4096);
        std::thread::scope(|scope| {
            for (i, part) in out.chunks_mut(chunk).enumerate() {
                scope.spawn(move || {
                    for (j, hit) in part.iter_mut().enumerate() {
                        let u = UserId((i * chunk + j) as u32);
                        if last.is_some_and(|l| !l.user_direct(u)) {
                            continue;
                        }
                        let user = model.user(u);
                        *hit = user.user_id.is_some_and(|s| self.sym_matches(s))
                            || user.anonymous_ids.iter().any(|&a| self.sym_matches(a));
                    }
                });
            }
        });
        out
    }

    /// How each group matches, on every core; with `last`, only groups that matched it are
    /// looked at.
    fn groups_matching(
        &self,
        model: &Model,
        user_direct: &[bool],
        last: Option<&Filter>,
    ) -> Vec<GroupHit> {
        let any_user = user_direct.iter().any(|&d| d);
        // A string's bit also counts its JSON-decoded text (see `strings_matching`), so a name
        // value matches when its text does, unless the query has a quote (which the stored
        // value has around the text).
        let name = model.sym("name");
        let raw_names = !self.query.contains('"');
        let mut groups = vec![GroupHit::None; model.groups().len()];
        let chunk = groups.len().div_ceil(threads()).max(4096);
        std::thread::scope(|scope| {
            for (c, part) in groups.chunks_mut(chunk).enumerate() {
                scope.spawn(move || {
                    for (i, hit) in part.iter_mut().enumerate() {
                        let g = GroupId((c * chunk + i) as u32);
                        if last.is_some_and(|l| l.groups[g.0 as usize] == GroupHit::None) {
                            continue;
                        }
                        let group = model.group(g);
                        *hit = if self.sym_matches(group.id)
                            || self.name_matches(model, g, name, raw_names)
                        {
                            GroupHit::Direct
                        } else if group.traits.iter().any(|t| self.entry_matches(t)) {
                            GroupHit::Trait
                        } else if any_user
                            && model
                                .members(g)
                                .iter()
                                .any(|m| user_direct[m.user.0 as usize])
                        {
                            GroupHit::Member
                        } else {
                            GroupHit::None
                        };
                    }
                });
            }
        });
        groups
    }

    /// Whether the group's name (a string `name` trait) contains the query; `raw`: its stored
    /// value's bit says so.
    fn name_matches(&self, model: &Model, g: GroupId, name: Option<Sym>, raw: bool) -> bool {
        let Some(name) = name else {
            return false;
        };
        let Some(entry) = model.group(g).traits.iter().find(|t| t.key == name) else {
            return false;
        };
        if raw {
            self.sym_matches(entry.value) && model.str(entry.value).starts_with('"')
        } else {
            model.group_name(g).is_some_and(|n| self.matches(&n))
        }
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |t| t.get())
}

impl Matcher {
    /// Whether the stored string holds the needle, or its text does when it is a JSON string
    /// value with escapes.
    fn string_matches(&self, text: &str) -> bool {
        self.matches(text)
            || text.starts_with('"')
                && memchr::memchr(b'\\', text.as_bytes()).is_some()
                && self.matches(&display_value(text))
    }

    /// One bit per interned string of `model`: whether it holds the needle (see
    /// [`Matcher::string_matches`]). The string table is read front to back ([`scan`]),
    /// split over every core.
    fn strings_matching(&self, model: &Model) -> Vec<u64> {
        let (text, spans) = model.string_table();
        let mut bits = vec![0u64; spans.len().div_ceil(64)];
        let words = bits.len().div_ceil(threads()).max(1024);
        let needle = scan::Needle {
            finder: &self.finder,
            len: self.needle.len(),
            fold: self.ignore_case,
        };
        std::thread::scope(|scope| {
            for (c, part) in bits.chunks_mut(words).enumerate() {
                let first = c * words * 64;
                let spans = &spans[first..(first + part.len() * 64).min(spans.len())];
                let needle = &needle;
                scope.spawn(move || {
                    scan::mark(text.as_bytes(), spans, needle, part);
                    // Escapes are rare: their strings are decoded and matched one by one.
                    for k in scan::with_escapes(text.as_bytes(), spans) {
                        let (start, len) = spans[k];
                        let Some(value) = text.get(start as usize..(start + len) as usize) else {
                            continue;
                        };
                        if part[k / 64] & (1 << (k % 64)) == 0 && self.string_matches(value) {
                            part[k / 64] |= 1 << (k % 64);
                        }
                    }
                });
            }
        });
        bits
    }

    /// [`Matcher::strings_matching`] for a longer needle than `last`'s: only the strings whose
    /// bit `last` set are matched again.
    fn strings_among(&self, model: &Model, last: &[u64]) -> Vec<u64> {
        let mut bits = vec![0u64; last.len()];
        for (w, (&was, now)) in last.iter().zip(bits.iter_mut()).enumerate() {
            let mut rest = was;
            while rest != 0 {
                let b = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                if self.string_matches(model.str(Sym((w * 64 + b) as u32))) {
                    *now |= 1 << b;
                }
            }
        }
        bits
    }
}
