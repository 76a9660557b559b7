//! Calls and SMS staff logged with a contact. The author may correct an
//! entry for 24 hours; after that it stands as the record.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Integer, Nullable, Text, Timestamptz},
};

/// How long the author may correct what they logged.
pub const CORRECTION_HOURS: i64 = 24;

/// What came of a call or an SMS: (stored value, label).
pub const CALL_OUTCOMES: [(&str, &str); 5] = [
    ("answered", "Answered"),
    ("no_answer", "No answer"),
    ("busy", "Busy"),
    ("voicemail", "Voicemail"),
    ("failed", "Failed"),
];
pub const SMS_OUTCOMES: [(&str, &str); 2] = [("sent", "Sent"), ("failed", "Failed")];

pub fn outcome_label(value: &str) -> &'static str {
    CALL_OUTCOMES
        .iter()
        .chain(SMS_OUTCOMES.iter())
        .find(|(v, _)| *v == value)
        .map_or("Unknown", |(_, l)| l)
}

/// An engagement that passed its rules.
pub struct NewEngagement {
    pub kind: &'static str,
    pub number: String,
    pub outcome: String,
    pub duration_seconds: Option<i32>,
    pub body: String,
    pub note: String,
}

#[derive(QueryableByName, Clone, Debug)]
pub struct Engagement {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub contact_id: i64,
    #[diesel(sql_type = BigInt)]
    pub staff_id: i64,
    #[diesel(sql_type = Text)]
    pub staff_name: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub number: String,
    #[diesel(sql_type = Text)]
    pub outcome: String,
    #[diesel(sql_type = Nullable<Integer>)]
    pub duration_seconds: Option<i32>,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = Text)]
    pub note: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
}

impl Engagement {
    /// Whether `member` may still correct it at `now`.
    pub fn correctable_by(&self, member: i64, now: DateTime<Utc>) -> bool {
        self.staff_id == member && now - self.created_at < chrono::Duration::hours(CORRECTION_HOURS)
    }
}

const COLUMNS: &str = "g.id, g.contact_id, g.staff_id, s.display_name AS staff_name, g.kind, g.number, \
    g.outcome, g.duration_seconds, g.body, g.note, g.created_at, g.updated_at \
    FROM engagements g JOIN staff s ON s.id = g.staff_id";

pub fn insert(
    conn: &mut PgConnection,
    contact_id: i64,
    staff_id: i64,
    e: &NewEngagement,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    Ok(diesel::sql_query(
        "INSERT INTO engagements (contact_id, staff_id, kind, number, outcome, duration_seconds, body, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind::<BigInt, _>(contact_id)
    .bind::<BigInt, _>(staff_id)
    .bind::<Text, _>(e.kind)
    .bind::<Text, _>(&e.number)
    .bind::<Text, _>(&e.outcome)
    .bind::<Nullable<Integer>, _>(e.duration_seconds)
    .bind::<Text, _>(&e.body)
    .bind::<Text, _>(&e.note)
    .get_result::<Id>(conn)?
    .id)
}

/// Corrects engagement `id` of contact `contact_id` if `staff_id` logged it
/// less than `CORRECTION_HOURS` ago (checked in the UPDATE itself); false
/// when not.
pub fn correct(
    conn: &mut PgConnection,
    id: i64,
    contact_id: i64,
    staff_id: i64,
    e: &NewEngagement,
) -> QueryResult<bool> {
    let n = diesel::sql_query(format!(
        "UPDATE engagements SET number = $4, outcome = $5, duration_seconds = $6, body = $7, note = $8, \
         updated_at = now() WHERE id = $1 AND contact_id = $2 AND staff_id = $3 AND kind = $9 \
         AND created_at > now() - interval '{CORRECTION_HOURS} hours'"
    ))
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(contact_id)
    .bind::<BigInt, _>(staff_id)
    .bind::<Text, _>(&e.number)
    .bind::<Text, _>(&e.outcome)
    .bind::<Nullable<Integer>, _>(e.duration_seconds)
    .bind::<Text, _>(&e.body)
    .bind::<Text, _>(&e.note)
    .bind::<Text, _>(e.kind)
    .execute(conn)?;
    Ok(n == 1)
}

pub fn load(conn: &mut PgConnection, id: i64, contact_id: i64) -> QueryResult<Option<Engagement>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS} WHERE g.id = $1 AND g.contact_id = $2"
    ))
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(contact_id)
    .get_result(conn)
    .optional()
}

/// A contact's engagements, newest first, before (created at, id).
pub fn of_contact(
    conn: &mut PgConnection,
    contact_id: i64,
    before: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> QueryResult<Vec<Engagement>> {
    super::newest_of_contact(
        conn,
        &format!("SELECT {COLUMNS} WHERE g.contact_id = $1"),
        ("g.created_at", "g.id"),
        contact_id,
        before,
        limit,
    )
}

pub fn count_of_contact(conn: &mut PgConnection, contact_id: i64) -> QueryResult<i64> {
    super::count_of_contact(conn, "engagements", contact_id)
}
