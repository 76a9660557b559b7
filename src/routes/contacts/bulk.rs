//! Bulk actions on the contact list: the ticked contacts, or all that match
//! the view. Edits to ticked contacts apply at once, those to all that match
//! run as a job (`bulk_jobs`); moving to the trash asks first, stating the
//! count; export streams the CSV.

use actix_web::{
    Either, HttpResponse,
    web::{self, Redirect},
};
use askama::Template;
use askama_web::WebTemplate;

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    domain::contact::{ContactType, Level},
    error::{AppError, AppResult},
    export::Selection,
    models::visibility::{self, Member},
    models::{
        bulk::{self, BulkEdit},
        contact_list::{Filters, ListChoices},
    },
    routes::{
        Layout,
        contacts::bulk_jobs::{self, Asked},
        contacts::list::ListParams,
        imports::csv_download,
    },
};

/// The bulk form as submitted.
#[derive(Clone, Default)]
pub struct BulkForm {
    pub ids: Vec<i64>,
    pub all: bool,
    pub view: ListParams,
    pub action: String,
    pub contact_type: String,
    pub level: String,
    pub owner: String,
    pub label: String,
    pub confirmed: bool,
}

impl BulkForm {
    fn from_pairs(pairs: &[(String, String)]) -> BulkForm {
        let mut f = BulkForm::default();
        for (k, v) in pairs {
            let v = v.clone();
            match k.as_str() {
                "id" => {
                    if let Ok(id) = v.trim().parse() {
                        f.ids.push(id);
                    }
                }
                "all" => f.all = v == "1",
                "q" => f.view.q = v,
                "f_label" => f.view.label = v,
                "f_type" => f.view.contact_type = v,
                "f_level" => f.view.level = v,
                "f_owner" => f.view.owner = v,
                "f_view" => f.view.view = v,
                "sort" => f.view.sort = v,
                "dir" => f.view.dir = v,
                "per" => f.view.per = v,
                "action" => f.action = v,
                "contact_type" => f.contact_type = v,
                "level" => f.level = v,
                "owner" => f.owner = v,
                "label" => f.label = v,
                "confirmed" => f.confirmed = v == "1",
                _ => {}
            }
        }
        f.ids.sort_unstable();
        f.ids.dedup();
        f
    }

    fn back(&self) -> String {
        self.view.url("/contacts", None, None)
    }

    fn edit(&self, choices: &ListChoices) -> Result<Option<BulkEdit>, String> {
        let pick = |what: &str| format!("Choose the {what} to set.");
        match self.action.as_str() {
            "type" => self
                .contact_type
                .parse::<ContactType>()
                .map(|t| Some(BulkEdit::Type(t)))
                .map_err(|_| pick("type")),
            "level" => self
                .level
                .parse::<Level>()
                .map(|l| Some(BulkEdit::Level(l)))
                .map_err(|_| pick("level")),
            "owner" => self
                .owner
                .parse::<i64>()
                .ok()
                .filter(|o| choices.owners.iter().any(|(id, _)| id == o))
                .map(|o| Some(BulkEdit::Owner(o)))
                .ok_or_else(|| "Choose an active staff member as the owner.".to_string()),
            "add_label" | "remove_label" => {
                let label = self
                    .label
                    .parse::<i64>()
                    .ok()
                    .filter(|l| choices.labels.iter().any(|x| x.id == *l))
                    .ok_or_else(|| "Choose a label.".to_string())?;
                Ok(Some(if self.action == "add_label" {
                    BulkEdit::AddLabel(label)
                } else {
                    BulkEdit::RemoveLabel(label)
                }))
            }
            "delete" => Ok(Some(BulkEdit::Delete)),
            "export" => Ok(None),
            _ => Err("Choose what to do with the selected contacts.".into()),
        }
    }

    fn describe(&self, edit: &BulkEdit, changed: usize, choices: &ListChoices) -> String {
        let n = plural(changed as i64);
        match edit {
            BulkEdit::Type(t) => format!("Type set to {} for {n}.", t.label()),
            BulkEdit::Level(l) => format!("Level set to {} for {n}.", l.label()),
            BulkEdit::Owner(o) => format!("Owner set to {} for {n}.", owner_name(choices, *o)),
            BulkEdit::AddLabel(l) => format!("Label {} added to {n}.", label_name(choices, *l)),
            BulkEdit::RemoveLabel(l) => {
                format!("Label {} removed from {n}.", label_name(choices, *l))
            }
            BulkEdit::Delete => format!("{n} moved to the trash."),
            BulkEdit::Restore => format!("{n} restored from the trash."),
        }
    }

    /// What `edit` does, in words, for the record of bulk changes.
    fn what(edit: &BulkEdit, choices: &ListChoices) -> String {
        match edit {
            BulkEdit::Type(t) => format!("Set the type to {}", t.label()),
            BulkEdit::Level(l) => format!("Set the level to {}", l.label()),
            BulkEdit::Owner(o) => format!("Set the owner to {}", owner_name(choices, *o)),
            BulkEdit::AddLabel(l) => format!("Add the label {}", label_name(choices, *l)),
            BulkEdit::RemoveLabel(l) => format!("Remove the label {}", label_name(choices, *l)),
            BulkEdit::Delete => "Move to the trash".into(),
            BulkEdit::Restore => "Restore from the trash".into(),
        }
    }
}

fn label_name(choices: &ListChoices, id: i64) -> String {
    choices
        .labels
        .iter()
        .find(|l| l.id == id)
        .map(|l| l.name.clone())
        .unwrap_or_default()
}

