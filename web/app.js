// vmloc's web page: reads the daemon's own HTTP API (docs/protocol.md) once a second and
// updates the page in place. Everything shown comes from GET /v1/health, /v1/hosts, /v1/vms,
// /v1/conflicts, /v1/migrations, /v1/hosts/NAME/history and /v1/policy.
"use strict";

const KINDS = ["cpu", "mem_bw", "disk", "net"];
const POLL_MS = 1000;
const MAX_POLL_MS = 5000;
const LIST_ROWS = 50;
const CHIPS_PER_HOST = 12;

const state = {
  cards: new Map(), // host name -> {el, bars, badge, vms, vmsKey, cls}
  order: "",
  selected: null,
  vmsByHost: new Map(),
  seenMigrations: new Set(),
  seenConflicts: new Set(),
  listsPrimed: false,
  migrationsKey: "",
  conflictsKey: "",
  delay: POLL_MS,
  firstRender: false,
  polls: 0,
};

const $ = (id) => document.getElementById(id);

// A manager answers GET /v1/health with role "manager", or with etcd (active/standby) with
// "leader", "follower" or "none" (no leader known); an agent with "agent".
const MANAGER_ROLES = new Set(["manager", "leader", "follower", "none"]);
const isManager = () => MANAGER_ROLES.has(state.role);
// Changes (drain, apply) are made where orders are: a follower answers them with a 307 to
// the leader, another origin the page does not follow; it links to the leader instead.
const canChange = () => state.role === "manager" || state.role === "leader";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

// --- the API token ---------------------------------------------------------------------------
// Every API call carries the cluster's token (docs/security.md). The page keeps it in this
// tab's sessionStorage only; it comes from the form the page shows after a 401, or once from
// the address (#token=...), which the page then removes from the address bar.
const TOKEN_KEY = "vmloc-token";

function token() {
  return window.sessionStorage.getItem(TOKEN_KEY) || "";
}

// A token is 16 to 256 printable ASCII characters without spaces (docs/security.md).
const TOKEN_RE = /^[\x21-\x7e]{16,256}$/;

function api(path, opts) {
  const o = Object.assign({ cache: "no-store" }, opts || {});
  o.headers = Object.assign({}, o.headers || {});
  const t = token();
  if (t) o.headers.Authorization = "Bearer " + t;
  return fetch(path, o).then((r) => {
    if (r.status === 401) askToken(t ? "the token was refused" : "this daemon needs the cluster's API token");
    return r;
  });
}

function askToken(why) {
  const f = $("login");
  if (!f.hidden) return;
  $("login-why").textContent = why;
  f.hidden = false;
  $("login-token").focus();
}

function tokenFromAddress() {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!m) return;
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  let v = "";
  try {
    v = decodeURIComponent(m[1]);
  } catch (e) {
    // a malformed address: ask instead
  }
  if (TOKEN_RE.test(v)) window.sessionStorage.setItem(TOKEN_KEY, v);
}

function useToken(ev) {
  ev.preventDefault();
  const v = $("login-token").value.trim();
  if (!TOKEN_RE.test(v)) {
    $("login-why").textContent = "a token is 16 to 256 printable characters without spaces";
    return;
  }
  window.sessionStorage.setItem(TOKEN_KEY, v);
  $("login-token").value = "";
  $("login").hidden = true;
  loadMeta();
}

async function getJSON(path) {
  const r = await api(path);
  if (!r.ok) {
    let why = r.status + " " + r.statusText;
    try {
      const j = await r.json();
      if (j && j.error) why = j.error;
    } catch (e) {
      // the body was not JSON: keep the status
    }
    const err = new Error(path + ": " + why);
    err.status = r.status;
    throw err;
  }
  return r.json();
}

function pct(v) {
  return (typeof v === "number" && isFinite(v) ? v : 0).toFixed(0) + "%";
}

function clock(t) {
  if (typeof t !== "number") return "";
  return new Date(t * 1000).toLocaleTimeString([], { hour12: false });
}

function colour(kind) {
  return getComputedStyle(document.documentElement).getPropertyValue("--" + kind).trim();
}

// --- hosts -----------------------------------------------------------------------------

