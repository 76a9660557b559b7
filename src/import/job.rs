//! The background import runner. Jobs live in the `imports` table; any app
//! instance claims one with `FOR UPDATE SKIP LOCKED` and then holds a
//! session-level advisory lock on it for as long as it runs, so a crashed
//! instance (or a restarted PostgreSQL) frees the job at once. Each batch of
//! rows is written together with the job's new position in one transaction:
//! a resumed job starts exactly after the last committed batch.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak, mpsc};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Text};

use crate::AppState;
use crate::db::{DbConn, DbPool};
use crate::domain::contact::ContactInput;
use crate::import::copy::CopyBuffer;
use crate::import::header::Header;
use crate::import::matching::{self, Lookup, Resolution};
use crate::import::merge;
use crate::import::row::{ParsedRow, is_blank, parse_record};
use crate::models::contact::{self, ChildCopies, display_name, source};
use crate::models::custom_field::CustomField;
use crate::models::import::{Import, status};
use crate::schema::{contact_changes, contacts, import_errors, import_matches, imports};

/// Rows written per transaction: large enough that COPY dominates, small
/// enough that progress moves every second or so and memory stays small.
pub const BATCH_ROWS: usize = 5_000;
/// Rows per transaction in update mode: each such batch holds its contacts
/// as they were and as they are saved, so two writers stay within memory
/// with smaller batches (at 100,000 rows: 109 MB at the highest instead of
/// 154 with 5,000, and no slower).
pub const UPDATE_BATCH_ROWS: usize = 2_500;
/// A job that failed this many times in a row is given up.
const MAX_ATTEMPTS: i32 = 5;
/// The advisory lock space of import jobs ("CBI").
const LOCK_SPACE: i32 = 0x0043_4249;
/// How often the runner looks for Open enquiries past their time.
const MISSED_CHECK: Duration = Duration::from_secs(5);
const IDLE_POLL: Duration = Duration::from_secs(2);

pub(crate) fn now()
-> diesel::expression::SqlLiteral<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>> {
    diesel::dsl::sql("now()")
}

/// Wakes the runner when a job is queued, instead of waiting for its poll.
#[derive(Default)]
pub struct Wake {
    flag: Mutex<bool>,
    cond: Condvar,
}

impl Wake {
    pub fn notify(&self) {
        if let Ok(mut f) = self.flag.lock() {
            *f = true;
            self.cond.notify_all();
        }
    }

    pub fn wait(&self, timeout: Duration) {
        if let Ok(f) = self.flag.lock()
            && let Ok((mut f, _)) = self.cond.wait_timeout_while(f, timeout, |f| !*f)
        {
            *f = false;
        }
    }
}

/// Starts the runner thread; it ends when the app state is dropped.
pub fn spawn_runner(state: Weak<AppState>, wake: Arc<Wake>) {
    let spawned = std::thread::Builder::new()
        .name("import-runner".into())
        .spawn(move || {
            let mut missed_checked: Option<std::time::Instant> = None;
            loop {
                let Some(app) = state.upgrade() else { return };
                let pool = app.pool.clone();
                drop(app);
                // Open enquiries nobody took in time become Missed, whether or
                // not anyone is looking, even while an import runs.
                if missed_checked.is_none_or(|at| at.elapsed() >= MISSED_CHECK) {
                    missed_checked = Some(std::time::Instant::now());
                    let marked = pool.get().map_err(|e| e.to_string()).and_then(|mut c| {
                        crate::models::enquiry::mark_missed(&mut c).map_err(|e| e.to_string())
                    });
                    match marked {
                        Ok(0) => {}
                        Ok(n) => {
                            log::info!("{n} open enquiries missed");
                            if let Some(app) = state.upgrade() {
                                app.open_enquiries.clear();
                            }
                        }
                        Err(e) => log::warn!("missed enquiries: {e}"),
                    }
                }
                match run_next(&pool) {
                    Ok(true) => {
                        // The import may have created labels the filters offer.
                        if let Some(app) = state.upgrade() {
                            app.list_choices.clear();
                            app.contacts_changed();
                        }
                        crate::trim_heap();
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => log::warn!("import runner: {e}"),
                }
                // Between imports, the contacts of deactivated members move
                // to their new owners a batch at a time.
                let transferred = pool.get().map_err(|e| e.to_string()).and_then(|mut c| {
                    crate::models::ownership::work_pending(&mut c).map_err(|e| e.to_string())
                });
                match transferred {
                    Ok(true) => {
                        if let Some(app) = state.upgrade() {
                            app.contacts_changed();
                        }
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => log::warn!("ownership transfer: {e}"),
                }
                wake.wait(IDLE_POLL);
            }
        });
    if let Err(e) = spawned {
        log::error!("cannot start the import runner: {e}");
    }
}

#[derive(Debug)]
pub enum JobError {
    /// The database went away or refused a batch: the job stays claimable and
    /// is tried again.
    Retry(String),
    /// Nothing will make this job work (its file is gone).
    Fatal(String),
    /// Somebody stopped the import; what was written stays.
    Stopped,
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Retry(e) | JobError::Fatal(e) => f.write_str(e),
            JobError::Stopped => f.write_str("stopped"),
        }
    }
}

