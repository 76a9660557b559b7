//! The `labels` and `contact_labels` tables.

use diesel::prelude::*;

use crate::schema::{contact_labels, labels};

#[derive(Queryable, Selectable, Identifiable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = labels, check_for_backend(diesel::pg::Pg))]
pub struct Label {
    pub id: i64,
    pub name: String,
    pub colour: String,
}

impl Label {
    pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<Label>> {
        labels::table
            .select(Label::as_select())
            .order((
                diesel::dsl::sql::<diesel::sql_types::Text>("lower(name)"),
                labels::id,
            ))
            .load(conn)
    }

    pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Label> {
        labels::table
            .find(id)
            .select(Label::as_select())
            .first(conn)
    }

    pub fn insert(conn: &mut PgConnection, name: &str, colour: &str) -> QueryResult<Label> {
        diesel::insert_into(labels::table)
            .values((labels::name.eq(name), labels::colour.eq(colour)))
            .returning(Label::as_returning())
            .get_result(conn)
    }

    pub fn update(
        conn: &mut PgConnection,
        id: i64,
        name: &str,
        colour: &str,
    ) -> QueryResult<Label> {
        diesel::update(labels::table.find(id))
            .set((labels::name.eq(name), labels::colour.eq(colour)))
            .returning(Label::as_returning())
            .get_result(conn)
    }

    pub fn delete(conn: &mut PgConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(labels::table.find(id)).execute(conn)
    }

    /// How many contacts (live or in the trash) carry `id`.
    pub fn uses(conn: &mut PgConnection, id: i64) -> QueryResult<i64> {
        contact_labels::table
            .filter(contact_labels::label_id.eq(id))
            .count()
            .get_result(conn)
    }

    /// How many contacts carry each label, for the administration page.
    pub fn usage(conn: &mut PgConnection) -> QueryResult<Vec<(i64, i64)>> {
        contact_labels::table
            .group_by(contact_labels::label_id)
            .select((contact_labels::label_id, diesel::dsl::count_star()))
            .load(conn)
    }

    /// The labels of one contact, by name.
    /// The labels of each of `contact_ids`, as (contact, label), each
    /// contact's in the order `of_contact` gives them.
    pub fn of_contacts(
        conn: &mut PgConnection,
        contact_ids: &[i64],
    ) -> QueryResult<Vec<(i64, Label)>> {
        labels::table
            .inner_join(contact_labels::table)
            .filter(contact_labels::contact_id.eq_any(contact_ids))
            .select((contact_labels::contact_id, Label::as_select()))
            .order((
                contact_labels::contact_id,
                diesel::dsl::sql::<diesel::sql_types::Text>("lower(labels.name)"),
            ))
            .load(conn)
    }

    pub fn of_contact(conn: &mut PgConnection, contact_id: i64) -> QueryResult<Vec<Label>> {
        labels::table
            .inner_join(contact_labels::table)
            .filter(contact_labels::contact_id.eq(contact_id))
            .select(Label::as_select())
            .order(diesel::dsl::sql::<diesel::sql_types::Text>(
                "lower(labels.name)",
            ))
            .load(conn)
    }
}
