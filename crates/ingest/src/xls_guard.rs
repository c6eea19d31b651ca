//! A look at a `.xls` file's sheets before calamine opens it.
//!
//! calamine reserves room for every cell a sheet's DIMENSIONS record declares as soon as
//! it opens the workbook: a 5 KB file declaring 1,048,576 × 16,384 cells asks for 687 GB
//! and the process aborts. The contract says such a file stops the run with exit 2
//! naming it (`data-contract.md`, Robustness: hostile files). So the workbook stream is
//! taken out of the compound file (the CFB container of every `.xls`) and its records are
//! walked, exactly as calamine walks them; a DIMENSIONS record declaring more cells than
//! the file could hold refuses it. Anything this reader cannot follow is left to
//! calamine, which reports it in its own words.
//!
//! The same walk counts the text the sheets' cells come to: a shared string (SST) is
//! stored once and every LABELSST cell that names it is read as a copy of it, so a few
//! kilobytes of one long string named by thousands of cells make gigabytes. A workbook
//! whose cells' text is out of proportion to its size is refused as an `.xlsx` one is.

/// Cells a sheet may declare or span: four million whatever the file (calamine's grid
/// of them is about 128 MB, and a genuine sheet with a stray note far from its table
/// stays below), or a million plus 64 per byte of the file (a cell record takes at least
/// 6 bytes), whichever is more.
fn cells_allowed(file_len: usize) -> u64 {
    (1_000_000 + 64 * file_len as u64).max(4_000_000)
}

/// Refuses a `.xls` whose sheets declare more cells than its bytes could hold, or whose
/// cells' text comes to more than `text_allowed` bytes.
pub fn check_workbook(bytes: &[u8], text_allowed: u64) -> Result<(), String> {
    let Some(stream) = workbook_stream(bytes) else {
        return Ok(());
    };
    // The UTF-8 bytes of each shared string, and the text of the cells read so far.
    let mut shared: Vec<u64> = Vec::new();
    let mut text = 0u64;
    let allowed = cells_allowed(bytes.len());
    let refuse = |cells: u64| {
        Err(format!(
            "hostile or broken workbook: a sheet spans {cells} cells in a file of {} bytes",
            bytes.len()
        ))
    };
    // The box of the cells a sheet holds (calamine makes a dense grid of it), per
    // substream: reset at each BOF.
    let mut cells_box = CellBox::default();
    let mut at = 0usize;
    while let Some((typ, len, data)) = record_at(&stream, at) {
        match typ {
            // DIMENSIONS: what calamine reserves room for.
            0x0200 => {
                if let Some(cells) = declared_cells(data).filter(|&c| c > allowed) {
                    return refuse(cells);
                }
            }
            // BOF: a new substream.
            0x0809 => cells_box = CellBox::default(),
            // SST: the shared strings, in this record and the CONTINUE records after it.
            0x00FC => {
                let mut segments = vec![data];
                let mut next = at + 4 + len;
                while let Some((0x003C, n, more)) = record_at(&stream, next) {
                    segments.push(more);
                    next += 4 + n;
                }
                shared = shared_string_sizes(&segments);
            }
            // Number, Label, LabelSst, RK, RString, BoolErr, Formula: row, column first.
            0x0203 | 0x0204 | 0x00FD | 0x027E | 0x00D6 | 0x0205 | 0x0006 => {
                if let (Some(r), Some(c)) = (u16_at(data, 0), u16_at(data, 2)) {
                    cells_box.add(r, c);
                }
            }
            // MulRk: row, first column, ..., last column in the last two bytes.
            0x00BD if data.len() >= 6 => {
                if let (Some(r), Some(c0), Some(c1)) = (
                    u16_at(data, 0),
                    u16_at(data, 2),
                    u16_at(data, data.len() - 2),
                ) {
                    cells_box.add(r, c0);
                    cells_box.add(r, c1);
                }
            }
            _ => {}
        }
        if let Some(cells) = cells_box.cells().filter(|&c| c > allowed) {
            return refuse(cells);
        }
        // LabelSst: row, column, format, then the shared string's number.
        if typ == 0x00FD {
            text += u32_at(data, 6)
                .and_then(|i| shared.get(i as usize))
                .copied()
                .unwrap_or(0);
            if text > text_allowed {
                return Err(format!(
                    "hostile workbook: its cells' text comes to more than {text} bytes from {} bytes",
                    bytes.len()
                ));
            }
        }
        at += 4 + len;
    }
    Ok(())
}

