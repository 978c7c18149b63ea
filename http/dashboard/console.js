// IMS console: vanilla JS, no build step. Every value from the API goes
// through esc() (or textContent) before it reaches the DOM: message content
// is user input.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "ims-api-key";
const LIST_EVERY = 3000;   // ms between refreshes of the visible lists
const STALL_AFTER = 4000;  // no snapshot for this long: reconnecting
const DOWN_AFTER = 10000;  // ... and for this long: down
// The end of an id cannot be searched by the API: it is looked for in the
// newest ID_SCAN_PAGES × ID_SCAN_PAGE messages (a whole id finds any).
const ID_SCAN_PAGES = 10, ID_SCAN_PAGE = 200;

let lastLists = 0; // when the lists were last asked for

const state = {
  key: "", accepted: false,
  snap: null, snapAt: 0,           // the latest snapshot and when it arrived (client clock)
  conn: "off", troubleSince: null, // when the trouble began (Date)
  stream: null,                    // AbortController of the open stream
  poll: false,                     // the server refused a stream: poll GET /api/console
  statuses: [],
  msg: { cursors: [""], i: 0, q: "", status: "", phone: "", idEnd: "" },
  dead: { cursors: [""], i: 0, rows: [] },
  audit: { cursors: [""], i: 0, type: "", msg: "" },
  listsBusy: false, detailID: null,
};

