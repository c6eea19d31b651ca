//! `data-contract.md` Robustness and Real exports, through the binary: each test
//! reproduces a case found by hostile testing (issue 13) or a real export form (issue 10).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const HUKOU: &str = "id_number,name,village\n11010519491231002X,王涛,店子村\n";
const ID: &str = "11010519491231002X";

fn qianbiao_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qianbiao"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("binary runs")
}

fn run_on(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    qianbiao_in(data, &args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "stderr: {}", stderr(o));
}

fn exit_2(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
}

fn manifest(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

/// The manifest's report of one file.
fn file_report<'m>(m: &'m Value, path: &str) -> &'m Value {
    m["sources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["files"].as_array().unwrap())
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in the manifest"))
}

fn rules_found(out: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    let mut r = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    r.records()
        .map(|x| {
            let x = x.unwrap();
            (x[1].to_string(), x[3].to_string())
        })
        .collect()
}

fn rejected(out: &Path) -> Vec<(String, String, String)> {
    let mut r = csv::Reader::from_path(out.join("rejected.csv")).unwrap();
    r.records()
        .map(|x| {
            let x = x.unwrap();
            (x[1].to_string(), x[2].to_string(), x[3].to_string())
        })
        .collect()
}

fn town(payments: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hukou.csv"), HUKOU).unwrap();
    std::fs::write(dir.path().join("payments.csv"), payments).unwrap();
    dir
}

