// Agent desktop: log in, then follow /api/desktop/stream (server-sent events) and act
// through /api/desktop/*. Customer and caller text is only ever set as textContent.
"use strict";

const TEXT = {
  zh: {
    title: "坐席工作台", user: "用户名", password: "密码", login: "登录", ready: "就绪", pause: "暂停",
    logout: "退出", offer: "新的接入", channel: "渠道", queue: "队列", caller: "客户", wait: "等待",
    why: "分配原因", ringing: "电话振铃中，请在话机上接听", accept: "接受", reject: "拒绝",
    wrapup: "话后整理", save_code: "保存结果", ready_now: "完成，就绪", work: "处理中", today: "今日",
    handled: "已处理", avg_handle: "平均处理时长", per_state: "各状态时长", complete: "完成",
    online: "在线", offline: "离线，正在重连…", bad_login: "用户名或密码错误", choose: "选择结果…",
    st_logged_out: "未签入", st_ready: "就绪", st_reserved: "振铃", st_busy: "通话/处理中",
    st_wrap_up: "话后整理", st_paused: "暂停", sg_offered: "振铃", sg_connected: "已接通",
    sg_wrap_up: "整理中", over: "已超时", max: "上限", ch_voice: "电话", ch_chat: "在线聊天",
    ch_email: "邮件", ch_sms: "短信", ch_fax: "传真", too_many: "失败次数过多，请稍后再试",
    conversation: "会话", send: "发送",
  },
  en: {
    title: "Agent desktop", user: "User", password: "Password", login: "Log in", ready: "Ready", pause: "Pause",
    logout: "Log out", offer: "New offer", channel: "Channel", queue: "Queue", caller: "Customer", wait: "Waited",
    why: "Why you", ringing: "Your phone is ringing: answer it there", accept: "Accept", reject: "Reject",
    wrapup: "Wrap-up", save_code: "Save outcome", ready_now: "Done, ready", work: "In hand", today: "Today",
    handled: "Handled", avg_handle: "Average handle", per_state: "Time per state", complete: "Complete",
    online: "online", offline: "offline, reconnecting…", bad_login: "Wrong user name or password",
    choose: "Choose outcome…", st_logged_out: "Logged out", st_ready: "Ready", st_reserved: "Ringing",
    st_busy: "Busy", st_wrap_up: "Wrap-up", st_paused: "Paused", sg_offered: "ringing",
    sg_connected: "connected", sg_wrap_up: "wrap-up", over: "over time", max: "max", ch_voice: "Voice",
    ch_chat: "Chat", ch_email: "E-mail", ch_sms: "SMS", ch_fax: "Fax",
    too_many: "Too many failed logins; try again later", conversation: "Conversation", send: "Send",
  },
};

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("ccr.token"), lang: localStorage.getItem("ccr.lang") || "zh",
  config: null, picture: null, source: null, skew: 0, chosen: new Map(), open: null };

function t(key) { return (TEXT[state.lang] || TEXT.zh)[key] || key; }

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang").textContent = state.lang === "zh" ? "EN" : "中文";
  fillPauseReasons();
  if (state.picture) render(state.picture);
  setOnline($("conn").dataset.online === "true");
}

function clock(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
}

function serverNow() { return Date.now() / 1000 + state.skew; }

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = {};
  try { data = await r.json(); } catch (e) { data = {}; }
  if (r.status === 401 && path !== "/api/auth/login") showLogin();
  return { ok: r.ok, status: r.status, data };
}

function setOnline(on) {
  const el = $("conn");
  el.dataset.online = on ? "true" : "false";
  el.textContent = on ? t("online") : t("offline");
}

function showLogin() {
  if (state.source) state.source.close();
  deskConversation.close();
  state.source = null;
  state.token = null;
  sessionStorage.removeItem("ccr.token");
  document.body.dataset.view = "login";
  $("who").textContent = "";
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  const r = await api("POST", "/api/auth/login", { user: $("user").value, password: $("password").value });
  $("password").value = "";
  if (!r.ok) {
    $("login-error").textContent = r.status === 429 ? t("too_many") : t("bad_login");
    return;
  }
  state.token = r.data.token;
  sessionStorage.setItem("ccr.token", state.token);
  await start();
}

async function start() {
  const r = await api("GET", "/api/desktop/config");
  if (!r.ok) { showLogin(); if (r.data.error) $("login-error").textContent = r.data.error; return; }
  state.config = r.data;
  $("who").textContent = r.data.agent_name ? `${r.data.agent_name} (${r.data.agent_id})` : r.data.agent_id;
  fillPauseReasons();
  document.body.dataset.view = "desk";
  connect();
}

