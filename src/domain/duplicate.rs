//! When two contacts are likely the same person, and why. Pure rules, so that
//! the background detection, the profile's notice and the tests all judge the
//! same way, and every verdict comes with reasons a person can check:
//!
//! - the same email, case aside;
//! - the same phone digits, whatever the formatting, unless the number is
//!   shared by many contacts (a company switchboard makes nobody a
//!   duplicate of anybody);
//! - the same messaging ID (WhatsApp, WeChat, LINE…);
//! - a similar name (trigram similarity of the folded names, first and last
//!   in either order, at least `NAME_SIMILAR`) within the same company, city
//!   or email domain.
//!
//! A pair's score combines its reasons as independent evidence:
//! `1 - Π(1 - weight)`, so two weak reasons together outweigh one.

use std::collections::BTreeSet;

/// Trigram similarity from which two names count as similar (as PostgreSQL's
/// `pg_trgm` measures it, on folded names).
pub const NAME_SIMILAR: f64 = 0.55;
/// A phone number shared by more contacts than this is a switchboard, not
/// evidence.
pub const SHARED_PHONE: usize = 5;
/// Pairs scoring below this are not shown.
pub const MIN_SCORE: f64 = 0.6;

const W_EMAIL: f64 = 0.95;
const W_PHONE: f64 = 0.9;
const W_MESSAGING: f64 = 0.9;
const W_NAME_COMPANY: f64 = 0.7;
const W_NAME_EMAIL_DOMAIN: f64 = 0.65;
/// Below `MIN_SCORE` on purpose: in a city of millions namesakes are
/// common, so a similar name in the same city only adds to other evidence.
const W_NAME_CITY: f64 = 0.5;

/// A contact as the rules see it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Candidate {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub city: String,
    pub emails: Vec<String>,
    /// As stored (`+` and digits) or in any formatting.
    pub phones: Vec<String>,
    /// (kind, handle), such as ("whatsapp", "+85291234567").
    pub messaging: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    SameEmail(String),
    SamePhone(String),
    SameMessaging(String, String),
    SimilarNameSameCompany(String),
    SimilarNameSameEmailDomain(String),
    SimilarNameSameCity(String),
}

impl Reason {
    /// In plain words, for the Duplicates page.
    pub fn describe(&self) -> String {
        match self {
            Reason::SameEmail(e) => format!("same email, case aside ({e})"),
            Reason::SamePhone(p) => format!("same phone digits ({p})"),
            Reason::SameMessaging(k, h) => format!("same {k} ({h})"),
            Reason::SimilarNameSameCompany(c) => format!("similar name at the same company ({c})"),
            Reason::SimilarNameSameEmailDomain(d) => {
                format!("similar name with the same email domain ({d})")
            }
            Reason::SimilarNameSameCity(c) => format!("similar name in the same city ({c})"),
        }
    }

    fn weight(&self) -> f64 {
        match self {
            Reason::SameEmail(_) => W_EMAIL,
            Reason::SamePhone(_) => W_PHONE,
            Reason::SameMessaging(..) => W_MESSAGING,
            Reason::SimilarNameSameCompany(_) => W_NAME_COMPANY,
            Reason::SimilarNameSameEmailDomain(_) => W_NAME_EMAIL_DOMAIN,
            Reason::SimilarNameSameCity(_) => W_NAME_CITY,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub score: f64,
    pub reasons: Vec<Reason>,
}

/// An email as the comparison sees it: trimmed, lower-cased whole.
pub fn normal_email(e: &str) -> String {
    e.trim().to_lowercase()
}

/// A phone's digits, formatting aside.
pub fn phone_digits(p: &str) -> String {
    p.chars().filter(char::is_ascii_digit).collect()
}

/// Lower case, common Latin accents and marks removed, punctuation dropped,
/// spaces collapsed: "  José-María  O'Brien " → "jose maria obrien".
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let base = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
            'ç' | 'ć' | 'č' => 'c',
            'ď' | 'đ' => 'd',
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => 'i',
            'ł' => 'l',
            'ñ' | 'ń' | 'ň' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
            'ř' => 'r',
            'ś' | 'š' | 'ş' => 's',
            'ť' | 'ţ' => 't',
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
            'ý' | 'ÿ' => 'y',
            'ź' | 'ż' | 'ž' => 'z',
            'ß' => 's',
            c => c,
        };
        if base.is_alphanumeric() {
            out.push(base);
        } else if base.is_whitespace() || base == '-' {
            out.push(' ');
        }
        // Apostrophes, dots and the like join what they separate.
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The name's words, folded and sorted: first and last name in either order
/// give the same key.
pub fn name_words(first: &str, last: &str) -> Vec<String> {
    let mut words: Vec<String> = fold(&format!("{first} {last}"))
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    words.sort();
    words
}

/// PostgreSQL `pg_trgm`'s trigrams of a text: each word padded with two
/// spaces before and one after.
fn trigrams(text: &str) -> BTreeSet<[char; 3]> {
    let mut out = BTreeSet::new();
    for word in text.split_whitespace() {
        let padded: Vec<char> = "  "
            .chars()
            .chain(word.chars())
            .chain(std::iter::once(' '))
            .collect();
        for w in padded.windows(3) {
            out.insert([w[0], w[1], w[2]]);
        }
    }
    out
}

/// Shared trigrams over all trigrams, 0 to 1, as `pg_trgm`'s `similarity`.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (ta, tb) = (trigrams(a), trigrams(b));
    let union = ta.union(&tb).count();
    if union == 0 {
        return 0.0;
    }
    ta.intersection(&tb).count() as f64 / union as f64
}

