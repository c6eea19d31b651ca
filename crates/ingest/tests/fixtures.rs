//! `qianbiao_ingest::load` against small data folders written to a temporary directory:
//! every file format of the contract (GB18030 and UTF-8 CSV, XLSX, Parquet), the header
//! aliases, value normalisation, rejection with line numbers, payments exported twice,
//! and the errors that stop a load.
//!
//! Every successful load is also checked for conservation (rows read = accepted +
//! rejected, per file, and each rejected row listed with its file and line).

use std::path::Path;
use std::sync::Mutex;

use chrono::NaiveDate;
use polars::prelude::{Column, DataFrame, NamedFrom, ParquetWriter, Series};
use qianbiao_core::{Category, Fen, HukouStatus, IdStr, PayerType, PaymentStatus, Scheme, Stamp};
use qianbiao_ingest::{load, Dataset, FileReport, IngestError, LoadOptions, Payment, Prov};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};
use tempfile::TempDir;

/// The GB 11643 worked example: female, born 1949-12-31.
/// An expected id, as the tables read one back.
fn id(s: &str) -> IdStr<'_> {
    IdStr::from(s)
}

const ID_A: &str = "11010519491231002X";
/// Male, born 1990-01-01.
const ID_B: &str = "371323199001011235";
/// Male, born 1962-03-15; the 18-digit form of the legacy `371323620315123`.
const ID_C: &str = "371323196203151232";
/// A valid number whose check character is `X`.
const ID_X: &str = "37132319880808107X";
/// `ID_B` with a wrong check digit.
const ID_BAD: &str = "371323199001011236";
/// A correct check digit over an impossible birth date (1990-02-30).
const ID_NO_DATE: &str = "371323199002301234";

const HUKOU: &str = "id_number,name,village\n11010519491231002X,王涛,东关村\n";
const PAYMENTS: &str = "txn_id,id_number,scheme,period,amount,paid_at\nT0,11010519491231002X,居民医保,2022,320,2021-11-05\n";
const PAY_HEADER: &str = "txn_id,id_number,scheme,period,amount,paid_at\n";

struct Folder(TempDir);

impl Folder {
    fn new() -> Folder {
        Folder(tempfile::tempdir().unwrap())
    }

    /// A folder with a one-row `hukou.csv` and `payments.csv`, so `load` can run.
    fn with_required() -> Folder {
        let f = Folder::new();
        f.put("hukou.csv", HUKOU);
        f.put("payments.csv", PAYMENTS);
        f
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn put(&self, rel: &str, bytes: impl AsRef<[u8]>) {
        let p = self.0.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn try_load(&self) -> Result<Dataset, IngestError> {
        self.try_load_year(2022)
    }

    fn try_load_year(&self, year: i32) -> Result<Dataset, IngestError> {
        load(
            self.path(),
            &LoadOptions {
                year,
                progress: None,
                columns: None,
            },
        )
    }

    fn load(&self) -> Dataset {
        let ds = self
            .try_load()
            .unwrap_or_else(|e| panic!("load failed: {e}"));
        assert_conserved(&ds);
        ds
    }
}

/// Rows read = accepted + rejected for every file; every rejected row is listed once with
/// its source, file and a data line (>= 2); each non-payments table holds exactly the
/// accepted rows of its files.
fn assert_conserved(ds: &Dataset) {
    assert_eq!(ds.files.len(), ds.reports.len());
    for (file, r) in ds.files.iter().zip(&ds.reports) {
        assert_eq!(&r.path, file);
        assert_eq!(r.rows_read, r.rows_accepted + r.rows_rejected, "{file}");
        let listed: Vec<_> = ds.rejected.iter().filter(|x| x.file == *file).collect();
        assert_eq!(listed.len() as u64, r.rows_rejected, "{file}");
        for x in listed {
            assert_eq!(x.source, r.source, "{file}");
            assert!(x.line >= 2, "{file}: line {}", x.line);
            assert!(!x.reason.is_empty() && !x.raw.is_empty(), "{file}: {x:?}");
        }
    }
    let total: u64 = ds.reports.iter().map(|r| r.rows_rejected).sum();
    assert_eq!(total as usize, ds.rejected.len());
    let accepted = |source: &str| -> usize {
        ds.reports
            .iter()
            .filter(|r| r.source == source)
            .map(|r| r.rows_accepted as usize)
            .sum()
    };
    assert_eq!(accepted("hukou"), ds.hukou().len());
    assert_eq!(accepted("deaths"), ds.deaths().len());
    assert_eq!(accepted("eligibility"), ds.eligibility().len());
    assert_eq!(accepted("registrations"), ds.registrations().len());
    assert_eq!(accepted("receipts"), ds.receipts().len());
    assert_eq!(accepted("deposits"), ds.deposits().len());
    assert_eq!(accepted("roster"), ds.roster().len());
    // Payments: kept rows plus the copies and conflict losers dropped from the table.
    let dropped = accepted("payments") - ds.payments().len();
    let dups: u64 = ds.reports.iter().map(|r| r.duplicate_rows).sum();
    let losers: usize = ds.conflicts.iter().map(|c| c.rows.len() - 1).sum();
    assert!(
        dropped as u64 >= dups && dropped >= losers,
        "{dropped} {dups} {losers}"
    );
}

fn report<'a>(ds: &'a Dataset, path: &str) -> &'a FileReport {
    ds.reports
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no report for {path}"))
}

/// `(line, reason)` of the rejected rows of one file, in read order.
fn rejections<'a>(ds: &'a Dataset, path: &str) -> Vec<(u32, &'a str)> {
    ds.rejected
        .iter()
        .filter(|r| r.file == path)
        .map(|r| (r.line, r.reason.as_str()))
        .collect()
}

