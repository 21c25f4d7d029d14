/**
 * The console's page and style sheet, embedded in the module (no build step, nothing to copy into
 * dist/). The page holds no data and no inline script or style (the CSP forbids both): app.js
 * (app-js.ts) fills it from the API, always as text.
 */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Outpost console</title>
<link rel="stylesheet" href="/console/style.css">
</head>
<body>
<header class="top">
  <strong class="brand">Outpost</strong>
  <nav id="nav">
    <a href="#/apps" data-page="apps">Apps</a>
    <a href="#/devices" data-page="devices">Devices</a>
    <a href="#/users" data-page="users">Users</a>
    <a href="#/health" data-page="health">Health</a>
  </nav>
  <label class="range">Range <select id="range">
    <option value="3600000">last hour</option>
    <option value="86400000" selected>last 24 hours</option>
    <option value="604800000">last 7 days</option>
    <option value="2592000000">last 30 days</option>
  </select></label>
  <span class="spacer"></span>
  <span id="who" class="muted"></span>
  <button id="logout" type="button" hidden>Log out</button>
</header>

<section id="login" class="panel" hidden>
  <h2>Sign in</h2>
  <p>Open the login URL the daemon printed when it started, or paste an API token
  (<code>outpost token create --role admin</code>).</p>
  <form id="login-form">
    <input type="password" id="login-token" autocomplete="off" placeholder="token" size="48" aria-label="API token">
    <button type="submit">Sign in</button>
  </form>
  <p id="login-error" class="error" role="alert"></p>
</section>

<main id="main">
<section id="page-apps" class="page" hidden>
  <div class="cards">
    <div class="card"><span class="label">Apps</span><span class="value" id="card-apps"></span></div>
    <div class="card"><span class="label">Upload</span><span class="value" id="card-up"></span></div>
    <div class="card"><span class="label">Download</span><span class="value" id="card-down"></span></div>
    <div class="card"><span class="label">Flows</span><span class="value" id="card-flows"></span></div>
    <div class="card"><span class="label">Unsanctioned in use</span><span class="value" id="card-unsanctioned"></span></div>
  </div>
  <div class="charts">
    <figure><figcaption>Traffic per app</figcaption><div class="chart"><canvas id="chart-app"></canvas></div></figure>
    <figure><figcaption>Traffic per category</figcaption><div class="chart"><canvas id="chart-category"></canvas></div></figure>
    <figure><figcaption>Risk distribution (apps in use)</figcaption><div class="chart"><canvas id="chart-risk"></canvas></div></figure>
    <figure><figcaption>Top apps by upload</figcaption><div class="chart"><canvas id="chart-upload"></canvas></div></figure>
  </div>
  <form id="app-filters" class="filters">
    <label>Search <input type="search" id="f-q" size="14"></label>
    <label>Category <select id="f-category"><option value="">any</option></select></label>
    <label>Sanction <select id="f-sanction"><option value="">any</option><option>sanctioned</option><option>unsanctioned</option><option>monitored</option></select></label>
    <label>Risk &ge; <input type="number" id="f-minRisk" min="0" max="10" step="0.5" size="3"></label>
    <label><input type="checkbox" id="f-unclassified" checked> unclassified</label>
    <button type="submit">Apply</button>
    <button type="button" id="apps-csv">Export CSV</button>
  </form>
  <table id="apps-table" class="data">
    <thead><tr>
      <th>App</th><th>Category</th><th>Risk</th><th>Sanction</th>
      <th title="Bytes the devices sent: whole frames as captured">Upload</th><th title="Bytes the devices received">Download</th>
      <th>Users</th><th>Devices</th><th>Flows</th><th title="Attempts the control policy blocked (inline verdicts)">Blocked</th><th>Last seen</th><th>Decide</th>
    </tr></thead>
    <tbody></tbody>
  </table>
  <section id="app-detail" class="panel" hidden>
    <h2 id="app-detail-title"></h2>
    <div class="cols">
      <div><h3>Devices</h3><table id="app-devices" class="data"><thead><tr><th>Device</th><th>Upload</th><th>Download</th><th>Users</th><th>Flows</th><th title="Attempts the control policy blocked">Blocked</th><th>Addresses</th></tr></thead><tbody></tbody></table></div>
      <div><h3>Users</h3><table id="app-users" class="data"><thead><tr><th>User</th><th>Upload</th><th>Download</th><th>Devices</th><th>Flows</th><th title="Attempts the control policy blocked">Blocked</th></tr></thead><tbody></tbody></table></div>
    </div>
  </section>
