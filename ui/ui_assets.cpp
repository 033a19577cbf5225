#include "ui/ui_assets.h"

#include <array>
#include <string>

namespace metalpxe::ui {
namespace {

constexpr std::string_view kIndexHtml = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>metalpxe</title>
<link rel="stylesheet" href="/style.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>metalpxe</h1>
  <span id="conn" class="conn off">connecting</span>
  <form method="post" action="/logout"><button type="submit">Log out</button></form>
</header>
<main>
  <section id="clusters-section" hidden>
    <h2>Clusters <span id="cluster-count"></span></h2>
    <div id="clusters"></div>
  </section>
  <section id="machines-section">
    <h2>Machines <span id="machine-count"></span></h2>
    <table id="machines">
      <thead><tr><th>Name</th><th>State</th><th>Address</th><th>Firmware</th><th>Profile</th><th>Last seen</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-machines" hidden>No machines yet: power one on, on the boot network.</p>
  </section>
  <section id="detail" hidden>
    <h2 id="detail-title"></h2>
    <p id="detail-state"></p>
    <h3>Boot timeline</h3>
    <ol id="timeline"></ol>
    <h3>Kernel log</h3>
    <pre id="kmsg"></pre>
  </section>
</main>
</body>
</html>
)html";

// The login page, with or without the failed-login message between its
// heading and its form fields: one document, so the two cannot drift apart.
constexpr std::string_view kLoginHead = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>metalpxe: log in</title>
<link rel="stylesheet" href="/style.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
</head>
<body class="login">
<form id="login" method="post" action="/login">
  <h1>metalpxe</h1>
)html";

constexpr std::string_view kLoginError = R"html(  <p id="login-error" class="error">Wrong password.</p>
)html";

constexpr std::string_view kLoginTail = R"html(  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
  <button type="submit">Log in</button>
</form>
</body>
</html>
)html";

constexpr std::string_view kStyleCss = R"css(:root { --bg: #f6f7f9; --fg: #1c2330; --muted: #5b6575; --line: #d9dde3; --accent: #2f6fd6;
  --ok: #1e8a4c; --warn: #b26a00; --bad: #c0392b; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; gap: 12px; padding: 10px 16px; background: #1c2330; color: #fff; }
header h1 { font-size: 18px; margin: 0; flex: 1; }
header button { background: transparent; color: #fff; border: 1px solid #fff6; border-radius: 6px; padding: 4px 10px; }
.conn { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: var(--ok); }
.conn.off { background: var(--warn); }
main { padding: 12px 16px; max-width: 1100px; margin: 0 auto; }
h2 { font-size: 17px; } h3 { font-size: 15px; margin-top: 18px; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 8px; border-bottom: 1px solid var(--line); }
tbody tr { cursor: pointer; } tbody tr:hover, tbody tr.selected { background: #eaf1fd; }
.state { font-weight: 600; }
.state-installed, .state-running { color: var(--ok); }
.state-failed { color: var(--bad); }
.state-installing, .state-reinstall-requested, .state-installer-served { color: var(--warn); }
#timeline { list-style: none; padding: 0; margin: 0; background: #fff; border: 1px solid var(--line); }
#timeline li { padding: 6px 8px; border-bottom: 1px solid var(--line); display: grid;
  grid-template-columns: 7.5em 4.5em 1fr; gap: 8px; }
#timeline .time { color: var(--muted); font-variant-numeric: tabular-nums; }
#timeline .source { font-weight: 600; text-transform: uppercase; font-size: 12px; }
#timeline .details { grid-column: 3; color: var(--muted); font-size: 13px; word-break: break-word; }
#kmsg { background: #11151c; color: #d7dde8; padding: 8px; max-height: 40vh; overflow: auto; font-size: 12px;
  white-space: pre-wrap; word-break: break-word; }
