/**
 * The discovered-apps page: three static assets embedded in the module (no CDN, no build step,
 * nothing to copy into dist/), served by routes.ts under /v1/discovery/ui/.
 */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Outpost · Discovered cloud apps</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<header>
  <h1>Discovered cloud apps</h1>
  <span id="catalog" class="muted"></span>
</header>
<form id="filters">
  <label>Range <select id="preset">
    <option value="3600000">last hour</option>
    <option value="86400000" selected>last 24 hours</option>
    <option value="604800000">last 7 days</option>
    <option value="2592000000">last 30 days</option>
    <option value="custom">custom</option>
  </select></label>
  <label>From <input type="datetime-local" id="from" step="60"></label>
  <label>To <input type="datetime-local" id="to" step="60"></label>
  <label>Risk ≥ <input type="number" id="minRisk" min="0" max="10" step="0.5" size="3"></label>
  <label>Risk ≤ <input type="number" id="maxRisk" min="0" max="10" step="0.5" size="3"></label>
  <label>Sanction <select id="sanction"><option value="">any</option><option>sanctioned</option><option>unsanctioned</option><option>monitored</option></select></label>
  <label><input type="checkbox" id="unclassified" checked> unclassified</label>
  <label>Search <input type="search" id="q" size="12"></label>
  <label>Token <input type="password" id="token" size="10" placeholder="optional" autocomplete="off"></label>
  <button type="submit">Apply</button>
  <a id="csv" href="#">CSV</a>
</form>
<p id="status" class="muted" role="status"></p>
<table id="apps">
  <thead><tr>
    <th data-sort="name">App</th><th data-sort="riskScore">Risk</th><th>Sanction</th>
    <th data-sort="bytesUp" title="Bytes the devices sent: whole frames as captured (link header included)">Upload</th><th data-sort="bytesDown" title="Bytes the devices received: whole frames as captured">Download</th>
    <th data-sort="users">Users</th><th data-sort="devices">Devices</th><th data-sort="ips">IPs</th>
    <th data-sort="flows">Flows</th><th data-sort="blocked" title="Attempts the control policy blocked (inline verdicts)">Blocked</th><th data-sort="lastSeen">Last seen</th>
  </tr></thead>
  <tbody></tbody>
</table>
<div id="pager"><button id="prev" type="button">‹ Prev</button> <span id="page"></span> <button id="next" type="button">Next ›</button></div>
<section id="detail" hidden>
  <h2 id="detail-title"></h2>
  <div class="cols">
    <div><h3>Devices</h3><table id="devices"><thead><tr><th>Device</th><th>Upload</th><th>Download</th><th>Users</th><th>Flows</th><th>IPs</th><th title="Attempts the control policy blocked">Blocked</th></tr></thead><tbody></tbody></table></div>
    <div><h3>Users</h3><table id="users"><thead><tr><th>User</th><th>Upload</th><th>Download</th><th>Devices</th><th>Flows</th><th title="Attempts the control policy blocked">Blocked</th></tr></thead><tbody></tbody></table></div>
  </div>
</section>
<script src="app.js"></script>
</body>
</html>
`;

export const STYLE_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1rem 1.5rem;color:#1d232a}
header{display:flex;align-items:baseline;gap:1rem}h1{font-size:1.3rem;margin:.2rem 0}
.muted{color:#687684}form{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center;margin:.6rem 0}
table{border-collapse:collapse;width:100%;margin:.4rem 0}th,td{padding:.3rem .5rem;border-bottom:1px solid #e3e8ee;text-align:left;white-space:nowrap}
th[data-sort]{cursor:pointer;user-select:none}th.sorted::after{content:" ▾"}th.sorted.asc::after{content:" ▴"}
tbody tr[data-app-id]{cursor:pointer}tbody tr[data-app-id]:hover{background:#f4f7fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:flex;align-items:center;gap:.4rem}.bar i{display:inline-block;height:.7rem;background:#3b82f6;border-radius:2px}
.bar.down i{background:#10b981}.bar span{min-width:5.5rem;text-align:right;font-variant-numeric:tabular-nums}
.risk-high{color:#b91c1c;font-weight:600}.risk-mid{color:#b45309}.risk-low{color:#047857}
.unsanctioned td:first-child{border-left:3px solid #dc2626}.badge{font-size:.75rem;padding:0 .35rem;border-radius:.6rem;background:#eef2f6}
.badge.unsanctioned{background:#fee2e2;color:#991b1b}.badge.sanctioned{background:#dcfce7;color:#166534}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}#detail{border-top:2px solid #cbd5e1;margin-top:1rem}
`;

