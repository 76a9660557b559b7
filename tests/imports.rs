//! CSV import and export over real HTTP against a real PostgreSQL: the sample
//! file's expected result, nasty files, update mode, and the round trip.

mod common;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use common::{Browser, TestApp, spawn_app, spawn_app_with};

const SAMPLE: &[u8] = include_bytes!("data/contacts-sample.csv");

async fn csrf(b: &Browser) -> String {
    b.get("/imports").await.csrf()
}

/// Uploads `data` as `name`; the response after the redirect is not followed.
async fn upload(b: &Browser, name: &str, data: &[u8]) -> common::Page {
    let token = csrf(b).await;
    b.upload(
        &format!("/imports?csrf_token={token}"),
        "file",
        name,
        "text/csv",
        data,
    )
    .await
}

fn import_id(page: &common::Page) -> i64 {
    let location = page.location().unwrap_or_else(|| {
        panic!(
            "expected a redirect to the preview, got {}: {}",
            page.status, page.body
        )
    });
    location
        .trim_start_matches("/imports/")
        .parse()
        .expect("import id")
}

async fn wait_done(app: &TestApp, id: i64) {
    let start = Instant::now();
    loop {
        let done = app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND status IN ('done', 'failed')"
        ));
        if done == 1 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "import {id} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Uploads, confirms with `options` and waits for the job; returns its id.
async fn import(
    app: &TestApp,
    b: &Browser,
    name: &str,
    data: &[u8],
    options: &[(&str, &str)],
) -> i64 {
    let page = upload(b, name, data).await;
    assert_eq!(page.status, 303, "upload of {name}: {}", page.body);
    let id = import_id(&page);
    let preview = b.get(&format!("/imports/{id}")).await;
    assert_eq!(preview.status, 200);
    confirm(app, b, id, &preview, options).await;
    id
}

/// Starts a previewed import as its preview page's form does and waits for
/// the job to end.
async fn confirm(
    app: &TestApp,
    b: &Browser,
    id: i64,
    preview: &common::Page,
    options: &[(&str, &str)],
) {
    let started = b
        .post(&format!("/imports/{id}/start"), &preview.csrf(), options)
        .await;
    assert_eq!(started.status, 303);
    if app.count(&format!(
        "SELECT count(*) FROM imports WHERE id = {id} AND status = 'preview'"
    )) == 1
    {
        // Other options than at upload: the preview was made again for them,
        // and the user confirms after reading it.
        let preview = b.get(&format!("/imports/{id}")).await;
        let started = b
            .post(&format!("/imports/{id}/start"), &preview.csrf(), options)
            .await;
        assert_eq!(started.status, 303);
    }
    wait_done(app, id).await;
}

/// Uploads with `options` on the upload form itself and returns the import
/// id and its preview page.
async fn preview_with(b: &Browser, data: &[u8], options: &[(&str, &str)]) -> (i64, common::Page) {
    let token = csrf(b).await;
    let page = b
        .upload_with(
            &format!("/imports?csrf_token={token}"),
            options,
            ("file", "file.csv", "text/csv", data),
        )
        .await;
    let id = import_id(&page);
    (id, b.get(&format!("/imports/{id}")).await)
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let text = text.trim_start_matches('\u{feff}');
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

#[actix_rt::test]
async fn the_sample_file_gives_the_expected_result() {
    let app = spawn_app().await;
    let (me, b) = app.signed_in_agent().await;

    let page = upload(&b, "contacts-sample.csv", SAMPLE).await;
    let id = import_id(&page);
    let preview = b.get(&format!("/imports/{id}")).await;
    assert_eq!(preview.status, 200);
    let text = preview.text("main");
    assert!(text.contains("6 rows"), "{text}");
    assert!(text.contains("4 will be imported"), "{text}");
    assert!(text.contains("2 will fail"), "{text}");
    assert!(text.contains("Row 4: Mobile: 98765 43210"), "{text}");
    assert!(text.contains("Row 5: Email:"), "{text}");
    assert_eq!(
        app.count("SELECT count(*) FROM contacts"),
        0,
        "the preview writes nothing"
    );

    let started = b
        .post(
            &format!("/imports/{id}/start"),
            &preview.csrf(),
            &[("mode", "create")],
        )
        .await;
    assert_eq!(started.status, 303);
    wait_done(&app, id).await;

    let result = b.get(&format!("/imports/{id}")).await;
    let text = result.text("main");
    assert!(
        text.contains("6 rows read, 4 imported, 2 failed."),
        "{text}"
    );
    assert!(
        text.contains("2 records failed to import. Download the file with the error log."),
        "{text}"
    );
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 4);
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE first_name = 'Yuki' AND last_name = 'customer' AND country = 'JP'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contact_phones p JOIN contacts c ON c.id = p.contact_id WHERE c.first_name = 'Tom' AND p.kind = 'work' AND p.number = '+442079460958'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contact_labels cl JOIN labels l ON l.id = cl.label_id JOIN contacts c ON c.id = cl.contact_id WHERE c.first_name = 'Tom' AND l.name IN ('Newsletter', 'London')"),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE first_name = 'Marco' AND street = E'Via Roma 1\\nScala B' AND contact_type = 'prospect' AND level = 'secondary'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE company = 'Harbour Foods, Ltd.'"),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE owner_id = {me} AND created_by = {me}"
        )),
        4,
        "the importer owns new contacts by default"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_changes WHERE source = 'import' AND action = 'create'"
        ),
        4
    );
    // The imported contacts are searchable like any other.
    let list = b.get("/contacts?q=yuki%40example.jp").await;
    assert!(
        list.text("main").contains("Yuki customer"),
        "{}",
        list.text("main")
    );

    let log = b.get(&format!("/imports/{id}/errors.csv")).await;
    assert_eq!(log.status, 200);
    assert!(log.body.starts_with('\u{feff}'));
    let rows = parse_csv(&log.body);
    assert_eq!(rows.len(), 3, "header and rows 4 and 5: {rows:?}");
    assert_eq!(rows[0][0], "Row");
    assert_eq!(rows[0][1], "Errors");
    assert_eq!(rows[0][2], "First Name");
    assert_eq!(rows[1][0], "4");
    assert_eq!(rows[1][2], "Ravi");
    assert_eq!(rows[1][4], "98765 43210", "the row exactly as uploaded");
    assert_eq!(rows[2][0], "5");
    let lena = &rows[2][1];
    assert_eq!(lena.matches("; ").count(), 2, "three errors: {lena}");
    assert!(lena.contains("Birthdate: 31/12/1990"), "{lena}");
    assert!(lena.contains("Language: german"), "{lena}");

    let index = b.get("/imports").await;
    let text = index.text("main");
    assert!(text.contains("contacts-sample.csv"), "{text}");
    assert!(text.contains("Arthur Agent"), "{text}");
    assert!(index.exists(&format!("a[href='/imports/{id}/errors.csv']")));
}

#[actix_rt::test]
async fn files_that_cannot_be_imported_are_refused_whole() {
    let app = spawn_app_with(|c| c.upload_limit = 4096).await;
    let (_, b) = app.signed_in_agent().await;
    let mut utf16_cut = vec![0xFF, 0xFE];
    for u in "Last Name\r\nLee\r\n".encode_utf16() {
        utf16_cut.extend_from_slice(&u.to_le_bytes());
    }
    utf16_cut.pop();
    let big = format!("Last Name\n{}", "Lee\n".repeat(2000));
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("empty.csv", Vec::new(), 422, "The file is empty"),
        (
            "blank.csv",
            b"\xEF\xBB\xBF\r\n\r\n".to_vec(),
            422,
            "The file is empty",
        ),
        (
            "book.xlsx",
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00".to_vec(),
            422,
            "save it as \"CSV UTF-8",
        ),
        (
            "latin1.csv",
            b"Last Name\ncaf\xE9\n".to_vec(),
            422,
            "This is not a CSV text file",
        ),
        ("utf16-cut.csv", utf16_cut, 422, "UTF-16"),
        (
            "dup.csv",
            b"Last Name,Email,E-mail,email\nLee,a@b.co,,\n".to_vec(),
            422,
            "\"Email\" and \"email\"",
        ),
        (
            "alias-dup.csv",
            b"Last Name,Mobile,Phone\nLee,,\n".to_vec(),
            422,
            "\"Mobile\" and \"Phone\"",
        ),
        (
            "header-only.csv",
            b"First Name,Last Name\r\n".to_vec(),
            422,
            "no contacts below it",
        ),
        (
            "unknown.csv",
            b"Foo,Bar\n1,2\n".to_vec(),
            422,
            "None of the columns",
        ),
        (
            "big.csv",
            big.into_bytes(),
            413,
            "larger than the upload limit of 4 KB",
        ),
    ];
    for (name, data, status, message) in cases {
        let page = upload(&b, name, &data).await;
        assert_eq!(page.status, status, "{name}: {}", page.body);
        let text = page.text("main");
        assert!(text.contains(message), "{name}: {text}");
    }
    assert_eq!(app.count("SELECT count(*) FROM imports"), 0);
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 0);
    let leftovers = std::fs::read_dir(app.config.data_dir.join("imports"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "refused uploads are deleted");
}

