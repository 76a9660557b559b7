//! Any bytes as an uploaded CSV file: the upload converter, the header and
//! every row must give a value or a message, never a panic.
#![no_main]

use contactbook::domain::contact::{CustomFieldDef, CustomFieldKind};
use contactbook::import::{header::Header, row, upload::Utf8Sink};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The converter, fed in two chunks split where the input says.
    let cut = data
        .first()
        .map(|b| *b as usize % (data.len() + 1))
        .unwrap_or(0);
    let mut sink = Utf8Sink::new(Vec::new(), 1 << 20);
    let text = match sink
        .write_chunk(&data[..cut])
        .and_then(|()| sink.write_chunk(&data[cut..]))
        .and_then(|()| sink.finish())
    {
        Ok((bytes, _)) => bytes,
        Err(e) => {
            let _ = e.message();
            return;
        }
    };
    let fields = [CustomFieldDef {
        id: 1,
        label: "Tier".into(),
        kind: CustomFieldKind::Dropdown,
        options: vec!["Gold".into(), "Silver".into()],
        required: true,
    }];
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_slice());
    let Ok(raw) = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect::<Vec<_>>())
    else {
        return;
    };
    let Ok(header) = Header::parse(&raw, &fields) else {
        return;
    };
    let _ = (header.recognised(), header.ignored());
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
    for record in reader.records().flatten() {
        if row::is_blank(&record) {
            continue;
        }
        match row::parse_record(&header, &record, today) {
            Ok(parsed) => assert!(!parsed.input.last_name.is_empty()),
            Err(errors) => assert!(!errors.is_empty()),
        }
    }
});
