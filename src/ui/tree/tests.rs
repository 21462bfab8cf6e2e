//! Tests of the flattened tree: expanding, collapsing, sorting, filtering, scrolling.

use super::*;
use crate::ui::testdata::model;

fn nodes(t: &Tree) -> Vec<(u8, Node)> {
    t.rows().iter().map(|r| (r.depth, r.node)).collect()
}

fn check_parents(t: &Tree) {
    for (i, r) in t.rows().iter().enumerate() {
        if r.depth == 0 {
            assert_eq!(r.parent, NO_PARENT, "row {i}");
        } else {
            let p = &t.rows()[r.parent as usize];
            assert_eq!(p.depth + 1, r.depth, "row {i}");
            assert!(p.expanded && (r.parent as usize) < i, "row {i}");
        }
    }
}

#[test]
fn expand_and_collapse_keep_parents_and_selection() {
    let m = model();
    let ctx = Ctx {
        model: &m,
        filter: None,
    };
    let order = GroupSort::Name.order(&m);
    let mut t = Tree::new(ctx, View::Groups, &order);
    let acme = m.find_group("g-acme").unwrap();
    let globex = m.find_group("g-globex").unwrap();
    assert_eq!(
        nodes(&t),
        vec![(0, Node::Group(acme)), (0, Node::Group(globex))]
    );
    t.select(1);
    assert!(t.expand_at(ctx, 0));
    assert_eq!(t.selected(), 4, "selection follows its row");
    assert_eq!(
        nodes(&t)[1..4],
        [
            (1, Node::Members(acme)),
            (1, Node::Traits(acme)),
            (1, Node::Calls(acme))
        ]
    );
    assert!(t.expand(ctx));
    t.select(2);
    assert!(t.expand(ctx)); // acme's traits
    check_parents(&t);
    let plan = m
        .group(acme)
        .traits
        .iter()
        .position(|e| m.str(e.key) == "plan")
        .unwrap() as u32;
    assert!(t.select_node(Node::Trait(acme, plan)));
    assert!(t.expand(ctx));
    assert!(t.select_node(Node::Change(acme, plan, 2)));
    check_parents(&t);
    assert!(t.select_parent());
    assert_eq!(t.selected_node(), Some(Node::Trait(acme, plan)));
    // Collapsing the group drops the whole subtree and keeps globex's link right.
    t.select(0);
    assert!(t.collapse());
    assert!(!t.collapse());
    assert_eq!(
        nodes(&t),
        vec![
            (0, Node::Group(acme)),
            (0, Node::Group(globex)),
            (1, Node::Members(globex)),
            (1, Node::Traits(globex)),
            (1, Node::Calls(globex))
        ]
    );
    check_parents(&t);
    // Leaves do not expand.
    assert!(t.select_node(Node::Members(globex)));
    t.expand(ctx);
    t.move_by(1);
    assert!(!t.expand(ctx));
}

#[test]
fn calls_are_newest_first_and_sorting_keeps_open_rows() {
    let m = model();
    let ctx = Ctx {
        model: &m,
        filter: None,
    };
    let acme = m.find_group("g-acme").unwrap();
    let globex = m.find_group("g-globex").unwrap();
    let mut t = Tree::new(ctx, View::Groups, &GroupSort::Name.order(&m));
    t.expand_at(ctx, 0);
    t.select_node(Node::Calls(acme));
    t.expand(ctx);
    let calls: Vec<Node> = t.rows()[4..7].iter().map(|r| r.node).collect();
    let times: Vec<i64> = calls
        .iter()
        .map(|n| match n {
            Node::Call(c) => m.call(*c).time.utc_ms,
            _ => panic!("{n:?}"),
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    // Last change: globex (2024-03-06) before acme (2024-03-05); acme stays open.
    let order = GroupSort::LastChange.order(&m);
    assert_eq!(order, vec![globex, acme]);
    t.reorder(&order);
    assert_eq!(t.rows()[0].node, Node::Group(globex));
    assert_eq!(t.rows()[1].node, Node::Group(acme));
    assert!(t.rows()[1].expanded);
    assert_eq!(t.selected_node(), Some(Node::Calls(acme)));
    check_parents(&t);
}

#[test]
fn filter_narrows_to_matching_branches() {
    let m = model();
    let f = Filter::new(&m, "hamburg");
    let ctx = Ctx {
        model: &m,
        filter: Some(&f),
    };
    let acme = m.find_group("g-acme").unwrap();
    let mut t = Tree::new(ctx, View::Groups, &GroupSort::Name.order(&m));
    assert_eq!(nodes(&t), vec![(0, Node::Group(acme))]);
    t.expand(ctx);
    assert_eq!(nodes(&t)[1..], [(1, Node::Traits(acme))]);
    t.move_by(1);
    t.expand(ctx);
    let city = m
        .group(acme)
        .traits
        .iter()
        .position(|e| m.str(e.key) == "address.city")
        .unwrap() as u32;
    assert_eq!(nodes(&t)[2..], [(2, Node::Trait(acme, city))]);
    // n from the top lands on the matching trait.
    t.select(0);
    assert!(t.seek_match(ctx, true));
    assert_eq!(t.selected(), 2);
    assert!(t.seek_match(ctx, false));
    assert_eq!(t.selected(), 2);
    // From a closed tree, n opens the way to the match, forwards and backwards.
    let mut t = Tree::new(ctx, View::Groups, &GroupSort::Name.order(&m));
    assert!(t.seek_match(ctx, true));
    assert_eq!(t.selected_node(), Some(Node::Trait(acme, city)));
    let mut t = Tree::new(ctx, View::Groups, &GroupSort::Name.order(&m));
    assert!(t.seek_match(ctx, false));
    assert_eq!(t.selected_node(), Some(Node::Trait(acme, city)));

    // Users view: only alice and bob (members of acme), and under them only acme.
    let mut u = Tree::new(ctx, View::Users, &[]);
    assert_eq!(u.rows().len(), 2);
    u.expand(ctx);
    assert_eq!(
        u.rows()[1].node,
        Node::UserGroup(u.rows()[0].node_user(), acme)
    );
    assert_eq!(u.rows().len(), 3);
}

#[test]
fn windows_scroll_with_the_selection() {
    let m = crate::ui::testdata::model_from(&many_groups(50));
    let ctx = Ctx {
        model: &m,
        filter: None,
    };
    let mut t = Tree::new(ctx, View::Groups, &GroupSort::Name.order(&m));
    t.set_height(10);
    assert_eq!(t.window().count(), 10);
    t.page_down();
    assert_eq!((t.selected(), t.offset()), (9, 0));
    t.page_down();
    assert_eq!((t.selected(), t.offset()), (18, 9));
    t.select(usize::MAX);
    assert_eq!((t.selected(), t.offset()), (49, 40));
    t.scroll_by(-35);
    assert_eq!((t.selected(), t.offset()), (14, 5));
    assert!(t.select_in_window(2));
    assert_eq!(t.selected(), 7);
    assert!(!t.select_in_window(60));
}

/// `n` groups with one call each.
pub(crate) fn many_groups(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"type":"group","messageId":"x{i}","userId":"u{i}","groupId":"g{i:03}","timestamp":"2024-01-01T00:00:00Z","traits":{{"name":"Group {i:03}"}}}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Row {
    fn node_user(&self) -> UserId {
        match self.node {
            Node::User(u) => u,
            _ => panic!("{:?}", self.node),
        }
    }
}