function connect() {
  if (state.source) state.source.close();
  // EventSource cannot send headers: the token goes in the query string.
  const src = new EventSource("/api/desktop/stream?token=" + encodeURIComponent(state.token));
  state.source = src;
  src.onopen = () => setOnline(true);
  src.onerror = async () => {
    setOnline(false);
    // The browser reconnects by itself; a session that ended sends us back to the login.
    if (src.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    try {
      const me = await fetch("/api/auth/me", { headers: { Authorization: "Bearer " + state.token } });
      if (me.status === 401) showLogin();
    } catch (e) { /* offline: keep trying */ }
  };
  src.addEventListener("desk", (e) => {
    setOnline(true);
    const p = JSON.parse(e.data);
    state.skew = p.now - Date.now() / 1000;
    state.picture = p;
    render(p);
  });
  src.addEventListener("logout", () => showLogin());
}

function fillPauseReasons() {
  const sel = $("pause-reason");
  const keep = sel.value;
  sel.replaceChildren();
  const reasons = (state.config && state.config.pause_reasons) || [];
  for (const r of reasons) {
    const o = document.createElement("option");
    o.value = r.code;
    o.textContent = r.max_s ? `${r.label} (${t("max")} ${clock(r.max_s)})` : r.label;
    sel.append(o);
  }
  if (!reasons.length) {
    const o = document.createElement("option");
    o.value = "break"; o.textContent = "break";
    sel.append(o);
  }
  // Keep the agent's choice across a language switch, but not the placeholder shown before
  // the login brought the real list (it would leave nothing selected).
  if (keep && Array.from(sel.options).some((o) => o.value === keep)) sel.value = keep;
}

function fillCodes(sel, set, current) {
  const keep = current || sel.value;
  sel.replaceChildren();
  const blank = document.createElement("option");
  blank.value = ""; blank.textContent = t("choose");
  sel.append(blank);
  for (const c of (set && set.codes) || []) {
    const o = document.createElement("option");
    o.value = c.code; o.textContent = c.label;
    sel.append(o);
  }
  sel.value = keep || "";
  sel.hidden = !((set && set.codes) || []).length;
}

function contentOf(task, fallback) {
  if (!task) return fallback || "";
  const parts = [];
  for (const k of ["customer", "from", "subject", "text", "body"]) {
    if (task[k]) parts.push(typeof task[k] === "string" ? task[k] : JSON.stringify(task[k]));
  }
  return parts.join("\n");
}

function render(p) {
  const a = p.agent || {};
  const st = $("state");
  st.dataset.state = a.state || "";
  st.textContent = t("st_" + (a.state || "logged_out"));
  document.body.dataset.state = a.state || "";
  const pi = $("pause-info");
  if (p.pause) {
    pi.textContent = p.pause.label + (p.pause.max_s ? ` · ${t("max")} ${clock(p.pause.max_s)}` : "") +
      (p.pause.over ? ` · ${t("over")}` : "");
    pi.dataset.over = p.pause.over ? "true" : "false";
  } else { pi.textContent = ""; pi.dataset.over = "false"; }

  // The offer in front of the agent.
  const box = $("offer");
  const o = (p.offers || [])[0];
  box.hidden = !o;
  if (o) {
    box.dataset.channel = o.channel;
    box.dataset.interaction = o.interaction_id;
    box.querySelector('[data-field="channel"]').textContent = t("ch_" + o.channel);
    box.querySelector('[data-field="queue"]').textContent = o.queue;
    const task = o.task || {};
    box.querySelector('[data-field="caller"]').textContent = task.customer || o.caller || "";
    box.querySelector('[data-field="wait"]').textContent = clock(o.wait_s);
    box.querySelector('[data-field="reason"]').textContent = o.reason || "";
    box.querySelector('[data-field="content"]').textContent = o.channel === "voice" ? "" : contentOf(o.task);
  } else { delete box.dataset.channel; delete box.dataset.interaction; }

  // Work in hand, with slots per channel.
  const slots = $("slots");
  slots.replaceChildren();
  for (const [ch, l] of Object.entries(a.load || {})) {
    const s = document.createElement("span");
    s.className = "slot"; s.dataset.channel = ch;
    s.textContent = `${t("ch_" + ch)} ${l.used}/${l.capacity}`;
    slots.append(s);
  }
  const list = $("work");
  const codes = new Map((p.wrap_up || []).map((w) => [w.interaction_id, w]));
  list.replaceChildren();
  let voice = o && o.channel === "voice" ? "ringing" : "";
  const talk = [];
  for (const w of a.interactions || []) {
    if (w.stage === "offered") continue;
    const li = $("work-item").content.firstElementChild.cloneNode(true);
    li.dataset.interaction = w.id; li.dataset.channel = w.channel; li.dataset.stage = w.stage;
    li.querySelector('[data-field="channel"]').textContent = t("ch_" + w.channel);
    li.querySelector('[data-field="queue"]').textContent = w.queue || "";
    li.querySelector('[data-field="stage"]').textContent = t("sg_" + w.stage);
    li.querySelector('[data-field="content"]').textContent = contentOf(w.task);
    li.querySelector('[data-field="complete"]').textContent = t("complete");
    const sel = li.querySelector('[data-field="code"]');
    fillCodes(sel, (state.config && state.config.dispositions || {})[w.queue], state.chosen.get(w.id) || "");
    // Pushes redraw the list: what the agent picked survives them.
    sel.addEventListener("change", () => state.chosen.set(w.id, sel.value));
    li.querySelector('[data-field="complete"]').addEventListener("click", () =>
      act("POST", `/api/desktop/tasks/${encodeURIComponent(w.id)}/complete`, { code: sel.value || undefined }));
    if (w.channel !== "voice" && w.stage === "connected") {
      // Its conversation opens below: the one clicked, else the first in hand.
      talk.push(w.id);
      li.addEventListener("click", (e) => {
        if (e.target.closest("select, button")) return;
        state.open = w.id; render(state.picture);
      });
    }
    list.append(li);
    if (w.channel === "voice" && w.stage === "connected") voice = "connected";
    if (w.channel === "voice" && w.stage === "wrap_up" && !voice) voice = "wrap_up";
  }

  const shown = talk.includes(state.open) ? state.open : talk[0] || null;
  for (const li of list.children) li.dataset.open = String(li.dataset.interaction === shown);
  deskConversation.follow(shown, state.token);

  // Wrap-up: countdown, the queue's dispositions, "ready" to end it early.
  const wrap = $("wrapup");
  const wu = (p.wrap_up || [])[0];
  wrap.hidden = !wu;
  if (wu) {
    wrap.dataset.interaction = wu.interaction_id;
    wrap.dataset.ends = wu.ends_at || "";
    fillCodes($("wrapup-code"), wu, wu.code);
    $("wrapup-save").hidden = !(wu.codes || []).length;
    if (wu.channel === "voice" && !voice) voice = "wrap_up";
  }
  document.body.dataset.voice = voice;

  const f = p.figures || {};
  const fig = $("figures");
  fig.querySelector('[data-field="handled"]').textContent = String(f.handled || 0);
  fig.querySelector('[data-field="avg_handle"]').textContent = f.avg_handle_s ? clock(f.avg_handle_s) : "–";
  fig.querySelector('[data-field="per_state"]').textContent = Object.entries(f.state_s || {})
    .map(([k, v]) => `${t("st_" + k)} ${clock(v)}`).join(" · ");
  tick();
}

function tick() {
  const p = state.picture;
  if (!p || !p.agent) return;
  const now = serverNow();
  const since = p.agent.state_since;
  $("state-time").textContent = since ? clock(now - since) : "";
  const o = (p.offers || [])[0];
  if (o) {
    $("offer").querySelector('[data-field="countdown"]').textContent = clock(o.expires_at - now);
    $("offer").querySelector('[data-field="wait"]').textContent = clock(o.wait_s + (now - p.now));
  }
  const wu = (p.wrap_up || [])[0];
  $("wrapup-countdown").textContent = wu && wu.ends_at ? clock(wu.ends_at - now) : "";
  if (p.pause && p.pause.max_s && p.pause.on_max === "flag" && now - p.pause.since > p.pause.max_s) {
    $("pause-info").dataset.over = "true";
  }
}

async function act(method, path, body) {
  $("action-error").textContent = "";
  const r = await api(method, path, body || {});
  if (!r.ok) $("action-error").textContent = r.data.error || `HTTP ${r.status}`;
  else if (r.data.agent) { state.picture = r.data; render(r.data); }
  return r;
}

function offerAct(verb) {
  const id = $("offer").dataset.interaction;
  if (id) act("POST", `/api/desktop/offers/${encodeURIComponent(id)}/${verb}`);
}

$("login-form").addEventListener("submit", login);
$("lang").addEventListener("click", () => {
  state.lang = state.lang === "zh" ? "en" : "zh";
  localStorage.setItem("ccr.lang", state.lang);
  applyLanguage();
});
$("ready-btn").addEventListener("click", () => act("POST", "/api/desktop/ready"));
$("pause-btn").addEventListener("click", () => act("POST", "/api/desktop/pause", { code: $("pause-reason").value }));
$("logout-btn").addEventListener("click", async () => {
  await act("POST", "/api/desktop/logout");
  await api("POST", "/api/auth/logout");
  showLogin();
});
$("accept-btn").addEventListener("click", () => offerAct("accept"));
$("reject-btn").addEventListener("click", () => offerAct("reject"));
$("wrapup-save").addEventListener("click", () => act("POST", "/api/desktop/disposition",
  { interaction_id: $("wrapup").dataset.interaction, code: $("wrapup-code").value }));
$("wrapup-ready").addEventListener("click", async () => {
  const code = $("wrapup-code").value;
  if (code) await act("POST", "/api/desktop/disposition", { interaction_id: $("wrapup").dataset.interaction, code });
  act("POST", "/api/desktop/ready");
});
setInterval(tick, 500);
window.addEventListener("offline", () => setOnline(false));

applyLanguage();
if (state.token) start(); else showLogin();
