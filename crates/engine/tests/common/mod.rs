//! A tiny town builder for rule fixtures: a few CSV rows per source, loaded through the
//! real ingest, run through every rule.
#![allow(dead_code)]

use std::collections::BTreeMap;

use qianbiao_core::id::check_digit;
use qianbiao_core::{Finding, Policy};

/// A valid id for a birth date `YYYYMMDD` and a sequence number.
pub fn id(birth: &str, seq: u32) -> String {
    let body = format!("371323{birth}{:03}", seq % 1000);
    format!("{body}{}", check_digit(&body).unwrap())
}

/// A valid id of someone born on Jan 1 of `year`.
pub fn born(year: i32, seq: u32) -> String {
    id(&format!("{year}0101"), seq)
}

/// A payments row with defaults: individual, 2022, status 成功, no collector.
#[derive(Clone)]
pub struct Pay {
    pub txn: String,
    pub id: String,
    pub name: String,
    pub scheme: String,
    pub period: String,
    pub amount: String,
    pub paid_at: String,
    pub payer: String,
    pub collector: String,
    pub receipt: String,
    pub account: String,
    pub deposit: String,
    pub status: String,
    pub village: String,
}

pub const PAY_HEADER: &str =
    "txn_id,id_number,name,scheme,period,amount,paid_at,payer_type,collector_id,receipt_no,payer_account,deposit_id,status,village";

pub fn pay(txn: &str, id: &str, scheme: &str, amount: &str, paid_at: &str) -> Pay {
    Pay {
        txn: txn.into(),
        id: id.into(),
        name: String::new(),
        scheme: scheme.into(),
        period: "2022".into(),
        amount: amount.into(),
        paid_at: paid_at.into(),
        payer: String::new(),
        collector: String::new(),
        receipt: String::new(),
        account: String::new(),
        deposit: String::new(),
        status: String::new(),
        village: String::new(),
    }
}

pub fn med(txn: &str, id: &str, amount: &str, paid_at: &str) -> Pay {
    pay(txn, id, "resident_medical", amount, paid_at)
}

pub fn pen(txn: &str, id: &str, amount: &str, paid_at: &str) -> Pay {
    pay(txn, id, "resident_pension", amount, paid_at)
}

impl Pay {
    pub fn gov(mut self) -> Self {
        self.payer = "政府代缴".into();
        self
    }
    pub fn back(mut self) -> Self {
        self.payer = "补缴".into();
        self
    }
    pub fn status(mut self, s: &str) -> Self {
        self.status = s.into();
        self
    }
    pub fn period(mut self, p: &str) -> Self {
        self.period = p.into();
        self
    }
    pub fn name(mut self, n: &str) -> Self {
        self.name = n.into();
        self
    }
    pub fn collector(mut self, c: &str, receipt: &str, deposit: &str) -> Self {
        self.collector = c.into();
        self.receipt = receipt.into();
        self.deposit = deposit.into();
        self
    }
    pub fn receipt(mut self, r: &str) -> Self {
        self.receipt = r.into();
        self
    }
    pub fn village(mut self, v: &str) -> Self {
        self.village = v.into();
        self
    }
    pub fn account(mut self, a: &str) -> Self {
        self.account = a.into();
        self
    }
    pub fn line(&self) -> String {
        [
            &self.txn,
            &self.id,
            &self.name,
            &self.scheme,
            &self.period,
            &self.amount,
            &self.paid_at,
            &self.payer,
            &self.collector,
            &self.receipt,
            &self.account,
            &self.deposit,
            &self.status,
            &self.village,
        ]
        .map(|s| s.as_str())
        .join(",")
    }
}

/// Files of a town: `hukou.csv` etc., written when run.
#[derive(Default, Clone)]
pub struct Town {
    files: BTreeMap<String, Vec<String>>,
    pub as_of: Option<&'static str>,
    /// `deaths.csv` rows with an invalid id: (id, name, death date, line).
    mistyped_deaths: Vec<(String, String, String, u32)>,
    /// txn_ids whose id is marked as lost digits (an Excel numeric cell).
    lost: Vec<String>,
    /// Control totals: (file, line, label, stated, sum, rows).
    totals: Vec<(String, u32, String, String, String, u32)>,
    /// Rows of sources other than `deaths` the fixture means to be rejected.
    pub rejects: usize,
}

impl Town {
    pub fn new() -> Self {
        let mut t = Town::default();
        t.files.insert(
            "hukou.csv".into(),
            vec!["id_number,name,village,household_no,status,status_date".into()],
        );
        t.files
            .insert("payments.csv".into(), vec![PAY_HEADER.into()]);
        t
    }

