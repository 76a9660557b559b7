//! `/contacts`: search, filter, sort and page through external contacts. The
//! whole view lives in the URL, so a view can be bookmarked and shared.

use std::collections::HashMap;

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState,
    auth::CurrentStaff,
    db,
    domain::{
        contact::{ContactType, Level},
        staff::{avatar_hue, initials},
    },
    error::{AppError, AppResult},
    models::visibility::{self, Member},
    models::{
        contact::display_name,
        contact_list::{self, Cursor, Filters, ListQuery, Sort, search_terms},
        label::Label,
        search_plan::Plan,
    },
    routes::Layout,
    security::url_encode,
};

/// Counting stops here: beyond it the page says "more than" (or, for the
/// whole list, gives the planner's estimate).
pub const COUNT_CAP: i64 = 1_000;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ListParams {
    pub q: String,
    pub label: String,
    #[serde(rename = "type")]
    pub contact_type: String,
    pub level: String,
    pub owner: String,
    pub sort: String,
    pub dir: String,
    pub per: String,
    pub after: String,
    pub before: String,
    /// `mine` (owned by the viewer) or `shared` (shared with them).
    pub view: String,
    /// Where this page starts (1-based), carried by the paging links: keyset
    /// paging knows its place in the list only from where it came from.
    pub at: String,
}

impl ListParams {
    /// The filters of this view as member `me` sees it ("My contacts" are
    /// theirs).
    pub fn filters(&self, me: i64, trash: bool) -> Filters {
        let q: String = self.q.trim().chars().take(200).collect();
        let mine = self.view == "mine";
        Filters {
            plan: Plan::unplanned(&search_terms(&q)),
            q,
            label: self.label.parse().ok(),
            contact_type: self.contact_type.parse::<ContactType>().ok(),
            level: self.level.parse::<Level>().ok(),
            owner: if mine {
                Some(me)
            } else {
                self.owner.parse().ok()
            },
            shared_with: (self.view == "shared").then_some(me),
            // Set with the rest of the request's queries: see `visibility`.
            visible_to: None,
            trash,
            sampled: None,
        }
    }

    pub fn per_page(&self) -> i64 {
        match self.per.as_str() {
            "50" => 50,
            "100" => 100,
            _ => 25,
        }
    }

    pub fn query(&self, me: i64, trash: bool) -> ListQuery {
        ListQuery {
            filters: self.filters(me, trash),
            sort: Sort::parse(&self.sort),
            descending: self.dir == "desc",
            per_page: self.per_page(),
            after: Cursor::decode(&self.after),
            before: Cursor::decode(&self.before),
        }
    }

    /// This view's URL with the paging cursor replaced.
    pub fn url(&self, base: &str, after: Option<&Cursor>, before: Option<&Cursor>) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("q", &self.q),
            ("label", &self.label),
            ("type", &self.contact_type),
            ("level", &self.level),
            ("owner", &self.owner),
            ("view", &self.view),
            ("sort", &self.sort),
            ("dir", &self.dir),
            ("per", &self.per),
        ] {
            if !v.trim().is_empty() {
                parts.push(format!("{k}={}", url_encode(v.trim())));
            }
        }
        if let Some(c) = after {
            parts.push(format!("after={}", c.encode()));
        }
        if let Some(c) = before {
            parts.push(format!("before={}", c.encode()));
        }
        if parts.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", parts.join("&"))
        }
    }

    /// The position of this page's first row.
    pub fn start(&self) -> i64 {
        if self.after.is_empty() && self.before.is_empty() {
            return 1;
        }
        self.at.parse::<i64>().unwrap_or(1).max(1)
    }

    /// This view sorted by `sort`: ascending, or the other way round when it
    /// is sorted by it already; from the first page.
    pub fn sorted_url(&self, sort: Sort) -> String {
        let mut p = self.clone();
        let current = Sort::parse(&self.sort) == sort;
        p.dir = if current && self.dir != "desc" {
            "desc".into()
        } else {
            String::new()
        };
        p.sort = if sort == Sort::Name {
            String::new()
        } else {
            sort.as_str().into()
        };
        p.url("/contacts", None, None)
    }

    pub fn is_filtered(&self) -> bool {
        [
            &self.q,
            &self.label,
            &self.contact_type,
            &self.level,
            &self.owner,
            &self.view,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }
}