fn owner_name(choices: &ListChoices, id: i64) -> &str {
    choices
        .owners
        .iter()
        .find(|(o, _)| *o == id)
        .map(|(_, n)| n.as_str())
        .unwrap_or("")
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/bulk_delete.html")]
pub struct ConfirmBulkDeletePage {
    layout: Layout,
    form: BulkForm,
    /// The list view the contacts were chosen in (`_bulk_view.html` carries it on).
    params: ListParams,
    count: i64,
}

impl ConfirmBulkDeletePage {
    fn count_words(&self) -> String {
        plural(self.count)
    }
}

/// "1 contact", "1,234 contacts".
pub(crate) fn plural(n: i64) -> String {
    crate::routes::contacts::list::plural(n, "contact", "contacts")
}

/// What a bulk action acts on, as `member` may see it: the view's filters
/// (planned for its search words) and those of the ticked ids they may see.
async fn scope(
    state: &web::Data<AppState>,
    member: Member,
    view: &ListParams,
    ticked: &[i64],
) -> AppResult<(Filters, Vec<i64>)> {
    let mut filters = view.filters(member.id, false);
    let app = state.clone();
    let ticked = ticked.to_vec();
    db::run(&state.pool, move |conn| {
        filters.visible_to = visibility::limited_to(conn, member)?;
        let visible = visibility::visible_ids(conn, filters.visible_to, &ticked)?;
        let ids: Vec<i64> = ticked
            .into_iter()
            .filter(|id| visible.contains(id))
            .collect();
        if !filters.q.is_empty() {
            let sample = app.search_sample(conn)?;
            filters.plan_with(&sample);
        }
        Ok((filters, ids))
    })
    .await
}

pub async fn bulk_action(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Bytes,
) -> AppResult<Either<Redirect, Either<ConfirmBulkDeletePage, HttpResponse>>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
    let form = BulkForm::from_pairs(&pairs);
    let back = || Either::Left(Redirect::to(form.back()).see_other());
    if form.ids.is_empty() && !form.all {
        flash(
            &me.session,
            "error",
            "Tick the contacts first, or choose all contacts that match.",
        );
        return Ok(back());
    }
    if form.action == "merge" {
        // The wizard takes it from here, with the ticked contacts.
        let n = form.ids.len();
        if form.all || !(2..=crate::models::merge::MAX_RECORDS).contains(&n) {
            flash(
                &me.session,
                "error",
                format!(
                    "Tick between 2 and {} contacts to merge.",
                    crate::models::merge::MAX_RECORDS
                ),
            );
            return Ok(back());
        }
        let query: Vec<(&str, String)> = form.ids.iter().map(|i| ("id", i.to_string())).collect();
        return Ok(Either::Left(
            Redirect::to(format!(
                "/contacts/merge?{}",
                serde_urlencoded::to_string(&query).unwrap_or_default()
            ))
            .see_other(),
        ));
    }
    let app = state.clone();
    let choices = db::run(&state.pool, move |conn| Ok(app.choices(conn)?)).await?;
    let edit = match form.edit(&choices) {
        Ok(edit) => edit,
        Err(message) => {
            flash(&me.session, "error", message);
            return Ok(back());
        }
    };
    // Ticked contacts the member may not see are left out, as if gone.
    let (filters, visible_ids) = scope(&state, Member::of(&me), &form.view, &form.ids).await?;
    let Some(edit) = edit else {
        let (scope, selection) = if form.all {
            (
                "All contacts of a list view".to_string(),
                Selection::Matching(filters),
            )
        } else {
            (
                format!("{} selected", plural(visible_ids.len() as i64)),
                Selection::Ids(visible_ids.clone()),
            )
        };
        return Ok(Either::Right(Either::Right(csv_download(
            &state, &me, scope, selection,
        ))));
    };
    if edit == BulkEdit::Delete && !form.confirmed {
        let ids = visible_ids.clone();
        let all = form.all;
        let f = filters.clone();
        let count = db::run(&state.pool, move |conn| {
            if all {
                Ok(bulk::count_matching(conn, &f)?)
            } else {
                use crate::schema::contacts;
                use diesel::prelude::*;
                Ok(contacts::table
                    .filter(contacts::id.eq_any(&ids))
                    .filter(contacts::deleted_at.is_null())
                    .count()
                    .get_result::<i64>(conn)?)
            }
        })
        .await?;
        return Ok(Either::Right(Either::Left(ConfirmBulkDeletePage {
            layout: Layout::signed_in(&me, "contacts", "/contacts"),
            params: form.view.clone(),
            form,
            count,
        })));
    }
    if form.all {
        // At a million contacts this takes minutes: a job, not a request.
        let asked = Asked {
            what: BulkForm::what(&edit, &choices),
            edit: edit.clone(),
            view: form.view.clone(),
            trash: false,
            then_delete_label: false,
        };
        let back = form.back();
        let redirect = bulk_jobs::start(&state, &me, asked, back, |n| {
            form.describe(&edit, n as usize, &choices)
        })
        .await?;
        return Ok(Either::Left(redirect));
    }
    let actor = me.staff.id;
    let ids = visible_ids;
    let e = edit.clone();
    let changed = db::run(&state.pool, move |conn| {
        use diesel::Connection;
        Ok(conn.transaction(|conn| bulk::apply(conn, &e, &ids, actor))?)
    })
    .await?;
    // The list's first pages may show what just changed.
    state.contacts_changed();
    log::info!(
        "bulk {:?} by staff {actor}: {changed} contacts changed",
        edit
    );
    let message = if changed == 0 {
        "Nothing changed: the chosen contacts already had that.".to_string()
    } else {
        form.describe(&edit, changed, &choices)
    };
    flash(&me.session, "success", message);
    Ok(back())
}