    /// Adds raw lines to a file, creating it with `header` if new.
    pub fn rows(mut self, file: &str, header: &str, lines: &[String]) -> Self {
        let f = self
            .files
            .entry(file.into())
            .or_insert_with(|| vec![header.into()]);
        f.extend(lines.iter().cloned());
        self
    }

    /// Sets a file to exactly `preamble` then `lines` (no header added).
    pub fn rows_replace(mut self, file: &str, preamble: &[String], lines: &[String]) -> Self {
        let mut all = preamble.to_vec();
        all.extend(lines.iter().cloned());
        self.files.insert(file.into(), all);
        self
    }

    /// A resident with status 正常 in 店子村, household of their own id.
    pub fn resident(self, id: &str) -> Self {
        self.resident_in(id, "店子村", &format!("H{id}"))
    }

    pub fn resident_in(self, id: &str, village: &str, household: &str) -> Self {
        self.hukou(&format!(
            "{id},居民{},{village},{household},正常,",
            &id[14..]
        ))
    }

    pub fn hukou(self, line: &str) -> Self {
        self.rows("hukou.csv", "", &[line.into()])
    }

    pub fn pays(self, pays: &[Pay]) -> Self {
        let lines: Vec<String> = pays.iter().map(Pay::line).collect();
        self.rows("payments.csv", PAY_HEADER, &lines)
    }

    pub fn pays_in(self, file: &str, pays: &[Pay]) -> Self {
        let lines: Vec<String> = pays.iter().map(Pay::line).collect();
        self.rows(file, PAY_HEADER, &lines)
    }

    pub fn deaths(self, lines: &[String]) -> Self {
        self.rows("deaths.csv", "id_number,death_date,source", lines)
    }

    pub fn elig(self, lines: &[String]) -> Self {
        self.rows(
            "eligibility.csv",
            "id_number,category,disability_level,valid_from,valid_to",
            lines,
        )
    }

    pub fn regs(self, lines: &[String]) -> Self {
        self.rows(
            "registrations.csv",
            "id_number,scheme,start_date,end_date",
            lines,
        )
    }

    pub fn receipts(self, lines: &[String]) -> Self {
        self.rows(
            "receipts.csv",
            "receipt_no,collector_id,id_number,scheme,amount,collected_at",
            lines,
        )
    }

    pub fn deposits(self, lines: &[String]) -> Self {
        self.rows(
            "deposits.csv",
            "deposit_id,collector_id,amount,deposited_at,person_count",
            lines,
        )
    }

    pub fn roster(self, lines: &[String]) -> Self {
        self.rows("roster.csv", "id_number,scheme,expected_amount", lines)
    }

    /// A `deaths.csv` row (header `id_number,name,death_date`) with an invalid id: rejected,
    /// and kept for identity linkage.
    pub fn mistyped_death(mut self, id: &str, name: &str, death_date: &str) -> Self {
        let f = self
            .files
            .entry("deaths.csv".into())
            .or_insert_with(|| vec!["id_number,name,death_date".into()]);
        assert_eq!(f[0], "id_number,name,death_date", "deaths.csv header");
        f.push(format!("{id},{name},{death_date}"));
        let line = f.len() as u32;
        self.mistyped_deaths
            .push((id.into(), name.into(), death_date.into(), line));
        self
    }

    /// A valid-id `deaths.csv` row in the same header as [`Town::mistyped_death`].
    pub fn named_death(mut self, id: &str, name: &str, death_date: &str) -> Self {
        let f = self
            .files
            .entry("deaths.csv".into())
            .or_insert_with(|| vec!["id_number,name,death_date".into()]);
        f.push(format!("{id},{name},{death_date}"));
        self
    }

    /// Marks the payment `txn` as read from an Excel numeric id cell that lost its digits.
    pub fn lost(mut self, txn: &str) -> Self {
        self.lost.push(txn.into());
        self
    }

    /// A control total as the reader reports it.
    pub fn control_total(
        mut self,
        file: &str,
        line: u32,
        label: &str,
        stated: &str,
        sum: &str,
        rows: u32,
    ) -> Self {
        self.totals.push((
            file.into(),
            line,
            label.into(),
            stated.into(),
            sum.into(),
            rows,
        ));
        self
    }

    /// Expects `n` rows of sources other than `deaths` to be rejected.
    pub fn rejecting(mut self, n: usize) -> Self {
        self.rejects = n;
        self
    }

    pub fn with_as_of(mut self, d: &'static str) -> Self {
        self.as_of = Some(d);
        self
    }

