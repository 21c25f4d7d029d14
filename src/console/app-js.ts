/**
 * The console's script (browser JavaScript, served as /console/app.js). Rules it keeps:
 * - every value that came from traffic or from the API (host, user, DHCP and app names, MACs,
 *   User-Agents, errors) is put in the page with textContent or setAttribute, never as markup;
 * - no inline handlers or eval (the page's CSP forbids them);
 * - requests carry the session cookie (same origin) or, without a session, the token typed in the
 *   sign-in form as `Authorization: Bearer`; writes carry `X-CSRF-Token` with a session.
 * Raw figures are kept in data-* attributes next to the formatted text, so tests can compare the
 * page with the API's JSON exactly.
 */
export const APP_JS = String.raw`'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var auth = { token: sessionStorage.getItem('outpost-token') || '', csrf: '', session: 'unknown', user: '' };
  var charts = {};
  var healthTimer = null;
  var lastStats = null;
  var DEVICE_TYPES = { 0: 'unknown', 1: 'server', 2: 'desktop', 3: 'laptop', 4: 'tablet', 5: 'mobile', 6: 'virtual', 7: 'IoT', 8: 'browser', 9: 'firewall', 10: 'switch', 11: 'hub', 12: 'router', 13: 'IDS', 14: 'IPS', 15: 'load balancer', 99: 'other' };
  var PALETTE = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d', '#7c3aed', '#0d9488'];

  // ------------------------------------------------------------------ helpers
  function fmtBytes(n) {
    var u = ['B', 'KB', 'MB', 'GB', 'TB']; var i = 0; var v = n;
    while (v >= 999.5 && i < u.length - 1) { v /= 1000; i++; }
    return (i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)) + ' ' + u[i];
  }
  function fmtTime(v) {
    if (v === null || v === undefined || v === '') return '–';
    var d = new Date(v); return isNaN(d.getTime()) ? String(v) : d.toLocaleString();
  }
  function fmtAge(ms) {
    if (ms === null || ms === undefined) return '–';
    var s = Math.round(ms / 1000);
    if (s < 60) return s + ' s'; if (s < 3600) return Math.round(s / 60) + ' min';
    if (s < 86400) return (s / 3600).toFixed(1) + ' h'; return (s / 86400).toFixed(1) + ' d';
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function td(text, attrs) { return el('td', attrs, text); }
  function numTd(n, attrs) { var a = attrs || {}; a['class'] = ((a['class'] || '') + ' num').trim(); a['data-value'] = String(n); return el('td', a, String(n)); }
  function bytesTd(n, cls) { return el('td', { 'class': 'num ' + (cls || ''), 'data-bytes': String(n) }, fmtBytes(n)); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function emptyRow(tbody, cols, text) { var tr = el('tr'); tr.appendChild(el('td', { colspan: String(cols), 'class': 'muted' }, text)); tbody.appendChild(tr); }
  function status(text) { $('status').textContent = text; }
  function range() { var to = Date.now() + 1; return { from: to - Number($('range').value), to: to }; }
  function qs(obj) {
    var s = new URLSearchParams();
    for (var k in obj) if (obj[k] !== undefined && obj[k] !== null && obj[k] !== '') s.set(k, String(obj[k]));
    return s.toString();
  }
  function riskClass(r) { return r === null || r === undefined ? '' : r >= 7 ? 'risk-high' : r >= 4 ? 'risk-mid' : 'risk-low'; }

  // --------------------------------------------------------------------- API
  function ApiError(status, body) { this.status = status; this.body = body; this.message = (body && body.message) || ('HTTP ' + status); }
  function request(method, path, body) {
    var h = { accept: 'application/json' };
    if (auth.token) h.authorization = 'Bearer ' + auth.token;
    if (method !== 'GET' && auth.csrf) h['x-csrf-token'] = auth.csrf;
    if (body !== undefined) h['content-type'] = 'application/json';
    return fetch(path, { method: method, headers: h, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) }).then(function (r) {
      var ct = r.headers.get('content-type') || '';
      var parse = ct.indexOf('json') >= 0 ? r.json() : r.text();
      return parse.then(function (b) {
        if (!r.ok) {
          if (r.status === 401 && path !== '/v1/session') showLogin('Sign in to see this page.');
          throw new ApiError(r.status, b);
        }
        return b;
      });
    });
  }
  function get(path) { return request('GET', path); }

  // -------------------------------------------------------------------- login
  function showLogin(msg) {
    $('login').hidden = false; $('main').hidden = true;
    $('login-error').textContent = msg || '';
  }
  function hideLogin() { $('login').hidden = true; $('main').hidden = false; }
  function whoami() {
    // The session (cookie) if the daemon has one for us; else the token of the sign-in form.
    return fetch('/v1/session', { credentials: 'same-origin', headers: auth.token ? { authorization: 'Bearer ' + auth.token } : {} }).then(function (r) {
      if (r.status === 404) { auth.session = 'none'; return null; }
      if (!r.ok) { auth.session = 'signed-out'; return null; }
      return r.json().then(function (b) {
        auth.session = 'signed-in'; auth.csrf = b.csrfToken || '';
        auth.user = (b.user && (b.user.name || b.user)) || '';
        return b;
      });
    }).catch(function () { auth.session = 'none'; return null; });
  }
  function showWho() {
    var who = auth.session === 'signed-in' ? 'signed in as ' + auth.user : auth.token ? 'token' : '';
    $('who').textContent = who;
    $('logout').hidden = !(auth.session === 'signed-in' || auth.token);
  }
  $('login-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var t = $('login-token').value.trim();
    if (!t) return;
    if (auth.session !== 'none') {
      // The daemon has sessions: the token buys an HttpOnly cookie and is not kept by the page.
      request('POST', '/v1/session', { token: t }).then(function (b) {
        auth.session = 'signed-in'; auth.csrf = b.csrfToken; auth.user = b.user;
        $('login-token').value = ''; hideLogin(); showWho(); route();
      }).catch(function (err) { showLogin('Not accepted: ' + err.message); });
      return;
    }
    auth.token = t; sessionStorage.setItem('outpost-token', t);
    get('/v1/stats').then(function () { $('login-token').value = ''; hideLogin(); showWho(); route(); })
      .catch(function (err) { auth.token = ''; sessionStorage.removeItem('outpost-token'); showLogin('Not accepted: ' + err.message); });
  });
  $('logout').addEventListener('click', function () {
    var done = function () { auth.token = ''; auth.csrf = ''; sessionStorage.removeItem('outpost-token'); showWho(); showLogin('Signed out.'); };
    if (auth.session === 'signed-in') request('DELETE', '/v1/session').then(function () { auth.session = 'signed-out'; done(); }, done);
    else done();
  });

  // ------------------------------------------------------------------ confirm
  function confirmAction(text) {
    return new Promise(function (resolve) {
      var d = $('confirm');
      $('confirm-text').textContent = text;
      var onClose = function () { d.removeEventListener('close', onClose); resolve(d.returnValue === 'ok'); };
      d.addEventListener('close', onClose);
      d.returnValue = '';
      d.showModal();
    });
  }

  // ------------------------------------------------------------------- charts
  function drawChart(id, config, summary) {
    var canvas = $(id);
    if (charts[id]) { charts[id].destroy(); delete charts[id]; }
    // What the chart shows, as data for tests and for reading without the canvas.
    canvas.setAttribute('data-summary', JSON.stringify(summary));
    if (typeof window.Chart !== 'function') { canvas.parentNode.setAttribute('data-error', 'chart.js not loaded'); return; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    charts[id] = new window.Chart(canvas, config);
  }
  function bucketLabel(ms, bucketMs) {
    var d = new Date(ms);
    return bucketMs >= 86400000 ? d.toLocaleDateString() : d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }
  function seriesChart(id, rep) {
    var labels = rep.buckets.map(function (b) { return bucketLabel(b, rep.bucketMs); });
    var summary = {};
    var datasets = rep.series.map(function (s, i) {
      summary[s.key] = s.bytes;
      return { label: s.name, data: s.bytesUp.map(function (u, j) { return u + s.bytesDown[j]; }), backgroundColor: PALETTE[i % PALETTE.length], borderWidth: 0, stack: 'bytes' };
    });
    drawChart(id, {
      type: 'bar', data: { labels: labels, datasets: datasets },
      options: { scales: { x: { stacked: true }, y: { stacked: true, ticks: { callback: function (v) { return fmtBytes(v); } } } },
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ': ' + fmtBytes(c.parsed.y); } } } } },
    }, summary);
  }

  // --------------------------------------------------------------------- apps
  var appsState = { selected: null, rows: [] };
  function appFilters() {
    var r = range();
    return { from: r.from, to: r.to, q: $('f-q').value, category: $('f-category').value, sanction: $('f-sanction').value, minRisk: $('f-minRisk').value,
      unclassified: $('f-unclassified').checked ? undefined : 'false' };
  }
  var categoriesLoaded = false;
  function loadCategories() {
    if (categoriesLoaded) return Promise.resolve();
    return get('/v1/discovery/catalog').then(function (c) {
      categoriesLoaded = true;
      var sel = $('f-category');
      (c.taxonomy.categories || []).forEach(function (cat) { sel.appendChild(el('option', { value: cat.id }, cat.name || cat.id)); });
    }).catch(function () {});
  }
  function loadApps() {
    status('Loading apps…');
    var f = appFilters(); var r = { from: f.from, to: f.to };
    var all = Object.assign({}, f, { sort: 'bytesUp', order: 'desc', limit: 500 });
    return Promise.all([
      loadCategories(),
      get('/v1/discovery/apps?' + qs(all)),
      get('/v1/discovery/series?' + qs({ from: r.from, to: r.to, by: 'app', top: 8 })),
      get('/v1/discovery/series?' + qs({ from: r.from, to: r.to, by: 'category', top: 8 })),
    ]).then(function (res) {
      var rep = res[1];
      appsState.rows = rep.rows;
      $('card-apps').textContent = String(rep.total); $('card-apps').setAttribute('data-value', String(rep.total));
      $('card-up').textContent = fmtBytes(rep.totals.bytesUp); $('card-up').setAttribute('data-bytes', String(rep.totals.bytesUp));
      $('card-down').textContent = fmtBytes(rep.totals.bytesDown); $('card-down').setAttribute('data-bytes', String(rep.totals.bytesDown));
      $('card-flows').textContent = String(rep.totals.flows); $('card-flows').setAttribute('data-value', String(rep.totals.flows));
      var uns = rep.rows.filter(function (x) { return x.sanction === 'unsanctioned'; }).length;
      $('card-unsanctioned').textContent = String(uns); $('card-unsanctioned').setAttribute('data-value', String(uns));
      seriesChart('chart-app', res[2]);
      seriesChart('chart-category', res[3]);
      // Risk distribution: apps in use per risk band of the catalog's 0–10 score.
      var bands = ['0–2', '2–4', '4–6', '6–8', '8–10', 'no score'];
      var counts = [0, 0, 0, 0, 0, 0];
      rep.rows.forEach(function (x) { counts[x.riskScore === null ? 5 : Math.min(4, Math.floor(x.riskScore / 2))]++; });
      var riskSummary = {}; bands.forEach(function (b, i) { riskSummary[b] = counts[i]; });
      drawChart('chart-risk', { type: 'bar', data: { labels: bands, datasets: [{ label: 'apps', data: counts, backgroundColor: ['#16a34a', '#65a30d', '#ca8a04', '#ea580c', '#dc2626', '#94a3b8'] }] },
        options: { plugins: { legend: { display: false } }, scales: { y: { ticks: { precision: 0 } } } } }, riskSummary);
      var top = rep.rows.slice(0, 10);
      var upSummary = {}; top.forEach(function (x) { upSummary[x.id] = x.bytesUp; });
      drawChart('chart-upload', { type: 'bar', data: { labels: top.map(function (x) { return x.name; }), datasets: [{ label: 'upload', data: top.map(function (x) { return x.bytesUp; }), backgroundColor: '#2563eb' }] },
        options: { indexAxis: 'y', plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) { return fmtBytes(c.parsed.x); } } } }, scales: { x: { ticks: { callback: function (v) { return fmtBytes(v); } } } } } }, upSummary);
      renderAppsTable(rep.rows);
      status(rep.total + ' apps · catalog ' + rep.catalogVersion + ' · ' + (rep.range.granularity === 'day' ? 'daily' : 'hourly') + ' rollups');
      document.body.setAttribute('data-loaded-apps', String(Date.now()));
      if (appsState.selected) appDetail(appsState.selected);
    }).catch(function (e) {
      if (e instanceof ApiError && e.status === 404) { status('Cloud-app discovery is off (discovery.enabled): no apps to show.'); return; }
      if (!(e instanceof ApiError && e.status === 401)) status('Error: ' + e.message);
    });
  }
  function renderAppsTable(rows) {
    var tbody = clear($('apps-table').tBodies[0]);
    if (rows.length === 0) emptyRow(tbody, 12, 'No app traffic in this range.');
    rows.forEach(function (r) {
      var tr = el('tr', { 'data-app-id': r.id, 'class': 'clickable' + (appsState.selected === r.id ? ' selected' : '') });
      var name = el('td', { 'class': 'name' }); name.appendChild(el('strong', {}, r.name));
      if (r.vendor && r.vendor !== r.name) { name.appendChild(document.createTextNode(' ')); name.appendChild(el('span', { 'class': 'muted' }, r.vendor)); }
      tr.appendChild(name);
      tr.appendChild(td(r.unclassified ? 'unclassified' : r.category + (r.system ? ' · system' : ''), { 'class': 'category' }));
      tr.appendChild(el('td', { 'class': 'num risk ' + riskClass(r.riskScore), 'data-value': r.riskScore === null ? '' : String(r.riskScore) }, r.riskScore === null ? '–' : r.riskScore.toFixed(1)));
      var s = el('td', { 'class': 'sanction' }); s.appendChild(el('span', { 'class': 'badge ' + r.sanction }, r.sanction)); tr.appendChild(s);
      tr.appendChild(bytesTd(r.bytesUp, 'up')); tr.appendChild(bytesTd(r.bytesDown, 'down'));
      tr.appendChild(numTd(r.users, { 'class': 'users' })); tr.appendChild(numTd(r.devices, { 'class': 'devices' })); tr.appendChild(numTd(r.flows, { 'class': 'flows' }));
      tr.appendChild(numTd(r.blocked, { 'class': 'blocked' }));
      tr.appendChild(td(fmtTime(r.lastSeen)));
      var act = el('td', { 'class': 'actions' });
      [['sanctioned', 'Sanction'], ['unsanctioned', 'Unsanction'], ['monitored', 'Monitor']].forEach(function (a) {
        var b = el('button', { type: 'button', 'data-state': a[0] }, a[1]);
        b.disabled = r.sanction === a[0];
        b.addEventListener('click', function (ev) { ev.stopPropagation(); decide(r, a[0]); });
        act.appendChild(b);
      });
      tr.appendChild(act);
      tr.addEventListener('click', function () { appsState.selected = r.id; renderAppsTable(appsState.rows); appDetail(r.id); });
      tbody.appendChild(tr);
    });
  }
  function decide(r, state) {
    confirmAction('Mark ' + r.name + ' as ' + state + '? Reports, forwarded events and enforcement follow the new state.').then(function (ok) {
      if (!ok) return;
      request('PUT', '/v1/discovery/apps/' + encodeURIComponent(r.id) + '/sanction', { state: state })
        .then(function () { status(r.name + ' is now ' + state + '.'); return loadApps(); })
        .catch(function (e) { status('Error: ' + e.message); });
    });
  }
  function appDetail(id) {
    var row = appsState.rows.filter(function (x) { return x.id === id; })[0];
    $('app-detail').hidden = false;
    $('app-detail-title').textContent = (row ? row.name : id) + ': devices and users';
    var r = range(); var q = qs({ from: r.from, to: r.to });
    var enc = encodeURIComponent(id);
    get('/v1/discovery/apps/' + enc + '/devices?' + q).then(function (d) {
      var tb = clear($('app-devices').tBodies[0]);
      if (d.rows.length === 0) emptyRow(tb, 7, 'No devices in this range.');
      d.rows.forEach(function (x) {
        var tr = el('tr', { 'data-device': x.key });
        var name = el('td');
        if (x.key.indexOf('uid:') === 0) { var a = el('a', { href: '#/devices?uid=' + encodeURIComponent(x.key.slice(4)) }, x.name); name.appendChild(a); }
        else name.textContent = x.name;
        tr.appendChild(name);
        tr.appendChild(bytesTd(x.bytesUp, 'up')); tr.appendChild(bytesTd(x.bytesDown, 'down'));
        tr.appendChild(numTd(x.related)); tr.appendChild(numTd(x.flows, { 'class': 'flows' })); tr.appendChild(numTd(x.blocked, { 'class': 'blocked' }));
        tr.appendChild(td(x.ips.join(', ')));
        tb.appendChild(tr);
      });
    }).catch(function (e) { status('Error: ' + e.message); });
    get('/v1/discovery/apps/' + enc + '/users?' + q).then(function (d) {
      var tb = clear($('app-users').tBodies[0]);
      if (d.rows.length === 0) emptyRow(tb, 6, 'No user identity for this app.');
      d.rows.forEach(function (x) {
        var tr = el('tr', { 'data-user': x.key });
        var name = el('td'); name.appendChild(el('a', { href: '#/users?name=' + encodeURIComponent(x.key) }, x.name)); tr.appendChild(name);
        tr.appendChild(bytesTd(x.bytesUp, 'up')); tr.appendChild(bytesTd(x.bytesDown, 'down'));
        tr.appendChild(numTd(x.related)); tr.appendChild(numTd(x.flows, { 'class': 'flows' })); tr.appendChild(numTd(x.blocked, { 'class': 'blocked' }));
        tb.appendChild(tr);
      });
    }).catch(function (e) { status('Error: ' + e.message); });
  }
  $('app-filters').addEventListener('submit', function (e) { e.preventDefault(); loadApps(); });
  $('apps-csv').addEventListener('click', function () {
    // Fetched (so the token or session applies), then saved from a Blob: the server's CSV
    // already neutralises cells that a spreadsheet would run as formulas.
    var f = appFilters(); delete f.limit;
    var h = {}; if (auth.token) h.authorization = 'Bearer ' + auth.token;
    fetch('/v1/discovery/apps.csv?' + qs(Object.assign(f, { sort: 'bytesUp', order: 'desc' })), { headers: h, credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.blob();
    }).then(function (b) {
      var a = el('a', { href: URL.createObjectURL(b), download: 'outpost-apps.csv' });
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
    }).catch(function (e) { status('Export failed: ' + e.message); });
  });

  // ------------------------------------------------------------------ devices
  function currentUsers() {
    // device uid → the user whose span holds now (agent, RADIUS, Kerberos, NTLM).
    return get('/v1/users?limit=1000').then(function (u) {
      var now = Date.now(); var m = {};
      u.items.forEach(function (user) {
        user.devices.forEach(function (d) {
          d.spans.forEach(function (s) {
            if (Date.parse(s.from) <= now && Date.parse(s.to) >= now) m[d.uid] = { name: (user.domain ? user.domain + '\\' : '') + user.name, source: s.source };
          });
        });
      });
      return m;
    }).catch(function () { return {}; });
  }
  function usage(by, extra) {
    var r = range();
    return get('/v1/discovery/usage?' + qs(Object.assign({ by: by, from: r.from, to: r.to }, extra || {}))).catch(function () { return { rows: [] }; });
  }
  function loadDevices(params) {
    status('Loading devices…');
    var q = { hostname: $('f-hostname').value, mac: $('f-mac').value, ip: $('f-ip').value, limit: 1000 };
    return Promise.all([get('/v1/devices?' + qs(q)), currentUsers(), usage('devices', { topApps: 3 })]).then(function (res) {
      var list = res[0], users = res[1], apps = {};
      res[2].rows.forEach(function (r) { apps[r.key] = r; });
      $('devices-count').textContent = list.matched + ' of ' + list.total + ' devices';
      var tbody = clear($('devices-table').tBodies[0]);
      if (list.items.length === 0) emptyRow(tbody, 10, 'No devices.');
      list.items.forEach(function (d) {
        var tr = el('tr', { 'data-uid': d.uid, 'class': 'clickable' });
        tr.appendChild(el('td', { 'class': 'name' }, d.hostname || d.uid));
        var macs = el('td', { 'class': 'macs' });
        d.macs.forEach(function (m, i) { if (i) macs.appendChild(el('br')); macs.appendChild(el('code', {}, m)); });
        if (d.randomizedMac) { macs.appendChild(document.createTextNode(' ')); macs.appendChild(el('span', { 'class': 'badge random', title: 'locally administered (randomized) MAC' }, 'randomized')); }
        tr.appendChild(macs);
        tr.appendChild(td(d.vendor || '–', { 'class': 'vendor' }));
        tr.appendChild(td(d.os ? d.os.name : '–', { 'class': 'os' }));
        tr.appendChild(td(d.typeId !== undefined ? (DEVICE_TYPES[d.typeId] || String(d.typeId)) : '–', { 'class': 'type' }));
        tr.appendChild(td(d.addresses.join(', ') || '–', { 'class': 'addresses' }));
        var u = users[d.uid];
        tr.appendChild(td(u ? u.name + ' (' + u.source + ')' : '–', { 'class': 'user' }));
        var a = apps['uid:' + d.uid];
        var at = el('td', { 'class': 'apps', 'data-value': a ? String(a.appCount) : '0' });
        at.textContent = a ? a.apps.map(function (x) { return x.name; }).join(', ') + (a.appCount > a.apps.length ? ' +' + (a.appCount - a.apps.length) : '') : '–';
        tr.appendChild(at);
        tr.appendChild(td(fmtTime(d.firstSeen))); tr.appendChild(td(fmtTime(d.lastSeen)));
        tr.addEventListener('click', function () { location.hash = '#/devices?uid=' + encodeURIComponent(d.uid); });
        tbody.appendChild(tr);
      });
      status(list.items.length + ' devices shown');
      document.body.setAttribute('data-loaded-devices', String(Date.now()));
      if (params.get('uid')) deviceDetail(params.get('uid'));
      else $('device-detail').hidden = true;
    }).catch(function (e) {
      if (e instanceof ApiError && e.status === 404) { status('Device identity is off (devices.enabled).'); return; }
      if (!(e instanceof ApiError && e.status === 401)) status('Error: ' + e.message);
    });
  }
  function deviceDetail(uid) {
    Array.prototype.forEach.call(document.querySelectorAll('#devices-table tbody tr'), function (tr) { tr.classList.toggle('selected', tr.getAttribute('data-uid') === uid); });
    return Promise.all([get('/v1/devices/' + encodeURIComponent(uid)), usage('devices', { key: 'uid:' + uid, topApps: 50 })]).then(function (res) {
      var d = res[0];
      $('device-detail').hidden = false;
      $('device-detail').setAttribute('data-uid', d.uid);
      $('device-detail-title').textContent = d.hostname || d.uid;
      $('device-detail-sub').textContent = d.uid + (d.hostnameSource ? ' · name from ' + d.hostnameSource : '') + (d.vendor ? ' · ' + d.vendor : '') + (d.os ? ' · ' + d.os.name : '');
      var lt = clear($('device-links').tBodies[0]);
      d.links.forEach(function (l) {
        var tr = el('tr', { 'data-mac': l.mac, 'class': l.unlinkedAt ? 'muted' : '' });
        tr.appendChild(el('td', {}, l.mac));
        tr.appendChild(td(l.reason + (l.unlinkedAt ? ' (split off to ' + (l.splitTo || '?') + ')' : '')));
        tr.appendChild(td(l.value || '–', { 'class': 'evidence' }));
        tr.appendChild(numTd(l.confidence));
        tr.appendChild(td(fmtTime(l.at)));
        var act = el('td');
        if (!l.unlinkedAt && d.macs.length > 1 && d.macs.indexOf(l.mac) >= 0) {
          var b = el('button', { type: 'button', 'data-split': l.mac }, 'Split off');
          b.addEventListener('click', function () {
            confirmAction('Split ' + l.mac + ' off ' + (d.hostname || d.uid) + ' into a device of its own?').then(function (ok) {
              if (!ok) return;
              request('DELETE', '/v1/devices/' + encodeURIComponent(d.uid) + '/macs/' + encodeURIComponent(l.mac))
                .then(function () { status(l.mac + ' split off.'); route(); }).catch(function (e) { status('Error: ' + e.message); });
            });
          });
          act.appendChild(b);
        }
        tr.appendChild(act);
        lt.appendChild(tr);
      });
      var bt = clear($('device-bindings').tBodies[0]);
      if (d.bindings.length === 0) emptyRow(bt, 5, 'No addresses.');
      d.bindings.slice().reverse().forEach(function (b) {
        var tr = el('tr'); tr.appendChild(td(b.address)); tr.appendChild(td(fmtTime(b.from))); tr.appendChild(td(b.to === null ? 'now' : fmtTime(b.to)));
        tr.appendChild(td(fmtTime(b.lastSeen))); tr.appendChild(td(b.trust)); bt.appendChild(tr);
      });
      var ut = clear($('device-users').tBodies[0]);
      if (d.users.length === 0) emptyRow(ut, 4, 'No user seen on this device.');
      d.users.slice().reverse().forEach(function (u) {
        var tr = el('tr'); tr.appendChild(td((u.domain ? u.domain + '\\' : '') + u.name, { 'class': 'user' })); tr.appendChild(td(u.source || 'agent'));
        tr.appendChild(td(fmtTime(u.from))); tr.appendChild(td(fmtTime(u.to))); ut.appendChild(tr);
      });
      var apt = clear($('device-apps').tBodies[0]);
      var row = res[1].rows[0];
      if (!row) emptyRow(apt, 5, 'No app traffic in this range.');
      else row.apps.forEach(function (a) {
        var tr = el('tr', { 'data-app-id': a.id }); tr.appendChild(td(a.name)); tr.appendChild(td(a.category));
        tr.appendChild(bytesTd(a.bytesUp, 'up')); tr.appendChild(bytesTd(a.bytesDown, 'down')); tr.appendChild(numTd(a.flows)); apt.appendChild(tr);
      });
      var et = clear($('device-evidence').tBodies[0]);
      d.evidence.slice(-50).reverse().forEach(function (v) {
        var tr = el('tr'); tr.appendChild(td(v.kind)); tr.appendChild(td(v.value, { 'class': 'value' })); tr.appendChild(td(v.source)); tr.appendChild(td(fmtTime(v.at))); et.appendChild(tr);
      });
      document.body.setAttribute('data-loaded-device', d.uid);
    }).catch(function (e) { status('Error: ' + e.message); });
  }
  $('device-filters').addEventListener('submit', function (e) { e.preventDefault(); loadDevices(new URLSearchParams()); });
  $('merge-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var uid = $('device-detail').getAttribute('data-uid'); var mac = $('merge-mac').value.trim();
    if (!uid || !mac) return;
    confirmAction('Link ' + mac + ' to ' + $('device-detail-title').textContent + '? The MAC leaves the device that holds it now.').then(function (ok) {
      if (!ok) return;
      request('POST', '/v1/devices/' + encodeURIComponent(uid) + '/macs', { mac: mac })
        .then(function () { $('merge-mac').value = ''; status(mac + ' linked.'); route(); }).catch(function (err) { status('Error: ' + err.message); });
    });
  });

  // -------------------------------------------------------------------- users
  function loadUsers(params) {
    status('Loading users…');
    if (params.get('name') && !$('f-user').value) $('f-user').value = params.get('name');
    var filter = $('f-user').value.trim().toLowerCase();
    return Promise.all([get('/v1/users?limit=1000').catch(function () { return { items: [] }; }), usage('users', { topApps: 5 })]).then(function (res) {
      // One row per user name: identity (where the user was seen: agent or a logon on the wire,
      // and on which devices) joined with the traffic the rollups attribute to that name.
      var byName = {}; var order = [];
      var row = function (name) { if (!byName[name]) { byName[name] = { name: name, domain: '', sources: {}, devices: {}, traffic: null, first: null, last: null }; order.push(name); } return byName[name]; };
      res[0].items.forEach(function (u) {
        var r = row(u.name); if (u.domain) r.domain = u.domain;
        r.first = u.firstSeen; r.last = u.lastSeen;
        u.devices.forEach(function (d) { r.devices[d.uid] = d.hostname || d.uid; d.spans.forEach(function (s) { r.sources[s.source] = true; }); });
      });
      res[1].rows.forEach(function (t) { var r = row(t.key); r.traffic = t; r.sources.traffic = true; if (!r.first) { r.first = t.firstSeen; r.last = t.lastSeen; } });
      var rows = order.map(function (n) { return byName[n]; }).filter(function (r) { return !filter || r.name.toLowerCase().indexOf(filter) >= 0; });
      $('users-count').textContent = rows.length + ' users';
      var tbody = clear($('users-table').tBodies[0]);
      if (rows.length === 0) emptyRow(tbody, 9, 'No users: user names come from endpoint agents and from logons seen on the wire (Kerberos, NTLM, RADIUS).');
      rows.forEach(function (r) {
        var tr = el('tr', { 'data-user': r.name });
        tr.appendChild(el('td', { 'class': 'name' }, r.name));
        tr.appendChild(td(r.domain || '–', { 'class': 'domain' }));
        tr.appendChild(td(Object.keys(r.sources).sort().join(', '), { 'class': 'sources' }));
        var dt = el('td', { 'class': 'devices' });
        Object.keys(r.devices).forEach(function (uid, i) {
          if (i) dt.appendChild(document.createTextNode(', '));
          dt.appendChild(el('a', { href: '#/devices?uid=' + encodeURIComponent(uid) }, r.devices[uid]));
        });
        if (!dt.firstChild) dt.textContent = '–';
        tr.appendChild(dt);
        var t = r.traffic;
        tr.appendChild(td(t ? t.apps.map(function (a) { return a.name; }).join(', ') + (t.appCount > t.apps.length ? ' +' + (t.appCount - t.apps.length) : '') : '–', { 'class': 'apps', 'data-value': t ? String(t.appCount) : '0' }));
        tr.appendChild(bytesTd(t ? t.bytesUp : 0, 'up')); tr.appendChild(bytesTd(t ? t.bytesDown : 0, 'down'));
        tr.appendChild(td(fmtTime(r.first))); tr.appendChild(td(fmtTime(r.last)));
        tbody.appendChild(tr);
      });
      status(rows.length + ' users shown');
      document.body.setAttribute('data-loaded-users', String(Date.now()));
    }).catch(function (e) { if (!(e instanceof ApiError && e.status === 401)) status('Error: ' + e.message); });
  }
  $('user-filters').addEventListener('submit', function (e) { e.preventDefault(); loadUsers(new URLSearchParams()); });

  // ------------------------------------------------------------------- health
  function setCard(id, text, value) { $(id).textContent = text; $(id).setAttribute('data-value', String(value)); }
  function loadHealth() {
    return Promise.all([
      get('/v1/health'), get('/v1/stats'),
      get('/v1/sinks').catch(function () { return null; }), get('/v1/jobs').catch(function () { return null; }),
      get('/v1/console/stores').catch(function () { return null; }), get('/v1/discovery/catalog').catch(function () { return null; }),
    ]).then(function (res) {
      var h = res[0], st = res[1], sinks = res[2], jobs = res[3], stores = res[4], cat = res[5];
      var now = Date.now();
      setCard('h-status', h.status, h.status);
      setCard('h-uptime', fmtAge(st.uptimeMs), st.uptimeMs);
      setCard('h-catalog', cat ? cat.version + ' (' + cat.apps + ' apps)' : 'discovery off', cat ? cat.version : '');
      setCard('h-flows', String(st.counters['flows.active'] || 0), st.counters['flows.active'] || 0);
      // Packets/s from two samples of the kernel's counters (received by the socket).
      var prev = lastStats; lastStats = { at: now, ifs: {} };
      var drops = 0, pps = 0, ppsKnown = false;
      var it = clear($('h-interfaces').tBodies[0]);
      if (st.interfaces.length === 0) emptyRow(it, 6, 'No capture running.');
      st.interfaces.forEach(function (i) {
        lastStats.ifs[i.interface] = i.packetsReceived;
        var rate = null;
        if (prev && prev.ifs[i.interface] !== undefined && now > prev.at) { rate = Math.max(0, (i.packetsReceived - prev.ifs[i.interface]) * 1000 / (now - prev.at)); pps += rate; ppsKnown = true; }
        drops += i.kernelDrops;
        var tr = el('tr', { 'data-interface': i.interface });
        tr.appendChild(td(i.interface));
        tr.appendChild(el('td', { 'class': 'num pps' }, rate === null ? '–' : rate.toFixed(1)));
        tr.appendChild(numTd(i.packetsReceived, { 'class': 'received' })); tr.appendChild(numTd(i.packetsDelivered, { 'class': 'delivered' }));
        tr.appendChild(numTd(i.kernelDrops, { 'class': 'drops' })); tr.appendChild(numTd(i.interfaceDrops, { 'class': 'ifdrops' }));
        it.appendChild(tr);
      });
      setCard('h-pps', ppsKnown ? pps.toFixed(1) : '–', ppsKnown ? pps : '');
      setCard('h-drops', String(drops), drops);
      var ft = clear($('h-flowtable').tBodies[0]);
      Object.keys(st.counters).filter(function (k) { return k.indexOf('flows.') === 0 || k === 'decode.packets'; }).sort().forEach(function (k) {
        var tr = el('tr', { 'data-counter': k }); tr.appendChild(td(k)); tr.appendChild(numTd(st.counters[k])); ft.appendChild(tr);
      });
      var ct = clear($('h-components').tBodies[0]);
      h.components.forEach(function (c) {
        var tr = el('tr', { 'data-component': c.name }); tr.appendChild(td(c.name)); tr.appendChild(td(c.state)); tr.appendChild(td(c.ready ? 'yes' : 'no')); tr.appendChild(td(c.detail || '')); ct.appendChild(tr);
      });
      var skt = clear($('h-sinks').tBodies[0]);
      if (sinks) {
        var o = sinks.outbox || {};
        $('h-outbox').textContent = 'Outbox: ' + (o.depth || 0) + ' events, ' + fmtBytes(o.bytes || 0) + ', oldest ' + fmtAge(o.oldest_age_ms);
        if ((sinks.sinks || []).length === 0) emptyRow(skt, 7, 'No sinks configured.');
        (sinks.sinks || []).forEach(function (s) {
          var tr = el('tr', { 'data-sink': s.name }); tr.appendChild(td(s.name)); tr.appendChild(td(s.running ? 'yes' : 'no'));
          tr.appendChild(numTd(s.lag_events || 0, { 'class': 'lag' })); tr.appendChild(el('td', { 'class': 'num', 'data-value': String(s.oldest_unsent_age_ms) }, fmtAge(s.oldest_unsent_age_ms)));
          tr.appendChild(numTd(s.errors || 0, { 'class': 'errors' })); tr.appendChild(numTd(s.dead_lettered || 0, { 'class': 'dead' }));
          var le = s.last_error;
          tr.appendChild(td(le ? le.code + ': ' + le.message + (le.atMs ? ' (' + fmtTime(le.atMs) + ')' : '') : '', { 'class': 'last-error' })); skt.appendChild(tr);
        });
      } else { $('h-outbox').textContent = ''; emptyRow(skt, 7, 'Forwarding status unavailable.'); }
      var jt = clear($('h-jobs').tBodies[0]);
      ((jobs && jobs.jobs) || []).forEach(function (j) {
        var tr = el('tr', { 'data-job': j.name }); tr.appendChild(td(j.name)); tr.appendChild(el('td', {}, j.schedule || j.cron || ''));
        tr.appendChild(td(j.lastRun ? fmtTime(j.lastRun.startedAt || j.lastRun.at) : 'never')); tr.appendChild(td(j.lastRun ? j.lastRun.outcome : '–'));
        tr.appendChild(numTd(j.failures || 0)); tr.appendChild(td(fmtTime(j.nextRunAt))); jt.appendChild(tr);
      });
      var sst = clear($('h-stores').tBodies[0]);
      ((stores && stores.stores) || []).forEach(function (s) {
        var tr = el('tr', { 'data-store': s.name }); tr.appendChild(td(s.name)); tr.appendChild(bytesTd(s.bytes, 'size')); tr.appendChild(numTd(s.files)); sst.appendChild(tr);
      });
      document.body.setAttribute('data-loaded-health', String(Date.now()));
    }).catch(function (e) { if (!(e instanceof ApiError && e.status === 401)) status('Error: ' + e.message); });
  }

  // -------------------------------------------------------------------- route
  function route() {
    var h = location.hash.replace(/^#\/?/, '');
    var qi = h.indexOf('?');
    var page = (qi >= 0 ? h.slice(0, qi) : h) || 'apps';
    var params = new URLSearchParams(qi >= 0 ? h.slice(qi + 1) : '');
    if (['apps', 'devices', 'users', 'health'].indexOf(page) < 0) page = 'apps';
    Array.prototype.forEach.call(document.querySelectorAll('.page'), function (p) { p.hidden = p.id !== 'page-' + page; });
    Array.prototype.forEach.call(document.querySelectorAll('#nav a'), function (a) { a.classList.toggle('active', a.getAttribute('data-page') === page); });
    document.body.setAttribute('data-page', page);
    if (healthTimer) { clearInterval(healthTimer); healthTimer = null; }
    if (page === 'apps') return loadApps();
    if (page === 'devices') return loadDevices(params);
    if (page === 'users') return loadUsers(params);
    lastStats = null;
    healthTimer = setInterval(loadHealth, 2000);
    return loadHealth();
  }
  window.addEventListener('hashchange', route);
  $('range').addEventListener('change', route);

  whoami().then(function () {
    showWho();
    if (auth.session === 'signed-out' && !auth.token) { showLogin(''); return; }
    hideLogin();
    route();
  });
})();
`;
