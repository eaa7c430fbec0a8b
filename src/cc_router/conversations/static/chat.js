// The customer's chat page. Everything the customer or agent wrote is put in the page
// with textContent only: no message text is ever parsed as HTML.
"use strict";
(() => {
  const KEY = "ccr-chat-token";
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  // Framed by widget.js: the host page's origin and the token it keeps for us. Browsers
  // may deny storage to a third-party frame, so the host page (first party) keeps it too.
  const framed = new URLSearchParams(location.hash.slice(1));
  const host = framed.get("host");
  const shown = new Set();
  let source = null;

  function stored() {
    try { return localStorage.getItem(KEY); } catch { return null; }
  }
  function keep(value) {
    try { if (value) localStorage.setItem(KEY, value); else localStorage.removeItem(KEY); } catch { /* denied */ }
    if (host && window.parent !== window) window.parent.postMessage({ type: "ccr-chat-token", token: value }, host);
  }
  let token = stored() || framed.get("token");

  const say = (text) => { $("status").textContent = text; };
  const fail = (text) => { $("error").textContent = text || ""; };

  async function api(path, body) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers["X-Chat-Token"] = token;
    const r = await fetch(path, { method: body === undefined ? "GET" : "POST", headers,
                                  body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { const e = new Error(data.error || `HTTP ${r.status}`); e.status = r.status; throw e; }
    return data;
  }

  function addMessage(m) {
    if (shown.has(m.id)) return;
    shown.add(m.id);
    const li = document.createElement("li");
    li.className = m.author === "system" ? "system" : m.direction;
    li.dataset.id = m.id;
    li.dataset.author = m.author;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = m.author === "customer" ? "You" : m.author === "system" ? "" : `Agent ${m.author}`;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = m.body;
    li.append(who, text);
    $("messages").append(li);
    li.scrollIntoView({ block: "end" });
  }

  function waitText(seconds) {
    if (seconds < 60) return "under a minute";
    const min = Math.round(seconds / 60);
    return min === 1 ? "about 1 minute" : `about ${min} minutes`;
  }

  function showState(s) {
    document.body.dataset.status = s.status;
    if (s.status === "waiting") {
      const place = s.position ? `You are number ${s.position} in the queue.` : "Waiting for an agent…";
      say(s.expected_wait_s != null ? `${place} Expected wait: ${waitText(s.expected_wait_s)}.` : place);
    }
    else if (s.status === "offered") say("An agent is about to answer…");
    else if (s.status === "connected") say(`You are chatting with agent ${s.agent}.`);
    else if (s.status === "customer_left") say("You left the chat.");
    else if (s.status === "ended") { say("The chat has ended."); finish(); }
  }

  let typingTimer = null;
  function showTyping(author) {
    // textContent only: the author id is data, like any message.
    const el = $("typing");
    clearTimeout(typingTimer);
    el.textContent = author && author !== "customer" ? `Agent ${author} is typing…` : "";
    if (el.textContent) typingTimer = setTimeout(() => { el.textContent = ""; }, 5000);
  }

  let typedAt = 0;
  function typed() {
    const now = Date.now();
    if (!token || now - typedAt < 3000) return;
    typedAt = now;
    api("/chat/api/typing", {}).catch(() => {});
  }

  function finish() {
    $("compose").hidden = true;
    $("end").hidden = true;
    if (source) { source.close(); source = null; }
    keep(null);
    token = null;
  }

  function listen() {
    $("start").hidden = true;
    $("compose").hidden = false;
    $("end").hidden = false;
    source = new EventSource(`/chat/api/events?token=${encodeURIComponent(token)}`);
    source.addEventListener("hello", (e) => {
      const d = JSON.parse(e.data);
      $("title").textContent = d.topic || "Chat";
      d.messages.forEach(addMessage);
      showState(d.state);
    });
    source.addEventListener("state", (e) => showState(JSON.parse(e.data)));
    source.addEventListener("message", (e) => { addMessage(JSON.parse(e.data)); showTyping(null); });
    source.addEventListener("typing", (e) => showTyping(JSON.parse(e.data).author));
    source.onerror = () => {
      // The browser reconnects by itself; a token the server no longer knows ends here.
      api("/chat/api/conversation").catch((err) => { if (err.status === 401) { finish(); showStart(); } });
    };
  }

  async function showStart() {
    $("start").hidden = false;
    try {
      const { topics } = await api("/chat/api/topics");
      const sel = $("topic");
      sel.replaceChildren();
      for (const t of topics) {
        const o = document.createElement("option");
        o.value = t.name;
        o.textContent = t.label;
        sel.append(o);
      }
      if (params.get("topic")) sel.value = params.get("topic");
    } catch (err) { fail(err.message); }
  }

  $("start").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fail("");
    try {
      const d = await api("/chat/api/start", { topic: $("topic").value, name: $("name").value, text: $("first").value });
      token = d.token;
      keep(token);
      listen();
    } catch (err) { fail(err.message); }
  });

  $("compose").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    fail("");
    try {
      addMessage(await api("/chat/api/messages", { text }));
      $("text").value = "";
    } catch (err) { fail(err.message); }
  });

  $("text").addEventListener("input", typed);

  $("text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("compose").requestSubmit(); }
  });

  $("end").addEventListener("click", async () => {
    try { await api("/chat/api/leave", {}); } catch (err) { fail(err.message); }
    finish();
    say("You left the chat.");
  });

  if (token) listen(); else showStart();
})();