// ---- helpers ---------------------------------------------------------------

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
const pad = (n) => String(n).padStart(2, "0");
function hms(d) { d = new Date(d); return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }
function when(t) {
  if (!t) return "";
  const d = new Date(t);
  const today = new Date().toDateString() === d.toDateString();
  return today ? hms(d) : d.toLocaleDateString() + " " + hms(d);
}
function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s ago";
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m ago";
}
function rate(perSec) {
  if (!perSec) return "0/s";
  if (perSec >= 10) return Math.round(perSec) + "/s";
  if (perSec >= 1) return perSec.toFixed(1) + "/s";
  const perMin = perSec * 60;
  return (perMin >= 10 ? Math.round(perMin) : perMin.toFixed(1)) + "/min";
}
function num(n) { return n == null ? "–" : Number(n).toLocaleString(); }
function ms(v) { return v == null ? "–" : v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + " s" : Math.round(v) + " ms"; }
function short(id) { return id ? id.slice(-8) : ""; }
function st(s) { return '<span class="st st-' + esc(s) + '">' + esc(s) + "</span>"; }
const isUUID = (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
const present = (v) => v !== undefined && v !== null && v !== "";

class APIError extends Error { constructor(status, msg) { super(msg); this.status = status; } }

async function api(path, opts = {}) {
  let res;
  try {
    res = await fetch(path, { ...opts, headers: { Authorization: "Bearer " + state.key, "Content-Type": "application/json", ...(opts.headers || {}) } });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new APIError(0, "IMS does not answer");
  }
  const body = await res.json().catch(() => ({}));
  if (res.status === 401 && state.accepted) lock("The API key was rejected — enter it again.");
  if (!res.ok) {
    let msg = body.error || "HTTP " + res.status;
    if (body.details && typeof body.details === "object") {
      msg += ": " + Object.entries(body.details).filter(([k]) => k !== "accepted").map(([k, v]) => k + " " + v).join("; ");
    }
    throw new APIError(res.status, msg);
  }
  return body;
}

// ---- results of actions ----------------------------------------------------

function toast(text, ok) {
  const t = document.createElement("div");
  t.className = "toast" + (ok ? "" : " bad");
  t.setAttribute("role", ok ? "status" : "alert");
  t.textContent = text;
  $("toasts").appendChild(t);
  setTimeout(() => t.remove(), ok ? 5000 : 9000);
}

function showResult(el, text, ok) {
  if (!el) return;
  el.textContent = text;
  el.className = "inline-result " + (ok ? "ok" : "bad");
}

// act runs fn for button btn: the button is disabled and busy meanwhile,
// the result is shown next to it (resultEl) and as a toast.
async function act(btn, resultEl, fn) {
  if (btn.disabled) return;
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  showResult(resultEl, "working…", true);
  try {
    const text = await fn();
    if (text === null) { showResult(resultEl, "", true); return; } // declined
    showResult(resultEl, "✓ " + text, true);
    toast(text, true);
  } catch (e) {
    showResult(resultEl, "✗ " + e.message, false);
    toast(e.message, false);
  } finally {
    btn.removeAttribute("aria-busy");
    btn.disabled = !state.accepted;
    render();
    refreshLists();
  }
}

function confirmDialog(title, text, yes) {
  return new Promise((resolve) => {
    const d = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-yes").textContent = yes;
    const done = (v) => { d.close(); $("confirm-yes").onclick = $("confirm-no").onclick = d.oncancel = null; resolve(v); };
    $("confirm-yes").onclick = () => done(true);
    $("confirm-no").onclick = () => done(false);
    d.oncancel = (e) => { e.preventDefault(); done(false); };
    d.showModal();
    $("confirm-no").focus();
  });
}

// ---- the key ---------------------------------------------------------------

async function tryKey(key, silent) {
  state.key = key;
  const out = $("key-result");
  if (!silent) showResult(out, "checking…", true);
  try {
    const snap = await api("/api/console");
    sessionStorage.setItem(KEY, key);
    state.accepted = true;
    document.body.classList.remove("locked");
    $("main").inert = false;
    $("signout").hidden = false;
    showResult(out, "", true);
    onSnapshot(snap);
    startStream();
    loadFilters();
    loadHealth();
    refreshLists();
  } catch (e) {
    state.key = "";
    if (e.status === 401) { sessionStorage.removeItem(KEY); showResult(out, "✗ That key was rejected.", false); }
    else showResult(out, "✗ " + e.message, false);
    if (!silent) $("key").focus();
  }
}

function lock(why) {
  state.accepted = false;
  state.key = "";
  sessionStorage.removeItem(KEY);
  if (state.stream) state.stream.abort();
  document.body.classList.add("locked");
  $("main").inert = true;
  $("signout").hidden = true;
  setConn("off");
  showResult($("key-result"), why || "", !why);
  render();
  $("key").focus();
}

// ---- live state ------------------------------------------------------------

function setConn(c) {
  if (c !== "live" && state.conn === "live") state.troubleSince = new Date();
  if (c === "live") state.troubleSince = null;
  state.conn = c;
  renderConn();
}

function renderConn() {
  const el = $("conn"), text = $("conn-text"), banner = $("stale");
  el.className = "conn conn-" + state.conn;
  const since = state.troubleSince ? hms(state.troubleSince) : "";
  const from = state.snap ? hms(state.snap.generated_at) : "";
  switch (state.conn) {
    case "live": text.textContent = state.poll ? "live (polling)" : "live"; break;
    case "reconnecting": text.textContent = "reconnecting…"; break;
    case "down": text.textContent = "down since " + since; break;
    default: text.textContent = "not connected";
  }
  const stale = state.accepted && state.conn !== "live";
  document.title = (state.conn === "down" ? "⚠ down — " : state.conn === "reconnecting" ? "… " : "") + "IMS console";
  document.body.classList.toggle("stale", stale);
  banner.hidden = !stale;
  if (stale) {
    banner.textContent = (state.conn === "down" ? "IMS does not answer since " + since + "." : "Lost the live feed; reconnecting.") +
      (from ? " Everything below is as of " + from + " and may be out of date." : "");
  }
  $("refreshed").textContent = state.snap ? "updated " + hms(state.snap.generated_at) + " (" + ago(Date.now() - state.snapAt) + ")" : "—";
}

function onSnapshot(snap) {
  const before = state.snap ? JSON.stringify(state.snap.counts) : "";
  state.snap = snap;
  state.snapAt = Date.now();
  if (state.conn !== "live") { setConn("live"); if (state.accepted) refreshLists(); }
  // The counts moved: the lists have news (refreshed within a second).
  else if (before !== JSON.stringify(snap.counts)) state.listsDue = true;
  render();
}

async function startStream() {
  if (state.stream) state.stream.abort();
  const ctl = new AbortController();
  state.stream = ctl;
  let backoff = 500;
  while (state.accepted && state.stream === ctl) {
    if (state.poll) {
      try { onSnapshot(await api("/api/console", { signal: ctl.signal })); backoff = 500; }
      catch (e) { if (e.name === "AbortError") return; failed(e); }
      await sleep(2000, ctl.signal);
      continue;
    }
    let res;
    try {
      res = await fetch("/api/console/stream", { headers: { Authorization: "Bearer " + state.key }, signal: ctl.signal, cache: "no-store" });
    } catch (e) {
      if (state.stream !== ctl) return;
      setConn("down"); // the connection was refused: IMS is not there
      await sleep(backoff, ctl.signal);
      backoff = Math.min(backoff * 2, 5000);
      continue;
    }
    try {
      if (res.status === 401) { lock("The API key was rejected — enter it again."); return; }
      if (res.status === 503) { state.poll = true; continue; }
      if (!res.ok || !res.body) throw new APIError(res.status, "HTTP " + res.status);
      backoff = 500;
      await readEvents(res.body.getReader(), ctl);
      if (state.conn === "live") setConn("reconnecting"); // the server ended the stream
    } catch (e) {
      if (e.name === "AbortError" && state.stream !== ctl) return;
      failed(e);
    }
    await sleep(backoff, ctl.signal);
    backoff = Math.min(backoff * 2, 5000);
  }
}

function failed(e) {
  // A refused connection means the server is gone; anything else may pass.
  if (e && e.status === 0) setConn("down");
  else if (state.conn === "live") setConn("reconnecting");
  else if (state.troubleSince && Date.now() - state.troubleSince > DOWN_AFTER) setConn("down");
  else renderConn();
}

async function readEvents(reader, ctl) {
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done || state.stream !== ctl) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      let ev = "", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) ev = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (ev === "snapshot" && data) { try { onSnapshot(JSON.parse(data)); } catch (_) { /* a torn event: the next one comes in a second */ } }
    }
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

// The watchdog: a snapshot arrives every second; silence means trouble,
// whatever the socket says.
setInterval(() => {
  if (!state.accepted) return;
  const quiet = Date.now() - state.snapAt;
  if (state.conn === "live" && quiet > STALL_AFTER) {
    setConn("reconnecting");
    startStream(); // the stream stalled: open a new one
  } else if (state.conn === "reconnecting" && state.troubleSince && Date.now() - state.troubleSince > DOWN_AFTER) {
    setConn("down");
  } else renderConn();
}, 1000);

// /api/health (no key; the server checks at most once a second however
// many ask) names a component that is down: the database, the queue, Redis.
async function loadHealth() {
  try {
    const res = await fetch("/api/health", { cache: "no-store" });
    state.health = await res.json();
  } catch (_) { return; } // the live state already says IMS is gone
  renderHealth();
}
setInterval(() => { if (state.accepted && state.conn === "live" && !document.hidden) loadHealth(); }, 5000);

function renderHealth() {
  const h = state.health;
  if (!h || !h.components) return;
  $("health").title = h.version ? "IMS version " + h.version : "";
  $("health").innerHTML = '<span class="muted">Health</span> ' + st(h.status) + ' <span class="muted">·</span> ' +
    Object.entries(h.components).map(([name, c]) => '<span class="comp" title="' + esc(c.error || c.detail || "") + '">' + esc(name) + " " + st(c.status) +
      (c.status !== "up" && (c.error || c.detail) ? ' <span class="muted">— ' + esc(c.error || c.detail) + "</span>" : "") + "</span>").join("");
}