function makeCard(h) {
  const card = el("div", "host");
  card.tabIndex = 0;
  card.dataset.name = h.name;
  const top = el("div", "top");
  const name = el("span", "name", h.name);
  name.title = h.url || "";
  const badge = el("span", "badge");
  top.append(name, badge);
  card.append(top);
  const bars = {};
  for (const k of KINDS) {
    const row = el("div", "bar");
    const track = el("div", "track");
    const fill = el("div", "fill " + k);
    const tick = el("div", "tick");
    track.append(fill, tick);
    const val = el("span", "val");
    row.append(el("span", "kind", k), track, val);
    card.append(row);
    bars[k] = { fill, tick, val, last: null, thr: null };
  }
  // The host's pressure (PSI), beside the bars, where its agent measures it.
  const psi = el("div", "psi");
  psi.hidden = true;
  const vms = el("div", "vms");
  const alert = el("div", "alert");
  alert.hidden = true;
  card.append(psi, vms, alert);
  card.addEventListener("click", () => select(h.name));
  card.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      select(h.name);
    }
  });
  return { el: card, bars, psi, psiText: "", badge, vms, alert, alertText: "", vmsKey: null, cls: "" };
}

function updateCard(c, h) {
  const st = h.in_conflict && h.state === "up" ? "conflict" : h.state;
  const cls = "host " + st + (state.selected === h.name ? " selected" : "");
  if (c.cls !== cls) {
    c.el.className = cls;
    c.cls = cls;
    c.badge.className = "badge " + st;
  }
  c.badge.textContent = st === "maintenance" ? maintLabel(h.maintenance) : st === "conflict" ? "conflict" : h.state;
  c.badge.title = h.maintenance && h.maintenance.blocked ? "drain blocked: " + h.maintenance.blocked + " " + (h.maintenance.blocked_vm || "") : h.reason || "";
  for (const k of KINDS) {
    const b = c.bars[k];
    const v = h.usage ? h.usage[k] : 0;
    const thr = h.threshold ? h.threshold[k] : null;
    if (b.last !== v) {
      b.fill.style.width = Math.max(0, Math.min(100, v)) + "%";
      b.fill.classList.toggle("over", thr !== null && v >= thr);
      b.val.textContent = pct(v);
      b.last = v;
    }
    if (b.thr !== thr && thr !== null) {
      b.tick.style.left = Math.max(0, Math.min(100, thr)) + "%";
      b.tick.title = k + " threshold " + thr + "%";
      b.thr = thr;
    }
  }
  const ptext = pressureText(h.pressure);
  if (c.psiText !== ptext.line) {
    c.psi.textContent = ptext.line;
    c.psi.title = ptext.title;
    c.psi.hidden = ptext.line === "";
    c.psiText = ptext.line;
  }
  const text = alertText(h);
  if (c.alertText !== text) {
    c.alert.textContent = text;
    c.alert.hidden = text === "";
    c.alertText = text;
  }
  const dups = new Set((h.duplicate_vms || []).map((d) => d.vm));
  const vms = state.vmsByHost.get(h.name) || (h.vms || []).map((n) => ({ name: n, state: "running" }));
  const key = vms.map((v) => v.name + ":" + v.state + ":" + holdText(v) + ":" + dups.has(v.name) + ":" + waitText(v)).join(",");
  if (c.vmsKey !== key) {
    c.vmsKey = key;
    const chips = [];
    for (const v of vms.slice(0, CHIPS_PER_HOST)) {
      const held = v.storm_guard_until !== undefined;
      const dup = dups.has(v.name);
      const chip = el("span", "vm " + v.state + (held ? " held" : "") + (dup ? " dup" : ""), v.name);
      chip.title = v.state + (v.usage ? " · cpu " + pct(v.usage.cpu) : "") + waitText(v) + (holdText(v) ? " · " + holdText(v) : "") +
        (dup ? " · on two hosts: not moved" : "");
      chips.push(chip);
    }
    if (vms.length > CHIPS_PER_HOST) chips.push(el("span", "vm more", "+" + (vms.length - CHIPS_PER_HOST)));
    if (vms.length === 0) chips.push(el("span", "muted", "no VMs"));
    c.vms.replaceChildren(...chips);
  }
}

