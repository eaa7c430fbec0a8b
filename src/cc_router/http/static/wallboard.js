// Wallboard: one EventSource on /api/stream; waits and times in state tick locally
// from the server's clock, so a quiet floor still shows time passing. The agent list is
// one page chosen by the server (filters below, not-ready and longest-in-state first):
// a 20,000-seat floor is never sent to the browser whole.
"use strict";

const STATE_LABEL = {
  ready: "Ready", reserved: "Ringing", busy: "On call", wrap_up: "Wrap-up",
  paused: "Paused", logged_out: "Logged out",
};
const TILE_STATES = ["ready", "reserved", "busy", "wrap_up", "paused"];
const CHANNEL_LABEL = { voice: "Voice", chat: "Chat", email: "Email", sms: "SMS", fax: "Fax" };
const PAGE = 200;

const model = {
  header: null, queues: [], channels: [], agents: new Map(), agentIds: [], agentPage: null,
  interactions: [], clockSkew: 0,
};
// The supervisor console (/console) logs in first and hands its session token over.
const token = new URLSearchParams(location.search).get("token") || window.CCR_TOKEN || null;
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
          <div class="fig small"><span class="v" data-field="ewt"></span><span class="k">Expected wait</span></div>
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
    // A caller joining now would be told this; the title has the longest of those waiting.
    const ewt = tile.querySelector('[data-field="ewt"]');
    ewt.textContent = q.ewt_new_s === null || q.ewt_new_s === undefined ? "–" : fmtDur(q.ewt_new_s);
    ewt.title = q.ewt_longest_s === null || q.ewt_longest_s === undefined
      ? "" : `longest expected wait of those waiting: ${fmtDur(q.ewt_longest_s)}`;
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

function renderChannels() {
  const th = model.header.thresholds;
  const box = $("channels");
  for (const c of model.channels) {
    let card = box.querySelector(`[data-channel="${CSS.escape(c.channel)}"]`);
    if (!card) {
      card = document.createElement("article");
      card.className = "chan";
      card.dataset.channel = c.channel;
      card.innerHTML = `
        <div class="chan-head"><h3>${esc(CHANNEL_LABEL[c.channel] || c.channel)}</h3>
          <span class="slots" data-field="slots"></span></div>
        <div class="bar"><div data-field="slot-bar"></div></div>
        <div class="chan-figs">
          <div><b data-field="waiting"></b><span>waiting</span></div>
          <div><b data-field="longest"></b><span>longest</span></div>
          <div><b data-field="sl"></b><span>SL today</span></div>
          <div class="today" data-field="today"></div>
        </div>`;
      box.appendChild(card);
    }
    const used = c.slots.used, total = c.slots.total;
    const f = (name) => card.querySelector(`[data-field="${name}"]`);
    f("slots").textContent = `${used}/${total} slots`;
    f("slots").title = `${c.logged_in} agents logged in on ${c.channel}`;
    const ratio = total ? used / total : 0;
    f("slot-bar").style.width = `${Math.min(100, Math.round(ratio * 100))}%`;
    f("slot-bar").className = ratio >= 0.95 ? "full" : ratio >= 0.8 ? "high" : "";
    const w = f("waiting");
    w.textContent = c.waiting;
    w.className = c.waiting ? level(c.waiting, th.waiting_warn, th.waiting_alarm) : "";
    const sl = c.today.sl_pct;
    f("sl").textContent = fmtPct(sl);
    f("sl").className = sl === null ? "" : level(sl / 100, th.sl_warn, th.sl_alarm, false);
    f("today").innerHTML =
      `<span>Today</span><span>${c.today.offered} offered</span><span>${c.today.answered} answered</span>` +
      `<span class="${c.today.abandoned ? "abd" : ""}">${c.today.abandoned} abandoned</span>`;
    card.classList.toggle("idle", !total && !c.waiting && !c.today.offered);
  }
  tickChannels();
}

function tickChannels() {
  if (!model.header) return;
  const th = model.header.thresholds;
  for (const c of model.channels) {
    const el = $("channels").querySelector(`[data-channel="${CSS.escape(c.channel)}"] [data-field="longest"]`);
    if (!el) continue;
    const lw = c.oldest_since ? serverNow() - c.oldest_since : 0;
    el.textContent = c.waiting ? fmtDur(lw) : "–";
    el.className = c.waiting ? level(lw, th.longest_wait_warn_s, th.longest_wait_alarm_s) : "";
  }
}