#[actix_rt::test]
async fn nasty_but_valid_files_import_correctly() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    // BOM, CRLF, reordered and unknown columns, aliases, quoted commas, quotes
    // and line breaks, a blank line, a ragged row, formula payloads.
    let text = "\u{feff}Email,LAST NAME, first name ,Shoe Size,Title,Zip,Labels,Phone,Street\r\n\
        a@example.com,\"Lee, Jr.\",\"Ann \"\"Nan\"\"\",42,\"Head of Marketing, Asia Division\",00100,\"x;y\",+852 9123-4567,\"Flat 1\r\nBlock B\"\r\n\
        \r\n\
        b@example.com,Short\r\n\
        '=cmd@example.com,\"=HYPERLINK(\"\"http://evil\"\")\",@SUM(1),,-2,,=danger,,\r\n\
        c@example.com,\"Multi\r\nLine\",Bo,,,,,,\r\n";
    let id = import(&app, &b, "nasty.csv", text.as_bytes(), &[]).await;
    assert_eq!(
        app.count(&format!("SELECT rows_read FROM imports WHERE id = {id}")),
        4,
        "the blank line is not counted"
    );
    assert_eq!(
        app.count(&format!("SELECT imported FROM imports WHERE id = {id}")),
        2
    );
    assert_eq!(
        app.count(&format!("SELECT failed FROM imports WHERE id = {id}")),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE last_name = 'Lee, Jr.' AND first_name = 'Ann \"Nan\"' AND job_title = 'Head of Marketing, Asia Division' AND zip_code = '00100' AND street = E'Flat 1\\r\\nBlock B'"),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_phones WHERE number = '+85291234567' AND kind = 'mobile'"
        ),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM labels WHERE name IN ('x', 'y', '=danger')"),
        3
    );
    let log = b.get(&format!("/imports/{id}/errors.csv")).await;
    let rows = parse_csv(&log.body);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[1][0], "2", "a blank line is not a record: {rows:?}");
    assert!(
        rows[1][1].contains("has 2 values but the header has 9 columns"),
        "{rows:?}"
    );
    assert_eq!(rows[2][0], "4");
    assert_eq!(
        rows[2][1], "LAST NAME: contains control characters",
        "{rows:?}"
    );
    assert_eq!(rows[2][3], "Multi\r\nLine", "the row exactly as uploaded");

    // Formula payloads are stored as text and exported defused.
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE last_name = '=HYPERLINK(\"http://evil\")' AND first_name = '@SUM(1)' AND job_title = '-2'"),
        1
    );
    let export = b.get("/contacts/export.csv?q=hyperlink").await;
    let rows = parse_csv(&export.body);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][0], "'@SUM(1)");
    assert_eq!(rows[1][1], "'=HYPERLINK(\"http://evil\")");
    assert_eq!(rows[1][6], "'=cmd@example.com");
    assert_eq!(rows[1][31], "'=danger");

    // UTF-16 from a spreadsheet is converted.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in "Last Name,City\r\nZoë,東京\r\n".encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    import(&app, &b, "utf16.csv", &utf16, &[]).await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE last_name = 'Zoë' AND city = '東京'"),
        1
    );
}

#[actix_rt::test]
async fn update_mode_matches_by_email_then_phone_and_is_idempotent() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let first = "First Name,Last Name,Email,Mobile,Company,Labels\n\
        Ann,Lee,ann@example.com,,Acme,\n\
        Bob,Ng,,+85291234567,Beta,\n";
    import(&app, &b, "first.csv", first.as_bytes(), &[]).await;
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 2);

    let second = "First Name,Last Name,Email,Mobile,Company,Labels\n\
        Ann,Lee,ANN@example.com,,Acme Ltd,VIP\n\
        ,,bob@example.com,+852 9123 4567,,\n\
        Cy,Po,cy@example.com,,,\n\
        Cy,Po,cy@example.com,+85290000000,,\n";
    let id = import(
        &app,
        &b,
        "second.csv",
        second.as_bytes(),
        &[("mode", "update")],
    )
    .await;
    assert_eq!(
        app.count(&format!("SELECT imported FROM imports WHERE id = {id}")),
        1,
        "Cy is new"
    );
    assert_eq!(
        app.count(&format!("SELECT updated FROM imports WHERE id = {id}")),
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM import_errors WHERE import_id = {id} AND row_no = 4 \
             AND errors = 'Email: cy@example.com updates the same contact as row 3'"
        )),
        1,
        "the second Cy row does not update what the first created"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts"),
        3,
        "nothing doubled"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE last_name = 'Lee' AND company = 'Acme Ltd'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE last_name = 'Ng' AND first_name = 'Bob' AND company = 'Beta'"),
        1,
        "empty values leave what is there"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contact_emails WHERE email = 'bob@example.com'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contact_phones WHERE number = '+85290000000'"),
        0,
        "the second Cy row failed"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contact_changes WHERE source = 'import' AND action = 'update' AND field = 'Company'"),
        1
    );

    // The same file again changes nothing.
    let changes = app.count("SELECT count(*) FROM contact_changes");
    let again = import(
        &app,
        &b,
        "second.csv",
        second.as_bytes(),
        &[("mode", "update")],
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT updated + imported FROM imports WHERE id = {again}"
        )),
        0
    );
    assert_eq!(
        app.count(&format!("SELECT unchanged FROM imports WHERE id = {again}")),
        3
    );
    assert_eq!(
        app.count(&format!("SELECT failed FROM imports WHERE id = {again}")),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM contact_changes"), changes);
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 3);
}

#[actix_rt::test]
async fn the_preview_names_the_labels_an_import_will_create() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    diesel::RunQueryDsl::execute(
        diesel::sql_query("INSERT INTO labels (name) VALUES ('VIP')"),
        &mut app.conn(),
    )
    .expect("label");
    let data = b"Last Name,Contact Label\nLee,Walk-in;vip\nKim,walk-in;Fair 2026\n";
    let page = upload(&b, "labels.csv", data).await;
    let id = import_id(&page);
    let preview = b.get(&format!("/imports/{id}")).await;
    let card = preview
        .texts("section.card")
        .into_iter()
        .find(|t| t.contains("New labels"))
        .expect("a New labels card");
    assert!(
        card.contains("Walk-in") && card.contains("Fair 2026"),
        "{card}"
    );
    assert!(
        !card.contains("vip") && !card.contains("VIP"),
        "VIP exists: {card}"
    );
    assert_eq!(
        preview.texts(".new-labels .label-chip"),
        ["Walk-in", "Fair 2026"],
        "each new label once, as first written"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM labels"),
        1,
        "none created yet"
    );
}

#[actix_rt::test]
async fn import_options_set_owner_and_labels_and_preview_can_be_cancelled() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let owner = app.add_staff(
        "Olga Owner",
        "olga@example.com",
        contactbook::domain::staff::Role::Agent,
    );
    diesel::RunQueryDsl::execute(
        diesel::sql_query("INSERT INTO labels (name) VALUES ('Fair 2026')"),
        &mut app.conn(),
    )
    .expect("label");
    let label = app.count("SELECT id FROM labels WHERE name = 'Fair 2026'");
    let data = b"Last Name,Labels\nLee,Walk-in\n";
    import(
        &app,
        &b,
        "opts.csv",
        data,
        &[("owner", &owner.to_string()), ("label", &label.to_string())],
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE owner_id = {owner}"
        )),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM contact_labels"), 2);

    let page = upload(&b, "again.csv", data).await;
    let id = import_id(&page);
    let preview = b.get(&format!("/imports/{id}")).await;
    // A crafted owner or label is refused and nothing starts.
    for bad in [[("owner", "999999")], [("label", "999999")]] {
        let refused = b
            .post(&format!("/imports/{id}/start"), &preview.csrf(), &bad)
            .await;
        assert_eq!(
            refused.location().as_deref(),
            Some(format!("/imports/{id}").as_str())
        );
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM imports WHERE id = {id} AND status = 'preview'"
            )),
            1
        );
    }
    assert!(
        b.get(&format!("/imports/{id}"))
            .await
            .text("main")
            .contains("Choose an active staff member")
    );
    let cancelled = b
        .post(&format!("/imports/{id}/cancel"), &preview.csrf(), &[])
        .await;
    assert_eq!(cancelled.status, 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND status = 'cancelled'"
        )),
        1
    );
    let started = b
        .post(&format!("/imports/{id}/start"), &preview.csrf(), &[])
        .await;
    assert_eq!(started.status, 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND status = 'cancelled'"
        )),
        1,
        "a cancelled import cannot start"
    );
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 1);
}