// Errors an operator must end: another agent refused this host's name, VM names on two hosts.
function alertText(h) {
  const parts = [];
  if (h.name_clash) parts.push("name refused to another agent at " + h.name_clash.url + " (" + h.name_clash.refused + "×)");
  for (const d of h.duplicate_vms || []) parts.push("VM " + d.vm + " also on " + d.hosts.filter((n) => n !== h.name).join(", ") + ": not moved");
  return parts.join(" · ");
}

function maintLabel(m) {
  if (!m) return "maintenance";
  return m.vms_left > 0 ? "draining · " + m.vms_left + " left" : "maintenance · empty";
}

function renderHosts(hosts) {
  state.hostsByName = new Map(hosts.map((h) => [h.name, h]));
  const grid = $("hosts");
  const names = hosts.map((h) => h.name);
  const seen = new Set(names);
  for (const [name, c] of state.cards) {
    if (!seen.has(name)) {
      c.el.remove();
      state.cards.delete(name);
    }
  }
  const frag = document.createDocumentFragment();
  let added = false;
  for (const h of hosts) {
    let c = state.cards.get(h.name);
    if (!c) {
      c = makeCard(h);
      state.cards.set(h.name, c);
      added = true;
    }
    updateCard(c, h);
  }
  const order = names.join("\n");
  if (added || order !== state.order) {
    // Keep the manager's order (registration order); appending moves existing nodes.
    for (const h of hosts) frag.append(state.cards.get(h.name).el);
    grid.append(frag);
    state.order = order;
  }
  const up = hosts.filter((h) => h.state === "up").length;
  const conflicts = hosts.filter((h) => h.in_conflict && h.state === "up").length;
  $("host-count").textContent = `${hosts.length} · ${up} up` + (conflicts ? ` · ${conflicts} in conflict` : "");
}

function groupVms(vms) {
  const by = new Map();
  for (const v of vms) {
    if (!by.has(v.host)) by.set(v.host, []);
    by.get(v.host).push(v);
  }
  state.vmsByHost = by;
}

// --- the selected host ------------------------------------------------------------------

function select(name) {
  state.selected = name;
  for (const [n, c] of state.cards) {
    const want = n === name;
    if (c.el.classList.contains("selected") !== want) {
      c.el.classList.toggle("selected", want);
      c.cls = c.el.className;
    }
  }
  $("detail-name").textContent = name;
  $("detail-hint").textContent = "Usage over the last minutes; dashed lines are the host thresholds.";
  renderDetailVms();
  renderMaint();
  refreshHistory();
}

// Maintenance from the page (the manager's POST /v1/hosts/NAME/drain and /undrain).
function renderMaint() {
  const b = $("maint");
  const s = $("maint-status");
  const h = state.selected && state.hostsByName ? state.hostsByName.get(state.selected) : null;
  if (!h || !canChange()) {
    b.hidden = true;
    s.hidden = true;
    return;
  }
  const on = h.state === "maintenance";
  b.hidden = false;
  b.textContent = on ? "End maintenance" : "Drain (maintenance)";
  b.dataset.action = on ? "undrain" : "drain";
  s.hidden = !on;
  if (on) {
    const m = h.maintenance || {};
    s.textContent =
      (m.vms_left > 0 ? "Draining: " + m.vms_left + " VM" + (m.vms_left > 1 ? "s" : "") + " left" : "Empty: ready for maintenance") +
      (m.blocked ? " · blocked: " + m.blocked + (m.blocked_vm ? " " + m.blocked_vm : "") : "") +
      (m.since ? " · since " + clock(m.since) : "");
  }
}

async function toggleMaint() {
  const name = state.selected;
  const action = $("maint").dataset.action;
  if (!name || !action) return;
  if (action === "drain" && !window.confirm("Move every VM off " + name + " and keep new ones out until its maintenance ends?")) return;
  try {
    const r = await api("/v1/hosts/" + encodeURIComponent(name) + "/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    if (!r.ok) {
      const j = await r.json().catch(() => ({}));
      setStatus(false, action + " " + name + ": " + (j.error || r.status));
    }
  } catch (e) {
    setStatus(false, action + " " + name + ": " + e.message);
  }
}

