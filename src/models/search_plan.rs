//! How a contact search is run at a million rows. PostgreSQL cannot tell a
//! rare word from a word in every row (its estimates for `LIKE '%…%'` only
//! look at the pattern's length), and a trigram index lookup for a word in
//! every row (an email domain, say) reads posting lists of a million entries.
//! So we judge each word against a small sample of the search text and choose:
//! the rarest word drives the trigram index; common words are checked on the
//! rows it finds; when every word is common, the list's sort index is walked
//! and rows are checked until a page is full, which is quick precisely because
//! matches are common. A complete email address uses the email index.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use diesel::{prelude::*, sql_types::Text};

/// Below this share of rows a word is rare enough for the trigram index.
pub const RARE: f64 = 0.01;
const SAMPLE_ROWS: f64 = 20_000.0;
/// How long one sample serves the searches of an app (see `AppState`).
pub const SAMPLE_LIFETIME: Duration = Duration::from_secs(600);
/// The fewest sampled contacts whose shares steer a plan.
pub const SAMPLE_EVIDENCE: usize = 1_000;
/// How long a thin sample (under `SAMPLE_EVIDENCE` rows) serves: it was
/// taken when few contacts were live, as while a million come back from the
/// trash, and its shares say nothing once they are.
pub const THIN_SAMPLE_LIFETIME: Duration = Duration::from_secs(10);

/// What the list can filter on, for one sampled contact.
pub struct SampleRow {
    pub text: String,
    pub contact_type: String,
    pub level: String,
    pub owner_id: Option<i64>,
    pub label_ids: Vec<i64>,
}

/// About 20,000 random live contacts, as the list's filters see them.
pub struct Sample {
    rows: Vec<SampleRow>,
    /// Live contacts in all, as estimated when the sample was taken.
    total: f64,
    /// Plans made on this sample, by what they were made of: a pass over
    /// the sample costs more than the page it plans (a third of a
    /// common-word search's time under load), and paging through a search
    /// asks for the same plan again and again.
    plans: Mutex<HashMap<PlanKey, Plan>>,
    /// What the sample says of filters without words, kept likewise: a
    /// filtered page asks it on every request.
    sizes: Mutex<HashMap<PlanKey, Sampled>>,
}

/// What the sample says of a set of filters: the share of sampled contacts
/// that pass them, and about how many live contacts that makes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampled {
    pub share: f64,
    pub matches: f64,
    /// How many live contacts the sample holds: a share of a handful says
    /// little (a list whose contacts were all just trashed samples none).
    pub rows: usize,
}

/// What a plan is made of: the words and the filters the sample can check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlanKey {
    pub terms: Vec<String>,
    pub contact_type: Option<&'static str>,
    pub level: Option<&'static str>,
    pub owner: Option<i64>,
    pub label: Option<i64>,
}

/// Plans (and sizes) kept per sample; past this a memo starts afresh (a
/// sample lives ten minutes).
const PLANS_KEPT: usize = 1_000;

/// The value kept in `memo` for `key`, made by `make` the first time.
fn remembered<T: Clone>(
    memo: &Mutex<HashMap<PlanKey, T>>,
    key: PlanKey,
    make: impl FnOnce() -> T,
) -> T {
    let lock = || memo.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(kept) = lock().get(&key) {
        return kept.clone();
    }
    let made = make();
    let mut kept = lock();
    if kept.len() >= PLANS_KEPT {
        kept.clear();
    }
    kept.insert(key, made.clone());
    made
}