</section>

<section id="page-devices" class="page" hidden>
  <form id="device-filters" class="filters">
    <label>Host name <input type="search" id="f-hostname" size="14"></label>
    <label>MAC <input type="search" id="f-mac" size="17"></label>
    <label>Address <input type="search" id="f-ip" size="15"></label>
    <button type="submit">Apply</button>
    <span id="devices-count" class="muted"></span>
  </form>
  <table id="devices-table" class="data">
    <thead><tr><th>Name</th><th>MACs</th><th>Vendor</th><th>OS</th><th>Type</th><th>Addresses</th><th>Current user</th><th>Apps used</th><th>First seen</th><th>Last seen</th></tr></thead>
    <tbody></tbody>
  </table>
  <section id="device-detail" class="panel" hidden>
    <h2 id="device-detail-title"></h2>
    <p id="device-detail-sub" class="muted"></p>
    <div class="cols">
      <div>
        <h3>MACs and how they were linked</h3>
        <table id="device-links" class="data"><thead><tr><th>MAC</th><th>Reason</th><th>Evidence</th><th>Confidence</th><th>When</th><th></th></tr></thead><tbody></tbody></table>
        <form id="merge-form" class="filters">
          <label>Link a MAC to this device <input type="text" id="merge-mac" size="17" placeholder="02:00:00:00:00:01" pattern="[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}"></label>
          <button type="submit">Merge</button>
        </form>
        <h3>Addresses over time</h3>
        <table id="device-bindings" class="data"><thead><tr><th>Address</th><th>From</th><th>To</th><th>Last seen</th><th>Source</th></tr></thead><tbody></tbody></table>
      </div>
      <div>
        <h3>Users</h3>
        <table id="device-users" class="data"><thead><tr><th>User</th><th>Seen from</th><th>From</th><th>To</th></tr></thead><tbody></tbody></table>
        <h3>Apps used</h3>
        <table id="device-apps" class="data"><thead><tr><th>App</th><th>Category</th><th>Upload</th><th>Download</th><th>Flows</th></tr></thead><tbody></tbody></table>
        <h3>Evidence</h3>
        <table id="device-evidence" class="data"><thead><tr><th>Kind</th><th>Value</th><th>Source</th><th>When</th></tr></thead><tbody></tbody></table>
      </div>
    </div>
  </section>
</section>

<section id="page-users" class="page" hidden>
  <form id="user-filters" class="filters">
    <label>User <input type="search" id="f-user" size="16"></label>
    <button type="submit">Apply</button>
    <span id="users-count" class="muted"></span>
  </form>
  <table id="users-table" class="data">
    <thead><tr><th>User</th><th>Domain</th><th>Seen from</th><th>Devices</th><th>Apps</th><th>Upload</th><th>Download</th><th>First seen</th><th>Last seen</th></tr></thead>
    <tbody></tbody>
  </table>
</section>

<section id="page-health" class="page" hidden>
  <div class="cards">
    <div class="card"><span class="label">Status</span><span class="value" id="h-status"></span></div>
    <div class="card"><span class="label">Packets/s</span><span class="value" id="h-pps"></span></div>
    <div class="card"><span class="label">Kernel drops</span><span class="value" id="h-drops"></span></div>
    <div class="card"><span class="label">Active flows</span><span class="value" id="h-flows"></span></div>
    <div class="card"><span class="label">Catalog</span><span class="value" id="h-catalog"></span></div>
    <div class="card"><span class="label">Up for</span><span class="value" id="h-uptime"></span></div>
  </div>
  <div class="cols">
    <div>
      <h3>Capture</h3>
      <table id="h-interfaces" class="data"><thead><tr><th>Interface</th><th>Packets/s</th><th>Received</th><th>Delivered</th><th>Kernel drops</th><th>Interface drops</th></tr></thead><tbody></tbody></table>
      <h3>Flows</h3>
      <table id="h-flowtable" class="data"><thead><tr><th>Counter</th><th>Value</th></tr></thead><tbody></tbody></table>
      <h3>Components</h3>
      <table id="h-components" class="data"><thead><tr><th>Component</th><th>State</th><th>Ready</th><th>Detail</th></tr></thead><tbody></tbody></table>
    </div>
    <div>
      <h3>Sinks</h3>
      <p id="h-outbox" class="muted"></p>
      <table id="h-sinks" class="data"><thead><tr><th>Sink</th><th>Running</th><th>Lag (events)</th><th>Oldest unsent</th><th>Errors</th><th>Dead letters</th><th>Last error</th></tr></thead><tbody></tbody></table>
      <h3>Jobs</h3>
      <table id="h-jobs" class="data"><thead><tr><th>Job</th><th>Schedule</th><th>Last run</th><th>Outcome</th><th>Failures</th><th>Next run</th></tr></thead><tbody></tbody></table>
      <h3>Stores</h3>
      <table id="h-stores" class="data"><thead><tr><th>Store</th><th>Size</th><th>Files</th></tr></thead><tbody></tbody></table>
    </div>
  </div>
