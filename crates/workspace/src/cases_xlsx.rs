//! `qianbiao cases export|import|summary` (`operations.md`, The case register): the
//! reviewers' workbook out, their decisions back in, all or nothing.

use std::collections::HashMap;
use std::path::Path;

use calamine::{Data, Reader};
use qianbiao_core::money::{parse_amount, AmountError};
use qianbiao_core::Fen;
use qianbiao_report::mask::{mask_id, mask_name};
use rust_xlsxwriter::{
    DataValidation, DataValidationRule, Format, FormatAlign, Workbook, XlsxError,
};

use crate::register::{self, db_err, Decision, Status};
use crate::{lock, text, Result, Workspace, WorkspaceError};

/// The name of the cases sheet.
pub const CASES_SHEET: &str = "cases";
/// The name of the hidden sheet that marks a workbook as this workspace's.
pub const MARKER_SHEET: &str = "qianbiao";
/// The text in the marker sheet's first cell.
pub const MARKER: &str = "qianbiao cases workbook";

/// The headers of the cases sheet; the last four are the reviewer's decision.
pub const HEADERS: [&str; 15] = [
    "finding_id",
    "规则 rule",
    "键 key",
    "身份证号 id_number",
    "姓名 name",
    "金额 amount",
    "首次发现 first_seen",
    "最近发现 last_seen",
    "本次变化 change",
    "当前状态 current status",
    "说明 detail",
    "处理结果 status",
    "追回金额 recovered",
    "核查人 reviewer",
    "备注/理由 note",
];
const COL_STATUS: u16 = 11;

/// The columns' widths, in characters: the finding_id whole (24 characters), the key and
/// the detail wrapped at theirs (a row gets the height of its lines), the decision
/// columns wide enough to type in.
const WIDTHS: [usize; 15] = [26, 10, 30, 20, 10, 12, 18, 18, 10, 16, 40, 16, 12, 12, 30];

fn wb_err(file: &Path) -> impl Fn(XlsxError) -> WorkspaceError + '_ {
    move |e| WorkspaceError::Workbook {
        file: file.display().to_string(),
        message: e.to_string(),
    }
}

fn open_existing(ws: &Workspace) -> Result<rusqlite::Connection> {
    require_db(ws)?;
    register::open(&ws.db())
}

fn require_db(ws: &Workspace) -> Result<()> {
    if !ws.db().exists() {
        return Err(WorkspaceError::Inconsistent(format!(
            "{}: no case register yet (run `qianbiao run --workspace {}` first)",
            ws.db().display(),
            ws.root.display()
        )));
    }
    Ok(())
}

