//! Readers: CSV (UTF-8, UTF-8 with BOM, GB18030), XLSX (first sheet) and Parquet, each
//! giving a header and rows of text in chunks.

use std::io::Cursor;

use polars::prelude::*;

use crate::parse::RawRow;

/// A file opened for reading: its header and a stream of rows.
pub struct Opened {
    /// Header cells as written.
    pub headers: Vec<String>,
    /// The encoding or format detected, for the manifest.
    pub format: &'static str,
    rows: Rows,
}

enum Rows {
    Csv {
        reader: csv::Reader<Cursor<Vec<u8>>>,
        width: usize,
        /// Byte offset and line number of the last record start, for counting lines.
        at: (usize, u32),
    },
    Grid {
        rows: std::vec::IntoIter<RawRow>,
    },
    Frame {
        cols: Vec<StringChunked>,
        next: usize,
        len: usize,
    },
}

impl Opened {
    /// Opens a file from its bytes by extension (`csv`, `xlsx`, `parquet`).
    pub fn from_bytes(ext: &str, bytes: Vec<u8>) -> Result<Opened, String> {
        match ext {
            "csv" => open_csv(bytes),
            "xlsx" => open_xlsx(bytes),
            "parquet" => open_parquet(bytes),
            other => Err(format!("unsupported file type `{other}`")),
        }
    }

    /// Rows still to come, exact for XLSX and Parquet, estimated for CSV from the bytes
    /// read so far; used to size the output once instead of growing it by copies.
    pub fn remaining_hint(&self, rows_so_far: usize) -> usize {
        match &self.rows {
            Rows::Csv { reader, at, .. } => {
                let total = reader.get_ref().get_ref().len();
                if at.0 == 0 || rows_so_far == 0 {
                    return 0;
                }
                let per_row = at.0 as f64 / rows_so_far as f64;
                ((total - at.0) as f64 / per_row * 1.05) as usize
            }
            Rows::Grid { rows } => rows.len(),
            Rows::Frame { next, len, .. } => len - next,
        }
    }

    /// Appends up to `max` rows to `out`; returns false when the file is exhausted.
    /// Rows whose cells are all empty are skipped and counted in `blank`.
    pub fn next_chunk(
        &mut self,
        max: usize,
        out: &mut Vec<RawRow>,
        blank: &mut u64,
    ) -> Result<bool, String> {
        let start = out.len();
        while out.len() - start < max {
            let Some(row) = self.next_row()? else {
                return Ok(false);
            };
            if row.fields.iter().all(|f| f.trim().is_empty()) {
                *blank += 1;
                continue;
            }
            out.push(row);
        }
        Ok(true)
    }

    fn next_row(&mut self) -> Result<Option<RawRow>, String> {
        match &mut self.rows {
            Rows::Csv { reader, width, at } => {
                // One record (two buffers) per row, not one String per cell.
                let mut rec = csv::StringRecord::with_capacity(256, *width);
                match reader.read_record(&mut rec) {
                    Ok(false) => Ok(None),
                    Ok(true) => {
                        // The csv crate's own line count drifts after blank lines; count
                        // the newlines between record starts instead.
                        let text = reader.get_ref().get_ref();
                        let mut byte = rec.position().map_or(0, |p| p.byte()) as usize;
                        // A record's position can point at the blank lines skipped before it.
                        while matches!(text.get(byte), Some(b'\n' | b'\r')) {
                            byte += 1;
                        }
                        let newlines = text[at.0..byte].iter().filter(|&&b| b == b'\n').count();
                        *at = (byte, at.1 + newlines as u32);
                        let line = at.1;
                        let fields = rec;
                        let problem = (fields.len() != *width).then(|| {
                            format!(
                                "expected {} fields as in the header, found {}",
                                width,
                                fields.len()
                            )
                        });
                        Ok(Some(RawRow {
                            line,
                            fields,
                            problem,
                        }))
                    }
                    Err(e) => Err(format!("CSV error: {e}")),
                }
            }
            Rows::Grid { rows } => Ok(rows.next()),
            Rows::Frame { cols, next, len } => {
                if *next >= *len {
                    return Ok(None);
                }
                let i = *next;
                *next += 1;
                let mut fields = csv::StringRecord::with_capacity(128, cols.len());
                for c in cols.iter() {
                    fields.push_field(c.get(i).unwrap_or(""));
                }
                Ok(Some(RawRow {
                    line: (i + 2) as u32,
                    fields,
                    problem: None,
                }))
            }
        }
    }
}

/// Decodes CSV bytes: UTF-8 (BOM stripped) when the whole file is valid UTF-8, else GB18030.
pub fn decode_csv(bytes: Vec<u8>) -> Result<(Vec<u8>, &'static str), String> {
    let has_bom = bytes.starts_with(b"\xEF\xBB\xBF");
    if std::str::from_utf8(&bytes).is_ok() {
        let mut b = bytes;
        if has_bom {
            b.drain(..3);
            return Ok((b, "csv utf-8 bom"));
        }
        return Ok((b, "csv utf-8"));
    }
    match encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(&bytes) {
        Some(text) => Ok((text.into_owned().into_bytes(), "csv gb18030")),
        None => Err("neither UTF-8 nor GB18030 text".into()),
    }
}

fn open_csv(bytes: Vec<u8>) -> Result<Opened, String> {
    let (text, format) = decode_csv(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Cursor::new(text));
    let mut header = csv::StringRecord::new();
    let has = reader
        .read_record(&mut header)
        .map_err(|e| format!("CSV error in header: {e}"))?;
    if !has {
        return Err("empty file: no header row".into());
    }
    let headers: Vec<String> = header.iter().map(str::to_string).collect();
    let width = headers.len();
    Ok(Opened {
        headers,
        format,
        rows: Rows::Csv {
            reader,
            width,
            at: (0, 1),
        },
    })
}

