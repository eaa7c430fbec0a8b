// Wallboard: one EventSource on /api/stream; waits and times in state tick locally
// from the server's clock, so a quiet floor still shows time passing.
"use strict";

const STATE_LABEL = {
  ready: "Ready", reserved: "Ringing", busy: "On call", wrap_up: "Wrap-up",
  paused: "Paused", logged_out: "Logged out",
};
const STATE_ORDER = ["busy", "reserved", "wrap_up", "paused", "ready", "logged_out"];
const TILE_STATES = ["ready", "reserved", "busy", "wrap_up", "paused"];

const model = { header: null, queues: [], agents: new Map(), interactions: [], clockSkew: 0 };
const token = new URLSearchParams(location.search).get("token");
const $ = (id) => document.getElementById(id);

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function serverNow() { return Date.now() / 1000 + model.clockSkew; }

function fmtDur(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function fmtPct(p) { return p === null || p === undefined ? "–" : `${Math.round(p)}%`; }

function maskCaller(c) {
  // Supervisors see the number in the API; a wall screen shows only enough to tell calls apart.
  if (!c) return "–";
  return c.length > 7 ? c.slice(0, 3) + "****" + c.slice(-4) : c;
}

function level(value, warn, alarm, higherIsWorse = true) {
  if (value === null || value === undefined) return "";
  if (higherIsWorse) return value >= alarm ? "alarm" : value >= warn ? "warn" : "ok";
  return value < alarm ? "alarm" : value < warn ? "warn" : "ok";
}

function longestWait(q) {
  return q.oldest_since ? serverNow() - q.oldest_since : 0;
}

function renderQueues() {
  const th = model.header.thresholds;
  const box = $("queues");
  const seen = new Set();
  for (const q of model.queues) {
    seen.add(q.name);
    let tile = box.querySelector(`[data-queue="${CSS.escape(q.name)}"]`);
    if (!tile) {
      tile = document.createElement("article");
      tile.className = "tile";
      tile.dataset.queue = q.name;
      tile.innerHTML = `
        <div class="tile-head"><h2></h2><span class="badge"></span></div>
        <div class="figures">
          <div class="fig"><span class="v" data-field="waiting"></span><span class="k">Waiting</span></div>
          <div class="fig"><span class="v" data-field="longest"></span><span class="k">Longest wait</span></div>
          <div class="fig small"><span class="v" data-field="sl"></span><span class="k">Service level today</span></div>
          <div class="fig small"><span class="v" data-field="abandoned"></span><span class="k">Abandoned today</span></div>
        </div>
        <div class="states">${TILE_STATES.map((s) =>
          `<div class="state ${s}"><div class="n" data-field="agents-${s}"></div><div class="l">${STATE_LABEL[s]}</div></div>`).join("")}
        </div>`;
      box.appendChild(tile);
    }
    tile.querySelector("h2").textContent = q.name;
    tile.querySelector("h2").title = q.name;
    tile.querySelector(".badge").textContent = `${q.channel} · ${q.logged_in} in`;
    const w = tile.querySelector('[data-field="waiting"]');
    w.textContent = q.waiting;
    const wl = level(q.waiting, th.waiting_warn, th.waiting_alarm);
    w.className = "v " + (q.waiting ? wl : "");
    const sl = q.today.sl_pct;
    const sv = tile.querySelector('[data-field="sl"]');
    sv.textContent = fmtPct(sl);
    const sll = sl === null ? "" : level(sl / 100, th.sl_warn, th.sl_alarm, false);
    sv.className = "v " + sll;
    const ab = tile.querySelector('[data-field="abandoned"]');
    ab.textContent = q.today.abandoned + (q.today.abandon_pct ? ` · ${fmtPct(q.today.abandon_pct)}` : "");
    for (const s of TILE_STATES) tile.querySelector(`[data-field="agents-${s}"]`).textContent = q.agents[s] ?? 0;
    const lw = longestWait(q);
    const lwl = q.waiting ? level(lw, th.longest_wait_warn_s, th.longest_wait_alarm_s) : "";
    const worst = [wl && q.waiting ? wl : "", lwl, sll].includes("alarm") ? "alarm"
      : [q.waiting ? wl : "", lwl, sll].includes("warn") ? "warn" : "";
    tile.className = "tile " + worst;
  }
  for (const tile of [...box.children]) if (!seen.has(tile.dataset.queue)) tile.remove();
  tickQueues();
}

function tickQueues() {
  if (!model.header) return;
  const th = model.header.thresholds;
  for (const q of model.queues) {
    const tile = $("queues").querySelector(`[data-queue="${CSS.escape(q.name)}"]`);
    if (!tile) continue;
    const el = tile.querySelector('[data-field="longest"]');
    const lw = longestWait(q);
    el.textContent = q.waiting ? fmtDur(lw) : "–";
    el.className = "v " + (q.waiting ? level(lw, th.longest_wait_warn_s, th.longest_wait_alarm_s) : "");
  }
}

function renderSummary() {
  let waiting = 0, ready = 0, ringing = 0, busy = 0, paused = 0, loggedIn = 0;
  for (const q of model.queues) waiting += q.waiting;
  for (const a of model.agents.values()) {
    if (a.state !== "logged_out") loggedIn++;
    if (a.state === "ready") ready++;
    if (a.state === "busy") busy++;
    if (a.state === "reserved") ringing++;
    if (a.state === "paused") paused++;
  }
  $("summary").innerHTML =
    `<span>Waiting <b data-field="total-waiting">${waiting}</b></span>` +
    `<span>Logged in <b>${loggedIn}</b></span><span>Ready <b>${ready}</b></span>` +
    `<span>Ringing <b>${ringing}</b></span><span>On call <b>${busy}</b></span>` +
    `<span>Paused <b>${paused}</b></span>`;
}

function renderAgents() {
  const showOut = $("show-out").checked;
  const list = [...model.agents.values()].filter((a) => showOut || a.state !== "logged_out");
  list.sort((a, b) =>
    STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state) ||
    (a.state_since ?? 0) - (b.state_since ?? 0) || a.id.localeCompare(b.id));
  $("agent-count").textContent = `${list.length}`;
  $("agents").innerHTML = list.length ? list.map((a) => {
    const work = a.interactions.map((w) => w.queue).filter(Boolean);
    const detail = a.reason || (work.length ? work.join(", ") : "");
    return `<div class="agent ${esc(a.state)}" data-agent="${esc(a.id)}" data-since="${a.state_since ?? ""}">
      <span class="name">${esc(a.name || a.id)}</span><span class="id">${esc(a.id)}</span>
      <span class="t" data-field="time">${a.state_since ? fmtDur(serverNow() - a.state_since) : ""}</span>
      <span class="pill" data-field="state" data-state="${esc(a.state)}">${esc(STATE_LABEL[a.state] || a.state)}${detail ? " · " + esc(detail) : ""}</span>
    </div>`;
  }).join("") : `<div class="empty">No agent logged in</div>`;
}

