/* The top bar's search box: results as you type from GET /api/v1/search, keyboard to move and open,
   and on a conversation page opened from a result, the message is scrolled to and marked.
   Snippets come from the server escaped, with only <mark> around matched words; they are rebuilt here
   from text nodes and <mark> elements only, so nothing else in them can become markup. */
(function () {
  "use strict";

  const DELAY_MS = 200;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function snippet(html) {
    const out = el("span", { class: "search-hit-snippet", "data-testid": "search-snippet" });
    const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
    for (const node of doc.body.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) out.appendChild(document.createTextNode(node.textContent));
      else if (node.nodeName === "MARK") out.appendChild(el("mark", {}, node.textContent));
      else out.appendChild(document.createTextNode(node.textContent));
    }
    return out;
  }

  function hit(item, label, form) {
    const link = el("a", { class: "search-hit", href: item.url, role: "option", "data-testid": "search-hit" });
    const meta = el("span", { class: "search-hit-meta" });
    meta.appendChild(el("span", {}, `#${item.conversation_id}`));
    meta.appendChild(el("span", {}, item.contact.name || item.contact.email || item.contact.phone || ""));
    meta.appendChild(el("span", {}, item.channel));
    if (label) meta.appendChild(el("span", {}, label));
    if (item.created_at) meta.appendChild(el("time", { datetime: item.created_at }, new Date(item.created_at).toLocaleString(document.documentElement.lang || undefined)));
    link.appendChild(meta);
    link.appendChild(snippet(item.snippet));
    link.addEventListener("mousedown", (e) => e.preventDefault()); // keep focus, so the click lands
    return link;
  }

  function setup(form) {
    const input = form.querySelector(".search-input");
    const box = form.querySelector(".search-results");
    let timer = null;
    let seq = 0;
    let query = "";

    function close() { box.hidden = true; }
    function links() { return Array.from(box.querySelectorAll(".search-hit")); }

    async function fetchPage(q, before) {
      const params = new URLSearchParams({ q });
      if (before) params.set("before", before);
      const response = await fetch(`/api/v1/search?${params}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const body = await response.json();
      if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
      return body;
    }

    function addMessages(body) {
      for (const m of body.messages) box.appendChild(hit(m, "", form));
      if (body.next_before) {
        const more = el("button", { type: "button", class: "search-more", "data-testid": "search-more" }, form.dataset.more);
        more.addEventListener("mousedown", (e) => e.preventDefault());
        more.addEventListener("click", async () => {
          more.remove();
          addMessages(await fetchPage(query, body.next_before));
        });
        box.appendChild(more);
      }
    }

    async function run() {
      const q = input.value.trim();
      if (!q) { close(); return; }
      const mine = ++seq;
      let body;
      try {
        body = await fetchPage(q);
      } catch (err) {
        if (mine !== seq) return;
        box.replaceChildren(el("div", { class: "search-empty" }, `${form.dataset.error}: ${err.message}`));
        box.hidden = false;
        return;
      }
      if (mine !== seq) return;
      query = q;
      box.replaceChildren();
      if (body.conversations.length) {
        box.appendChild(el("h4", {}, form.dataset.conversations));
        for (const c of body.conversations) box.appendChild(hit(c, form.dataset[`match${c.match[0].toUpperCase()}${c.match.slice(1)}`], form));
      }
      if (body.messages.length) {
        box.appendChild(el("h4", {}, form.dataset.messages));
        addMessages(body);
      }
      if (!body.conversations.length && !body.messages.length) {
        box.appendChild(el("div", { class: "search-empty", "data-testid": "search-empty" }, form.dataset.empty));
      }
      box.hidden = false;
    }

    function move(step) {
      const all = links();
      if (!all.length) return;
      const at = all.findIndex((a) => a.classList.contains("selected"));
      all.forEach((a) => a.classList.remove("selected"));
      const next = all[(at + step + all.length) % all.length];
      next.classList.add("selected");
      next.scrollIntoView({ block: "nearest" });
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(run, DELAY_MS);
    });
    input.addEventListener("focus", () => { if (box.childElementCount && input.value.trim()) box.hidden = false; });
    input.addEventListener("blur", () => setTimeout(close, 150));
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown") { e.preventDefault(); move(1); }
      else if (e.key === "ArrowUp") { e.preventDefault(); move(-1); }
      else if (e.key === "Escape") { close(); input.blur(); }
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const target = box.querySelector(".search-hit.selected") || box.querySelector(".search-hit");
      if (target) window.location.assign(target.href);
      else run();
    });
  }

  function markFoundMessage() {
    const match = /^#message-(\d+)$/.exec(window.location.hash);
    if (!match) return;
    const node = document.getElementById(`message-${match[1]}`);
    if (!node) return;
    document.querySelectorAll(".msg-found").forEach((n) => n.classList.remove("msg-found"));
    node.classList.add("msg-found");
    node.scrollIntoView({ block: "center" });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form.search").forEach(setup);
    markFoundMessage();
  });
  window.addEventListener("hashchange", markFoundMessage);
})();
