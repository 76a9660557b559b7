//! CSV import: the upload (stored as UTF-8 as it arrives), the preview's full
//! checking pass, and the background job that writes the rows with COPY.

pub mod copy;
pub mod header;
pub mod job;
pub mod matching;
pub mod merge;
pub mod row;
pub mod upload;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use chrono::NaiveDate;

use crate::domain::contact::CustomFieldDef;
use header::Header;
use matching::DryRun;
use row::{ParsedRow, is_blank, parse_record};

/// How many failed rows the preview names.
pub const PREVIEW_ERRORS: usize = 10;

/// What a full checking pass over an uploaded file found.
#[derive(Debug)]
pub struct Scan {
    pub header: Vec<String>,
    pub total: i64,
    pub failed: i64,
    /// (record number, errors) of the first failed rows.
    pub first_errors: Vec<(i64, String)>,
    /// Where the first data record starts.
    pub data_offset: u64,
}

fn open(path: &Path) -> Result<csv::Reader<BufReader<File>>, String> {
    let file = File::open(path).map_err(|e| format!("The uploaded file cannot be read: {e}"))?;
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file)))
}

fn read_header(
    reader: &mut csv::Reader<BufReader<File>>,
    defs: &[CustomFieldDef],
) -> Result<Header, String> {
    let raw: Vec<String> = reader
        .headers()
        .map_err(|e| format!("The header row cannot be read: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    Header::parse(&raw, defs)
}

/// Reads the whole file once, checking every row by the import's rules
/// without writing anything, and hands the valid rows to `plan`, which
/// decides what they would do. Refuses a file whose header is unusable or
/// that holds no rows.
pub fn scan(
    path: &Path,
    defs: &[CustomFieldDef],
    today: NaiveDate,
    mut plan: Option<&mut DryRun<'_>>,
) -> Result<Scan, String> {
    let mut reader = open(path)?;
    let header = read_header(&mut reader, defs)?;
    let data_offset = reader.position().byte();
    let mut record = csv::StringRecord::new();
    let mut scan = Scan {
        header: header.raw.clone(),
        total: 0,
        failed: 0,
        first_errors: Vec::new(),
        data_offset,
    };
    let mut row_no = 0i64;
    let mut valid: Vec<(i64, ParsedRow)> = Vec::new();
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| format!("The file cannot be read as CSV: {e}"))?;
        if !more {
            break;
        }
        row_no += 1;
        if is_blank(&record) {
            continue;
        }
        scan.total += 1;
        match parse_record(&header, &record, today) {
            Err(errors) => {
                scan.failed += 1;
                if scan.first_errors.len() < PREVIEW_ERRORS {
                    scan.first_errors.push((row_no, errors.join("; ")));
                }
            }
            Ok(row) if plan.is_some() => {
                valid.push((row_no, row));
                if valid.len() == job::BATCH_ROWS {
                    plan_rows(&mut plan, &mut valid)?;
                }
            }
            Ok(_) => {}
        }
    }
    plan_rows(&mut plan, &mut valid)?;
    if let Some(plan) = plan {
        // Rows that fail matching fail like the others: one list, file order.
        scan.failed += plan.summary.failed;
        scan.first_errors.extend(plan.failures.iter().cloned());
        scan.first_errors.sort_by_key(|(row, _)| *row);
        scan.first_errors.truncate(PREVIEW_ERRORS);
    }
    if scan.total == 0 {
        return Err(
            "The file has a header row but no contacts below it. Nothing was imported.".into(),
        );
    }
    Ok(scan)
}

/// The preview's full pass: every row checked, the valid ones planned as
/// the job will write them in `update_mode` or not.
pub fn scan_and_plan(
    conn: &mut diesel::PgConnection,
    path: &Path,
    defs: &[CustomFieldDef],
    update_mode: bool,
    extra_labels: Vec<i64>,
    visible_to: Option<i64>,
) -> Result<(Scan, matching::PlanSummary), String> {
    let custom = defs.iter().map(|d| (d.id, d.label.clone())).collect();
    let (scan, summary) = {
        let mut plan = DryRun::new(conn, update_mode, extra_labels, custom, visible_to)
            .map_err(|e| format!("The contacts could not be read: {e}"))?;
        let scan = scan(path, defs, chrono::Utc::now().date_naive(), Some(&mut plan));
        (scan, plan.summary)
    };
    // The plan read the file's contacts a batch at a time and the allocator
    // keeps the pages they took; the job that follows should not start on
    // top of them.
    crate::trim_heap();
    Ok((scan?, summary))
}

fn plan_rows(
    plan: &mut Option<&mut DryRun<'_>>,
    rows: &mut Vec<(i64, ParsedRow)>,
) -> Result<(), String> {
    if let Some(plan) = plan.as_deref_mut()
        && !rows.is_empty()
    {
        plan.rows(rows)
            .map_err(|e| format!("The rows could not be matched with the contacts: {e}"))?;
    }
    rows.clear();
    Ok(())
}

/// A record number and what the rules made of it.
pub type PreviewRecord = (i64, Result<ParsedRow, String>);

/// The header and the first `n` rows, as they will be stored.
pub fn preview(
    path: &Path,
    defs: &[CustomFieldDef],
    today: NaiveDate,
    n: usize,
) -> Result<(Header, Vec<PreviewRecord>), String> {
    let mut reader = open(path)?;
    let header = read_header(&mut reader, defs)?;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut row_no = 0i64;
    while rows.len() < n
        && reader
            .read_record(&mut record)
            .map_err(|e| format!("The file cannot be read as CSV: {e}"))?
    {
        row_no += 1;
        if is_blank(&record) {
            continue;
        }
        rows.push((
            row_no,
            parse_record(&header, &record, today).map_err(|e| e.join("; ")),
        ));
    }
    Ok((header, rows))
}