// What keeps a VM where it is (from GET /v1/vms): the storm guard, then the cooldown.
// A host's pressure stall information: "psi cpu 12.3% · memory 0.0% · io 1.5%" (the "some"
// lines, 10 s averages) and, for the title, every line; empty where the host has none.
function pressureText(p) {
  if (!p) return { line: "", title: "" };
  const some = [];
  const all = [];
  for (const r of ["cpu", "memory", "io"]) {
    if (!p[r]) continue;
    if (p[r].some !== undefined) some.push(r + " " + pct(p[r].some));
    for (const l of ["some", "full"]) if (p[r][l] !== undefined) all.push(r + " " + l + " " + pct(p[r][l]));
  }
  if (all.length === 0) return { line: "", title: "" };
  return {
    line: "psi " + (some.length ? some.join(" · ") : "-"),
    title: "pressure stall information, 10 s averages: share of time tasks waited for the resource\n" + all.join("\n"),
  };
}

// A VM's CPU wait, where measured: " · wait 10.9%".
function waitText(v) {
  return typeof v.cpu_wait === "number" ? " · wait " + pct(v.cpu_wait) : "";
}

function holdText(v) {
  const at = (t) => new Date(t * 1000).toLocaleTimeString();
  if (v.storm_guard_until !== undefined)
    return "storm guard: moved " + v.recent_moves + " times recently; held until " + at(v.storm_guard_until);
  if (v.cooldown_until !== undefined) return "cooldown until " + at(v.cooldown_until);
  return "";
}

function renderDetailVms() {
  const body = $("detail-vms").tBodies[0];
  const vms = state.selected ? state.vmsByHost.get(state.selected) || [] : [];
  const rows = vms.map((v) => {
    const tr = el("tr", v.storm_guard_until !== undefined ? "held" : "");
    tr.append(el("td", "", v.name), el("td", "", v.state));
    for (const k of KINDS) tr.append(el("td", "", pct(v.usage ? v.usage[k] : 0)));
    tr.append(el("td", "", typeof v.cpu_wait === "number" ? pct(v.cpu_wait) : "-"));
    tr.append(el("td", "hold", holdText(v)));
    return tr;
  });
  body.replaceChildren(...rows);
}

async function refreshHistory() {
  const name = state.selected;
  if (!name) return;
  try {
    const h = await getJSON("/v1/hosts/" + encodeURIComponent(name) + "/history");
    if (state.selected === name) drawChart(h);
  } catch (e) {
    if (state.selected === name) drawChartMessage(e.status === 404 ? "no history for this host here" : String(e.message));
  }
}

function drawChartMessage(text) {
  const c = $("chart");
  const t = svg("text", { x: 320, y: 110, "text-anchor": "middle" });
  t.textContent = text;
  c.replaceChildren(t);
}

function drawChart(h) {
  const c = $("chart");
  const W = 640, H = 220, L = 36, R = 8, T = 10, B = 22;
  const times = h.time || [];
  if (times.length === 0) {
    drawChartMessage("no samples yet");
    return;
  }
  const t1 = times[times.length - 1];
  const t0 = Math.min(times[0], t1 - 60);
  const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - Math.max(0, Math.min(100, v)) / 100) * (H - T - B);
  const parts = [];
  for (const v of [0, 25, 50, 75, 100]) {
    parts.push(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    const lab = svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end" });
    lab.textContent = v + "%";
    parts.push(lab);
  }
  const span = t1 - t0;
  const left = svg("text", { x: L, y: H - 6 });
  left.textContent = "-" + Math.round(span) + " s";
  const right = svg("text", { x: W - R, y: H - 6, "text-anchor": "end" });
  right.textContent = clock(t1);
  parts.push(left, right);
  for (const k of KINDS) {
    const vals = (h.usage && h.usage[k]) || [];
    const col = colour(k);
    const thr = h.threshold ? h.threshold[k] : null;
    if (thr !== null && thr !== undefined) {
      parts.push(svg("line", { x1: L, x2: W - R, y1: y(thr), y2: y(thr), stroke: col, "stroke-dasharray": "5 4", "stroke-width": 1 }));
    }
    const pts = times.map((t, i) => x(t).toFixed(1) + "," + y(vals[i] || 0).toFixed(1)).join(" ");
    const line = svg("polyline", { points: pts, fill: "none", stroke: col, "stroke-width": 1.6 });
    const title = svg("title");
    title.textContent = k + (thr !== null ? " (threshold " + thr + "%)" : "");
    line.append(title);
    parts.push(line);
  }
  c.replaceChildren(...parts);
}