/// Whether two names are similar: their sorted words compared by trigrams,
/// with an initial ("J.") standing for any word it begins.
pub fn similar_names(a: (&str, &str), b: (&str, &str)) -> bool {
    let (wa, wb) = (name_words(a.0, a.1), name_words(b.0, b.1));
    if wa.is_empty() || wb.is_empty() {
        return false;
    }
    if similarity(&wa.join(" "), &wb.join(" ")) >= NAME_SIMILAR {
        return true;
    }
    // "J Smith" and "John Smith": the full words equal, the initials fit,
    // whichever side has them.
    initials_fit(&wa, &wb) || initials_fit(&wb, &wa)
}

/// Whether every word of `short` is a word of `long` or the initial of one,
/// with at least one whole word and two words in all.
fn initials_fit(short: &[String], long: &[String]) -> bool {
    if short.len() > long.len() || short.len() < 2 {
        return false;
    }
    let mut rest: Vec<&String> = long.iter().collect();
    let mut full_words = 0;
    for w in short {
        let pos = if w.chars().count() == 1 {
            rest.iter().position(|l| l.starts_with(w.as_str()))
        } else {
            rest.iter()
                .position(|l| *l == w)
                .inspect(|_| full_words += 1)
        };
        match pos {
            Some(i) => {
                rest.remove(i);
            }
            None => return false,
        }
    }
    full_words > 0
}

fn email_domain(e: &str) -> Option<String> {
    normal_email(e).rsplit_once('@').map(|(_, d)| d.to_string())
}

/// Free-mail domains say nothing about where someone works.
pub fn is_free_mail(domain: &str) -> bool {
    matches!(
        domain,
        "gmail.com"
            | "yahoo.com"
            | "hotmail.com"
            | "outlook.com"
            | "icloud.com"
            | "live.com"
            | "qq.com"
            | "163.com"
            | "proton.me"
            | "protonmail.com"
            | "aol.com"
            | "gmx.de"
            | "yahoo.com.hk"
            | "example.com"
    )
}

