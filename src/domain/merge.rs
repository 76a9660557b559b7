//! Merging duplicate records into one: which value each field takes, and
//! how phones, emails and social IDs are united. Pure, so that the wizard's
//! preview and the merge itself decide the same way.

use std::collections::HashMap;

use crate::domain::duplicate::{normal_email, phone_digits};

/// The record a field takes its value from when nobody chose: the kept
/// record's, or where it has none the first record (in the order shown)
/// that has one. `values` holds (record id, value) for every record.
pub fn default_source(kept: i64, values: &[(i64, &str)]) -> i64 {
    let has = |v: &str| !v.trim().is_empty();
    if values.iter().any(|(id, v)| *id == kept && has(v)) {
        return kept;
    }
    values
        .iter()
        .find(|(_, v)| has(v))
        .map(|(id, _)| *id)
        .unwrap_or(kept)
}

/// Whether a field needs a choice: the records do not all hold the same
/// value.
pub fn differ(values: &[&str]) -> bool {
    values.windows(2).any(|w| w[0] != w[1])
}

/// Which list a value belongs to; each has its own idea of "the same".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collection {
    Phones,
    Emails,
    Socials,
}

/// A phone, email or social ID of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub id: i64,
    pub kind: String,
    pub value: String,
    pub verified: bool,
}

/// What makes two values the same: phones by their digits, emails case
/// aside, social IDs by network and handle, case and spaces aside.
pub fn same_key(col: Collection, kind: &str, value: &str) -> String {
    match col {
        Collection::Phones => phone_digits(value),
        Collection::Emails => normal_email(value),
        Collection::Socials => format!("{kind}:{}", value.trim().to_lowercase()),
    }
}

/// What the kept record gains from the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Union {
    /// Values of the other records the kept one lacks, first occurrence
    /// first, each verified if any of its copies was.
    pub add: Vec<Item>,
    /// The kept record's own values (by id) that another record holds
    /// verified: verified wins over unverified.
    pub verify: Vec<i64>,
}