// --- conflicts and migrations ------------------------------------------------------------

function renderMigrations(list) {
  const rows = list.slice(-LIST_ROWS).reverse();
  const key = rows.map((m) => m.id + ":" + m.state + ":" + m.downtime_ms).join(",");
  $("migrations-empty").hidden = rows.length > 0;
  if (key === state.migrationsKey) return;
  state.migrationsKey = key;
  const trs = rows.map((m) => {
    const tr = el("tr");
    tr.dataset.id = m.id;
    if (state.listsPrimed && !state.seenMigrations.has(m.id)) tr.className = "new";
    state.seenMigrations.add(m.id);
    const took = typeof m.finished === "number" ? (m.finished - m.started).toFixed(2) + " s" : "…";
    const st = el("td", "state-" + m.state, m.state);
    st.title = m.error || m.reason || "";
    const vm = el("td", "", m.vm);
    vm.title = m.reason || "";
    // The VM's pause, what an operator asks first; the data sent and the job's time on hover.
    const down = el("td", "", typeof m.downtime_ms === "number" ? Math.round(m.downtime_ms) + " ms" : "–");
    const job = [];
    if (typeof m.transferred_mib === "number") job.push(m.transferred_mib.toFixed(1) + " MiB sent");
    if (typeof m.total_ms === "number") job.push("job " + (m.total_ms / 1000).toFixed(2) + " s");
    down.title = job.join(", ");
    tr.append(el("td", "", clock(m.started)), vm, el("td", "", m.from + " → " + m.to), st, el("td", "", took), down);
    return tr;
  });
  $("migrations").tBodies[0].replaceChildren(...trs);
}

function renderConflicts(list) {
  const rows = list.slice(-LIST_ROWS).reverse();
  const key = rows.map((c) => c.host + "@" + c.time).join(",");
  $("conflicts-empty").hidden = rows.length > 0;
  if (key === state.conflictsKey) return;
  state.conflictsKey = key;
  const trs = rows.map((c) => {
    const tr = el("tr");
    const id = c.host + "@" + c.time;
    if (state.listsPrimed && !state.seenConflicts.has(id)) tr.className = "new";
    state.seenConflicts.add(id);
    tr.append(
      el("td", "", clock(c.time)),
      el("td", "", c.host),
      el("td", "", (c.resources || []).join(", ")),
      el("td", "", (c.vms || []).join(", ")),
      el("td", "", c.outcome || ""),
    );
    return tr;
  });
  $("conflicts").tBodies[0].replaceChildren(...trs);
}

// Recommendations (automation = manual or dry-run): the manager's, with an Apply button for
// the pending ones (POST /v1/recommendations/ID/apply, like `vmloc apply ID`).
function renderRecs(list) {
  const rows = list.filter((r) => r.state === "pending" || r.state === "dry-run").slice(-LIST_ROWS).reverse();
  $("recs-section").hidden = rows.length === 0;
  const key = rows.map((r) => r.id + ":" + r.state).join(",");
  if (key === state.recsKey) return;
  state.recsKey = key;
  const trs = rows.map((r) => {
    const tr = el("tr");
    tr.dataset.id = r.id;
    const vm = el("td", "", r.vm);
    vm.title = r.reason || "";
    const act = el("td");
    if (r.state === "pending" && canChange()) {
      const b = el("button", "", "Apply");
      b.type = "button";
      b.addEventListener("click", () => applyRec(r.id));
      act.append(b);
    }
    tr.append(el("td", "", clock(r.time)), vm, el("td", "", r.from + " → " + r.to), el("td", "", r.state), act);
    return tr;
  });
  $("recs").tBodies[0].replaceChildren(...trs);
}