#[actix_rt::test]
async fn a_ten_thousand_row_file_imports_in_batches() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let mut data = String::from("First Name,Last Name,Mobile,Email,Birthdate,Country\n");
    for i in 0..10_000 {
        let birth = if i % 1000 == 7 {
            "02/30/1990"
        } else {
            "1/5/1980"
        };
        data.push_str(&format!(
            "P{i},Person {i},+8529{i:07},p{i}@example.com,{birth},HK\n"
        ));
    }
    let id = import(&app, &b, "ten-thousand.csv", data.as_bytes(), &[]).await;
    assert_eq!(
        app.count(&format!("SELECT imported FROM imports WHERE id = {id}")),
        9_990
    );
    assert_eq!(
        app.count(&format!("SELECT failed FROM imports WHERE id = {id}")),
        10
    );
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 9_990);
    assert_eq!(
        app.count("SELECT count(DISTINCT email) FROM contact_emails"),
        9_990
    );
    assert_eq!(app.count("SELECT count(*) FROM import_errors WHERE errors LIKE 'Birthdate: 02/30/1990 is not a real date%'"), 10);
    let list = b.get("/contacts?q=9123").await;
    assert_eq!(list.status, 200);
}

#[actix_rt::test]
async fn export_then_import_gives_back_the_same_contacts() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let text = "First Name,Last Name,Mobile,Work Phone,Email,Personal Email,WhatsApp,LINE,Company,Job Title,Birthdate,Language,Address,Country,Type,Level,Labels\n\
        Mei,Chan,+85291234567;+85291234568,+85221234567,mei@example.hk,mei@home.hk,+85291234567,mei.line,\"Harbour, Ltd.\",=2+3,04/23/1982,zh,\"1 Road\nFlat 2\",HK,Customer,Secondary,VIP;Asia\n\
        Tom,'-minus,,,,,,,@company,+plus,,,,,Others,Tertiary,\n";
    import(&app, &b, "in.csv", text.as_bytes(), &[]).await;
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE job_title = '=2+3'"),
        1
    );

    let first = b.get("/contacts/export.csv").await;
    assert_eq!(first.status, 200);
    assert!(first.body.starts_with('\u{feff}'));
    assert!(first.body.contains("\r\n"));
    assert!(
        first.body.contains(",'=2+3,"),
        "formulas are escaped: {}",
        first.body
    );
    assert!(
        first.body.contains("+85291234567;+85291234568"),
        "phones are not: {}",
        first.body
    );
    assert_eq!(
        app.count("SELECT count(*) FROM exports WHERE row_count = 2 AND scope = 'All contacts'"),
        1
    );

    // Into an empty ContactBook, then out again: the same file.
    let other = spawn_app().await;
    let (_, b2) = other.signed_in_agent().await;
    import(&other, &b2, "exported.csv", first.body.as_bytes(), &[]).await;
    let second = b2.get("/contacts/export.csv").await;
    let without_ids = |text: &str| {
        let mut rows = parse_csv(text);
        for row in &mut rows {
            assert!(row.pop().is_some());
        }
        rows
    };
    assert_eq!(
        parse_csv(&first.body)[0].last().map(String::as_str),
        Some("ContactBook ID")
    );
    assert_eq!(without_ids(&first.body), without_ids(&second.body));

    // The current view only.
    let view = b.get("/contacts/export.csv?type=others").await;
    let rows = parse_csv(&view.body);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][0], "Tom");
    assert_eq!(rows[1][1], "'-minus");
}

#[actix_rt::test]
async fn a_running_import_can_be_stopped_and_keeps_what_it_wrote() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let mut data = String::from("First Name,Last Name,Email\n");
    for i in 0..60_000 {
        data.push_str(&format!("P{i},Person {i},p{i}@example.com\n"));
    }
    let page = upload(&b, "long.csv", data.as_bytes()).await;
    let id = import_id(&page);
    let preview = b.get(&format!("/imports/{id}")).await;
    b.post(&format!("/imports/{id}/start"), &preview.csrf(), &[])
        .await;
    let start = std::time::Instant::now();
    while app.count(&format!("SELECT rows_read FROM imports WHERE id = {id}")) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no batch written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let running = b.get(&format!("/imports/{id}")).await;
    assert!(
        running
            .body
            .contains("<noscript><meta http-equiv=\"refresh\" content=\"2\"></noscript>"),
        "refreshes itself without JavaScript"
    );
    let stopped = b
        .post(&format!("/imports/{id}/cancel"), &running.csrf(), &[])
        .await;
    assert_eq!(stopped.location(), Some(format!("/imports/{id}")));
    wait_done_or_stopped(&app, id).await;
    let read = app.count(&format!("SELECT rows_read FROM imports WHERE id = {id}"));
    assert!(read < 60_000, "stopped midway, after {read} rows");
    assert_eq!(read % 5000, 0, "whole batches only");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.count(&format!("SELECT rows_read FROM imports WHERE id = {id}")),
        read,
        "nothing after the stop"
    );
    assert_eq!(app.count("SELECT count(*) FROM contacts"), read);
    let page = b.get(&format!("/imports/{id}")).await.text("main");
    assert!(page.contains("The import was stopped"), "{page}");
}

async fn wait_done_or_stopped(app: &TestApp, id: i64) {
    let start = Instant::now();
    // Stopped: the runner has let go of the job (it unlocks after its batch).
    while app.count(&format!(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {id}"
    )) > 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the runner kept the job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Contacts that share an email (Alice and Alicia) and a phone (Alice and
/// Bob), as the duplicate warning allows.
const SHARED: &str = "First Name,Last Name,Email,Mobile,Company,Type,Level,Labels\n\
    Alice,Wong,alice@example.com,+85291234567,Acme,Customer,Primary,Tier:Gold\n\
    Alicia,Wong,alice@example.com,,Acme,Lead,Secondary,\n\
    Bob,Ng,bob@example.com,+85291234567,Beta,Prospect,Tertiary,\n";

#[actix_rt::test]
async fn an_update_import_of_an_export_changes_nothing_even_when_contacts_share_emails_and_phones()
{
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    import(&app, &b, "shared.csv", SHARED.as_bytes(), &[]).await;
    let before = b.get("/contacts/export.csv").await;
    let rows = parse_csv(&before.body);
    assert_eq!(rows[0].last().map(String::as_str), Some("ContactBook ID"));
    assert!(
        rows.iter().any(|r| r.iter().any(|c| c == "Tier:Gold")),
        "a label holding a colon is exported whole: {rows:?}"
    );
    let changes = app.count("SELECT count(*) FROM contact_changes");

    let (id, preview) = preview_with(&b, before.body.as_bytes(), &[("mode", "update")]).await;
    assert_eq!(
        preview.texts(".tile"),
        vec![
            "3 rows read",
            "0 will create a contact",
            "0 will update a contact",
            "3 will leave a contact unchanged",
            "0 will fail"
        ]
    );
    confirm(&app, &b, id, &preview, &[("mode", "update")]).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND status = 'done' \
             AND imported = 0 AND updated = 0 AND unchanged = 3 AND failed = 0"
        )),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM contact_changes"), changes);
    let after = b.get("/contacts/export.csv").await;
    assert_eq!(parse_csv(&before.body), parse_csv(&after.body));
    assert_eq!(
        app.count("SELECT count(*) FROM import_matches"),
        0,
        "a finished job forgets its claims"
    );
}

