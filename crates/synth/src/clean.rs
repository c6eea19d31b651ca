//! Clean output: one canonical file per source, written chunk by chunk so memory stays
//! bounded whatever the town's size.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::model::{Chunk, Village};
use crate::schema::{canonical, write_canonical, Cell, Kind, Source, SOURCES};
use crate::{io_err, Format, SynthError};

/// A chunk rendered for the sinks (done in worker threads).
pub(crate) enum Rendered {
    Csv(Vec<Vec<u8>>),
    Parquet(Vec<DataFrame>),
}

enum Sink {
    Csv(BufWriter<File>),
    Parquet(Box<polars::io::parquet::write::BatchedWriter<File>>),
}

/// The eight open output files.
pub(crate) struct CleanWriter {
    sinks: Vec<(PathBuf, Sink)>,
}

fn perr(path: &Path) -> impl Fn(PolarsError) -> SynthError + '_ {
    move |e| SynthError::Parquet(path.display().to_string(), e.to_string())
}

impl CleanWriter {
    /// Creates `SOURCE.csv` or `SOURCE.parquet` for every source, headers written.
    pub(crate) fn create(
        out: &Path,
        format: Format,
        villages: &[Village],
    ) -> Result<CleanWriter, SynthError> {
        let mut sinks = Vec::new();
        for s in SOURCES {
            match format {
                Format::Csv => {
                    let path = out.join(format!("{}.csv", s.name()));
                    let f = File::create(&path).map_err(|e| io_err(&path, e))?;
                    let mut w = BufWriter::with_capacity(1 << 20, f);
                    let header: Vec<&str> = s.columns().iter().map(|c| c.name).collect();
                    writeln!(w, "{}", header.join(",")).map_err(|e| io_err(&path, e))?;
                    sinks.push((path, Sink::Csv(w)));
                }
                Format::Parquet => {
                    let path = out.join(format!("{}.parquet", s.name()));
                    let f = File::create(&path).map_err(|e| io_err(&path, e))?;
                    let empty = frame(s, &Chunk::default(), villages).map_err(perr(&path))?;
                    let schema = empty.schema().clone();
                    let w = ParquetWriter::new(f)
                        .batched(&schema)
                        .map_err(perr(&path))?;
                    sinks.push((path, Sink::Parquet(Box::new(w))));
                }
            }
        }
        Ok(CleanWriter { sinks })
    }

    /// Renders a chunk for every source (pure; runs in parallel).
    pub(crate) fn render(
        chunk: &Chunk,
        villages: &[Village],
        format: Format,
    ) -> Result<Rendered, SynthError> {
        match format {
            Format::Csv => {
                let mut out = Vec::with_capacity(SOURCES.len());
                for s in SOURCES {
                    out.push(csv_bytes(s, chunk, villages)?);
                }
                Ok(Rendered::Csv(out))
            }
            Format::Parquet => {
                let mut out = Vec::with_capacity(SOURCES.len());
                for s in SOURCES {
                    let name = PathBuf::from(format!("{}.parquet", s.name()));
                    out.push(frame(s, chunk, villages).map_err(perr(&name))?);
                }
                Ok(Rendered::Parquet(out))
            }
        }
    }

    /// Appends a rendered chunk.
    pub(crate) fn write(&mut self, r: Rendered) -> Result<(), SynthError> {
        match r {
            Rendered::Csv(parts) => {
                for ((path, sink), bytes) in self.sinks.iter_mut().zip(parts) {
                    if let Sink::Csv(w) = sink {
                        w.write_all(&bytes).map_err(|e| io_err(path, e))?;
                    }
                }
            }
            Rendered::Parquet(frames) => {
                for ((path, sink), df) in self.sinks.iter_mut().zip(frames) {
                    if let Sink::Parquet(w) = sink {
                        if df.height() > 0 {
                            w.write_batch(&df).map_err(perr(path))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Flushes and closes every file.
    pub(crate) fn finish(self) -> Result<(), SynthError> {
        for (path, sink) in self.sinks {
            match sink {
                Sink::Csv(mut w) => w.flush().map_err(|e| io_err(&path, e))?,
                Sink::Parquet(w) => {
                    w.finish().map_err(perr(&path))?;
                }
            }
        }
        Ok(())
    }
}

/// The CSV rows (no header) of one source of a chunk.
fn csv_bytes(s: Source, chunk: &Chunk, villages: &[Village]) -> Result<Vec<u8>, SynthError> {
    let n = s.len(chunk);
    let mut buf = Vec::with_capacity(n * 112);
    let mut cells = Vec::with_capacity(16);
    for k in 0..n {
        s.cells_into(chunk, k, villages, &mut cells);
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            write_canonical(&mut buf, c);
        }
        buf.push(b'\n');
    }
    Ok(buf)
}

/// One source of a chunk as a DataFrame with native types: dates, datetimes, whole
/// numbers and money (decimal(18,2)); everything else text.
pub(crate) fn frame(s: Source, chunk: &Chunk, villages: &[Village]) -> PolarsResult<DataFrame> {
    let n = s.len(chunk);
    let rows: Vec<Vec<Cell>> = (0..n).map(|k| s.cells(chunk, k, villages)).collect();
    let mut columns: Vec<Column> = Vec::new();
    for (i, c) in s.columns().iter().enumerate() {
        let name: PlSmallStr = c.name.into();
        let series = match c.kind {
            Kind::Int | Kind::Level | Kind::Period => {
                let v: Vec<Option<i64>> = rows
                    .iter()
                    .map(|r| match &r[i] {
                        Cell::Int(x) => Some(*x),
                        _ => None,
                    })
                    .collect();
                Series::new(name, v)
            }
            Kind::Money => {
                let v: Vec<Option<i128>> = rows
                    .iter()
                    .map(|r| match &r[i] {
                        Cell::Money(f) => Some(i128::from(f.0)),
                        _ => None,
                    })
                    .collect();
                Series::new(name, v).into_decimal(18, 2)?
            }
            Kind::Date => {
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
                let v: Vec<Option<i32>> = rows
                    .iter()
                    .map(|r| match &r[i] {
                        Cell::Date(d) => Some((*d - epoch).num_days() as i32),
                        _ => None,
                    })
                    .collect();
                Series::new(name, v).cast(&DataType::Date)?
            }
            Kind::DateTime => {
                let v: Vec<Option<i64>> = rows
                    .iter()
                    .map(|r| match &r[i] {
                        Cell::DateTime(t) => Some(t.and_utc().timestamp_millis()),
                        _ => None,
                    })
                    .collect();
                Series::new(name, v).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?
            }
            _ => {
                let v: Vec<Option<String>> = rows
                    .iter()
                    .map(|r| match &r[i] {
                        Cell::Null => None,
                        other => Some(canonical(other)),
                    })
                    .collect();
                Series::new(name, v)
            }
        };
        columns.push(series.into());
    }
    DataFrame::new(n, columns)
}