pub struct Row {
    pub id: i64,
    pub name: String,
    pub initials: String,
    pub hue: u32,
    pub company: String,
    pub contact_type: &'static str,
    pub level: &'static str,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub labels: Vec<Label>,
    pub owner: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/list.html")]
pub struct ContactListPage {
    layout: Layout,
    params: ListParams,
    rows: Vec<Row>,
    count: contact_list::Count,
    next_url: Option<String>,
    prev_url: Option<String>,
    first_url: Option<String>,
    labels: Vec<Label>,
    owners: Vec<(i64, String)>,
    is_admin: bool,
}

impl ContactListPage {
    fn count_text(&self) -> String {
        count_words(self.count)
    }

    /// "26–50 of 1,284".
    fn position_text(&self) -> String {
        let start = self.params.start();
        let end = start + self.rows.len().max(1) as i64 - 1;
        let of = match self.count {
            contact_list::Count::Exact(n) => group_digits(n.max(end)),
            contact_list::Count::MoreThan(n) => format!("more than {}", group_digits(n.max(end))),
            contact_list::Count::About(n) => format!("about {}", group_digits(round_estimate(n))),
        };
        format!("{}–{} of {of}", group_digits(start), group_digits(end))
    }

    /// A filter or an order other than the default is chosen.
    fn filters_set(&self) -> bool {
        let p = &self.params;
        [
            &p.label,
            &p.contact_type,
            &p.level,
            &p.owner,
            &p.sort,
            &p.dir,
            &p.per,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }

    fn sort_url(&self, sort: &str) -> String {
        self.params.sorted_url(Sort::parse(sort))
    }

    fn sorted_by(&self, sort: &str) -> bool {
        Sort::parse(&self.params.sort) == Sort::parse(sort)
    }

    /// The `aria-sort` attribute of a column header sorted by `sort`.
    fn aria_sort(&self, sort: &str) -> &'static str {
        match (self.sorted_by(sort), self.params.dir == "desc") {
            (false, _) => "",
            (true, false) => " aria-sort=\"ascending\"",
            (true, true) => " aria-sort=\"descending\"",
        }
    }

    fn sort_mark(&self, sort: &str) -> &'static str {
        match (self.sorted_by(sort), self.params.dir == "desc") {
            (false, _) => "↕",
            (true, false) => "▲",
            (true, true) => "▼",
        }
    }

    /// The CSV of what this view shows.
    fn export_url(&self) -> String {
        self.params.url("/contacts/export.csv", None, None)
    }

    fn types(&self) -> &'static [ContactType] {
        ContactType::ALL
    }

    fn levels(&self) -> &'static [Level] {
        Level::ALL
    }

    fn sorts(&self) -> [Sort; 4] {
        Sort::ALL
    }
}

/// "1 contact", "1,284 contacts", "More than 1,000 contacts", "About 1,000,000 contacts".
pub fn count_words(count: contact_list::Count) -> String {
    match count {
        contact_list::Count::Exact(1) => "1 contact".into(),
        contact_list::Count::Exact(n) => format!("{} contacts", group_digits(n)),
        contact_list::Count::MoreThan(n) => format!("More than {} contacts", group_digits(n)),
        contact_list::Count::About(n) => {
            format!("About {} contacts", group_digits(round_estimate(n)))
        }
    }
}

/// An estimate shown to two significant figures: it is no more precise.
fn round_estimate(n: i64) -> i64 {
    let mut scale = 1;
    while n / scale >= 100 {
        scale *= 10;
    }
    (n + scale / 2) / scale * scale
}

/// `group_digits` for templates, which pass a field by reference and a
/// computed value as it is.
pub fn grouped(n: impl std::borrow::Borrow<i64>) -> String {
    group_digits(*n.borrow())
}

/// "1 row", "1,234 rows": the count grouped, and the word that agrees with it.
pub fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", group_digits(n))
    }
}

