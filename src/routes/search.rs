//! The header's search box: staff and external contacts at once, by name
//! (and contacts also by company, email and phone, as the contact list
//! searches). `/search` is the results page; `/search/suggest` the same
//! results as a fragment that the box shows as you type.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState,
    auth::CurrentStaff,
    db,
    domain::staff::{Availability, avatar_hue, initials},
    error::{AppError, AppResult},
    models::{
        contact::display_name,
        contact_list::{self, Count, Filters, search_terms},
        search_plan::Plan,
        staff::Staff,
        visibility::{self, Member},
    },
    routes::{Face, Layout, contacts::list::count_words},
    security::url_encode,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/search", web::get().to(results))
        .route("/search/suggest", web::get().to(suggest));
}

/// The results page counts this far ("More than 100 contacts"); the
/// contact list, a click away, counts further.
const COUNT_CAP: i64 = 100;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchQuery {
    q: String,
}

pub struct StaffHit {
    pub id: i64,
    pub face: Face,
    pub job_title: String,
    pub availability: Availability,
}

pub struct ContactHit {
    pub id: i64,
    pub name: String,
    pub initials: String,
    pub hue: u32,
    pub company: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl ContactHit {
    /// Company, email and phone, the ones it has, for the line under the name.
    pub fn detail(&self) -> String {
        [
            Some(self.company.as_str()),
            self.email.as_deref(),
            self.phone.as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
    }
}

pub struct Hits {
    pub staff: Vec<StaffHit>,
    pub contacts: Vec<ContactHit>,
    /// How many contacts match in all (only the results page counts).
    pub count: Option<Count>,
}

/// The words people type, cut to what the contact list accepts.
fn clean(q: &str) -> String {
    q.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

/// Staff by name and the contacts this member may see, by the list's search.
async fn find(
    state: &web::Data<AppState>,
    me: &CurrentStaff,
    q: &str,
    limit: i64,
    counted: bool,
) -> AppResult<Hits> {
    if q.is_empty() {
        return Ok(Hits {
            staff: Vec::new(),
            contacts: Vec::new(),
            count: None,
        });
    }
    let app = state.clone();
    let member = Member::of(me);
    let q = q.to_string();
    let (staff, page, count) = db::run(&state.pool, move |conn| {
        let staff = Staff::by_name(conn, &q, limit)?;
        let mut filters = Filters {
            plan: Plan::unplanned(&search_terms(&q)),
            q: q.clone(),
            visible_to: visibility::limited_to(conn, member)?,
            ..Filters::default()
        };
        let sample = app.search_sample(conn)?;
        filters.plan_with(&sample);
        let mut rows = contact_list::name_prefix_matches(conn, &filters, limit)?;
        let (more, count) = contact_list::with_search_plan(conn, &filters, |conn| {
            let except: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let rest = limit - rows.len() as i64;
            let cap = if counted { COUNT_CAP } else { 0 };
            let (more, n) = contact_list::some_matches(conn, &filters, rest, &except, cap)?;
            let count = counted.then_some(if n > COUNT_CAP {
                Count::MoreThan(COUNT_CAP)
            } else {
                Count::Exact(n)
            });
            Ok((more, count))
        })?;
        rows.extend(more);
        Ok::<_, AppError>((staff, rows, count))
    })
    .await?;
    Ok(Hits {
        staff: staff
            .iter()
            .map(|s| StaffHit {
                id: s.id,
                face: Face::of(s),
                job_title: s.job_title.clone(),
                availability: s.availability(),
            })
            .collect(),
        contacts: page
            .into_iter()
            .map(|r| {
                let name = display_name(&r.first_name, &r.last_name);
                ContactHit {
                    id: r.id,
                    initials: initials(&name),
                    hue: avatar_hue(r.id),
                    name,
                    company: r.company,
                    email: r.email,
                    phone: r.phone,
                }
            })
            .collect(),
        count,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "search/results.html")]
pub struct ResultsPage {
    layout: Layout,
    q: String,
    hits: Hits,
}

impl ResultsPage {
    fn contacts_url(&self) -> String {
        format!("/contacts?q={}", url_encode(&self.q))
    }

    fn count_text(&self) -> String {
        self.hits.count.map(count_words).unwrap_or_default()
    }
}

/// The page the box submits to without JavaScript; the first result is the
/// first link after the search box.
pub async fn results(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<SearchQuery>,
) -> AppResult<ResultsPage> {
    let q = clean(&query.q);
    let hits = find(&state, &me, &q, 20, true).await?;
    let here = if q.is_empty() {
        "/search".to_string()
    } else {
        format!("/search?q={}", url_encode(&q))
    };
    let mut layout = Layout::signed_in(&me, "", here);
    layout.search = q.clone();
    Ok(ResultsPage { layout, q, hits })
}

#[derive(Template, WebTemplate)]
#[template(path = "search/suggest.html")]
pub struct Suggestions {
    q: String,
    hits: Hits,
}

impl Suggestions {
    fn all_url(&self) -> String {
        format!("/search?q={}", url_encode(&self.q))
    }
}

/// A few of each kind, for the box's list of suggestions.
pub async fn suggest(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<SearchQuery>,
) -> AppResult<Suggestions> {
    let q = clean(&query.q);
    let hits = find(&state, &me, &q, 5, false).await?;
    Ok(Suggestions { q, hits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_trimmed_and_cut() {
        assert_eq!(clean("  ada   lovelace "), "ada lovelace");
        assert_eq!(clean(&"x".repeat(500)).len(), 200);
    }

    #[test]
    fn a_contact_line_skips_what_is_missing() {
        let hit = ContactHit {
            id: 1,
            name: "Ada".into(),
            initials: "A".into(),
            hue: 0,
            company: String::new(),
            email: Some("ada@example.com".into()),
            phone: None,
        };
        assert_eq!(hit.detail(), "ada@example.com");
    }
}
