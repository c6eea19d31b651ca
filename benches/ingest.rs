//! Ingest throughput against the scan floor.
//!
//! Generates, once, a payments export of `N` rows (a deterministic generator below; `N` is
//! [`DEFAULT_ROWS`], or `QB_BENCH_ROWS` from the environment, or [`QUICK_ROWS`] in quick
//! test mode: `cargo bench --bench ingest -- --test`, or when run by `cargo test`), written
//! as UTF-8 and as GB18030 next to a small `hukou.csv`, and measures:
//!
//! - `load_utf8`, `load_gb18030`: `qianbiao_ingest::load` of the folder: read, decode,
//!   normalise every value, reject, dedupe.
//! - `floor_utf8`: polars' plain CSV reader on the same file, no normalisation.
//! - `floor_gb18030`: the file decoded with `encoding_rs`, then polars' CSV reader on the
//!   UTF-8 bytes in memory.
//!
//! The ratio load / floor is what normalising costs over merely scanning.

use std::hint::black_box;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use polars::prelude::{CsvReadOptions, CsvReader, DataFrame, SerReader};
use qianbiao_ingest::{load, LoadOptions};

/// Payments rows of a real run.
const DEFAULT_ROWS: usize = 1_000_000;
/// Payments rows in quick test mode.
const QUICK_ROWS: usize = 10_000;
/// Every `REJECT_EVERY`-th row (offset 13) has a negative amount and is rejected.
const REJECT_EVERY: usize = 997;

const HEADER: &str = "流水号,身份证号码,姓名,险种,费款所属期,缴费金额,缴费时间,缴费渠道,缴费类型,代办员编号,村居,收据号,缴费状态";
const AREAS: [&str; 4] = ["371323", "371302", "371321", "371312"];
const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: [&str; 12] = [
    "涛", "娜", "伟", "芳", "敏", "静", "磊", "强", "洋", "艳", "军", "杰",
];
const VILLAGES: [&str; 10] = [
    "东关村",
    "西关村",
    "南关村",
    "北关村",
    "城关社区",
    "河东村",
    "河西村",
    "前屯村",
    "后屯村",
    "李家庄",
];
const CHANNELS: [&str; 9] = [
    "微信",
    "支付宝",
    "电子税务局",
    "手机银行",
    "银行网点",
    "POS",
    "银联二维码",
    "裕农通",
    "现金收据",
];
const PENSION_TIERS: [u32; 6] = [100, 200, 300, 500, 800, 1000];

fn rows() -> usize {
    if let Ok(v) = std::env::var("QB_BENCH_ROWS") {
        return v
            .trim()
            .replace('_', "")
            .parse()
            .expect("QB_BENCH_ROWS: a row count");
    }
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
    if quick {
        QUICK_ROWS
    } else {
        DEFAULT_ROWS
    }
}

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A valid 18-digit id number for a person index (GB 11643 check digit).
fn id_of(person: u64) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let area = AREAS[(person % 4) as usize];
    let year = 1940 + person / 4 % 70;
    let month = 1 + person / 280 % 12;
    let day = 1 + person / 3360 % 28;
    let seq = person / 94080 % 1000;
    let body = format!("{area}{year:04}{month:02}{day:02}{seq:03}");
    let sum: u32 = body
        .bytes()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    format!("{body}{}", char::from(C[(sum % 11) as usize]))
}

fn name_of(person: u64) -> String {
    format!(
        "{}{}",
        SURNAMES[(person % 10) as usize],
        GIVEN[(person / 10 % 12) as usize]
    )
}

/// The payments export as UTF-8 text, and how many of its rows `load` must reject.
fn payments_csv(n: usize) -> (String, usize) {
    let mut rng = Rng(0x5EED);
    let mut out = String::with_capacity(n * 160);
    out.push_str(HEADER);
    out.push('\n');
    let people = (n as u64 / 2).max(1);
    let mut rejected = 0;
    for i in 0..n {
        let person = rng.below(people);
        let pension = rng.below(3) == 0;
        let scheme = if pension {
            "城乡居民基本养老保险"
        } else {
            "城乡居民基本医疗保险"
        };
        let amount = if pension {
            PENSION_TIERS[rng.below(PENSION_TIERS.len() as u64) as usize]
        } else {
            380
        };
        // A few spellings of money, all early enough for polars to infer a text column.
        let amount = if i % REJECT_EVERY == 13 {
            rejected += 1;
            format!("-{amount}")
        } else {
            match i % 50 {
                0 => format!("{amount}元"),
                25 => format!("¥{amount}"),
                _ => format!("{amount}.00"),
            }
        };
        // 2021-09-01 plus up to 120 days, with a time of day.
        let day = rng.below(120) as i64;
        let date = chrono_like_date(day);
        let secs = rng.below(86_400);
        let paid_at = format!(
            "{date} {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        let channel = CHANNELS[rng.below(CHANNELS.len() as u64) as usize];
        let government = rng.below(20) == 0;
        let payer_type = if government {
            "政府代缴"
        } else {
            "个人缴费"
        };
        let collected = !government && rng.below(5) == 0;
        let collector = if collected {
            format!("C{:03}", rng.below(40))
        } else {
            String::new()
        };
        let receipt = if collected {
            format!("R{i:08}")
        } else {
            String::new()
        };
        let village = VILLAGES[(person % VILLAGES.len() as u64) as usize];
        let status = if rng.below(100) == 0 {
            "已退费"
        } else {
            "成功"
        };
        let id = id_of(person);
        let name = name_of(person);
        out.push_str(&format!(
            "T{i:09},{id},{name},{scheme},2022,{amount},{paid_at},{channel},{payer_type},{collector},{village},{receipt},{status}\n"
        ));
    }
    (out, rejected)
}

/// `YYYY-MM-DD` of 2021-09-01 plus `day` days (0..120), without a date library.
fn chrono_like_date(day: i64) -> String {
    const MONTHS: [(u32, i64); 4] = [(9, 30), (10, 31), (11, 30), (12, 31)];
    let mut d = day;
    for (m, len) in MONTHS {
        if d < len {
            return format!("2021-{m:02}-{:02}", d + 1);
        }
        d -= len;
    }
    unreachable!("day {day} is past the generated range")
}

fn hukou_csv() -> String {
    let mut out = String::from("公民身份号码,姓名,村居\n");
    for p in 0..100u64 {
        out.push_str(&format!(
            "{},{},{}\n",
            id_of(p),
            name_of(p),
            VILLAGES[(p % 10) as usize]
        ));
    }
    out
}

fn gb18030(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable, "the generator writes only GB18030 characters");
    bytes.into_owned()
}