/// Whether `a` and `b` are likely the same person, and why. `shared(digits)`
/// says how many contacts carry a phone number, so that a switchboard does
/// not count.
pub fn compare(a: &Candidate, b: &Candidate, shared: impl Fn(&str) -> usize) -> Option<Verdict> {
    let mut reasons = BTreeSet::new();
    let emails_b: BTreeSet<String> = b.emails.iter().map(|e| normal_email(e)).collect();
    for e in &a.emails {
        let e = normal_email(e);
        if !e.is_empty() && emails_b.contains(&e) {
            reasons.insert(Reason::SameEmail(e));
        }
    }
    let phones_b: BTreeSet<String> = b.phones.iter().map(|p| phone_digits(p)).collect();
    for p in &a.phones {
        let d = phone_digits(p);
        if d.len() >= 6 && phones_b.contains(&d) && shared(&d) <= SHARED_PHONE {
            reasons.insert(Reason::SamePhone(format!("+{d}")));
        }
    }
    for (kind, handle) in &a.messaging {
        let h = handle.trim().to_lowercase();
        if !h.is_empty()
            && b.messaging
                .iter()
                .any(|(k, o)| k.eq_ignore_ascii_case(kind) && o.trim().to_lowercase() == h)
        {
            reasons.insert(Reason::SameMessaging(
                kind.to_lowercase(),
                handle.trim().to_string(),
            ));
        }
    }
    if similar_names((&a.first_name, &a.last_name), (&b.first_name, &b.last_name)) {
        let (ca, cb) = (fold(&a.company), fold(&b.company));
        if !ca.is_empty() && ca == cb {
            reasons.insert(Reason::SimilarNameSameCompany(a.company.trim().to_string()));
        }
        let domains_b: BTreeSet<String> = b.emails.iter().filter_map(|e| email_domain(e)).collect();
        if let Some(d) = a
            .emails
            .iter()
            .filter_map(|e| email_domain(e))
            .find(|d| !is_free_mail(d) && domains_b.contains(d))
        {
            reasons.insert(Reason::SimilarNameSameEmailDomain(d));
        }
        let (ta, tb) = (fold(&a.city), fold(&b.city));
        if !ta.is_empty() && ta == tb {
            reasons.insert(Reason::SimilarNameSameCity(a.city.trim().to_string()));
        }
    }
    let reasons: Vec<Reason> = reasons.into_iter().collect();
    let score = 1.0 - reasons.iter().map(|r| 1.0 - r.weight()).product::<f64>();
    (score >= MIN_SCORE).then_some(Verdict { score, reasons })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn person(first: &str, last: &str) -> Candidate {
        Candidate {
            first_name: first.into(),
            last_name: last.into(),
            ..Candidate::default()
        }
    }

    fn alone(_: &str) -> usize {
        2
    }

    #[test]
    fn the_same_email_in_another_case_is_a_duplicate() {
        let mut a = person("Mei", "Chan");
        a.emails = vec!["Mei.Chan@Example.COM".into()];
        let mut b = person("May", "Wong");
        b.emails = vec![" mei.chan@example.com".into()];
        let v = compare(&a, &b, alone).expect("a duplicate");
        assert_eq!(
            v.reasons,
            [Reason::SameEmail("mei.chan@example.com".into())]
        );
        assert_eq!(
            v.reasons[0].describe(),
            "same email, case aside (mei.chan@example.com)"
        );
    }

    #[test]
    fn phone_formatting_does_not_matter_but_a_switchboard_is_no_evidence() {
        let mut a = person("Ann", "Lee");
        a.phones = vec!["+852 9123-4567".into()];
        let mut b = person("Bo", "Tam");
        b.phones = vec!["+85291234567".into()];
        assert_eq!(
            compare(&a, &b, alone).map(|v| v.reasons),
            Some(vec![Reason::SamePhone("+85291234567".into())])
        );
        assert_eq!(compare(&a, &b, |_| 40), None, "forty contacts share it");
    }

    #[test]
    fn names_match_swapped_accented_and_with_initials() {
        assert!(similar_names(("Chan", "Mei"), ("Mei", "Chan")));
        assert!(similar_names(("José", "Núñez"), ("Jose", "Nunez")));
        assert!(similar_names(("J.", "Smith"), ("John", "Smith")));
        assert!(
            similar_names(("John", "Smith"), ("J.", "Smith")),
            "either side"
        );
        assert!(
            similar_names(("Jonathan", "Smith"), ("Jonathon", "Smith")),
            "a typo"
        );
        assert!(similar_names(
            ("Mary-Ann", "O'Brien"),
            ("Mary Ann", "OBrien")
        ));
        assert!(!similar_names(("John", "Smith"), ("Jane", "Doe")));
        assert!(
            !similar_names(("J.", "Smith"), ("Kate", "Smith")),
            "the initial must fit"
        );
        assert!(!similar_names(("", ""), ("", "")));
    }

    #[test]
    fn a_similar_name_needs_a_shared_company_domain_or_city() {
        let mut a = person("Jonathan", "Smith");
        let mut b = person("Jonathon", "Smith");
        assert_eq!(compare(&a, &b, alone), None, "a name alone is not enough");
        a.company = "Acme Ltd".into();
        b.company = "ACME LTD ".into();
        let v = compare(&a, &b, alone).expect("same company");
        assert_eq!(
            v.reasons,
            [Reason::SimilarNameSameCompany("Acme Ltd".into())]
        );
        // Free mail says nothing; a company domain does.
        let mut c = person("Jon", "Smith");
        let mut d = person("Jon", "Smith");
        c.emails = vec!["jon1@gmail.com".into()];
        d.emails = vec!["jon2@gmail.com".into()];
        assert_eq!(compare(&c, &d, alone), None);
        c.emails = vec!["jon@acme.hk".into()];
        d.emails = vec!["j.smith@acme.hk".into()];
        assert!(compare(&c, &d, alone).is_some());
        // The same city alone is not enough; with a domain it adds up.
        let mut e = person("Jon", "Smith");
        let mut f = person("Jon", "Smith");
        e.city = "London".into();
        f.city = "london".into();
        assert_eq!(compare(&e, &f, alone), None);
        e.emails = c.emails.clone();
        f.emails = d.emails.clone();
        let both = compare(&e, &f, alone).expect("domain and city");
        assert_eq!(both.reasons.len(), 2);
    }

    #[test]
    fn reasons_add_up() {
        let mut a = person("Mei", "Chan");
        let mut b = person("Mei", "Chan");
        a.company = "Acme".into();
        b.company = "Acme".into();
        let one = compare(&a, &b, alone).expect("name at company").score;
        a.phones = vec!["+85291234567".into()];
        b.phones = vec!["+852 9123 4567".into()];
        let two = compare(&a, &b, alone).expect("and phone").score;
        assert!(two > one && two <= 1.0);
    }

    #[test]
    fn similarity_is_pg_trgm_s() {
        // SELECT similarity('word', 'two words') = 0.3636…
        assert!((similarity("word", "two words") - 4.0 / 11.0).abs() < 1e-9);
        assert_eq!(similarity("", ""), 0.0);
        assert_eq!(similarity("abc", "abc"), 1.0);
    }

    fn candidate() -> impl Strategy<Value = Candidate> {
        (
            "[A-Za-zÀ-ÿ' .-]{0,12}",
            "[A-Za-zÀ-ÿ' .-]{0,12}",
            "(Acme|Globex|)",
            "(Hong Kong|Paris|)",
            proptest::collection::vec("[a-z]{1,5}@(acme|gmail)\\.com", 0..3),
            proptest::collection::vec("\\+852[0-9]{8}", 0..3),
        )
            .prop_map(
                |(first_name, last_name, company, city, emails, phones)| Candidate {
                    first_name,
                    last_name,
                    company,
                    city,
                    emails,
                    phones,
                    messaging: Vec::new(),
                },
            )
    }

    proptest! {
        #[test]
        fn comparing_is_symmetric_and_scores_stay_in_range(a in candidate(), b in candidate()) {
            let ab = compare(&a, &b, alone);
            let ba = compare(&b, &a, alone);
            prop_assert_eq!(ab.is_some(), ba.is_some());
            if let (Some(x), Some(y)) = (ab, ba) {
                prop_assert!((x.score - y.score).abs() < 1e-9);
                prop_assert!(x.score >= MIN_SCORE && x.score <= 1.0);
            }
        }

        #[test]
        fn a_copy_with_its_email_shouted_and_its_names_swapped_is_found(a in candidate()) {
            prop_assume!(!a.emails.is_empty());
            let b = Candidate {
                first_name: a.last_name.clone(),
                last_name: a.first_name.clone(),
                emails: a.emails.iter().map(|e| e.to_uppercase()).collect(),
                ..a.clone()
            };
            let v = compare(&a, &b, alone);
            prop_assert!(v.is_some_and(|v| v.reasons.iter().any(|r| matches!(r, Reason::SameEmail(_)))));
        }

        #[test]
        fn a_phone_in_another_format_is_found(a in candidate(), spaced in any::<bool>()) {
            prop_assume!(!a.phones.is_empty());
            let p = &a.phones[0];
            let other = if spaced { format!("{} {} {}", &p[..4], &p[4..8], &p[8..]) } else { format!("({})-{}", &p[1..4], &p[4..]) };
            let b = Candidate { phones: vec![other], emails: Vec::new(), ..person("x", "y") };
            prop_assert!(compare(&a, &b, alone).is_some());
        }
    }
}