impl From<diesel::result::Error> for JobError {
    fn from(e: diesel::result::Error) -> Self {
        JobError::Retry(e.to_string())
    }
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Claims one waiting or orphaned job and runs it to the end. Ok(false) when
/// there was nothing to do.
pub fn run_next(pool: &DbPool) -> Result<bool, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let Some(id) = claim(&mut conn).map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    let outcome = run_claimed(pool, &mut conn, id);
    let recorded = match &outcome {
        Ok(()) => Ok(()),
        Err(JobError::Stopped) => {
            log::info!("import {id} stopped by a user");
            // Only a job that really ended loses its file; anything else is
            // picked up again.
            imports::table
                .find(id)
                .filter(imports::status.eq(status::CANCELLED))
                .select(imports::stored_path)
                .first::<String>(&mut *conn)
                .optional()
                .map(|path| {
                    if let Some(path) = path {
                        let _ = std::fs::remove_file(path);
                    }
                })
        }
        Err(JobError::Fatal(e)) => finish_failed(&mut conn, id, e),
        Err(JobError::Retry(e)) => {
            log::warn!("import {id} stopped, will resume: {e}");
            diesel::update(imports::table.find(id))
                .set(imports::error.eq(Some(e.as_str())))
                .execute(&mut *conn)
                .map(drop)
        }
    };
    if !matches!(outcome, Err(JobError::Retry(_))) {
        // The job has ended: which row took which contact matters no more.
        let _ = diesel::delete(import_matches::table.filter(import_matches::import_id.eq(id)))
            .execute(&mut *conn);
    }
    unlock(&mut conn, id);
    recorded.map_err(|e| e.to_string())?;
    if let Err(JobError::Retry(e)) = outcome {
        return Err(e);
    }
    // Updated contacts leave dead row versions behind; created ones do not.
    let updated = imports::table
        .find(id)
        .select(imports::updated)
        .first::<i64>(&mut *conn)
        .unwrap_or(0);
    crate::db::tidy_contacts_after(pool, updated);
    Ok(true)
}

fn unlock(conn: &mut PgConnection, id: i64) {
    release_job_lock(conn, LOCK_SPACE, id);
}

/// Takes the session-level advisory lock of job `id` in lock space
/// `space` if nobody holds it: whoever holds it runs the job.
pub(crate) fn try_job_lock(conn: &mut PgConnection, space: i32, id: i64) -> QueryResult<bool> {
    diesel::sql_query("SELECT pg_try_advisory_lock($1, $2::int4) AS locked")
        .bind::<Integer, _>(space)
        .bind::<BigInt, _>(id)
        .get_result::<Locked>(conn)
        .map(|l| l.locked)
}

pub(crate) fn release_job_lock(conn: &mut PgConnection, space: i32, id: i64) {
    let _ = diesel::sql_query("SELECT pg_advisory_unlock($1, $2::int4)")
        .bind::<Integer, _>(space)
        .bind::<BigInt, _>(id)
        .execute(conn);
}

fn claim(conn: &mut PgConnection) -> QueryResult<Option<i64>> {
    conn.transaction(|conn| {
        let candidates: Vec<(i64, i32)> = imports::table
            .filter(imports::status.eq_any([status::QUEUED, status::RUNNING]))
            .order(imports::id)
            .select((imports::id, imports::attempts))
            .for_update()
            .skip_locked()
            .limit(10)
            .load(conn)?;
        for (id, attempts) in candidates {
            if !try_job_lock(conn, LOCK_SPACE, id)? {
                // Another instance is running it right now.
                continue;
            }
            if attempts >= MAX_ATTEMPTS {
                let last = imports::table
                    .find(id)
                    .select(imports::error)
                    .first::<Option<String>>(conn)?
                    .unwrap_or_default();
                finish_failed(
                    conn,
                    id,
                    &format!("stopped after {attempts} attempts: {last}"),
                )?;
                unlock(conn, id);
                continue;
            }
            diesel::update(imports::table.find(id))
                .set((
                    imports::status.eq(status::RUNNING),
                    imports::attempts.eq(imports::attempts + 1),
                    imports::started_at.eq(diesel::dsl::sql::<
                        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                    >("coalesce(started_at, now())")),
                    imports::heartbeat_at.eq(now()),
                ))
                .execute(conn)?;
            return Ok(Some(id));
        }
        Ok(None)
    })
}

fn finish_failed(conn: &mut PgConnection, id: i64, error: &str) -> QueryResult<()> {
    let path: String = diesel::update(imports::table.find(id))
        .set((
            imports::status.eq(status::FAILED),
            imports::error.eq(Some(error)),
            imports::finished_at.eq(now()),
        ))
        .returning(imports::stored_path)
        .get_result(conn)?;
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// One record read from the file.
struct Item {
    row_no: i64,
    outcome: Result<ParsedRow, String>,
    /// The values as uploaded, for the error log: kept for every row in
    /// update mode, where a valid row can still fail to match.
    fields: csv::StringRecord,
}

struct Batch {
    items: Vec<Item>,
    /// Records consumed, blank ones included.
    records: i64,
    end_offset: u64,
}

fn keys_of(row: &ParsedRow) -> impl Iterator<Item = String> + '_ {
    row.input
        .emails
        .iter()
        .map(|e| e.email.as_str().to_lowercase())
        .chain(
            row.input
                .phones
                .iter()
                .map(|p| p.number.as_str().to_string()),
        )
        .chain(row.id.map(|id| format!("#{id}")))
}

struct Reader {
    csv: csv::Reader<BufReader<File>>,
    start: u64,
    record: csv::StringRecord,
    /// A record read but left for the next batch.
    pending: Option<Item>,
    next_row: i64,
    header: Header,
    today: NaiveDate,
    update_mode: bool,
}

