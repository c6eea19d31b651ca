//! The finding builders: a finding's person, collector, scheme, amount and evidence
//! columns filled the same way by every rule.

use qianbiao_core::{Fen, Finding};

use crate::Context;

impl Context<'_> {
    /// Fills a finding's person columns from an id: hukou's name and village where the id
    /// is in hukou, else the given fallbacks.
    pub fn fill_person(&self, f: &mut Finding, id: &str, name: &str, village: &str) {
        f.id_number = id.to_string();
        let h = self.person_of(id).and_then(|p| self.hukou(p));
        f.name = h.map_or(name, |h| h.name()).to_string();
        f.village = h.map_or(village, |h| h.village()).to_string();
    }

    /// A finding about one payment: person, collector, scheme, period, amount, txn and source.
    pub fn payment_finding(&self, meta: &crate::RuleMeta, i: u32, key: String) -> Finding {
        let p = self.payment(i);
        let mut f = Finding::new(meta.code, meta.severity, key);
        self.fill_person(&mut f, &p.id(), p.name(), p.village());
        f.collector_id = p.collector_id().to_string();
        f.scheme = Some(p.scheme());
        f.period = Some(p.period());
        f.amount = p.amount();
        f.txn_ids.push(p.txn_id().to_string());
        f.sources.push(self.src(p.prov()));
        f
    }

    /// The distinct non-empty collectors of some payments, sorted and joined by `;`.
    pub fn collectors_of(&self, rows: &[u32]) -> String {
        let mut collectors: Vec<&str> = rows
            .iter()
            .map(|&i| self.payment(i).collector_id())
            .filter(|c| !c.is_empty())
            .collect();
        collectors.sort_unstable();
        collectors.dedup();
        collectors.join(";")
    }

    /// A finding over the `receipts` rows of one receipt number: the first row's person,
    /// collector, scheme and period; the rows' amounts added; every row as evidence.
    pub fn receipt_finding(&self, meta: &crate::RuleMeta, no: &str, rows: &[u32]) -> Finding {
        let r = self.receipt(rows[0]);
        let mut f = Finding::new(meta.code, meta.severity, no);
        self.fill_person(&mut f, &r.id(), r.name(), r.village());
        f.collector_id = r.collector_id().to_string();
        f.scheme = Some(r.scheme());
        f.period = Some(r.period());
        f.amount = rows.iter().map(|&i| self.receipt(i).amount()).sum();
        f.sources = rows
            .iter()
            .map(|&i| self.src(self.receipt(i).prov()))
            .collect();
        f
    }

    /// A finding over several payments of one person and scheme, keyed `ID|SCHEME|Y`.
    pub fn person_scheme_finding(
        &self,
        meta: &crate::RuleMeta,
        rows: &[u32],
        amount: Fen,
    ) -> Finding {
        let first = self.payment(rows[0]);
        let key = format!("{}|{}|{}", first.id(), first.scheme(), first.period());
        let mut f = Finding::new(meta.code, meta.severity, key);
        self.fill_person(&mut f, &first.id(), first.name(), first.village());
        f.scheme = Some(first.scheme());
        f.period = Some(first.period());
        f.amount = amount;
        f.collector_id = self.collectors_of(rows);
        self.cite_payments(&mut f, rows);
        f
    }

    /// Adds payments to a finding's evidence: their txn_ids and `file:line`.
    pub fn cite_payments(&self, f: &mut Finding, rows: &[u32]) {
        for &i in rows {
            let p = self.payment(i);
            f.txn_ids.push(p.txn_id().to_string());
            f.sources.push(self.src(p.prov()));
        }
    }
}