// ---- rendering the snapshot ------------------------------------------------

function render() {
  renderConn();
  const s = state.snap;
  const on = state.accepted;
  for (const id of ["start", "stop", "replay-all"]) enable(id, on);
  updateSelected();
  if (!s) return;
  const c = s.counts || {}, r = s.rates || {}, sc = s.scheduler || {}, wh = s.webhook || {};
  if (on) { enable("start", !sc.running); enable("stop", !!sc.running); enable("replay-all", c.dead > 0); }

  // Statuses for the filter, from what IMS counts (new ones appear by themselves).
  const order = ["pending", "sending", "sent", "dead", "expired", "canceled"];
  const statuses = Object.keys(c).sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b));
  if (statuses.join() !== state.statuses.join()) {
    state.statuses = statuses;
    const sel = $("status"), cur = sel.value;
    sel.innerHTML = '<option value="">any</option>' + statuses.map((x) => '<option value="' + esc(x) + '">' + esc(x) + "</option>").join("");
    sel.value = cur;
  }

  // The verdict: one sentence that answers "is it flowing, and if not why".
  const failing = (r.retried_per_second || 0) + (r.dead_per_second || 0);
  let v, tone;
  const down = state.health && state.health.components ? Object.entries(state.health.components).filter(([, x]) => x.required && x.status === "down").map(([n]) => n) : [];
  if (down.length) { v = "Down: " + down.join(", ") + " — see health below"; tone = "bad"; }
  else if (!sc.running) { v = "Scheduler stopped — nothing is delivered"; tone = "bad"; }
  else if (sc.circuit === "open" || sc.circuit === "half_open") {
    v = "Provider outage — circuit " + sc.circuit.replace("_", "-") + (sc.circuit_since ? " since " + when(sc.circuit_since) : "") + "; messages wait"; tone = "bad";
  } else if (sc.paused_until) { v = "Throttled by the provider until " + when(sc.paused_until); tone = "warn"; }
  else if (r.delivered_per_second > 0) { v = "Messages are flowing: " + rate(r.delivered_per_second) + " delivered"; tone = failing > r.delivered_per_second ? "warn" : "ok"; }
  else if (s.backlog > 0) { v = num(s.backlog) + " waiting, nothing delivered in the last minute"; tone = "warn"; }
  else { v = "Idle — nothing waiting"; tone = "ok"; }
  let sub = "";
  if (failing > 0) sub = rate(r.retried_per_second) + " retried, " + rate(r.dead_per_second) + " dead-lettered" + (wh.last_error ? "; last error " + wh.last_error : "");
  else if (wh.last_error) sub = "last error " + wh.last_error;
  if (s.count_error) sub += (sub ? " · " : "") + "counts: " + s.count_error;
  $("verdict").innerHTML = '<span class="st st-' + tone + '">' + esc(v) + "</span>" + (sub ? "<small>" + esc(sub) + "</small>" : "");

  const tile = (label, value, tone, title) => '<div class="tile ' + (tone || "") + '"' + (title ? ' title="' + esc(title) + '"' : "") + "><b>" + esc(value) + "</b><span>" + esc(label) + "</span></div>";
  const win = r.window === "1m0s" ? ", last minute" : r.window ? ", last " + r.window : "";
  $("tiles").innerHTML =
    tile("delivered" + win, rate(r.delivered_per_second), r.delivered_per_second > 0 ? "ok" : "", "this instance") +
    tile("retried" + win, rate(r.retried_per_second), r.retried_per_second > 0 ? "warn" : "", "this instance") +
    tile("dead-lettered" + win, rate(r.dead_per_second), r.dead_per_second > 0 ? "bad" : "", "this instance") +
    tile("backlog", num(s.backlog), s.backlog > 0 ? "info" : "", "pending + sending, as of " + when(s.refreshed_at)) +
    statuses.map((x) => tile(x, num(c[x]), x === "dead" && c[x] > 0 ? "bad" : x === "sent" ? "ok" : "", "messages " + x + ", fleet-wide, as of " + when(s.refreshed_at))).join("");
  $("dead-count").textContent = c.dead != null ? num(c.dead) : "";

  const leader = sc.is_leader ? "this instance" : sc.leader || "none elected";
  $("scheduler").innerHTML = facts([
    ["State", st(sc.running ? "running" : "stopped")],
    ["Pace", esc(sc.batch_size) + " messages every " + esc(sc.interval === "0s" ? "moment (as fast as the workers go)" : sc.interval)],
    ["Queue", esc(sc.queue_mode)],
    ["Instance", '<span class="mono">' + esc(sc.instance) + "</span>"],
    ["Leader", '<span class="mono">' + esc(leader) + "</span>"],
    ["Last change", sc.updated_by ? esc(when(sc.updated_at)) + " by <span class=\"mono\">" + esc(sc.updated_by) + "</span>" : "—"],
  ]);
  $("webhook").innerHTML = facts([
    ["Circuit", st(sc.circuit || "closed") + (sc.circuit_since ? " since " + esc(when(sc.circuit_since)) : "") + (sc.circuit_last_error ? " — " + esc(sc.circuit_last_error) : "")],
    ["Rate limit", sc.rate_limit ? esc(sc.rate_limit) + "/s configured, " + esc(Math.round(sc.effective_rate * 100) / 100) + "/s now" : "none (WEBHOOK_RATE_LIMIT=0)"],
    ["Paused until", sc.paused_until ? esc(when(sc.paused_until)) : "not paused"],
    ["Recent attempts", st(wh.degraded ? "degraded" : wh.recent_attempts ? "ok" : "canceled") + " " + esc(wh.detail)],
    ["Last error", wh.last_error ? '<span class="err">' + esc(wh.last_error) + "</span>" : "none recently"],
  ]);
  renderInstances(s);
  renderCharts(s.series);
}