/// Formats a spreadsheet number as text: integers without a fraction.
fn fmt_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn cell_text(c: &calamine::Data) -> String {
    use calamine::Data;
    match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) => fmt_number(*f),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        // Date cells become their serial number; date columns read Excel serials.
        Data::DateTime(dt) => fmt_number(dt.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

fn open_xlsx(bytes: Vec<u8>) -> Result<Opened, String> {
    use calamine::Reader;
    let mut wb = calamine::Xlsx::new(Cursor::new(bytes))
        .map_err(|e| format!("not an XLSX workbook: {e}"))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or("the workbook has no sheet")?
        .map_err(|e| format!("cannot read the first sheet: {e}"))?;
    let mut it = range.rows();
    let headers: Vec<String> = it
        .next()
        .ok_or("empty sheet: no header row")?
        .iter()
        .map(cell_text)
        .collect();
    let width = headers.len();
    let rows: Vec<RawRow> = it
        .enumerate()
        .map(|(i, r)| {
            let mut fields = csv::StringRecord::new();
            for c in r.iter().take(width.max(1)) {
                fields.push_field(&cell_text(c));
            }
            RawRow {
                line: (i + 2) as u32,
                fields,
                problem: None,
            }
        })
        .collect();
    Ok(Opened {
        headers,
        format: "xlsx",
        rows: Rows::Grid {
            rows: rows.into_iter(),
        },
    })
}

fn open_parquet(bytes: Vec<u8>) -> Result<Opened, String> {
    let df = ParquetReader::new(Cursor::new(bytes))
        .finish()
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let headers: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let len = df.height();
    let mut cols = Vec::with_capacity(df.width());
    for c in df.columns() {
        // A column of a type with no text form (lists, structs) cannot be one of ours:
        // read it as empty, like a column the contract does not list, rather than refuse
        // the file. A required column of such a type then rejects its rows as empty.
        let text = c.cast(&DataType::String).ok();
        let s = match text.as_ref().and_then(|t| t.str().ok()) {
            Some(s) => s.rechunk().into_owned(),
            None => StringChunked::full_null(c.name().clone(), len),
        };
        cols.push(s);
    }
    Ok(Opened {
        headers,
        format: "parquet",
        rows: Rows::Frame { cols, next: 0, len },
    })
}

/// Re-creates a row's text for `rejected.csv`: cells joined by commas, quoted where needed.
pub fn raw_line(fields: &csv::StringRecord) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_rows(o: &mut Opened) -> Vec<RawRow> {
        let mut v = Vec::new();
        let mut blank = 0;
        while o.next_chunk(2, &mut v, &mut blank).unwrap() {}
        v
    }

    #[test]
    fn csv_utf8_bom_and_gb18030_agree() {
        let text = "姓名,金额\n王涛,320\n\"李,四\",\"1,000.00\"\n";
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        for (bytes, fmt) in [
            (text.as_bytes().to_vec(), "csv utf-8"),
            (bom, "csv utf-8 bom"),
            (gbk.into_owned(), "csv gb18030"),
        ] {
            let mut o = Opened::from_bytes("csv", bytes).unwrap();
            assert_eq!(o.format, fmt);
            assert_eq!(o.headers, ["姓名", "金额"]);
            let rows = all_rows(&mut o);
            assert_eq!(rows.len(), 2);
            assert_eq!(rows[0].line, 2);
            assert_eq!(
                rows[1].fields.iter().collect::<Vec<_>>(),
                ["李,四", "1,000.00"]
            );
        }
    }

    #[test]
    fn csv_lines_and_ragged_rows() {
        let text = "a,b\n1,2\n\n3\n,\n4,5,6\n";
        let mut o = Opened::from_bytes("csv", text.as_bytes().to_vec()).unwrap();
        let mut v = Vec::new();
        let mut blank = 0;
        while o.next_chunk(10, &mut v, &mut blank).unwrap() {}
        assert_eq!(blank, 1);
        let lines: Vec<u32> = v.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4, 6]);
        assert!(v[0].problem.is_none());
        assert!(v[1].problem.as_deref().unwrap().contains("found 1"));
        assert!(v[2].problem.as_deref().unwrap().contains("found 3"));
    }

    #[test]
    fn undecodable_bytes_are_refused() {
        assert!(Opened::from_bytes("csv", vec![b'a', b'\n', 0x81, 0x20]).is_err());
        assert!(Opened::from_bytes("csv", Vec::new()).is_err());
    }

    #[test]
    fn parquet_column_without_a_text_form_reads_as_empty() {
        let list = Series::new("tags".into(), vec![Series::new("".into(), [1i32, 2])]);
        let ids = Series::new("id_number".into(), ["11010519491231002X"]);
        let mut df =
            DataFrame::new_infer_height(vec![ids.into_column(), list.into_column()]).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
        let mut o = Opened::from_bytes("parquet", bytes).unwrap();
        assert_eq!(o.headers, ["id_number", "tags"]);
        let rows = all_rows(&mut o);
        assert_eq!(
            rows[0].fields.iter().collect::<Vec<_>>(),
            ["11010519491231002X", ""]
        );
    }

    #[test]
    fn raw_line_quotes() {
        let f = csv::StringRecord::from(vec!["a", "b,c", "d\"e"]);
        assert_eq!(raw_line(&f), "a,\"b,c\",\"d\"\"e\"");
    }
}
