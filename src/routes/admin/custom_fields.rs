//! Administrators define custom contact fields: text, number, date or a
//! dropdown of options; required or not; in the order they appear in forms.

use actix_web::{
    http::StatusCode,
    web::{self, Redirect},
};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{Admin, CurrentStaff, flash},
    db,
    domain::{contact::CustomFieldKind, staff::FieldErrors, text::required_text},
    error::AppResult,
    models::{
        custom_field::{CustomField, CustomFieldChanges},
        unique_violation,
    },
    routes::{FormResponse, Layout, invalid, redirect},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/custom-fields", web::get().to(list_custom_fields))
        .route("/admin/custom-fields", web::post().to(create_custom_field))
        .route(
            "/admin/custom-fields/{id}/edit",
            web::get().to(edit_custom_field),
        )
        .route(
            "/admin/custom-fields/{id}/edit",
            web::post().to(update_custom_field),
        )
        .route(
            "/admin/custom-fields/{id}/delete",
            web::get().to(confirm_delete_custom_field),
        )
        .route(
            "/admin/custom-fields/{id}/delete",
            web::post().to(delete_custom_field),
        );
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct FieldForm {
    label: String,
    kind: String,
    options: String,
    required: String,
    position: String,
}

impl FieldForm {
    fn of(f: &CustomField) -> FieldForm {
        FieldForm {
            label: f.label.clone(),
            kind: f.kind.clone(),
            options: f.option_list().join("\n"),
            required: if f.required {
                "on".into()
            } else {
                String::new()
            },
            position: f.position.to_string(),
        }
    }
}

struct Checked {
    label: String,
    kind: CustomFieldKind,
    options: Vec<String>,
    required: bool,
    position: i32,
}

fn check(f: &FieldForm) -> Result<Checked, FieldErrors> {
    let mut e = FieldErrors::default();
    let label = e.check("label", required_text(&f.label, 100));
    let kind = e.check("kind", f.kind.parse::<CustomFieldKind>());
    let mut options: Vec<String> = f
        .options
        .lines()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    options.dedup();
    if kind == Some(CustomFieldKind::Dropdown) && options.is_empty() {
        e.add("options", "are needed for a dropdown: one per line");
    }
    if options.len() > 100 || options.iter().any(|o| o.chars().count() > 100) {
        e.add("options", "may be at most 100, each at most 100 characters");
    }
    let position = e.check(
        "position",
        if f.position.trim().is_empty() {
            Ok(0)
        } else {
            f.position
                .trim()
                .parse::<i32>()
                .map_err(|_| "must be a whole number".to_string())
        },
    );
    match (label, kind, position, e.is_empty()) {
        (Some(label), Some(kind), Some(position), true) => Ok(Checked {
            label,
            options: if kind == CustomFieldKind::Dropdown {
                options
            } else {
                Vec::new()
            },
            kind,
            required: f.required == "on",
            position,
        }),
        _ => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/custom_fields.html")]
pub struct CustomFieldsPage {
    layout: Layout,
    fields: Vec<CustomField>,
    editing: Option<i64>,
    form: FieldForm,
    errors: FieldErrors,
}

impl CustomFieldsPage {
    fn kinds(&self) -> &'static [CustomFieldKind] {
        CustomFieldKind::ALL
    }

    fn kind_label(&self, kind: &str) -> &'static str {
        kind.parse::<CustomFieldKind>()
            .map(CustomFieldKind::label)
            .unwrap_or("Text")
    }
}

async fn page(
    state: &AppState,
    me: &CurrentStaff,
    editing: Option<i64>,
    form: FieldForm,
    errors: FieldErrors,
) -> AppResult<CustomFieldsPage> {
    let fields = db::run(&state.pool, |conn| Ok(CustomField::all(conn)?)).await?;
    let here = match editing {
        Some(id) => format!("/admin/custom-fields/{id}/edit"),
        None => "/admin/custom-fields".into(),
    };
    Ok(CustomFieldsPage {
        layout: Layout::signed_in(me, "admin", here),
        fields,
        editing,
        form,
        errors,
    })
}