export const APP_JS = `'use strict';
(function () {
  var base = location.pathname.replace(/\\/ui(\\/.*)?$/, '');
  var state = { sort: 'bytesUp', order: 'desc', offset: 0, limit: 50, selected: null };
  var $ = function (id) { return document.getElementById(id); };
  var tokenInput = $('token');
  tokenInput.value = sessionStorage.getItem('outpost-token') || '';

  function fmtBytes(n) {
    var u = ['B', 'KB', 'MB', 'GB', 'TB']; var i = 0; var v = n;
    while (v >= 999.5 && i < u.length - 1) { v /= 1000; i++; }
    return (i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)) + ' ' + u[i];
  }
  function fmtTime(ms) { return new Date(ms).toLocaleString(); }
  function toLocalInput(ms) { var d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000); return d.toISOString().slice(0, 16); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function bar(bytes, max, cls) {
    var td = el('td', { 'class': cls + ' num', 'data-bytes': String(bytes) });
    var wrap = el('div', { 'class': 'bar ' + (cls === 'down' ? 'down' : 'up') });
    wrap.appendChild(el('span', {}, fmtBytes(bytes)));
    var i = el('i'); i.style.width = (max > 0 ? Math.max(1, Math.round(120 * bytes / max)) : 0) + 'px';
    wrap.appendChild(i); td.appendChild(wrap); return td;
  }
  function range() {
    var p = $('preset').value;
    if (p !== 'custom') { var to = Date.now() + 1; return { from: to - Number(p), to: to }; }
    return { from: new Date($('from').value).getTime(), to: new Date($('to').value).getTime() };
  }
  function params(extra) {
    var r = range(); var s = new URLSearchParams({ from: String(r.from), to: String(r.to) });
    var minR = $('minRisk').value, maxR = $('maxRisk').value, sanc = $('sanction').value, q = $('q').value;
    if (minR !== '') s.set('minRisk', minR); if (maxR !== '') s.set('maxRisk', maxR);
    if (sanc !== '') s.set('sanction', sanc); if (q !== '') s.set('q', q);
    if (!$('unclassified').checked) s.set('unclassified', 'false');
    for (var k in extra || {}) s.set(k, String(extra[k]));
    return s;
  }
  function api(path) {
    var h = {}; var t = tokenInput.value.trim();
    if (t) h.authorization = 'Bearer ' + t;
    return fetch(base + path, { headers: h }).then(function (r) {
      if (!r.ok) return r.json().then(function (e) { throw new Error(e.message || r.statusText); });
      return r.json();
    });
  }
  function riskClass(r) { return r === null ? '' : r >= 7 ? 'risk-high' : r >= 4 ? 'risk-mid' : 'risk-low'; }

  function load() {
    sessionStorage.setItem('outpost-token', tokenInput.value.trim());
    $('status').textContent = 'Loading…';
    var q = params({ sort: state.sort, order: state.order, limit: state.limit, offset: state.offset });
    $('csv').href = base + '/apps.csv?' + params({ sort: state.sort, order: state.order }).toString();
    api('/apps?' + q.toString()).then(function (rep) {
      var tbody = $('apps').tBodies[0]; tbody.textContent = '';
      var maxUp = 0, maxDown = 0;
      rep.rows.forEach(function (r) { maxUp = Math.max(maxUp, r.bytesUp); maxDown = Math.max(maxDown, r.bytesDown); });
      var max = Math.max(maxUp, maxDown);
      rep.rows.forEach(function (r) {
        var tr = el('tr', { 'data-app-id': r.id, 'class': r.sanction });
        var name = el('td', { 'class': 'name' }); name.appendChild(el('strong', {}, r.name));
        name.appendChild(document.createTextNode(' ')); name.appendChild(el('span', { 'class': 'muted' }, r.unclassified ? 'unclassified' : r.category + (r.system ? ' · system traffic' : '')));
        tr.appendChild(name);
        tr.appendChild(el('td', { 'class': 'risk num ' + riskClass(r.riskScore) }, r.riskScore === null ? '–' : r.riskScore.toFixed(1)));
        var s = el('td'); s.appendChild(el('span', { 'class': 'badge ' + r.sanction }, r.sanction)); tr.appendChild(s);
        tr.appendChild(bar(r.bytesUp, max, 'up'));
        tr.appendChild(bar(r.bytesDown, max, 'down'));
        ['users', 'devices', 'ips', 'flows', 'blocked'].forEach(function (k) { tr.appendChild(el('td', { 'class': 'num ' + k }, String(r[k]))); });
        tr.appendChild(el('td', {}, fmtTime(r.lastSeen)));
        tr.addEventListener('click', function () { state.selected = r; detail(); });
        tbody.appendChild(tr);
      });
      $('page').textContent = rep.total === 0 ? 'no apps' : (rep.offset + 1) + '–' + (rep.offset + rep.rows.length) + ' of ' + rep.total;
      $('prev').disabled = rep.offset === 0; $('next').disabled = rep.offset + rep.rows.length >= rep.total;
      $('catalog').textContent = 'catalog ' + rep.catalogVersion + ' · ' + (rep.range.granularity === 'day' ? 'daily' : 'hourly') + ' rollups';
      $('status').textContent = 'Upload ' + fmtBytes(rep.totals.bytesUp) + ', download ' + fmtBytes(rep.totals.bytesDown) + ', ' + rep.totals.flows + ' flows';
      document.body.setAttribute('data-loaded', 'true');
      if (state.selected) detail();
    }).catch(function (e) { $('status').textContent = 'Error: ' + e.message; });
  }

  function detail() {
    var r = state.selected; if (!r) return;
    $('detail').hidden = false;
    $('detail-title').textContent = r.name + ' — devices and users';
    var q = params().toString();
    var id = encodeURIComponent(r.id);
    api('/apps/' + id + '/devices?' + q).then(function (d) {
      var tb = $('devices').tBodies[0]; tb.textContent = '';
      var max = 0; d.rows.forEach(function (x) { max = Math.max(max, x.bytesUp, x.bytesDown); });
      d.rows.forEach(function (x) {
        var tr = el('tr', { 'data-device': x.key });
        tr.appendChild(el('td', { title: x.key }, x.name));
        tr.appendChild(bar(x.bytesUp, max, 'up')); tr.appendChild(bar(x.bytesDown, max, 'down'));
        tr.appendChild(el('td', { 'class': 'num' }, String(x.related))); tr.appendChild(el('td', { 'class': 'num' }, String(x.flows)));
        tr.appendChild(el('td', {}, x.ips.join(', ')));
        tr.appendChild(el('td', { 'class': 'num blocked' }, String(x.blocked)));
        tb.appendChild(tr);
      });
    });
    api('/apps/' + id + '/users?' + q).then(function (d) {
      var tb = $('users').tBodies[0]; tb.textContent = '';
      var max = 0; d.rows.forEach(function (x) { max = Math.max(max, x.bytesUp, x.bytesDown); });
      d.rows.forEach(function (x) {
        var tr = el('tr'); tr.appendChild(el('td', {}, x.name));
        tr.appendChild(bar(x.bytesUp, max, 'up')); tr.appendChild(bar(x.bytesDown, max, 'down'));
        tr.appendChild(el('td', { 'class': 'num' }, String(x.related))); tr.appendChild(el('td', { 'class': 'num' }, String(x.flows)));
        tr.appendChild(el('td', { 'class': 'num blocked' }, String(x.blocked)));
        tb.appendChild(tr);
      });
      if (d.rows.length === 0) { var tr = el('tr'); tr.appendChild(el('td', { colspan: '6', 'class': 'muted' }, 'no user identity for this app')); tb.appendChild(tr); }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('th[data-sort]'), function (th) {
    th.addEventListener('click', function () {
      var k = th.getAttribute('data-sort');
      if (state.sort === k) state.order = state.order === 'asc' ? 'desc' : 'asc';
      else { state.sort = k; state.order = k === 'name' ? 'asc' : 'desc'; }
      Array.prototype.forEach.call(document.querySelectorAll('th[data-sort]'), function (o) { o.className = ''; });
      th.className = 'sorted' + (state.order === 'asc' ? ' asc' : '');
      state.offset = 0; load();
    });
  });
  $('prev').addEventListener('click', function () { state.offset = Math.max(0, state.offset - state.limit); load(); });
  $('next').addEventListener('click', function () { state.offset += state.limit; load(); });
  $('preset').addEventListener('change', function () {
    if ($('preset').value !== 'custom') { var r = range(); $('from').value = toLocalInput(r.from); $('to').value = toLocalInput(r.to); }
  });
  ['from', 'to'].forEach(function (id) { $(id).addEventListener('change', function () { $('preset').value = 'custom'; }); });
  $('filters').addEventListener('submit', function (e) { e.preventDefault(); state.offset = 0; load(); });
  // Initial range from the URL (?from=&to= in ms), else the preset.
  var u = new URLSearchParams(location.search);
  if (u.get('from') && u.get('to')) { $('preset').value = 'custom'; $('from').value = toLocalInput(Number(u.get('from'))); $('to').value = toLocalInput(Number(u.get('to'))); }
  else { var r0 = range(); $('from').value = toLocalInput(r0.from); $('to').value = toLocalInput(r0.to); }
  load();
})();
`;