struct Data {
    _tmp: tempfile::TempDir,
    n: usize,
    rejected: usize,
    utf8_dir: PathBuf,
    gb_dir: PathBuf,
}

impl Data {
    fn generate(n: usize) -> Data {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let utf8_dir = tmp.path().join("utf8");
        let gb_dir = tmp.path().join("gb18030");
        std::fs::create_dir_all(&utf8_dir).unwrap();
        std::fs::create_dir_all(&gb_dir).unwrap();
        let (payments, rejected) = payments_csv(n);
        let hukou = hukou_csv();
        std::fs::write(utf8_dir.join("hukou.csv"), &hukou).unwrap();
        std::fs::write(utf8_dir.join("payments.csv"), &payments).unwrap();
        std::fs::write(gb_dir.join("hukou.csv"), gb18030(&hukou)).unwrap();
        let gb = gb18030(&payments);
        assert!(std::str::from_utf8(&gb).is_err());
        std::fs::write(gb_dir.join("payments.csv"), gb).unwrap();
        Data {
            _tmp: tmp,
            n,
            rejected,
            utf8_dir,
            gb_dir,
        }
    }

    /// Loads once and checks that every row is accounted for.
    fn check(&self, dir: &Path, format: &str) {
        let ds = load_dir(dir);
        let r = ds
            .reports
            .iter()
            .find(|r| r.path == "payments.csv")
            .unwrap();
        assert_eq!(r.format, format);
        assert_eq!(r.rows_read as usize, self.n);
        assert_eq!(r.rows_rejected as usize, self.rejected);
        assert_eq!(ds.payments().len(), self.n - self.rejected);
        assert_eq!(ds.hukou().len(), 100);
        let size = std::fs::metadata(dir.join("payments.csv")).unwrap().len();
        eprintln!(
            "{format}: {} rows, {:.1} MiB, {} rejected",
            self.n,
            size as f64 / (1024.0 * 1024.0),
            self.rejected
        );
    }
}

fn load_dir(dir: &Path) -> qianbiao_ingest::Dataset {
    load(
        dir,
        &LoadOptions {
            year: 2022,
            progress: None,
            columns: None,
        },
    )
    .expect("load")
}

fn floor_utf8(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .expect("open")
        .finish()
        .expect("polars reads the UTF-8 file")
}

fn floor_gb18030(path: &Path) -> DataFrame {
    let bytes = std::fs::read(path).expect("read");
    let text = encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(&bytes)
        .expect("GB18030 text");
    CsvReader::new(Cursor::new(text.into_owned().into_bytes()))
        .finish()
        .expect("polars reads the decoded file")
}

fn bench_ingest(c: &mut Criterion) {
    let n = rows();
    let data = Data::generate(n);
    data.check(&data.utf8_dir, "csv utf-8");
    data.check(&data.gb_dir, "csv gb18030");
    let utf8_payments = data.utf8_dir.join("payments.csv");
    let gb_payments = data.gb_dir.join("payments.csv");
    assert_eq!(floor_utf8(&utf8_payments).shape(), (n, 13));
    assert_eq!(floor_gb18030(&gb_payments).shape(), (n, 13));

    let mut group = c.benchmark_group("ingest");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(n as u64));
    group.bench_function("load_utf8", |b| {
        b.iter(|| black_box(load_dir(&data.utf8_dir).payments.amount.len()))
    });
    group.bench_function("load_gb18030", |b| {
        b.iter(|| black_box(load_dir(&data.gb_dir).payments.amount.len()))
    });
    group.bench_function("floor_utf8", |b| {
        b.iter(|| black_box(floor_utf8(&utf8_payments).height()))
    });
    group.bench_function("floor_gb18030", |b| {
        b.iter(|| black_box(floor_gb18030(&gb_payments).height()))
    });
    group.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
