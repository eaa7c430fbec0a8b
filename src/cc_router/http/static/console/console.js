// Supervisor console: the wallboard (wallboard.js, loaded once logged in) plus an action
// panel for the agent, waiting caller or queue clicked. Every change goes through the
// control API's own routes, is confirmed here first, and is recorded in the audit table
// by the server.
"use strict";

const C = { token: sessionStorage.getItem("ccr.console.token"), config: null, target: null };
const el = (id) => document.getElementById(id);

function escHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

async function call(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (C.token) headers.Authorization = "Bearer " + C.token;
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    // The router is unreachable (restarting, network): say so, keep the page alive.
    return { ok: false, status: 0, data: { error: "cannot reach the router" } };
  }
  let data = {};
  try { data = await r.json(); } catch (e) { data = {}; }
  return { ok: r.ok, status: r.status, data };
}

function showResult(ok, text) {
  const box = el("result");
  box.hidden = false;
  box.dataset.ok = ok ? "true" : "false";
  box.textContent = text;
  clearTimeout(showResult.timer);
  showResult.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

// A confirmation of our own (not window.confirm): it names the change in full.
function confirmChange(text) {
  return new Promise((resolve) => {
    el("confirm-text").textContent = text;
    el("confirm").hidden = false;
    const done = (answer) => {
      el("confirm").hidden = true;
      el("confirm-yes").onclick = el("confirm-no").onclick = null;
      resolve(answer);
    };
    el("confirm-yes").onclick = () => done(true);
    el("confirm-no").onclick = () => done(false);
  });
}

async function act(text, method, path, body, after) {
  if (!(await confirmChange(text))) return;
  const r = await call(method, path, body);
  if (r.ok) {
    showResult(true, "Done: " + text.replace(/\?$/, ""));
    if (after) await after(r.data);
  } else {
    showResult(false, `Refused (${r.status}): ${r.data.error || "error"}`);
  }
}

// ------------------------------------------------------------------ login

async function login(e) {
  e.preventDefault();
  el("login-error").textContent = "";
  const r = await call("POST", "/api/auth/login", { user: el("user").value, password: el("password").value });
  el("password").value = "";
  if (!r.ok) {
    el("login-error").textContent = r.data.error || "login failed";
    return;
  }
  C.token = r.data.token;
  sessionStorage.setItem("ccr.console.token", C.token);
  await start();
}

async function start() {
  const r = await call("GET", "/api/console/config");
  if (!r.ok) {
    // Not a supervisor's login: end that session rather than leave it open in this tab.
    if (r.status === 403) await call("POST", "/api/auth/logout");
    C.token = null;
    sessionStorage.removeItem("ccr.console.token");
    document.body.dataset.view = "login";
    el("login-error").textContent = r.data.error || "not allowed";
    return;
  }
  C.config = r.data;
  el("who").textContent = `${r.data.user} (${r.data.role})`;
  document.body.dataset.view = "console";
  if (!window.CCR_TOKEN) {
    // The wallboard reads the floor with this session's token.
    window.CCR_TOKEN = C.token;
    const s = document.createElement("script");
    s.src = "/static/wallboard.js";
    document.body.appendChild(s);
  }
}

async function signOut() {
  await call("POST", "/api/auth/logout");
  sessionStorage.removeItem("ccr.console.token");
  location.reload();
}

// ------------------------------------------------------------------ action panel

function openPanel(title, html, target) {
  C.target = target;
  el("act-title").textContent = title;
  el("act-body").innerHTML = html;
  el("act").hidden = false;
  el("act").dataset.kind = target.kind;
  el("act").dataset.target = target.id;
}

function closePanel() { el("act").hidden = true; C.target = null; }

function reasonOptions() {
  return (C.config.pause_reasons || []).map((r) => `<option value="${escHtml(r.code)}">${escHtml(r.label)}</option>`).join("");
}

async function openAgent(id) {
  const r = await call("GET", `/api/agents/${encodeURIComponent(id)}`);
  if (!r.ok) { showResult(false, r.data.error || "unknown agent"); return; }
  const a = r.data;
  const skills = C.config.skills.map((s) =>
    `<label class="skill">${escHtml(s)} <input type="number" min="0" max="10" data-skill="${escHtml(s)}" value="${a.skills[s] ?? ""}"></label>`).join("");
  openPanel(`${a.name || a.id} (${a.id})`, `
    <p class="now">State: <b id="act-state" data-state="${escHtml(a.state)}">${escHtml(a.state)}</b>
      ${a.reason ? `· <span id="act-reason-now">${escHtml(a.reason)}</span>` : ""} · pool ${escHtml(a.pool)}</p>
    <label>Reason <input id="act-reason" list="act-reasons" maxlength="64" placeholder="why"></label>
    <datalist id="act-reasons">${reasonOptions()}</datalist>
    <div class="buttons">
      <button id="act-pause" type="button">Pause</button>
      <button id="act-unpause" type="button">Unpause</button>
      <button id="act-logout" type="button">Log out</button>
    </div>
    <h3>Listen</h3>
    <p class="now" id="act-monitor" data-mode="${escHtml(monitorOf(id)?.mode || "")}">${escHtml(monitorText(id))}</p>
    <div class="buttons">
      <button id="act-listen" type="button" data-mode="listen">Listen</button>
      <button id="act-whisper" type="button" data-mode="whisper">Whisper</button>
      <button id="act-barge" type="button" data-mode="barge">Barge</button>
      <button id="act-monitor-stop" type="button">Stop</button>
    </div>
    <h3>Skills</h3><div class="skills">${skills}</div>
    <div class="buttons"><button id="act-skills" type="button">Save skills</button></div>`, { kind: "agent", id });
  const who = `${a.name || a.id} (${a.id})`;
  const reason = () => el("act-reason").value.trim();
  const again = () => openAgent(id);
  el("act-pause").onclick = () => {
    const why = reason() || "break";
    act(`Pause ${who}, reason ${why}?`, "POST", `/api/agents/${encodeURIComponent(id)}/pause`, { reason: why }, again);
  };
  el("act-unpause").onclick = () => {
    const why = reason();
    act(`Unpause ${who}${why ? ", reason " + why : ""}?`, "POST", `/api/agents/${encodeURIComponent(id)}/unpause`,
      why ? { reason: why } : {}, again);
  };
  el("act-logout").onclick = () => {
    const why = reason();
    act(`Log out ${who}${why ? ", reason " + why : ""}?`, "POST", `/api/agents/${encodeURIComponent(id)}/logout`,
      why ? { reason: why } : {}, again);
  };
  el("act-skills").onclick = () => {
    const skills = {};
    for (const input of el("act-body").querySelectorAll("input[data-skill]")) {
      if (input.value !== "") skills[input.dataset.skill] = parseInt(input.value, 10);
    }
    const text = Object.entries(skills).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
    act(`Set the skills of ${who} to ${text}?`, "PUT", `/api/agents/${encodeURIComponent(id)}/skills`, skills, again);
  };
  const LABEL = { listen: "Listen to", whisper: "Whisper to", barge: "Barge into the call of" };
  for (const b of el("act-body").querySelectorAll("button[data-mode]")) {
    b.onclick = () => act(`${LABEL[b.dataset.mode]} ${who} on your phone?`, "POST",
      `/api/agents/${encodeURIComponent(id)}/monitor`, { mode: b.dataset.mode }, async () => { await pollMonitors(); again(); });
  }
  el("act-monitor-stop").onclick = () => act(`Stop listening to ${who}?`, "DELETE",
    `/api/agents/${encodeURIComponent(id)}/monitor`, undefined, async () => { await pollMonitors(); again(); });
}

async function openInteraction(id) {
  const r = await call("GET", "/api/interactions?limit=all");
  const it = r.ok ? (r.data.interactions || []).find((i) => i.id === id) : null;
  if (!it) { showResult(false, "that caller is no longer waiting"); return; }
  const queues = C.config.queues.filter((q) => q.channel === it.channel && q.name !== it.queue);
  openPanel(`Caller ${it.caller || it.id}`, `
    <p class="now">Queue <b id="act-queue-now">${escHtml(it.queue)}</b> · position ${it.position} ·
      priority <b id="act-priority-now">${it.priority}</b></p>
    <label>Move to <select id="act-move-queue">${queues.map((q) =>
      `<option value="${escHtml(q.name)}">${escHtml(q.name)}</option>`).join("")}</select></label>
    <div class="buttons"><button id="act-move" type="button" ${queues.length ? "" : "disabled"}>Move</button></div>
    <label>Priority <input id="act-priority" type="number" min="-1000" max="1000" value="${it.priority}"></label>
    <div class="buttons"><button id="act-priority-btn" type="button">Set priority</button></div>`, { kind: "interaction", id });
  const path = `/api/interactions/${encodeURIComponent(id)}`;
  el("act-move").onclick = () => {
    const q = el("act-move-queue").value;
    act(`Move caller ${it.caller || id} from ${it.queue} to ${q}?`, "POST", path + "/move", { queue: q },
      () => openInteraction(id));
  };
  el("act-priority-btn").onclick = () => {
    const p = parseInt(el("act-priority").value, 10);
    act(`Set the priority of caller ${it.caller || id} to ${p}?`, "POST", path + "/priority", { priority: p },
      () => openInteraction(id));
  };
}

function stepRow(s) {
  return `<div class="step">
    <label>after s <input type="number" min="0" step="1" data-f="after_s" value="${s.after_s}"></label>
    <label>requirement <input data-f="requirement" value="${escHtml(s.requirement)}"></label>
    <label>boost <input type="number" data-f="priority_boost" value="${s.priority_boost}"></label>
    <button type="button" class="step-del" aria-label="remove step">−</button></div>`;
}

async function openQueue(name) {
  const r = await call("GET", "/api/console/config");
  if (r.ok) C.config = r.data;
  const q = C.config.queues.find((x) => x.name === name);
  if (!q) return;
  openPanel(`Queue ${name}`, `
    <p class="now">Priority <b id="act-qprio-now">${q.priority}</b> · ${q.steps.length} escalation steps</p>
    <label>Priority <input id="act-qprio" type="number" min="-1000" max="1000" value="${q.priority}"></label>
    <h3>Escalation steps</h3><div id="act-steps">${q.steps.map(stepRow).join("")}</div>
    <div class="buttons"><button id="act-step-add" type="button">Add step</button>
      <button id="act-queue-save" type="button">Save queue</button></div>`, { kind: "queue", id: name });
  el("act-steps").onclick = (e) => { if (e.target.classList.contains("step-del")) e.target.closest(".step").remove(); };
  el("act-step-add").onclick = () =>
    el("act-steps").insertAdjacentHTML("beforeend", stepRow({ after_s: 60, requirement: "true", priority_boost: 0 }));
  el("act-queue-save").onclick = () => {
    const steps = [...el("act-steps").querySelectorAll(".step")].map((row) => ({
      after_s: parseFloat(row.querySelector('[data-f="after_s"]').value),
      requirement: row.querySelector('[data-f="requirement"]').value,
      priority_boost: parseInt(row.querySelector('[data-f="priority_boost"]').value || "0", 10),
    }));
    const priority = parseInt(el("act-qprio").value, 10);
    const text = steps.map((s) => `after ${s.after_s}s ${s.requirement}${s.priority_boost ? " +" + s.priority_boost : ""}`).join("; ");
    act(`Set queue ${name} to priority ${priority}, steps: ${text || "none"}?`, "PATCH",
      `/api/queues/${encodeURIComponent(name)}`, { priority, steps }, () => openQueue(name));
  };
}

// ------------------------------------------------------------------ audit

function fmtChange(before, after) {
  if (!before && !after) return "";
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
  return keys.filter((k) => JSON.stringify((before || {})[k]) !== JSON.stringify((after || {})[k]))
    .map((k) => `${k}: ${JSON.stringify((before || {})[k])} → ${JSON.stringify((after || {})[k])}`).join("; ");
}

async function openAudit() {
  const r = await call("GET", "/api/audit?limit=200");
  if (!r.ok) { showResult(false, r.data.error || "audit unavailable"); return; }
  el("audit-rows").innerHTML = r.data.audit.map((row) => `<tr data-audit="${row.id}" data-action="${escHtml(row.action)}">
    <td>${escHtml(fmtTime(row.at))}</td>
    <td>${escHtml(row.user)}</td><td>${escHtml(row.action)}</td>
    <td>${escHtml(row.target_kind)} ${escHtml(row.target)}</td>
    <td>${escHtml(fmtChange(row.before, row.after))}</td><td>${escHtml(row.reason || "")}</td></tr>`).join("");
  el("audit").hidden = false;
}

// ------------------------------------------------------------------ monitors

C.monitors = new Map();

function monitorOf(agentId) { return C.monitors.get(agentId); }

function monitorText(agentId) {
  const m = monitorOf(agentId);
  return m ? `${m.user}: ${m.mode} (${m.phone})` : "nobody listening";
}

// Shown on the agents' rows while it lasts (rows are redrawn by the wallboard: decorate again).
function decorateMonitors() {
  for (const row of el("agents").querySelectorAll(".agent[data-agent]")) {
    const m = monitorOf(row.dataset.agent);
    const want = m ? m.mode : "";
    if ((row.dataset.monitor || "") === want) continue;
    if (want) row.dataset.monitor = want; else delete row.dataset.monitor;
    row.title = m ? `${m.user}: ${m.mode}` : "";
  }
}

async function pollMonitors() {
  if (!C.token || document.body.dataset.view !== "console") return;
  const r = await call("GET", "/api/monitors");
  if (!r.ok) return;
  C.monitors = new Map(r.data.monitors.map((m) => [m.agent_id, m]));
  decorateMonitors();
  const box = el("act-monitor");
  if (box && C.target && C.target.kind === "agent") {
    box.textContent = monitorText(C.target.id);
    box.dataset.mode = monitorOf(C.target.id)?.mode || "";
  }
}

// ------------------------------------------------------------------ recordings

function fmtTime(epoch) {
  return epoch ? new Date(epoch * 1000).toLocaleString("zh-CN", { hour12: false, timeZone: C.config.timezone }) : "";
}

async function openRecordings() {
  const r = await call("GET", "/api/recordings?limit=200");
  if (!r.ok) { showResult(false, r.data.error || "recordings unavailable"); return; }
  // <audio> cannot send headers: the session token goes in the query string.
  const q = "?token=" + encodeURIComponent(C.token);
  el("recording-rows").innerHTML = r.data.recordings.length ? r.data.recordings.map((row) =>
    `<tr data-recording="${escHtml(row.interaction_id)}"><td>${escHtml(fmtTime(row.answered_at))}</td>
    <td>${escHtml(row.queue)}</td><td>${escHtml(row.agent_id || "")}</td><td>${escHtml(row.caller)}</td>
    <td class="num">${row.seconds === null ? "" : row.seconds.toFixed(1) + " s"}</td>
    <td><audio controls preload="none" src="/api/recordings/${encodeURIComponent(row.interaction_id)}${q}"></audio></td></tr>`
  ).join("") : `<tr><td colspan="6" class="empty">No recordings</td></tr>`;
  el("recordings").hidden = false;
}

// ------------------------------------------------------------------ reports

function cell(v) { return v === null || v === undefined ? "" : escHtml(v); }

async function loadReports() {
  const day = el("report-date").value;
  const q = `date=${encodeURIComponent(day)}&token=${encodeURIComponent(C.token)}`;
  el("report-queues-csv").href = `/api/reports/queues?format=csv&${q}`;
  el("report-agents-csv").href = `/api/reports/agents?format=csv&${q}`;
  const [qr, ar] = await Promise.all([call("GET", `/api/reports/queues?date=${day}`), call("GET", `/api/reports/agents?date=${day}`)]);
  if (!qr.ok || !ar.ok) { showResult(false, (qr.data.error || ar.data.error) || "reports unavailable"); return; }
  el("report-tz").textContent = qr.data.timezone;
  const hhmm = (iso) => iso.slice(11, 16);
  el("report-queue-rows").innerHTML = qr.data.rows.map((r) => `<tr><td>${hhmm(r.interval)}</td><td>${cell(r.queue)}</td>
    <td class="num">${cell(r.offered)}</td><td class="num">${cell(r.answered)}</td><td class="num">${cell(r.abandoned)}</td>
    <td class="num">${r.sl_pct === null ? "" : Math.round(r.sl_pct)}</td><td class="num">${cell(r.asa_s === null ? null : r.asa_s.toFixed(1))}</td>
    <td class="num">${cell(r.aht_s === null ? null : r.aht_s.toFixed(1))}</td></tr>`).join("");
  el("report-agent-rows").innerHTML = ar.data.rows.map((r) => `<tr data-agent-row="${escHtml(r.agent_id)}"><td>${hhmm(r.interval)}</td>
    <td>${cell(r.agent_id)}</td><td class="num">${cell(r.handled)}</td><td class="num">${cell(r.aht_s)}</td>
    <td class="num">${cell(r.talk_s)}</td><td class="num">${cell(r.wrap_s)}</td><td class="num">${cell(r.hold_s)}</td>
    <td class="num">${cell(r.paused_s)}</td></tr>`).join("");
}

async function openReports() {
  if (!el("report-date").value) {
    // Today where the centre is, not where the browser is.
    el("report-date").value = new Date().toLocaleDateString("sv-SE", { timeZone: C.config.timezone });
  }
  el("reports").hidden = false;
  await loadReports();
}

// ------------------------------------------------------------------ wiring

el("login-form").addEventListener("submit", login);
el("signout-btn").onclick = signOut;
el("act-close").onclick = closePanel;
el("audit-close").onclick = () => { el("audit").hidden = true; };
el("audit-btn").onclick = openAudit;
el("recordings-btn").onclick = openRecordings;
el("reports-btn").onclick = openReports;
el("reports-close").onclick = () => { el("reports").hidden = true; };
el("report-date").addEventListener("change", loadReports);
el("recordings-close").onclick = () => { el("recordings").hidden = true; };
el("reload-btn").onclick = () => act("Reload the configuration file?", "POST", "/api/config/reload", {},
  (d) => showResult(true, "Reloaded: " + (d.summary || "") + (d.restart_needed && d.restart_needed.length ? " (restart needed for " + d.restart_needed.join(", ") + ")" : "")));
// Rows are redrawn on every update: one listener per list, looking at what was clicked.
el("agents").addEventListener("click", (e) => {
  const row = e.target.closest(".agent[data-agent]");
  if (row) openAgent(row.dataset.agent);
});
el("waiting").addEventListener("click", (e) => {
  const row = e.target.closest("tr[data-interaction]");
  if (row) openInteraction(row.dataset.interaction);
});
el("queues").addEventListener("click", (e) => {
  const tile = e.target.closest(".tile[data-queue]");
  if (tile) openQueue(tile.dataset.queue);
});
new MutationObserver(decorateMonitors).observe(el("agents"), { childList: true });
setInterval(pollMonitors, 2000);
if (C.token) start();
