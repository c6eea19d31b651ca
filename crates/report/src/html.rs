//! `report.html`, the reviewers' report (`operations.md`, The reviewers' report): one
//! self-contained file, in Chinese, that opens offline. The summary and the charts are
//! written here as HTML and inline SVG; the findings are embedded as JSON and shown by a
//! small inline script page by page, searchable and sortable, so that 100k findings stay
//! responsive. Nothing is loaded from elsewhere (a Content-Security-Policy says so too).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use qianbiao_core::{ChangeKind, Fen};

use crate::charts;
use crate::review::{band_zh, family_zh, severity_zh, Review};
use crate::ReportError;

const CSS: &str = include_str!("assets/report.css");
const JS: &str = include_str!("assets/report.js");

/// Bars per chart: the rest are summed into one bar.
const TOP: usize = 20;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `1234567.89` with thousands separators, from fen.
fn yuan(f: Fen) -> String {
    let s = f.to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", int),
    };
    let mut out = String::from(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{frac}")
}

fn fen_f64(f: Fen) -> f64 {
    f.0 as f64 / 100.0
}

/// A writer that writes `<` as `\u003c`, for JSON in a `<script type="application/json">`
/// element: no text can close it. `<` is one byte in UTF-8 and never part of another
/// character's bytes, and in JSON it can only stand inside a string, where `\u003c` reads
/// back as `<`.
struct NoLt<W>(W);

impl<W: std::io::Write> std::io::Write for NoLt<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'<') {
            self.0.write_all(&rest[..i])?;
            self.0.write_all(b"\\u003c")?;
            rest = &rest[i + 1..];
        }
        self.0.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Writes `report.html`.
pub fn write_report_html(path: &Path, r: &Review) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        file: path.display().to_string(),
        source,
    };
    let mut f =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(io)?);
    write_report(&mut f, r).map_err(io)?;
    f.flush().map_err(io)
}

/// The report as one HTML text (what [`write_report_html`] writes).
pub fn report_html(r: &Review) -> String {
    let mut out = Vec::with_capacity(64 * 1024 + r.findings.len() * 320);
    write_report(&mut out, r).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("the report is UTF-8")
}

/// Writes the report to `w`: the summary, charts and tables as HTML, then the findings as
/// JSON a row at a time, so that a province's findings are never held a second time as
/// one text (1.8M findings made a 690 MB report, built three times over in memory).
pub fn write_report(w: &mut impl std::io::Write, r: &Review) -> std::io::Result<()> {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!("疑点报告 · {} · 截至 {}", r.pipeline, r.as_of);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<script>window.__qbErrors=[];\
         window.addEventListener('error',function(e){{window.__qbErrors.push(String(e.message))}});\
         (function(){{var ce=console.error;console.error=function(){{window.__qbErrors.push(Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments)}}}})();</script>\n\
         <style>{CSS}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    let _ = write!(
        h,
        "<header><h1>城乡居民两险征缴 疑点报告</h1><p>方案 {} · 截至 {}{}</p></header>\n\
         <nav><a href=\"#summary\">概要</a><a href=\"#charts\">图表</a>{}<a href=\"#findings\">疑点明细</a></nav>\n<main>\n",
        esc(r.pipeline),
        r.as_of,
        if r.masked {
            "<span class=\"mask\">已脱敏：身份证号、姓名已隐去部分字符</span>"
        } else {
            ""
        },
        if r.changes.is_some() {
            "<a href=\"#changes\">与上次比较</a>"
        } else {
            ""
        },
    );
    summary(&mut h, r);
    if let Some(changes) = r.changes {
        changes_section(&mut h, r, changes);
    }
    charts_section(&mut h, r);
    findings_section(&mut h, r);
    let _ = write!(
        h,
        "</main>\n<footer>钱表 qianbiao · 截至 {} · 本报告为离线文件，数据均嵌入其中</footer>\n",
        r.as_of
    );
    h.push_str("<script type=\"application/json\" id=\"qb-data\">");
    w.write_all(h.as_bytes())?;
    drop(h);
    write_data(&mut NoLt(&mut *w), r)?;
    w.write_all(b"</script>\n<script>")?;
    w.write_all(JS.as_bytes())?;
    w.write_all(b"</script>\n</body>\n</html>\n")
}