pub fn group_digits(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

pub async fn list_contacts(
    state: web::Data<AppState>,
    me: CurrentStaff,
    params: web::Query<ListParams>,
) -> AppResult<ContactListPage> {
    let params = params.into_inner();
    let mut query = params.query(me.staff.id, false);
    let app = state.clone();
    let member = Member::of(&me);
    let (cached, choices) = db::run(&state.pool, move |conn| {
        query.filters.visible_to = visibility::limited_to(conn, member)?;
        let f = &mut query.filters;
        let words = !f.q.trim().is_empty();
        if words || f.has_sampled_filters() {
            let sample = app.search_sample(conn)?;
            if words {
                f.plan_with(&sample);
            }
            if f.has_sampled_filters() {
                f.judge_sets(&sample);
            }
        }
        let filters = query.filters.clone();
        let load = |conn: &mut diesel::PgConnection| {
            contact_list::with_search_plan(conn, &filters, |conn| {
                let page = contact_list::list(conn, &query)?;
                // A first page with no next one holds every match: counting
                // them again would read the same index entries twice (a rare
                // combination of filters costs its time in the index).
                let whole = query.after.is_none() && query.before.is_none() && page.next.is_none();
                let count = if whole {
                    contact_list::Count::Exact(page.rows.len() as i64)
                } else {
                    contact_list::count(
                        conn,
                        &filters,
                        COUNT_CAP,
                        &app.set_sizes,
                        &app.contacts_estimate,
                    )?
                };
                Ok((page, count))
            })
        };
        let first_page = filters.is_everything() && query.after.is_none() && query.before.is_none();
        let cached = if first_page {
            let key = (query.sort, query.descending, query.per_page);
            app.first_pages.get_or_load(&key, || load(conn))?
        } else {
            std::sync::Arc::new(load(conn)?)
        };
        // Outside the pinned plan: it would only hurt these small lookups.
        let choices = app.choices(conn)?;
        Ok::<_, AppError>((cached, choices))
    })
    .await?;
    let (page, count) = (&cached.0, cached.1);
    let (labels, owners) = (choices.labels.clone(), choices.owners.clone());
    let by_id: HashMap<i64, &Label> = labels.iter().map(|l| (l.id, l)).collect();
    let rows = page
        .rows
        .iter()
        .map(|r| {
            let name = display_name(&r.first_name, &r.last_name);
            Row {
                id: r.id,
                initials: initials(&name),
                hue: avatar_hue(r.id),
                name,
                company: r.company.clone(),
                contact_type: r
                    .contact_type
                    .parse::<ContactType>()
                    .map(ContactType::label)
                    .unwrap_or("Lead"),
                level: r
                    .level
                    .parse::<Level>()
                    .map(Level::label)
                    .unwrap_or("Primary"),
                phone: r.phone.clone(),
                email: r.email.clone(),
                labels: r
                    .label_ids
                    .iter()
                    .filter_map(|id| by_id.get(id).map(|l| (*l).clone()))
                    .collect(),
                owner: r.owner_name.clone(),
            }
        })
        .collect();
    let paged = !params.after.is_empty() || !params.before.is_empty();
    let mut here = params.url(
        "/contacts",
        Cursor::decode(&params.after).as_ref(),
        Cursor::decode(&params.before).as_ref(),
    );
    if paged {
        here.push_str(&format!("&at={}", params.start()));
    }
    Ok(ContactListPage {
        layout: Layout::signed_in(&me, "contacts", here),
        next_url: page.next.as_ref().map(|c| {
            let at = params.start() + page.rows.len() as i64;
            format!("{}&at={at}", params.url("/contacts", Some(c), None))
        }),
        prev_url: page.prev.as_ref().map(|c| {
            let at = (params.start() - params.per_page()).max(1);
            format!("{}&at={at}", params.url("/contacts", None, Some(c)))
        }),
        first_url: paged.then(|| params.url("/contacts", None, None)),
        params,
        rows,
        count,
        labels,
        owners,
        is_admin: me.staff.is_admin(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_keep_two_figures() {
        assert_eq!(round_estimate(1_003_412), 1_000_000);
        assert_eq!(round_estimate(1_250_000), 1_300_000);
        assert_eq!(round_estimate(87), 87);
        assert_eq!(round_estimate(1234), 1200);
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1234567), "1,234,567");
    }
}