// renderInstances lists the fleet from the snapshot's heartbeats. Ages are
// judged on the server's clocks (generated_at − last_seen), not the
// viewer's.
function renderInstances(s) {
  const list = s.instances || [];
  const at = Date.parse(s.generated_at);
  $("fleet-count").textContent = list.length ? String(list.length) : "";
  showResult($("fleet-result"), s.instances_error ? "instances: " + s.instances_error : "", !s.instances_error);
  $("instances").innerHTML = table(list, [
    ["instance", (x) => '<span class="mono">' + esc(x.id) + "</span>" + (x.self ? ' <span class="muted">(this one)</span>' : "")],
    ["role", (x) => (x.leader ? '<span class="badge">leader</span>' : '<span class="muted">follower</span>')],
    ["last seen", (x) => (x.stale ? '<span class="st st-warn">stale</span> ' : "") + esc(ago(at - Date.parse(x.last_seen)))],
    ["version", (x) => '<span class="mono">' + esc(x.version) + "</span>"],
    ["queue", (x) => esc(x.queue_mode)],
    ["started", (x) => esc(when(x.started_at))],
  ], (x) => ' data-instance="' + esc(x.id) + '"' + (x.stale ? ' class="stale-instance"' : ""));
}

// enable sets a button's state, except while its action runs (act owns it then).
function enable(id, on) {
  const b = $(id);
  if (b.getAttribute("aria-busy") !== "true") b.disabled = !on;
}

function facts(rows) { return rows.map(([k, v]) => "<dt>" + esc(k) + "</dt><dd>" + v + "</dd>").join(""); }

// ---- charts: plain SVG -------------------------------------------------------

function renderCharts(se) {
  if (!se) return;
  const last = (a) => { for (let i = a.length - 1; i >= 0; i--) if (a[i] != null) return a[i]; return null; };
  chart($("chart-outcomes"), se, [
    { label: "delivered", color: "--c-delivered", values: se.delivered_per_second },
    { label: "retried", color: "--c-retried", values: se.retried_per_second },
    { label: "dead", color: "--c-dead", values: se.dead_per_second },
  ].concat((se.expired_per_second || []).some((x) => x > 0) ? [{ label: "expired", color: "--c-expired", values: se.expired_per_second }] : []),
  (v) => (v >= 10 ? Math.round(v) : Math.round(v * 10) / 10) + "/s", (l) => rate(last(l.values)));
  chart($("chart-latency"), se, [
    { label: "p50", color: "--c-p50", values: se.latency_p50_ms },
    { label: "p95", color: "--c-p95", values: se.latency_p95_ms },
  ], ms, (l) => ms(last(l.values)));
  // The backlog is counted every few seconds: hold the last count between.
  let held = null;
  const backlog = (se.backlog || []).map((v) => (v == null ? held : (held = v)));
  chart($("chart-backlog"), se, [{ label: "backlog", color: "--c-backlog", values: backlog, fill: true }], (v) => (v % 1 ? v.toFixed(1) : num(v)), (l) => num(last(l.values)));
}

// Hovering a chart shows the values of the point under the pointer; the
// chart is redrawn every second, so the hovered point is kept on the element.
function chartHover(el) {
  if (el.dataset.hoverable) return;
  el.dataset.hoverable = "1";
  const redraw = () => el._chart && chart(el, ...el._chart);
  el.addEventListener("mousemove", (e) => {
    const svg = el.querySelector("svg");
    if (!svg || !el._chart) return;
    const box = svg.getBoundingClientRect(), W = box.width, L = 52, R = 8;
    const n = Math.max(1, ...el._chart[1].map((l) => (l.values || []).length));
    const f = (e.clientX - box.left - L) / (W - L - R);
    const i = Math.round(f * (n - 1));
    const next = f < 0 || f > 1 ? null : Math.max(0, Math.min(n - 1, i));
    if (next !== el._hover) { el._hover = next; redraw(); }
  });
  el.addEventListener("mouseleave", () => { el._hover = null; redraw(); });
}

