//! Enquiries from the public support form: matching the visitor to a
//! contact, the conversation, and the status rules (Open, Handling, Missed,
//! Closed). Every status change is one conditional UPDATE, so that two
//! members (or two app instances) acting at once cannot both win.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz},
};

use crate::domain::{
    Email,
    contact::{ContactInput, ContactType, EmailInput, EmailKind, Level, PhoneInput, PhoneKind},
    phone::Phone,
};

/// How many enquiries one client address may send in `RATE_WINDOW_MINUTES`.
pub const RATE_LIMIT: i64 = 5;
pub const RATE_WINDOW_MINUTES: i64 = 10;
/// How many messages one client address may write on private links in the
/// same window: a conversation, not a flood.
pub const REPLY_LIMIT: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Open,
    Handling,
    Missed,
    Closed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Open,
        Status::Handling,
        Status::Missed,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Handling => "handling",
            Status::Missed => "missed",
            Status::Closed => "closed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Open => "Open",
            Status::Handling => "Handling",
            Status::Missed => "Missed",
            Status::Closed => "Closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A visitor's details, each checked by the contact rules.
pub struct Visitor {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

impl Visitor {
    pub fn display_name(&self) -> String {
        crate::models::contact::display_name(&self.first_name, &self.last_name)
    }
}

pub struct Submitted {
    pub enquiry_id: i64,
    pub contact_id: i64,
    /// The visitor's private link token: shown once, stored only hashed.
    pub token: String,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Whether `client` has sent `limit` submissions in the window. Replies on
/// private links are counted under `reply:` and the client's address.
fn rate_limited(conn: &mut PgConnection, client: &str, limit: i64) -> QueryResult<bool> {
    let n: N = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM support_submissions \
         WHERE client = $1 AND created_at > now() - interval '{RATE_WINDOW_MINUTES} minutes'"
    ))
    .bind::<Text, _>(client)
    .get_result(conn)?;
    Ok(n.n >= limit)
}

/// Counts one submission from `client` unless it has sent `limit` in the
/// window (then false, nothing counted). Serialised per client by an
/// advisory lock held to the end of the caller's transaction, so that many
/// at once cannot all pass the count.
pub fn admit(conn: &mut PgConnection, client: &str, limit: i64) -> QueryResult<bool> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(7262010, hashtext($1))")
        .bind::<Text, _>(client)
        .execute(conn)?;
    if rate_limited(conn, client, limit)? {
        return Ok(false);
    }
    record_submission(conn, client)?;
    Ok(true)
}

/// Records one submission from `client`, and forgets those past the window.
fn record_submission(conn: &mut PgConnection, client: &str) -> QueryResult<()> {
    diesel::sql_query("INSERT INTO support_submissions (client) VALUES ($1)")
        .bind::<Text, _>(client)
        .execute(conn)?;
    diesel::sql_query(format!(
        "DELETE FROM support_submissions WHERE created_at < now() - interval '{RATE_WINDOW_MINUTES} minutes'"
    ))
    .execute(conn)?;
    Ok(())
}

/// Live contacts (not trashed, not merged away) with exactly this email or
/// phone, most recently updated first.
pub fn matching_contacts(
    conn: &mut PgConnection,
    email: Option<&Email>,
    phone: Option<&Phone>,
) -> QueryResult<Vec<i64>> {
    if email.is_none() && phone.is_none() {
        return Ok(Vec::new());
    }
    Ok(diesel::sql_query(
        "SELECT c.id FROM contacts c WHERE c.deleted_at IS NULL AND c.merged_into IS NULL AND ( \
           c.id IN (SELECT e.contact_id FROM contact_emails e WHERE lower(e.email) = lower($1)) \
           OR c.id IN (SELECT p.contact_id FROM contact_phones p WHERE p.number = $2)) \
         ORDER BY c.updated_at DESC, c.id DESC LIMIT 21",
    )
    .bind::<Nullable<Text>, _>(email.map(Email::as_str))
    .bind::<Nullable<Text>, _>(phone.map(Phone::as_str))
    .load::<Id>(conn)?
    .into_iter()
    .map(|r| r.id)
    .collect())
}