fn summary(h: &mut String, r: &Review) {
    let totals = r.rule_totals();
    let n: u64 = totals.iter().map(|t| t.count).sum();
    let amount: Fen = totals.iter().map(|t| t.amount).sum();
    let (read, accepted, rejected) = r.rows();
    // Persons by their numbers: masked ids may be alike for two persons.
    let persons = r
        .persons
        .iter()
        .filter(|&&p| p != 0)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let _ = write!(
        h,
        "<section id=\"summary\"><h2>概要</h2>\n<div class=\"cards\">\
         <div class=\"card\"><b id=\"qb-total-count\">{n}</b><span>疑点（条）</span></div>\
         <div class=\"card\"><b id=\"qb-total-amount\">{}</b><span>涉及金额（元）</span></div>\
         <div class=\"card\"><b>{persons}</b><span>涉及人员（人）</span></div>\
         <div class=\"card\"><b>{read}</b><span>读入行数</span></div>\
         <div class=\"card\"><b>{rejected}</b><span>拒收行数（见 rejected.csv）</span></div>\
         <div class=\"card\"><b>{}</b><span>截至日期</span></div></div>\n",
        yuan(amount),
        r.as_of
    );
    // Family × severity.
    let mut fam: BTreeMap<(&str, u8), (u64, Fen)> = BTreeMap::new();
    for t in &totals {
        let e = fam
            .entry((family_key(t.meta.code), t.meta.severity as u8))
            .or_default();
        e.0 += t.count;
        e.1 += t.amount;
    }
    h.push_str(
        "<h3>按规则类别与严重程度</h3><table><thead><tr><th>类别</th><th class=\"n\">高：条数</th><th class=\"n\">高：金额</th>\
         <th class=\"n\">中：条数</th><th class=\"n\">中：金额</th><th class=\"n\">低：条数</th><th class=\"n\">低：金额</th></tr></thead><tbody>",
    );
    let mut families: Vec<&str> = Vec::new();
    for t in &totals {
        let k = family_key(t.meta.code);
        if !families.contains(&k) {
            families.push(k);
        }
    }
    for k in families {
        let _ = write!(h, "<tr><td>{} {}</td>", k, family_zh(k));
        for s in 0..3u8 {
            match fam.get(&(k, s)) {
                Some((c, a)) => {
                    let _ = write!(
                        h,
                        "<td class=\"n\">{c}</td><td class=\"n\">{}</td>",
                        yuan(*a)
                    );
                }
                None => h.push_str("<td class=\"n\">–</td><td class=\"n\">–</td>"),
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>\n");
    h.push_str(
        "<h3>按规则</h3><p class=\"note\">点击一行查看该规则的疑点。</p><table id=\"rules\"><thead><tr><th>规则</th><th>名称</th><th>类别</th><th>严重程度</th>\
         <th class=\"n\">条数</th><th class=\"n\">金额（元）</th><th>状态</th></tr></thead><tbody>",
    );
    for t in &totals {
        let sev = severity_zh(t.meta.severity);
        let status = match &t.skipped {
            None => "已运行".to_string(),
            Some(why) => format!("未运行：{}", esc(&skip_zh(why))),
        };
        let _ = write!(
            h,
            "<tr data-rule=\"{code}\"{cls}><td>{code}</td><td>{name}</td><td>{fam}</td><td><span class=\"sev sev-{sev}\">{sev}</span></td>\
             <td class=\"n c-count\">{count}</td><td class=\"n c-amount\">{amount}</td><td>{status}</td></tr>",
            code = t.meta.code,
            cls = if t.skipped.is_some() { " class=\"skipped\"" } else { "" },
            name = esc(t.meta.name_zh),
            fam = family_zh(t.meta.code),
            count = t.count,
            amount = yuan(t.amount),
        );
    }
    let _ = writeln!(
        h,
        "<tr class=\"total\"><td colspan=\"4\">合计</td><td class=\"n\">{n}</td><td class=\"n\">{}</td><td></td></tr></tbody></table>",
        yuan(amount)
    );
    h.push_str(
        "<h3>输入文件</h3><table><thead><tr><th>来源</th><th>文件</th><th>格式</th><th class=\"n\">读入</th>\
         <th class=\"n\">采用</th><th class=\"n\">拒收</th><th class=\"n\">重复行</th></tr></thead><tbody>",
    );
    for f in r.inputs {
        let _ = write!(
            h,
            "<tr><td>{} {}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            f.source,
            source_zh(f.source),
            esc(&f.path),
            esc(f.format),
            f.rows_read,
            f.rows_accepted,
            f.rows_rejected,
            f.duplicate_rows
        );
    }
    let _ = write!(
        h,
        "<tr class=\"total\"><td colspan=\"3\">合计</td><td class=\"n\">{read}</td><td class=\"n\">{accepted}</td><td class=\"n\">{rejected}</td><td></td></tr></tbody></table>\n</section>\n"
    );
}

fn family_key(code: &str) -> &str {
    code.split('-').next().unwrap_or(code)
}

/// The Chinese of a rule's skip reason (`source missing: deaths, receipts`), as the
/// report and the workbook show it.
pub(crate) fn skip_zh(why: &str) -> String {
    match why.strip_prefix("source missing: ") {
        Some(list) => format!(
            "缺少数据 {}",
            list.split(", ")
                .map(|s| format!("{}（{s}）", source_zh(s)))
                .collect::<Vec<_>>()
                .join("、")
        ),
        None => why.to_string(),
    }
}

fn source_zh(s: &str) -> &'static str {
    match s {
        "hukou" => "户籍",
        "deaths" => "死亡人员",
        "eligibility" => "特殊群体",
        "registrations" => "参保登记",
        "payments" => "缴费明细",
        "receipts" => "收款登记",
        "deposits" => "解缴入库",
        "roster" => "征收清册",
        _ => "",
    }
}

fn changes_section(h: &mut String, r: &Review, changes: &[qianbiao_core::Change]) {
    let kinds = [
        ChangeKind::New,
        ChangeKind::Changed,
        ChangeKind::Persisting,
        ChangeKind::Resolved,
    ];
    let mut by: BTreeMap<(&str, ChangeKind), (u64, Fen)> = BTreeMap::new();
    let mut tot: BTreeMap<ChangeKind, (u64, Fen)> = BTreeMap::new();
    for c in changes {
        let a = c.amount.or(c.previous_amount).unwrap_or(Fen::ZERO);
        for e in [
            by.entry((c.rule.as_str(), c.change)).or_default(),
            tot.entry(c.change).or_default(),
        ] {
            e.0 += 1;
            e.1 += a;
        }
    }
    h.push_str("<section id=\"changes\"><h2>与上次运行比较</h2><div class=\"cards\">");
    for k in kinds {
        let (n, a) = tot.get(&k).copied().unwrap_or_default();
        let _ = write!(
            h,
            "<div class=\"card\"><b>{n}</b><span>{}（{}），金额 {} 元</span></div>",
            k.zh(),
            k.as_str(),
            yuan(a)
        );
    }
    h.push_str(
        "</div><p class=\"note\">已消除的金额为上次运行的金额；逐条变化见 changes.csv。</p>",
    );
    h.push_str("<table><thead><tr><th>规则</th><th>名称</th>");
    for k in kinds {
        let _ = write!(h, "<th class=\"n\">{}</th>", k.zh());
    }
    h.push_str("</tr></thead><tbody>");
    let mut rules: Vec<&str> = changes.iter().map(|c| c.rule.as_str()).collect();
    rules.sort();
    rules.dedup();
    for rule in rules {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td>",
            esc(rule),
            esc(r.rule_name_zh(rule))
        );
        for k in kinds {
            let (n, _) = by.get(&(rule, k)).copied().unwrap_or_default();
            let _ = write!(h, "<td class=\"n\">{n}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></section>\n");
}

/// Sums per label, largest first; beyond [`TOP`] the rest become one bar.
fn top_bars(sums: BTreeMap<String, Fen>, rest_label: &str) -> (Vec<String>, Vec<f64>) {
    let mut v: Vec<(String, Fen)> = sums.into_iter().filter(|(_, a)| a.0 > 0).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if v.len() > TOP {
        let rest: Fen = v[TOP - 1..].iter().map(|x| x.1).sum();
        let k = v.len() - (TOP - 1);
        v.truncate(TOP - 1);
        v.push((format!("{rest_label}（其余 {k} 个）"), rest));
    }
    (
        v.iter().map(|x| x.0.clone()).collect(),
        v.iter().map(|x| fen_f64(x.1)).collect(),
    )
}

/// A chart with its title and note (`note` is HTML written here, never input text).
fn chart(h: &mut String, title: &str, note: &str, svg: &str) {
    let _ = writeln!(
        h,
        "<div class=\"chart\"><h3>{}</h3>{}{}</div>",
        esc(title),
        if note.is_empty() {
            String::new()
        } else {
            format!("<p class=\"note\">{note}</p>")
        },
        svg
    );
}

fn charts_section(h: &mut String, r: &Review) {
    h.push_str("<section id=\"charts\"><h2>图表</h2>\n");
    // By rule.
    let mut by_rule: BTreeMap<String, Fen> = BTreeMap::new();
    for t in r.rule_totals() {
        by_rule.insert(format!("{} {}", t.meta.code, t.meta.name_zh), t.amount);
    }
    let (l, v) = top_bars(by_rule, "其他规则");
    if l.is_empty() {
        chart(
            h,
            "涉及金额：按规则",
            "",
            "<p class=\"empty\">没有涉及金额的疑点。</p>",
        );
    } else {
        chart(
            h,
            "涉及金额：按规则",
            "只列出金额不为零的规则。一笔缴费可能同时属于几条疑点（如身份证号无效又重复缴费），各规则金额不宜相加。",
            &charts::hbar(&l, &v, "金额（元）"),
        );
    }
    let mut by_village: BTreeMap<String, Fen> = BTreeMap::new();
    let mut by_collector: BTreeMap<String, Fen> = BTreeMap::new();
    for f in r.findings {
        let v = if f.village.is_empty() {
            "（未知村）"
        } else {
            f.village.as_str()
        };
        *by_village.entry(v.to_string()).or_default() += f.amount;
        for c in f.collector_id.split(';').filter(|c| !c.is_empty()) {
            *by_collector.entry(c.to_string()).or_default() += f.amount;
        }
    }
    let (l, v) = top_bars(by_village, "其他村");
    chart(
        h,
        "涉及金额：按村",
        "",
        &if l.is_empty() {
            "<p class=\"empty\">无。</p>".to_string()
        } else {
            charts::hbar(&l, &v, "金额（元）")
        },
    );
    let (l, v) = top_bars(by_collector, "其他代办员");
    chart(
        h,
        "涉及金额：按代办员",
        "一条疑点涉及多名代办员时，金额计入每一名。",
        &if l.is_empty() {
            "<p class=\"empty\">无。</p>".to_string()
        } else {
            charts::hbar(&l, &v, "金额（元）")
        },
    );
    // Coverage per band.
    let mut bands: Vec<&str> = Vec::new();
    for c in r.coverage {
        if !bands.contains(&c.band.as_str()) {
            bands.push(&c.band);
        }
    }
    if bands.is_empty() {
        chart(h, "参保率", "", "<p class=\"empty\">没有参保率数据。</p>");
    }
    for band in bands {
        let rows: Vec<&qianbiao_core::summary::CoverageRow> = r
            .coverage
            .iter()
            .filter(|c| c.band == band && c.eligible > 0)
            .collect();
        let target = rows
            .iter()
            .find_map(|c| c.target)
            .map(|t| t.to_string().parse::<f64>().unwrap_or(0.0));
        let mut rates: Vec<charts::Rate> = rows
            .iter()
            .map(|c| charts::Rate {
                label: format!("{}（{}人）", c.village, c.eligible),
                rate: c
                    .rate()
                    .map(|x| x.to_string().parse().unwrap_or(0.0))
                    .unwrap_or(0.0),
                below: c.below_target().unwrap_or(false),
            })
            .collect();
        rates.sort_by(|a, b| {
            a.rate
                .total_cmp(&b.rate)
                .then_with(|| a.label.cmp(&b.label))
        });
        rates.truncate(40);
        let title = format!("参保率：{}", band_zh(band));
        let note = match target {
            Some(t) => format!("<span class=\"key\" style=\"background:#3a8f5c\"></span>达到目标 <span class=\"key\" style=\"background:#c0392b\"></span>低于目标 <span class=\"key dash\"></span>目标 {:.0}%。按参保率从低到高，最多 40 个村。", t * 100.0),
            None => "该人群没有数值目标（应保尽保）；按参保率从低到高。".to_string(),
        };
        let svg = if rates.is_empty() {
            "<p class=\"empty\">无应参保人员。</p>".to_string()
        } else {
            charts::coverage(&rates, target)
        };
        chart(h, &title, &note, &svg);
    }
    // Collectors' money.
    let mut cs: Vec<&crate::CollectorRow> = r.collectors.iter().collect();
    cs.sort_by(|a, b| {
        b.difference()
            .cmp(&a.difference())
            .then_with(|| a.collector_id.cmp(&b.collector_id))
    });
    let shown: Vec<charts::Held> = cs
        .iter()
        .take(TOP)
        .map(|c| charts::Held {
            label: c.collector_id.clone(),
            booked: fen_f64(c.amount),
            deposited: fen_f64(c.deposited_amount),
        })
        .collect();
    let held_total: Fen = r
        .collectors
        .iter()
        .map(|c| c.difference())
        .filter(|d| d.0 > 0)
        .sum();
    let note = format!(
        "<span class=\"key\" style=\"background:#b8cce0\"></span>已收（缴费明细） <span class=\"key\" style=\"background:#2f5d8a\"></span>已解缴；浅色露出的部分为仍在代办员手中的钱。按未解缴金额从多到少{}。全部代办员未解缴合计 {} 元。",
        if r.collectors.len() > TOP { format!("，列出前 {TOP} 名（共 {} 名）", r.collectors.len()) } else { String::new() },
        yuan(held_total)
    );
    let svg = if shown.is_empty() {
        "<p class=\"empty\">没有代办员数据。</p>".to_string()
    } else {
        charts::held(&shown)
    };
    chart(h, "代办员资金：已收、已解缴、未解缴", &note, &svg);
    h.push_str("</section>\n");
}

fn findings_section(h: &mut String, r: &Review) {
    h.push_str(
        "<section id=\"findings\"><h2>疑点明细</h2>\n<div class=\"controls\">\
         <input type=\"search\" id=\"qb-q\" placeholder=\"搜索：姓名、身份证号、村、代办员、交易号、说明、文件:行 …（空格分隔多个词）\" aria-label=\"搜索疑点\">\
         <select id=\"qb-rule\" aria-label=\"规则\"><option value=\"\">全部规则</option>",
    );
    for t in r.rule_totals().iter().filter(|t| t.count > 0) {
        let _ = write!(
            h,
            "<option value=\"{c}\">{c} {} （{}）</option>",
            esc(t.meta.name_zh),
            t.count,
            c = t.meta.code
        );
    }
    h.push_str(
        "</select><select id=\"qb-sev\" aria-label=\"严重程度\"><option value=\"\">全部严重程度</option>\
         <option value=\"高\">高</option><option value=\"中\">中</option><option value=\"低\">低</option></select>\
         <label><input type=\"checkbox\" id=\"qb-group\" checked> 按人员归并</label>\
         <select id=\"qb-size\" aria-label=\"每页条数\"><option value=\"50\">每页 50 条</option><option value=\"200\">每页 200 条</option></select>\
         </div>\n<p id=\"qb-stat\"></p><span id=\"qb-count\" hidden></span>\n\
         <table id=\"qb-table\"><thead><tr>",
    );
    // data-k: the column of the embedded rows this header sorts by.
    let heads: [(&str, i32); 9] = [
        ("规则", 1),
        ("严重程度", 2),
        ("姓名 / 身份证号", 5),
        ("村", 6),
        ("代办员", 7),
        ("险种 / 年度", 9),
        ("金额（元）", 10),
        ("说明", 12),
        ("证据（文件:行）/ 交易号", 13),
    ];
    for (name, k) in heads {
        let _ = write!(
            h,
            "<th class=\"s{}\" data-k=\"{k}\">{}</th>",
            if k == 10 { " n" } else { "" },
            esc(name)
        );
    }
    h.push_str(
        "</tr></thead><tbody id=\"qb-rows\"><tr><td colspan=\"9\">正在加载 …</td></tr></tbody></table>\n\
         <div class=\"pager\"><button id=\"qb-prev\">上一页</button><span id=\"qb-page\"></span><button id=\"qb-next\">下一页</button></div>\n</section>\n",
    );
}

/// The embedded data, `{"masked":…,"rows":[…],"rules":{…}}` (keys in that order, as a
/// JSON object's keys sort): rule names, and one array per finding (amount in fen), its
/// columns as `report.js` reads them.
fn write_data(w: &mut impl std::io::Write, r: &Review) -> std::io::Result<()> {
    let rules: BTreeMap<&str, (&str, &str)> = r
        .rules
        .iter()
        .map(|m| (m.code, (m.name_zh, severity_zh(m.severity))))
        .collect();
    w.write_all(b"{\"masked\":")?;
    w.write_all(if r.masked { b"true" } else { b"false" })?;
    w.write_all(b",\"rows\":[")?;
    for (i, ((f, id), who)) in r.findings.iter().zip(r.ids).zip(r.persons).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        let row = (
            id,
            f.rule,
            severity_zh(f.severity),
            &f.key,
            &f.id_number,
            &f.name,
            &f.village,
            &f.collector_id,
            f.scheme.map(|s| s.zh()).unwrap_or(""),
            f.period,
            f.amount.0,
            f.txn_ids.join(";"),
            &f.detail,
            f.sources.join(";"),
            who,
        );
        serde_json::to_writer(&mut *w, &row)?;
    }
    w.write_all(b"],\"rules\":")?;
    serde_json::to_writer(&mut *w, &rules)?;
    w.write_all(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn yuan_has_separators() {
        assert_eq!(yuan(Fen(123456789)), "1,234,567.89");
        assert_eq!(yuan(Fen(-32000)), "-320.00");
        assert_eq!(yuan(Fen(5)), "0.05");
    }

    #[test]
    fn persons_are_counted_and_grouped_by_their_numbers_not_by_the_ids_shown() {
        use qianbiao_core::{Finding, Severity};
        // Two persons whose masked ids are alike, and one finding without a person.
        let mut a = Finding::new("DUP-001", Severity::High, "a");
        a.id_number = "371323********0019".into();
        let mut b = Finding::new("DTH-001", Severity::High, "b");
        b.id_number = "371323********0019".into();
        let mut c = Finding::new("DTH-002", Severity::High, "c");
        c.id_number = "371323********0019".into();
        let none = Finding::new("MNY-003", Severity::Medium, "C1");
        let findings = vec![a, b, c, none];
        let ids = crate::finding_ids(&findings);
        // What the run numbers from the unmasked ids: a and c are one person, b another.
        let persons = [1, 2, 1, 0];
        let review = Review {
            as_of: chrono::NaiveDate::from_ymd_opt(2022, 1, 28).unwrap(),
            pipeline: "p",
            findings: &findings,
            ids: &ids,
            persons: &persons,
            collectors: &[],
            coverage: &[],
            changes: None,
            inputs: &[],
            rule_status: &[],
            masked: true,
            rules: &[],
        };
        let html = report_html(&review);
        assert!(
            html.contains("<b>2</b><span>涉及人员（人）</span>"),
            "persons card"
        );
        let rows = embedded(&html)["rows"].clone();
        let who: Vec<u64> = (0..4).map(|i| rows[i][14].as_u64().unwrap()).collect();
        assert_eq!(who, [1, 2, 1, 0]);
    }

    #[test]
    fn person_numbers_follow_the_ids_and_skip_findings_without_one() {
        use qianbiao_core::{Finding, Severity};
        let f = |id: &str| {
            let mut x = Finding::new("DUP-001", Severity::High, id);
            x.id_number = id.into();
            x
        };
        let findings = [
            f("371323198001010019"),
            f(""),
            f("110105194912310026"),
            f("371323198001010019"),
        ];
        assert_eq!(crate::person_numbers(&findings), [2, 0, 1, 2]);
    }

    /// The JSON embedded in a report, read back.
    fn embedded(html: &str) -> Value {
        let start = html.find("id=\"qb-data\">").unwrap() + "id=\"qb-data\">".len();
        let len = html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..start + len]).unwrap()
    }

    /// The embedded data as it was built before it was streamed: one JSON value, written
    /// whole, every `<` then replaced.
    fn data_as_one_value(r: &Review) -> String {
        let rules: serde_json::Map<String, Value> = r
            .rules
            .iter()
            .map(|m| {
                (
                    m.code.to_string(),
                    json!([m.name_zh, severity_zh(m.severity)]),
                )
            })
            .collect();
        let rows: Vec<Value> = r
            .findings
            .iter()
            .zip(r.ids)
            .zip(r.persons)
            .map(|((f, id), who)| {
                json!([
                    id,
                    f.rule,
                    severity_zh(f.severity),
                    f.key,
                    f.id_number,
                    f.name,
                    f.village,
                    f.collector_id,
                    f.scheme.map(|s| s.zh()).unwrap_or(""),
                    f.period,
                    f.amount.0,
                    f.txn_ids.join(";"),
                    f.detail,
                    f.sources.join(";"),
                    who,
                ])
            })
            .collect();
        let v = json!({"rules": rules, "masked": r.masked, "rows": rows});
        serde_json::to_string(&v).unwrap().replace('<', "\\u003c")
    }

    #[test]
    fn the_streamed_data_is_the_one_value_written_whole() {
        use qianbiao_core::{Finding, Scheme, Severity};
        let mut a = Finding::new("DUP-001", Severity::High, "k<1>");
        a.id_number = "371323198001010019".into();
        a.name = "王\"涛\"</script>".into();
        a.village = "东村\\西".into();
        a.scheme = Some(Scheme::ResidentMedical);
        a.period = Some(2022);
        a.amount = qianbiao_core::Fen(-32000);
        a.txn_ids = vec!["T1".into(), "T<2".into()];
        a.detail = "说明\n第二行\t<b>".into();
        a.sources = vec!["payments.csv:2".into(), "receipts.csv:9".into()];
        let b = Finding::new("COV-001", Severity::Low, "-v|medical");
        let findings = vec![a, b];
        let ids = crate::finding_ids(&findings);
        let persons = [1, 0];
        static A: qianbiao_core::RuleMeta = qianbiao_core::RuleMeta {
            code: "MNY-001",
            name_zh: "解缴不符<",
            name_en: "deposit mismatch",
            severity: Severity::High,
            needs: &[],
            doc: "",
        };
        static B: qianbiao_core::RuleMeta = qianbiao_core::RuleMeta {
            code: "DUP-001",
            name_zh: "重复缴费",
            name_en: "duplicate",
            severity: Severity::Medium,
            needs: &[],
            doc: "",
        };
        let rules: [&'static qianbiao_core::RuleMeta; 2] = [&A, &B];
        for masked in [false, true] {
            for n in [0, 1, 2] {
                let review = Review {
                    as_of: chrono::NaiveDate::from_ymd_opt(2022, 1, 28).unwrap(),
                    pipeline: "p",
                    findings: &findings[..n],
                    ids: &ids[..n],
                    persons: &persons[..n],
                    collectors: &[],
                    coverage: &[],
                    changes: None,
                    inputs: &[],
                    rule_status: &[],
                    masked,
                    rules: &rules,
                };
                let mut streamed = Vec::new();
                write_data(&mut NoLt(&mut streamed), &review).unwrap();
                let streamed = String::from_utf8(streamed).unwrap();
                assert_eq!(streamed, data_as_one_value(&review), "{n} findings");
                assert!(!streamed.contains('<'));
                let html = report_html(&review);
                assert!(html.contains(&format!("id=\"qb-data\">{streamed}</script>")));
                assert_eq!(embedded(&html)["rows"].as_array().unwrap().len(), n);
            }
        }
    }

    #[test]
    fn embedded_json_cannot_close_the_script() {
        let text = "</script><script>alert(1)</script>";
        let mut out = Vec::new();
        serde_json::to_writer(NoLt(&mut out), &json!({ "x": text })).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains("</"));
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap()["x"], text);
    }
}
