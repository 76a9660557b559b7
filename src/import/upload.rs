//! Writes an upload to disk as it arrives, as UTF-8 without a byte order mark:
//! UTF-8 is checked, UTF-16 with a byte order mark is converted, and anything
//! else (a spreadsheet workbook, a picture) is refused before it is parsed.

use std::io::Write;

/// Longest value a file may hold: no contact value comes near it, and a
/// longer one would only cost memory.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
/// Longest record (a line, or several lines of one quoted value).
pub const MAX_ROW_BYTES: usize = 1024 * 1024;
/// Most columns a file may have: the contract has 33 and a few custom fields.
pub const MAX_COLUMNS: usize = 1_000;

/// Why an uploaded file was refused as a whole.
#[derive(Debug, PartialEq, Eq)]
pub enum UploadError {
    TooLarge(u64),
    Empty,
    NotText,
    BadUtf16,
    Io(String),
    /// Record `n` (the header is 0) holds a value longer than the cap.
    FieldTooLong(u64),
    RowTooLong(u64),
    TooManyColumns(u64),
}

impl UploadError {
    pub fn message(&self) -> String {
        match self {
            UploadError::TooLarge(limit) => format!(
                "The file is larger than the upload limit of {}. Split it into smaller files and import them one after another.",
                human_bytes(*limit)
            ),
            UploadError::Empty => "The file is empty. Choose a CSV file with a header row and at least one contact.".into(),
            UploadError::NotText => "This is not a CSV text file. If it is a spreadsheet workbook (.xlsx, .xls, .numbers), open it and save it as \"CSV UTF-8 (Comma delimited)\", then upload that file. Nothing was imported.".into(),
            UploadError::BadUtf16 => "The file is UTF-16 text that cannot be converted (it is cut short or damaged). Save it again as \"CSV UTF-8 (Comma delimited)\" and upload that file. Nothing was imported.".into(),
            UploadError::Io(e) => format!("The file could not be stored: {e}"),
            UploadError::FieldTooLong(row) => format!(
                "Row {row} of the file (the header is row 0) holds a value longer than {}; no contact value is that long. Is it the right file? Nothing was imported.",
                human_bytes(MAX_FIELD_BYTES as u64)
            ),
            UploadError::RowTooLong(row) => format!(
                "Row {row} of the file (the header is row 0) is longer than {}; a contact is far shorter. Is it the right file? Nothing was imported.",
                human_bytes(MAX_ROW_BYTES as u64)
            ),
            UploadError::TooManyColumns(row) => format!(
                "Row {row} of the file (the header is row 0) has more than {MAX_COLUMNS} columns; a contact file has a few dozen. Is it the right file? Nothing was imported."
            ),
        }
    }
}

pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GB", n >> 30)
    } else if n >= 1 << 20 {
        format!("{} MB", n >> 20)
    } else if n >= 1 << 10 {
        format!("{} KB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// Not known yet: fewer than 3 bytes seen.
    Unknown,
    Utf8,
    Utf16 {
        big_endian: bool,
    },
}

/// Follows the CSV structure of the text as it streams past, just enough
/// to measure values, records and columns against the caps before anything
/// reads a record into memory.
#[derive(Default)]
struct Shape {
    in_quotes: bool,
    field: usize,
    row: usize,
    separators: usize,
    record: u64,
}

impl Shape {
    fn feed(&mut self, text: &[u8]) -> Result<(), UploadError> {
        for &b in text {
            match b {
                // A doubled quote inside quotes toggles twice: still inside.
                b'"' => self.in_quotes = !self.in_quotes,
                b',' if !self.in_quotes => {
                    self.separators += 1;
                    self.field = 0;
                    if self.separators >= MAX_COLUMNS {
                        return Err(UploadError::TooManyColumns(self.record));
                    }
                    continue;
                }
                b'\n' if !self.in_quotes => {
                    self.record += 1;
                    (self.field, self.row, self.separators) = (0, 0, 0);
                    continue;
                }
                _ => {}
            }
            self.field += 1;
            self.row += 1;
            if self.field > MAX_FIELD_BYTES {
                return Err(UploadError::FieldTooLong(self.record));
            }
            if self.row > MAX_ROW_BYTES {
                return Err(UploadError::RowTooLong(self.record));
            }
        }
        Ok(())
    }
}

/// The converter; `W` is the file (a `Vec` in tests).
pub struct Utf8Sink<W: Write> {
    out: W,
    shape: Shape,
    encoding: Encoding,
    /// Bytes of a character split across chunks.
    carry: Vec<u8>,
    received: u64,
    written: u64,
    limit: u64,
    visible: bool,
}

impl<W: Write> Utf8Sink<W> {
    pub fn new(out: W, limit: u64) -> Utf8Sink<W> {
        Utf8Sink {
            out,
            shape: Shape::default(),
            encoding: Encoding::Unknown,
            carry: Vec::new(),
            received: 0,
            written: 0,
            limit,
            visible: false,
        }
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    pub fn write_chunk(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        self.received += chunk.len() as u64;
        if self.received > self.limit {
            return Err(UploadError::TooLarge(self.limit));
        }
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(chunk);
        if self.encoding == Encoding::Unknown {
            if data.len() < 3 {
                self.carry = data;
                return Ok(());
            }
            self.detect(&mut data)?;
        }
        self.convert(data, false)
    }

    /// Flushes the rest; the number of UTF-8 bytes written.
    pub fn finish(mut self) -> Result<(W, u64), UploadError> {
        let data = std::mem::take(&mut self.carry);
        if self.encoding == Encoding::Unknown {
            let mut data = data;
            self.detect(&mut data)?;
            self.convert(data, true)?;
        } else {
            self.convert(data, true)?;
        }
        if !self.visible {
            return Err(UploadError::Empty);
        }
        self.out
            .flush()
            .map_err(|e| UploadError::Io(e.to_string()))?;
        Ok((self.out, self.written))
    }

    fn detect(&mut self, data: &mut Vec<u8>) -> Result<(), UploadError> {
        if data.starts_with(&[0xEF, 0xBB, 0xBF]) {
            data.drain(..3);
            self.encoding = Encoding::Utf8;
        } else if data.starts_with(&[0xFF, 0xFE]) {
            data.drain(..2);
            self.encoding = Encoding::Utf16 { big_endian: false };
        } else if data.starts_with(&[0xFE, 0xFF]) {
            data.drain(..2);
            self.encoding = Encoding::Utf16 { big_endian: true };
        } else {
            self.encoding = Encoding::Utf8;
        }
        Ok(())
    }

    fn convert(&mut self, data: Vec<u8>, last: bool) -> Result<(), UploadError> {
        match self.encoding {
            Encoding::Utf8 | Encoding::Unknown => match std::str::from_utf8(&data) {
                Ok(text) => self.emit(text),
                Err(e) if e.error_len().is_none() && !last => {
                    let (good, rest) = data.split_at(e.valid_up_to());
                    let text = std::str::from_utf8(good).map_err(|_| UploadError::NotText)?;
                    self.emit(text)?;
                    self.carry = rest.to_vec();
                    Ok(())
                }
                Err(_) => Err(UploadError::NotText),
            },
            Encoding::Utf16 { big_endian } => {
                let pairs = data.len() / 2;
                let mut units: Vec<u16> = (0..pairs)
                    .map(|i| {
                        let b = [data[2 * i], data[2 * i + 1]];
                        if big_endian {
                            u16::from_be_bytes(b)
                        } else {
                            u16::from_le_bytes(b)
                        }
                    })
                    .collect();
                let mut carry: Vec<u8> = data[pairs * 2..].to_vec();
                if let Some(&unit) = units.last()
                    && (0xD800..0xDC00).contains(&unit)
                    && !last
                {
                    units.pop();
                    let mut kept = data[(pairs - 1) * 2..pairs * 2].to_vec();
                    kept.extend_from_slice(&carry);
                    carry = kept;
                }
                if last && !carry.is_empty() {
                    return Err(UploadError::BadUtf16);
                }
                let text: String = char::decode_utf16(units)
                    .collect::<Result<String, _>>()
                    .map_err(|_| UploadError::BadUtf16)?;
                self.emit(&text)?;
                self.carry = carry;
                Ok(())
            }
        }
    }

    fn emit(&mut self, text: &str) -> Result<(), UploadError> {
        // Text files never hold NUL; a NUL means a binary file or UTF-16 that
        // came without its byte order mark.
        if text.contains('\0') {
            return Err(UploadError::NotText);
        }
        self.shape.feed(text.as_bytes())?;
        if !self.visible && text.chars().any(|c| !c.is_whitespace()) {
            self.visible = true;
        }
        self.out
            .write_all(text.as_bytes())
            .map_err(|e| UploadError::Io(e.to_string()))?;
        self.written += text.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn convert(chunks: &[&[u8]]) -> Result<String, UploadError> {
        let mut sink = Utf8Sink::new(Vec::new(), 1 << 20);
        for c in chunks {
            sink.write_chunk(c)?;
        }
        let (out, _) = sink.finish()?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(convert(&[b"\xEF\xBB\xBFa,b\r\n"]), Ok("a,b\r\n".into()));
        assert_eq!(convert(&[b"a,", b"b"]), Ok("a,b".into()));
        // A character split across chunks.
        let s = "Zoë,李".as_bytes();
        assert_eq!(convert(&[&s[..3], &s[3..6], &s[6..]]), Ok("Zoë,李".into()));
    }

    #[test]
    fn values_records_and_columns_are_capped_as_they_stream() {
        let long = "x".repeat(MAX_FIELD_BYTES + 1);
        let file = format!("First Name,Last Name\nAnn,Lee\n{long},Lee\n");
        assert_eq!(
            convert(&[file.as_bytes()]),
            Err(UploadError::FieldTooLong(2))
        );
        // Quoted line breaks and commas belong to the value, doubled quotes too.
        let quoted = format!("A,B\n\"{}\",x\n", "a,\"\"\n".repeat(20_000));
        assert_eq!(
            convert(&[quoted.as_bytes()]),
            Err(UploadError::FieldTooLong(1))
        );
        let fine = format!("A,B\n\"{}\",x\n", "a,\"\"\n".repeat(1_000));
        assert!(convert(&[fine.as_bytes()]).is_ok());
        let wide = format!("{}\n", vec!["a"; MAX_COLUMNS + 1].join(","));
        assert_eq!(
            convert(&[wide.as_bytes()]),
            Err(UploadError::TooManyColumns(0))
        );
        let at_cap = format!("{}\n", vec!["a"; MAX_COLUMNS].join(","));
        assert!(convert(&[at_cap.as_bytes()]).is_ok());
        let cell = "y".repeat(60_000);
        let row = format!("A\n{}\n", vec![cell.as_str(); 20].join(","));
        let mut sink = Utf8Sink::new(Vec::new(), 1 << 30);
        assert_eq!(
            sink.write_chunk(row.as_bytes()),
            Err(UploadError::RowTooLong(1))
        );
        // Split anywhere, the same.
        let bytes = file.as_bytes();
        let chunks: Vec<&[u8]> = bytes.chunks(7).collect();
        assert_eq!(convert(&chunks), Err(UploadError::FieldTooLong(2)));
    }

    #[test]
    fn utf16_is_converted() {
        let text = "Name,City\r\nZoë,東京 😀\r\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
            be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(convert(&[&le]), Ok(text.into()));
        assert_eq!(convert(&[&be]), Ok(text.into()));
        // Split inside a unit and inside a surrogate pair.
        for cut in 1..le.len() {
            assert_eq!(
                convert(&[&le[..cut], &le[cut..]]),
                Ok(text.into()),
                "cut {cut}"
            );
        }
        let truncated = &le[..le.len() - 1];
        assert_eq!(convert(&[truncated]), Err(UploadError::BadUtf16));
        let mut lone = vec![0xFF, 0xFE];
        lone.extend_from_slice(&0xD800u16.to_le_bytes());
        lone.extend_from_slice(&(b'a' as u16).to_le_bytes());
        assert_eq!(convert(&[&lone]), Err(UploadError::BadUtf16));
    }

    #[test]
    fn binary_empty_and_too_large_are_refused() {
        assert_eq!(
            convert(&[b"PK\x03\x04\x14\x00\x06\x00"]),
            Err(UploadError::NotText)
        );
        assert_eq!(
            convert(&[b"\x89PNG\r\n\x1a\n\0\0"]),
            Err(UploadError::NotText)
        );
        assert_eq!(
            convert(&[b"a\0,\0b\0"]),
            Err(UploadError::NotText),
            "UTF-16 without BOM"
        );
        assert_eq!(convert(&[b"caf\xE9"]), Err(UploadError::NotText), "Latin-1");
        assert_eq!(convert(&[]), Err(UploadError::Empty));
        assert_eq!(
            convert(&[b"\xEF\xBB\xBF\r\n \r\n"]),
            Err(UploadError::Empty)
        );
        let mut sink = Utf8Sink::new(Vec::new(), 4);
        assert!(sink.write_chunk(b"abc").is_ok());
        assert_eq!(sink.write_chunk(b"de"), Err(UploadError::TooLarge(4)));
    }

    proptest! {
        #[test]
        fn any_text_survives_any_chunking(text in "\\PC{1,40}", cut in 0usize..200) {
            prop_assume!(text.chars().any(|c| !c.is_whitespace()) && !text.contains('\0'));
            let bytes = text.as_bytes();
            let cut = cut % bytes.len();
            prop_assert_eq!(convert(&[&bytes[..cut], &bytes[cut..]]), Ok(text.clone()));
        }

        /// UTF-16 either way round, surrogate pairs included, cut anywhere
        /// (even inside a pair), comes out as the same text.
        #[test]
        fn utf16_survives_any_chunking(
            text in "[\\PC😀𝄞李]{1,40}",
            cuts in proptest::collection::vec(0usize..400, 0..4),
            big_endian in any::<bool>(),
        ) {
            prop_assume!(text.chars().any(|c| !c.is_whitespace()) && !text.contains('\0'));
            let mut bytes = if big_endian { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
            for u in text.encode_utf16() {
                bytes.extend_from_slice(&if big_endian { u.to_be_bytes() } else { u.to_le_bytes() });
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c % bytes.len()).collect();
            points.sort_unstable();
            points.dedup();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut at = 0;
            for p in points {
                chunks.push(&bytes[at..p]);
                at = p;
            }
            chunks.push(&bytes[at..]);
            prop_assert_eq!(convert(&chunks), Ok(text.clone()));
        }

        /// UTF-16 cut short by one byte is refused, never half-converted.
        #[test]
        fn cut_utf16_is_refused(text in "[a-z李😀]{1,20}") {
            let mut bytes = vec![0xFF, 0xFE];
            for u in text.encode_utf16() {
                bytes.extend_from_slice(&u.to_le_bytes());
            }
            bytes.pop();
            prop_assert_eq!(convert(&[&bytes]), Err(UploadError::BadUtf16));
        }
    }
}