/// Files the visitor's enquiry (the caller runs this in a transaction):
/// linked to the contact their email or phone names, or to a new Lead.
/// `web_visitor` is the website journey's visitor id, when known.
pub fn submit(
    conn: &mut PgConnection,
    v: &Visitor,
    message: &str,
    web_visitor: Option<&str>,
) -> QueryResult<Submitted> {
    let found = matching_contacts(conn, v.email.as_ref(), v.phone.as_ref())?;
    let (contact_id, others) = match found.split_first() {
        Some((first, rest)) => (*first, rest.to_vec()),
        None => {
            let input = ContactInput {
                first_name: v.first_name.clone(),
                last_name: v.last_name.clone(),
                contact_type: ContactType::Lead,
                level: Level::Primary,
                company: String::new(),
                job_title: String::new(),
                team: String::new(),
                birth_date: None,
                language: None,
                contact_group: String::new(),
                street: String::new(),
                city: String::new(),
                state: String::new(),
                zip_code: String::new(),
                country: None,
                owner_id: None,
                phones: v
                    .phone
                    .iter()
                    .map(|p| PhoneInput {
                        id: None,
                        kind: PhoneKind::Mobile,
                        number: p.clone(),
                    })
                    .collect(),
                emails: v
                    .email
                    .iter()
                    .map(|e| EmailInput {
                        id: None,
                        kind: EmailKind::Work,
                        email: e.clone(),
                    })
                    .collect(),
                socials: Vec::new(),
                label_ids: Vec::new(),
                custom: Vec::new(),
            };
            (
                crate::models::contact::create(conn, &input, None, "enquiry")?,
                Vec::new(),
            )
        }
    };
    let token = crate::security::random_token(40);
    let enquiry_id = diesel::sql_query(
        "INSERT INTO enquiries (contact_id, visitor_name, visitor_email, visitor_phone, token_hash, possible_duplicates, visitor_id) \
         VALUES ($1, $2, $3, $4, sha256(convert_to($5, 'UTF8')), $6, $7) RETURNING id",
    )
    .bind::<BigInt, _>(contact_id)
    .bind::<Text, _>(v.display_name())
    .bind::<Nullable<Text>, _>(v.email.as_ref().map(Email::as_str))
    .bind::<Nullable<Text>, _>(v.phone.as_ref().map(Phone::as_str))
    .bind::<Text, _>(&token)
    .bind::<Array<BigInt>, _>(&others)
    .bind::<Nullable<Text>, _>(web_visitor)
    .get_result::<Id>(conn)?
    .id;
    add_message(conn, enquiry_id, None, message)?;
    Ok(Submitted {
        enquiry_id,
        contact_id,
        token,
    })
}

fn add_message(
    conn: &mut PgConnection,
    enquiry_id: i64,
    staff_id: Option<i64>,
    body: &str,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO enquiry_messages (enquiry_id, staff_id, body) VALUES ($1, $2, $3)",
    )
    .bind::<BigInt, _>(enquiry_id)
    .bind::<Nullable<BigInt>, _>(staff_id)
    .bind::<Text, _>(body)
    .execute(conn)?;
    diesel::sql_query("UPDATE enquiries SET last_message_at = now() WHERE id = $1")
        .bind::<BigInt, _>(enquiry_id)
        .execute(conn)?;
    Ok(())
}

fn add_event(
    conn: &mut PgConnection,
    enquiry_id: i64,
    kind: &str,
    staff_id: Option<i64>,
    to_staff: Option<i64>,
    note: &str,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO enquiry_events (enquiry_id, kind, staff_id, to_staff, note) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind::<BigInt, _>(enquiry_id)
    .bind::<Text, _>(kind)
    .bind::<Nullable<BigInt>, _>(staff_id)
    .bind::<Nullable<BigInt>, _>(to_staff)
    .bind::<Text, _>(note)
    .execute(conn)
    .map(drop)
}

/// An enquiry as its pages show it.
#[derive(QueryableByName, Clone, Debug)]
pub struct Enquiry {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub contact_id: i64,
    #[diesel(sql_type = Text)]
    pub contact_name: String,
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub visitor_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub visitor_email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub visitor_phone: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub handler_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub handler_name: Option<String>,
    /// Who closed it, when it is closed.
    #[diesel(sql_type = Nullable<Text>)]
    pub closed_by_name: Option<String>,
    #[diesel(sql_type = Array<BigInt>)]
    pub possible_duplicates: Vec<i64>,
    #[diesel(sql_type = Text)]
    pub resolution: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub opened_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub closed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Text)]
    pub first_message: String,
}

impl Enquiry {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Open)
    }
}

