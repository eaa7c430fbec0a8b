// Agent desktop: the conversation of the chat, e-mail or SMS the agent holds. Its
// transcript (/api/tasks/{id}/conversation), new messages live (/api/conversations/{id}/stream)
// and the reply box (POST /api/conversations/{id}/messages, sent over the customer's channel).
// Customer text is only ever set as textContent, never parsed as HTML.
"use strict";

const deskConversation = (() => {
  const view = { task: null, id: null, source: null, seen: new Set(), token: null };
  const el = (id) => document.getElementById(id);

  function headers() {
    return { "Content-Type": "application/json", Authorization: "Bearer " + view.token };
  }

  function add(m) {
    if (view.seen.has(m.id)) return;
    view.seen.add(m.id);
    const li = document.createElement("li");
    li.dataset.author = m.author;
    li.dataset.direction = m.direction;
    const who = document.createElement("b");
    who.textContent = m.direction === "in" ? (m.author === "system" ? "·" : "客户 customer") : m.author;
    const body = document.createElement("span");
    body.className = "body";
    body.textContent = m.body;
    li.append(who, " ", body);
    for (const a of m.attachments || []) {
      const link = document.createElement("a");
      link.textContent = `${a.filename} (${a.size} B)`;
      link.dataset.url = a.url;
      link.href = "#";
      // The download needs the bearer token, which a plain link cannot carry.
      link.addEventListener("click", (e) => { e.preventDefault(); download(a); });
      li.append(" ", link);
    }
    el("conv-messages").append(li);
    li.scrollIntoView({ block: "nearest" });
  }

  async function download(a) {
    const r = await fetch(a.url, { headers: headers() });
    if (!r.ok) return;
    const url = URL.createObjectURL(await r.blob());
    const link = document.createElement("a");
    link.href = url; link.download = a.filename;
    link.click();
    URL.revokeObjectURL(url);
  }

  function close() {
    if (view.source) view.source.close();
    Object.assign(view, { task: null, id: null, source: null, seen: new Set() });
    el("conversation").hidden = true;
    delete el("conversation").dataset.conversation;
    el("conv-messages").replaceChildren();
    el("conv-error").textContent = "";
  }

  async function open(taskId, token) {
    close();
    view.task = taskId; view.token = token;
    const r = await fetch(`/api/tasks/${encodeURIComponent(taskId)}/conversation`, { headers: headers() });
    if (view.task !== taskId) return; // another one was chosen meanwhile
    if (!r.ok) { view.task = null; return; } // a task posted by an integration has no conversation
    const c = await r.json();
    view.id = c.conversation_id;
    const box = el("conversation");
    box.dataset.conversation = c.conversation_id;
    box.dataset.channel = c.channel;
    el("conv-customer").textContent = c.customer;
    el("conv-subject").textContent = c.subject || "";
    box.hidden = false;
    const src = new EventSource(
      `/api/conversations/${encodeURIComponent(view.id)}/stream?token=${encodeURIComponent(token)}`);
    view.source = src;
    src.addEventListener("message", (e) => add(JSON.parse(e.data)));
    src.addEventListener("state", (e) => {
      const s = JSON.parse(e.data);
      box.dataset.status = s.status;
      if (s.status === "ended") src.close();
    });
    for (const m of c.messages) add(m);
  }

  async function reply(ev) {
    ev.preventDefault();
    const text = el("conv-text").value.trim();
    if (!text || !view.id) return;
    el("conv-error").textContent = "";
    const r = await fetch(`/api/conversations/${encodeURIComponent(view.id)}/messages`,
      { method: "POST", headers: headers(), body: JSON.stringify({ text }) });
    let data = {};
    try { data = await r.json(); } catch (e) { data = {}; }
    if (!r.ok) { el("conv-error").textContent = data.error || `HTTP ${r.status}`; return; }
    el("conv-text").value = "";
    add(data); // the stream brings it too; `seen` keeps one
  }

  let lastTyping = 0;
  function typing() {
    const now = Date.now();
    if (!view.id || now - lastTyping < 3000) return;
    lastTyping = now;
    fetch(`/api/conversations/${encodeURIComponent(view.id)}/typing`,
      { method: "POST", headers: headers(), body: "{}" }).catch(() => {});
  }

  el("conv-form").addEventListener("submit", reply);
  el("conv-text").addEventListener("input", typing);

  // Called by the desktop after each picture: `taskId` is the non-voice interaction in hand
  // that the agent chose (or the first one), null when there is none.
  function follow(taskId, token) {
    if (taskId === view.task) return;
    if (taskId) open(taskId, token); else close();
  }
  return { follow, close };
})();
