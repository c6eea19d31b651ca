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

/// Cells a sheet may declare or span: four million whatever the file (calamine's grid
/// of them is about 128 MB, and a genuine sheet with a stray note far from its table
/// stays below), or a million plus 64 per byte of the file (a cell record takes at least
/// 6 bytes), whichever is more.
fn cells_allowed(file_len: usize) -> u64 {
    (1_000_000 + 64 * file_len as u64).max(4_000_000)
}

/// Refuses a `.xls` whose sheets declare more cells than its bytes could hold.
pub fn check_declared_cells(bytes: &[u8]) -> Result<(), String> {
    let Some(stream) = workbook_stream(bytes) else {
        return Ok(());
    };
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
    while at + 4 <= stream.len() {
        let typ = u16::from_le_bytes([stream[at], stream[at + 1]]);
        let len = usize::from(u16::from_le_bytes([stream[at + 2], stream[at + 3]]));
        let data = &stream[(at + 4).min(stream.len())..(at + 4 + len).min(stream.len())];
        match typ {
            // DIMENSIONS: what calamine reserves room for.
            0x0200 => {
                if let Some(cells) = declared_cells(data).filter(|&c| c > allowed) {
                    return refuse(cells);
                }
            }
            // BOF: a new substream.
            0x0809 => cells_box = CellBox::default(),
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
        at += 4 + len;
    }
    Ok(())
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
        assert!(check_declared_cells(b"not a workbook").is_ok());
        assert!(check_declared_cells(&[]).is_ok());
        let mut header = vec![0u8; 512];
        header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
        assert!(check_declared_cells(&header).is_ok());
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
    fn hostile_sheets_are_refused_before_calamine_opens_them() {
        let one_cell = fixture("payments_one_cell_at_iv65536.xls");
        let stream = workbook_stream(&one_cell).expect("the workbook stream");
        assert_eq!(stream.len(), 4096);
        let err = check_declared_cells(&one_cell).unwrap_err();
        assert!(err.contains("16777216 cells"), "{err}");
        let declared = fixture("payments_dimensions_1048576x16384.xls");
        let err = check_declared_cells(&declared).unwrap_err();
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
        assert!(check_declared_cells(&sample).is_ok());
    }
}