function chart(el, se, lines, fmt, now) {
  el._chart = [se, lines, fmt, now];
  chartHover(el);
  // Drawn at the size shown, so that the labels keep their size on a phone.
  const W = Math.max(260, Math.round(el.clientWidth || 600)), H = 170, L = 52, R = 8, T = 10, B = 22, w = W - L - R, h = H - T - B;
  const n = Math.max(1, ...lines.map((l) => (l.values || []).length));
  let max = 0;
  for (const l of lines) for (const v of l.values || []) if (v != null && v > max) max = v;
  max = niceCeil(max);
  const x = (i) => L + (n <= 1 ? w : (i / (n - 1)) * w);
  const y = (v) => T + h - (v / max) * h;
  let svg = '<svg viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + esc(lines.map((l) => l.label + " " + now(l)).join(", ")) + '">';
  for (const f of [0, 0.5, 1]) {
    const yy = y(max * f);
    svg += '<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + yy + '" y2="' + yy + '"/>';
    svg += '<text x="' + (L - 6) + '" y="' + (yy + 4) + '" text-anchor="end">' + esc(fmt(max * f)) + "</text>";
  }
  const span = n * (se.step_seconds || 5) / 60;
  for (const m of [15, 10, 5, 0]) {
    if (m > span) continue;
    const xx = L + w * (1 - m / span);
    svg += '<text x="' + xx + '" y="' + (H - 6) + '" text-anchor="' + (m === 0 ? "end" : m === 15 ? "start" : "middle") + '">' + (m ? "−" + m + " min" : "now") + "</text>";
  }
  for (const l of lines) {
    let d = "", pen = false, first = null, lastX = null;
    (l.values || []).forEach((v, i) => {
      if (v == null) { pen = false; return; }
      d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
      if (first === null) first = i;
      lastX = i; pen = true;
    });
    if (!d) continue;
    if (l.fill && first !== null) {
      svg += '<path d="' + d + "L" + x(lastX).toFixed(1) + " " + y(0) + "L" + x(first).toFixed(1) + " " + y(0) + 'Z" style="fill:var(' + l.color + ');opacity:.18;stroke:none"/>';
    }
    svg += '<path d="' + d + '" style="fill:none;stroke:var(' + l.color + ');stroke-width:2;stroke-linejoin:round;stroke-linecap:round"/>';
  }
  if (el._hover != null && el._hover < n) {
    const i = el._hover, xx = x(i);
    const secsAgo = (n - i) * (se.step_seconds || 5);
    const label = "−" + (secsAgo >= 60 ? Math.floor(secsAgo / 60) + "m" + pad(secsAgo % 60) + "s" : secsAgo + "s") + ": " +
      lines.map((l) => l.label + " " + (l.values && l.values[i] != null ? fmt(l.values[i]) : "–")).join(", ");
    const right = xx > L + w / 2;
    svg += '<line x1="' + xx + '" x2="' + xx + '" y1="' + T + '" y2="' + (T + h) + '" style="stroke:var(--mute);stroke-dasharray:3 3"/>';
    svg += '<text x="' + (right ? xx - 6 : xx + 6) + '" y="' + (T + 12) + '" text-anchor="' + (right ? "end" : "start") + '" style="fill:var(--ink);font-weight:600">' + esc(label) + "</text>";
  }
  svg += "</svg>";
  const legend = '<div class="legend">' + lines.map((l) => '<span><i style="background:var(' + l.color + ')"></i>' + esc(l.label) + " <b>" + esc(now(l)) + "</b></span>").join("") + '<span class="muted">(latest ' + esc(se.step || "") + ")</span></div>";
  el.innerHTML = svg + legend;
}

function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// ---- lists -------------------------------------------------------------------

function table(rows, cols, rowAttrs) {
  if (!rows.length) return '<p class="empty">None.</p>';
  return "<table><thead><tr>" + cols.map((c) => "<th>" + esc(c[0]) + "</th>").join("") + "</tr></thead><tbody>" +
    rows.map((r) => "<tr" + (rowAttrs ? rowAttrs(r) : "") + ">" + cols.map((c) => '<td data-label="' + esc(c[0]) + '"' + (c[2] ? ' class="' + c[2] + '"' : "") + ">" + c[1](r) + "</td>").join("") + "</tr>").join("") +
    "</tbody></table>";
}

const idCell = (m) => '<button type="button" class="idlink" data-open="' + esc(m.id) + '" title="' + esc(m.id) + '">…' + esc(short(m.id)) + "</button>";
const lastCode = (m) => { const x = /HTTP (\d{3})/.exec(m.last_error || ""); return x ? x[1] : m.last_error ? "—" : ""; };

function pager(el, p, total, onMove) {
  el.innerHTML = (p.i > 0 ? '<button type="button" class="small" data-dir="-1">← Newer</button>' : "") +
    '<span class="muted">page ' + (p.i + 1) + "</span>" +
    (p.cursors[p.i + 1] ? '<button type="button" class="small" data-dir="1">Older →</button>' : "");
  el.onclick = (e) => {
    const dir = Number(e.target.dataset && e.target.dataset.dir);
    if (!dir) return;
    p.i = Math.max(0, p.i + dir);
    onMove();
  };
}

async function loadMessages() {
  const p = state.msg;
  if (p.idEnd) return; // an id-end search is shown until changed
  if (isUUID(p.q)) {
    try {
      const d = await api("/api/messages/" + encodeURIComponent(p.q));
      $("messages").innerHTML = messagesTable([d.message]);
      $("msg-pager").innerHTML = "";
    } catch (e) {
      $("messages").innerHTML = '<p class="empty">' + esc(e.status === 404 ? "No message with that id." : e.message) + "</p>";
    }
    return;
  }
  const qs = new URLSearchParams({ limit: "20" });
  if (p.status) qs.set("status", p.status);
  if (p.phone) qs.set("phone_number", p.phone);
  for (const [k, v] of Object.entries(p.extra || {})) if (v) qs.set(k, v);
  if (p.cursors[p.i]) qs.set("cursor", p.cursors[p.i]);
  const page = await api("/api/messages?" + qs);
  p.cursors[p.i + 1] = page.next_cursor || "";
  p.cursors.length = p.i + 2;
  $("messages").innerHTML = messagesTable(page.messages || []);
  pager($("msg-pager"), p, 0, () => refreshLists(true));
}

function messagesTable(rows) {
  return table(rows, [
    ["created", (m) => esc(when(m.created_at))],
    ["id", idCell],
    ["to", (m) => esc(m.phone_number)],
    ["status", (m) => st(m.status) + (m.delivery_status ? " <span class=\"muted\">" + esc(m.delivery_status) + "</span>" : "")],
    ["priority", (m) => esc(m.priority)],
    ["attempts", (m) => esc(m.attempts), "num"],
    ["content", (m) => esc((m.content || "").length > 60 ? m.content.slice(0, 60) + "…" : m.content)],
    ["last error", (m) => '<span class="err">' + esc(m.last_error) + "</span>"],
  ], (m) => ' class="clickable" data-open="' + esc(m.id) + '" data-status="' + esc(m.status) + '"');
}