impl Reader {
    fn read_batch(&mut self) -> Result<Batch, JobError> {
        let size = if self.update_mode {
            UPDATE_BATCH_ROWS
        } else {
            BATCH_ROWS
        };
        // Sized once: grown by doubling, the list took up to twice the room
        // its rows need, in each of the three batches alive at once (one
        // being read, two being written).
        let mut batch = Batch {
            items: Vec::with_capacity(size),
            records: 0,
            end_offset: self.start + self.csv.position().byte(),
        };
        let mut keys: HashSet<String> = HashSet::new();
        if let Some(item) = self.pending.take() {
            if let Ok(row) = &item.outcome {
                keys.extend(keys_of(row));
            }
            batch.items.push(item);
            batch.records += 1;
            batch.end_offset = self.start + self.csv.position().byte();
        }
        while batch.items.len() < size {
            let more = self
                .csv
                .read_record(&mut self.record)
                .map_err(|e| JobError::Fatal(format!("the file cannot be read: {e}")))?;
            if !more {
                break;
            }
            let row_no = self.next_row;
            self.next_row += 1;
            if is_blank(&self.record) {
                batch.records += 1;
                batch.end_offset = self.start + self.csv.position().byte();
                continue;
            }
            let outcome =
                parse_record(&self.header, &self.record, self.today).map_err(|e| e.join("; "));
            // One buffer per record, not one string per field.
            let fields = if self.update_mode || outcome.is_err() {
                self.record.clone()
            } else {
                csv::StringRecord::new()
            };
            let item = Item {
                row_no,
                outcome,
                fields,
            };
            // In update mode a row that shares an email or phone with an
            // earlier row of this batch waits for the next batch, where it
            // finds (and updates) what that row wrote.
            if self.update_mode
                && let Ok(row) = &item.outcome
            {
                let row_keys: Vec<String> = keys_of(row).collect();
                if row_keys.iter().any(|k| keys.contains(k)) {
                    self.pending = Some(item);
                    break;
                }
                keys.extend(row_keys);
            }
            batch.items.push(item);
            batch.records += 1;
            batch.end_offset = self.start + self.csv.position().byte();
        }
        Ok(batch)
    }
}

/// Label names (lower-cased) to ids, filled as batches need them.
#[derive(Default, Clone)]
struct Labels(HashMap<String, i64>);

#[derive(QueryableByName)]
struct LabelRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct NextId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

