//! The `custom_fields` and `custom_field_values` tables.

use diesel::prelude::*;

use crate::{
    domain::contact::{CustomFieldDef, CustomFieldKind},
    schema::{custom_field_values, custom_fields},
};

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = custom_fields, check_for_backend(diesel::pg::Pg))]
pub struct CustomField {
    pub id: i64,
    pub label: String,
    pub kind: String,
    /// PostgreSQL arrays may hold NULLs; ours never do.
    pub options: Vec<Option<String>>,
    pub required: bool,
    pub position: i32,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = custom_fields)]
pub struct CustomFieldChanges<'a> {
    pub label: &'a str,
    pub kind: &'a str,
    pub options: &'a [String],
    pub required: bool,
    pub position: i32,
}

impl CustomField {
    pub fn option_list(&self) -> Vec<String> {
        self.options.iter().flatten().cloned().collect()
    }

    pub fn def(&self) -> CustomFieldDef {
        CustomFieldDef {
            id: self.id,
            label: self.label.clone(),
            kind: self.kind.parse().unwrap_or(CustomFieldKind::Text),
            options: self.option_list(),
            required: self.required,
        }
    }

    /// In form order.
    pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<CustomField>> {
        custom_fields::table
            .select(CustomField::as_select())
            .order((custom_fields::position, custom_fields::id))
            .load(conn)
    }

    pub fn defs(conn: &mut PgConnection) -> QueryResult<Vec<CustomFieldDef>> {
        Ok(Self::all(conn)?.iter().map(CustomField::def).collect())
    }

    pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<CustomField> {
        custom_fields::table
            .find(id)
            .select(CustomField::as_select())
            .first(conn)
    }

    pub fn insert(
        conn: &mut PgConnection,
        new: &CustomFieldChanges<'_>,
    ) -> QueryResult<CustomField> {
        diesel::insert_into(custom_fields::table)
            .values(new)
            .returning(CustomField::as_returning())
            .get_result(conn)
    }

    pub fn update(
        conn: &mut PgConnection,
        id: i64,
        changes: &CustomFieldChanges<'_>,
    ) -> QueryResult<CustomField> {
        diesel::update(custom_fields::table.find(id))
            .set(changes)
            .returning(CustomField::as_returning())
            .get_result(conn)
    }

    pub fn delete(conn: &mut PgConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(custom_fields::table.find(id)).execute(conn)
    }

    /// field id → value for one contact.
    pub fn values_of(conn: &mut PgConnection, contact_id: i64) -> QueryResult<Vec<(i64, String)>> {
        custom_field_values::table
            .filter(custom_field_values::contact_id.eq(contact_id))
            .select((custom_field_values::field_id, custom_field_values::value))
            .load(conn)
    }
}