    /// Writes the files, loads them and runs every rule.
    pub fn run(&self) -> Vec<Finding> {
        let dir = tempfile::tempdir().unwrap();
        for (name, lines) in &self.files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, lines.join("\n") + "\n").unwrap();
        }
        let policy = Policy::dianzi_2022();
        let ds = qianbiao_ingest::load(
            dir.path(),
            &qianbiao_ingest::LoadOptions {
                year: 2022,
                progress: None,
                columns: None,
            },
        )
        .unwrap();
        let mut ds = ds;
        let rejected_deaths = ds.rejected.iter().filter(|r| r.source == "deaths").count();
        assert_eq!(
            ds.rejected.len() - rejected_deaths,
            self.rejects,
            "fixture rows rejected: {:?}",
            ds.rejected
        );
        assert_eq!(
            rejected_deaths,
            self.mistyped_deaths.len(),
            "{:?}",
            ds.rejected
        );
        self.plant_reader_fields(&mut ds);
        let given = self
            .as_of
            .map(|d| qianbiao_core::date::parse_date(d).unwrap());
        let (as_of, _) = qianbiao_engine::resolve_as_of(&ds, &policy, given);
        let ctx = qianbiao_rules::Context::new(&ds, &policy, as_of);
        qianbiao_engine::run_rules(&ctx).0
    }

    /// The fields the reader fills for real exports (linkable deaths, lost ids, control
    /// totals): set from the plan where the reader leaves them empty, else checked equal.
    fn plant_reader_fields(&self, ds: &mut qianbiao_ingest::Dataset) {
        use qianbiao_ingest::{ControlTotal, LinkableDeath, Prov};
        let file_of = |name: &str| ds.files.iter().position(|f| f == name).unwrap() as u32;
        let deaths: Vec<LinkableDeath> = self
            .mistyped_deaths
            .iter()
            .map(|(id, name, date, line)| LinkableDeath {
                id: id.as_str().into(),
                id_lost: false,
                name: name.as_str().into(),
                death_date: qianbiao_core::date::parse_date(date).unwrap(),
                prov: Prov {
                    file: file_of("deaths.csv"),
                    line: *line,
                },
            })
            .collect();
        if ds.linkable_deaths.is_empty() {
            ds.linkable_deaths = deaths;
        } else {
            assert_eq!(ds.linkable_deaths, deaths);
        }
        let pays = &mut ds.payments;
        for i in 0..pays.txn_id.len() {
            if self.lost.iter().any(|t| t == pays.txn_id.get(i)) {
                pays.id_lost[i] = true;
                pays.id_valid[i] = false;
            }
        }
        for (file, line, label, stated, sum, rows) in &self.totals {
            ds.control_totals.push(ControlTotal {
                file: file_of(file),
                line: *line,
                label: label.as_str().into(),
                stated: qianbiao_core::money::parse_amount(stated).unwrap(),
                sum: qianbiao_core::money::parse_amount(sum).unwrap(),
                rows: *rows,
            });
        }
    }

    /// The (key, amount) pairs of one rule's findings.
    pub fn fired(&self, rule: &str) -> Vec<(String, String)> {
        self.run()
            .into_iter()
            .filter(|f| f.rule == rule)
            .map(|f| (f.key, f.amount.to_string()))
            .collect()
    }
}

/// `[(key, amount)]` from string pairs, for assertions.
pub fn expect(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, a)| (k.to_string(), a.to_string()))
        .collect()
}

impl Town {
    /// Writes the files and runs the whole engine (`compute`) in `k` partitions. Only
    /// what the reader itself finds: no planted reader fields.
    pub fn run_partitioned(&self, k: usize) -> Vec<Finding> {
        self.compute_partitioned(k).findings
    }

    /// As [`Town::run_partitioned`], the whole outcome.
    pub fn compute_partitioned(&self, k: usize) -> qianbiao_engine::Outcome {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        for (name, lines) in &self.files {
            let path = data.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, lines.join("\n") + "\n").unwrap();
        }
        let out = dir.path().join("out");
        let opts = qianbiao_engine::RunOptions {
            data,
            out: out.clone(),
            pipeline: qianbiao_core::policy::Pipeline::from_toml(
                qianbiao_core::policy::DIANZI_2022,
            )
            .unwrap(),
            pipeline_source: "test".into(),
            as_of: self
                .as_of
                .map(|d| qianbiao_core::date::parse_date(d).unwrap()),
            progress: None,
            mask: false,
            partitioning: qianbiao_engine::Partitioning::Partitions(k),
            runner: None,
        };
        let o = qianbiao_engine::compute(&opts).unwrap();
        assert_eq!(o.partitions.len(), k);
        o
    }
}