impl Labels {
    /// Creates the labels that do not exist yet, committed at once (see
    /// `write_batch`), and returns the ids known so far. Writers share the
    /// cache but not its lock while they talk to the database, and insert
    /// missing names in sorted order so two of them never wait on each other
    /// in a circle.
    fn resolve<'a>(
        cache: &Mutex<Labels>,
        conn: &mut PgConnection,
        names: impl Iterator<Item = &'a String>,
    ) -> Result<Labels, JobError> {
        let known = lock(cache)?.clone();
        let mut missing: Vec<String> = names
            .filter(|n| !known.0.contains_key(&n.to_lowercase()))
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            return Ok(known);
        }
        missing.sort_by_key(|n| n.to_lowercase());
        diesel::sql_query(
            "INSERT INTO labels (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        )
        .bind::<Array<Text>, _>(&missing)
        .execute(conn)?;
        let lowered: Vec<String> = missing.iter().map(|n| n.to_lowercase()).collect();
        let found: Vec<LabelRow> = diesel::sql_query(
            "SELECT id, lower(name) AS name FROM labels WHERE lower(name) = ANY($1)",
        )
        .bind::<Array<Text>, _>(&lowered)
        .load(conn)?;
        let mut cache = lock(cache)?;
        for l in found {
            cache.0.insert(l.name, l.id);
        }
        Ok(cache.clone())
    }

    fn ids(&self, names: &[String], extra: &[i64]) -> Vec<i64> {
        let mut ids: Vec<i64> = names
            .iter()
            .filter_map(|n| self.0.get(&n.to_lowercase()).copied())
            .chain(extra.iter().copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// A writer thread panicked: the runner thread lives on and the job is tried
/// again.
fn writer_panicked() -> JobError {
    JobError::Retry("an import writer panicked".into())
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, JobError> {
    m.lock().map_err(|_| writer_panicked())
}

/// What every writer of a job shares.
struct Context<'a> {
    job: &'a Import,
    actor: Option<i64>,
    owner: Option<i64>,
    extra_labels: Vec<i64>,
    labels: Mutex<Labels>,
    custom_fields: Vec<i64>,
    order: CommitOrder,
    update_mode: bool,
    /// The uploader, when they may see only some contacts: an update never
    /// touches another.
    visible_to: Option<i64>,
    matcher: Matcher,
}

impl Context<'_> {
    /// A batch failed or the job was stopped: every batch waiting for its
    /// turn (to match or to commit) rolls back.
    fn break_off(&self) {
        self.order.break_off();
        self.matcher.turn.break_off();
    }
}

/// Update mode's writers match their batches one after another in file
/// order, and each batch sees what the batches before it took and added
/// even while those are still being written: an update may change what a
/// later row of the file matches, yet the writing (most of the work) goes
/// on side by side.
struct Matcher {
    /// Whose turn it is to match; `committed` here means "matched".
    turn: CommitOrder,
    /// Matched batches that have not committed yet: the database cannot
    /// show another writer what they wrote.
    in_flight: Mutex<Vec<InFlight>>,
    /// The highest contact id the job's record of claims may hold (see
    /// `matching::ClaimRecord`): what it held when the run began, then what
    /// every batch matched since took (committed or not, which errs safe).
    highest_claim: AtomicI64,
}

/// What a matched, uncommitted batch takes: each contact with the row that
/// took it, the emails and phones its rows lead to (an update only adds
/// them), and the names of the contacts it creates.
#[derive(Clone)]
struct InFlight {
    seq: u64,
    claimed: Vec<(i64, i64)>,
    emails: Vec<(String, i64)>,
    phones: Vec<(String, i64)>,
    created: Vec<(i64, String)>,
}

impl Matcher {
    fn new(highest_claim: i64) -> Self {
        Matcher {
            turn: CommitOrder::new(),
            in_flight: Mutex::new(Vec::new()),
            highest_claim: AtomicI64::new(highest_claim),
        }
    }

    /// Batch `seq` has committed: the database shows what it took now.
    fn forget(&self, seq: u64) {
        if let Ok(mut list) = self.in_flight.lock() {
            list.retain(|f| f.seq != seq);
        }
    }
}

/// Takes, once per batch, the locks that the reference triggers would take
/// once per statement: every staff member, label and custom field the batch
/// points at is locked against deletion and checked to exist. The new
/// contacts come from their own sequence in this transaction, the updated
/// ones are locked by `ContactRecord::load_many`, and the job's own row is
/// locked at the commit (`still_running`), so the batch tells the triggers
/// that everything it points at is held (`contactbook.references_locked`,
/// see migration 2026-12-01-090000) and they skip their check. It works the
/// same for a role that is not a superuser, as on a managed PostgreSQL.
fn guard_references(
    conn: &mut PgConnection,
    ctx: &Context<'_>,
    labels: &Labels,
) -> Result<(), JobError> {
    let staff: Vec<i64> = ctx.actor.into_iter().chain(ctx.owner).collect();
    let labels: Vec<i64> = labels
        .0
        .values()
        .copied()
        .chain(ctx.extra_labels.iter().copied())
        .collect();
    let checks: [(&str, &Vec<i64>); 3] = [
        ("staff", &staff),
        ("labels", &labels),
        ("custom_fields", &ctx.custom_fields),
    ];
    for (table, ids) in checks {
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        let found = diesel::sql_query(format!(
            "SELECT id FROM {table} WHERE id = ANY($1) FOR KEY SHARE"
        ))
        .bind::<Array<BigInt>, _>(&unique)
        .load::<NextId>(conn)?
        .len();
        if found != unique.len() {
            return Err(JobError::Retry(format!(
                "a {} this import uses was deleted meanwhile",
                match table {
                    "staff" => "staff member",
                    "labels" => "label",
                    _ => "custom field",
                }
            )));
        }
    }
    diesel::sql_query("SET LOCAL contactbook.references_locked = on").execute(conn)?;
    Ok(())
}

#[derive(Default)]
struct Counts {
    imported: i64,
    updated: i64,
    unchanged: i64,
    failed: i64,
    /// (contact, row) taken by this batch's updated and unchanged rows.
    claims: Vec<(i64, i64)>,
}

/// Lets writers commit their batches in file order: a batch may be written
/// while an earlier one is, but it commits only after the earlier one did, so
/// what is committed is always the file up to `imports.byte_offset`, a
/// resumed job starts exactly there, and a stop never leaves a gap.
struct CommitOrder {
    state: Mutex<Turn>,
    cond: Condvar,
}

struct Turn {
    next: u64,
    /// A batch failed or the job was stopped: later batches roll back.
    broken: bool,
}

impl CommitOrder {
    fn new() -> Self {
        CommitOrder {
            state: Mutex::new(Turn {
                next: 0,
                broken: false,
            }),
            cond: Condvar::new(),
        }
    }

    /// Waits until batch `seq` is next; false when the job broke meanwhile.
    fn wait_for(&self, seq: u64) -> Result<bool, JobError> {
        let turn = lock(&self.state)?;
        let turn = self
            .cond
            .wait_while(turn, |t| t.next != seq && !t.broken)
            .map_err(|_| writer_panicked())?;
        Ok(!turn.broken)
    }

    fn committed(&self) {
        if let Ok(mut turn) = self.state.lock() {
            turn.next += 1;
        }
        self.cond.notify_all();
    }

    fn break_off(&self) {
        if let Ok(mut turn) = self.state.lock() {
            turn.broken = true;
        }
        self.cond.notify_all();
    }
}

/// Batches handed to writers; with two writers PostgreSQL maintains the
/// indexes on both cores while this thread reads and checks the file.
const WRITERS: usize = 2;

fn run_claimed(pool: &DbPool, conn: &mut PgConnection, id: i64) -> Result<(), JobError> {
    let job = Import::find(conn, id)?;
    let defs = CustomField::defs(conn)?;
    let header = Header::parse(&job.header(), &defs).map_err(JobError::Fatal)?;
    let mut file = File::open(&job.stored_path)
        .map_err(|e| JobError::Fatal(format!("the uploaded file is gone: {e}")))?;
    let start = u64::try_from(job.byte_offset).unwrap_or(0);
    file.seek(SeekFrom::Start(start))
        .map_err(|e| JobError::Fatal(format!("the uploaded file cannot be read: {e}")))?;
    let csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let update_mode = job.mode == "update";
    let mut reader = Reader {
        csv,
        start,
        record: csv::StringRecord::new(),
        pending: None,
        next_row: job.record_no + 1,
        header,
        today: Utc::now().date_naive(),
        update_mode,
    };
    let actor = Some(job.staff_id);
    let uploader_is_admin: bool = crate::schema::staff::table
        .find(job.staff_id)
        .select(crate::schema::staff::role)
        .first::<String>(conn)
        .map(|r| r == "admin")?;
    let visible_to = crate::models::visibility::limited_to(
        conn,
        crate::models::visibility::Member {
            id: job.staff_id,
            admin: uploader_is_admin,
        },
    )?;
    let ctx = Context {
        job: &job,
        actor,
        owner: job.owner_id.or(actor),
        extra_labels: job.labels(),
        labels: Mutex::new(Labels::default()),
        custom_fields: reader.header.custom_fields.iter().map(|f| f.id).collect(),
        update_mode,
        visible_to,
        order: CommitOrder::new(),
        matcher: Matcher::new(if update_mode {
            highest_claim(&mut *conn, job.id)?
        } else {
            0
        }),
    };
    // Leaves the pool at least one connection for the pages.
    let spare = usize::try_from(pool.max_size())
        .unwrap_or(1)
        .saturating_sub(1);
    let wanted = WRITERS.min(spare).max(1);
    // The job's own connection (which holds its lock) writes too, so a job
    // needs no connection but the one it was claimed with; a second writer
    // only if the pages can spare one now.
    let mut extra: Vec<DbConn> = Vec::new();
    while extra.len() + 1 < wanted {
        match pool.get_timeout(Duration::from_millis(200)) {
            Ok(c) => extra.push(c),
            Err(_) => break,
        }
    }
    let connections: Vec<&mut PgConnection> = std::iter::once(&mut *conn)
        .chain(extra.iter_mut().map(|c| &mut **c))
        .collect();
    std::thread::scope(|scope| {
        let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Batch)>(0);
        // Owned by the writers alone: when the last one is gone, handing out
        // a batch fails instead of waiting forever.
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = mpsc::channel::<JobError>();
        let handles: Vec<_> = connections
            .into_iter()
            .map(|conn| {
                let (done_tx, work_rx, ctx) = (done_tx.clone(), work_rx.clone(), &ctx);
                scope.spawn(move || write_batches(conn, ctx, &work_rx, done_tx))
            })
            .collect();
        drop((done_tx, work_rx));
        let mut outcome = Ok(());
        let mut writers_gone = false;
        for seq in 0.. {
            match reader.read_batch() {
                Ok(batch) if batch.records == 0 => break,
                // Blocks until a writer is free.
                Ok(batch) => {
                    if work_tx.send((seq, batch)).is_err() {
                        writers_gone = true;
                        break;
                    }
                }
                Err(e) => {
                    ctx.break_off();
                    outcome = Err(e);
                    break;
                }
            }
        }
        drop(work_tx);
        // The first error is the one that stopped the job; the writers after
        // it only rolled back.
        for e in done_rx {
            if outcome.is_ok() {
                outcome = Err(e);
            }
        }
        for handle in handles {
            if handle.join().is_err() && outcome.is_ok() {
                outcome = Err(writer_panicked());
            }
        }
        if writers_gone && outcome.is_ok() {
            // Never report a job done that was not read to its end.
            outcome = Err(JobError::Retry("the import writers stopped".into()));
        }
        outcome
    })?;
    let path: String = diesel::update(
        imports::table
            .find(id)
            .filter(imports::status.eq(status::RUNNING)),
    )
    .set((
        imports::status.eq(status::DONE),
        imports::error.eq(None::<String>),
        imports::finished_at.eq(now()),
    ))
    .returning(imports::stored_path)
    .get_result::<String>(conn)
    .optional()?
    .ok_or(JobError::Stopped)?;
    let _ = std::fs::remove_file(path);
    log::info!("import {id} finished");
    Ok(())
}