#[actix_rt::test]
async fn an_update_import_never_overwrites_a_contact_chosen_by_a_guess() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    import(&app, &b, "shared.csv", SHARED.as_bytes(), &[]).await;
    let alice = app.count("SELECT id FROM contacts WHERE first_name = 'Alice'");
    let alicia = app.count("SELECT id FROM contacts WHERE first_name = 'Alicia'");
    let bob = app.count("SELECT id FROM contacts WHERE first_name = 'Bob'");
    let file = format!(
        "First Name,Last Name,Email,Mobile,Company,ContactBook ID\n\
         Zed,Wong,alice@example.com,,Zeta,\n\
         Yan,Ng,,+85291234567,Zeta,\n\
         Bobby,Ng,bob@example.com,,Beta Ltd,\n\
         Bobbie,Ng,,,,{bob}\n\
         Al,Wong,,,,{alice}\n\
         Ghost,Wong,,,,999999\n"
    );
    let (id, preview) = preview_with(&b, file.as_bytes(), &[("mode", "update")]).await;
    assert_eq!(
        preview.texts(".tile"),
        vec![
            "6 rows read",
            "0 will create a contact",
            "2 will update a contact",
            "0 will leave a contact unchanged",
            "4 will fail"
        ]
    );
    let errors = preview.texts(".error-rows li");
    assert_eq!(
        errors[0],
        format!(
            "Row 1: Email: alice@example.com belongs to 2 contacts (#{alice} Alice Wong, #{alicia} Alicia Wong); add the ContactBook ID column to choose"
        )
    );
    assert_eq!(
        errors[1],
        format!(
            "Row 2: Mobile: +85291234567 belongs to 2 contacts (#{alice} Alice Wong, #{bob} Bob Ng); add the ContactBook ID column to choose"
        )
    );
    assert_eq!(
        errors[2],
        "Row 4: ContactBook ID: ".to_string()
            + &bob.to_string()
            + " updates the same contact as row 3"
    );
    assert_eq!(
        errors[3],
        "Row 6: ContactBook ID: 999999 is not a contact in this database"
    );
    assert!(
        preview.texts("td.field-error").first().is_some_and(
            |t| t.starts_with("Will fail: Email: alice@example.com belongs to 2 contacts")
        ),
        "the rows table marks a row that will fail to match: {:?}",
        preview.texts("td.field-error")
    );
    assert_eq!(
        preview.text("form[action$='/start'] button"),
        "Import 2 rows (create 0, update 2, leave 0 unchanged)"
    );
    let planned = preview.texts(".planned-updates li");
    assert_eq!(
        planned,
        vec![
            format!("Row 3: Bob Ng (#{bob}): First name, Company"),
            format!("Row 5: Alice Wong (#{alice}): First name"),
        ]
    );
    assert_eq!(
        preview.attr(".planned-updates a", "href"),
        Some(format!("/contacts/{bob}"))
    );

    confirm(&app, &b, id, &preview, &[("mode", "update")]).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND imported = 0 AND updated = 2 AND failed = 4"
        )),
        1
    );
    // Nobody got another's name; the two updates went where they pointed.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE (id = {alice} AND first_name = 'Al') \
             OR (id = {alicia} AND first_name = 'Alicia' AND company = 'Acme') \
             OR (id = {bob} AND first_name = 'Bobby' AND company = 'Beta Ltd')"
        )),
        3
    );
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 3);
    let log = b.get(&format!("/imports/{id}/errors.csv")).await;
    let log = parse_csv(&log.body);
    assert_eq!(log.len(), 5, "{log:?}");
    assert_eq!(log[1][0], "1");
    assert!(log[1][1].contains("belongs to 2 contacts"), "{log:?}");
    assert_eq!(
        &log[1][2..],
        ["Zed", "Wong", "alice@example.com", "", "Zeta", ""]
    );
}

#[actix_rt::test]
async fn ids_of_trashed_and_merged_contacts_and_claims_across_batches() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    import(&app, &b, "shared.csv", SHARED.as_bytes(), &[]).await;
    let alice = app.count("SELECT id FROM contacts WHERE first_name = 'Alice'");
    let alicia = app.count("SELECT id FROM contacts WHERE first_name = 'Alicia'");
    let bob = app.count("SELECT id FROM contacts WHERE first_name = 'Bob'");
    diesel::connection::SimpleConnection::batch_execute(
        &mut *app.conn(),
        &format!(
            "UPDATE contacts SET merged_into = {alice} WHERE id = {alicia}; \
             UPDATE contacts SET deleted_at = now() WHERE id = {bob}"
        ),
    )
    .expect("merge and trash");
    // Row 1 and the last row (in another batch) name the same contact; the
    // rows between have nothing to match and create contacts.
    let mut file = format!("Last Name,Company,ContactBook ID\nWong,Merged Co,{alicia}\n");
    for i in 0..5_000 {
        file.push_str(&format!("Filler{i},,\n"));
    }
    file.push_str(&format!("Ng,Trash Co,{bob}\nWong,Again Co,{alice}\n"));
    let id = import(&app, &b, "ids.csv", file.as_bytes(), &[("mode", "update")]).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND imported = 5000 AND updated = 1 AND failed = 2"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE id = {alice} AND company = 'Merged Co'"
        )),
        1,
        "a merged record's id updates the contact kept"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM import_errors WHERE import_id = {id} AND row_no = 5002 \
             AND errors LIKE 'ContactBook ID: {bob} is in the trash%'"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM import_errors WHERE import_id = {id} AND row_no = 5003 \
             AND errors = 'ContactBook ID: {alice} updates the same contact as row 1'"
        )),
        1,
        "the claim of row 1 holds in a later batch"
    );
}

#[actix_rt::test]
async fn create_mode_warns_when_rows_come_from_an_export_of_this_database() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    import(&app, &b, "shared.csv", SHARED.as_bytes(), &[]).await;
    let export = b.get("/contacts/export.csv").await;
    let (_, preview) = preview_with(&b, export.body.as_bytes(), &[("mode", "create")]).await;
    assert!(
        preview
            .text(".flash-warning")
            .starts_with("3 rows come from an export of this database"),
        "{}",
        preview.body
    );
    let (_, preview) = preview_with(&b, SHARED.as_bytes(), &[("mode", "create")]).await;
    assert!(!preview.exists(".flash-warning"));
}

/// Random small databases whose contacts share emails, phones and labels:
/// their export, imported in update mode, changes nothing.
#[actix_rt::test]
async fn export_then_update_import_is_a_no_op_on_random_databases() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRunner};

    let emails = ["a@x.com", "A@x.com", "b@y.org", "=c@z.net", "d+1@x.com"];
    let phones = ["+85291234567", "+85291234568", "+442079460958", ""];
    let labels = ["VIP", "Tier:Gold", "=x", "Newsletter", ""];
    let words = [
        "Wong",
        "Lee",
        "=SUM(A1)",
        "@home",
        "-",
        "O'Neil, Jr.",
        "李",
        "Ann \"Bee\"",
    ];
    let contact = (
        0..words.len(),
        0..words.len(),
        proptest::collection::vec(0..emails.len(), 0..3),
        proptest::collection::vec(0..phones.len(), 0..3),
        proptest::collection::vec(0..labels.len(), 0..3),
        0..4usize,
    );
    let mut runner = TestRunner::new(Config {
        cases: 6,
        ..Config::default()
    });
    for _ in 0..6 {
        let db = proptest::collection::vec(contact.clone(), 1..12)
            .new_tree(&mut runner)
            .expect("tree")
            .current();
        let app = spawn_app().await;
        let (_, b) = app.signed_in_agent().await;
        let mut file = String::from(
            "First Name,Last Name,Email,Personal Email,Mobile,Work Phone,Company,Type,Labels\n",
        );
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        for (first, last, e, p, l, t) in &db {
            let mut es: Vec<&str> = e.iter().map(|i| emails[*i]).collect();
            es.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
            let mut ps: Vec<&str> = Vec::new();
            for number in p.iter().map(|i| phones[*i]).filter(|p| !p.is_empty()) {
                if !ps.contains(&number) {
                    ps.push(number);
                }
            }
            let ls: Vec<&str> = l
                .iter()
                .map(|i| labels[*i])
                .filter(|l| !l.is_empty())
                .collect();
            file.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                quote(words[*first]),
                quote(words[*last]),
                es.first().copied().unwrap_or(""),
                es.get(1).copied().unwrap_or(""),
                ps.first().copied().unwrap_or(""),
                ps.get(1).copied().unwrap_or(""),
                quote(words[(*first + *last) % words.len()]),
                ["Lead", "Prospect", "Customer", "Others"][*t],
                quote(&ls.join(";")),
            ));
        }
        let created = import(&app, &b, "random.csv", file.as_bytes(), &[]).await;
        let n = app.count("SELECT count(*) FROM contacts");
        assert_eq!(
            app.count(&format!(
                "SELECT imported FROM imports WHERE id = {created}"
            )),
            n,
            "every generated contact was created: {file}"
        );
        let before = b.get("/contacts/export.csv").await;
        let changes = app.count("SELECT count(*) FROM contact_changes");
        let id = import(
            &app,
            &b,
            "export.csv",
            before.body.as_bytes(),
            &[("mode", "update")],
        )
        .await;
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM imports WHERE id = {id} AND unchanged = {n} \
                 AND imported + updated + failed = 0"
            )),
            1,
            "export of {file} re-imported: {}",
            before.body
        );
        assert_eq!(app.count("SELECT count(*) FROM contact_changes"), changes);
        let after = b.get("/contacts/export.csv").await;
        assert_eq!(parse_csv(&before.body), parse_csv(&after.body));
    }
}

