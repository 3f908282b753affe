/* The prompter on the conversation page: the bot's top 3 answers for the customer's latest message.
 *
 * Reads GET /api/v1/conversations/{id}/suggestions when the page opens and whenever a new customer
 * message appears in the thread; "Insert" puts the answer into the reply box to edit and records
 * the use (POST /api/v1/bot/feedback). Texts come from the partial's data attributes (translated
 * server-side); every value from the server is inserted as text, never as HTML.
 */
(function () {
  "use strict";

  var box = document.querySelector('[data-testid="prompter"]');
  if (!box) return;
  var list = box.querySelector('[data-testid="suggestions"]');
  var empty = box.querySelector('[data-testid="suggestions-empty"]');
  var conversation = box.getAttribute("data-conversation");
  var dataNode = document.getElementById("lines-data");
  var DATA = dataNode ? JSON.parse(dataNode.textContent || "{}") : {};
  var lastMessage = null;
  var timer = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function feedback(articleId, kind) {
    var headers = { "Content-Type": "application/json" };
    if (DATA.csrf) headers["X-CSRF-Token"] = DATA.csrf;
    fetch("/api/v1/bot/feedback", {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify({ conversation_id: Number(conversation), article_id: articleId, kind: kind }),
    }).catch(function () {});
  }

  function insert(s) {
    var input = document.querySelector('[data-testid="reply-input"]');
    if (!input) return;
    input.value = s.answer;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
    feedback(s.article_id, "used");
    inserted = { article: s.article_id, text: s.answer };
  }

  // When the reply with an inserted answer is sent: `sent` as inserted, `edited` if changed first.
  // Capture on the document runs before the console's own handlers clear the box.
  var inserted = null;
  function sending() {
    var input = document.querySelector('[data-testid="reply-input"]');
    var composer = document.querySelector('[data-testid="composer"]');
    if (!inserted || !input || !input.value.trim()) return;
    if (composer && composer.classList.contains("mode-note")) return;
    feedback(inserted.article, input.value.trim() === inserted.text.trim() ? "sent" : "edited");
    inserted = null;
  }
  document.addEventListener(
    "keydown",
    function (ev) {
      if (ev.target && ev.target.getAttribute && ev.target.getAttribute("data-testid") === "reply-input" &&
          ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
        sending();
      }
    },
    true
  );
  document.addEventListener(
    "submit",
    function (ev) {
      if (ev.target && ev.target.getAttribute && ev.target.getAttribute("data-testid") === "composer") sending();
    },
    true
  );

  function show(data) {
    while (list.firstChild) list.removeChild(list.firstChild);
    var items = (data && data.suggestions) || [];
    empty.hidden = items.length > 0;
    empty.textContent = box.getAttribute("data-label-none");
    items.forEach(function (s) {
      var item = el("li", "suggestion");
      item.setAttribute("data-testid", "suggestion");
      item.setAttribute("data-article", s.article_id);
      var head = el("div", "suggestion-head");
      head.appendChild(el("span", "suggestion-title", s.title));
      var score = el("span", "badge suggestion-score", Math.round(s.score * 100) + "%");
      score.setAttribute("data-testid", "suggestion-score");
      head.appendChild(score);
      item.appendChild(head);
      item.appendChild(el("div", "suggestion-answer muted", s.answer.length > 220 ? s.answer.slice(0, 220) + "…" : s.answer));
      var button = el("button", "btn btn-small", box.getAttribute("data-label-insert"));
      button.type = "button";
      button.setAttribute("data-testid", "suggestion-insert");
      button.addEventListener("click", function () {
        insert(s);
      });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function load() {
    fetch("/api/v1/conversations/" + encodeURIComponent(conversation) + "/suggestions", {
      credentials: "same-origin",
    })
      .then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then(function (data) {
        lastMessage = data.message_id;
        show(data);
      })
      .catch(function () {
        while (list.firstChild) list.removeChild(list.firstChild);
        empty.hidden = false;
        empty.textContent = box.getAttribute("data-label-error");
      });
  }

  function latestCustomerMessage() {
    var nodes = document.querySelectorAll('[data-testid="messages"] [data-direction="in"]');
    return nodes.length ? nodes[nodes.length - 1].getAttribute("data-id") : null;
  }

  var thread = document.querySelector('[data-testid="messages"]');
  if (thread && window.MutationObserver) {
    new MutationObserver(function () {
      var latest = latestCustomerMessage();
      if (latest && String(latest) !== String(lastMessage)) {
        clearTimeout(timer);
        timer = setTimeout(load, 150);
      }
    }).observe(thread, { childList: true, subtree: true });
  }
  load();
})();