const ENQUIRY_COLUMNS: &str = "q.id, q.contact_id, btrim(c.first_name || ' ' || c.last_name) AS contact_name, \
    q.channel, q.status, q.visitor_name, q.visitor_email, q.visitor_phone, q.handler_id, \
    h.display_name AS handler_name, cb.display_name AS closed_by_name, q.possible_duplicates, q.resolution, q.created_at, q.opened_at, q.closed_at, \
    coalesce((SELECT m.body FROM enquiry_messages m WHERE m.enquiry_id = q.id ORDER BY m.id LIMIT 1), '') AS first_message \
    FROM enquiries q JOIN contacts c ON c.id = q.contact_id LEFT JOIN staff h ON h.id = q.handler_id \
    LEFT JOIN staff cb ON cb.id = q.closed_by";

pub fn load(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Enquiry>> {
    diesel::sql_query(format!("SELECT {ENQUIRY_COLUMNS} WHERE q.id = $1"))
        .bind::<BigInt, _>(id)
        .get_result(conn)
        .optional()
}

/// The enquiry behind a visitor's private link.
pub fn by_token(conn: &mut PgConnection, token: &str) -> QueryResult<Option<Enquiry>> {
    // Tokens are 40 letters and digits; anything else cannot match.
    if token.len() != 40 || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    diesel::sql_query(format!(
        "SELECT {ENQUIRY_COLUMNS} WHERE q.token_hash = sha256(convert_to($1, 'UTF8'))"
    ))
    .bind::<Text, _>(token)
    .get_result(conn)
    .optional()
}

/// Which enquiries a tab of the Enquiries page lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Open,
    /// Handling by this member.
    Mine(i64),
    /// Handling by anyone.
    Handling,
    Missed,
    Closed,
}

/// One page of a tab, oldest first (closed ones newest first), after the
/// enquiry `after` (keyset on the tab's order).
pub fn list(
    conn: &mut PgConnection,
    tab: Tab,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> QueryResult<Vec<Enquiry>> {
    let (filter, order, op) = match tab {
        Tab::Open => ("q.status = 'open'", "q.opened_at, q.id", ">"),
        Tab::Mine(_) => (
            "q.status = 'handling' AND q.handler_id = $3",
            "q.opened_at, q.id",
            ">",
        ),
        Tab::Handling => ("q.status = 'handling'", "q.opened_at, q.id", ">"),
        Tab::Missed => ("q.status = 'missed'", "q.opened_at, q.id", ">"),
        Tab::Closed => ("q.status = 'closed'", "q.opened_at DESC, q.id DESC", "<"),
    };
    // The member is bind $1 when the tab needs one; the cursor follows.
    let mut binds = 0;
    let mut conds = vec![filter.to_string()];
    if matches!(tab, Tab::Mine(_)) {
        binds += 1;
    }
    if after.is_some() {
        conds.push(format!(
            "(q.opened_at, q.id) {op} (${}, ${})",
            binds + 1,
            binds + 2
        ));
    }
    let mut query = diesel::sql_query(format!(
        "SELECT {ENQUIRY_COLUMNS} WHERE {} ORDER BY {order} LIMIT {limit}",
        conds.join(" AND ")
    ))
    .into_boxed();
    if let Tab::Mine(member) = tab {
        query = query.bind::<BigInt, _>(member);
    }
    if let Some((at, id)) = after {
        query = query.bind::<Timestamptz, _>(at).bind::<BigInt, _>(id);
    }
    query.load(conn)
}

/// A contact's enquiries, newest first, before (created at, id).
pub fn of_contact(
    conn: &mut PgConnection,
    contact_id: i64,
    before: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> QueryResult<Vec<Enquiry>> {
    super::newest_of_contact(
        conn,
        &format!("SELECT {ENQUIRY_COLUMNS} WHERE q.contact_id = $1"),
        ("q.created_at", "q.id"),
        contact_id,
        before,
        limit,
    )
}

pub fn count_of_contact(conn: &mut PgConnection, contact_id: i64) -> QueryResult<i64> {
    super::count_of_contact(conn, "enquiries", contact_id)
}

/// How many enquiries each tab holds: open, mine, handling, missed, closed.
pub struct Counts {
    pub open: i64,
    pub mine: i64,
    pub handling: i64,
    pub missed: i64,
    pub closed: i64,
}

pub fn counts(conn: &mut PgConnection, member: i64) -> QueryResult<Counts> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        open: i64,
        #[diesel(sql_type = BigInt)]
        mine: i64,
        #[diesel(sql_type = BigInt)]
        handling: i64,
        #[diesel(sql_type = BigInt)]
        missed: i64,
        #[diesel(sql_type = BigInt)]
        closed: i64,
    }
    let r: Row = diesel::sql_query(
        "SELECT (SELECT count(*) FROM enquiries WHERE status = 'open') AS open, \
                (SELECT count(*) FROM enquiries WHERE status = 'handling' AND handler_id = $1) AS mine, \
                (SELECT count(*) FROM enquiries WHERE status = 'handling') AS handling, \
                (SELECT count(*) FROM enquiries WHERE status = 'missed') AS missed, \
                (SELECT count(*) FROM enquiries WHERE status = 'closed') AS closed",
    )
    .bind::<BigInt, _>(member)
    .get_result(conn)?;
    Ok(Counts {
        open: r.open,
        mine: r.mine,
        handling: r.handling,
        missed: r.missed,
        closed: r.closed,
    })
}

