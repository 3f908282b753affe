/* Canned-response picker in the reply box: typing "/" followed by a shortcut lists matching
 * responses (mine and my teams'); choosing one puts the text, filled in for this conversation, into
 * the box. Arrow keys move, Enter or Tab picks, Escape closes. */
(function () {
  "use strict";

  var input = document.querySelector("[data-testid='reply-input']");
  var card = document.querySelector("[data-testid='customer-360']");
  if (!input || !card) return;
  var conversationId = card.getAttribute("data-conversation-id");
  var menu = document.createElement("ul");
  menu.className = "canned-menu";
  menu.setAttribute("data-testid", "canned-menu");
  menu.hidden = true;
  input.parentNode.insertBefore(menu, input.nextSibling);
  var items = [];
  var active = 0;
  var pending = 0;

  function get(path) {
    return fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function close() { menu.hidden = true; items = []; }

  function draw() {
    menu.textContent = "";
    items.forEach(function (item, index) {
      var li = document.createElement("li");
      li.setAttribute("data-testid", "canned-item");
      if (index === active) li.className = "active";
      var name = document.createElement("span");
      name.className = "shortcut";
      name.textContent = "/" + item.shortcut;
      var text = document.createElement("span");
      text.textContent = item.title || item.text.slice(0, 60);
      li.appendChild(name);
      li.appendChild(text);
      li.addEventListener("mousedown", function (event) { event.preventDefault(); pick(item); });
      menu.appendChild(li);
    });
    menu.hidden = items.length === 0;
  }

  function pick(item) {
    close();
    get("/api/v1/canned-responses/" + item.id + "/render?conversation_id=" + encodeURIComponent(conversationId))
      .then(function (rendered) {
        input.value = rendered.text;
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.focus();
      })
      .catch(function () {});
  }

  input.addEventListener("input", function () {
    var match = /^\/([a-z0-9_-]{0,64})$/.exec(input.value);
    if (!match) { close(); return; }
    var ticket = ++pending;
    get("/api/v1/canned-responses?prefix=" + encodeURIComponent(match[1])).then(function (found) {
      if (ticket !== pending) return;
      items = found.canned_responses.slice(0, 10);
      active = 0;
      draw();
    }).catch(close);
  });

  // Capture phase: the console's own Enter-to-send handler must not fire while the menu is open.
  input.addEventListener("keydown", function (event) {
    if (menu.hidden || !items.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      active = (active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      draw();
    } else if (event.key === "Enter" || event.key === "Tab") {
      pick(items[active]);
    } else if (event.key === "Escape") {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  }, true);

  input.addEventListener("blur", function () { setTimeout(close, 150); });
})();