/// Writes the open cases and the cases the latest run changed (new, changed, resolved,
/// reopened) to `out`. Returns how many cases it holds.
pub fn export(root: &Path, out: &Path, mask: bool) -> Result<usize> {
    let ws = Workspace::new(root);
    let conn = open_existing(&ws)?;
    let wsid = register::workspace_id(&conn)?;
    let last_run = register::recorded_runs(&conn)?
        .last()
        .map(|(id, _)| id.clone())
        .unwrap_or_default();
    let cases: Vec<register::Case> = register::all_cases(&conn)?
        .into_iter()
        .filter(|c| c.status == Status::Open || c.changed_in == last_run)
        .collect();

    let err = wb_err(out);
    let mut wb = Workbook::new();
    let head = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap();
    // Cells at the top of their row, which a wrapped key or detail makes taller; every
    // column's format, taken by the cells written without one.
    let top = Format::new().set_align(FormatAlign::Top);
    let wrap = Format::new().set_align(FormatAlign::Top).set_text_wrap();
    let money = Format::new()
        .set_num_format("0.00")
        .set_align(FormatAlign::Top);
    let ws_ = wb.add_worksheet();
    ws_.set_name(CASES_SHEET).map_err(&err)?;
    for (c, h) in HEADERS.iter().enumerate() {
        ws_.write_string_with_format(0, c as u16, *h, &head)
            .map_err(&err)?;
        ws_.set_column_format(c as u16, &top).map_err(&err)?;
    }
    // A bilingual header wider than its column wraps too.
    let head_lines = HEADERS
        .iter()
        .zip(WIDTHS)
        .map(|(h, w)| qianbiao_report::xlsx::wrapped_lines(h, w))
        .max()
        .unwrap_or(1);
    if let Some(height) = qianbiao_report::xlsx::wrapped_row_height(head_lines) {
        ws_.set_row_height(0, height).map_err(&err)?;
    }
    // Every id and name of the exported cases, masked wherever it stands in any case's
    // key or detail; then ids by their shape and the names DQ-002 quotes.
    let masker = mask.then(|| {
        qianbiao_report::mask::Masker::new(
            cases.iter().map(|c| c.id_number.as_str()),
            cases.iter().map(|c| c.name.as_str()),
            [],
        )
    });
    for (i, c) in cases.iter().enumerate() {
        let r = (i + 1) as u32;
        let (id, name, key, detail) = if let Some(m) = &masker {
            (
                mask_id(&c.id_number),
                mask_name(&c.name),
                text::mask_text(&m.text(&c.key), &[&c.name]),
                text::mask_text(&m.text(&c.detail), &[&c.name]),
            )
        } else {
            (
                c.id_number.clone(),
                c.name.clone(),
                c.key.clone(),
                c.detail.clone(),
            )
        };
        let change = if c.changed_in == last_run {
            match c.last_change.as_str() {
                "new" => "新增",
                "changed" => "变化",
                "resolved" => "已消除",
                _ => "",
            }
        } else if c.present {
            "持续"
        } else {
            "已消除"
        };
        let cells: [(u16, String); 10] = [
            (0, c.finding_id.clone()),
            (1, c.rule.clone()),
            (2, key),
            (3, id),
            (4, name),
            (6, c.first_seen.clone()),
            (7, c.last_seen.clone()),
            (8, change.to_string()),
            (9, c.status.label()),
            (10, detail),
        ];
        let mut lines = 1;
        for (col, v) in cells {
            let v = qianbiao_report::guard(&v);
            let width = WIDTHS[col as usize];
            let n = qianbiao_report::xlsx::wrapped_lines(&v, width);
            lines = lines.max(n);
            if n > 1 {
                ws_.write_string_with_format(r, col, v, &wrap)
            } else {
                ws_.write_string(r, col, v)
            }
            .map_err(&err)?;
        }
        if let Some(height) = qianbiao_report::xlsx::wrapped_row_height(lines) {
            ws_.set_row_height(r, height).map_err(&err)?;
        }
        ws_.write_number_with_format(r, 5, c.amount.0 as f64 / 100.0, &money)
            .map_err(&err)?;
    }
    let last = cases.len().max(1) as u32;
    let labels: Vec<String> = Status::ALL.iter().map(|s| s.label()).collect();
    let list = DataValidation::new()
        .allow_list_strings(&labels)
        .map_err(&err)?;
    ws_.add_data_validation(1, COL_STATUS, last, COL_STATUS, &list)
        .map_err(&err)?;
    let amount =
        DataValidation::new().allow_decimal_number(DataValidationRule::GreaterThanOrEqualTo(0.0));
    ws_.add_data_validation(1, COL_STATUS + 1, last, COL_STATUS + 1, &amount)
        .map_err(&err)?;
    ws_.set_freeze_panes(1, 1).map_err(&err)?;
    ws_.autofilter(0, 0, last, (HEADERS.len() - 1) as u16)
        .map_err(&err)?;
    for (c, w) in WIDTHS.iter().enumerate() {
        ws_.set_column_width(c as u16, *w as f64).map_err(&err)?;
    }
    qianbiao_report::xlsx::set_up_printing(ws_, WIDTHS.iter().sum()).map_err(&err)?;
    let marker = wb.add_worksheet();
    marker.set_name(MARKER_SHEET).map_err(&err)?;
    marker.write_string(0, 0, MARKER).map_err(&err)?;
    marker.write_string(1, 0, "workspace_id").map_err(&err)?;
    marker.write_string(1, 1, &wsid).map_err(&err)?;
    marker.write_string(2, 0, "run").map_err(&err)?;
    marker.write_string(2, 1, &last_run).map_err(&err)?;
    marker.set_hidden(true);
    wb.save(out).map_err(&err)?;
    Ok(cases.len())
}