fn pay<'a>(ds: &'a Dataset, txn: &str) -> Payment<'a> {
    ds.payments()
        .iter()
        .find(|p| p.txn_id() == txn)
        .unwrap_or_else(|| panic!("no payment {txn}"))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn dt(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> Stamp {
    date(y, m, d).and_hms_opt(h, mi, s).unwrap().into()
}

fn gb18030(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn xlsx(build: impl FnOnce(&mut Workbook)) -> Vec<u8> {
    let mut wb = Workbook::new();
    build(&mut wb);
    wb.save_to_buffer().unwrap()
}

fn write_row(ws: &mut Worksheet, row: u32, cells: &[&str]) {
    for (c, v) in cells.iter().enumerate() {
        if !v.is_empty() {
            ws.write_string(row, c as u16, *v).unwrap();
        }
    }
}

fn parquet(columns: Vec<Series>) -> Vec<u8> {
    let mut df =
        DataFrame::new_infer_height(columns.into_iter().map(Column::from).collect()).unwrap();
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
    buf
}

// ---------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------

#[test]
fn gb18030_hukou_with_chinese_headers_and_names() {
    let text = "公民身份号码,姓名,性别,出生日期,村居,办事处,户号,户籍类型,户籍状态,变动日期\n\
        11010519491231002x,王\u{3000}涛,女,1949-12-31,东关村,城关办事处,H001,本地户籍,正常,\n\
        371323196203151232,李 四,男,19620315,西关村,城关办事处,H002,居住证,死亡,2022年3月1日\n\
        371323199001011235,张三,男,,东关村,,,,死亡,\n\
        371323199001011236,赵六,男,,东关村,,,,正常,\n\
        371323198506070025,陈七,女,,,,,,正常,\n";
    let bytes = gb18030(text);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture must not be valid UTF-8"
    );
    let f = Folder::new();
    f.put("hukou.csv", &bytes);
    f.put("payments.csv", PAYMENTS);
    let ds = f.load();

    assert_eq!(ds.files, ["hukou.csv", "payments.csv"]);
    let r = report(&ds, "hukou.csv");
    assert_eq!((r.source, r.format), ("hukou", "csv gb18030"));
    assert_eq!((r.rows_read, r.rows_accepted, r.rows_rejected), (5, 2, 3));
    assert_eq!(report(&ds, "payments.csv").format, "csv utf-8");

    assert_eq!(ds.hukou().len(), 2);
    let a = ds.hukou().get(0);
    assert_eq!(a.id(), ID_A);
    assert_eq!(a.name(), "王涛");
    assert_eq!(a.gender(), "女");
    assert_eq!(a.birth_date(), Some(date(1949, 12, 31)));
    assert_eq!(a.village(), "东关村");
    assert_eq!(a.office(), "城关办事处");
    assert_eq!(a.household_no(), "H001");
    assert!(!a.residence_permit());
    assert_eq!(a.status(), HukouStatus::Normal);
    assert_eq!(a.status_date(), None);
    assert_eq!(a.prov(), Prov { file: 0, line: 2 });

    let b = ds.hukou().get(1);
    assert_eq!(b.id(), ID_C);
    assert_eq!(b.name(), "李四");
    assert_eq!(b.birth_date(), Some(date(1962, 3, 15)));
    assert!(b.residence_permit());
    assert_eq!(b.status(), HukouStatus::Dead);
    assert_eq!(b.status_date(), Some(date(2022, 3, 1)));
    assert_eq!(b.prov(), Prov { file: 0, line: 3 });

    assert_eq!(
        rejections(&ds, "hukou.csv"),
        [
            (4, "`status_date`: required when status is 死亡 ('')"),
            (5, "`id_number`: invalid id number '371323199001011236'"),
            (6, "`village`: empty"),
        ]
    );
    let first = &ds.rejected[0];
    assert_eq!(first.source, "hukou");
    assert_eq!(first.file, "hukou.csv");
    // The raw content is the decoded text, not GB18030 bytes.
    assert_eq!(first.raw, "371323199001011235,张三,男,,东关村,,,,死亡,");
}

#[test]
fn utf8_bom_payments_with_every_column() {
    let text = "\u{feff}流水号,身份证号码,姓名,险种,费款所属期,缴费金额,缴费时间,缴费渠道,缴费类型,代办员编号,村居,收据号,付款账户,解缴单号,缴费状态\n\
        T1,11010519491231002X,王涛,城乡居民基本医疗保险,2022年度,320.00,2021-11-05 09:30,微信,个人缴费,,东关村,,wx-001,,成功\n\
        T2,371323199001011235,张三,城乡居民基本养老保险,2022,\"1,000.00\",2021/11/6 10:05:07,现金收据,政府代缴,C01,东关村,R0001,,D001,已退费\n";
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    f.put("payments.csv", text);
    let ds = f.load();
    let r = report(&ds, "payments.csv");
    assert_eq!(r.format, "csv utf-8 bom");
    assert_eq!((r.rows_read, r.rows_accepted, r.rows_rejected), (2, 2, 0));

    // The BOM must not hide the first header (流水号 → txn_id).
    let t1 = pay(&ds, "T1");
    assert_eq!(t1.id(), ID_A);
    assert!(t1.id_valid());
    assert_eq!(t1.name(), "王涛");
    assert_eq!(t1.scheme(), Scheme::ResidentMedical);
    assert_eq!(t1.period(), 2022);
    assert_eq!(t1.amount(), Fen(32000));
    assert_eq!(t1.paid_at(), dt(2021, 11, 5, 9, 30, 0));
    assert_eq!(t1.channel(), "微信");
    assert_eq!(t1.payer_type(), PayerType::Individual);
    assert_eq!(t1.collector_id(), "");
    assert_eq!(t1.village(), "东关村");
    assert_eq!(t1.payer_account(), "wx-001");
    assert_eq!(t1.status(), PaymentStatus::Success);
    assert!(t1.is_effective());
    assert_eq!(t1.prov(), Prov { file: 1, line: 2 });

    let t2 = pay(&ds, "T2");
    assert_eq!(t2.scheme(), Scheme::ResidentPension);
    assert_eq!(t2.amount(), Fen(100000));
    assert_eq!(t2.paid_at(), dt(2021, 11, 6, 10, 5, 7));
    assert_eq!(t2.channel(), "现金收据");
    assert_eq!(t2.payer_type(), PayerType::Government);
    assert_eq!(t2.collector_id(), "C01");
    assert_eq!(t2.receipt_no(), "R0001");
    assert_eq!(t2.deposit_id(), "D001");
    assert_eq!(t2.status(), PaymentStatus::Refunded);
    assert!(!t2.is_effective());
}

#[test]
fn xlsx_with_serial_numbers_date_cells_and_text_dates() {
    let bytes = xlsx(|wb| {
        let day = Format::new().set_num_format("yyyy-mm-dd");
        let minute = Format::new().set_num_format("yyyy-mm-dd hh:mm");
        let ws = wb.add_worksheet();
        write_row(
            ws,
            0,
            &[
                "流水号",
                "身份证号码",
                "姓名",
                "险种",
                "所属年度",
                "实缴金额",
                "缴费日期",
            ],
        );
        // Line 2: numbers everywhere, the date as a bare serial.
        write_row(ws, 1, &["T1", ID_A, "王涛", "居民医保"]);
        ws.write_number(1, 4, 2022).unwrap();
        ws.write_number(1, 5, 320).unwrap();
        ws.write_number(1, 6, 44505).unwrap();
        // Line 3: a real date-time cell.
        write_row(ws, 2, &["T2", ID_B, "张三", "居民养老", "", "￥320"]);
        ws.write_number(2, 4, 2022).unwrap();
        let at = ExcelDateTime::from_ymd(2021, 11, 5)
            .unwrap()
            .and_hms(9, 30, 0)
            .unwrap();
        ws.write_datetime_with_format(2, 6, &at, &minute).unwrap();
        // Line 4 is left empty.
        // Line 5: text everywhere but the amount.
        write_row(
            ws,
            4,
            &[
                "T3",
                "371323620315123",
                "李 四",
                "医疗",
                "2022年度",
                "",
                "2021年11月5日 09:30",
            ],
        );
        ws.write_number(4, 5, 160.5).unwrap();
        // Line 6: a date-only cell, a text amount with a thousands separator.
        write_row(
            ws,
            5,
            &[
                "T4",
                "37132319880808107x",
                "赵六",
                "养老",
                "202201-202212",
                "1,000.00",
            ],
        );
        let day6 = ExcelDateTime::from_ymd(2021, 11, 6).unwrap();
        ws.write_datetime_with_format(5, 6, &day6, &day).unwrap();
        // Line 7: a serial with a fraction of a day (09:30).
        write_row(ws, 6, &["T5", ID_A, "王涛", "医疗"]);
        ws.write_number(6, 4, 2022).unwrap();
        ws.write_number(6, 5, 320).unwrap();
        ws.write_number(6, 6, 44505.0 + 9.5 / 24.0).unwrap();
        // Line 8: a negative number; line 9: an impossible text date.
        write_row(ws, 7, &["T6", ID_A, "王涛", "医疗"]);
        ws.write_number(7, 4, 2022).unwrap();
        ws.write_number(7, 5, -320).unwrap();
        ws.write_number(7, 6, 44505).unwrap();
        write_row(
            ws,
            8,
            &["T7", ID_A, "王涛", "医疗", "2022", "320", "2021-13-01"],
        );
        // A second sheet is never read.
        let ws2 = wb.add_worksheet();
        write_row(
            ws2,
            0,
            &[
                "流水号",
                "身份证号码",
                "险种",
                "所属年度",
                "实缴金额",
                "缴费日期",
            ],
        );
        write_row(ws2, 1, &["T99", ID_A, "医疗", "2022", "320", "2021-11-05"]);
    });
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    f.put("payments.xlsx", bytes);
    let ds = f.load();

    let r = report(&ds, "payments.xlsx");
    assert_eq!(r.format, "xlsx");
    assert_eq!(
        (r.rows_read, r.rows_accepted, r.rows_rejected, r.blank_rows),
        (7, 5, 2, 1)
    );
    let got: Vec<(&str, IdStr, i32, Fen, Stamp, u32)> = ds
        .payments()
        .iter()
        .map(|p| {
            (
                p.txn_id(),
                p.id(),
                p.period(),
                p.amount(),
                p.paid_at(),
                p.prov().line,
            )
        })
        .collect();
    let [a, b, c, x] = [ID_A, ID_B, ID_C, ID_X].map(id);
    assert_eq!(
        got,
        [
            ("T1", a, 2022, Fen(32000), dt(2021, 11, 5, 0, 0, 0), 2),
            ("T2", b, 2022, Fen(32000), dt(2021, 11, 5, 9, 30, 0), 3),
            ("T3", c, 2022, Fen(16050), dt(2021, 11, 5, 9, 30, 0), 5),
            ("T4", x, 2022, Fen(100000), dt(2021, 11, 6, 0, 0, 0), 6),
            ("T5", a, 2022, Fen(32000), dt(2021, 11, 5, 9, 30, 0), 7),
        ]
    );
    assert_eq!(pay(&ds, "T3").name(), "李四");
    assert_eq!(pay(&ds, "T3").scheme(), Scheme::ResidentMedical);
    assert_eq!(pay(&ds, "T4").scheme(), Scheme::ResidentPension);
    assert_eq!(
        rejections(&ds, "payments.xlsx"),
        [
            (8, "`amount`: negative amount '-320'"),
            (9, "`paid_at`: not a date/time: '2021-13-01'"),
        ]
    );
    assert_eq!(
        ds.rejected[0].raw,
        "T6,11010519491231002X,王涛,医疗,2022,-320,44505"
    );
}

#[test]
fn workbooks_counting_from_1904_read_their_numbers_as_their_days() {
    // Written by xlwt (`dates_1904`) and by hand (`<workbookPr date1904="1"/>`): T1's
    // 缴费日期 a General number, 43043 (2021-11-05 on the 1904 system, 2017-11-04 on
    // 1900's, which was read: four years early and inside the dates accepted); T2's a
    // date cell of 2021-11-05 09:30; T3's the text 2021-11-06.
    let hukou = "id_number,name,village\n\
                 11010519491231002X,王涛,东关村\n\
                 371323199001011235,张三,东关村\n\
                 371323196203151232,李四,东关村\n";
    for name in ["payments_1904.xls", "payments_1904.xlsx"] {
        let bytes = std::fs::read(format!(
            "{}/../../tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let f = Folder::new();
        f.put("hukou.csv", hukou);
        f.put(&name.replace("_1904", ""), bytes);
        let ds = f.load();
        let got: Vec<(&str, Stamp)> = ds
            .payments()
            .iter()
            .map(|p| (p.txn_id(), p.paid_at()))
            .collect();
        assert_eq!(
            got,
            [
                ("T1", dt(2021, 11, 5, 0, 0, 0)),
                ("T2", dt(2021, 11, 5, 9, 30, 0)),
                ("T3", dt(2021, 11, 6, 0, 0, 0)),
            ],
            "{name}"
        );
    }
}

#[test]
fn xlsx_eligibility_date_cells() {
    let bytes = xlsx(|wb| {
        let day = Format::new().set_num_format("yyyy\"年\"m\"月\"d\"日\"");
        let ws = wb.add_worksheet();
        write_row(
            ws,
            0,
            &["证件号码", "人员类别", "残疾等级", "认定日期", "终止日期"],
        );
        write_row(ws, 1, &[ID_B, "残疾"]);
        ws.write_number(1, 2, 2).unwrap();
        let from = ExcelDateTime::from_ymd(2021, 3, 1).unwrap();
        ws.write_datetime_with_format(1, 3, &from, &day).unwrap();
        ws.write_number(1, 4, 44926).unwrap(); // 2022-12-31
        write_row(ws, 2, &[ID_C, "低保", "", "2021/1/5", "长期"]);
    });
    let f = Folder::with_required();
    f.put("eligibility.xlsx", bytes);
    let ds = f.load();
    assert_eq!(ds.eligibility().len(), 2);
    let e = ds.eligibility().get(0);
    assert_eq!(
        (e.id(), e.category(), e.disability_level()),
        (id(ID_B), Category::Canji, Some(2))
    );
    assert_eq!(
        (e.valid_from(), e.valid_to()),
        (date(2021, 3, 1), Some(date(2022, 12, 31)))
    );
    let e = ds.eligibility().get(1);
    assert_eq!(
        (e.id(), e.category(), e.disability_level()),
        (id(ID_C), Category::Dibao, None)
    );
    // An optional date that cannot be read is kept as empty.
    assert_eq!((e.valid_from(), e.valid_to()), (date(2021, 1, 5), None));
}

#[test]
fn parquet_with_native_types() {
    let payments = parquet(vec![
        Series::new("txn_id".into(), &["P1", "P2", "P3"]),
        Series::new(
            "id_number".into(),
            &[Some(ID_A), Some("371323620315123"), None],
        ),
        Series::new("scheme".into(), &["resident_medical", "居民养老", "医疗"]),
        Series::new("period".into(), &[2022i32, 2022, 2022]),
        Series::new("amount".into(), &[320.0f64, 160.5, 320.0]),
        Series::new(
            "paid_at".into(),
            &[
                dt(2021, 11, 5, 9, 30, 0).naive(),
                dt(2021, 11, 6, 0, 0, 0).naive(),
                dt(2021, 11, 7, 8, 0, 0).naive(),
            ],
        ),
        Series::new("status".into(), &[None, Some("已退费"), None::<&str>]),
    ]);
    let deaths = parquet(vec![
        Series::new("身份证号码".into(), &[ID_B, ID_C]),
        Series::new(
            "death_date".into(),
            &[date(2022, 1, 20), date(2021, 12, 31)],
        ),
        Series::new("notice_date".into(), &[Some(date(2022, 2, 1)), None]),
        Series::new("source".into(), &["民政", "派出所"]),
    ]);
    let eligibility = parquet(vec![
        // A native integer id column.
        Series::new(
            "id_number".into(),
            &[371323199001011235i64, 371323199001011236],
        ),
        Series::new("category".into(), &["残疾", "低保"]),
        Series::new("disability_level".into(), &[Some(1i64), None]),
        Series::new("valid_from".into(), &[date(2021, 1, 1), date(2021, 1, 1)]),
        Series::new("valid_to".into(), &[None, Some(date(2022, 12, 31))]),
    ]);
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    f.put("payments.parquet", payments);
    f.put("deaths.parquet", deaths);
    f.put("eligibility.parquet", eligibility);
    let ds = f.load();

    let r = report(&ds, "payments.parquet");
    assert_eq!(r.format, "parquet");
    assert_eq!((r.rows_read, r.rows_accepted, r.rows_rejected), (3, 2, 1));
    let p1 = pay(&ds, "P1");
    assert_eq!(
        (p1.id(), p1.scheme(), p1.period()),
        (id(ID_A), Scheme::ResidentMedical, 2022)
    );
    assert_eq!(
        (p1.amount(), p1.paid_at(), p1.prov().line),
        (Fen(32000), dt(2021, 11, 5, 9, 30, 0), 2)
    );
    assert_eq!(p1.status(), PaymentStatus::Success);
    let p2 = pay(&ds, "P2");
    assert_eq!(
        (p2.id(), p2.id_valid(), p2.scheme()),
        (id(ID_C), true, Scheme::ResidentPension)
    );
    assert_eq!(
        (p2.amount(), p2.paid_at(), p2.prov().line),
        (Fen(16050), dt(2021, 11, 6, 0, 0, 0), 3)
    );
    assert_eq!(p2.status(), PaymentStatus::Refunded);
    assert_eq!(
        rejections(&ds, "payments.parquet"),
        [(4, "`id_number`: empty")]
    );

    let d: Vec<_> = ds
        .deaths()
        .iter()
        .map(|d| {
            (
                d.id(),
                d.death_date(),
                d.notice_date(),
                d.source(),
                d.prov().line,
            )
        })
        .collect();
    let [b, c] = [ID_B, ID_C].map(id);
    assert_eq!(
        d,
        [
            (b, date(2022, 1, 20), Some(date(2022, 2, 1)), "民政", 2),
            (c, date(2021, 12, 31), None, "派出所", 3),
        ]
    );

    assert_eq!(ds.eligibility().len(), 1);
    let e = ds.eligibility().get(0);
    assert_eq!(
        (e.id(), e.category(), e.disability_level()),
        (id(ID_B), Category::Canji, Some(1))
    );
    assert_eq!((e.valid_from(), e.valid_to()), (date(2021, 1, 1), None));
    assert_eq!(
        rejections(&ds, "eligibility.parquet"),
        [(3, "`id_number`: invalid id number '371323199001011236'")]
    );
}

// ---------------------------------------------------------------------------------------
// Payments exported twice
// ---------------------------------------------------------------------------------------

#[test]
fn payments_file_and_folder_duplicates_and_conflicts() {
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    // `payments/a.csv` is written first, but `Z` (0x5A) sorts before `a` (0x61).
    f.put(
        "payments/a.csv",
        "缴费时间,缴费金额,流水号,证件号码,姓名,险种,所属期\n\
         2021/11/5 09:30:00,320.00,D1,11010519491231002x,王 涛,城乡居民基本医疗保险,2022年\n\
         2021-11-06,160,C1,371323199001011235,张三,医疗,2022\n\
         2021-11-06,320,C1,371323199001011235,张三,医疗,2022\n\
         2021-11-07,320,N1,371323199001011235,张三,养老,2022\n",
    );
    f.put(
        "payments/Z.csv",
        "txn_id,id_number,name,scheme,period,amount,paid_at,status\n\
         D1,11010519491231002X,王涛,医疗,2022,320,2021-11-05 09:30,成功\n\
         C1,371323199001011235,张三,医疗,2022,320,2021-11-06,成功\n\
         D1,11010519491231002X,王涛,医疗,2022,320,2021-11-05 09:30,\n",
    );
    f.put(
        "payments.csv",
        "txn_id,id_number,name,scheme,period,amount,paid_at\nA1,11010519491231002X,王涛,医疗,2022,320,2021-11-05\n",
    );
    let ds = f.load();

    assert_eq!(
        ds.files,
        [
            "hukou.csv",
            "payments.csv",
            "payments/Z.csv",
            "payments/a.csv"
        ]
    );
    let counts = |p: &str| {
        let r = report(&ds, p);
        (
            r.rows_read,
            r.rows_accepted,
            r.rows_rejected,
            r.duplicate_rows,
        )
    };
    assert_eq!(counts("payments.csv"), (1, 1, 0, 0));
    assert_eq!(counts("payments/Z.csv"), (3, 3, 0, 1));
    // Same content after normalisation (name spaces, lowercase x, 320.00, 2022年, a missing
    // status column = 成功) is a duplicate, counted where the second copy is read.
    assert_eq!(counts("payments/a.csv"), (4, 4, 0, 2));

    let kept: Vec<(&str, Prov, Fen)> = ds
        .payments()
        .iter()
        .map(|p| (p.txn_id(), p.prov(), p.amount()))
        .collect();
    assert_eq!(
        kept,
        [
            ("A1", Prov { file: 1, line: 2 }, Fen(32000)),
            ("D1", Prov { file: 2, line: 2 }, Fen(32000)),
            ("C1", Prov { file: 2, line: 3 }, Fen(32000)),
            ("N1", Prov { file: 3, line: 5 }, Fen(32000)),
        ]
    );

    assert_eq!(ds.conflicts.len(), 1);
    let c = &ds.conflicts[0];
    assert_eq!(c.txn_id.as_str(), "C1");
    let rows: Vec<(Prov, Fen)> = c.rows.iter().map(|r| (r.prov, r.amount)).collect();
    assert_eq!(
        rows,
        [
            (Prov { file: 2, line: 3 }, Fen(32000)), // kept: first read
            (Prov { file: 3, line: 3 }, Fen(16000)),
            (Prov { file: 3, line: 4 }, Fen(32000)),
        ]
    );
    assert_eq!(ds.source_ref(c.rows[1].prov), "payments/a.csv:3");
}

#[test]
fn conflict_lists_every_row_whatever_the_order() {
    // The exact copy comes before the differing row here.
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    f.put(
        "payments.csv",
        "txn_id,id_number,scheme,period,amount,paid_at\n\
         C1,371323199001011235,医疗,2022,320,2021-11-06\n\
         C1,371323199001011235,医疗,2022,320,2021-11-06\n\
         C1,371323199001011235,医疗,2022,160,2021-11-06\n",
    );
    let ds = f.load();
    let r = report(&ds, "payments.csv");
    assert_eq!((r.rows_accepted, r.duplicate_rows), (3, 1));
    assert_eq!(ds.payments().len(), 1);
    assert_eq!(
        (
            ds.payments().get(0).prov().line,
            ds.payments().get(0).amount()
        ),
        (2, Fen(32000))
    );
    assert_eq!(ds.conflicts.len(), 1);
    let lines: Vec<u32> = ds.conflicts[0].rows.iter().map(|r| r.prov.line).collect();
    assert_eq!(lines, [2, 3, 4]);
}

// ---------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------

#[test]
fn every_alias_of_the_payments_required_columns() {
    let canonical = [
        "txn_id",
        "id_number",
        "scheme",
        "period",
        "amount",
        "paid_at",
    ];
    let aliases: [(usize, &[&str]); 6] = [
        (0, &["流水号", "缴费流水号", "电子税票号码", "票证号码"]),
        (1, &["公民身份号码", "身份证号码", "身份证号", "证件号码"]),
        (2, &["险种", "征收品目", "险种类型"]),
        (3, &["费款所属期", "所属期", "所属年度"]),
        (4, &["缴费金额", "实缴金额", "金额", "收款金额", "解缴金额"]),
        (5, &["缴费时间", "缴费日期"]),
    ];
    for (col, names) in aliases {
        for name in names {
            let mut header = canonical;
            header[col] = name;
            let f = Folder::new();
            f.put("hukou.csv", HUKOU);
            f.put(
                "payments.csv",
                format!(
                    "{}\nT1,{ID_A},医疗,2022,320,2021-11-05 09:30\n",
                    header.join(",")
                ),
            );
            let ds = f.load();
            assert_eq!(ds.payments().len(), 1, "{name}");
            let p = ds.payments().get(0);
            assert_eq!(
                (
                    p.txn_id(),
                    p.id(),
                    p.scheme(),
                    p.period(),
                    p.amount(),
                    p.paid_at()
                ),
                (
                    "T1",
                    id(ID_A),
                    Scheme::ResidentMedical,
                    2022,
                    Fen(32000),
                    dt(2021, 11, 5, 9, 30, 0)
                ),
                "{name}"
            );
        }
    }
}

#[test]
fn every_alias_of_the_payments_optional_columns() {
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    let row = "微信,政府代缴,C07,东关村,R9,6222,DP3,作废";
    f.put(
        "payments/1.csv",
        PAY_HEADER.trim_end().to_string()
            + ",缴费渠道,缴费类型,代办员编号,村居,收据号,付款账户,解缴单号,状态\n"
            + &format!("T1,{ID_A},医疗,2022,320,2021-11-05,{row}\n"),
    );
    f.put(
        "payments/2.csv",
        PAY_HEADER.trim_end().to_string()
            + ",渠道,缴费方式,代办员,村(居),收据编号,付款账号,入库批次,缴费状态\n"
            + &format!("T2,{ID_A},医疗,2022,320,2021-11-05,{row}\n"),
    );
    f.put(
        "payments/3.csv",
        PAY_HEADER.trim_end().to_string()
            + ",channel,payer_type,collector_id,所属村居,receipt_no,payer_account,deposit_id,status\n"
            + &format!("T3,{ID_A},医疗,2022,320,2021-11-05,{row}\n"),
    );
    f.put(
        "payments/4.csv",
        PAY_HEADER.trim_end().to_string()
            + ",村委会\n"
            + &format!("T4,{ID_A},医疗,2022,320,2021-11-05,东关村\n"),
    );
    let ds = f.load();
    for t in ["T1", "T2", "T3"] {
        let p = pay(&ds, t);
        let got = (
            p.channel(),
            &p.payer_type(),
            p.collector_id(),
            p.village(),
            p.receipt_no(),
            p.payer_account(),
            p.deposit_id(),
            &p.status(),
        );
        assert_eq!(
            got,
            (
                "微信",
                &PayerType::Government,
                "C07",
                "东关村",
                "R9",
                "6222",
                "DP3",
                &PaymentStatus::Voided
            ),
            "{t}"
        );
    }
    assert_eq!(pay(&ds, "T4").village(), "东关村");
}

#[test]
fn aliases_belong_to_the_column_in_every_source() {
    let f = Folder::new();
    f.put(
        "hukou.csv",
        "身份证号,姓名,性别,出生日期,村委会,管区,户号,人员类型,人员状态,状态日期\n\
         11010519491231002X,王涛,女,1949/12/31,东关村,北管区,H9,居住证,迁出,2022.03.01\n",
    );
    f.put("payments.csv", PAYMENTS);
    f.put(
        "deaths.csv",
        "身份证号码,姓名,死亡日期,来源,通报日期\n371323199001011235,张三,2022-01-20,民政,2022-02-01\n",
    );
    f.put(
        "deaths/extra.csv",
        "公民身份号码,死亡日期,信息来源\n371323196203151232,2021-12-31,殡葬\n",
    );
    f.put(
        "eligibility/1.csv",
        "证件号码,姓名,困难类别,残疾等级,开始日期,截止日期,认定部门\n\
         371323196203151232,李四,残疾,二级,2021-01-01,2022-12-31,残联\n",
    );
    f.put(
        "eligibility/2.csv",
        "公民身份号码,人员类别,认定日期,终止日期,来源部门\n371323199001011235,特困供养,2020-05-01,,民政局\n",
    );
    f.put(
        "eligibility/3.csv",
        "id_number,类别,起始日期\n11010519491231002X,五保,2019-01-01\n",
    );
    f.put(
        "registrations/1.csv",
        "公民身份号码,姓名,险种类型,参保状态,缴费档次,开始日期,结束日期\n\
         371323199001011235,张三,职工养老,终止,200元档,2015-07-01,2020-12-31\n",
    );
    f.put(
        "registrations/2.csv",
        "身份证号,险种,参保日期,终止日期\n371323196203151232,城镇职工基本医疗保险,2010-01-01,2019-06-30\n",
    );
    f.put(
        "receipts.csv",
        "收据编号,代办员,身份证号,姓名,险种,所属期,收款金额,收款时间,所属村居\n\
         R1,C01,371323199001011235,张三,养老,2022,200,2021-11-03 10:00,东关村\n",
    );
    f.put(
        "receipts/2.csv",
        "收据号,代办员编号,证件号码,险种类型,所属年度,金额,收款日期\nR2,C02,11010519491231002X,医疗,2022年,380,2021-11-04\n",
    );
    f.put(
        "deposits.csv",
        "入库批次,代办员编号,解缴金额,入库日期,人数,村委会\nDP1,C01,200,2021-11-10,1人,东关村\n",
    );
    f.put(
        "deposits/2.csv",
        "解缴单号,代办员,金额,解缴日期\nDP2,C02,380.00,2021-11-11 16:20\n",
    );
    f.put(
        "roster.csv",
        "ID_Number,姓名,村(居),征收品目,应缴金额,代办员,清册批次\n11010519491231002X,王涛,东关村,医疗,320,C01,2022-1\n",
    );
    let ds = f.load();

    let h = ds.hukou().get(0);
    assert_eq!(
        (h.office(), h.household_no(), h.residence_permit()),
        ("北管区", "H9", true)
    );
    assert_eq!(
        (h.birth_date(), &h.status(), h.status_date()),
        (
            Some(date(1949, 12, 31)),
            &HukouStatus::MovedOut,
            Some(date(2022, 3, 1))
        )
    );

    let d: Vec<_> = ds
        .deaths()
        .iter()
        .map(|d| {
            (
                d.id(),
                d.name(),
                d.death_date(),
                d.source(),
                d.notice_date(),
            )
        })
        .collect();
    assert_eq!(
        d,
        [
            (
                id(ID_B),
                "张三",
                date(2022, 1, 20),
                "民政",
                Some(date(2022, 2, 1))
            ),
            (id(ID_C), "", date(2021, 12, 31), "殡葬", None),
        ]
    );

    let e: Vec<_> = ds
        .eligibility()
        .iter()
        .map(|e| {
            (
                e.id(),
                e.category(),
                e.disability_level(),
                e.valid_from(),
                e.valid_to(),
                e.source_dept(),
            )
        })
        .collect();
    assert_eq!(
        e,
        [
            (
                id(ID_C),
                Category::Canji,
                Some(2),
                date(2021, 1, 1),
                Some(date(2022, 12, 31)),
                "残联"
            ),
            (
                id(ID_B),
                Category::Tekun,
                None,
                date(2020, 5, 1),
                None,
                "民政局"
            ),
            (id(ID_A), Category::Wubao, None, date(2019, 1, 1), None, ""),
        ]
    );

    // 开始日期 is valid_from in eligibility but start_date in registrations; 终止日期
    // likewise valid_to / end_date.
    let r: Vec<_> = ds
        .registrations()
        .iter()
        .map(|r| {
            (
                r.id(),
                r.scheme(),
                r.status(),
                r.tier(),
                r.start_date(),
                r.end_date(),
            )
        })
        .collect();
    assert_eq!(
        r,
        [
            (
                id(ID_B),
                Scheme::EmployeePension,
                "终止",
                "200元档",
                date(2015, 7, 1),
                Some(date(2020, 12, 31))
            ),
            (
                id(ID_C),
                Scheme::EmployeeMedical,
                "",
                "",
                date(2010, 1, 1),
                Some(date(2019, 6, 30))
            ),
        ]
    );

    let rc: Vec<_> = ds
        .receipts()
        .iter()
        .map(|r| {
            (
                r.receipt_no(),
                r.collector_id(),
                r.id(),
                r.scheme(),
                r.period(),
                r.amount(),
                r.collected_at(),
                r.village(),
            )
        })
        .collect();
    assert_eq!(
        rc,
        [
            (
                "R1",
                "C01",
                id(ID_B),
                Scheme::ResidentPension,
                2022,
                Fen(20000),
                dt(2021, 11, 3, 10, 0, 0),
                "东关村"
            ),
            (
                "R2",
                "C02",
                id(ID_A),
                Scheme::ResidentMedical,
                2022,
                Fen(38000),
                dt(2021, 11, 4, 0, 0, 0),
                ""
            ),
        ]
    );

    let dp: Vec<_> = ds
        .deposits()
        .iter()
        .map(|d| {
            (
                d.deposit_id(),
                d.collector_id(),
                d.amount(),
                d.deposited_at(),
                d.person_count(),
                d.village(),
            )
        })
        .collect();
    assert_eq!(
        dp,
        [
            (
                "DP1",
                "C01",
                Fen(20000),
                dt(2021, 11, 10, 0, 0, 0),
                Some(1),
                "东关村"
            ),
            (
                "DP2",
                "C02",
                Fen(38000),
                dt(2021, 11, 11, 16, 20, 0),
                None,
                ""
            ),
        ]
    );

    let ro = ds.roster().get(0);
    assert_eq!(
        (
            ro.id(),
            ro.name(),
            ro.village(),
            ro.scheme(),
            ro.expected_amount(),
            ro.collector_id(),
            ro.batch()
        ),
        (
            id(ID_A),
            "王涛",
            "东关村",
            Scheme::ResidentMedical,
            Some(Fen(32000)),
            "C01",
            "2022-1"
        )
    );
}

#[test]
fn headers_are_trimmed_case_insensitive_and_first_wins() {
    let f = Folder::new();
    f.put(
        "hukou.csv",
        "\u{3000}ID_Number ,\u{3000}姓名\u{3000},Village\t,村居,Unknown Column\n\
         11010519491231002X,王涛,东关村,西关村,whatever\n",
    );
    f.put(
        "payments.csv",
        " TXN_ID\u{3000},Id_Number,SCHEME,Period,金额,缴费金额,PAID_AT,\u{3000}状态 \n\
         T1,11010519491231002X,医疗,2022,100,320,2021-11-05,待确认\n",
    );
    let ds = f.load();
    assert_eq!(
        (ds.hukou().get(0).name(), ds.hukou().get(0).village()),
        ("王涛", "东关村")
    );
    let p = pay(&ds, "T1");
    assert_eq!(
        p.amount(),
        Fen(10000),
        "金额 comes first and wins over 缴费金额"
    );
    assert_eq!(p.status(), PaymentStatus::Other("待确认".into()));
}

#[test]
fn headers_are_not_folded_beyond_trim_and_case() {
    // Full-width parentheses are not the listed 村(居).
    let f = Folder::new();
    f.put(
        "hukou.csv",
        "id_number,name,村（居）\n11010519491231002X,王涛,东关村\n",
    );
    f.put("payments.csv", PAYMENTS);
    match f.try_load() {
        Err(IngestError::MissingColumn { file, column }) => {
            assert_eq!(file, "hukou.csv");
            assert!(column.starts_with("`village`"), "{column}");
        }
        other => panic!("expected MissingColumn, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

#[test]
fn id_numbers_are_normalised_and_invalid_ones_kept_only_in_payments_and_receipts() {
    let f = Folder::new();
    f.put(
        "hukou.csv",
        "id_number,name,village\n\
         37132319880808107x,甲,东关村\n\
         ３７１３２３１９９００１０１１２３５,乙,东关村\n\
         371323620315123,丙,东关村\n\
         371323199001011236,丁,东关村\n\
         371323199002301234,戊,东关村\n\
         371323621315123,己,东关村\n\
         ,庚,东关村\n",
    );
    f.put(
        "payments.csv",
        format!(
            "{PAY_HEADER}\
             I1,37132319880808107x,医疗,2022,320,2021-11-05\n\
             I2,３７１３２３１９９００１０１１２３５,医疗,2022,320,2021-11-05\n\
             I3,371323620315123,医疗,2022,320,2021-11-05\n\
             I4,371323199001011236,医疗,2022,320,2021-11-05\n\
             I5, 12345 ,医疗,2022,320,2021-11-05\n\
             I6,,医疗,2022,320,2021-11-05\n\
             I7,３７１３２３６２０３１５１２３,医疗,2022,320,2021-11-05\n"
        ),
    );
    f.put(
        "receipts.csv",
        "receipt_no,collector_id,id_number,scheme,amount,collected_at\n\
         R1,C01,371323199002301234,医疗,320,2021-11-05\n\
         R2,C01,\u{3000},医疗,320,2021-11-05\n\
         R3,C01,371323620315123,医疗,320,2021-11-05\n",
    );
    f.put(
        "deaths.csv",
        format!("id_number,death_date\n{ID_BAD},2022-01-01\n{ID_B},2022-01-01\n"),
    );
    f.put(
        "eligibility.csv",
        format!(
            "id_number,category,valid_from\n{ID_NO_DATE},低保,2021-01-01\n{ID_B},低保,2021-01-01\n"
        ),
    );
    f.put(
        "registrations.csv",
        format!(
            "id_number,scheme,start_date\n12345,职工养老,2021-01-01\n{ID_B},职工养老,2021-01-01\n"
        ),
    );
    f.put(
        "roster.csv",
        format!("id_number,scheme\n{ID_BAD},医疗\n{ID_B},医疗\n"),
    );
    let ds = f.load();

    let h: Vec<IdStr> = ds.hukou().iter().map(|h| h.id()).collect();
    assert_eq!(h, [id(ID_X), id(ID_B), id(ID_C)]);
    assert_eq!(
        rejections(&ds, "hukou.csv"),
        [
            (5, "`id_number`: invalid id number '371323199001011236'"),
            (6, "`id_number`: invalid id number '371323199002301234'"),
            (
                7,
                "`id_number`: invalid id number '371323196213151236' (typed '371323621315123')"
            ),
            (8, "`id_number`: empty"),
        ]
    );

    let p: Vec<(&str, IdStr, bool)> = ds
        .payments()
        .iter()
        .map(|p| (p.txn_id(), p.id(), p.id_valid()))
        .collect();
    assert_eq!(
        p,
        [
            ("I1", id(ID_X), true),
            ("I2", id(ID_B), true),
            ("I3", id(ID_C), true),
            ("I4", id(ID_BAD), false),
            ("I5", id("12345"), false),
            ("I7", id(ID_C), true),
        ]
    );
    assert_eq!(rejections(&ds, "payments.csv"), [(7, "`id_number`: empty")]);

    let r: Vec<(&str, IdStr, bool)> = ds
        .receipts()
        .iter()
        .map(|r| (r.receipt_no(), r.id(), r.id_valid()))
        .collect();
    assert_eq!(r, [("R1", id(ID_NO_DATE), false), ("R3", id(ID_C), true)]);
    assert_eq!(rejections(&ds, "receipts.csv"), [(3, "`id_number`: empty")]);

    for (file, bad) in [
        ("deaths.csv", ID_BAD),
        ("eligibility.csv", ID_NO_DATE),
        ("registrations.csv", "12345"),
        ("roster.csv", ID_BAD),
    ] {
        let want = format!("`id_number`: invalid id number '{bad}'");
        assert_eq!(rejections(&ds, file), [(2, want.as_str())], "{file}");
    }
    assert_eq!(
        (
            ds.deaths().len(),
            ds.eligibility().len(),
            ds.registrations().len(),
            ds.roster().len()
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(ds.deaths().get(0).id(), ID_B);
}

#[test]
fn amount_forms() {
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    let accepted = [
        "320",
        "320.00",
        "320元",
        "¥320",
        "￥320",
        "\"1,000.00\"",
        "３２０",
        " 320.5 ",
        "0.05",
    ];
    let rejected = ["1.005", "-320", "abc", "", "\"1,00\""];
    let mut text = PAY_HEADER.to_string();
    for (i, a) in accepted.iter().chain(&rejected).enumerate() {
        text += &format!("A{i},{ID_A},医疗,2022,{a},2021-11-05\n");
    }
    f.put("payments.csv", text);
    f.put(
        "deposits.csv",
        "deposit_id,collector_id,amount,deposited_at\nD1,C01,￥3２0元,2021-11-10\nD2,C01,-1,2021-11-10\n",
    );
    f.put(
        "roster.csv",
        format!("id_number,scheme,expected_amount\n{ID_A},医疗,320元\n{ID_B},医疗,待定\n"),
    );
    let ds = f.load();

    let got: Vec<Fen> = ds.payments().iter().map(|p| p.amount()).collect();
    let hundred = Fen(32000);
    assert_eq!(
        got,
        [
            hundred,
            hundred,
            hundred,
            hundred,
            hundred,
            Fen(100000),
            hundred,
            Fen(32050),
            Fen(5)
        ]
    );
    assert_eq!(
        rejections(&ds, "payments.csv"),
        [
            (11, "`amount`: more than 2 decimals in '1.005'"),
            (12, "`amount`: negative amount '-320'"),
            (13, "`amount`: not an amount: 'abc'"),
            (14, "`amount`: empty"),
            (15, "`amount`: not an amount: '1,00'"),
        ]
    );
    assert_eq!(
        ds.rejected.iter().find(|r| r.line == 13).unwrap().raw,
        format!("A11,{ID_A},医疗,2022,abc,2021-11-05")
    );

    assert_eq!(ds.deposits().len(), 1);
    assert_eq!(ds.deposits().get(0).amount(), Fen(32000));
    assert_eq!(
        rejections(&ds, "deposits.csv"),
        [(3, "`amount`: negative amount '-1'")]
    );
    // An optional amount that cannot be read is kept as empty.
    let exp: Vec<Option<Fen>> = ds.roster().iter().map(|r| r.expected_amount()).collect();
    assert_eq!(exp, [Some(Fen(32000)), None]);
}

#[test]
fn date_and_datetime_forms() {
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    let forms: [(&str, Option<Stamp>); 17] = [
        ("2021-11-05", Some(dt(2021, 11, 5, 0, 0, 0))),
        ("2021/11/5", Some(dt(2021, 11, 5, 0, 0, 0))),
        ("2021.11.05", Some(dt(2021, 11, 5, 0, 0, 0))),
        ("20211105", Some(dt(2021, 11, 5, 0, 0, 0))),
        ("2021年11月5日", Some(dt(2021, 11, 5, 0, 0, 0))),
        ("44505", Some(dt(2021, 11, 5, 0, 0, 0))),
        ("2021-11-05 09:30", Some(dt(2021, 11, 5, 9, 30, 0))),
        ("2021-11-05 9:30", Some(dt(2021, 11, 5, 9, 30, 0))),
        ("2021-11-05T09:30:15", Some(dt(2021, 11, 5, 9, 30, 15))),
        ("2021/11/5 23:59:59", Some(dt(2021, 11, 5, 23, 59, 59))),
        ("2021年11月5日 09:30", Some(dt(2021, 11, 5, 9, 30, 0))),
        ("20211105 08:00:00", Some(dt(2021, 11, 5, 8, 0, 0))),
        ("44505.75", Some(dt(2021, 11, 5, 18, 0, 0))),
        ("2021-02-29", None),
        ("2021/11/5T09:30", None),
        ("2021-11-05 25:00", None),
        ("11/05/2021", None),
    ];
    let mut text = PAY_HEADER.to_string();
    for (i, (raw, _)) in forms.iter().enumerate() {
        text += &format!("D{i},{ID_A},医疗,2022,320,{raw}\n");
    }
    f.put("payments.csv", text);
    f.put(
        "deaths.csv",
        "id_number,death_date,notice_date\n\
         371323199001011235,2021年12月31日,不详\n\
         371323196203151232,44561,2022/1/3 10:00\n\
         371323199001011235,2021-12-32,\n",
    );
    let ds = f.load();

    let mut want_rejected = Vec::new();
    for (i, (raw, want)) in forms.iter().enumerate() {
        let txn = format!("D{i}");
        match want {
            Some(w) => assert_eq!(pay(&ds, &txn).paid_at(), *w, "{raw}"),
            None => {
                assert!(ds.payments().iter().all(|p| p.txn_id() != txn), "{raw}");
                want_rejected.push((i as u32 + 2, format!("`paid_at`: not a date/time: '{raw}'")));
            }
        }
    }
    let got: Vec<(u32, String)> = rejections(&ds, "payments.csv")
        .into_iter()
        .map(|(l, r)| (l, r.to_string()))
        .collect();
    assert_eq!(got, want_rejected);

    let d: Vec<_> = ds
        .deaths()
        .iter()
        .map(|d| (d.death_date(), d.notice_date()))
        .collect();
    assert_eq!(
        d,
        [
            (date(2021, 12, 31), None),
            (date(2021, 12, 31), Some(date(2022, 1, 3)))
        ]
    );
    assert_eq!(
        rejections(&ds, "deaths.csv"),
        [(4, "`death_date`: not a date: '2021-12-32'")]
    );
}

#[test]
fn period_forms_and_the_receipts_default() {
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    let forms = [
        "2022",
        "2022年",
        "2022年度",
        "202201-202212",
        "2022-01至2022-12",
        "２０２２",
        "202101-202212",
        "22",
        "",
    ];
    let mut text = PAY_HEADER.to_string();
    for (i, p) in forms.iter().enumerate() {
        text += &format!("P{i},{ID_A},医疗,{p},320,2021-11-05\n");
    }
    f.put("payments.csv", text);
    f.put(
        "receipts.csv",
        format!(
            "receipt_no,collector_id,id_number,scheme,period,amount,collected_at\n\
             R1,C01,{ID_A},医疗,2022年度,320,2021-11-05\n\
             R2,C01,{ID_A},医疗,,320,2021-11-05\n\
             R3,C01,{ID_A},医疗,明年,320,2021-11-05\n"
        ),
    );
    let ds = f.try_load_year(2023).unwrap();
    assert_conserved(&ds);
    let got: Vec<(&str, i32)> = ds
        .payments()
        .iter()
        .map(|p| (p.txn_id(), p.period()))
        .collect();
    assert_eq!(
        got,
        [
            ("P0", 2022),
            ("P1", 2022),
            ("P2", 2022),
            ("P3", 2022),
            ("P4", 2022),
            ("P5", 2022)
        ]
    );
    assert_eq!(
        rejections(&ds, "payments.csv"),
        [
            (8, "`period`: not a year: '202101-202212'"),
            (9, "`period`: not a year: '22'"),
            (10, "`period`: empty"),
        ]
    );
    // Receipts: an empty or unreadable period is the policy year.
    let r: Vec<i32> = ds.receipts().iter().map(|r| r.period()).collect();
    assert_eq!(r, [2022, 2023, 2023]);
}

#[test]
fn coded_values_required_reject_optional_keep_text() {
    let f = Folder::new();
    f.put(
        "hukou.csv",
        "id_number,name,village,status,status_date\n\
         11010519491231002X,王涛,东关村,迁出,2021-06-01\n\
         371323199001011235,张三,东关村,死亡,\n\
         371323196203151232,李四,东关村,注销,不详\n\
         37132319880808107X,赵六,东关村,失踪,\n\
         371323198506070025,陈七,东关村,外出,2020-01-01\n\
         440306199512123459,周八,东关村,,\n\
         11010519491231002X,王涛,东关村,迁出,2030-01-01\n",
    );
    f.put(
        "payments.csv",
        format!(
            "txn_id,id_number,scheme,period,amount,paid_at,status,payer_type\n\
             S1,{ID_A},农保,2022,320,2021-11-05,,\n\
             S2,{ID_A},医疗,2022,320,2021-11-05,待确认,单位资助\n\
             S3,{ID_A},Resident_Medical,2022,320,2021-11-05,成功,补缴\n\
             S4,{ID_A},,2022,320,2021-11-05,,\n"
        ),
    );
    f.put(
        "registrations.csv",
        format!("id_number,scheme,start_date\n{ID_A},农保,2021-01-01\n{ID_B},城镇职工基本养老保险,2021-01-01\n"),
    );
    f.put(
        "roster.csv",
        format!("id_number,scheme\n{ID_A},农保\n{ID_B},居民养老\n"),
    );
    f.put(
        "eligibility.csv",
        format!("id_number,category,valid_from,disability_level\n{ID_A},残疾人,2021-01-01,1\n{ID_B},残疾,2021-01-01,五级\n"),
    );
    let ds = f.load();

    let h: Vec<_> = ds
        .hukou()
        .iter()
        .map(|h| (h.id(), h.status(), h.status_date()))
        .collect();
    assert_eq!(
        h,
        [
            (id(ID_A), HukouStatus::MovedOut, Some(date(2021, 6, 1))),
            (
                id("371323198506070025"),
                HukouStatus::Other("外出".into()),
                Some(date(2020, 1, 1))
            ),
            (id("440306199512123459"), HukouStatus::Normal, None),
        ]
    );
    assert_eq!(
        rejections(&ds, "hukou.csv"),
        [
            (3, "`status_date`: required when status is 死亡 ('')"),
            // A date given that is none says why, as a required date does.
            (
                4,
                "`status_date`: not a date: '不详' (required when status is 注销)"
            ),
            (5, "`status_date`: required when status is 失踪 ('')"),
            (
                8,
                "`status_date`: date out of range: '2030-01-01' (required when status is 迁出)"
            ),
        ]
    );

    assert_eq!(
        rejections(&ds, "payments.csv"),
        [
            (2, "`scheme`: not a known scheme: '农保'"),
            (5, "`scheme`: empty")
        ]
    );
    let s2 = pay(&ds, "S2");
    assert_eq!(s2.status(), PaymentStatus::Other("待确认".into()));
    assert!(!s2.is_effective());
    assert_eq!(s2.payer_type(), PayerType::Other("单位资助".into()));
    let s3 = pay(&ds, "S3");
    assert_eq!(
        (s3.scheme(), &s3.payer_type(), s3.is_effective()),
        (Scheme::ResidentMedical, &PayerType::BackPayment, true)
    );

    assert_eq!(
        rejections(&ds, "registrations.csv"),
        [(2, "`scheme`: not a known scheme: '农保'")]
    );
    assert_eq!(ds.registrations().get(0).scheme(), Scheme::EmployeePension);
    assert_eq!(
        rejections(&ds, "roster.csv"),
        [(2, "`scheme`: not a known scheme: '农保'")]
    );
    assert_eq!(ds.roster().get(0).scheme(), Scheme::ResidentPension);
    assert_eq!(
        rejections(&ds, "eligibility.csv"),
        [(2, "`category`: not a known category: '残疾人'")]
    );
    // An optional coded value outside the glossary is kept as empty.
    assert_eq!(
        (
            ds.eligibility().get(0).category(),
            ds.eligibility().get(0).disability_level()
        ),
        (Category::Canji, None)
    );
}

#[test]
fn names_and_text_are_normalised() {
    let f = Folder::new();
    f.put(
        "hukou.csv",
        "id_number,name,village,office\n11010519491231002X, 王  涛\u{3000},\u{3000}东关村 ,ＡＢ办事处\n\
         371323199001011235,\u{3000} ,东关村,\n",
    );
    f.put(
        "payments.csv",
        format!("txn_id,id_number,name,scheme,period,amount,paid_at,channel\n\u{3000}ＴＸ１ ,{ID_A},王\u{3000}\u{3000}涛,医疗,2022,320,2021-11-05,ＰＯＳ\n"),
    );
    let ds = f.load();
    assert_eq!(ds.hukou().len(), 1);
    assert_eq!(rejections(&ds, "hukou.csv"), [(3, "`name`: empty")]);
    let h = ds.hukou().get(0);
    assert_eq!(
        (h.name(), h.village(), h.office()),
        ("王涛", "东关村", "AB办事处")
    );
    let p = ds.payments().get(0);
    assert_eq!((p.txn_id(), p.name(), p.channel()), ("TX1", "王涛", "POS"));
}

// ---------------------------------------------------------------------------------------
// Line numbers, reports
// ---------------------------------------------------------------------------------------

#[test]
fn csv_line_numbers_are_physical_lines() {
    let body = "txn_id,id_number,name,scheme,period,amount,paid_at\n\
                A,11010519491231002X,王涛,医疗,2022,320,2021-11-05\n\
                \n\
                B,11010519491231002X,王涛,医疗,2022,320,2021-11-05\n\
                ,,,,,,\n\
                C,11010519491231002X,\"王\n涛\",医疗,2022,320,2021-11-05\n\
                D,11010519491231002X,王涛,医疗,2022,abc,2021-11-05\n\
                E,11010519491231002X,王涛,医疗,2022\n\
                \n\
                \n\
                F,11010519491231002X,王涛,医疗,2022,320,2021-11-05\n";
    let crlf = body.replace('\n', "\r\n");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(body.as_bytes());
    let variants: [(&str, Vec<u8>); 4] = [
        ("utf-8", body.as_bytes().to_vec()),
        ("utf-8 bom", bom),
        ("crlf", crlf.into_bytes()),
        ("gb18030", gb18030(body)),
    ];
    for (what, bytes) in variants {
        let f = Folder::new();
        f.put("hukou.csv", HUKOU);
        f.put("payments.csv", bytes);
        let ds = f.load();
        let lines: Vec<(&str, u32)> = ds
            .payments()
            .iter()
            .map(|p| (p.txn_id(), p.prov().line))
            .collect();
        assert_eq!(lines, [("A", 2), ("B", 4), ("C", 6), ("F", 12)], "{what}");
        assert_eq!(pay(&ds, "C").name(), "王涛", "{what}");
        assert_eq!(
            rejections(&ds, "payments.csv"),
            [
                (8, "`amount`: not an amount: 'abc'"),
                (9, "expected 7 fields as in the header, found 5"),
            ],
            "{what}"
        );
        let r = report(&ds, "payments.csv");
        assert_eq!(
            (r.rows_read, r.rows_accepted, r.rows_rejected),
            (6, 4, 2),
            "{what}"
        );
        assert_eq!(
            ds.rejected[1].raw, "E,11010519491231002X,王涛,医疗,2022",
            "{what}"
        );
    }
}

#[test]
fn reports_hash_format_and_progress() {
    let f = Folder::with_required();
    let seen = Mutex::new(Vec::new());
    let progress = |file: &str, rows: u64| seen.lock().unwrap().push((file.to_string(), rows));
    let ds = load(
        f.path(),
        &LoadOptions {
            year: 2022,
            progress: Some(&progress),
            columns: None,
        },
    )
    .unwrap();
    assert_conserved(&ds);
    let h = report(&ds, "hukou.csv");
    // sha256sum of the bytes of `HUKOU`.
    assert_eq!(
        h.sha256,
        "80060c30e5c9e8e5f01c96bd5e4e7531dc7e314402034e9390d6a80a690aedc8"
    );
    assert_eq!(
        (h.source, h.format, h.rows_read, h.duplicate_rows),
        ("hukou", "csv utf-8", 1, 0)
    );
    assert_eq!(report(&ds, "payments.csv").source, "payments");
    let seen = seen.into_inner().unwrap();
    assert_eq!(
        seen,
        [
            ("hukou.csv".to_string(), 1),
            ("payments.csv".to_string(), 1)
        ]
    );
    assert_eq!(ds.present.len(), 2);
    assert!(ds.has(qianbiao_ingest::SourceKind::Payments));
    assert!(!ds.has(qianbiao_ingest::SourceKind::Deaths));
    assert_eq!(ds.source_ref(ds.hukou().get(0).prov()), "hukou.csv:2");
}

#[test]
fn header_only_files_are_present_and_empty() {
    let f = Folder::with_required();
    f.put("deaths.csv", "id_number,death_date\n");
    f.put(
        "roster.parquet",
        parquet(vec![
            Series::new("id_number".into(), Vec::<String>::new()),
            Series::new("scheme".into(), Vec::<String>::new()),
        ]),
    );
    let ds = f.load();
    assert!(ds.has(qianbiao_ingest::SourceKind::Deaths));
    assert!(ds.has(qianbiao_ingest::SourceKind::Roster));
    assert!(ds.deaths().is_empty() && ds.roster().is_empty());
    for p in ["deaths.csv", "roster.parquet"] {
        let r = report(&ds, p);
        assert_eq!(
            (r.rows_read, r.rows_accepted, r.rows_rejected),
            (0, 0, 0),
            "{p}"
        );
    }
}

#[test]
fn unrelated_files_are_ignored() {
    let f = Folder::with_required();
    f.put("hukou.txt", "garbage");
    f.put("hukou_old.csv", "garbage");
    f.put("payments/notes.txt", "garbage");
    f.put("payments/.hidden.csv", "garbage");
    f.put("Deaths.csv", "garbage");
    let ds = f.load();
    assert_eq!(ds.files, ["hukou.csv", "payments.csv"]);
}

// ---------------------------------------------------------------------------------------
// Errors that stop the load
// ---------------------------------------------------------------------------------------

#[test]
fn missing_required_sources() {
    let f = Folder::new();
    f.put("payments.csv", PAYMENTS);
    f.put("deaths.csv", "id_number,death_date\n");
    let e = f.try_load().unwrap_err();
    assert!(
        matches!(
            e,
            IngestError::MissingSource {
                source_name: "hukou",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("`hukou`"), "{e}");

    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    std::fs::create_dir(f.path().join("payments")).unwrap(); // an empty folder is no source
    let e = f.try_load().unwrap_err();
    assert!(
        matches!(
            e,
            IngestError::MissingSource {
                source_name: "payments",
                ..
            }
        ),
        "{e:?}"
    );

    let e = load(
        &f.path().join("nope"),
        &LoadOptions {
            year: 2022,
            progress: None,
            columns: None,
        },
    )
    .unwrap_err();
    assert!(matches!(e, IngestError::NoDataDir(_)), "{e:?}");
}

#[test]
fn missing_required_column_names_file_and_column() {
    let f = Folder::with_required();
    f.put(
        "payments/b.csv",
        "txn_id,id_number,scheme,period,缴费时间\nT1,11010519491231002X,医疗,2022,2021-11-05\n",
    );
    let e = f.try_load().unwrap_err();
    match &e {
        IngestError::MissingColumn { file, column } => {
            assert_eq!(file, "payments/b.csv");
            assert!(
                column.contains("`amount`") && column.contains("缴费金额"),
                "{column}"
            );
        }
        other => panic!("expected MissingColumn, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.starts_with("payments/b.csv: "), "{msg}");
    assert!(msg.contains("`amount`"), "{msg}");

    // An optional source is checked too; an optional column is not required.
    let f = Folder::with_required();
    f.put(
        "deaths.csv",
        "id_number,name,notice_date\n11010519491231002X,王涛,2022-01-01\n",
    );
    let e = f.try_load().unwrap_err();
    assert!(e.to_string().starts_with("deaths.csv: "), "{e}");
    assert!(e.to_string().contains("`death_date`"), "{e}");
}

#[test]
fn unreadable_files_name_the_file() {
    let cases: [(&str, Vec<u8>); 4] = [
        (
            "payments/x.parquet",
            b"PAR1 this is not parquet at all PAR1".to_vec(),
        ),
        ("hukou.xlsx", b"id_number,name,village\n".to_vec()),
        ("deaths.csv", vec![b'i', b'd', b'\n', 0xFF, 0xFE, b'\n']),
        ("eligibility.parquet", Vec::new()),
    ];
    // An empty CSV is text with no first row: every required column is missing from it.
    let f = Folder::with_required();
    f.put("roster.csv", "");
    let e = f.try_load().unwrap_err();
    assert!(
        matches!(&e, IngestError::MissingColumn { file, column }
            if file == "roster.csv" && column.contains("`id_number`") && column.contains("`scheme`")),
        "{e:?}"
    );
    for (rel, bytes) in cases {
        let f = Folder::new();
        if rel != "hukou.xlsx" {
            f.put("hukou.csv", HUKOU);
        }
        f.put("payments.csv", PAYMENTS);
        f.put(rel, bytes);
        let e = f.try_load().unwrap_err();
        match &e {
            IngestError::Unreadable { file, .. } => assert_eq!(file, rel),
            other => panic!("{rel}: expected Unreadable, got {other:?}"),
        }
        assert!(
            e.to_string().starts_with(&format!("{rel}: cannot read")),
            "{e}"
        );
    }
}

/// Dates and timestamps stored as such in Parquet are read without a trip through text;
/// whatever a value is (in range, out of range, null), the row is accepted or
/// rejected exactly as its text form in a CSV file would be, with the same reason and the
/// same raw text.
#[test]
fn parquet_dates_read_as_stored_agree_with_their_text_form() {
    let zoned = Series::new(
        "notice_date".into(),
        &[
            Some(dt(2022, 1, 31, 16, 30, 0).naive()),
            Some(dt(1850, 1, 1, 0, 0, 0).naive()),
            None,
            Some(dt(2022, 2, 1, 1, 0, 0).naive()),
            Some(dt(2021, 12, 31, 23, 59, 59).naive()),
        ],
    );
    let deaths = parquet(vec![
        Series::new("id_number".into(), &[ID_A, ID_B, ID_C, ID_X, ID_A]),
        Series::new("name".into(), &["王涛", "李四", "张三", "赵六", "王涛"]),
        Series::new(
            "death_date".into(),
            &[
                Some(date(2022, 1, 20)),
                Some(date(1850, 6, 1)),
                Some(date(2099, 1, 1)),
                None,
                Some(date(2024, 12, 31)),
            ],
        ),
        zoned,
    ]);
    // The same values as text, as the text reading of Parquet gives them (zoned
    // timestamps: tests/robustness.rs).
    let csv = format!(
        "id_number,name,death_date,notice_date\n\
         {ID_A},王涛,2022-01-20,2022-01-31 16:30:00\n\
         {ID_B},李四,1850-06-01,1850-01-01 00:00:00\n\
         {ID_C},张三,2099-01-01,\n\
         {ID_X},赵六,,2022-02-01 01:00:00\n\
         {ID_A},王涛,2024-12-31,2021-12-31 23:59:59\n"
    );
    let a = Folder::with_required();
    a.put("deaths.parquet", deaths);
    let b = Folder::with_required();
    b.put("deaths.csv", csv);
    let (pa, cs) = (a.load(), b.load());
    let rows = |ds: &Dataset| {
        ds.deaths()
            .iter()
            .map(|d| {
                (
                    d.prov().line,
                    d.id().to_string(),
                    d.death_date(),
                    d.notice_date(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&pa), rows(&cs));
    assert_eq!(rows(&pa).len(), 2);
    assert_eq!(rows(&pa)[0].3, Some(date(2022, 1, 31)));
    let rejected = rejected_rows;
    assert_eq!(rejected(&pa), rejected(&cs));
    assert_eq!(rejected(&pa).len(), 3);
}

/// A Parquet file's columns the source does not read are not decoded, yet a rejected
/// row's raw text still holds every cell: the same rows, reasons, raw text and counts as
/// the same file in CSV, with the unused columns before, between and after the used
/// ones; except that Parquet rows are all data (`data-contract.md`, Real exports), so a
/// row of empty cells is rejected there, where CSV counts it blank.
#[test]
fn parquet_columns_not_read_still_give_raw_text_and_no_blank_rows() {
    let pq = parquet(vec![
        Series::new("备注".into(), &["a", "", "", "", "x,y"]),
        Series::new("txn_id".into(), &["T1", "", "", "T4", "T5"]),
        Series::new("id_number".into(), &[ID_A, "", "", ID_A, ID_A]),
        Series::new(
            "经办人".into(),
            &[Some("张"), Some("李"), None, None, Some("王")],
        ),
        Series::new(
            "scheme".into(),
            &["居民医保", "", "", "居民医保", "居民医保"],
        ),
        Series::new(
            "period".into(),
            &[Some(2022i64), None, None, Some(2022), Some(2022)],
        ),
        Series::new("amount".into(), &["320", "", "", "-1", "320"]),
        Series::new(
            "paid_at".into(),
            &["2021-11-05", "", "", "2021-11-05", "2021-11-05"],
        ),
        Series::new("extra".into(), &[Some(1.5f64), None, None, Some(2.0), None]),
    ]);
    let csv = "备注,txn_id,id_number,经办人,scheme,period,amount,paid_at,extra\n\
               a,T1,ID,张,居民医保,2022,320,2021-11-05,1.5\n\
               ,,,李,,,,,\n\
               ,,,,,,,,\n\
               ,T4,ID,,居民医保,2022,-1,2021-11-05,2.0\n\
               \"x,y\",T5,ID,王,居民医保,2022,320,2021-11-05,\n"
        .replace("ID", ID_A);
    let (pa, cs) = load_payments_both(pq, csv);
    let rows = |ds: &Dataset| {
        ds.payments()
            .iter()
            .map(|p| (p.prov().line, p.txn_id().to_string(), p.amount()))
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&pa), rows(&cs));
    assert_eq!(rows(&pa).len(), 2);
    // Line 3 is read (an unused cell is not empty) and rejected; line 4 is blank in CSV
    // and a rejected row in Parquet; line 5 is rejected for its amount, its raw text with
    // every cell.
    let (rej_p, rej_c) = (rejected_rows(&pa), rejected_rows(&cs));
    let lines = |r: &[(u32, String, String)]| r.iter().map(|r| r.0).collect::<Vec<_>>();
    assert_eq!(lines(&rej_c), [3, 5]);
    assert_eq!(lines(&rej_p), [3, 4, 5]);
    assert_eq!(rej_p[1].1, "`txn_id`: empty");
    assert_eq!((&rej_p[0], &rej_p[2]), (&rej_c[0], &rej_c[1]));
    assert!(rej_p[2].2.ends_with(",2.0"), "{rej_p:?}");
    let (rp, rc) = (report(&pa, "payments.parquet"), report(&cs, "payments.csv"));
    assert_eq!(
        (rp.rows_read, rp.rows_rejected, rp.blank_rows),
        (rc.rows_read + 1, rc.rows_rejected + 1, 0)
    );
    assert_eq!(rc.blank_rows, 1);
}

/// The same payments as a Parquet file and as a CSV file, each loaded beside `HUKOU`.
fn load_payments_both(parquet: Vec<u8>, csv: String) -> (Dataset, Dataset) {
    let (a, b) = (Folder::new(), Folder::new());
    a.put("hukou.csv", HUKOU);
    b.put("hukou.csv", HUKOU);
    a.put("payments.parquet", parquet);
    b.put("payments.csv", csv);
    (a.load(), b.load())
}

/// Line, reason and raw text of each rejected row.
fn rejected_rows(ds: &Dataset) -> Vec<(u32, String, String)> {
    ds.rejected
        .iter()
        .map(|r| (r.line, r.reason.clone(), r.raw.clone()))
        .collect()
}

/// A Parquet payments file of one row per amount (txn_ids `T0`, `T1`, ...; one person's
/// 2022 medical payments of 2021-11-05).
fn payments_with_amounts(amounts: Series) -> Vec<u8> {
    let n = amounts.len();
    let txn: Vec<String> = (0..n).map(|i| format!("T{i}")).collect();
    parquet(vec![
        Series::new("txn_id".into(), &txn),
        Series::new("id_number".into(), vec![ID_A; n]),
        Series::new("scheme".into(), vec!["居民医保"; n]),
        Series::new("period".into(), vec![2022i64; n]),
        amounts,
        Series::new("paid_at".into(), vec!["2021-11-05"; n]),
    ])
}

/// Integers and decimals stored as such in Parquet are read without a trip through text;
/// whatever a value is (exact to the fen, too precise, negative, out of range, null),
/// the row is accepted or rejected exactly as its text form in a CSV file would be, with
/// the same amount, reason and raw text. (One exception, below: a decimal type of more
/// than 2 places holding a whole number of fen.)
#[test]
fn parquet_numbers_read_as_stored_agree_with_their_text_form() {
    // (amount column, the same values as polars writes their text)
    let decimal = |scale: usize, m: &[Option<i128>]| {
        Series::new("amount".into(), m.to_vec())
            .into_decimal(18, scale)
            .unwrap()
    };
    let cases: Vec<(Series, Vec<&str>)> = vec![
        (
            decimal(
                2,
                &[
                    Some(32_000),
                    Some(5),
                    Some(-150),
                    None,
                    Some(1_000_000_000_001),
                ],
            ),
            vec!["320.00", "0.05", "-1.50", "", "10000000000.01"],
        ),
        (decimal(4, &[Some(10_050)]), vec!["1.0050"]),
        (decimal(0, &[Some(320), Some(0)]), vec!["320", "0"]),
        (
            Series::new(
                "amount".into(),
                &[Some(320i64), Some(-5), None, Some(20_000_000_000)],
            ),
            vec!["320", "-5", "", "20000000000"],
        ),
        (
            Series::new("amount".into(), &[320u64, u64::MAX]),
            vec!["320", "18446744073709551615"],
        ),
    ];
    for (k, (amounts, texts)) in cases.into_iter().enumerate() {
        let pq = payments_with_amounts(amounts);
        let mut csv = String::from(PAY_HEADER);
        for (i, t) in texts.iter().enumerate() {
            let t = if t.contains(',') {
                format!("\"{t}\"")
            } else {
                t.to_string()
            };
            csv.push_str(&format!("T{i},{ID_A},居民医保,2022,{t},2021-11-05\n"));
        }
        let (pa, cs) = load_payments_both(pq, csv);
        let rows = |ds: &Dataset| {
            ds.payments()
                .iter()
                .map(|p| {
                    (
                        p.prov().line,
                        p.txn_id().to_string(),
                        p.amount(),
                        p.period(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let rejected = rejected_rows;
        assert_eq!(rows(&pa), rows(&cs), "case {k}");
        assert_eq!(rejected(&pa), rejected(&cs), "case {k}");
        assert_eq!(
            rows(&pa).len() + rejected(&pa).len(),
            texts.len(),
            "case {k}"
        );
        if k == 0 {
            assert_eq!(rows(&pa)[0].2, Fen(32_000));
            assert_eq!(rows(&pa)[1].2, Fen(5));
            assert_eq!(rejected(&pa).len(), 3);
        }
    }
}

/// A decimal type's scale is the type's, not the value's: `decimal(18,4)` 320.0000 is
/// 320.00 yuan exactly and is accepted (its text `320.0000` in a CSV file has more than 2
/// decimals); 1.0050 is not a whole number of fen and is rejected as its text would be.
#[test]
fn parquet_decimals_of_more_places_are_read_by_their_value() {
    let amounts = Series::new(
        "amount".into(),
        vec![
            Some(3_200_000i128),
            Some(10_050),
            Some(0),
            Some(1_000_000_000_000_100),
        ],
    )
    .into_decimal(18, 4)
    .unwrap();
    let pq = payments_with_amounts(amounts);
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    f.put("payments.parquet", pq);
    let ds = f.load();
    let kept: Vec<(String, Fen)> = ds
        .payments()
        .iter()
        .map(|p| (p.txn_id().to_string(), p.amount()))
        .collect();
    assert_eq!(
        kept,
        [("T0".to_string(), Fen(32_000)), ("T2".to_string(), Fen(0))]
    );
    let rej = rejected_rows(&ds);
    assert_eq!(rej.len(), 2, "{rej:?}");
    assert_eq!(rej[0].0, 3);
    assert!(
        rej[0].1.contains("more than 2 decimals in '1.0050'"),
        "{rej:?}"
    );
    // 100,000,000,000.01 yuan: a whole number of fen, out of range.
    assert_eq!(rej[1].0, 5);
    assert!(rej[1].1.contains("amount out of range"), "{rej:?}");
    assert!(rej[1].2.contains(",100000000000.01,"), "{rej:?}");
}

/// A period stored as an integer in Parquet is read as it is when it is a year the text
/// form gives (1900-2200); every other value (out of range, negative, null) gives the row,
/// reason and raw text its text form gives in a CSV file, in payments (required) and in
/// receipts (empty or unreadable: the policy year).
#[test]
fn parquet_periods_read_as_stored_agree_with_their_text_form() {
    let periods: [Option<i64>; 8] = [
        Some(2022),
        Some(1900),
        Some(2200),
        Some(1899),
        Some(2201),
        Some(-2022),
        Some(22),
        None,
    ];
    let n = periods.len();
    let text = |p: &Option<i64>| p.map(|y| y.to_string()).unwrap_or_default();
    let keys: Vec<String> = (0..n).map(|i| format!("K{i}")).collect();
    let pay = parquet(vec![
        Series::new("txn_id".into(), &keys),
        Series::new("id_number".into(), vec![ID_A; n]),
        Series::new("scheme".into(), vec!["居民医保"; n]),
        Series::new("period".into(), periods.to_vec()),
        Series::new("amount".into(), vec!["320"; n]),
        Series::new("paid_at".into(), vec!["2021-11-05"; n]),
    ]);
    let rec = parquet(vec![
        Series::new("receipt_no".into(), &keys),
        Series::new("collector_id".into(), vec!["C01"; n]),
        Series::new("id_number".into(), vec![ID_A; n]),
        Series::new("scheme".into(), vec!["居民医保"; n]),
        Series::new("period".into(), periods.to_vec()),
        Series::new("amount".into(), vec!["320"; n]),
        Series::new("collected_at".into(), vec!["2021-11-05"; n]),
    ]);
    let mut pay_csv = String::from(PAY_HEADER);
    let mut rec_csv =
        String::from("receipt_no,collector_id,id_number,scheme,period,amount,collected_at\n");
    for (i, p) in periods.iter().enumerate() {
        let p = text(p);
        pay_csv.push_str(&format!("K{i},{ID_A},居民医保,{p},320,2021-11-05\n"));
        rec_csv.push_str(&format!("K{i},C01,{ID_A},居民医保,{p},320,2021-11-05\n"));
    }
    let (a, b) = (Folder::new(), Folder::new());
    for (f, ext, pay, rec) in [
        (&a, "parquet", pay, rec),
        (&b, "csv", pay_csv.into_bytes(), rec_csv.into_bytes()),
    ] {
        f.put("hukou.csv", HUKOU);
        f.put(&format!("payments.{ext}"), pay);
        f.put(&format!("receipts.{ext}"), rec);
    }
    let (pa, cs) = (
        a.try_load_year(2023).unwrap(),
        b.try_load_year(2023).unwrap(),
    );
    let payments = |ds: &Dataset| {
        ds.payments()
            .iter()
            .map(|p| (p.prov().line, p.period()))
            .collect::<Vec<_>>()
    };
    let receipts = |ds: &Dataset| {
        ds.receipts()
            .iter()
            .map(|r| (r.prov().line, r.period()))
            .collect::<Vec<_>>()
    };
    assert_eq!(payments(&pa), [(2, 2022), (3, 1900), (4, 2200)]);
    assert_eq!(payments(&pa), payments(&cs));
    assert_eq!(rejected_rows(&pa), rejected_rows(&cs));
    assert_eq!(rejected_rows(&pa).len(), 5);
    assert_eq!(
        receipts(&pa),
        [2022, 1900, 2200, 2023, 2023, 2023, 2023, 2023]
            .iter()
            .enumerate()
            .map(|(i, &y)| (i as u32 + 2, y))
            .collect::<Vec<_>>()
    );
    assert_eq!(receipts(&pa), receipts(&cs));
}

/// A value of a column's kind that every reader accepts.
fn good_value(kind: qianbiao_ingest::source::Kind) -> &'static str {
    use qianbiao_ingest::source::{Codes, Kind};
    match kind {
        Kind::Id | Kind::KeptId => ID_B,
        Kind::PersonName => "王涛",
        Kind::Text => "x1",
        Kind::Code(Codes::HukouStatus) => "正常",
        Kind::Code(Codes::Category) => "低保",
        Kind::Code(Codes::Scheme) => "居民医保",
        Kind::Code(Codes::PayerType) => "个人缴费",
        Kind::Code(Codes::PaymentStatus) => "成功",
        Kind::Date => "2022-01-05",
        Kind::Datetime => "2022-01-05 10:00",
        Kind::Money => "320",
        Kind::Year => "2022",
        Kind::Count => "3",
        Kind::Level => "1",
    }
}

/// The schema table is what the parsers do: for every source, a row of good values is
/// accepted; an empty cell rejects the row, naming the column, exactly when the column
/// is required (an empty id too where invalid ids are kept); a cell that does not read
/// as its kind rejects the row exactly when the column is required, except that an
/// invalid id is kept where the schema says so.
#[test]
fn the_schema_table_says_what_rejects_a_row() {
    use qianbiao_ingest::source::{columns, Kind};
    use qianbiao_ingest::SourceKind;
    for source in SourceKind::ALL {
        let fields = columns(source);
        let header: Vec<&str> = fields.iter().map(|f| f.col.name()).collect();
        let good: Vec<&str> = fields.iter().map(|f| good_value(f.kind)).collect();
        // Row 2 is all good; then per column an empty cell and a cell of garbage.
        let mut lines = vec![header.join(","), good.join(",")];
        for i in 0..fields.len() {
            for bad in ["", "zz?"] {
                let mut row = good.clone();
                row[i] = bad;
                lines.push(row.join(","));
            }
        }
        let f = Folder::new();
        let name = format!("{}.csv", source.name());
        if source != SourceKind::Hukou {
            f.put("hukou.csv", HUKOU);
        }
        if source != SourceKind::Payments {
            f.put("payments.csv", PAYMENTS);
        }
        f.put(&name, lines.join("\n") + "\n");
        let ds = f.load();
        let rejected = rejections(&ds, &name);
        let reason = |line: u32| rejected.iter().find(|(l, _)| *l == line).map(|(_, r)| *r);
        assert_eq!(reason(2), None, "{name}: the good row is rejected");
        for (i, field) in fields.iter().enumerate() {
            let col = field.col.name();
            let (empty, garbage) = (3 + 2 * i as u32, 4 + 2 * i as u32);
            let kept_id = field.kind == Kind::KeptId;
            match reason(empty) {
                Some(r) => assert!(
                    field.required && r.contains(col),
                    "{name}: empty `{col}` rejected ({r}) but it is optional"
                ),
                None => assert!(!field.required, "{name}: empty required `{col}` accepted"),
            }
            // Free text and names read anything; every other kind rejects garbage only
            // where required (a kept id is kept, flagged later).
            let reads_anything = matches!(field.kind, Kind::Text | Kind::PersonName);
            let must_reject = field.required && !reads_anything && !kept_id;
            match reason(garbage) {
                Some(r) => assert!(
                    must_reject && r.contains(col),
                    "{name}: `{col}` = zz? rejected ({r}) where it should be kept"
                ),
                None => assert!(!must_reject, "{name}: required `{col}` = zz? accepted"),
            }
        }
    }
}

/// The roster's optional expected amount, stored as a decimal, reads as its text form
/// does: an amount taken, anything else empty.
#[test]
fn parquet_expected_amounts_read_as_stored_agree_with_their_text_form() {
    let amounts = Series::new(
        "expected_amount".into(),
        vec![Some(32_000i128), None, Some(-150), Some(10_050)],
    )
    .into_decimal(18, 2)
    .unwrap();
    let roster = parquet(vec![
        Series::new("id_number".into(), vec![ID_A, ID_B, ID_C, ID_X]),
        Series::new("scheme".into(), vec!["居民医保"; 4]),
        amounts,
    ]);
    let csv = format!(
        "id_number,scheme,expected_amount\n{ID_A},居民医保,320.00\n{ID_B},居民医保,\n\
         {ID_C},居民医保,-1.50\n{ID_X},居民医保,100.50\n"
    );
    let (a, b) = (Folder::with_required(), Folder::with_required());
    a.put("roster.parquet", roster);
    b.put("roster.csv", csv);
    let amounts = |ds: &Dataset| -> Vec<Option<Fen>> {
        ds.roster().iter().map(|r| r.expected_amount()).collect()
    };
    let (pa, cs) = (a.load(), b.load());
    assert_eq!(amounts(&pa), amounts(&cs));
    assert_eq!(
        amounts(&pa),
        [Some(Fen(32_000)), None, None, Some(Fen(10_050))]
    );
}

/// A piece of rows is parsed a column at a time; a row's reason is still its first
/// failing column in the contract's column order, as the schema table lists it. For
/// every source: a row with every required value empty, then rows with one more
/// required value filled in each time, each name the next required column; the row
/// with every required value is accepted.
#[test]
fn a_rows_reason_is_its_first_failing_column_in_schema_order() {
    use qianbiao_ingest::source::{columns, Codes, Kind};
    use qianbiao_ingest::SourceKind;
    fn valid(kind: Kind) -> &'static str {
        match kind {
            Kind::Id | Kind::KeptId => ID_A,
            Kind::PersonName => "王涛",
            Kind::Text => "X1",
            Kind::Code(Codes::Scheme) => "居民医保",
            Kind::Code(Codes::Category) => "dibao",
            Kind::Code(_) => "",
            Kind::Date => "2021-06-01",
            Kind::Datetime => "2021-06-01 10:00:00",
            Kind::Money => "320",
            Kind::Year => "2022",
            Kind::Count => "3",
            Kind::Level => "1",
        }
    }
    for source in SourceKind::ALL {
        let fields = columns(source);
        let required: Vec<_> = fields.iter().filter(|f| f.required).collect();
        let header: Vec<&str> = fields.iter().map(|f| f.col.name()).collect();
        let mut text = header.join(",") + "\n";
        // Row k: the first k required values given, the others empty; optional text
        // given (a row of empty cells is blank, not rejected), other optional cells empty.
        for k in 0..=required.len() {
            let row: Vec<&str> = fields
                .iter()
                .map(|f| match required.iter().position(|r| r.col == f.col) {
                    Some(i) if i < k => valid(f.kind),
                    Some(_) => "",
                    None if matches!(f.kind, Kind::Text | Kind::PersonName) => valid(f.kind),
                    None => "",
                })
                .collect();
            text += &(row.join(",") + "\n");
        }
        let f = Folder::with_required();
        let name = format!("{}.csv", source.name());
        f.put(&name, &text);
        let ds = f.load();
        let got = rejections(&ds, &name);
        assert_eq!(got.len(), required.len(), "{source:?}: {got:?}");
        for (k, (line, reason)) in got.iter().enumerate() {
            assert_eq!(*line, k as u32 + 2, "{source:?}");
            let col = required[k].col.name();
            assert!(
                reason.starts_with(&format!("`{col}`:")),
                "{source:?} line {line}: expected `{col}`, got {reason}"
            );
        }
        assert_eq!(report(&ds, &name).rows_accepted, 1, "{source:?}");
    }
}

/// A load of some columns only (`LoadOptions::columns`, a partitioned run's keys pass)
/// accepts and rejects exactly the rows a full load does, with the same reasons, and
/// leaves the columns it skips empty; on the committed sample town, every source and
/// format (CSV, XLSX, Parquet, a folder of payments), with its rejected rows.
#[test]
fn a_load_of_some_columns_accepts_and_rejects_the_rows_a_full_load_does() {
    use qianbiao_ingest::load::discover;
    use qianbiao_ingest::source::Col;
    use qianbiao_ingest::{load_file_chunks, Chunk, SourceKind};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/dianzi-2022");
    // No optional column: the load still reads those hukou's check needs (status,
    // status date), or a 死亡 row without a status date would be accepted.
    fn no_optional_column(_: SourceKind, _: Col) -> bool {
        false
    }
    let mut rejected_total = 0;
    let mut skipped_cells = 0;
    for s in SourceKind::ALL {
        let (files, _) = discover(&dir, s).unwrap();
        for (i, file) in files.iter().enumerate() {
            // Per load: accepted rows, and cells of skipped columns that are not empty.
            let read = |columns: Option<qianbiao_ingest::load::ColumnFilter>| {
                let mut accepted = 0usize;
                let mut filled = 0usize;
                let opts = LoadOptions {
                    year: 2022,
                    progress: None,
                    columns,
                };
                let ds =
                    load_file_chunks(s, file, i as u32, None, &opts, &mut |chunk| match chunk {
                        Chunk::Hukou(r) => {
                            accepted += r.len();
                            filled += r.iter().filter(|r| !r.gender.is_empty()).count();
                        }
                        Chunk::Payments(r) => {
                            accepted += r.len();
                            filled += r.iter().filter(|r| !r.channel.is_empty()).count();
                        }
                        Chunk::Registrations(r) => {
                            accepted += r.len();
                            filled += r.iter().filter(|r| r.end_date.is_some()).count();
                        }
                        Chunk::Deaths(r) => accepted += r.len(),
                        Chunk::Eligibility(r) => accepted += r.len(),
                        Chunk::Receipts(r) => accepted += r.len(),
                        Chunk::Deposits(r) => accepted += r.len(),
                        Chunk::Roster(r) => accepted += r.len(),
                        Chunk::LinkableDeaths(_) => {}
                    })
                    .unwrap();
                (accepted, filled, ds)
            };
            let (all_rows, all_filled, all) = read(None);
            let (some_rows, some_filled, some) = read(Some(no_optional_column));
            let f = &file.1;
            assert_eq!(some_rows, all_rows, "{f}: accepted rows");
            let reasons = |ds: &Dataset| -> Vec<(u32, String)> {
                ds.rejected
                    .iter()
                    .map(|r| (r.line, r.reason.clone()))
                    .collect()
            };
            assert_eq!(reasons(&some), reasons(&all), "{f}: rejected rows");
            assert_eq!(some.reports[0].rows_read, all.reports[0].rows_read, "{f}");
            assert_eq!(some_filled, 0, "{f}: a skipped column was read");
            assert!(some.rejected.iter().all(|r| r.raw.is_empty()), "{f}");
            assert!(some.reports[0].sha256.is_empty(), "{f}");
            assert!(!all.reports[0].sha256.is_empty(), "{f}");
            rejected_total += all.rejected.len();
            skipped_cells += all_filled;
        }
    }
    // The town has rejected rows and values in the skipped columns: the test compares
    // something.
    assert!(rejected_total > 0);
    assert!(skipped_cells > 0);
}

/// A deaths row rejected for an invalid id is kept for identity linkage; one rejected
/// because its fields do not match the header is not, even when its id is invalid too
/// (its cells may be shifted: `data-contract.md`, "deaths rows rejected for an invalid
/// id").
#[test]
fn only_deaths_rows_rejected_for_their_id_are_kept_for_linkage() {
    let f = Folder::with_required();
    f.put(
        "deaths.csv",
        "身份证号码,姓名,死亡日期,备注\n\
         11010519491231002Y,王涛,2021-10-01,\n\
         11010519491231003Y,李四,2021-10-01\n\
         11010519491231004Y,赵五,,\n",
    );
    let ds = f.load();
    let lines: Vec<u32> = ds.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 3, 4]);
    assert!(
        ds.rejected[1].reason.contains("fields"),
        "{:?}",
        ds.rejected
    );
    // Line 2 only: line 3 is ragged, line 4 has no death date to compare.
    let kept: Vec<(u32, String)> = ds
        .linkable_deaths
        .iter()
        .map(|d| (d.prov.line, d.name.to_string()))
        .collect();
    assert_eq!(kept, [(2, "王涛".to_string())]);
}

/// An Excel row whose values all stand right of the header's columns is read and
/// rejected, never counted blank; a row with values inside the header and a stray note
/// right of it is read as usual.
#[test]
fn xlsx_values_right_of_the_header_are_not_a_blank_row() {
    let f = Folder::new();
    f.put("hukou.csv", HUKOU);
    f.put(
        "payments.xlsx",
        xlsx(|wb| {
            let ws = wb.add_worksheet();
            write_row(
                ws,
                0,
                &[
                    "txn_id",
                    "id_number",
                    "scheme",
                    "period",
                    "amount",
                    "paid_at",
                ],
            );
            write_row(
                ws,
                1,
                &["T1", ID_A, "居民医保", "2022", "320", "2021-11-05"],
            );
            // Line 3: shifted right by two columns, nothing under the header.
            for (c, v) in ["T2", ID_A, "居民医保", "2022", "320", "2021-11-05"]
                .iter()
                .enumerate()
            {
                ws.write_string(2, c as u16 + 6, *v).unwrap();
            }
            // Line 4: a value row with a note right of the header.
            write_row(
                ws,
                3,
                &["T3", ID_A, "居民养老", "2022", "300", "2021-11-06"],
            );
            ws.write_string(3, 8, "已核").unwrap();
            // Line 5: blank.
            write_row(ws, 4, &["", ""]);
            write_row(
                ws,
                5,
                &["T4", ID_A, "居民养老", "2022", "300", "2021-11-07"],
            );
        }),
    );
    let ds = f.load();
    let txns: Vec<String> = ds
        .payments()
        .iter()
        .map(|p| p.txn_id().to_string())
        .collect();
    assert_eq!(txns, ["T1", "T3", "T4"]);
    let rej = rejected_rows(&ds);
    assert_eq!(rej.len(), 1, "{rej:?}");
    assert_eq!(rej[0].0, 3);
    assert!(
        rej[0].1.contains("right of the header's 6 columns"),
        "{rej:?}"
    );
    assert!(rej[0].2.contains("T2"), "{rej:?}");
    let r = report(&ds, "payments.xlsx");
    assert_eq!((r.rows_read, r.rows_rejected, r.blank_rows), (4, 1, 1));
}

/// An id typed into Excel as a number lost its last digits wherever its column stands:
/// also right of the 64th column of a wide export.
#[test]
fn xlsx_numeric_ids_far_right_lost_their_digits() {
    let f = Folder::new();
    f.put("payments.csv", PAYMENTS);
    f.put(
        "hukou.xlsx",
        xlsx(|wb| {
            let ws = wb.add_worksheet();
            for c in 0..70u16 {
                ws.write_string(0, c, format!("备用{c}")).unwrap();
            }
            for (c, h) in [(66u16, "身份证号码"), (67, "姓名"), (68, "村居")] {
                ws.write_string(0, c, h).unwrap();
            }
            ws.write_number(1, 66, 371_323_198_001_016_073f64).unwrap();
            ws.write_string(1, 67, "李四").unwrap();
            ws.write_string(1, 68, "店子村").unwrap();
            ws.write_string(2, 66, ID_A).unwrap();
            ws.write_string(2, 67, "王涛").unwrap();
            ws.write_string(2, 68, "东关村").unwrap();
        }),
    );
    let ds = f.load();
    assert_eq!(ds.hukou().len(), 1);
    let rej = rejected_rows(&ds);
    assert_eq!(rej.len(), 1, "{rej:?}");
    assert_eq!(rej[0].0, 2);
    assert!(rej[0].1.contains("lost its last digits"), "{rej:?}");
}