/// The record at `at` of a workbook stream: its type, its stated length and its data (cut
/// at the stream's end); None when no record header is left.
fn record_at(stream: &[u8], at: usize) -> Option<(u16, usize, &[u8])> {
    let typ = u16_at(stream, at)?;
    let len = usize::from(u16_at(stream, at + 2)?);
    let data = &stream[(at + 4).min(stream.len())..(at + 4 + len).min(stream.len())];
    Some((typ, len, data))
}

/// A cursor over a record's data and its CONTINUE records' data, read as one.
struct Segments<'a> {
    segments: &'a [&'a [u8]],
    seg: usize,
    pos: usize,
}

impl Segments<'_> {
    /// Bytes left in the current segment.
    fn left(&self) -> usize {
        self.segments
            .get(self.seg)
            .map_or(0, |s| s.len().saturating_sub(self.pos))
    }

    /// On to the next segment; None after the last.
    fn next_segment(&mut self) -> Option<()> {
        self.seg += 1;
        self.pos = 0;
        (self.seg < self.segments.len()).then_some(())
    }

    fn byte(&mut self) -> Option<u8> {
        while self.left() == 0 {
            self.next_segment()?;
        }
        let b = self.segments[self.seg][self.pos];
        self.pos += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }

    /// Skips `n` bytes, over segments.
    fn skip(&mut self, mut n: u64) -> Option<()> {
        while n > 0 {
            while self.left() == 0 {
                self.next_segment()?;
            }
            let step = n.min(self.left() as u64);
            self.pos += step as usize;
            n -= step;
        }
        Some(())
    }
}

/// The UTF-8 bytes of each string of a shared-string table (BIFF8 SST), from the SST
/// record's data and its CONTINUE records' (`segments`), as calamine reads them: a
/// string's characters may run over into the next record, which then starts with a
/// byte saying whether they go on as one byte or two a character. Rich-text runs and
/// phonetic data are skipped. Stops at the first string it cannot follow.
fn shared_string_sizes(segments: &[&[u8]]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut r = Segments {
        segments,
        seg: 0,
        pos: 0,
    };
    // cstTotal and cstUnique: not trusted, the strings are counted as read.
    if r.skip(8).is_none() {
        return out;
    }
    let mut one = || -> Option<u64> {
        let mut chars = usize::from(r.u16()?);
        let flags = r.byte()?;
        let mut wide = flags & 0x01 != 0;
        let runs = if flags & 0x08 != 0 { r.u16()? } else { 0 };
        let phonetic = if flags & 0x04 != 0 { r.u32()? } else { 0 };
        let mut utf8 = 0u64;
        while chars > 0 {
            if r.left() == 0 {
                // Characters go on in the next record, after a byte of flags.
                r.next_segment()?;
                wide = r.byte()? & 0x01 != 0;
            }
            let seg = r.segments[r.seg];
            let avail = r.left() / if wide { 2 } else { 1 };
            if avail == 0 {
                // Half a character at a record's end: not something to follow.
                return None;
            }
            let take = chars.min(avail);
            let bytes = &seg[r.pos..r.pos + take * if wide { 2 } else { 1 }];
            utf8 += if wide {
                bytes
                    .chunks_exact(2)
                    .map(|u| match u16::from_le_bytes([u[0], u[1]]) {
                        0..=0x7F => 1,
                        0x80..=0x7FF => 2,
                        // Each half of a surrogate pair: 4 bytes the pair.
                        0xD800..=0xDFFF => 2,
                        _ => 3,
                    })
                    .sum::<u64>()
            } else {
                bytes
                    .iter()
                    .map(|&b| if b < 0x80 { 1 } else { 2 })
                    .sum::<u64>()
            };
            r.pos += bytes.len();
            chars -= take;
        }
        r.skip(4 * u64::from(runs) + u64::from(phonetic))?;
        Some(utf8)
    };
    while let Some(n) = one() {
        out.push(n);
    }
    out
}

