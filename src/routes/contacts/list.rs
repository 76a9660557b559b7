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
    models::{
        contact::display_name,
        contact_list::{self, Cursor, Filters, ListQuery, Sort},
        label::Label,
        staff::Staff,
    },
    routes::Layout,
    security::url_encode,
};

/// Counting stops here: beyond it the page says "more than".
pub const COUNT_CAP: i64 = 10_000;

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
}

impl ListParams {
    pub fn filters(&self, trash: bool) -> Filters {
        Filters {
            q: self.q.trim().chars().take(200).collect(),
            label: self.label.parse().ok(),
            contact_type: self.contact_type.parse::<ContactType>().ok(),
            level: self.level.parse::<Level>().ok(),
            owner: self.owner.parse().ok(),
            trash,
        }
    }

    pub fn per_page(&self) -> i64 {
        match self.per.as_str() {
            "50" => 50,
            "100" => 100,
            _ => 25,
        }
    }

    pub fn query(&self, trash: bool) -> ListQuery {
        ListQuery {
            filters: self.filters(trash),
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

    pub fn is_filtered(&self) -> bool {
        [
            &self.q,
            &self.label,
            &self.contact_type,
            &self.level,
            &self.owner,
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
    count: i64,
    next_url: Option<String>,
    prev_url: Option<String>,
    first_url: Option<String>,
    labels: Vec<Label>,
    owners: Vec<(i64, String)>,
    is_admin: bool,
}

impl ContactListPage {
    fn count_text(&self) -> String {
        let plural = if self.count == 1 {
            "contact"
        } else {
            "contacts"
        };
        if self.count >= COUNT_CAP {
            format!("More than {} contacts", group_digits(COUNT_CAP))
        } else {
            format!("{} {plural}", group_digits(self.count))
        }
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
    let query = params.query(false);
    let filters = query.filters.clone();
    let (page, count, labels, owners, row_labels) = db::run(&state.pool, move |conn| {
        let page = contact_list::list(conn, &query)?;
        let count = contact_list::count(conn, &filters, COUNT_CAP)?;
        let ids: Vec<i64> = page.rows.iter().map(|r| r.id).collect();
        let row_labels = Label::of_contacts(conn, &ids)?;
        let owners: Vec<(i64, String)> = Staff::directory(conn, "")?
            .into_iter()
            .map(|s| (s.id, s.display_name))
            .collect();
        Ok::<_, AppError>((page, count, Label::all(conn)?, owners, row_labels))
    })
    .await?;
    let mut by_contact: HashMap<i64, Vec<Label>> = HashMap::new();
    for (cid, l) in row_labels {
        by_contact.entry(cid).or_default().push(l);
    }
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
                labels: by_contact.remove(&r.id).unwrap_or_default(),
                owner: r.owner_name.clone(),
            }
        })
        .collect();
    let here = params.url(
        "/contacts",
        Cursor::decode(&params.after).as_ref(),
        Cursor::decode(&params.before).as_ref(),
    );
    let paged = !params.after.is_empty() || !params.before.is_empty();
    Ok(ContactListPage {
        layout: Layout::new(&me.session, Some(&me.staff), "contacts", here),
        next_url: page
            .next
            .as_ref()
            .map(|c| params.url("/contacts", Some(c), None)),
        prev_url: page
            .prev
            .as_ref()
            .map(|c| params.url("/contacts", None, Some(c))),
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
    fn counts_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1234567), "1,234,567");
    }
}