async fn list_custom_fields(
    state: web::Data<AppState>,
    Admin(me): Admin,
) -> AppResult<CustomFieldsPage> {
    page(
        &state,
        &me,
        None,
        FieldForm {
            kind: "text".into(),
            ..FieldForm::default()
        },
        FieldErrors::default(),
    )
    .await
}

async fn edit_custom_field(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<CustomFieldsPage> {
    let id = id.into_inner();
    let field = db::run(&state.pool, move |conn| Ok(CustomField::find(conn, id)?)).await?;
    page(
        &state,
        &me,
        Some(id),
        FieldForm::of(&field),
        FieldErrors::default(),
    )
    .await
}

async fn save(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: Option<i64>,
    form: FieldForm,
) -> FormResponse<CustomFieldsPage> {
    let checked = match check(&form) {
        Ok(c) => c,
        Err(errors) => {
            return invalid(
                page(&state, &me, id, form, errors).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let label = checked.label.clone();
    let saved = db::run(&state.pool, move |conn| {
        use diesel::Connection;
        Ok(conn.transaction(|conn| {
            let changes = CustomFieldChanges {
                label: &checked.label,
                kind: checked.kind.as_str(),
                options: &checked.options,
                required: checked.required,
                position: checked.position,
            };
            match id {
                Some(id) => CustomField::update(conn, id, &changes),
                None => CustomField::insert(conn, &changes),
            }
        }))
    })
    .await?;
    match saved {
        Ok(_) => {
            flash(
                &me.session,
                "success",
                format!("The field {label} has been saved."),
            );
            redirect("/admin/custom-fields")
        }
        Err(e) if unique_violation(&e).is_some() => {
            let mut errors = FieldErrors::default();
            errors.add("label", "is already used by another field");
            invalid(
                page(&state, &me, id, form, errors).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn create_custom_field(
    state: web::Data<AppState>,
    Admin(me): Admin,
    form: web::Form<FieldForm>,
) -> FormResponse<CustomFieldsPage> {
    save(state, me, None, form.into_inner()).await
}

async fn update_custom_field(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
    form: web::Form<FieldForm>,
) -> FormResponse<CustomFieldsPage> {
    save(state, me, Some(id.into_inner()), form.into_inner()).await
}

async fn confirm_delete_custom_field(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<super::ConfirmDeletePage> {
    let id = id.into_inner();
    let (field, values) = db::run(&state.pool, move |conn| {
        use crate::schema::custom_field_values as v;
        use diesel::prelude::*;
        let values: i64 = v::table
            .filter(v::field_id.eq(id))
            .count()
            .get_result(conn)?;
        Ok((CustomField::find(conn, id)?, values))
    })
    .await?;
    Ok(super::ConfirmDeletePage {
        layout: Layout::signed_in(&me, "admin", format!("/admin/custom-fields/{id}/delete")),
        title: format!("Delete the field {}?", field.label),
        consequence: format!(
            "It goes from every form and contact page, with the {values} value{} contacts hold in it.",
            if values == 1 { "" } else { "s" }
        ),
        action: format!("/admin/custom-fields/{id}/delete"),
        button: "Delete field",
        back: "/admin/custom-fields",
        back_name: "Custom fields",
    })
}

async fn delete_custom_field(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<Redirect> {
    let id = id.into_inner();
    let field = db::transaction(&state.pool, move |conn| {
        let f = CustomField::find(conn, id)?;
        CustomField::delete(conn, id)?;
        Ok(f)
    })
    .await?;
    flash(
        &me.session,
        "success",
        format!(
            "The field {} and its values have been deleted.",
            field.label
        ),
    );
    Ok(Redirect::to("/admin/custom-fields").see_other())
}