impl Sample {
    pub fn load(conn: &mut PgConnection) -> QueryResult<Sample> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            search_text: String,
            #[diesel(sql_type = Text)]
            contact_type: String,
            #[diesel(sql_type = Text)]
            level: String,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
            owner_id: Option<i64>,
            #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::BigInt>)]
            label_ids: Vec<i64>,
        }
        const COLUMNS: &str = "search_text, contact_type, level, owner_id, label_ids";
        let total = super::contact_list::estimate_all(conn)?.max(1) as f64;
        // Block sampling reads ~1% of a million-row table, not all of it.
        let percent = (SAMPLE_ROWS / total * 100.0).clamp(0.01, 100.0);
        let rows: Vec<Row> = if percent >= 100.0 {
            diesel::sql_query(format!(
                "SELECT {COLUMNS} FROM contacts c WHERE deleted_at IS NULL LIMIT 20000"
            ))
            .load(conn)?
        } else {
            diesel::sql_query(format!(
                "SELECT {COLUMNS} FROM contacts c TABLESAMPLE SYSTEM ({percent:.4}) WHERE deleted_at IS NULL LIMIT 40000"
            ))
            .load(conn)?
        };
        Ok(Sample {
            rows: rows
                .into_iter()
                .map(|r| SampleRow {
                    text: r.search_text,
                    contact_type: r.contact_type,
                    level: r.level,
                    owner_id: r.owner_id,
                    label_ids: r.label_ids,
                })
                .collect(),
            total,
            plans: Mutex::default(),
            sizes: Mutex::default(),
        })
    }

    /// Too few sampled contacts for their shares to mean anything.
    pub fn is_thin(&self) -> bool {
        self.rows.len() < SAMPLE_EVIDENCE
    }

    /// Thin, though the table was large enough to be sampled by blocks:
    /// under about 50,000 of its rows were live contacts.
    fn is_mostly_trash(&self) -> bool {
        self.is_thin() && self.total > SAMPLE_ROWS
    }

    /// How long this sample may steer plans.
    pub fn lifetime(&self) -> Duration {
        if self.is_thin() {
            THIN_SAMPLE_LIFETIME
        } else {
            SAMPLE_LIFETIME
        }
    }

    /// What the sample says of the filters `key` names, which `filters`
    /// checks on a sampled contact; worked out the first time only.
    pub fn sampled(&self, key: PlanKey, filters: impl Fn(&SampleRow) -> bool) -> Sampled {
        remembered(&self.sizes, key, || {
            let share = self.tally(&[], filters).1;
            Sampled {
                share,
                matches: share * self.total,
                rows: self.rows.len(),
            }
        })
    }

    /// The plan made on this sample for `key`, made by `make` the first time.
    pub fn plan(&self, key: PlanKey, make: impl FnOnce(&Sample) -> Plan) -> Plan {
        remembered(&self.plans, key, || make(self))
    }

    /// In one pass over the sample (20,000 texts: each pass costs about a
    /// millisecond): the share of sampled contacts containing each of
    /// `terms`, and the share that contain them all and pass `filters`.
    pub fn tally(&self, terms: &[String], filters: impl Fn(&SampleRow) -> bool) -> (Vec<f64>, f64) {
        let finders: Vec<memchr::memmem::Finder> = terms
            .iter()
            .map(|t| memchr::memmem::Finder::new(t.as_bytes()))
            .collect();
        let mut hits = vec![0usize; terms.len()];
        let mut joint = 0usize;
        for r in &self.rows {
            let mut all = true;
            for (f, n) in finders.iter().zip(hits.iter_mut()) {
                if f.find(r.text.as_bytes()).is_some() {
                    *n += 1;
                } else {
                    all = false;
                }
            }
            if all && filters(r) {
                joint += 1;
            }
        }
        let of = |n: usize| {
            if self.rows.is_empty() {
                0.0
            } else {
                n as f64 / self.rows.len() as f64
            }
        };
        (hits.into_iter().map(of).collect(), of(joint))
    }
}

/// How each search word is matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TermUse {
    /// Through the trigram index.
    Indexed(String),
    /// Checked on rows found otherwise.
    Filter(String),
    /// A whole email address, through the email index.
    Email(String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub terms: Vec<TermUse>,
    /// When every word is common: about how many contacts match the rarest.
    pub common_matches: Option<f64>,
}

impl Plan {
    /// Every word through the trigram index, PostgreSQL choosing the plan: for
    /// small lists such as the trash, where no sample is worth taking.
    pub fn unplanned(terms: &[String]) -> Plan {
        Plan {
            terms: terms.iter().map(|t| TermUse::Indexed(t.clone())).collect(),
            common_matches: None,
        }
    }