/// The number of Open enquiries, for the header badge.
pub fn open_count(conn: &mut PgConnection) -> QueryResult<i64> {
    Ok(
        diesel::sql_query("SELECT count(*) AS n FROM enquiries WHERE status = 'open'")
            .get_result::<N>(conn)?
            .n,
    )
}

/// What came of an attempt to take an enquiry.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    Yes,
    /// Someone else holds it now (their name), or it is closed.
    AlreadyHandled(String),
    Closed,
    NotFound,
}

/// Takes an Open or Missed enquiry for `member`. One UPDATE with the status
/// in its condition: of two members taking at once, exactly one changes the
/// row and the other is told who did.
pub fn take(conn: &mut PgConnection, id: i64, member: i64) -> QueryResult<Taken> {
    let changed = diesel::sql_query(
        "UPDATE enquiries SET status = 'handling', handler_id = $2, taken_at = now() \
         WHERE id = $1 AND status IN ('open', 'missed')",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(member)
    .execute(conn)?;
    if changed == 1 {
        add_event(conn, id, "taken", Some(member), None, "")?;
        return Ok(Taken::Yes);
    }
    Ok(match load(conn, id)? {
        None => Taken::NotFound,
        Some(q) if q.status() == Status::Closed => Taken::Closed,
        Some(q) => Taken::AlreadyHandled(q.handler_name.unwrap_or_else(|| "someone".into())),
    })
}

/// A staff reply, only from the member handling the enquiry. False when
/// they do not handle it (nothing is written).
pub fn staff_reply(conn: &mut PgConnection, id: i64, member: i64, body: &str) -> QueryResult<bool> {
    // Locks the row, so that a transfer or close in between cannot let a
    // reply through from someone who no longer handles it.
    let handles = diesel::sql_query(
        "SELECT id FROM enquiries WHERE id = $1 AND status = 'handling' AND handler_id = $2 FOR UPDATE",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(member)
    .get_result::<Id>(conn)
    .optional()?
    .is_some();
    if handles {
        add_message(conn, id, Some(member), body)?;
    }
    Ok(handles)
}

/// The contact of enquiry `id` when `member` may edit it from the room: the
/// enquiry is Handling, by them (or they are an administrator). Open, Missed
/// and Closed enquiries only let staff view it. Locks the enquiry row when
/// run in a transaction, so that a close or transfer waits for the save.
pub fn editable_contact(
    conn: &mut PgConnection,
    id: i64,
    member: i64,
    admin: bool,
) -> QueryResult<Option<i64>> {
    #[derive(QueryableByName)]
    struct C {
        #[diesel(sql_type = BigInt)]
        contact_id: i64,
    }
    Ok(diesel::sql_query(
        "SELECT contact_id FROM enquiries WHERE id = $1 AND status = 'handling' \
         AND (handler_id = $2 OR $3) FOR UPDATE",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(member)
    .bind::<diesel::sql_types::Bool, _>(admin)
    .get_result::<C>(conn)
    .optional()?
    .map(|c| c.contact_id))
}

/// The visitor writes again; a closed enquiry is reopened as Open, and a
/// missed one stays missed (it is still waiting for someone).
pub fn visitor_reply(conn: &mut PgConnection, id: i64, body: &str) -> QueryResult<()> {
    let reopened = diesel::sql_query(
        "UPDATE enquiries SET status = 'open', opened_at = now(), closed_at = NULL, closed_by = NULL \
         WHERE id = $1 AND status = 'closed'",
    )
    .bind::<BigInt, _>(id)
    .execute(conn)?;
    if reopened == 1 {
        add_event(conn, id, "reopened", None, None, "")?;
    }
    add_message(conn, id, None, body)
}

/// Closes an enquiry handled by `member` (or by anyone, for an
/// administrator); false when they may not.
pub fn close(
    conn: &mut PgConnection,
    id: i64,
    member: i64,
    admin: bool,
    resolution: &str,
) -> QueryResult<bool> {
    let changed = diesel::sql_query(
        "UPDATE enquiries SET status = 'closed', handler_id = NULL, closed_at = now(), closed_by = $2, resolution = $4 \
         WHERE id = $1 AND status <> 'closed' AND (handler_id = $2 OR $3)",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(member)
    .bind::<diesel::sql_types::Bool, _>(admin)
    .bind::<Text, _>(resolution)
    .execute(conn)?;
    if changed == 1 {
        add_event(conn, id, "closed", Some(member), None, resolution)?;
    }
    Ok(changed == 1)
}

/// Hands an enquiry from its handler (or, for an administrator, from
/// whoever has it) to `to`, an active member; false when they may not.
pub fn transfer(
    conn: &mut PgConnection,
    id: i64,
    member: i64,
    admin: bool,
    to: i64,
) -> QueryResult<bool> {
    let changed = diesel::sql_query(
        "UPDATE enquiries SET handler_id = $4, taken_at = now() \
         WHERE id = $1 AND status = 'handling' AND (handler_id = $2 OR $3) AND handler_id <> $4 \
           AND EXISTS (SELECT 1 FROM staff s WHERE s.id = $4 AND s.active)",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(member)
    .bind::<diesel::sql_types::Bool, _>(admin)
    .bind::<BigInt, _>(to)
    .execute(conn)?;
    if changed == 1 {
        add_event(conn, id, "transferred", Some(member), Some(to), "")?;
    }
    Ok(changed == 1)
}

/// Marks Open enquiries nobody took within the setting's minutes as Missed.
/// The status in the UPDATE's condition makes this happen once, whichever
/// instance runs it first; returns how many it marked.
pub fn mark_missed(conn: &mut PgConnection) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let ids: Vec<Id> = diesel::sql_query(
            "UPDATE enquiries SET status = 'missed' WHERE status = 'open' AND opened_at < now() - \
               make_interval(mins => (SELECT missed_after_minutes FROM settings LIMIT 1)) \
             RETURNING id",
        )
        .load(conn)?;
        for r in &ids {
            add_event(conn, r.id, "missed", None, None, "")?;
        }
        Ok(ids.len())
    })
}

pub fn set_missed_after_minutes(conn: &mut PgConnection, minutes: i32, by: i64) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE settings SET missed_after_minutes = $1, updated_by = $2, updated_at = now()",
    )
    .bind::<Integer, _>(minutes)
    .bind::<BigInt, _>(by)
    .execute(conn)
    .map(drop)
}