body.login { display: grid; place-items: center; min-height: 100vh; }
#login { background: #fff; border: 1px solid var(--line); padding: 24px; border-radius: 10px; width: min(92vw, 340px);
  display: grid; gap: 10px; }
#login input, #login button { font-size: 16px; padding: 8px; }
#login button { background: var(--accent); color: #fff; border: 0; border-radius: 6px; }
.error { color: var(--bad); margin: 0; }
.cluster { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; margin-bottom: 14px; }
.cluster h3 { margin: 0 0 6px; display: flex; flex-wrap: wrap; align-items: center; gap: 8px; font-size: 16px; }
.cluster p { margin: 4px 0; overflow-wrap: anywhere; }
.cluster .label { color: var(--muted); }
.cluster table { margin-top: 8px; font-size: 14px; }
.cluster tbody tr { cursor: default; }
.cluster h4 { margin: 12px 0 0; font-size: 14px; }
.badge { font-size: 12px; font-weight: 600; padding: 2px 8px; border-radius: 10px; color: #fff; background: var(--muted); }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); } .badge.warn { background: var(--warn); }
.muted { color: var(--muted); }
@media (max-width: 640px) {
  thead { display: none; }
  table, tbody, tr, td { display: block; width: 100%; }
  tbody tr { border-bottom: 1px solid var(--line); padding: 6px 0; }
  td { border: 0; padding: 2px 8px; }
  td::before { content: attr(data-label) ": "; color: var(--muted); }
  #timeline li { grid-template-columns: 6.5em 1fr; }
  #timeline .source { grid-column: 2; } #timeline .summary, #timeline .details { grid-column: 1 / 3; }
}
)css";