</section>
</main>

<dialog id="confirm">
  <form method="dialog">
    <p id="confirm-text"></p>
    <div class="buttons"><button value="cancel" id="confirm-cancel">Cancel</button> <button value="ok" id="confirm-ok">Confirm</button></div>
  </form>
</dialog>
<p id="status" class="muted" role="status"></p>
<script src="/console/chart.umd.min.js"></script>
<script src="/console/app.js"></script>
</body>
</html>
`;

export const STYLE_CSS = `*{box-sizing:border-box}
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f8fa}
header.top{display:flex;align-items:center;gap:1.2rem;padding:.6rem 1.5rem;background:#0f172a;color:#e2e8f0}
header.top .brand{font-size:1.1rem;letter-spacing:.02em}.spacer{flex:1}
header.top nav{display:flex;gap:.3rem}header.top nav a{color:#cbd5e1;text-decoration:none;padding:.3rem .7rem;border-radius:.3rem}
header.top nav a.active{background:#1e293b;color:#fff}header.top .muted{color:#94a3b8}
header.top select,header.top button{font:inherit}
main,#login{padding:1rem 1.5rem}.panel{background:#fff;border:1px solid #e3e8ee;border-radius:.4rem;padding:.8rem 1rem;margin:1rem 0}
#login{max-width:42rem;margin:2rem auto}
.muted{color:#687684}.error{color:#b91c1c}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin-bottom:1rem}
.card{background:#fff;border:1px solid #e3e8ee;border-radius:.4rem;padding:.5rem .9rem;min-width:9rem;display:flex;flex-direction:column}
.card .label{font-size:.75rem;color:#687684;text-transform:uppercase;letter-spacing:.04em}.card .value{font-size:1.3rem;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:.8rem}
figure{margin:0;background:#fff;border:1px solid #e3e8ee;border-radius:.4rem;padding:.5rem .8rem}
figcaption{font-weight:600;margin-bottom:.3rem}.chart{position:relative;height:220px}
.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center;margin:.8rem 0}
table.data{border-collapse:collapse;width:100%;background:#fff;margin:.3rem 0}
table.data th,table.data td{padding:.3rem .5rem;border-bottom:1px solid #e3e8ee;text-align:left;vertical-align:top}
table.data th{font-size:.8rem;color:#475569;background:#f1f5f9}
table.data tbody tr.clickable{cursor:pointer}table.data tbody tr.clickable:hover{background:#f4f7fa}
table.data tbody tr.selected{background:#e0f2fe}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.risk-high{color:#b91c1c;font-weight:600}.risk-mid{color:#b45309}.risk-low{color:#047857}
.badge{font-size:.75rem;padding:0 .4rem;border-radius:.6rem;background:#eef2f6;white-space:nowrap}
.badge.unsanctioned{background:#fee2e2;color:#991b1b}.badge.sanctioned{background:#dcfce7;color:#166534}.badge.monitored{background:#e0e7ff;color:#3730a3}
.badge.random{background:#fef3c7;color:#92400e}
td.actions button{font-size:.75rem;margin-right:.2rem}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}
ul.plain{list-style:none;margin:0;padding:0}
dialog{border:1px solid #cbd5e1;border-radius:.5rem;padding:1rem 1.3rem;max-width:32rem}
dialog .buttons{text-align:right}
#status{padding:0 1.5rem}
@media (max-width:900px){.charts,.cols{grid-template-columns:1fr}}
`;