/// Per CSV file, the manifest's line counts add up to the file's physical lines.
fn assert_lines_add_up(m: &Value) {
    for f in m["sources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["files"].as_array().unwrap())
    {
        let l = &f["lines"];
        let sum: u64 = ["header", "preamble", "blank", "totals", "rows"]
            .iter()
            .map(|k| l[k].as_u64().unwrap())
            .sum();
        assert_eq!(l["total"].as_u64().unwrap(), sum, "{f}");
        let read = f["rows_read"].as_u64().unwrap();
        let acc = f["rows_accepted"].as_u64().unwrap() + f["rows_rejected"].as_u64().unwrap();
        assert_eq!(read, acc, "{f}");
    }
}

const PAY_HEADER: &str = "txn_id,id_number,scheme,period,amount,paid_at,备注";

#[test]
fn a_stray_quote_in_a_remark_loses_no_line() {
    // T1's 备注 opens a quote that never closes; before the fix it swallowed T2 and T3,
    // and the duplicate payment T3 went unflagged.
    let dir = town(&format!(
        "{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\"见附件\nT2,{ID},养老,2022,300,2021-11-06,\nT3,{ID},养老,2022,300,2021-11-07,\n"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    let f = file_report(&m, "payments.csv");
    assert_eq!(f["rows_read"], 3);
    assert_eq!(f["rows_accepted"], 3);
    assert_eq!(f["lines"]["total"], 4);
    assert!(rules_found(&out).contains(&("DUP-001".into(), format!("{ID}|resident_pension|2022"))));
    assert_lines_add_up(&m);
}

/// The stray quote runs on to the opening quote of a later quoted remark: the field that
/// would make has the header's number of fields, but its "closing" quote is followed by
/// text, not a comma or the line's end: no field, and no row is swallowed.
#[test]
fn a_stray_quote_meeting_a_later_quoted_remark_loses_no_line() {
    let dir = town(&format!(
        "{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\"见附件\nT2,{ID},养老,2022,300,2021-11-06,\nT3,{ID},养老,2022,300,2021-11-07,\"已核实\"\nT4,{ID},养老,2022,500,2021-11-08,\n"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    let f = file_report(&m, "payments.csv");
    assert_eq!(f["rows_read"], 4);
    assert_eq!(f["rows_accepted"], 4);
    assert_eq!(f["lines"]["rows"], 4);
    assert_lines_add_up(&m);
}

#[test]
fn a_stray_quote_in_a_header_cell_reads_every_row() {
    let dir = town(&format!(
        "txn_id,id_number,scheme,period,amount,paid_at,\"备注\nT1,{ID},医疗,2022,320,2021-11-05,\nT2,{ID},养老,2022,300,2021-11-06,\n"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    assert_eq!(file_report(&m, "payments.csv")["rows_read"], 2);
    assert_lines_add_up(&m);
}

#[test]
fn a_quoted_remark_over_two_lines_is_one_row() {
    let dir = town(&format!(
        "{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\"第一行\n第二行\"\nT2,{ID},养老,2022,300,2021-11-06,\n"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    let f = file_report(&m, "payments.csv");
    assert_eq!(f["rows_read"], 2);
    assert_eq!(f["lines"]["rows"], 3);
    assert_lines_add_up(&m);
}

#[test]
fn lone_cr_line_endings_keep_line_numbers() {
    let dir = town(&format!(
        "{PAY_HEADER}\rT1,{ID},医疗,2022,320,2021-11-05,\rT2,{ID},医疗,2022,abc,2021-11-05,\r"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let rej = rejected(&out);
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0].1, "3");
    assert_lines_add_up(&manifest(&out));
}

#[test]
fn dates_out_of_range_are_not_dates() {
    // 2021115 passed as an Excel serial of year 7433 and moved as_of there; 2021 is the
    // serial of 1905-07-13, in range, yet a stray year, not a day.
    let dir = town(&format!(
        "{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\nT2,{ID},养老,2022,300,2021115,\nT3,{ID},养老,2022,300,1899-12-31,\nT4,{ID},养老,2022,300,2021,\nT5,{ID},养老,2022,300,2021 10:30,\n"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    assert_eq!(m["as_of"], "2021-11-05");
    let rej = rejected(&out);
    assert_eq!(rej.len(), 4, "{rej:?}");
    assert!(
        rej.iter().all(|r| r.2.contains("date out of range")),
        "{rej:?}"
    );
    // --as-of 2021 was taken as 1905-07-13.
    exit_2(
        &run_on(dir.path(), &dir.path().join("o2"), &["--as-of", "2021"]),
        &["--as-of"],
    );
    exit_2(
        &run_on(
            dir.path(),
            &dir.path().join("o3"),
            &["--as-of", "2030-01-01"],
        ),
        &["--as-of"],
    );
    ok(&run_on(
        dir.path(),
        &dir.path().join("o4"),
        &["--as-of", "2021-12-31"],
    ));
}

#[test]
fn amounts_out_of_range_are_rejected_and_totals_stay_positive() {
    let dir = town(&format!(
        "{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\nT2,{ID},养老,2022,92233720368547758.07,2021-11-06,\nT3,{ID},养老,2022,\"100,000,000.00\",2021-11-06,\n"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let rej = rejected(&out);
    assert_eq!(rej.len(), 1);
    assert!(rej[0].2.contains("amount out of range"), "{rej:?}");
    let m = manifest(&out);
    assert_eq!(m["ledger"]["effective_amount"], "100000320.00");
}

#[test]
fn zoned_times_are_china_standard_time() {
    // 17:00 UTC on the window's last day is 01:00 the next day in China.
    let dir = town(&format!(
        "{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-12-20T17:00:00Z,\n"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    assert_eq!(manifest(&out)["as_of"], "2021-12-21");
}

#[test]
fn parquet_zoned_timestamps_are_read() {
    // Written by pyarrow: paid_at timestamp[ms, tz=UTC], 2021-12-20 17:00 and 2021-11-05
    // 02:00 UTC. Every row was rejected as empty before.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hukou.csv"), HUKOU).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/payments_tz.parquet"),
        dir.path().join("payments.parquet"),
    )
    .unwrap();
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    assert_eq!(file_report(&m, "payments.parquet")["rows_accepted"], 2);
    // 17:00 UTC on the window's last day is 01:00 the next day in China.
    assert_eq!(m["as_of"], "2021-12-21");
}

#[test]
fn a_workbook_declaring_a_huge_sheet_stops_the_run_cleanly() {
    // One cell at XFD1048576 made the reader allocate the whole sheet and abort.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("payments.csv"),
        format!("{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\n"),
    )
    .unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["id_number", "name", "village"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, ID).unwrap();
    ws.write_string(1, 1, "王涛").unwrap();
    ws.write_string(1, 2, "店子村").unwrap();
    ws.write_string(1_048_575, 16_383, "x").unwrap();
    wb.save(dir.path().join("hukou.xlsx")).unwrap();
    exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["hukou.xlsx"],
    );
}

#[test]
fn folder_entries_not_read_are_listed() {
    let dir = town("");
    std::fs::remove_file(dir.path().join("payments.csv")).unwrap();
    let p = dir.path().join("payments");
    std::fs::create_dir_all(p.join("old")).unwrap();
    let body = format!("{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\n");
    std::fs::write(p.join("a.csv"), &body).unwrap();
    std::fs::write(p.join(".~lock.a.csv"), &body).unwrap();
    std::fs::write(p.join("old/b.csv"), &body).unwrap();
    std::fs::write(p.join("readme.txt"), "notes").unwrap();
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    let payments = m["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "payments")
        .unwrap();
    let ignored: Vec<&str> = payments["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        ignored,
        [
            "payments/.~lock.a.csv",
            "payments/old",
            "payments/readme.txt"
        ]
    );
    assert!(payments["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| !i["reason"].as_str().unwrap().is_empty()));
}

#[test]
fn control_characters_never_reach_an_output() {
    let dir = town(&format!(
        "txn_id,id_number,scheme,period,amount,paid_at,collector_id\nT1,{ID},医疗,2022,320,2021-11-05,C\u{0}01\u{1b}\n"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let collectors = std::fs::read(out.join("collectors.csv")).unwrap();
    assert!(!collectors.iter().any(|b| *b == 0 || *b == 0x1b));
    assert!(String::from_utf8(collectors).unwrap().contains("\nC01,"));
}

#[test]
fn without_data_the_sample_is_looked_up_from_the_current_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let o = qianbiao_in(
        elsewhere.path(),
        &[
            "run",
            "--out",
            elsewhere.path().join("out").to_str().unwrap(),
        ],
    );
    exit_2(&o, &["sample-data/dianzi-2022", "current directory"]);
}

#[test]
fn undecodable_text_is_reported_with_its_position() {
    let dir = town("");
    let mut bytes = format!("{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\n").into_bytes();
    bytes.extend_from_slice(b"T2,\x81\x20\n");
    std::fs::write(dir.path().join("payments.csv"), bytes).unwrap();
    exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["payments.csv", "line 3", "byte"],
    );
}

/// The byte named is the first that neither encoding reads: in a UTF-8 export with one bad
/// byte, that byte (not the first Chinese character, which GB18030 cannot read); in a
/// GB18030 export, the byte GB18030 cannot read.
#[test]
fn the_byte_named_is_the_first_neither_encoding_reads() {
    let dir = town("");
    let head = format!("{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\nT2,");
    let mut bytes = head.clone().into_bytes();
    bytes.extend_from_slice(b"\xFF,\n");
    std::fs::write(dir.path().join("payments.csv"), &bytes).unwrap();
    let at = head.len();
    exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["payments.csv", &format!("byte {at} (0xFF) on line 3")],
    );
    let (gb, _, _) = encoding_rs::GB18030.encode(&head);
    let mut bytes = gb.into_owned();
    let at = bytes.len();
    bytes.extend_from_slice(b"\xFF,\n");
    std::fs::write(dir.path().join("payments.csv"), &bytes).unwrap();
    exit_2(
        &run_on(dir.path(), &dir.path().join("o2"), &[]),
        &["payments.csv", &format!("byte {at} (0xFF) on line 3")],
    );
}

#[test]
fn a_failed_write_leaves_the_previous_outputs() {
    let dir = town(&format!(
        "{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\n"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let before: Vec<(String, Vec<u8>)> = snapshot(&out);
    // Different inputs, and a write that fails once every output but the manifest exists.
    std::fs::write(
        dir.path().join("payments.csv"),
        format!("{PAY_HEADER}\nT9,{ID},养老,2022,300,2021-11-08,\n"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_qianbiao"))
        .args([
            "run",
            "--data",
            dir.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .env("QIANBIAO_TEST_FAIL_WRITE", "findings.xlsx")
        .output()
        .unwrap();
    exit_2(&o, &["findings.xlsx"]);
    assert_eq!(snapshot(&out), before, "the previous outputs changed");
    // The next run publishes the new outputs, and their hashes are in the manifest.
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    for (name, sha) in m["outputs"].as_object().unwrap() {
        let bytes = std::fs::read(out.join(name)).unwrap();
        use sha2::Digest;
        let got: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sha.as_str().unwrap(), got, "{name}");
    }
    assert_eq!(snapshot(&out).len(), before.len());
}

/// Every entry of a folder (names and bytes), temporary ones included.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn preamble_and_totals_rows_are_neither_read_nor_rejected() {
    let dir = town(&format!(
        "店子镇2022年度居民养老保险缴费明细\n制表单位：店子镇人民政府,,,\n{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\n小计,,,,320,,\n\nT2,{ID},养老,2022,300,2021-11-06,\n合计,,,,620,,\n"
    ));
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    let f = file_report(&m, "payments.csv");
    assert_eq!(f["preamble_rows"], 2);
    assert_eq!(f["total_rows"], 2);
    assert_eq!(f["rows_read"], 2);
    assert_eq!(f["blank_rows"], 1);
    assert_eq!(f["lines"]["total"], 8);
    assert!(rejected(&out).is_empty());
    assert_lines_add_up(&m);
}

#[test]
fn no_header_in_the_first_twenty_rows_names_the_missing_columns() {
    let dir = town(&format!(
        "标题\n{}\n",
        "txn_id,id_number,period,amount,paid_at"
    ));
    exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["payments.csv", "`scheme`"],
    );
}

#[test]
fn an_empty_file_names_every_required_column() {
    for (name, bytes) in [("empty", &b""[..]), ("bom only", &b"\xEF\xBB\xBF"[..])] {
        let dir = town("");
        std::fs::write(dir.path().join("payments.csv"), bytes).unwrap();
        let o = run_on(dir.path(), &dir.path().join("out"), &[]);
        for col in [
            "`txn_id`",
            "`id_number`",
            "`scheme`",
            "`period`",
            "`amount`",
            "`paid_at`",
        ] {
            assert!(stderr(&o).contains(col), "{name}: {col} in {}", stderr(&o));
        }
        exit_2(&o, &["payments.csv"]);
    }
}

#[test]
fn excel_numeric_ids_lost_their_digits() {
    let dir = tempfile::tempdir().unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "店子镇户籍人员").unwrap();
    for (c, h) in ["身份证号码", "姓名", "村居"].iter().enumerate() {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    // An 18-digit id typed as a number, then a 15-digit legacy id typed as a number.
    ws.write_number(2, 0, 371_323_198_001_016_073f64).unwrap();
    ws.write_string(2, 1, "李四").unwrap();
    ws.write_string(2, 2, "店子村").unwrap();
    ws.write_number(3, 0, 110_105_491_231_002f64).unwrap();
    ws.write_string(3, 1, "王涛").unwrap();
    ws.write_string(3, 2, "店子村").unwrap();
    wb.save(dir.path().join("hukou.xlsx")).unwrap();
    std::fs::write(
        dir.path().join("payments.csv"),
        format!("{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\nT2,3.71323E+17,医疗,2022,320,2021-11-05,\n"),
    )
    .unwrap();
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    let f = file_report(&m, "hukou.xlsx");
    assert_eq!(f["preamble_rows"], 1);
    assert_eq!(f["rows_accepted"], 1);
    let rej = rejected(&out);
    assert_eq!(rej.len(), 1, "{rej:?}");
    assert_eq!(rej[0].1, "3");
    assert!(
        rej[0]
            .2
            .contains("id_number stored as a number lost its last digits"),
        "{rej:?}"
    );
    // The scientific-notation id is kept (payments keep invalid ids) and flagged, with
    // the reason the contract names for an id that lost its digits as a number.
    assert!(rules_found(&out).contains(&("DQ-001".into(), "T2".into())));
    let findings = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    let t2 = findings
        .lines()
        .find(|l| l.contains("DQ-001") && l.contains(",T2,"))
        .unwrap();
    assert!(
        t2.contains("id_number stored as a number lost its last digits"),
        "{t2}"
    );
}

#[test]
fn xls_with_a_title_a_numeric_id_and_a_totals_row() {
    // Converted by LibreOffice from CSV: a title row, the header, an 18-digit id that
    // Calc took for a number (its last digits lost), a valid id with X, a 合计 row.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hukou_titled.xls"),
        dir.path().join("hukou.xls"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("payments.csv"),
        format!("{PAY_HEADER}\nT1,{ID},医疗,2022,320,2021-11-05,\n"),
    )
    .unwrap();
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let m = manifest(&out);
    let f = file_report(&m, "hukou.xls");
    assert_eq!(f["format"], "xls");
    assert_eq!(f["preamble_rows"], 1);
    assert_eq!(f["total_rows"], 1);
    assert_eq!(f["rows_read"], 2);
    assert_eq!(f["rows_accepted"], 1);
    let rej = rejected(&out);
    assert_eq!(rej.len(), 1, "{rej:?}");
    assert_eq!((rej[0].0.as_str(), rej[0].1.as_str()), ("hukou.xls", "3"));
    assert!(rej[0].2.contains("lost its last digits"), "{rej:?}");
    assert_lines_add_up(&m);
}

#[test]
fn a_parquet_footer_claiming_more_rows_than_its_pages_hold_is_refused() {
    // Written by pyarrow with one row, its footer's and row group's num_rows then set to
    // 2: reading row 2 went past the column's end, a panic (exit 101).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hukou.csv"), HUKOU).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/payments_footer_claims_more_rows.parquet"),
        dir.path().join("payments.parquet"),
    )
    .unwrap();
    exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        // Our check names the mismatch (a debug build of polars fails its own first).
        &["payments.parquet", "cannot read", "1"],
    );
}

/// A folder with `HUKOU` and a committed fixture as its payments file.
fn town_with_fixture(fixture: &str, name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hukou.csv"), HUKOU).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture),
        dir.path().join(name),
    )
    .unwrap();
    dir
}

#[test]
fn a_workbook_declaring_billions_of_shared_strings_is_refused() {
    // Written by hand (2.7 KB): <sst uniqueCount="2000000000">; calamine reserved room
    // for them first and the process aborted for want of 48 GB.
    let dir = town_with_fixture("payments_sst_declares_2e9_strings.xlsx", "payments.xlsx");
    exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["payments.xlsx", "2000000000 strings"],
    );
}

#[test]
fn an_xls_whose_one_shared_string_fills_12000_cells_is_refused() {
    // Written by xlwt (248 KB): one 30,000-character string stored once and named by
    // 12,000 cells. calamine copies it into each cell: 1.08 GB of text, past the 1 GiB a
    // file of this size may expand to; refused before calamine opens it.
    let dir = town_with_fixture("payments_one_string_in_12000_cells.xls", "payments.xls");
    exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &[
            "payments.xls",
            "hostile workbook",
            "bytes from 248832 bytes",
        ],
    );
}

#[test]
fn a_parquet_date_outside_the_calendar_is_a_date_out_of_range() {
    // Written by pyarrow: paid_at date32 = 100,000,000 days on the first row; polars'
    // cast of it to text panicked.
    let dir = town_with_fixture(
        "payments_date32_out_of_calendar.parquet",
        "payments.parquet",
    );
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let rej = rejected(&out);
    assert_eq!(rej.len(), 1, "{rej:?}");
    assert_eq!(rej[0].1, "2");
    assert!(
        rej[0]
            .2
            .contains("`paid_at`: date out of range: '100000000'"),
        "{rej:?}"
    );
}

#[test]
fn a_parquet_file_without_a_required_column_stops_the_run() {
    // Written by pyarrow without an amount column: every row was rejected as empty.
    let dir = town_with_fixture("payments_no_amount_column.parquet", "payments.parquet");
    exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["payments.parquet", "`amount`"],
    );
}

#[test]
fn a_parquet_file_declaring_millions_of_rows_in_a_few_bytes_is_refused() {
    // Written by pyarrow: one row group of 20,000,000 null txn_ids in 43 KB. Decoding it
    // would make 20M rejected rows out of nothing.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hukou.csv"), HUKOU).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/payments_20m_null_rows.parquet"),
        dir.path().join("payments.parquet"),
    )
    .unwrap();
    exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["payments.parquet", "20000000 rows"],
    );
}

#[test]
fn a_workbook_whose_sheet_states_3_gb_in_39_kb_is_refused() {
    // The sample town's deposits workbook with its sheet's stated size set to
    // 3,000,000,000 bytes in the zip's headers: the zip reader would inflate that much (a
    // zip bomb states its true size). Refused before a cell is read.
    let dir = town_with_fixture("payments_sheet_declares_3e9_bytes.xlsx", "payments.xlsx");
    exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["payments.xlsx", "hostile workbook", "3000055924 bytes"],
    );
}

#[test]
fn parquet_columns_of_8_and_16_bit_integers_are_read() {
    // Written by pyarrow: period int16 (2022, 2022, 22), an unused column uint8, paid_at
    // timestamp[us, tz=UTC]. polars, built without its 8- and 16-bit types, refused the
    // whole file ("cannot create series from Int16").
    let dir = town_with_fixture("payments_int16_period.parquet", "payments.parquet");
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    // T1 and T2 are one person's medical payments of 2022: DUP-001. T1 at 16:30 UTC on
    // 2021-12-20 is 00:30 on the 21st in China (the zone still read): the as-of date.
    let found = rules_found(&out);
    assert!(
        found.contains(&("DUP-001".to_string(), format!("{ID}|resident_medical|2022"))),
        "{found:?}"
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["as_of"], "2021-12-21");
    // 22 in an int16 period is no year: rejected as its text would be.
    let rej = rejected(&out);
    assert_eq!(rej.len(), 1, "{rej:?}");
    assert_eq!(rej[0].1, "4");
    assert!(rej[0].2.contains("`period`: not a year: '22'"), "{rej:?}");
}

#[test]
fn excel_numeric_keys_that_lost_their_digits_reject_their_rows() {
    // Two payments whose 19-digit txn_ids were typed as numbers: Excel kept 15 significant
    // digits of each, the same for both. Read as one txn_id they made a DQ-003 and lost
    // the second payment; a 15-digit txn_id typed as a number is exact and kept.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hukou.csv"), HUKOU).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in [
        "txn_id",
        "id_number",
        "scheme",
        "period",
        "amount",
        "paid_at",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, txn) in [
        1_234_567_890_123_456_789f64,
        1_234_567_890_123_456_790f64,
        123_456_789_012_345f64,
    ]
    .iter()
    .enumerate()
    {
        let r = r as u32 + 1;
        ws.write_number(r, 0, *txn).unwrap();
        ws.write_string(r, 1, ID).unwrap();
        ws.write_string(r, 2, "医疗").unwrap();
        ws.write_number(r, 3, 2022.0).unwrap();
        ws.write_number(r, 4, 320.0 + f64::from(r)).unwrap();
        ws.write_string(r, 5, "2021-11-05").unwrap();
    }
    wb.save(dir.path().join("payments.xlsx")).unwrap();
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &[]));
    let rej = rejected(&out);
    assert_eq!(rej.len(), 2, "{rej:?}");
    for (row, line) in rej.iter().zip(["2", "3"]) {
        assert_eq!(row.1, line);
        assert!(
            row.2
                .contains("`txn_id`: stored as a number, it lost its last digits"),
            "{rej:?}"
        );
    }
    assert!(!rules_found(&out).iter().any(|(r, _)| r == "DQ-003"));
    assert_eq!(
        file_report(&manifest(&out), "payments.xlsx")["rows_accepted"],
        1
    );
}

/// Found by an audit of the contract's value forms (2026-12-07): a date written
/// with dots before 1928 is a date, not a short Excel serial; a `T` time may have a space
/// before its zone; a payment status outside the contract's (`success`) is kept as text
/// and is not effective, as is any unknown status.
#[test]
fn dotted_old_dates_t_times_with_a_spaced_zone_and_unknown_statuses_read_as_the_contract_says() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hukou.csv"), HUKOU).unwrap();
    // A required date: before the fix, `date out of range` rejected the row.
    std::fs::write(
        dir.path().join("deaths.csv"),
        format!("id_number,death_date\n{ID},1925.03.04\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("payments.csv"),
        format!(
            "txn_id,id_number,scheme,period,amount,paid_at,status\n\
             T1,{ID},医疗,2022,320,2021-11-04T16:00:00 Z,成功\n\
             T2,{ID},养老,2022,200,2021-11-05,success\n\
             T3,{ID},养老,2022,300,2021-11-06,待确认\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    ok(&run_on(dir.path(), &out, &["--as-of", "2021-12-31"]));
    assert_eq!(rejected(&out), vec![], "every row is read");
    let m = manifest(&out);
    assert_eq!(m["ledger"]["effective_payments"], 1);
    assert_eq!(m["ledger"]["effective_amount"], "320.00");
    assert_eq!(m["ledger"]["payments_kept"], 3);
}