async function applyRec(id) {
  try {
    const r = await api("/v1/recommendations/" + encodeURIComponent(id) + "/apply", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    const j = await r.json().catch(() => ({}));
    setStatus(r.ok, r.ok ? "applied " + id + ": migration " + j.migration : "apply " + id + ": " + (j.error || r.status));
  } catch (e) {
    setStatus(false, "apply " + id + ": " + e.message);
  }
}

// --- the loop ------------------------------------------------------------------------------

function setStatus(ok, text) {
  const s = $("status");
  s.className = "status " + (ok ? "live" : "lost");
  s.textContent = text;
}

async function poll() {
  try {
    const [hosts, vms, migrations, conflicts] = await Promise.all([
      getJSON("/v1/hosts"),
      getJSON("/v1/vms"),
      getJSON("/v1/migrations?limit=" + LIST_ROWS),
      getJSON("/v1/conflicts?limit=" + LIST_ROWS),
    ]);
    const t0 = performance.now();
    groupVms(vms);
    renderHosts(hosts);
    renderMigrations(migrations);
    renderConflicts(conflicts);
    window.vmlocLastRenderMs = performance.now() - t0;
    if (state.polls % 5 === 4) loadRole(); // a follower may lead by now, or the leader change
    if (isManager()) {
      getJSON("/v1/recommendations?limit=" + LIST_ROWS).then(renderRecs, () => {});
    }
    state.listsPrimed = true;
    if (!state.firstRender) {
      state.firstRender = true;
      // For tests and curious operators: how long the first full render took.
      window.vmlocFirstRenderMs = performance.now();
      document.body.dataset.rendered = "1";
      if (!state.selected) {
        const first = hosts.find((h) => h.in_conflict) || hosts[0];
        if (first) select(first.name);
      }
    } else if (state.selected) {
      renderDetailVms();
      renderMaint();
      if (state.polls % 2 === 0) refreshHistory();
    }
    state.polls++;
    const active = migrations.filter((m) => m.state === "running" || m.state === "planned").length;
    $("summary").textContent = active ? active + " migration" + (active > 1 ? "s" : "") + " running" : "";
    setStatus(true, "live · " + clock(Date.now() / 1000));
    state.delay = POLL_MS;
  } catch (e) {
    setStatus(false, "not reachable, retrying (" + e.message + ")");
    state.delay = Math.min(MAX_POLL_MS, state.delay * 2);
  }
  window.setTimeout(poll, state.delay);
}

function start() {
  const legend = $("legend");
  for (const k of KINDS) {
    const s = el("span", "", k);
    const sw = el("i");
    sw.style.background = colour(k);
    s.prepend(sw);
    legend.append(s);
  }
  tokenFromAddress();
  $("login").addEventListener("submit", useToken);
  $("maint").addEventListener("click", toggleMaint);
  poll();
  loadMeta();
}

// With active/standby managers: on a follower, say so and link to the leader; with no leader,
// say why nothing is ordered.
function renderHa(h) {
  const n = $("ha-note");
  n.replaceChildren();
  if (h.role === "follower") {
    n.append("This manager is a follower (standby): it shows what it collects; the leader decides and orders. ");
    if (typeof h.leader === "string" && /^https?:\/\/[^\s"<>]+$/.test(h.leader)) {
      const a = el("a", "", "Open the leader" + (h.leader_id ? " (" + h.leader_id + ")" : ""));
      a.href = h.leader.replace(/\/+$/, "") + "/";
      a.id = "ha-leader";
      n.append(a, " to drain hosts or apply recommendations.");
    }
  } else if (h.role === "none") {
    n.append("No manager leads at the moment (" + (h.ha_problem || "an election is under way") + "): nothing is ordered until one does.");
  }
  n.hidden = n.childNodes.length === 0;
}

function loadRole() {
  getJSON("/v1/health").then(
    (h) => {
      const changed = state.role !== h.role;
      state.role = h.role;
      if (changed) {
        state.recsKey = ""; // the Apply buttons come or go with the role
        renderMaint();
      }
      renderHa(h);
      $("role").textContent =
        h.role + (h.term ? " · term " + h.term : "") + (h.mode ? " · " + h.mode + " mode" : "") + (h.name ? " · " + h.name : "");
    },
    () => {},
  );
}

// The daemon's role and policy: read at start, and again once a token is given.
function loadMeta() {
  loadRole();
  api("/v1/policy")
    .then((r) => (r.ok ? r.text() : "not available here"))
    .then(
      (t) => {
        $("policy").textContent = t;
      },
      () => {
        $("policy").textContent = "not available";
      },
    );
}

start();