    /// `filters` says whether a sampled contact passes the list's other
    /// filters (type, level, owner, label): a combination of common words and
    /// common filters can still be rare, and walking the sort index for a
    /// rare combination reads the whole table.
    pub fn new(terms: &[String], sample: &Sample, filters: impl Fn(&SampleRow) -> bool) -> Plan {
        if let Some(email) = terms.iter().find(|t| looks_like_email(t)) {
            let mut out = vec![TermUse::Email(email.clone())];
            out.extend(
                terms
                    .iter()
                    .filter(|t| *t != email)
                    .map(|t| TermUse::Filter(t.clone())),
            );
            return Plan {
                terms: out,
                common_matches: None,
            };
        }
        if terms.is_empty() {
            return Plan::default();
        }
        // A thin sample drawn from a large table finds every word rare: the
        // table is nearly all trash (as while a million contacts come back
        // from it). Sent to the trigram index, a common word's bitmap would
        // re-read each trashed row the index lists until vacuum (0.6 s a
        // page in the jobs bench); walking the sort index reads live
        // contacts, which the sample says are few, and marks dead entries.
        if sample.is_mostly_trash() {
            return Plan {
                terms: terms.iter().map(|t| TermUse::Filter(t.clone())).collect(),
                common_matches: None,
            };
        }
        let (frequency, joint) = sample.tally(terms, filters);
        // Walk the sort index only when a page fills quickly; otherwise the
        // rarest word drives the trigram index, however common it is.
        let rarest = if joint >= RARE {
            None
        } else {
            // A word shorter than three letters has no trigram to look up
            // (the index would be read whole): only when there is no other.
            terms
                .iter()
                .zip(&frequency)
                .map(|(t, f)| (t.chars().count() < 3, *f, t))
                .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
                .map(|(_, _, t)| t.clone())
        };
        Plan {
            common_matches: rarest.is_none().then_some(joint * sample.total),
            terms: terms
                .iter()
                .zip(&frequency)
                .map(|(t, f)| {
                    // Another rare word of three letters or more narrows the
                    // index lookup itself ("mary smith": a few rows to read
                    // instead of every Mary); a shorter one has no trigram
                    // and a common one a long posting list to merge.
                    let also_rare = rarest.is_some() && t.chars().count() >= 3 && *f < RARE;
                    if Some(t) == rarest.as_ref() || also_rare {
                        TermUse::Indexed(t.clone())
                    } else {
                        TermUse::Filter(t.clone())
                    }
                })
                .collect(),
        }
    }

    pub fn uses_trigram_index(&self) -> bool {
        self.terms.iter().any(|t| matches!(t, TermUse::Indexed(_)))
    }

    pub fn walks_sort_index(&self) -> bool {
        !self.terms.is_empty() && self.terms.iter().all(|t| matches!(t, TermUse::Filter(_)))
    }
}