// idEnd is the end of an id as the lists show it ("…3ee3c069"), or "".
function idEnd(q) {
  const e = q.replace(/^…/, "").toLowerCase();
  return /^[0-9a-f-]{4,35}$/.test(e) && (/[a-f-]/.test(e) || q.startsWith("…")) ? e : "";
}

// phoneQuery reads a typed number as the API's phone_number filter (an
// exact E.164 number): spaces, dashes, dots and brackets go, and a number
// typed without its "+" gets it. The API judges the rest (400 says why).
function phoneQuery(q) {
  const n = q.replace(/[\s\-().]/g, "");
  return /^[0-9]+$/.test(n) ? "+" + n : n;
}

// searchIDEnd finds messages whose id ends with end among the newest
// ID_SCAN_PAGES × ID_SCAN_PAGE (the API has no such filter; a whole id
// finds any message).
async function searchIDEnd(end) {
  const out = $("msg-result");
  let cursor = "", scanned = 0, found = [];
  showResult(out, "searching…", true);
  for (let i = 0; i < ID_SCAN_PAGES; i++) {
    const qs = new URLSearchParams({ limit: String(ID_SCAN_PAGE) });
    if (state.msg.status) qs.set("status", state.msg.status);
    for (const [k, v] of Object.entries(state.msg.extra || {})) if (v) qs.set(k, v);
    if (cursor) qs.set("cursor", cursor);
    const page = await api("/api/messages?" + qs);
    const ms = page.messages || [];
    scanned += ms.length;
    found = found.concat(ms.filter((m) => m.id.endsWith(end)));
    cursor = page.next_cursor || "";
    if (!cursor) break;
  }
  $("messages").innerHTML = messagesTable(found);
  $("msg-pager").innerHTML = "";
  showResult(out, found.length + " match" + (found.length === 1 ? "" : "es") + " for id …" + end + " in the newest " + num(scanned) +
    " messages" + (cursor ? " (paste the whole id to find an older one)" : " (all of them)"), true);
}

async function loadDead() {
  const p = state.dead;
  const qs = new URLSearchParams({ limit: "10" });
  if (p.cursors[p.i]) qs.set("cursor", p.cursors[p.i]);
  const page = await api("/api/messages/dead-letter?" + qs);
  p.cursors[p.i + 1] = page.next_cursor || "";
  p.cursors.length = p.i + 2;
  const checked = new Set([...document.querySelectorAll("#dead input[data-pick]:checked")].map((x) => x.dataset.pick));
  p.rows = page.messages || [];
  $("dead").innerHTML = table(p.rows, [
    ["", (m) => '<input type="checkbox" data-pick="' + esc(m.id) + '" aria-label="select ' + esc(short(m.id)) + '"' + (checked.has(m.id) ? " checked" : "") + ">"],
    ["id", idCell],
    ["to", (m) => esc(m.phone_number)],
    ["died", (m) => esc(when(m.updated_at))],
    ["last code", (m) => esc(lastCode(m)), "num"],
    ["attempts", (m) => esc(m.attempts), "num"],
    ["last error", (m) => '<span class="err">' + esc(m.last_error) + "</span>"],
    ["", (m) => '<button type="button" class="small" data-replay="' + esc(m.id) + '">Replay</button>'],
  ]);
  pager($("dead-pager"), p, 0, () => refreshLists(true));
  updateSelected();
}

function updateSelected() {
  const n = document.querySelectorAll("#dead input[data-pick]:checked").length;
  const b = $("replay-selected");
  b.disabled = !state.accepted || n === 0 || b.getAttribute("aria-busy") === "true";
  b.textContent = n ? "Replay selected (" + n + ")" : "Replay selected";
}

async function loadAudit() {
  const p = state.audit;
  const qs = new URLSearchParams({ limit: "25" });
  if (p.type) qs.set("type", p.type);
  if (p.msg) qs.set("message_id", p.msg);
  if (p.cursors[p.i]) qs.set("cursor", p.cursors[p.i]);
  const page = await api("/api/audit?" + qs);
  p.cursors[p.i + 1] = page.next_cursor || "";
  p.cursors.length = p.i + 2;
  $("audit").innerHTML = auditTable(page.events || []);
  pager($("audit-pager"), p, 0, () => refreshLists(true));
}

function auditTable(events, oneMessage) {
  return table(events, [
    ["when", (e) => esc(when(e.created_at))],
    ["type", (e) => esc(e.type)],
    ...(oneMessage ? [] : [["message", (e) => (e.message_id ? idCell({ id: e.message_id }) : "")]]),
    ["actor", (e) => '<span class="mono">' + esc(e.actor) + "</span>"],
    ["details", (e) => esc(e.details)],
  ]);
}

// refreshLists reloads the lists on the pages shown. Page one follows the
// live feed; an older page stays put until asked (force).
async function refreshLists(force) {
  if (!state.accepted) return;
  if (state.listsBusy) { if (force) state.listsAgain = true; return; } // a filter changed mid-refresh: go again after it
  state.listsBusy = true;
  lastLists = Date.now();
  // Each list's failure is said next to it; a refused connection also
  // tells the live state.
  const job = (p, out) => p.then(() => {
    const el = $(out);
    if (el && el.dataset.listError) { showResult(el, "", true); delete el.dataset.listError; }
  }, (e) => {
    const el = $(out);
    if (el && e.status !== 0) { showResult(el, "✗ could not load: " + e.message, false); el.dataset.listError = "1"; }
    throw e;
  });
  const jobs = [];
  if (force || state.msg.i === 0) jobs.push(job(loadMessages(), "msg-result"));
  if (force || state.dead.i === 0) jobs.push(job(loadDead(), "dead-result"));
  if (force || state.audit.i === 0) jobs.push(job(loadAudit(), "audit-result"));
  if (state.detailID && $("detail").open) jobs.push(job(loadDetail(state.detailID), "d-result"));
  const res = await Promise.allSettled(jobs);
  state.listsBusy = false;
  const bad = res.find((r) => r.status === "rejected");
  if (bad && bad.reason.status === 0) failed(bad.reason);
  if (state.listsAgain) { state.listsAgain = false; refreshLists(true); }
}
setInterval(() => {
  if (state.conn !== "live" || document.hidden) return;
  const since = Date.now() - lastLists;
  if (since >= LIST_EVERY - 100 || (state.listsDue && since >= 1000)) { state.listsDue = false; refreshLists(); }
}, 250);

