//! Rows in PostgreSQL's COPY text format, built in memory one batch at a time.

use std::io::Write;

/// The most handed to libpq at once (see `write_to`).
const COPY_PIECE: usize = 64 * 1024;

/// Tab-separated values with `\N` for NULL; backslash, tab, line feed and
/// carriage return escaped, as `COPY ... FROM STDIN` (text format) expects.
#[derive(Default)]
pub struct CopyBuffer {
    data: Vec<u8>,
    at_line_start: bool,
    rows: usize,
}

impl CopyBuffer {
    fn sep(&mut self) {
        if !self.data.is_empty() && !self.at_line_start {
            self.data.push(b'\t');
        }
        self.at_line_start = false;
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        self.sep();
        for &b in value.as_bytes() {
            match b {
                b'\\' => self.data.extend_from_slice(b"\\\\"),
                b'\t' => self.data.extend_from_slice(b"\\t"),
                b'\n' => self.data.extend_from_slice(b"\\n"),
                b'\r' => self.data.extend_from_slice(b"\\r"),
                _ => self.data.push(b),
            }
        }
        self
    }

    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => {
                self.sep();
                self.data.extend_from_slice(b"\\N");
                self
            }
        }
    }

    pub fn int(&mut self, value: i64) -> &mut Self {
        self.sep();
        self.data.extend_from_slice(value.to_string().as_bytes());
        self
    }

    /// A `bigint[]` value: `{1,2,3}` holds nothing COPY would escape.
    pub fn int_array(&mut self, values: &[i64]) -> &mut Self {
        self.sep();
        self.data.push(b'{');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.data.push(b',');
            }
            self.data.extend_from_slice(v.to_string().as_bytes());
        }
        self.data.push(b'}');
        self
    }

    pub fn opt_int(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => self.int(v),
            None => self.opt_text(None),
        }
    }

    pub fn end(&mut self) {
        self.data.push(b'\n');
        self.at_line_start = true;
        self.rows += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The COPY callback. Hands the rows over a piece at a time: libpq grows
    /// its connection's send buffer to the largest piece it is given and
    /// never shrinks it, so one batch's change log sent whole would keep
    /// megabytes on every pooled connection that ever wrote one.
    pub fn write_to(&self, w: &mut dyn Write) -> Result<(), diesel::result::Error> {
        self.data
            .chunks(COPY_PIECE)
            .try_for_each(|piece| w.write_all(piece))
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_nulls() {
        let mut b = CopyBuffer::default();
        b.int(1)
            .text("a\tb\\c\nd\re")
            .opt_text(None)
            .opt_int(Some(7))
            .end();
        b.text("x").end();
        let mut out = Vec::new();
        b.write_to(&mut out).expect("write");
        assert_eq!(out, b"1\ta\\tb\\\\c\\nd\\re\t\\N\t7\nx\n".to_vec());
        assert!(!b.is_empty());
    }

    /// Remembers the largest piece it was handed.
    #[derive(Default)]
    struct Pieces {
        bytes: Vec<u8>,
        largest: usize,
    }

    impl Write for Pieces {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.largest = self.largest.max(buf.len());
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_large_copy_is_handed_over_in_pieces_and_whole() {
        let mut b = CopyBuffer::default();
        for i in 0..20_000 {
            b.int(i).text("a change-log value of some length").end();
        }
        let mut out = Pieces::default();
        b.write_to(&mut out).expect("write");
        assert!(b.data.len() > 4 * COPY_PIECE, "{}", b.data.len());
        assert_eq!(out.bytes, b.data);
        assert!(out.largest <= COPY_PIECE, "{}", out.largest);
    }

    #[test]
    fn arrays() {
        let mut b = CopyBuffer::default();
        b.int_array(&[]).int_array(&[3]).int_array(&[1, 20]).end();
        let mut out = Vec::new();
        b.write_to(&mut out).expect("write");
        assert_eq!(out, b"{}\t{3}\t{1,20}\n".to_vec());
    }
}