/// One writer: takes batches until there are no more or one fails.
fn write_batches(
    conn: &mut PgConnection,
    ctx: &Context<'_>,
    work: &Mutex<mpsc::Receiver<(u64, Batch)>>,
    failed: mpsc::Sender<JobError>,
) {
    loop {
        let (seq, batch) = match work.lock() {
            Ok(rx) => match rx.recv() {
                Ok(b) => b,
                Err(_) => return,
            },
            Err(_) => return,
        };
        match write_batch(conn, ctx, seq, batch) {
            Ok(()) => {
                ctx.order.committed();
                ctx.matcher.forget(seq);
            }
            Err(e) => {
                // Reported before the batches waiting for their turn wake up
                // and report theirs: the first report is the cause.
                let _ = failed.send(e);
                ctx.break_off();
                return;
            }
        }
    }
}

/// Writes one batch and commits it in its turn, together with the job's new
/// position and counts.
fn write_batch(
    conn: &mut PgConnection,
    ctx: &Context<'_>,
    seq: u64,
    batch: Batch,
) -> Result<(), JobError> {
    fn valid_rows(batch: &Batch) -> impl Iterator<Item = &ParsedRow> {
        batch.items.iter().filter_map(|i| i.outcome.as_ref().ok())
    }
    // Created in their own transaction: a batch holding a new label's
    // uncommitted row while waiting for its turn would block an earlier batch
    // that needs the same label.
    let labels = Labels::resolve(
        &ctx.labels,
        conn,
        valid_rows(&batch).flat_map(|r| r.labels.iter()),
    )?;
    conn.transaction(|conn| {
        let valid: Vec<(i64, &ParsedRow)> = batch
            .items
            .iter()
            .filter_map(|i| i.outcome.as_ref().ok().map(|r| (i.row_no, r)))
            .collect();
        // A crash can lose the latest commits; they take the job's position
        // with them, so the resumed job writes those rows again.
        diesel::sql_query("SET LOCAL synchronous_commit = off").execute(conn)?;
        // A batch's COPYs may take longer than a page's statements may.
        diesel::sql_query("SET LOCAL statement_timeout = 0").execute(conn)?;
        if !still_running(conn, ctx, false)? {
            return Err(JobError::Stopped);
        }
        let mut counts = Counts::default();
        guard_references(conn, ctx, &labels)?;
        let mut unmatched: HashMap<i64, String> = HashMap::new();
        if ctx.update_mode {
            let (new_rows, new_ids, failed) =
                update_existing(conn, ctx, seq, &labels, &valid, &mut counts)?;
            let ids = copy_new(
                conn,
                ctx,
                &labels,
                &new_rows.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
                Some(new_ids),
            )?;
            counts.imported += new_rows.len() as i64;
            // What these rows created is theirs: a later row of the file
            // that resolves to it fails like any second claim.
            let claims: Vec<(i64, i64)> = ids
                .into_iter()
                .zip(new_rows.iter().map(|(row_no, _)| *row_no))
                .chain(counts.claims.drain(..))
                .collect();
            record_claims(conn, ctx.job.id, &claims)?;
            unmatched = failed.into_iter().collect();
        } else {
            let rows: Vec<&ParsedRow> = valid.iter().map(|(_, r)| *r).collect();
            copy_new(conn, ctx, &labels, &rows, None)?;
            counts.imported += rows.len() as i64;
        }

        let failures: Vec<_> = batch
            .items
            .iter()
            .filter_map(|i| {
                let errors = match &i.outcome {
                    Err(errors) => errors,
                    Ok(_) => unmatched.get(&i.row_no)?,
                };
                Some((
                    import_errors::import_id.eq(ctx.job.id),
                    import_errors::row_no.eq(i.row_no),
                    import_errors::errors.eq(errors.as_str()),
                    import_errors::fields.eq(i
                        .fields
                        .iter()
                        .map(str::to_string)
                        .collect::<Vec<_>>()),
                ))
            })
            .collect();
        counts.failed = failures.len() as i64;
        for chunk in failures.chunks(1000) {
            diesel::insert_into(import_errors::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .execute(conn)?;
        }
        let (end_offset, records, rows_read) =
            (batch.end_offset, batch.records, batch.items.len() as i64);
        // Its rows are in the transaction now; waiting for the turn with
        // them would hold one batch more in memory.
        drop(batch);
        if !ctx.order.wait_for(seq)? {
            return Err(JobError::Retry("an earlier batch was not written".into()));
        }
        // Locked to the commit: a stop either waits for this batch or this
        // batch sees it and rolls back.
        if !still_running(conn, ctx, true)? {
            return Err(JobError::Stopped);
        }
        diesel::update(imports::table.find(ctx.job.id))
            .set((
                imports::byte_offset.eq(end_offset as i64),
                imports::record_no.eq(imports::record_no + records),
                imports::rows_read.eq(imports::rows_read + rows_read),
                imports::imported.eq(imports::imported + counts.imported),
                imports::updated.eq(imports::updated + counts.updated),
                imports::unchanged.eq(imports::unchanged + counts.unchanged),
                imports::failed.eq(imports::failed + counts.failed),
                imports::heartbeat_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    })
}

fn still_running(conn: &mut PgConnection, ctx: &Context<'_>, lock: bool) -> QueryResult<bool> {
    let query = imports::table.find(ctx.job.id).select(imports::status);
    // Not FOR UPDATE: a later batch waiting for its turn holds the row
    // FOR KEY SHARE (its error rows' foreign key), and the two would wait
    // for each other. NO KEY UPDATE still waits for a stop and makes it wait.
    let status: String = if lock {
        query.for_no_key_update().first(conn)?
    } else {
        query.first(conn)?
    };
    Ok(status == status::RUNNING)
}

/// The rows that create a contact with the ids they will have, and the
/// rows that fail with why.
type Resolved<'r> = (Vec<(i64, &'r ParsedRow)>, Vec<i64>, Vec<(i64, String)>);

/// Resolves each row by the contract's order (ID, emails, phones) in batch
/// `seq`'s turn, updates the contacts found and returns the rows that
/// create a contact, with the rows that fail and why. The claims of this
/// batch are left in `counts.claims`.
fn update_existing<'r>(
    conn: &mut PgConnection,
    ctx: &Context<'_>,
    seq: u64,
    labels: &Labels,
    rows: &[(i64, &'r ParsedRow)],
    counts: &mut Counts,
) -> Result<Resolved<'r>, JobError> {
    if !ctx.matcher.turn.wait_for(seq)? {
        return Err(JobError::Retry("an earlier batch was not matched".into()));
    }
    let (matched, new_rows, new_ids, failed) = match_rows(conn, ctx, seq, labels, rows, counts)?;
    ctx.matcher.turn.committed();
    let (updated, unchanged) = merge::apply(conn, &matched, ctx.actor)?;
    counts.updated += updated;
    counts.unchanged += unchanged;
    Ok((new_rows, new_ids, failed))
}

type Matches<'r> = (
    Vec<merge::Matched<'r>>,
    Vec<(i64, &'r ParsedRow)>,
    Vec<i64>,
    Vec<(i64, String)>,
);

/// Matches batch `seq` against the database and the batches before it that
/// have not committed, and records what it takes for the batches after it.
/// The contacts its rows create get their ids here, so that a later row
/// leading to one of them fails as it would once this batch is committed.
fn match_rows<'r>(
    conn: &mut PgConnection,
    ctx: &Context<'_>,
    seq: u64,
    labels: &Labels,
    rows: &[(i64, &'r ParsedRow)],
    counts: &mut Counts,
) -> Result<Matches<'r>, JobError> {
    let mut lookup = Lookup::default();
    // The batches in flight first, then the database: a batch that commits
    // in between is seen by one or the other.
    let in_flight = lock(&ctx.matcher.in_flight)?.clone();
    let mut created_earlier = HashSet::new();
    for f in &in_flight {
        lookup.claimed.extend(f.claimed.iter().copied());
        for (key, contact) in &f.emails {
            matching::add_hit(lookup.emails.entry(key.clone()).or_default(), *contact);
        }
        for (key, contact) in &f.phones {
            matching::add_hit(lookup.phones.entry(key.clone()).or_default(), *contact);
        }
        for (contact, name) in &f.created {
            lookup.names.insert(*contact, name.clone());
            created_earlier.insert(*contact);
        }
    }
    let parsed: Vec<&ParsedRow> = rows.iter().map(|(_, r)| *r).collect();
    matching::load(
        conn,
        &mut lookup,
        &parsed,
        matching::Keys::WithoutId,
        Some(matching::ClaimRecord {
            import_id: ctx.job.id,
            highest: ctx.matcher.highest_claim.load(Ordering::SeqCst),
        }),
        ctx.visible_to,
    )?;
    // Not in the database yet, so not among what the member may see; they
    // are the member's own.
    lookup.hidden.retain(|c| !created_earlier.contains(c));
    let mut new_rows = Vec::new();
    let mut failed = Vec::new();
    let mut matched = Vec::new();
    for &(row_no, row) in rows {
        match lookup.resolve(row) {
            Resolution::Create => new_rows.push((row_no, row)),
            Resolution::Fail(why) => failed.push((row_no, why)),
            Resolution::Existing(id) => {
                lookup.claim(id, row_no, row);
                counts.claims.push((id, row_no));
                matched.push((id, row, labels.ids(&row.labels, &ctx.extra_labels)));
            }
        }
    }
    let new_ids = next_ids(conn, new_rows.len())?;
    let mut taken = InFlight {
        seq,
        claimed: counts.claims.clone(),
        emails: Vec::new(),
        phones: Vec::new(),
        created: Vec::new(),
    };
    let every = matched.iter().map(|(id, row, _)| (*id, *row)).chain(
        new_ids
            .iter()
            .copied()
            .zip(new_rows.iter().map(|(_, r)| *r)),
    );
    for (contact, row) in every {
        taken
            .emails
            .extend(matching::emails_of(row).map(|k| (k, contact)));
        taken
            .phones
            .extend(matching::phones_of(row).map(|k| (k, contact)));
    }
    for (id, (row_no, row)) in new_ids.iter().zip(&new_rows) {
        taken.claimed.push((*id, *row_no));
        taken.created.push((
            *id,
            display_name(&row.input.first_name, &row.input.last_name),
        ));
    }
    if let Some(top) = taken.claimed.iter().map(|(contact, _)| *contact).max() {
        ctx.matcher.highest_claim.fetch_max(top, Ordering::SeqCst);
    }
    lock(&ctx.matcher.in_flight)?.push(taken);
    Ok((matched, new_rows, new_ids, failed))
}

/// `n` new contact ids, taken from the sequence now.
fn next_ids(conn: &mut PgConnection, n: usize) -> QueryResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    Ok(
        diesel::sql_query("SELECT nextval('contacts_id_seq') AS id FROM generate_series(1, $1)")
            .bind::<BigInt, _>(n as i64)
            .load::<NextId>(conn)?
            .into_iter()
            .map(|n| n.id)
            .collect(),
    )
}

