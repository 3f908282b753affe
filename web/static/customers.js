/* Customer 360 card beside a conversation: tags, attributes, touchpoints and notes from the
 * contacts API. Customer data goes into the page with textContent only, never innerHTML. */
(function () {
  "use strict";

  var card = document.querySelector("[data-testid='customer-360']");
  var api = window.LinesApi;  // console.js, loaded first: one CSRF header and error handling
  if (!card || !api) return;
  var contactId = card.getAttribute("data-contact-id");

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function fill(list, items, render) {
    list.textContent = "";
    if (!items.length) {
      list.appendChild(el(list.tagName === "DL" ? "dd" : "li", card.getAttribute("data-label-empty"), "muted"));
      return;
    }
    items.forEach(function (item) { render(list, item); });
  }

  function show(contact) {
    fill(card.querySelector("[data-testid='c360-tags']"), contact.tags, function (list, tag) {
      list.appendChild(el("li", tag));
    });
    var attributes = Object.keys(contact.attributes).sort().map(function (key) { return [key, contact.attributes[key]]; });
    fill(card.querySelector("[data-testid='c360-attributes']"), attributes, function (list, pair) {
      list.appendChild(el("dt", pair[0]));
      list.appendChild(el("dd", String(pair[1])));
    });
    fill(card.querySelector("[data-testid='c360-touchpoints']"), contact.touchpoints, function (list, point) {
      var item = el("li");
      var link = el("a", point.touchpoint);
      link.href = "/conversations/" + point.conversation_id;
      item.appendChild(link);
      item.appendChild(el("span", " " + (point.created_at || "").slice(0, 10), "muted"));
      list.appendChild(item);
    });
    showActions("c360-duplicates", contact.duplicates, function (dup) {
      var brief = dup.contact;
      return [[brief.name || "#" + brief.id, [brief.email, brief.phone].filter(Boolean).join(" · ")],
        card.getAttribute("data-label-merge"), "merge", function () {
          return api("POST", "/api/v1/contacts/" + encodeURIComponent(contactId) + "/merge", { other_id: brief.id });
        }];
    });
    showActions("c360-merges", contact.merges, function (merge) {
      return [[card.getAttribute("data-label-merged").replace("{id}", merge.merged_id), ""],
        card.getAttribute("data-label-undo"), "unmerge", function () {
          return api("POST", "/api/v1/contacts/" + encodeURIComponent(contactId) + "/unmerge", { merge_id: merge.id });
        }];
    });
    fill(card.querySelector("[data-testid='c360-notes']"), contact.notes, function (list, note) {
      list.appendChild(el("li", note.text));
    });
  }

  // A list of rows with one button each (merge a duplicate, undo a merge); the box hides when empty.
  function showActions(testid, items, describe) {
    var box = card.querySelector("[data-testid='" + testid + "-box']");
    var list = card.querySelector("[data-testid='" + testid + "']");
    list.textContent = "";
    box.hidden = !items.length;
    items.forEach(function (item) {
      var parts = describe(item);
      var row = el("li");
      row.appendChild(el("span", parts[0][0]));
      if (parts[0][1]) row.appendChild(el("span", " " + parts[0][1], "muted"));
      var button = el("button", parts[1], "btn btn-small");
      button.type = "button";
      button.setAttribute("data-testid", "c360-" + parts[2]);
      button.addEventListener("click", function () {
        button.disabled = true;
        parts[3]().then(function () { window.location.reload(); }).catch(function () {
          button.disabled = false;
          button.textContent = card.getAttribute("data-label-failed");
        });
      });
      row.appendChild(button);
      list.appendChild(row);
    });
  }

  function load() {
    api("GET", "/api/v1/contacts/" + encodeURIComponent(contactId)).then(show).catch(function () {});
  }

  var form = card.querySelector("[data-testid='c360-note-form']");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var input = form.querySelector("textarea");
    var text = input.value.trim();
    if (!text) return;
    api("POST", "/api/v1/contacts/" + encodeURIComponent(contactId) + "/notes", { text: text })
      .then(function () { input.value = ""; load(); })
      .catch(function () { input.setCustomValidity(card.getAttribute("data-label-failed")); input.reportValidity(); });
  });

  // console.js says when a merge or unmerge changed this conversation's customer (live events).
  document.addEventListener("lines:contact", function (event) {
    var detail = event.detail || {};
    if (detail.contact_id) {
      contactId = String(detail.contact_id);
      card.setAttribute("data-contact-id", contactId);
    }
    load();
  });

  load();
})();
