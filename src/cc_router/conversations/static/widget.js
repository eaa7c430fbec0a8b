// Embeds cc-router's chat on any web site:
//   <script src="https://router.example.com/chat/widget.js" data-topic="billing" async></script>
// A button opens the chat in a frame served by cc-router, so the conversation (and its
// token in that origin's localStorage) survives reloads of the host page.
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
  const frame = document.createElement("iframe");
  frame.title = label;
  frame.src = `${base}/chat${topic ? `?topic=${encodeURIComponent(topic)}` : ""}`;
  frame.hidden = true;
  frame.setAttribute("style", "position:fixed;right:1rem;bottom:4rem;z-index:2147483647;width:22rem;height:32rem;" +
    "max-width:calc(100vw - 2rem);border:1px solid #ccd;border-radius:.5rem;background:#fff");
  button.addEventListener("click", () => { frame.hidden = !frame.hidden; });
  document.body.append(frame, button);
})();