/// The highest contact id in the job's record of claims (0 when empty).
fn highest_claim(conn: &mut PgConnection, import_id: i64) -> QueryResult<i64> {
    import_matches::table
        .filter(import_matches::import_id.eq(import_id))
        .select(diesel::dsl::max(import_matches::contact_id))
        .first::<Option<i64>>(conn)
        .map(|m| m.unwrap_or(0))
}

/// Records which row of the file took which contact, so that a later row
/// (in a later batch, or after a restart) resolving to it fails.
fn record_claims(
    conn: &mut PgConnection,
    import_id: i64,
    claims: &[(i64, i64)],
) -> QueryResult<()> {
    if claims.is_empty() {
        return Ok(());
    }
    let (contacts, rows): (Vec<i64>, Vec<i64>) = claims.iter().copied().unzip();
    diesel::sql_query(
        "INSERT INTO import_matches (import_id, contact_id, row_no) \
         SELECT $1, unnest($2::bigint[]), unnest($3::bigint[]) ON CONFLICT DO NOTHING",
    )
    .bind::<BigInt, _>(import_id)
    .bind::<Array<BigInt>, _>(&contacts)
    .bind::<Array<BigInt>, _>(&rows)
    .execute(conn)
    .map(drop)
}

/// What the search box looks in, as `contact::refresh_search_text` builds it.
fn search_text(input: &ContactInput) -> String {
    contact::search_words(
        [&input.first_name, &input.last_name, &input.company],
        input.emails.iter().map(|e| e.email.as_str()),
        input.phones.iter().map(|p| p.number.as_str()),
    )
}

