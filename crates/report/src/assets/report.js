(function () {
  'use strict';
  var t0 = performance.now();
  var D = JSON.parse(document.getElementById('qb-data').textContent);
  var R = D.rows, N = R.length;
  // Columns of a row in the embedded data.
  var ID = 0, RULE = 1, SEV = 2, KEY = 3, IDN = 4, NAME = 5, VIL = 6, COLL = 7, SCH = 8,
    PER = 9, AMT = 10, TXN = 11, DET = 12, SRC = 13, WHO = 14;
  var SEV_RANK = { '高': 0, '中': 1, '低': 2 };
  // Findings grouped per person where one person has several (operations.md), unless the
  // reviewer unticks 按人员归并.
  var st = { q: '', rule: '', sev: '', sort: -1, dir: 1, group: true, page: 0, size: 50 };
  var view = null, hay = null;
  var $ = function (id) { return document.getElementById(id); };
  var tbody = $('qb-rows');

  function money(f) {
    var neg = f < 0; f = Math.abs(f);
    var y = Math.floor(f / 100), c = f % 100;
    return (neg ? '-' : '') + String(y).replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + (c < 10 ? '0' : '') + c;
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c];
    });
  }
  function ruleName(code) { return (D.rules[code] || [''])[0]; }
  // The lower-case text of every row, built on the first search only.
  function haystack() {
    if (!hay) {
      hay = new Array(N);
      for (var i = 0; i < N; i++) {
        var r = R[i];
        hay[i] = [r[ID], r[RULE], ruleName(r[RULE]), r[SEV], r[KEY], r[IDN], r[NAME], r[VIL], r[COLL],
          r[SCH], r[PER] === null ? '' : r[PER], money(r[AMT]), r[TXN], r[DET], r[SRC]].join('\u0001').toLowerCase();
      }
    }
    return hay;
  }
  function sortKey(r, k) {
    if (k === SEV) return SEV_RANK[r[SEV]];
    if (k === AMT || k === PER) return r[k] === null ? -Infinity : r[k];
    return r[k] === null ? '' : r[k];
  }
  function compute() {
    var idx = [], terms = st.q.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var h = terms.length ? haystack() : null;
    for (var i = 0; i < N; i++) {
      var r = R[i];
      if (st.rule && r[RULE] !== st.rule) continue;
      if (st.sev && r[SEV] !== st.sev) continue;
      var ok = true;
      for (var t = 0; t < terms.length; t++) if (h[i].indexOf(terms[t]) < 0) { ok = false; break; }
      if (ok) idx.push(i);
    }
    if (st.sort >= 0) {
      var k = st.sort, d = st.dir;
      var keys = new Array(N);
      idx.forEach(function (i) { keys[i] = sortKey(R[i], k); });
      idx.sort(function (a, b) { var x = keys[a], y = keys[b]; return x < y ? -d : x > y ? d : a - b; });
    }
    var units = null;
    if (st.group) {
      // A person with several findings in view becomes one group, placed where the first of
      // them stands in the current order.
      var n = new Map(), by = new Map();
      // By the person's number, not the id shown: masked ids may be alike for two persons.
      idx.forEach(function (i) { var p = R[i][WHO]; if (p) n.set(p, (n.get(p) || 0) + 1); });
      units = [];
      idx.forEach(function (i) {
        var p = R[i][WHO];
        if (p && n.get(p) > 1) {
          var u = by.get(p);
          if (!u) { u = { person: p, rows: [] }; by.set(p, u); units.push(u); }
          u.rows.push(i);
        } else units.push({ person: null, rows: [i] });
      });
    }
    var sum = 0;
    idx.forEach(function (i) { sum += R[i][AMT]; });
    view = { idx: idx, units: units, sum: sum };
  }
  function list(s, max) {
    if (!s) return '';
    var a = s.split(';');
    if (a.length <= max) return a.map(esc).join('<br>');
    return a.slice(0, max).map(esc).join('<br>') + '<details><summary>共 ' + a.length + ' 项，展开</summary>' +
      a.slice(max).map(esc).join('<br>') + '</details>';
  }
  function rowHtml(i, inGroup) {
    var r = R[i];
    return '<tr' + (inGroup ? ' class="in"' : '') + ' data-i="' + i + '">' +
      '<td>' + esc(r[RULE]) + '<small>' + esc(ruleName(r[RULE])) + '</small></td>' +
      '<td><span class="sev sev-' + r[SEV] + '">' + r[SEV] + '</span></td>' +
      '<td>' + esc(r[NAME]) + '<small>' + esc(r[IDN]) + '</small></td>' +
      '<td>' + esc(r[VIL]) + '</td>' +
      '<td>' + esc(r[COLL]).replace(/;/g, '<br>') + '</td>' +
      '<td>' + esc(r[SCH]) + '<small>' + (r[PER] === null ? '' : r[PER]) + '</small></td>' +
      '<td class="n">' + money(r[AMT]) + '</td>' +
      '<td>' + esc(r[DET]) + '<small>关键字 ' + esc(r[KEY]) + '</small><small>编号 ' + esc(r[ID]) + '</small></td>' +
      '<td class="ev">' + list(r[SRC], 4) + (r[TXN] ? '<small>交易号</small>' + list(r[TXN], 4) : '') + '</td></tr>';
  }
  function render() {
    var total = view.units ? view.units.length : view.idx.length;
    var pages = Math.max(1, Math.ceil(total / st.size));
    if (st.page >= pages) st.page = pages - 1;
    var start = st.page * st.size, html = [];
    if (view.units) {
      view.units.slice(start, start + st.size).forEach(function (u) {
        if (u.person) {
          var s = 0; u.rows.forEach(function (i) { s += R[i][AMT]; });
          var r0 = R[u.rows[0]];
          html.push('<tr class="grp" data-n="' + u.rows.length + '"><td colspan="6">' + esc(r0[NAME]) + ' ' +
            esc(r0[IDN]) + ' ' + esc(r0[VIL]) + ' · ' + u.rows.length + ' 条疑点</td><td class="n">' + money(s) +
            '</td><td colspan="2"></td></tr>');
        }
        u.rows.forEach(function (i) { html.push(rowHtml(i, !!u.person)); });
      });
    } else {
      view.idx.slice(start, start + st.size).forEach(function (i) { html.push(rowHtml(i, false)); });
    }
    tbody.innerHTML = html.length ? html.join('') : '<tr><td colspan="9" class="empty">没有符合条件的疑点</td></tr>';
    $('qb-stat').textContent = '共 ' + view.idx.length + ' 条，金额合计 ' + money(view.sum) + ' 元' +
      (view.units ? '（' + total + ' 组）' : '');
    $('qb-count').textContent = String(view.idx.length);
    $('qb-page').textContent = '第 ' + (st.page + 1) + ' / ' + pages + ' 页';
    $('qb-prev').disabled = st.page === 0;
    $('qb-next').disabled = st.page >= pages - 1;
    document.querySelectorAll('#qb-table th.s').forEach(function (th) {
      var k = +th.getAttribute('data-k');
      th.className = 's' + (k === st.sort ? (st.dir > 0 ? ' asc' : ' desc') : '');
    });
  }
  function update() { compute(); render(); }
  var timer = 0;
  $('qb-q').addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { st.q = $('qb-q').value; st.page = 0; update(); }, 150);
  });
  $('qb-rule').addEventListener('change', function () { st.rule = this.value; st.page = 0; update(); });
  $('qb-sev').addEventListener('change', function () { st.sev = this.value; st.page = 0; update(); });
  $('qb-group').addEventListener('change', function () { st.group = this.checked; st.page = 0; update(); });
  $('qb-size').addEventListener('change', function () { st.size = +this.value; st.page = 0; render(); });
  $('qb-prev').addEventListener('click', function () { if (st.page > 0) { st.page--; render(); } });
  $('qb-next').addEventListener('click', function () { st.page++; render(); });
  document.querySelectorAll('#qb-table th.s').forEach(function (th) {
    th.addEventListener('click', function () {
      var k = +th.getAttribute('data-k');
      // Amounts first from the largest, text first from A.
      if (st.sort === k) st.dir = -st.dir; else { st.sort = k; st.dir = (k === AMT ? -1 : 1); }
      st.page = 0; update();
    });
  });
  // A click on a rule in the summary shows its findings.
  document.querySelectorAll('#rules tr[data-rule]').forEach(function (tr) {
    tr.addEventListener('click', function () {
      $('qb-rule').value = tr.getAttribute('data-rule'); st.rule = $('qb-rule').value; st.page = 0; update();
      $('findings').scrollIntoView();
    });
  });
  update();
  var firstRender = performance.now();

  // `#selftest`: checks what a reviewer relies on and writes the result into the page, for
  // the browser test (tests/browser/check.sh).
  function selftest() {
    var res = { findings: N, rules: {}, checks: {}, errors: (window.__qbErrors || []).slice() };
    document.querySelectorAll('#rules tbody tr[data-rule]').forEach(function (tr) {
      res.rules[tr.getAttribute('data-rule')] = {
        count: tr.querySelector('.c-count').textContent,
        amount: tr.querySelector('.c-amount').textContent.replace(/,/g, '')
      };
    });
    res.total = { count: $('qb-total-count').textContent, amount: $('qb-total-amount').textContent.replace(/,/g, '') };
    function set(q, rule) { $('qb-q').value = q; st.q = q; st.rule = rule || ''; $('qb-rule').value = st.rule; st.page = 0; update(); }
    function shown() { return Array.prototype.map.call(tbody.querySelectorAll('tr[data-i]'), function (tr) { return +tr.getAttribute('data-i'); }); }
    var c = res.checks;
    // Opened grouped per person: a person with several findings is one group.
    c.grouped_when_opened = $('qb-group').checked && st.group &&
      (N < 2 || !!view.units);
    $('qb-group').checked = false; st.group = false; update();
    c.table_total = +$('qb-count').textContent === N;
    if (N > 0) {
      var probe = R[Math.floor(N / 2)];
      set(probe[ID]);
      c.search_id = view.idx.length === 1 && tbody.textContent.indexOf(probe[ID]) >= 0;
      var withName = R.filter(function (r) { return r[NAME]; })[0];
      if (withName) {
        set(withName[NAME]);
        c.search_name = view.idx.length >= 1 && shown().every(function (i) { return haystack()[i].indexOf(withName[NAME].toLowerCase()) >= 0; });
      }
      set('zz-no-such-text-zz');
      c.search_none = view.idx.length === 0 && $('qb-count').textContent === '0';
      var every = true;
      Object.keys(res.rules).forEach(function (code) {
        set('', code);
        if (String(view.idx.length) !== res.rules[code].count) every = false;
      });
      c.rule_filter_counts = every;
      set('');
      var th = document.querySelector('#qb-table th[data-k="' + AMT + '"]');
      var max = -Infinity, min = Infinity;
      R.forEach(function (r) { if (r[AMT] > max) max = r[AMT]; if (r[AMT] < min) min = r[AMT]; });
      th.click();
      var a = shown().map(function (i) { return R[i][AMT]; });
      c.sort_desc = a[0] === max && a.every(function (x, j) { return j === 0 || a[j - 1] >= x; });
      th.click();
      a = shown().map(function (i) { return R[i][AMT]; });
      c.sort_asc = a[0] === min && a.every(function (x, j) { return j === 0 || a[j - 1] <= x; });
      $('qb-group').checked = true; st.group = true; update();
      var groupsOk = true;
      tbody.querySelectorAll('tr.grp').forEach(function (g) {
        var n = +g.getAttribute('data-n'), tr = g.nextElementSibling, p = null, k = 0;
        while (tr && tr.classList.contains('in')) {
          var idn = R[+tr.getAttribute('data-i')][WHO];
          if (p === null) p = idn;
          if (idn !== p) groupsOk = false;
          k++; tr = tr.nextElementSibling;
        }
        if (k !== n || n < 2) groupsOk = false;
      });
      c.group_by_person = groupsOk;
      $('qb-group').checked = true; st.group = true; st.sort = -1; st.dir = 1; set('');
    }
    res.first_render_ms = Math.round(firstRender - t0);
    res.first_render_since_navigation_ms = Math.round(firstRender);
    res.errors = (window.__qbErrors || []).slice();
    res.pass = res.errors.length === 0 && Object.keys(c).every(function (k) { return c[k] === true; });
    var out = document.createElement('pre');
    out.id = 'qb-selftest';
    out.textContent = JSON.stringify(res);
    document.body.appendChild(out);
  }
  if (location.hash === '#selftest') selftest();
})();