pub fn missed_after_minutes(conn: &mut PgConnection) -> QueryResult<i32> {
    #[derive(QueryableByName)]
    struct M {
        #[diesel(sql_type = Integer)]
        m: i32,
    }
    Ok(
        diesel::sql_query("SELECT missed_after_minutes AS m FROM settings LIMIT 1")
            .get_result::<M>(conn)
            .optional()?
            .map_or(15, |r| r.m),
    )
}

/// One line of the conversation: a message or an event.
#[derive(QueryableByName, Clone, Debug)]
pub struct Line {
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// The member who wrote or acted; None for the visitor or the system.
    #[diesel(sql_type = Nullable<Text>)]
    pub staff_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub to_name: Option<String>,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
}

/// The conversation in order, messages and events interleaved.
pub fn conversation(conn: &mut PgConnection, id: i64) -> QueryResult<Vec<Line>> {
    diesel::sql_query(
        "SELECT * FROM ( \
           SELECT 'message' AS kind, s.display_name AS staff_name, NULL::text AS to_name, m.body, m.created_at AS at, m.id AS seq, 0 AS src \
           FROM enquiry_messages m LEFT JOIN staff s ON s.id = m.staff_id WHERE m.enquiry_id = $1 \
           UNION ALL \
           SELECT e.kind, s.display_name, t.display_name, e.note, e.created_at, e.id, 1 \
           FROM enquiry_events e LEFT JOIN staff s ON s.id = e.staff_id LEFT JOIN staff t ON t.id = e.to_staff \
           WHERE e.enquiry_id = $1) x ORDER BY at, src, seq",
    )
    .bind::<BigInt, _>(id)
    .load(conn)
}