// The filters offered are the ones the API documents, with their values:
// read from the OpenAPI document, so a filter added to the API (such as
// delivery_status) appears here by itself.
async function loadFilters() {
  let doc;
  try { doc = await (await fetch("/api/openapi.json")).json(); } catch (_) { return; }
  const deref = (o) => {
    for (let i = 0; o && o.$ref && i < 5; i++) o = o.$ref.split("/").slice(1).reduce((a, k) => (a ? a[k] : undefined), doc);
    return o || {};
  };
  const params = (path) => ((doc.paths[path] && doc.paths[path].get && doc.paths[path].get.parameters) || []).map(deref);
  const values = (p) => deref(p.schema).enum || [];
  const options = (vals) => '<option value="">any</option>' + vals.map((t) => '<option value="' + esc(t) + '">' + esc(t) + "</option>").join("");
  const audit = params("/api/audit").find((p) => p.name === "type");
  if (audit) { $("atype").innerHTML = options(values(audit)); $("atype").value = state.audit.type; }
  const extra = $("msg-extra");
  extra.innerHTML = "";
  for (const p of params("/api/messages")) {
    if (p.name === "status" || !values(p).length) continue;
    const label = document.createElement("label");
    label.textContent = p.name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()) + " ";
    const sel = document.createElement("select");
    sel.dataset.param = p.name;
    sel.innerHTML = options(values(p));
    sel.addEventListener("change", () => $("msgfilter").requestSubmit());
    label.appendChild(sel);
    extra.appendChild(label);
  }
}

// ---- message detail ----------------------------------------------------------

async function openDetail(id) {
  state.detailID = id;
  $("detail-title").textContent = "Message …" + short(id);
  $("detail-body").innerHTML = '<p class="muted">loading…</p>';
  if (!$("detail").open) $("detail").showModal();
  try { await loadDetail(id); } catch (e) { $("detail-body").innerHTML = '<p class="err">' + esc(e.message) + "</p>"; }
}

async function loadDetail(id) {
  const [d, audit] = await Promise.all([
    api("/api/messages/" + encodeURIComponent(id)),
    api("/api/audit?" + new URLSearchParams({ message_id: id, limit: "100" })),
  ]);
  if (state.detailID !== id) return;
  const m = d.message;
  const row = (k, v, raw) => (present(v) ? "<dt>" + esc(k) + "</dt><dd>" + (raw ? v : esc(v)) + "</dd>" : "");
  let actions = "";
  if (m.status === "pending") actions += '<button type="button" class="danger" id="d-cancel">Cancel message</button>';
  if (m.status === "dead") actions += '<button type="button" class="primary" id="d-replay">Replay</button>';
  if (m.status === "expired") actions += '<label class="muted">new expiry in <input id="d-ttl" type="number" min="1" value="3600" style="width:7rem"> s</label> <button type="button" class="primary" id="d-replay">Replay</button>';
  const keep = $("d-result") ? $("d-result").outerHTML : '<span class="inline-result" id="d-result" aria-live="polite"></span>';
  $("detail-title").textContent = "Message …" + short(m.id);
  $("detail-body").innerHTML =
    '<div class="actions detail-actions">' + actions + keep + "</div>" +
    '<dl class="facts">' +
    row("id", '<span class="mono">' + esc(m.id) + "</span>", true) +
    row("status", st(m.status), true) +
    row("to", m.phone_number) + row("priority", m.priority) +
    row("attempts", m.attempts + (m.held ? " (" + m.held + " held for the provider, not counted)" : "")) +
    row("created", when(m.created_at)) + row("updated", when(m.updated_at)) +
    row("send at", when(m.send_at)) + row("next attempt", when(m.next_attempt_at)) +
    row("sent", when(m.sent_at)) + row("expires", when(m.expires_at)) +
    row("provider id", m.provider_message_id) + row("idempotency key", m.idempotency_key) +
    row("last error", m.last_error ? '<span class="err">' + esc(m.last_error) + "</span>" : "", true) +
    // Fields of the SMS-native and delivery-report work, shown when present.
    row("encoding", m.encoding) + row("segments", m.segments) + row("country", m.country) + row("time zone", m.time_zone) +
    row("delivery", m.delivery_status) + row("delivered", when(m.delivered_at)) + row("error code", m.error_code) +
    row("callback url", m.callback_url) +
    row("sent-cache", d.cache && d.cache.enabled ? (d.cache.cached ? "cached, provider id " + (d.cache.provider_message_id || "—") : d.cache.error || "not cached") : "") +
    "</dl>" +
    "<h3>Content</h3><pre class=\"content\">" + esc(m.content) + "</pre>" +
    "<h3>Attempts (" + d.attempts.length + ")</h3>" +
    table(d.attempts, [
      ["#", (a) => esc(a.number), "num"],
      ["at", (a) => esc(when(a.created_at))],
      ["outcome", (a) => st(a.outcome)],
      ["status code", (a) => esc(a.status_code || "—"), "num"],
      ["latency", (a) => esc(ms(a.latency_ns / 1e6)), "num"],
      ["error", (a) => '<span class="err">' + esc(a.error) + "</span>"],
      ["response", (a) => '<pre class="snippet">' + esc(a.response) + "</pre>"],
    ]) +
    "<h3>Audit events</h3>" + auditTable((audit.events || []).slice().reverse(), true);
  const out = $("d-result");
  if ($("d-cancel")) $("d-cancel").onclick = (e) => act(e.currentTarget, out, async () => {
    await api("/api/messages/" + encodeURIComponent(m.id), { method: "DELETE" });
    return "Canceled …" + short(m.id);
  });
  if ($("d-replay")) $("d-replay").onclick = (e) => act(e.currentTarget, out, async () => {
    const body = m.status === "expired" ? JSON.stringify({ ttl_seconds: Number($("d-ttl").value) }) : undefined;
    await api("/api/messages/" + encodeURIComponent(m.id) + "/retry", { method: "POST", body });
    return "Replayed …" + short(m.id) + ": pending again";
  });
}