/// Writes new contacts and everything that hangs off them with COPY.
fn copy_new(
    conn: &mut PgConnection,
    ctx: &Context<'_>,
    label_ids: &Labels,
    rows: &[&ParsedRow],
    ids: Option<Vec<i64>>,
) -> Result<Vec<i64>, JobError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids = match ids {
        Some(ids) => ids,
        None => next_ids(conn, rows.len())?,
    };
    let mut c = CopyBuffer::default();
    let mut children = ChildCopies::default();
    let mut changes = CopyBuffer::default();
    for (row, id) in rows.iter().zip(ids.iter().copied()) {
        let i = &row.input;
        // Sorted and without repeats, as contact_labels' trigger keeps it:
        // written here, the trigger finds nothing to rewrite.
        let labels = label_ids.ids(&row.labels, &ctx.extra_labels);
        c.int(id)
            .text(&i.first_name)
            .text(&i.last_name)
            .text(i.contact_type.as_str())
            .text(i.level.as_str())
            .text(&i.company)
            .text(&i.job_title)
            .text(&i.team)
            .text(&i.contact_group)
            .opt_text(
                i.birth_date
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .as_deref(),
            )
            .opt_text(i.language.as_deref())
            .text(&i.street)
            .text(&i.city)
            .text(&i.state)
            .text(&i.zip_code)
            .opt_text(i.country.as_deref())
            .opt_int(i.owner_id.or(ctx.owner))
            .opt_int(ctx.actor)
            .opt_int(ctx.actor)
            .text(&search_text(i))
            .int_array(&labels)
            // The first phone and email as the child tables' triggers keep
            // them (position order): written here, they find nothing to do.
            .opt_text(i.phones.first().map(|p| p.number.as_str()))
            .opt_text(i.emails.first().map(|e| e.email.as_str()))
            .end();
        for (pos, p) in i.phones.iter().enumerate() {
            children
                .phones
                .int(id)
                .text(p.kind.as_str())
                .text(p.number.as_str())
                .int(pos as i64)
                .end();
        }
        for (pos, e) in i.emails.iter().enumerate() {
            children
                .emails
                .int(id)
                .text(e.kind.as_str())
                .text(e.email.as_str())
                .int(pos as i64)
                .end();
        }
        for (pos, s) in i.socials.iter().enumerate() {
            children
                .socials
                .int(id)
                .text(s.kind.as_str())
                .text(&s.handle)
                .int(pos as i64)
                .end();
        }
        for &label in &labels {
            children.labels.int(id).int(label).end();
        }
        for (field, value) in &i.custom {
            children.custom.int(id).int(*field).text(value).end();
        }
        changes
            .int(id)
            .opt_int(ctx.actor)
            .text(source::IMPORT)
            .text("create")
            .text(&display_name(&i.first_name, &i.last_name))
            .int(1)
            .end();
    }
    if !c.is_empty() {
        diesel::copy_from(contacts::table)
            .from_raw_data(
                (
                    contacts::id,
                    contacts::first_name,
                    contacts::last_name,
                    contacts::contact_type,
                    contacts::level,
                    contacts::company,
                    contacts::job_title,
                    contacts::team,
                    contacts::contact_group,
                    contacts::birth_date,
                    contacts::language,
                    contacts::street,
                    contacts::city,
                    contacts::state,
                    contacts::zip_code,
                    contacts::country,
                    contacts::owner_id,
                    contacts::created_by,
                    contacts::updated_by,
                    contacts::search_text,
                    contacts::label_ids,
                    contacts::first_phone,
                    contacts::first_email,
                ),
                |w| c.write_to(w),
            )
            .execute(conn)?;
    }
    children.write(conn)?;
    if !changes.is_empty() {
        diesel::copy_from(contact_changes::table)
            .from_raw_data(
                (
                    contact_changes::contact_id,
                    contact_changes::staff_id,
                    contact_changes::source,
                    contact_changes::action,
                    contact_changes::new_value,
                    contact_changes::version,
                ),
                |w| changes.write_to(w),
            )
            .execute(conn)?;
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_commit_in_file_order_whatever_order_they_are_ready_in() {
        let order = CommitOrder::new();
        let committed = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for seq in (0..4u64).rev() {
                let (order, committed) = (&order, &committed);
                s.spawn(move || {
                    // The later the batch, the sooner it is ready.
                    std::thread::sleep(Duration::from_millis(20 * (4 - seq)));
                    assert!(order.wait_for(seq).expect("turn"));
                    committed.lock().expect("log").push(seq);
                    order.committed();
                });
            }
        });
        assert_eq!(*committed.lock().expect("log"), vec![0, 1, 2, 3]);
    }

    #[test]
    fn batches_waiting_for_their_turn_roll_back_when_the_job_breaks() {
        let order = CommitOrder::new();
        std::thread::scope(|s| {
            let waiting = s.spawn(|| order.wait_for(1).expect("turn"));
            std::thread::sleep(Duration::from_millis(20));
            order.break_off();
            assert!(!waiting.join().expect("join"));
        });
        assert!(!order.wait_for(0).expect("turn"));
    }
}