/// Unites the kept record's values with the others' (in the order shown),
/// collapsing the same value into one.
pub fn unite(col: Collection, kept: &[Item], others: &[Item]) -> Union {
    let mut verified_anywhere: HashMap<String, bool> = HashMap::new();
    for i in kept.iter().chain(others) {
        *verified_anywhere
            .entry(same_key(col, &i.kind, &i.value))
            .or_default() |= i.verified;
    }
    let mut seen: HashMap<String, ()> = HashMap::new();
    let mut out = Union::default();
    for i in kept {
        let key = same_key(col, &i.kind, &i.value);
        if !i.verified && verified_anywhere.get(&key).copied().unwrap_or(false) {
            // Only the first of the kept record's own copies is marked.
            if seen.insert(key, ()).is_none() {
                out.verify.push(i.id);
            }
        } else {
            seen.insert(key, ());
        }
    }
    for i in others {
        let key = same_key(col, &i.kind, &i.value);
        if seen.insert(key.clone(), ()).is_none() {
            out.add.push(Item {
                verified: verified_anywhere.get(&key).copied().unwrap_or(i.verified),
                ..i.clone()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item(id: i64, value: &str, verified: bool) -> Item {
        Item {
            id,
            kind: "work".into(),
            value: value.into(),
            verified,
        }
    }

    #[test]
    fn the_kept_records_value_wins_unless_it_has_none() {
        assert_eq!(default_source(2, &[(1, "Acme"), (2, "Globex")]), 2);
        assert_eq!(default_source(2, &[(1, "Acme"), (2, "")]), 1);
        assert_eq!(default_source(2, &[(1, " "), (2, ""), (3, "X")]), 3);
        assert_eq!(default_source(2, &[(1, ""), (2, "")]), 2);
    }

    #[test]
    fn a_field_differs_when_any_two_records_hold_different_values() {
        assert!(!differ(&["a", "a", "a"]));
        assert!(differ(&["a", "", "a"]));
        assert!(!differ(&["a"]));
    }

    #[test]
    fn phones_collapse_by_their_digits_and_verified_wins() {
        let kept = [item(1, "+85291234567", false)];
        let others = [
            item(2, "+852 9123 4567", true),
            item(3, "+85260000000", false),
        ];
        let u = unite(Collection::Phones, &kept, &others);
        assert_eq!(u.verify, vec![1]);
        assert_eq!(u.add, vec![item(3, "+85260000000", false)]);
    }

    #[test]
    fn emails_collapse_case_aside_keeping_the_first_spelling() {
        let kept = [item(1, "mei@example.com", false)];
        let others = [
            item(2, "Mei@Example.com", false),
            item(3, "MEI.CHAN@example.com", false),
            item(4, "mei.chan@example.com", true),
        ];
        let u = unite(Collection::Emails, &kept, &others);
        assert!(u.verify.is_empty());
        assert_eq!(u.add, vec![item(3, "MEI.CHAN@example.com", true)]);
    }

    #[test]
    fn social_ids_are_the_same_only_on_the_same_network() {
        let kept = [Item {
            id: 1,
            kind: "whatsapp".into(),
            value: "+85291234567".into(),
            verified: false,
        }];
        let others = [Item {
            id: 2,
            kind: "wechat".into(),
            value: "+85291234567".into(),
            verified: false,
        }];
        assert_eq!(unite(Collection::Socials, &kept, &others).add.len(), 1);
    }

    proptest! {
        /// The default value is the kept record's when it has one, else the
        /// first non-empty one in the order shown, and always one of the
        /// records'.
        #[test]
        fn the_default_choice_prefers_the_kept_record_then_the_first_value(
            values in prop::collection::vec(prop::sample::select(vec!["", " ", "Acme", "Globex"]), 1..6),
            kept in any::<prop::sample::Index>(),
        ) {
            let records: Vec<(i64, &str)> = values.iter().enumerate().map(|(i, v)| (i as i64 + 1, *v)).collect();
            let kept = records[kept.index(records.len())].0;
            let chosen = default_source(kept, &records);
            prop_assert!(records.iter().any(|(id, _)| *id == chosen));
            let value = |id: i64| records.iter().find(|(i, _)| *i == id).map(|(_, v)| v.trim()).unwrap_or("");
            if !value(kept).is_empty() {
                prop_assert_eq!(chosen, kept);
            } else if let Some((first, _)) = records.iter().find(|(_, v)| !v.trim().is_empty()) {
                prop_assert_eq!(chosen, *first);
            } else {
                prop_assert_eq!(chosen, kept);
            }
            // Whether a field is offered: some two records differ.
            prop_assert_eq!(differ(&values), values.iter().any(|v| *v != values[0]));
        }
    }

    fn items(max: usize) -> impl Strategy<Value = Vec<(u8, bool)>> {
        prop::collection::vec((0u8..6, any::<bool>()), 0..max)
    }

    proptest! {
        /// Every value of every record ends up on the kept one exactly
        /// once, verified if any copy was; the kept record's own values
        /// stay.
        #[test]
        fn the_union_holds_every_value_once(kept in items(4), others in items(8)) {
            let spell = |n: u8, alt: bool| if alt {
                format!("+852 9{n}00 0000")
            } else {
                format!("+8529{n}000000")
            };
            let kept: Vec<Item> = kept.iter().enumerate()
                .map(|(i, (n, v))| item(i as i64, &spell(*n, false), *v)).collect();
            let others: Vec<Item> = others.iter().enumerate()
                .map(|(i, (n, v))| item(100 + i as i64, &spell(*n, i % 2 == 0), *v)).collect();
            let u = unite(Collection::Phones, &kept, &others);
            let key = |i: &Item| phone_digits(&i.value);
            let mut result: Vec<(String, bool)> = kept.iter()
                .map(|i| (key(i), i.verified || u.verify.contains(&i.id)))
                .chain(u.add.iter().map(|i| (key(i), i.verified)))
                .collect();
            for i in kept.iter().chain(&others) {
                let any_verified = kept.iter().chain(&others)
                    .any(|j| key(j) == key(i) && j.verified);
                prop_assert!(result.iter().any(|(k, _)| *k == key(i)));
                // The first copy on the result carries the verdict.
                let first = result.iter().find(|(k, _)| *k == key(i)).map(|(_, v)| *v);
                prop_assert_eq!(first, Some(any_verified));
            }
            // Added values are new: none repeats a kept or earlier added one.
            let kept_keys: Vec<String> = kept.iter().map(key).collect();
            for (n, a) in u.add.iter().enumerate() {
                prop_assert!(!kept_keys.contains(&key(a)));
                prop_assert!(!u.add[..n].iter().any(|b| key(b) == key(a)));
            }
            result.clear();
        }
    }
}