#[actix_rt::test]
async fn every_cell_of_every_csv_is_safe_from_spreadsheets_and_a_corrected_error_log_imports() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    diesel::connection::SimpleConnection::batch_execute(
        &mut *app.conn(),
        "INSERT INTO custom_fields (label, kind) VALUES ('=Tier', 'text')",
    )
    .expect("custom field");
    let formula_like = |cell: &str| cell.starts_with(['=', '+', '-', '@', '\t', '\r']);

    for path in ["/imports/template.csv", "/contacts/export.csv"] {
        let file = b.get(path).await;
        let rows = parse_csv(&file.body);
        assert!(
            rows[0].contains(&"'=Tier".to_string()),
            "{path}: {:?}",
            rows[0]
        );
        for cell in rows.iter().flatten() {
            assert!(
                !formula_like(cell)
                    || cell.starts_with('+') && cell[1..].chars().all(|c| c.is_ascii_digit()),
                "{path}: {cell:?}"
            );
        }
    }

    let upload = "First Name,Last Name,Company,Job Title,Mobile,=Tier\n\
        =cmd|' /C calc'!A0,\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",+1+1,-2,12345,@SUM(1)\n";
    let id = import(&app, &b, "evil.csv", upload.as_bytes(), &[]).await;
    let log = b.get(&format!("/imports/{id}/errors.csv")).await;
    let rows = parse_csv(&log.body);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][7], "'=Tier", "the uploaded header is protected too");
    assert_eq!(
        rows[1][2..],
        [
            "'=cmd|' /C calc'!A0",
            "'=HYPERLINK(\"http://x\",\"y\")",
            "'+1+1",
            "'-2",
            "12345",
            "'@SUM(1)"
        ]
    );
    for cell in rows.iter().flatten() {
        assert!(!formula_like(cell), "{cell:?}");
    }

    // The user fixes the phone in the error log and uploads it again.
    let mut fixed = String::new();
    for (i, row) in rows.iter().enumerate() {
        let mut cells: Vec<String> = row[2..].to_vec();
        if i > 0 {
            cells[4] = "+85291234567".into();
        }
        let quoted: Vec<String> = cells
            .iter()
            .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
            .collect();
        fixed.push_str(&quoted.join(","));
        fixed.push('\n');
    }
    let again = import(&app, &b, "fixed.csv", fixed.as_bytes(), &[]).await;
    assert_eq!(
        app.count(&format!("SELECT imported FROM imports WHERE id = {again}")),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contacts c JOIN custom_field_values v ON v.contact_id = c.id \
             WHERE c.first_name = '=cmd|'' /C calc''!A0' AND c.last_name = '=HYPERLINK(\"http://x\",\"y\")' \
             AND c.company = '+1+1' AND c.job_title = '-2' AND v.value = '@SUM(1)'"
        ),
        1,
        "the corrected error log gives the values the original meant"
    );
}

#[actix_rt::test]
async fn only_the_uploader_or_an_administrator_may_stop_an_import_or_read_its_error_log() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let agent = app.browser();
    app.add_staff(
        "Arthur Agent",
        "arthur@example.com",
        contactbook::domain::staff::Role::Agent,
    );
    agent.sign_in("arthur@example.com", common::PASSWORD).await;

    // The administrator's upload, waiting for confirmation.
    let page = upload(&admin, "admins.csv", SAMPLE).await;
    let waiting = import_id(&page);
    let preview = agent.get(&format!("/imports/{waiting}")).await;
    assert_eq!(preview.status, 200, "agents may look");
    assert!(!preview.exists(&format!("form[action='/imports/{waiting}/start']")));
    assert!(!preview.exists(&format!("form[action='/imports/{waiting}/cancel']")));
    let token = agent.get("/imports").await.csrf();
    for action in ["cancel", "start"] {
        let res = agent
            .post(&format!("/imports/{waiting}/{action}"), &token, &[])
            .await;
        assert_eq!(res.status, 403, "{action}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {waiting} AND status = 'preview'"
        )),
        1,
        "nothing changed"
    );

    // A finished one with failed rows.
    let done = import(&app, &admin, "sample.csv", SAMPLE, &[]).await;
    assert_eq!(
        agent
            .get(&format!("/imports/{done}/errors.csv"))
            .await
            .status,
        403
    );
    let shown = agent.get(&format!("/imports/{done}")).await;
    assert!(!shown.exists(&format!("a[href='/imports/{done}/errors.csv']")));
    let log = admin.get(&format!("/imports/{done}/errors.csv")).await;
    assert_eq!(log.status, 200);

    // The agent's own import is theirs to manage.
    let own = import(&app, &agent, "mine.csv", SAMPLE, &[]).await;
    assert_eq!(
        agent
            .get(&format!("/imports/{own}/errors.csv"))
            .await
            .status,
        200
    );
    assert_eq!(
        admin
            .get(&format!("/imports/{own}/errors.csv"))
            .await
            .status,
        200
    );
}

#[actix_rt::test]
async fn an_import_runs_with_the_smallest_pool_and_the_pages_keep_answering() {
    // DB_POOL_SIZE=1 is raised to 2: the import holds one, the pages the other.
    assert_eq!(
        contactbook::config::Config::from_lookup(|n| (n == "DB_POOL_SIZE").then(|| "1".into()))
            .expect("config")
            .db_pool_size,
        2
    );
    let app = spawn_app_with(|c| c.db_pool_size = 2).await;
    let (_, b) = app.signed_in_agent().await;
    let mut file = String::from("First Name,Last Name,Email\n");
    for i in 0..30_000 {
        file.push_str(&format!("P{i},Person,p{i}@example.com\n"));
    }
    let page = upload(&b, "big.csv", file.as_bytes()).await;
    let id = import_id(&page);
    let preview = b.get(&format!("/imports/{id}")).await;
    b.post(&format!("/imports/{id}/start"), &preview.csrf(), &[])
        .await;
    let start = Instant::now();
    let mut pages = 0;
    loop {
        let status = b.get("/contacts?q=person").await.status;
        assert_eq!(status, 200, "a page during the import");
        pages += 1;
        if app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND status IN ('done', 'failed')"
        )) == 1
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "import did not end"
        );
    }
    assert!(pages > 1, "pages were served while it ran");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND status = 'done' AND imported = 30000"
        )),
        1
    );
}