// ---- wiring ------------------------------------------------------------------

$("keyform").addEventListener("submit", (e) => { e.preventDefault(); tryKey($("key").value.trim(), false); });
$("signout").addEventListener("click", () => lock(""));

$("start").addEventListener("click", (e) => act(e.currentTarget, $("sched-result"), async () => {
  await api("/api/control", { method: "POST", body: JSON.stringify({ action: "start" }) });
  return "Scheduler started for the whole fleet";
}));
$("stop").addEventListener("click", (e) => act(e.currentTarget, $("sched-result"), async () => {
  const ok = await confirmDialog("Stop the scheduler?", "This stops delivery on every IMS instance of the fleet. Messages keep arriving and wait as pending until someone starts the scheduler again.", "Stop the fleet");
  if (!ok) return null;
  await api("/api/control", { method: "POST", body: JSON.stringify({ action: "stop" }) });
  return "Scheduler stopped for the whole fleet";
}));
$("replay-all").addEventListener("click", (e) => act(e.currentTarget, $("dead-result"), async () => {
  const n = state.snap && state.snap.counts ? state.snap.counts.dead : 0;
  const ok = await confirmDialog("Replay all dead letters?", "Replay all " + num(n) + " dead letter" + (n === 1 ? "" : "s") + " (as counted at " + (state.snap ? hms(state.snap.refreshed_at || state.snap.generated_at) : "—") + ")? They go back to pending and are delivered again, at most 1,000 per click.", "Replay " + num(n));
  if (!ok) return null;
  const r = await api("/api/messages/dead-letter/retry", { method: "POST" });
  return "Replayed " + num(r.replayed) + " dead letter" + (r.replayed === 1 ? "" : "s");
}));
$("replay-selected").addEventListener("click", (e) => act(e.currentTarget, $("dead-result"), async () => {
  const ids = [...document.querySelectorAll("#dead input[data-pick]:checked")].map((x) => x.dataset.pick);
  let done = 0; const errs = [];
  for (const id of ids) {
    try { await api("/api/messages/" + encodeURIComponent(id) + "/retry", { method: "POST" }); done++; }
    catch (err) { errs.push("…" + short(id) + ": " + err.message); }
  }
  if (errs.length) throw new Error("Replayed " + done + " of " + ids.length + "; " + errs.join("; "));
  return "Replayed " + done + " of " + ids.length;
}));

document.addEventListener("click", (e) => {
  const t = e.target;
  if (!(t instanceof Element)) return;
  const rep = t.closest("[data-replay]");
  if (rep) {
    const id = rep.dataset.replay;
    act(rep, $("dead-result"), async () => {
      await api("/api/messages/" + encodeURIComponent(id) + "/retry", { method: "POST" });
      return "Replayed …" + short(id) + ": pending again";
    });
    return;
  }
  if (t.matches("input[data-pick]")) { updateSelected(); return; }
  if (t.closest("[data-close]")) { $("detail").close(); return; }
  const open = t.closest("[data-open]");
  if (open && !t.closest("input")) openDetail(open.dataset.open);
});
$("detail").addEventListener("close", () => { state.detailID = null; });

$("msgfilter").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("q").value.trim();
  const extra = {};
  for (const sel of document.querySelectorAll("#msg-extra select[data-param]")) extra[sel.dataset.param] = sel.value;
  const end = q && !isUUID(q) ? idEnd(q) : "";
  const phone = q && !isUUID(q) && !end ? phoneQuery(q) : "";
  Object.assign(state.msg, { q, status: $("status").value, extra, cursors: [""], i: 0, phone, idEnd: end });
  // A phone number is the API's filter: every page of it, newest first.
  showResult($("msg-result"), phone ? "messages to " + phone + " (exact number, all pages)" : "", true);
  if (end) searchIDEnd(end).catch((err) => showResult($("msg-result"), "✗ " + err.message, false));
  else refreshLists(true);
  if (isUUID(q)) openDetail(q);
});
$("status").addEventListener("change", () => $("msgfilter").requestSubmit());
$("auditfilter").addEventListener("submit", (e) => {
  e.preventDefault();
  const m = $("amsg").value.trim();
  if (m && !isUUID(m)) { showResult($("audit-result"), "✗ a message id is a UUID", false); return; }
  showResult($("audit-result"), "", true);
  Object.assign(state.audit, { type: $("atype").value, msg: m, cursors: [""], i: 0 });
  refreshLists(true);
});
$("atype").addEventListener("change", () => $("auditfilter").requestSubmit());

// Start: a key kept in this tab is tried at once; otherwise ask for it.
render();
const kept = sessionStorage.getItem(KEY);
if (kept) { $("key").value = kept; tryKey(kept, true); } else $("key").focus();
