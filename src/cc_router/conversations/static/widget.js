// Embeds cc-router's chat on any web site:
//   <script src="https://router.example.com/chat/widget.js" data-topic="billing" async></script>
// A button opens the chat in a frame served by cc-router; the conversation's token is kept
// in this page's localStorage, so a reload of the host page keeps the chat.
"use strict";
(() => {
  const me = document.currentScript;
  const base = new URL(me.src).origin;
  const topic = me.dataset.topic || "";
  const label = me.dataset.label || "Chat with us";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.setAttribute("style", "position:fixed;right:1rem;bottom:1rem;z-index:2147483647;padding:.6rem 1rem;" +
    "border:0;border-radius:1.5rem;background:#0b5cad;color:#fff;font:15px system-ui,sans-serif;cursor:pointer");
  const KEY = `ccr-chat-token:${base}`;
  const frame = document.createElement("iframe");
  frame.title = label;
  const hash = new URLSearchParams({ host: location.origin });
  const token = localStorage.getItem(KEY);
  if (token) hash.set("token", token);
  frame.src = `${base}/chat${topic ? `?topic=${encodeURIComponent(topic)}` : ""}#${hash}`;
  // The frame tells us its conversation token, so a reload of this page keeps the chat.
  window.addEventListener("message", (ev) => {
    if (ev.origin !== base || !ev.data || ev.data.type !== "ccr-chat-token") return;
    if (typeof ev.data.token === "string" && ev.data.token) localStorage.setItem(KEY, ev.data.token);
    else localStorage.removeItem(KEY);
  });
  frame.hidden = true;
  frame.setAttribute("style", "position:fixed;right:1rem;bottom:4rem;z-index:2147483647;width:22rem;height:32rem;" +
    "max-width:calc(100vw - 2rem);border:1px solid #ccd;border-radius:.5rem;background:#fff");
  button.addEventListener("click", () => { frame.hidden = !frame.hidden; });
  document.body.append(frame, button);
})();