#[actix_rt::test]
async fn an_imported_contact_is_searchable_exactly_like_one_typed_into_the_form() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let (first, last, company) = ("ÉLODIE Zoë", "O'NEIL-李", "Straße & Co, ΑΒΓ");
    let form = b
        .submit(
            "/contacts/new/full",
            "/contacts/new",
            &[
                ("layout", "full"),
                ("first_name", first),
                ("last_name", last),
                ("company", company),
                ("phone-0-kind", "mobile"),
                ("phone-0-number", "+852 9123 4567"),
                ("phone-1-kind", "work"),
                ("phone-1-number", "+44 20 7946 0958"),
                ("email-0-kind", "work"),
                ("email-0-email", "Élodie.ONeil@Example.HK"),
                ("email-1-kind", "personal"),
                ("email-1-email", "e@home.example"),
                ("confirm_duplicates", "1"),
            ],
        )
        .await;
    assert_eq!(form.status, 303, "{}", form.body);
    let file = format!(
        "First Name,Last Name,Company,Mobile,Work Phone,Email,Personal Email\n\
         {first},{last},\"{company}\",+852 9123 4567,+44 20 7946 0958,Élodie.ONeil@Example.HK,e@home.example\n"
    );
    import(&app, &b, "same.csv", file.as_bytes(), &[]).await;
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 2);
    assert_eq!(
        app.count("SELECT count(DISTINCT search_text) FROM contacts"),
        1,
        "the import's text (built in Rust) is the form's (built by PostgreSQL)"
    );
    for q in [
        "élodie",
        "ÉLODIE",
        "straße",
        "αβγ",
        "9123 4567",
        "2079460958",
        "example.hk",
    ] {
        let page = b.get(&format!("/contacts?q={}", urlencode(q))).await;
        assert_eq!(page.texts(".contact-name").len(), 2, "{q}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The contacts `ids` as a member would find them (every field as the
/// change log shows it, version, who and when, search text, children with
/// their verified flags and places) and their change log: two ways of
/// saving the same update must leave the same lines.
fn saved_state(conn: &mut diesel::PgConnection, ids: &[i64]) -> Vec<String> {
    use contactbook::models::{
        contact::{Change, ContactRecord},
        custom_field::CustomField,
    };
    use contactbook::schema::{contact_changes, contacts};
    use diesel::prelude::*;
    let fields = CustomField::all(conn).expect("fields");
    let mut out = Vec::new();
    for id in ids {
        let record = ContactRecord::load(conn, *id).expect("load");
        let c = &record.contact;
        let search: String = contacts::table
            .find(id)
            .select(contacts::search_text)
            .first(conn)
            .expect("search text");
        out.push(format!(
            "#{id} v{} by {:?} at {} search {search:?}",
            c.version, c.updated_by, c.updated_at
        ));
        for (field, value) in record.snapshot(conn, &fields).expect("snapshot") {
            out.push(format!("#{id} {field}: {value}"));
        }
        for p in &record.phones {
            out.push(format!(
                "#{id} phone {} {} {} {}",
                p.kind, p.number, p.verified, p.position
            ));
        }
        for e in &record.emails {
            out.push(format!(
                "#{id} email {} {} {} {}",
                e.kind, e.email, e.verified, e.position
            ));
        }
        for s in &record.socials {
            out.push(format!(
                "#{id} social {} {} {} {}",
                s.kind, s.handle, s.verified, s.position
            ));
        }
        let log: Vec<Change> = contact_changes::table
            .filter(contact_changes::contact_id.eq(id))
            .order(contact_changes::id)
            .select(Change::as_select())
            .load(conn)
            .expect("change log");
        for c in log {
            // Not the row's id or time: two runs never share those.
            out.push(format!(
                "#{id} log {:?} {} {} {:?} {:?} {:?} v{} {:?}",
                c.staff_id,
                c.source,
                c.action,
                c.field,
                c.old_value,
                c.new_value,
                c.version,
                c.merge_id
            ));
        }
    }
    out
}

/// The update import saves a batch's contacts with a few statements for the
/// whole batch. On random contacts (verified and unverified phones, emails
/// and social IDs, labels, custom values, owners) and random rows laid over
/// them, it leaves exactly what saving each contact on its own (the edit
/// form's path) leaves: same fields, children, search text, versions and
/// change-log rows, and the same updated and unchanged counts.
#[actix_rt::test]
async fn a_set_based_update_batch_saves_what_one_by_one_saves() {
    use contactbook::domain::contact::ContactInput;
    use contactbook::import::{header::Header, merge, row::parse_record};
    use contactbook::models::contact::{self, source};
    use contactbook::models::custom_field::CustomField;
    use diesel::prelude::*;
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRunner};

    let app = spawn_app().await;
    let actor = app.add_staff(
        "Ada Admin",
        "ada@example.com",
        contactbook::domain::staff::Role::Admin,
    );
    let other = app.add_staff(
        "Bo Agent",
        "bo@example.com",
        contactbook::domain::staff::Role::Agent,
    );
    let mut conn = app.conn();
    diesel::connection::SimpleConnection::batch_execute(
        &mut *conn,
        "INSERT INTO labels (name) VALUES ('VIP'), ('Tier:Gold'), ('Newsletter'), ('Extra'), \
           ('a-b'), ('ab'), ('a_c'), ('Äpfel'); \
         INSERT INTO custom_fields (label, kind, position) VALUES ('Tier', 'text', 1), ('Notes', 'text', 2);",
    )
    .expect("labels and fields");
    let label_ids: std::collections::HashMap<String, i64> = contactbook::schema::labels::table
        .select((
            contactbook::schema::labels::name,
            contactbook::schema::labels::id,
        ))
        .load::<(String, i64)>(&mut *conn)
        .expect("labels")
        .into_iter()
        .map(|(n, id)| (n.to_lowercase(), id))
        .collect();
    let defs = CustomField::defs(&mut conn).expect("defs");
    let columns: &[(&str, &[&str])] = &[
        ("First Name", &["Wong", "Lee", "李"]),
        ("Last Name", &["Chan", "O'Neil", "Ng"]),
        ("Type", &["Lead", "Prospect", "Customer"]),
        ("Level", &["Primary", "Secondary"]),
        ("Company", &["Acme", "Harbour Ltd", "=x"]),
        ("Job Title", &["CEO", "Buyer"]),
        ("City", &["Hong Kong", "Paris"]),
        ("Country", &["Hong Kong", "France"]),
        ("Birthdate", &["05/01/1990", "12/31/1985"]),
        ("Mobile", &["+85291234567", "+85291234568", "+442079460958"]),
        ("Work Phone", &["+85291234568", "+85221234567"]),
        ("Email", &["a@x.com", "A@x.com", "b@y.org"]),
        ("Personal Email", &["c@z.net", "b@y.org"]),
        ("Facebook", &["ann.fb", "bob.fb"]),
        ("LinkedIn", &["ann-li"]),
        (
            "Contact Label",
            &[
                "VIP",
                "Tier:Gold;VIP",
                "Newsletter",
                "a-b;ab;a_c",
                "Äpfel;ab",
            ],
        ),
        ("Tier", &["Gold", "Silver"]),
        ("Notes", &["first", "second"]),
    ];
    let raw: Vec<String> = columns.iter().map(|(n, _)| n.to_string()).collect();
    let header = Header::parse(&raw, &defs).expect("header");
    let today = chrono::Utc::now().date_naive();
    // A cell: None is left empty (the row does not give that column).
    let cells = proptest::collection::vec(proptest::option::of(0..5usize), columns.len());
    let case = (
        proptest::collection::vec(
            (
                cells.clone(),
                // Which of the contact's phones, emails and social IDs are
                // verified.
                proptest::collection::vec(proptest::bool::ANY, 6),
                0..3usize,
                // A row laid over the contact: its own values again (which
                // changes nothing but labels the import adds) or others.
                proptest::option::of((proptest::bool::ANY, cells.clone())),
                // A second import's row, after more values were verified:
                // verified rows keep their places while others are
                // rewritten around them.
                proptest::option::of(cells),
            ),
            1..7,
        ),
        proptest::bool::ANY,
    );
    let record_of = |picks: &[Option<usize>]| {
        let values: Vec<&str> = columns
            .iter()
            .zip(picks)
            .map(|((_, pool), pick)| pick.map_or("", |i| pool[i % pool.len()]))
            .collect();
        parse_record(&header, &csv::StringRecord::from(values), today).ok()
    };
    let mut runner = TestRunner::new(Config::default());
    let (mut updated_rows, mut unchanged_rows) = (0, 0);
    for _ in 0..40 {
        let (contacts, extra_label) = case.new_tree(&mut runner).expect("tree").current();
        let ids_of = |names: &[String]| -> Vec<i64> {
            names
                .iter()
                .filter_map(|n| label_ids.get(&n.to_lowercase()).copied())
                .collect()
        };
        let outcome: RefCell<Vec<Vec<String>>> = RefCell::new(Vec::new());
        let counts: RefCell<Vec<(i64, i64)>> = RefCell::new(Vec::new());
        let _ = conn.transaction::<(), diesel::result::Error, _>(|conn| {
            let mut ids = Vec::new();
            let mut rows = Vec::new();
            let mut seconds = Vec::new();
            for (cells, verified, owner, row, second) in &contacts {
                let Some(parsed) = record_of(cells) else {
                    continue;
                };
                let input = ContactInput {
                    label_ids: ids_of(&parsed.labels),
                    owner_id: [None, Some(actor), Some(other)][*owner],
                    ..parsed.input
                };
                let id = contact::create(conn, &input, Some(other), source::FORM)?;
                for (i, table) in ["contact_phones", "contact_emails", "contact_socials"]
                    .iter()
                    .enumerate()
                {
                    let places: Vec<i32> = (0..2)
                        .filter(|p| verified[i * 2 + *p as usize])
                        .collect();
                    diesel::sql_query(format!(
                        "UPDATE {table} SET verified = true WHERE contact_id = $1 AND position = ANY($2)"
                    ))
                    .bind::<diesel::sql_types::BigInt, _>(id)
                    .bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(&places)
                    .execute(conn)?;
                }
                ids.push(id);
                let row = row
                    .as_ref()
                    .and_then(|(again, other)| record_of(if *again { cells } else { other }));
                let labelled = |row: contactbook::import::row::ParsedRow| {
                    let mut labels = ids_of(&row.labels);
                    if extra_label {
                        labels.push(label_ids["extra"]);
                    }
                    (id, row, labels)
                };
                rows.extend(row.map(labelled));
                seconds.extend(second.as_ref().and_then(|c| record_of(c)).map(labelled));
            }
            let passes: Vec<Vec<merge::Matched<'_>>> = [&rows, &seconds]
                .iter()
                .map(|pass| {
                    pass.iter()
                        .map(|(id, row, labels)| (*id, row, labels.clone()))
                        .collect()
                })
                .collect();
            // Between the two imports the second place of every list
            // becomes verified and an unverified first one is removed (as a
            // member does in the form): the next rewrite then puts a new
            // row at a verified row's place.
            let verify_more = |conn: &mut diesel::PgConnection| -> QueryResult<()> {
                for table in ["contact_phones", "contact_emails", "contact_socials"] {
                    diesel::sql_query(format!(
                        "UPDATE {table} SET verified = true WHERE contact_id = ANY($1) AND position = 1"
                    ))
                    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&ids)
                    .execute(conn)?;
                    diesel::sql_query(format!(
                        "DELETE FROM {table} WHERE contact_id = ANY($1) AND position = 0 AND NOT verified"
                    ))
                    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&ids)
                    .execute(conn)?;
                }
                Ok(())
            };
            // One by one, as the edit form saves a contact.
            let _ = conn.transaction::<(), diesel::result::Error, _>(|conn| {
                let (mut updated, mut unchanged) = (0, 0);
                for (i, pass) in passes.iter().enumerate() {
                    if i > 0 {
                        verify_more(conn)?;
                    }
                    for (id, row, labels) in pass {
                        let record = contact::load_for_update(conn, *id)?;
                        let current = merge::input_of(&record);
                        let merged = merge::merge(&current, row, labels);
                        if merged == current {
                            unchanged += 1;
                        } else {
                            contact::save_over(conn, record, &merged, Some(actor), source::IMPORT)?;
                            updated += 1;
                        }
                    }
                }
                counts.borrow_mut().push((updated, unchanged));
                outcome.borrow_mut().push(saved_state(conn, &ids));
                Err(diesel::result::Error::RollbackTransaction)
            });
            // Each import's rows at once, as the update import saves a batch.
            let _ = conn.transaction::<(), diesel::result::Error, _>(|conn| {
                let (mut updated, mut unchanged) = (0, 0);
                for (i, pass) in passes.iter().enumerate() {
                    if i > 0 {
                        verify_more(conn)?;
                    }
                    let (u, n) = merge::apply(conn, pass, Some(actor))?;
                    updated += u;
                    unchanged += n;
                }
                counts.borrow_mut().push((updated, unchanged));
                outcome.borrow_mut().push(saved_state(conn, &ids));
                Err(diesel::result::Error::RollbackTransaction)
            });
            Err(diesel::result::Error::RollbackTransaction)
        });
        let (outcome, counts) = (outcome.into_inner(), counts.into_inner());
        assert_eq!(outcome.len(), 2, "both paths ran: {contacts:?}");
        assert_eq!(counts[0], counts[1], "updated and unchanged: {contacts:?}");
        if outcome[0] != outcome[1] {
            let diff: Vec<String> = outcome[0]
                .iter()
                .zip(&outcome[1])
                .filter(|(a, b)| a != b)
                .map(|(a, b)| format!("one by one: {a}\n  batch:      {b}"))
                .collect();
            panic!(
                "the batch differs ({} vs {} lines):\n{}\ncase {contacts:?}",
                outcome[0].len(),
                outcome[1].len(),
                diff.join("\n")
            );
        }
        updated_rows += counts[0].0;
        unchanged_rows += counts[0].1;
    }
    // Not vacuous: the cases changed contacts and left some as they were.
    assert!(updated_rows >= 20, "{updated_rows} contacts updated");
    assert!(unchanged_rows >= 1, "{unchanged_rows} contacts unchanged");
}