fn u16_at(d: &[u8], i: usize) -> Option<u16> {
    d.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

/// The little-endian `u32` at `i`, if the bytes hold one.
fn u32_at(d: &[u8], i: usize) -> Option<u32> {
    d.get(i..i + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The smallest box around some cells.
#[derive(Default)]
struct CellBox {
    rows: Option<(u16, u16)>,
    cols: Option<(u16, u16)>,
}

impl CellBox {
    fn add(&mut self, r: u16, c: u16) {
        let grow = |b: Option<(u16, u16)>, v: u16| {
            Some(b.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        };
        self.rows = grow(self.rows, r);
        self.cols = grow(self.cols, c);
    }

    fn cells(&self) -> Option<u64> {
        let (r0, r1) = self.rows?;
        let (c0, c1) = self.cols?;
        Some((u64::from(r1) - u64::from(r0) + 1) * (u64::from(c1) - u64::from(c0) + 1))
    }
}

/// The cells a DIMENSIONS record declares, as calamine reads it (BIFF8's 14 or 16 bytes,
/// BIFF5's 10).
fn declared_cells(r: &[u8]) -> Option<u64> {
    let half = |i: usize| u16_at(r, i).map(u64::from);
    let word = |i: usize| u32_at(r, i).map(u64::from);
    let (rf, rl, mut cf, cl) = match r.len() {
        10 => (half(0)?, half(2)?, half(4)?, half(6)?),
        14 | 16 => (word(0)?, word(4)?, half(8)?, half(10)?),
        _ => return None,
    };
    if cf > 0xFF || cl < cf {
        cf = 0;
    }
    if rl == 0 || cl == 0 {
        return Some(1);
    }
    let rows = rl.saturating_sub(rf).max(1);
    let cols = cl.saturating_sub(cf).max(1);
    Some(rows.saturating_mul(cols))
}

const END: u32 = 0xFFFF_FFFE;

/// The `Workbook` (or BIFF5 `Book`) stream of a compound file, if it can be followed.
fn workbook_stream(b: &[u8]) -> Option<Vec<u8>> {
    if b.get(..8)? != [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] {
        return None;
    }
    let word = |i: usize| u32_at(b, i);
    let shift = u32::from(u16_at(b, 0x1E)?);
    let mini_shift = u32::from(u16_at(b, 0x20)?);
    if !(7..=16).contains(&shift) || mini_shift >= shift {
        return None;
    }
    let sector = 1usize << shift;
    let mini = 1usize << mini_shift;
    let sectors = b.len().div_ceil(sector);
    let fat_sectors = word(0x2C)? as usize;
    let first_dir = word(0x30)?;
    let cutoff = word(0x38)? as u64;
    let first_minifat = word(0x3C)?;
    let mut difat_next = word(0x44)?;
    // The FAT's own sectors: the header's 109, then the DIFAT chain's.
    let mut fat_list: Vec<u32> = (0..109)
        .filter_map(|i| word(0x4C + 4 * i))
        .filter(|&s| (s as usize) < sectors)
        .collect();
    let mut hops = 0;
    while (difat_next as usize) < sectors && hops < sectors {
        let at = (difat_next as usize + 1) * sector;
        let per = sector / 4 - 1;
        for i in 0..per {
            if let Some(s) = word(at + 4 * i).filter(|&s| (s as usize) < sectors) {
                fat_list.push(s);
            }
        }
        difat_next = word(at + 4 * per)?;
        hops += 1;
    }
    fat_list.truncate(fat_sectors.max(1));
    let mut fat: Vec<u32> = Vec::with_capacity(fat_list.len() * sector / 4);
    for s in fat_list {
        let at = (s as usize + 1) * sector;
        fat.extend((0..sector / 4).map(|i| word(at + 4 * i).unwrap_or(END)));
    }
    // A chain of sectors, at most as long as there are sectors (a cycle ends it).
    let chain = |start: u32, table: &[u32]| -> Vec<u32> {
        let mut out = Vec::new();
        let mut s = start;
        while (s as usize) < table.len() && out.len() <= table.len() {
            out.push(s);
            s = table[s as usize];
        }
        out
    };
    let read_chain = |start: u32| -> Vec<u8> {
        let mut out = Vec::new();
        for s in chain(start, &fat) {
            let at = (s as usize + 1) * sector;
            if let Some(part) = b.get(at..(at + sector).min(b.len())) {
                out.extend_from_slice(part);
            }
        }
        out
    };
    let dir = read_chain(first_dir);
    let entry = |i: usize| dir.get(i * 128..i * 128 + 128);
    let root = entry(0)?;
    let root_start = u32_at(root, 116)?;
    let name_of = |e: &[u8]| -> String {
        let n = usize::from(u16::from_le_bytes([e[64], e[65]])).min(64);
        let units: Vec<u16> = e[..n]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    };
    let (start, size) = (1..dir.len() / 128).find_map(|i| {
        let e = entry(i)?;
        let name = name_of(e);
        (e[66] == 2 && (name == "Workbook" || name == "Book")).then(|| {
            let start = u32_at(e, 116).unwrap_or(END);
            let size = u64::from(u32_at(e, 120).unwrap_or(0));
            (start, size)
        })
    })?;
    let size = usize::try_from(size).ok()?.min(b.len());
    let mut stream = if (size as u64) < cutoff {
        // In the mini stream: 64-byte sectors inside the root entry's chain.
        let mini_stream = read_chain(root_start);
        let minifat: Vec<u32> = read_chain(first_minifat)
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let mut out = Vec::new();
        for s in chain(start, &minifat) {
            let at = s as usize * mini;
            if let Some(part) = mini_stream.get(at..(at + mini).min(mini_stream.len())) {
                out.extend_from_slice(part);
            }
        }
        out
    } else {
        read_chain(start)
    };
    stream.truncate(size);
    Some(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_cells_as_calamine_reads_them() {
        // BIFF8: rows 0..65536, columns 0..256.
        let mut r = Vec::new();
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&65_536u32.to_le_bytes());
        r.extend_from_slice(&0u16.to_le_bytes());
        r.extend_from_slice(&256u16.to_le_bytes());
        r.extend_from_slice(&0u16.to_le_bytes());
        assert_eq!(declared_cells(&r), Some(65_536 * 256));
        // A first column above 0xFF is taken as 0, as calamine does.
        r[8..10].copy_from_slice(&300u16.to_le_bytes());
        r[10..12].copy_from_slice(&16_384u16.to_le_bytes());
        r[4..8].copy_from_slice(&1_048_576u32.to_le_bytes());
        assert_eq!(declared_cells(&r), Some(1_048_576 * 16_384));
        // BIFF5 and empty sheets.
        let b5: Vec<u8> = [0u16, 10, 0, 3, 0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(declared_cells(&b5), Some(30));
        let empty: Vec<u8> = [0u16, 0, 0, 0, 0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(declared_cells(&empty), Some(1));
        assert_eq!(declared_cells(&[1, 2, 3]), None);
    }

    #[test]
    fn what_is_no_compound_file_is_left_to_calamine() {
        assert!(check_workbook(b"not a workbook", 0).is_ok());
        assert!(check_workbook(&[], 0).is_ok());
        let mut header = vec![0u8; 512];
        header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
        assert!(check_workbook(&header, 0).is_ok());
    }
}

#[cfg(test)]
mod files {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn shared_strings_are_counted_over_continue_records_as_utf8() {
        // SST header (cstTotal, cstUnique), then: "ab" (one byte a character); "长é"
        // (two bytes a character) whose second character runs into the next record
        // after a flags byte saying one byte a character; "x" with 1 rich-text run and
        // 3 bytes of phonetic data that run over into a third record.
        let mut first = vec![0u8; 8];
        first.extend_from_slice(&[2, 0, 0x00, b'a', b'b']);
        first.extend_from_slice(&[2, 0, 0x01, 0x7F, 0x95]); // 长 (U+957F)
        let second = [0x00, 0xE9]; // é as one byte
        let mut third_start = vec![1, 0, 0x0C, 1, 0, 3, 0, 0, 0, b'x'];
        third_start.extend_from_slice(&[0, 0, 0, 0]); // the run
        third_start.extend_from_slice(&[9, 9]); // phonetic, 2 of 3 bytes
        let fourth = [9u8, 2, 0, 0x01, 0x3D, 0xD8, 0x00, 0xDE]; // its last byte; 😀
        let segments: Vec<&[u8]> = vec![&first, &second, &third_start, &fourth];
        assert_eq!(shared_string_sizes(&segments), [2, 5, 1, 4]);
        // Cut short: the strings before the cut.
        assert_eq!(shared_string_sizes(&[&first[..13]]), [2]);
        assert!(shared_string_sizes(&[]).is_empty());
    }

    #[test]
    fn a_shared_string_named_by_thousands_of_cells_is_refused() {
        // Written by xlwt: one 30,000-character string (90,000 bytes of UTF-8, stored
        // once over a dozen CONTINUE records) in 12,000 cells, plus strings of 9,000
        // ASCII letters (twice), 3,000 é and ten 😀 and 王, and the header: 248 KB whose
        // cells come to 1,080,024,053 bytes of text.
        let bytes = fixture("payments_one_string_in_12000_cells.xls");
        let total = 6 + 4 + 12_000 * 90_000 + 2 * 9_000 + 6_000 + 43;
        assert_eq!(total, 1_080_024_053);
        assert!(check_workbook(&bytes, total).is_ok());
        let err = check_workbook(&bytes, total - 1).unwrap_err();
        assert!(
            err.contains("hostile workbook: its cells' text comes to more than"),
            "{err}"
        );
    }

    #[test]
    fn hostile_sheets_are_refused_before_calamine_opens_them() {
        let one_cell = fixture("payments_one_cell_at_iv65536.xls");
        let stream = workbook_stream(&one_cell).expect("the workbook stream");
        assert_eq!(stream.len(), 4096);
        let err = check_workbook(&one_cell, u64::MAX).unwrap_err();
        assert!(err.contains("16777216 cells"), "{err}");
        let declared = fixture("payments_dimensions_1048576x16384.xls");
        let err = check_workbook(&declared, u64::MAX).unwrap_err();
        assert!(err.contains("17179869184 cells"), "{err}");
        // A sheet of a few rows with a note at row 9000, column 256 (2.3M cells in the
        // box) is within the allowance of even a small file.
        assert!(cells_allowed(20_000) > 9_000 * 256);
        assert!(cells_allowed(5_632) < 65_536 * 256);
        // The sample town's .xls passes.
        let sample = std::fs::read(format!(
            "{}/../../sample-data/dianzi-2022/payments/part2.xls",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert!(workbook_stream(&sample).is_some());
        assert!(check_workbook(&sample, 1 << 30).is_ok());
    }
}