function tickAgents() {
  const now = serverNow();
  for (const el of document.querySelectorAll(".agent[data-since]")) {
    const since = parseFloat(el.dataset.since);
    if (since) el.querySelector('[data-field="time"]').textContent = fmtDur(now - since);
  }
}

function renderWaiting() {
  const rows = model.interactions;
  $("waiting-count").textContent = `${rows.length}`;
  $("waiting").innerHTML = rows.length ? rows.map((i) =>
    `<tr data-interaction="${esc(i.id)}" data-since="${i.since}"><td>${i.position}</td><td>${esc(i.queue)}</td>` +
    `<td>${esc(maskCaller(i.caller))}</td><td class="num" data-field="wait">${fmtDur(serverNow() - i.since)}</td></tr>`
  ).join("") : `<tr><td colspan="4" class="empty">Nobody waiting</td></tr>`;
}

function tickWaiting() {
  const now = serverNow();
  for (const tr of document.querySelectorAll("#waiting tr[data-since]")) {
    tr.querySelector('[data-field="wait"]').textContent = fmtDur(now - parseFloat(tr.dataset.since));
  }
}

function apply(data) {
  model.header = data;
  model.clockSkew = data.now - Date.now() / 1000;
  model.queues = data.queues;
  model.interactions = data.interactions;
  if (data.full) model.agents = new Map();
  for (const a of data.agents) model.agents.set(a.id, a);
  $("centre").textContent = data.centre;
  document.title = `${data.centre} · wallboard`;
  renderQueues();
  renderSummary();
  renderAgents();
  renderWaiting();
  tick();
  document.body.dataset.version = data.version;
}

function connect() {
  const url = "/api/stream" + (token ? `?token=${encodeURIComponent(token)}` : "");
  const es = new EventSource(url);
  es.onopen = () => $("conn").classList.add("live");
  es.onerror = () => $("conn").classList.remove("live");  // EventSource reconnects by itself
  es.addEventListener("snapshot", (e) => apply(JSON.parse(e.data)));
  es.addEventListener("update", (e) => apply(JSON.parse(e.data)));
}

function tick() {
  const d = new Date(serverNow() * 1000);
  const tz = model.header ? model.header.timezone : undefined;
  try {
    $("clock").textContent = d.toLocaleTimeString("zh-CN", { hour12: false, timeZone: tz });
  } catch (_) {
    $("clock").textContent = d.toLocaleTimeString();
  }
  tickQueues();
  tickAgents();
  tickWaiting();
}

$("show-out").addEventListener("change", renderAgents);
connect();
setInterval(tick, 1000);
tick();