constexpr std::string_view kAppJs = R"js('use strict';
// The status page: the clusters, the machines table and, for the selected
// machine, its boot timeline and kernel log, all kept live by one
// server-sent-events stream (/api/stream). Text is set with textContent only.
(function () {
  const $ = (sel) => document.querySelector(sel);
  let selected = new URLSearchParams(location.hash.slice(1)).get('machine') || '';
  let machines = [];
  let source = null;
  const timeline = new Map();  // seq -> entry

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function ago(unix) {
    if (!unix) return '-';
    const s = Math.max(0, Math.round(Date.now() / 1000 - unix));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
  }
  function clock(ms) {
    const d = new Date(ms);
    return d.toLocaleTimeString([], { hour12: false });
  }
  function label(m) { return m.name || m.mac; }

  // --- clusters: what `metalpxectl cluster status` shows -----------------
  const bootstrapWords = { pending: 'not yet', bootstrapping: 'in progress', bootstrapped: 'bootstrapped',
    failed: 'could not' };
  const bootstrapClass = { bootstrapped: 'ok', failed: 'bad', bootstrapping: 'warn' };

  function table(cls, columns, rows) {
    const t = el('table', cls);
    const head = el('tr');
    for (const c of columns) head.appendChild(el('th', '', c));
    t.appendChild(el('thead')).appendChild(head);
    const body = t.appendChild(el('tbody'));
    for (const row of rows) {
      const tr = body.appendChild(el('tr'));
      row.forEach((value, i) => {
        const td = tr.appendChild(el('td', '', value));
        td.dataset.label = columns[i];
      });
    }
    return t;
  }

  function byState(c) {
    const parts = Object.keys(c.nodesByState).sort().map((s) => c.nodesByState[s] + ' ' + s);
    return parts.length ? parts.join(', ') : 'no machines';
  }

  function renderCluster(c) {
    const card = el('article', 'cluster');
    card.dataset.cluster = c.name;
    const h = card.appendChild(el('h3'));
    h.appendChild(el('span', 'name', c.name));
    const boot = h.appendChild(el('span', 'badge bootstrap ' + (bootstrapClass[c.bootstrap] || ''),
      bootstrapWords[c.bootstrap] || c.bootstrap));
    boot.dataset.state = c.bootstrap;
    const kube = h.appendChild(el('span', 'badge kubernetes ' + (!c.checked ? '' : c.kubernetesReady ? 'ok' : 'bad'),
      !c.checked ? 'Kubernetes: checking' : c.kubernetesReady ? 'Kubernetes ready' : 'Kubernetes not ready'));
    kube.dataset.ready = c.checked ? String(c.kubernetesReady) : '';
    const line = (cls, name, text) => {
      const p = card.appendChild(el('p', cls));
      p.appendChild(el('span', 'label', name + ': '));
      p.appendChild(el('span', 'value', text));
    };
    line('endpoint', 'Endpoint', c.endpoint || '-');
    let b = (bootstrapWords[c.bootstrap] || c.bootstrap) + ' (' + c.bootstrapMode + ')';
    if (c.bootstrapNode) b += ' on ' + c.bootstrapNode;
    if (c.bootstrapAttempts > 0) b += ', ' + c.bootstrapAttempts + ' call(s)';
    if (c.bootstrapReason) b += ': ' + c.bootstrapReason;
    line('bootstrap-line', 'Bootstrap', b);
    line('kubernetes-line', 'Kubernetes /readyz', !c.checked ? 'not checked yet'
      : (c.kubernetesReady ? 'answers' : 'no') + (c.kubernetesDetail ? ' (' + c.kubernetesDetail + ')' : ''));
    line('nodes-line', 'Nodes', byState(c));
    card.appendChild(table('nodes', ['Node', 'Role', 'State', 'Address', 'Talos'],
      c.nodes.map((n) => [n.name, n.role, n.state, n.ip || '-', n.talosVersion || '-'])));
    card.querySelectorAll('table.nodes tbody tr').forEach((tr, i) => {
      tr.children[2].className = 'state state-' + c.nodes[i].state;
    });
    card.appendChild(el('h4', '', 'etcd members'));
    if (c.statusError) {
      card.appendChild(el('p', 'etcd-error muted', 'status unavailable: ' + c.statusError));
    } else if (!c.checked) {
      card.appendChild(el('p', 'etcd-error muted', 'not checked yet'));
    } else if (c.etcdError) {
      card.appendChild(el('p', 'etcd-error muted', c.etcdError));
    } else {
      card.appendChild(table('etcd', ['Member', 'Hostname', 'Peer URLs', 'Learner'],
        c.etcdMembers.map((m) => [m.id, m.hostname || '-', m.peerUrls.join(', '), m.learner ? 'yes' : 'no'])));
    }
    if (c.checked) card.appendChild(el('p', 'checked muted', 'checked ' + clock(c.checkedUnixMs)));
    return card;
  }

  function renderClusters(clusters) {
    $('#clusters-section').hidden = clusters.length === 0;
    $('#cluster-count').textContent = '(' + clusters.length + ')';
    $('#clusters').replaceChildren(...clusters.map(renderCluster));
  }

  function renderMachines() {
    const body = $('#machines tbody');
    body.replaceChildren();
    $('#machine-count').textContent = '(' + machines.length + ')';
    $('#no-machines').hidden = machines.length !== 0;
    for (const m of machines) {
      const tr = el('tr');
      tr.dataset.mac = m.mac;
      if (m.mac === selected) tr.classList.add('selected');
      const cells = [['Name', label(m)], ['State', m.state], ['Address', m.ip || '-'],
        ['Firmware', m.firmware || '-'], ['Profile', m.profile || '-'], ['Last seen', ago(m.lastSeenUnix)]];
      for (const [name, value] of cells) {
        const td = el('td', name === 'State' ? 'state state-' + m.state : '', value);
        td.dataset.label = name;
        tr.appendChild(td);
      }
      tr.addEventListener('click', () => select(m.mac));
      body.appendChild(tr);
    }
    renderDetailHeader();
  }

  function renderDetailHeader() {
    const m = machines.find((x) => x.mac === selected);
    $('#detail').hidden = !m;
    if (!m) return;
    $('#detail-title').textContent = label(m) + ' (' + m.mac + ')';
    $('#detail-state').textContent = 'State: ' + m.state + (m.reason ? ' (' + m.reason + ')' : '') +
      (m.role ? ', role ' + m.role : '');
  }

  function renderTimeline() {
    const ol = $('#timeline');
    ol.replaceChildren();
    const entries = [...timeline.values()].sort((a, b) => a.seq - b.seq);
    for (const e of entries) {
      const li = el('li');
      li.dataset.source = e.source;
      li.appendChild(el('span', 'time', clock(e.timeUnixMs)));
      li.appendChild(el('span', 'source', e.source));
      li.appendChild(el('span', 'summary', e.summary + (e.repeats ? ' (x' + (e.repeats + 1) + ')' : '')));
      if (e.details) li.appendChild(el('span', 'details', e.details));
      ol.appendChild(li);
    }
  }

  function appendLog(line) {
    const pre = $('#kmsg');
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(line.facility + '.' + line.priority + ' ' + line.message + '\n'));
    while (pre.childNodes.length > 500) pre.removeChild(pre.firstChild);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  function connect() {
    if (source) source.close();
    timeline.clear();
    renderTimeline();
    $('#kmsg').replaceChildren();
    source = new EventSource('/api/stream' + (selected ? '?machine=' + encodeURIComponent(selected) : ''));
    source.addEventListener('open', () => { $('#conn').textContent = 'live'; $('#conn').classList.remove('off'); });
    source.addEventListener('error', () => {
      $('#conn').textContent = 'reconnecting';
      $('#conn').classList.add('off');
      // A session that expired: the stream is refused; go log in again.
      fetch('/api/machines', { credentials: 'same-origin' }).then((r) => {
        if (r.status === 401) location.href = '/login';
      }).catch(() => {});
    });
    source.addEventListener('machines', (ev) => { machines = JSON.parse(ev.data).machines; renderMachines(); });
    source.addEventListener('clusters', (ev) => renderClusters(JSON.parse(ev.data).clusters));
    source.addEventListener('timeline', (ev) => {
      const e = JSON.parse(ev.data);
      timeline.set(e.seq, e);
      renderTimeline();
    });
    source.addEventListener('log', (ev) => appendLog(JSON.parse(ev.data)));
  }

  function select(mac) {
    selected = mac === selected ? '' : mac;
    history.replaceState(null, '', selected ? '#machine=' + encodeURIComponent(selected) : '#');
    renderMachines();
    connect();
  }

  setInterval(renderMachines, 30000);  // "last seen" ages
  connect();
})();
)js";

constexpr std::string_view kFaviconSvg =
    R"svg(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1c2330"/><path d="M4 11V5l4 4 4-4v6" stroke="#fff" stroke-width="1.6" fill="none"/></svg>
)svg";

constexpr std::array<UiAsset, 5> kAssets{{
    {"/", "text/html; charset=utf-8", kIndexHtml},
    {"/app.js", "text/javascript; charset=utf-8", kAppJs},
    {"/style.css", "text/css; charset=utf-8", kStyleCss},
    {"/favicon.svg", "image/svg+xml", kFaviconSvg},
    {"/favicon.ico", "image/svg+xml", kFaviconSvg},  // browsers ask for it anyway
}};

}  // namespace

const UiAsset* FindUiAsset(std::string_view path) {
  for (const auto& a : kAssets)
    if (a.path == path) return &a;
  return nullptr;
}

std::string_view UiLoginPage(bool failed) {
  static const std::string page = std::string(kLoginHead) + std::string(kLoginTail);
  static const std::string failed_page = std::string(kLoginHead) + std::string(kLoginError) + std::string(kLoginTail);
  return failed ? failed_page : page;
}

}  // namespace metalpxe::ui