fn cell_text(c: Option<&Data>) -> String {
    match c {
        None | Some(Data::Empty) => String::new(),
        Some(Data::String(s)) => s.trim().to_string(),
        // As the sheet shows it: `=100*0.07` is stored as 7.000000000000001 and shown 7.
        Some(Data::Float(f)) => qianbiao_core::text::spreadsheet_number(*f),
        Some(Data::Int(i)) => i.to_string(),
        Some(Data::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

/// Reads a recovered amount: a number or text, not negative, at most 2 decimals.
fn recovered(c: Option<&Data>) -> std::result::Result<Option<Fen>, String> {
    let t = cell_text(c);
    if t.is_empty() {
        return Ok(None);
    }
    match parse_amount(&t) {
        Ok(f) => Ok(Some(f)),
        Err(AmountError::Negative(_)) => Err("recovered amount is negative".into()),
        Err(AmountError::TooPrecise(_)) => Err("recovered amount has more than 2 decimals".into()),
        Err(_) => Err("recovered amount is not a number".into()),
    }
}

/// Reads a filled cases workbook and records its decisions, all or nothing. Returns how
/// many decisions were recorded. Messages name lines and reasons, never cell values.
pub fn import(root: &Path, file: &Path) -> Result<usize> {
    let ws = Workspace::new(root);
    require_db(&ws)?;
    let (_lock, _) = lock::acquire(root, "cases import")?;
    let mut conn = register::open(&ws.db())?;
    let wsid = register::workspace_id(&conn)?;
    let bad = |m: &str| WorkspaceError::Workbook {
        file: file.display().to_string(),
        message: m.to_string(),
    };
    if !file.is_file() {
        return Err(bad("no such file"));
    }
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook(file).map_err(|_| bad("not an XLSX workbook"))?;
    let marker = wb
        .worksheet_range(MARKER_SHEET)
        .map_err(|_| bad("not a qianbiao cases workbook (no marker sheet)"))?;
    if cell_text(marker.get_value((0, 0))) != MARKER {
        return Err(bad("not a qianbiao cases workbook (bad marker)"));
    }
    if cell_text(marker.get_value((1, 1))) != wsid {
        return Err(bad("a cases workbook of another workspace"));
    }
    // The findings as the exported run wrote them: a decision is recorded on the amount
    // and evidence the reviewer saw, not on what a later run changed them to (so that a
    // case cleared on 350 reopens when it comes back at 360).
    let exported_run = cell_text(marker.get_value((2, 1)));
    let seen: std::collections::BTreeMap<String, (qianbiao_core::Fen, String)> =
        if exported_run.is_empty() {
            Default::default()
        } else {
            crate::changes::read_run(&ws.runs().join(&exported_run))
                .map(|rows| {
                    rows.into_iter()
                        .map(|r| {
                            let ev = r.evidence().to_string();
                            (r.finding_id, (r.amount, ev))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
    let range = wb
        .worksheet_range(CASES_SHEET)
        .map_err(|_| bad("no sheet `cases`"))?;
    let start_row = range.start().map(|(r, _)| r).unwrap_or(0);
    let mut rows = range.rows();
    let header: Vec<String> = rows
        .next()
        .map(|r| r.iter().map(|c| cell_text(Some(c))).collect())
        .unwrap_or_default();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(&format!("no column `{name}`")))
    };
    let (c_id, c_status, c_amount, c_by, c_note) = (
        col(HEADERS[0])?,
        col(HEADERS[11])?,
        col(HEADERS[12])?,
        col(HEADERS[13])?,
        col(HEADERS[14])?,
    );
    let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let origin = format!(
        "import {}",
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let mut decisions: Vec<Decision> = Vec::new();
    let mut rejected: Vec<(u32, String)> = Vec::new();
    // Each finding's decision in this workbook and its line: a finding decided twice
    // differently is rejected (which one would the reviewer mean?), twice alike is once.
    type Choice = (Status, Option<Fen>, String, String);
    let mut decided: HashMap<String, (u32, Choice)> = HashMap::new();
    let mut already = 0usize;
    for (i, r) in rows.enumerate() {
        let line = start_row + i as u32 + 2;
        let id = cell_text(r.get(c_id));
        let status = cell_text(r.get(c_status));
        let by = cell_text(r.get(c_by));
        let note = cell_text(r.get(c_note));
        let amount_cell = r.get(c_amount);
        if status.is_empty()
            && by.is_empty()
            && note.is_empty()
            && cell_text(amount_cell).is_empty()
        {
            continue; // No decision on this row.
        }
        let mut why = Vec::new();
        if id.is_empty() {
            why.push("no finding_id".to_string());
        } else if register::case(&conn, &id)?.is_none() {
            why.push("unknown finding_id".to_string());
        }
        let st = if status.is_empty() {
            why.push("no status".to_string());
            None
        } else {
            let s = Status::parse(&status);
            if s.is_none() {
                why.push("unknown status".to_string());
            }
            s
        };
        let amount = recovered(amount_cell).unwrap_or_else(|e| {
            why.push(e);
            None
        });
        if st == Some(Status::Cleared) && note.is_empty() {
            why.push("cleared without a reason (note)".to_string());
        }
        let choice: Choice = (st.unwrap_or(Status::Open), amount, by.clone(), note.clone());
        if why.is_empty() {
            if let Some((first, earlier)) = decided.get(&id) {
                if *earlier != choice {
                    why.push(format!(
                        "finding_id decided differently on line {first} of this workbook"
                    ));
                } else {
                    continue;
                }
            }
        }
        match (why.is_empty(), st) {
            (true, Some(status)) => {
                decided.insert(id.clone(), (line, choice.clone()));
                // Imported before (the same workbook again): the case's latest decision
                // is this one already, and the history is not written twice.
                let last = register::history(&conn, &id)?.pop();
                if last.is_some_and(|d| (d.status, d.recovered, d.decided_by, d.note) == choice) {
                    already += 1;
                    continue;
                }
                decisions.push(Decision {
                    decided_at: at.clone(),
                    decided_by: by,
                    status,
                    recovered: amount,
                    seen: seen.get(&id).cloned(),
                    finding_id: id,
                    note,
                    origin: origin.clone(),
                })
            }
            _ => rejected.push((line, why.join(", "))),
        }
    }
    if !rejected.is_empty() {
        let n = rejected.len();
        ws.log(&format!(
            "cases import: {n} row(s) rejected, nothing recorded"
        ));
        return Err(WorkspaceError::Rejected {
            file: file.display().to_string(),
            rows: rejected,
        });
    }
    let tx = conn.transaction().map_err(db_err)?;
    for d in &decisions {
        register::decide(&tx, d)?;
    }
    tx.commit().map_err(db_err)?;
    ws.log(&format!(
        "cases import: {} decision(s) recorded, {already} recorded already",
        decisions.len()
    ));
    Ok(decisions.len())
}

/// Per rule: findings, statuses and amounts (what `outcomes.csv` holds).
pub fn summary(root: &Path) -> Result<Vec<register::Outcome>> {
    let ws = Workspace::new(root);
    let conn = open_existing(&ws)?;
    register::outcomes(&conn)
}