/// An update import writes its batches with the per-row foreign key
/// triggers off (it checks and locks the references itself); the trigger
/// that carries a contact's name and words to the rows of its shares must
/// still fire, or a Restricted agent's "shared with me" list would sort and
/// search by the old name.
#[actix_rt::test]
async fn an_update_import_carries_new_names_to_the_contacts_shares() {
    let app = spawn_app().await;
    let (agent, b) = app.signed_in_agent().await;
    let created = import(
        &app,
        &b,
        "one.csv",
        b"First Name,Last Name,Email\nMina,Oldname,mina@example.com\n",
        &[],
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT imported FROM imports WHERE id = {created}"
        )),
        1
    );
    let colleague = app.add_staff(
        "Cora Colleague",
        "cora@example.com",
        contactbook::domain::staff::Role::Agent,
    );
    diesel::connection::SimpleConnection::batch_execute(
        &mut *app.conn(),
        &format!(
            "INSERT INTO contact_shares (contact_id, staff_id, shared_by) \
             SELECT id, {colleague}, {agent} FROM contacts"
        ),
    )
    .expect("share");
    import(
        &app,
        &b,
        "rename.csv",
        b"Last Name,Email\nNewname,mina@example.com\n",
        &[("mode", "update")],
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE last_name = 'Newname'"),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_shares s JOIN contacts c ON c.id = s.contact_id \
             WHERE s.sort_name = c.sort_name AND s.search_text = c.search_text \
             AND s.search_text LIKE '%newname%'"
        ),
        1,
        "the share follows the new name"
    );
}

/// Update imports write two batches side by side. A row of the second batch
/// must still see what the first one took, whether or not the first has
/// committed by the time the second is matched: the contact a row of the
/// first batch created, and an email a row of the first batch added to an
/// existing contact.
#[actix_rt::test]
async fn a_later_batch_sees_what_an_earlier_batch_took_before_it_commits() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    import(
        &app,
        &b,
        "existing.csv",
        b"First Name,Last Name,Mobile\nEve,Existing,+85290000001\n",
        &[],
    )
    .await;
    // As long as the preview's batches, so the last rows also fall in the
    // preview's second batch (and the job's third).
    let batch = contactbook::import::job::BATCH_ROWS;
    let mut file = String::from("First Name,Last Name,Email,Mobile\n");
    // Row 1 adds an email to Eve; rows 2.. create contacts.
    file.push_str("Eve,Existing,eve@example.com,+85290000001\n");
    for i in 2..=batch {
        file.push_str(&format!("New,Person{i},p{i}@example.com,\n"));
    }
    // The second batch: one row leads to what row 2 created, one to Eve
    // through the email row 1 gave her, one is new.
    file.push_str("New,Again,p2@example.com,\n");
    file.push_str(",,eve@example.com,\n");
    file.push_str("Last,Row,last@example.com,\n");
    let id = import(
        &app,
        &b,
        "two-batches.csv",
        file.as_bytes(),
        &[("mode", "update")],
    )
    .await;
    let errors: Vec<(i64, String)> = {
        use contactbook::schema::import_errors;
        use diesel::prelude::*;
        import_errors::table
            .filter(import_errors::import_id.eq(id))
            .order(import_errors::row_no)
            .select((import_errors::row_no, import_errors::errors))
            .load(&mut *app.conn())
            .expect("errors")
    };
    let (first, second) = (batch as i64 + 1, batch as i64 + 2);
    let refused = vec![
        (
            first,
            "Email: p2@example.com updates the same contact as row 2".to_string(),
        ),
        (
            second,
            "Email: eve@example.com updates the same contact as row 1".to_string(),
        ),
    ];
    assert_eq!(errors, refused);
    let preview: Vec<(i64, String)> = {
        use contactbook::schema::imports;
        use diesel::prelude::*;
        let json: String = imports::table
            .find(id)
            .select(imports::preview_errors)
            .first(&mut *app.conn())
            .expect("the preview's errors");
        serde_json::from_str(&json).expect("errors as JSON")
    };
    assert_eq!(
        preview, refused,
        "the preview's dry run, which keeps earlier batches' claims apart, foresaw both"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND updated = 1 AND failed = 2 \
             AND imported = {}",
            batch
        )),
        1,
        "Eve updated, the rest created but for the two refused rows"
    );
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 1 + batch as i64);
}

