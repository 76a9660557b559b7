//! `/contacts/{id}/sharing`: who the contact is shared with, sharing it with
//! more colleagues (a picker that filters by name without JavaScript), and
//! stopping a share.

use actix_web::{http::StatusCode, web};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    domain::text::clean_text,
    error::{AppError, AppResult},
    models::share::{self, Share},
    models::visibility::Member,
    routes::{
        Face, FormResponse, Layout,
        contacts::head::{ContactHead, Tab},
        invalid, redirect, when_in,
    },
    schema::staff,
};

/// A share as the tab shows it.
pub struct ShareView {
    pub staff_id: i64,
    pub face: Face,
    pub by: Option<String>,
    pub when: String,
    pub message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/sharing.html")]
pub struct SharingPage {
    layout: Layout,
    head: ContactHead,
    shares: Vec<ShareView>,
    /// Active colleagues it could still be shared with, matching `q`.
    candidates: Vec<(i64, String)>,
    q: String,
    picked: Vec<i64>,
    message: String,
    error: Option<String>,
}

impl SharingPage {
    pub fn is_picked(&self, id: &i64) -> bool {
        self.picked.contains(id)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PickerQuery {
    q: String,
}

/// Active staff matching `q` (by name, case aside) that the contact is not
/// yet shared with, the viewer left out.
fn candidates(
    conn: &mut PgConnection,
    contact_id: i64,
    me: i64,
    q: &str,
) -> QueryResult<Vec<(i64, String)>> {
    use crate::schema::contact_shares;
    let shared = contact_shares::table
        .filter(contact_shares::contact_id.eq(contact_id))
        .select(contact_shares::staff_id);
    let mut query = staff::table
        .filter(staff::active.eq(true))
        .filter(staff::id.ne(me))
        .filter(staff::id.ne_all(shared))
        .order((staff::display_name, staff::id))
        .select((staff::id, staff::display_name))
        .limit(200)
        .into_boxed();
    let q = q.trim();
    if !q.is_empty() {
        let pattern = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        query = query.filter(staff::display_name.ilike(pattern));
    }
    query.load(conn)
}

async fn sharing_page(
    state: &AppState,
    me: &CurrentStaff,
    id: i64,
    q: String,
) -> AppResult<SharingPage> {
    let (member, my_id) = (Member::of(me), me.staff.id);
    let term = q.clone();
    let (head, shares, candidates) = db::run(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, id, Tab::Sharing)?;
        let shares: Vec<Share> = share::of_contact(conn, id)?;
        let candidates = candidates(conn, id, my_id, &term)?;
        Ok((head, shares, candidates))
    })
    .await?;
    let zone = &me.staff.time_zone;
    Ok(SharingPage {
        layout: Layout::signed_in(me, "contacts", format!("/contacts/{id}/sharing")),
        head,
        shares: shares
            .into_iter()
            .map(|s| ShareView {
                face: Face::from_parts(s.staff_id, &s.name, s.avatar_version),
                staff_id: s.staff_id,
                by: s.shared_by,
                when: when_in(s.shared_at, zone),
                message: s.message,
            })
            .collect(),
        candidates,
        q,
        picked: Vec::new(),
        message: String::new(),
        error: None,
    })
}

pub async fn show_sharing(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    query: web::Query<PickerQuery>,
) -> AppResult<SharingPage> {
    sharing_page(&state, &me, id.into_inner(), query.into_inner().q).await
}

/// A share form sent back: the page again with what was picked and typed.
struct Refused {
    id: i64,
    q: String,
    picked: Vec<i64>,
    message: String,
}

impl Refused {
    async fn page(
        self,
        state: &AppState,
        me: &CurrentStaff,
        why: String,
    ) -> FormResponse<SharingPage> {
        let mut page = sharing_page(state, me, self.id, self.q).await?;
        page.picked = self.picked;
        page.message = self.message;
        page.error = Some(why);
        invalid(page, StatusCode::UNPROCESSABLE_ENTITY)
    }
}

pub async fn share_contact(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    pairs: web::Form<Vec<(String, String)>>,
) -> FormResponse<SharingPage> {
    let id = id.into_inner();
    let mut picked: Vec<i64> = Vec::new();
    let mut unreadable = false;
    let (mut message, mut q) = (String::new(), String::new());
    for (k, v) in pairs.into_inner() {
        match k.as_str() {
            "staff" => match v.trim().parse() {
                Ok(n) => picked.push(n),
                Err(_) => unreadable = true,
            },
            "message" => message = v,
            "q" => q = v,
            _ => {}
        }
    }
    picked.sort_unstable();
    picked.dedup();
    let refused = Refused {
        id,
        q,
        picked: picked.clone(),
        message: message.clone(),
    };
    let text = match clean_text(&message, 1000, true) {
        Ok(t) => t,
        Err(e) => return refused.page(&state, &me, format!("Message: {e}")).await,
    };
    if picked.is_empty() || unreadable {
        return refused
            .page(
                &state,
                &me,
                "Choose at least one colleague to share this contact with.".into(),
            )
            .await;
    }
    let (member, by) = (Member::of(&me), me.staff.id);
    let wanted = picked.clone();
    let outcome = db::transaction(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, id, Tab::Sharing)?;
        if !head.is_live() {
            return Err(AppError::Forbidden(
                "This contact is in the trash: restore it before sharing it.",
            ));
        }
        // Checked here, in the transaction: the picker may be minutes old.
        let members: Vec<(i64, String)> = staff::table
            .filter(staff::id.eq_any(&wanted))
            .filter(staff::active.eq(true))
            .select((staff::id, staff::display_name))
            .load(conn)?;
        if members.len() != wanted.len() {
            return Ok(None);
        }
        Ok(Some(share::share(conn, id, &members, by, &text)?))
    })
    .await?;
    let Some(added) = outcome else {
        return refused
            .page(
                &state,
                &me,
                "Share only with active colleagues from the list; nothing was shared.".into(),
            )
            .await;
    };
    flash(
        &me.session,
        "success",
        match added {
            0 => "It was already shared with them.".to_string(),
            1 => "The contact is now shared with 1 colleague.".to_string(),
            n => format!("The contact is now shared with {n} colleagues."),
        },
    );
    redirect(format!("/contacts/{id}/sharing"))
}

pub async fn unshare_contact(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<(i64, i64)>,
) -> AppResult<web::Redirect> {
    let (id, staff_id) = path.into_inner();
    let (member, by) = (Member::of(&me), me.staff.id);
    let stopped = db::transaction(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, id, Tab::Sharing)?;
        if !head.is_live() {
            return Err(AppError::Forbidden(
                "This contact is in the trash: restore it before changing its sharing.",
            ));
        }
        Ok(share::unshare(conn, id, staff_id, by)?)
    })
    .await?;
    if stopped {
        flash(
            &me.session,
            "success",
            "The contact is no longer shared with them.",
        );
    } else {
        flash(&me.session, "error", "It was not shared with them.");
    }
    Ok(web::Redirect::to(format!("/contacts/{id}/sharing")).see_other())
}