function renderSummary() {
  let waiting = 0;
  for (const q of model.queues) waiting += q.waiting;
  const st = model.header.agent_states || {};
  const ready = st.ready ?? 0, ringing = st.reserved ?? 0, busy = st.busy ?? 0, paused = st.paused ?? 0;
  const loggedIn = Object.entries(st).reduce((n, [s, k]) => n + (s === "logged_out" ? 0 : k), 0);
  $("summary").innerHTML =
    `<span>Waiting <b data-field="total-waiting">${waiting}</b></span>` +
    `<span>Logged in <b>${loggedIn}</b></span><span>Ready <b>${ready}</b></span>` +
    `<span>Ringing <b>${ringing}</b></span><span>On call <b>${busy}</b></span>` +
    `<span>Paused <b>${paused}</b></span>`;
}

function fmtLoad(load) {
  // Per channel, so an agent on a call with two chats reads "voice 1/1 · chat 2/3".
  return Object.entries(load || {}).filter(([, l]) => l.capacity).map(([ch, l]) =>
    `<span class="${l.used ? "used" : ""}${l.used >= l.capacity ? " full" : ""}">${esc(ch)} ${l.used}/${l.capacity}</span>`
  ).join(" · ");
}

function renderAgents() {
  const list = model.agentIds.map((id) => model.agents.get(id)).filter(Boolean);
  const page = model.agentPage;
  const total = page ? page.total : list.length;
  $("agent-count").textContent = total > list.length ? `${list.length} of ${total}` : `${total}`;
  $("agents").innerHTML = list.length ? list.map((a) => {
    const work = [...new Set(a.interactions.map((w) => w.queue).filter(Boolean))];
    const detail = a.reason || (work.length ? work.join(", ") : "");
    return `<div class="agent ${esc(a.state)}" data-agent="${esc(a.id)}" data-since="${a.state_since ?? ""}">
      <span class="name">${esc(a.name || a.id)}</span><span class="id">${esc(a.id)}</span>
      <span class="t" data-field="time">${a.state_since ? fmtDur(serverNow() - a.state_since) : ""}</span>
      <span class="pill" data-field="state" data-state="${esc(a.state)}">${esc(STATE_LABEL[a.state] || a.state)}${detail ? " · " + esc(detail) : ""}</span>
      <span class="load" data-field="load">${fmtLoad(a.load)}</span>
    </div>`;
  }).join("") : `<div class="empty">${filterQuery() ? "No agent matches" : "No agent logged in"}</div>`;
}

function fillSelect(sel, values, allLabel) {
  const key = values.join("\u0000");
  if (sel.dataset.key === key) return;
  const current = sel.value;
  sel.innerHTML = `<option value="">${esc(allLabel)}</option>` +
    values.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join("");
  sel.value = values.includes(current) ? current : "";
  sel.dataset.key = key;
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
  const total = model.queues.reduce((n, q) => n + q.waiting, 0);
  $("waiting-count").textContent = total > rows.length ? `${rows.length} of ${total}` : `${total}`;
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
  model.channels = data.channels || [];
  model.interactions = data.interactions;
  if (data.full) model.agents = new Map();
  for (const a of data.agents) model.agents.set(a.id, a);
  if (data.agent_page) {
    // Rows come only for agents new to the page or changed; the ids give the order.
    model.agentPage = data.agent_page;
    model.agentIds = data.agent_page.ids;
    const keep = new Set(model.agentIds);
    for (const id of model.agents.keys()) if (!keep.has(id)) model.agents.delete(id);
  } else {
    model.agentIds = [...model.agents.keys()];
  }
  $("centre").textContent = data.centre;
  document.title = `${data.centre} · wallboard`;
  fillSelect($("f-queue"), model.queues.map((q) => q.name), "all queues");
  if (data.pools) fillSelect($("f-pool"), data.pools, "all pools");
  renderChannels();
  renderQueues();
  renderSummary();
  renderAgents();
  renderWaiting();
  tick();
  document.body.dataset.version = data.version;
}

function filterQuery() {
  const p = new URLSearchParams();
  const state = $("f-state").value, queue = $("f-queue").value, pool = $("f-pool").value;
  const search = $("f-search").value.trim();
  if (state) p.set("state", state);
  if (queue) p.set("queue", queue);
  if (pool) p.set("pool", pool);
  if (search) p.set("search", search);
  if (!$("show-out").checked && !state) p.set("logged_out", "false");
  return p.toString();
}

let source = null;

function connect() {
  const p = new URLSearchParams(filterQuery());
  p.set("limit", String(PAGE));
  if (token) p.set("token", token);
  if (source) source.close();
  const es = source = new EventSource("/api/stream?" + p.toString());
  document.body.dataset.filter = filterQuery();
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
  tickChannels();
  tickQueues();
  tickAgents();
  tickWaiting();
}

// A new filter is a new stream: the server picks the page, the browser never holds the floor.
for (const id of ["show-out", "f-state", "f-queue", "f-pool"]) $(id).addEventListener("change", connect);
let searchTimer = 0;
$("f-search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(connect, 300); });
connect();
setInterval(tick, 1000);
tick();