/// A managed PostgreSQL gives the application no superuser, so nothing can
/// switch triggers off: both import modes write everything as a role that
/// is not one, and the references between contacts and their rows still
/// hold for every other writer (checked once per statement).
#[actix_rt::test]
async fn imports_run_for_a_role_that_is_not_a_superuser_and_references_still_hold() {
    use diesel::{RunQueryDsl, result::DatabaseErrorKind, result::Error, sql_query};

    let (url, name) = common::plain_role_database();
    let app = common::spawn_app_on(url, &name, |_| {}).await;
    assert_eq!(
        app.count("SELECT count(*) FROM pg_roles WHERE rolname = current_user AND NOT rolsuper"),
        1,
        "the app connects as a role that is not a superuser"
    );
    let (admin, b) = app.signed_in_admin().await;
    sql_query("INSERT INTO custom_fields (label, kind) VALUES ('Tier', 'text')")
        .execute(&mut app.conn())
        .expect("a custom field");

    let first = "First Name,Last Name,Email,Mobile,Company,Labels,Tier\n\
        Ann,Lee,ann@example.com,+85291234567,Acme,VIP;Trade,Gold\n\
        Bob,Ng,bob@example.com,,Beta,VIP,\n\
        Cy,Po,,+85290000000,Gamma,,Silver\n";
    let id = import(&app, &b, "first.csv", first.as_bytes(), &[]).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND status = 'done' \
             AND imported = 3 AND failed = 0"
        )),
        1
    );
    for (sql, want) in [
        ("SELECT count(*) FROM contacts", 3),
        ("SELECT count(*) FROM contact_emails", 2),
        ("SELECT count(*) FROM contact_phones", 2),
        ("SELECT count(*) FROM contact_labels", 3),
        ("SELECT count(*) FROM custom_field_values", 2),
        (
            "SELECT count(*) FROM contact_changes WHERE source = 'import' AND action = 'create'",
            3,
        ),
    ] {
        assert_eq!(app.count(sql), want, "{sql}");
    }

    let second = "First Name,Last Name,Email,Company,Labels\n\
        ,,ann@example.com,Acme Ltd,Partner\n\
        Eve,Ho,not-an-address,Epsilon,\n\
        Dee,Wu,dee@example.com,Delta,\n";
    let id = import(
        &app,
        &b,
        "second.csv",
        second.as_bytes(),
        &[("mode", "update")],
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND status = 'done' \
             AND updated = 1 AND imported = 1 AND failed = 1"
        )),
        1,
        "Eve's row fails and is logged"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM import_errors WHERE import_id = {id} AND row_no = 2"
        )),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_changes WHERE source = 'import' AND action = 'update' \
             AND field = 'Company' AND new_value = 'Acme Ltd'"
        ),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_labels cl JOIN labels l ON l.id = cl.label_id \
             JOIN contacts c ON c.id = cl.contact_id WHERE c.last_name = 'Lee'"
        ),
        3,
        "Ann keeps VIP and Trade and gains Partner"
    );

    // Every other writer is still held to the references.
    let mut conn = app.conn();
    let refused = |conn: &mut diesel::PgConnection, sql: &str| match sql_query(sql).execute(conn) {
        Err(Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {}
        other => panic!("{sql} was not refused: {other:?}"),
    };
    refused(
        &mut conn,
        "INSERT INTO contact_phones (contact_id, kind, number) VALUES (0, 'work', '+85299999999')",
    );
    refused(
        &mut conn,
        "INSERT INTO contact_labels (contact_id, label_id) SELECT id, 0 FROM contacts LIMIT 1",
    );
    refused(
        &mut conn,
        "UPDATE contact_emails SET contact_id = 0 WHERE email = 'bob@example.com'",
    );
    refused(&mut conn, "UPDATE contacts SET owner_id = 0");
    refused(&mut conn, &format!("DELETE FROM staff WHERE id = {admin}"));
    refused(&mut conn, "UPDATE contacts SET id = id + 1000");

    sql_query("DELETE FROM labels WHERE name = 'VIP'")
        .execute(&mut conn)
        .expect("delete a label");
    assert_eq!(
        app.count("SELECT count(*) FROM contact_labels"),
        2,
        "VIP left Ann and Bob with the label"
    );
    sql_query("DELETE FROM contacts WHERE last_name = 'Lee'")
        .execute(&mut conn)
        .expect("delete a contact");
    for table in [
        "contact_emails",
        "contact_phones",
        "contact_labels",
        "custom_field_values",
        "contact_changes",
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM {table} t WHERE NOT EXISTS \
                 (SELECT 1 FROM contacts c WHERE c.id = t.contact_id)"
            )),
            0,
            "{table} kept rows of the deleted contact"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM contact_emails"),
        2,
        "Bob's and Dee's"
    );
}

/// An update import that rewrote a tenth of the contacts or more has the
/// table vacuumed and analysed when it ends, as a large bulk change does.
#[actix_rt::test]
async fn an_update_import_of_most_contacts_has_them_vacuumed_at_once() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    let (me, b) = app.signed_in_admin().await;
    diesel::sql_query(format!(
        "INSERT INTO contacts (first_name, last_name, owner_id, search_text) \
         SELECT 'Many', 'Person ' || i, {me}, 'many person ' || i FROM generate_series(1, 10500) i"
    ))
    .execute(&mut app.conn())
    .expect("contacts");
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let ids: Vec<Id> = diesel::sql_query("SELECT id FROM contacts ORDER BY id")
        .load(&mut app.conn())
        .expect("ids");
    let mut file = String::from("ContactBook ID,Job Title\n");
    for Id { id } in ids {
        file.push_str(&format!("{id},Buyer\n"));
    }
    let id = import(
        &app,
        &b,
        "titles.csv",
        file.as_bytes(),
        &[("mode", "update")],
    )
    .await;
    assert_eq!(
        app.count(&format!("SELECT updated FROM imports WHERE id = {id}")),
        10500
    );
    let vacuumed = || {
        app.count(
            "SELECT count(*) FROM pg_stat_user_tables \
             WHERE relname = 'contacts' AND last_vacuum IS NOT NULL AND last_analyze IS NOT NULL",
        )
    };
    for _ in 0..600 {
        if vacuumed() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        vacuumed(),
        1,
        "10,500 of 10,500 updated: vacuumed and analysed"
    );
}

/// Whether `text` says "1 rows" of a count of one: not the end of a larger
/// number, such as a rate of "71 rows/s".
fn says_one_rows(text: &str) -> bool {
    text.match_indices("1 rows")
        .any(|(i, _)| i == 0 || !text.as_bytes()[i - 1].is_ascii_digit())
}

#[actix_rt::test]
async fn a_file_of_one_row_is_counted_as_one_row() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let file = "First Name,Last Name,Email\nMei,Chan,mei@example.hk\n";
    let page = upload(&b, "one.csv", file.as_bytes()).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let id = import_id(&page);
    let preview = b.get(&format!("/imports/{id}")).await;
    let text = preview.text("main");
    assert!(text.contains("1 row read"), "{text}");
    assert!(!says_one_rows(&text), "{text}");
    confirm(&app, &b, id, &preview, &[]).await;
    wait_done(&app, id).await;
    let text = b.get(&format!("/imports/{id}")).await.text("main");
    assert!(text.contains("1 of 1 row ("), "{text}");
    assert!(text.contains("1 row read, 1 imported, 0 failed."), "{text}");
    // The summaries of an import that ended early count the same way.
    for (status, heading) in [("cancelled", "Stopped"), ("failed", "The import stopped")] {
        diesel::RunQueryDsl::execute(
            diesel::sql_query(format!(
                "UPDATE imports SET status = '{status}', error = 'the disk was full' WHERE id = {id}"
            )),
            &mut app.conn(),
        )
        .expect("end the import");
        let text = b.get(&format!("/imports/{id}")).await.text("main");
        assert!(text.contains(heading), "{text}");
        assert!(text.contains("1 of 1 row read."), "{text}");
        assert!(!says_one_rows(&text), "{text}");
    }
}