fn looks_like_email(t: &str) -> bool {
    let mut parts = t.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(d), None) if !a.is_empty() && d.contains('.') && !d.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sample {
        let mut rows: Vec<SampleRow> = (0..1000)
            .map(|i| SampleRow {
                text: format!("person {i} x{i}@example.com 8529000{i:04}"),
                contact_type: if i % 2 == 0 {
                    "lead".into()
                } else {
                    "customer".into()
                },
                level: "primary".into(),
                owner_id: Some(1),
                label_ids: if i % 4 == 1 { vec![9] } else { vec![] },
            })
            .collect();
        rows[7].text = "mei chan harbour foods mei@harbour.hk 85291234567".into();
        Sample {
            rows,
            total: 1000.0,
            plans: Mutex::default(),
            sizes: Mutex::default(),
        }
    }

    #[test]
    fn the_rarest_word_drives_the_index_and_common_ones_filter() {
        let plan = Plan::new(&["example.com".into(), "harbour".into()], &sample(), |_| {
            true
        });
        assert_eq!(
            plan.terms,
            [
                TermUse::Filter("example.com".into()),
                TermUse::Indexed("harbour".into())
            ]
        );
        assert!(plan.uses_trigram_index());
    }

    #[test]
    fn every_rare_word_of_three_letters_narrows_the_index_lookup() {
        let plan = Plan::new(
            &[
                "zq".into(),
                "chan".into(),
                "person".into(),
                "harbour".into(),
            ],
            &sample(),
            |_| true,
        );
        assert_eq!(
            plan.terms,
            [
                TermUse::Filter("zq".into()),
                TermUse::Indexed("chan".into()),
                TermUse::Filter("person".into()),
                TermUse::Indexed("harbour".into())
            ],
            "'zq' is in no row but has no trigram; 'person' is in most"
        );
    }

    #[test]
    fn a_thin_sample_of_a_large_table_walks_the_sort_index_and_is_soon_taken_again() {
        let mut thin = sample();
        thin.rows.truncate(SAMPLE_EVIDENCE - 1);
        assert!(
            Plan::new(&["harbour".into()], &thin, |_| true).uses_trigram_index(),
            "a small table: its index lists nothing else"
        );
        thin.total = 1_000_000.0;
        let plan = Plan::new(&["harbour".into()], &thin, |_| true);
        assert!(plan.walks_sort_index(), "999 live rows in a million");
        assert_eq!(plan.common_matches, None, "so the matches are counted");
        assert_eq!(thin.lifetime(), THIN_SAMPLE_LIFETIME);
        assert_eq!(
            sample().lifetime(),
            SAMPLE_LIFETIME,
            "a full sample serves its whole lifetime"
        );
        let email = Plan::new(&["mei@harbour.hk".into()], &thin, |_| true);
        assert_eq!(email.terms, [TermUse::Email("mei@harbour.hk".into())]);
    }

    #[test]
    fn only_common_words_walk_the_sort_index() {
        let plan = Plan::new(&["person".into(), "example".into()], &sample(), |_| true);
        assert!(plan.walks_sort_index());
        assert!(!plan.uses_trigram_index());
        assert_eq!(
            plan.common_matches,
            Some(999.0),
            "all but the one row 7 replaced"
        );
    }

    #[test]
    fn common_words_with_filters_that_never_meet_use_the_index() {
        // Leads are even, label 9 only on odd rows: together, nobody.
        let plan = Plan::new(&["person".into()], &sample(), |r| {
            r.contact_type == "lead" && r.label_ids.contains(&9)
        });
        assert!(plan.uses_trigram_index(), "a walk would read every row");
        let plan = Plan::new(&["person".into()], &sample(), |r| {
            r.contact_type == "customer" && r.label_ids.contains(&9)
        });
        assert!(
            plan.walks_sort_index(),
            "a quarter of rows match: a page fills at once"
        );
    }

    #[test]
    fn whole_emails_use_the_email_index() {
        let plan = Plan::new(&["mei@harbour.hk".into(), "chan".into()], &sample(), |_| {
            true
        });
        assert_eq!(plan.terms[0], TermUse::Email("mei@harbour.hk".into()));
        assert!(!looks_like_email("@harbour"));
        assert!(!looks_like_email("mei@"));
    }

    #[test]
    fn a_plan_is_made_once_per_sample_and_key() {
        let s = sample();
        let key = |terms: &[&str], label| PlanKey {
            terms: terms.iter().map(|t| t.to_string()).collect(),
            contact_type: None,
            level: None,
            owner: None,
            label,
        };
        let made = std::cell::Cell::new(0);
        let make = |s: &Sample| {
            made.set(made.get() + 1);
            Plan::new(&["mei".into()], s, |_| true)
        };
        let first = s.plan(key(&["mei"], None), make);
        assert_eq!(s.plan(key(&["mei"], None), make), first);
        assert_eq!(made.get(), 1);
        s.plan(key(&["mei"], Some(3)), make);
        assert_eq!(made.get(), 2, "another filter is another plan");

        let checked = std::cell::Cell::new(0);
        let pass = |_: &SampleRow| {
            checked.set(checked.get() + 1);
            true
        };
        let all = s.sampled(key(&[], None), pass);
        assert_eq!(
            all,
            Sampled {
                share: 1.0,
                matches: 1000.0,
                rows: 1000,
            }
        );
        assert_eq!(s.sampled(key(&[], None), pass), all);
        assert_eq!(checked.get(), s.rows.len(), "one pass over the sample");
    }

    #[test]
    fn an_empty_sample_trusts_the_index() {
        let plan = Plan::new(
            &["anything".into()],
            &Sample {
                rows: Vec::new(),
                total: 0.0,
                plans: Mutex::default(),
                sizes: Mutex::default(),
            },
            |_| true,
        );
        assert!(plan.uses_trigram_index());
    }
}
