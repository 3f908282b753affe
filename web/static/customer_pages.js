/* The customers part's pages: editing a customer (its page and the card beside a conversation),
 * the duplicates queue, follow-ups and canned responses. Every change is a call to the API through
 * console.js's LinesApi; a refused field shows the reason beside it. Text goes in with textContent only.
 * Translated strings come from data-label-* attributes of the page's templates. */
(function () {
  "use strict";

  var api = window.LinesApi;
  if (!api) return;

  function label(node, name) {
    var holder = node.closest("[data-label-" + name + "]");
    return holder ? holder.getAttribute("data-label-" + name) : "";
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-field-error]").forEach(function (node) { node.hidden = true; node.textContent = ""; });
  }

  // The API names the field first: "email: String should match pattern …"; `explain` maps a field to
  // the page's own wording, else the API's message is shown as it is.
  function showError(form, error, explain) {
    var message = (error && error.message) || "";
    var match = /^([a-z_][a-z0-9_.]*): (.*)$/.exec(message.split("; ")[0]);
    var field = match ? match[1] : "";
    var target = form.querySelector("[data-field-error='" + field + "']") || form.querySelector("[data-field-error='']");
    if (!target) return;
    target.textContent = (explain && explain(field, error)) || (match ? match[2] : message) || label(form, "failed");
    target.hidden = false;
    var input = form.querySelector("[name='" + field + "'], [data-attribute='" + field.replace(/^attributes\./, "") + "']");
    if (input) input.focus();
  }

  // ---- customer fields ------------------------------------------------------------------------
  document.querySelectorAll("[data-testid='contact-edit']").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(form);
      var body = {
        name: form.elements.name.value.trim(),
        email: form.elements.email.value.trim() || null,
        phone: form.elements.phone.value.trim() || null,
        tags: form.elements.tags.value.split(",").map(function (t) { return t.trim(); }).filter(Boolean)
      };
      var attributes = {};
      form.querySelectorAll("[data-attribute]").forEach(function (input) {
        var raw = input.value.trim();
        var value = raw === "" ? null : raw;
        if (value !== null && input.getAttribute("data-type") === "number") value = isNaN(Number(raw)) ? raw : Number(raw);
        attributes[input.getAttribute("data-attribute")] = value;
      });
      if (Object.keys(attributes).length) body.attributes = attributes;
      var saved = form.querySelector("[data-testid='contact-saved']");
      saved.hidden = true;
      api("PATCH", "/api/v1/contacts/" + encodeURIComponent(form.getAttribute("data-contact-id")), body)
        .then(function (contact) {
          saved.hidden = false;
          document.dispatchEvent(new CustomEvent("lines:contact", { detail: { contact_id: contact.id } }));
          var names = "[data-testid='customer-name'], [data-testid='conversation-contact'], [data-testid='contact-title']";
          document.querySelectorAll(names).forEach(function (node) { node.textContent = contact.name || "#" + contact.id; });
        })
        .catch(function (error) {
          showError(form, error, function (field) {
            return field === "email" || field === "phone" ? label(form, field) : "";
          });
        });
    });
  });

  // ---- duplicates queue -----------------------------------------------------------------------
  document.querySelectorAll("[data-testid='duplicate-pair']").forEach(function (row) {
    var kept = Number(row.getAttribute("data-kept-id"));
    var other = Number(row.getAttribute("data-other-id"));
    row.querySelectorAll("button[data-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        var merge = button.getAttribute("data-action") === "merge";
        row.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        var call = merge
          ? api("POST", "/api/v1/contacts/" + kept + "/merge", { other_id: other })
          : api("POST", "/api/v1/contacts/duplicates/dismissals", { contact_ids: [kept, other] });
        call.then(function () { row.remove(); }).catch(function (error) {
          row.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
          button.textContent = (error && error.message) || label(row, "failed");
        });
      });
    });
  });

  // ---- follow-ups -----------------------------------------------------------------------------
  document.querySelectorAll("[data-testid='followup'] button[data-action='done']").forEach(function (button) {
    var row = button.closest("[data-followup-id]");
    button.addEventListener("click", function () {
      button.disabled = true;
      api("POST", "/api/v1/follow-ups/" + row.getAttribute("data-followup-id") + "/done")
        .then(function () { row.remove(); })
        .catch(function () { button.disabled = false; button.textContent = label(row, "failed"); });
    });
  });

  var followUp = document.querySelector("[data-testid='followup-form']");
  if (followUp) {
    followUp.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(followUp);
      var added = followUp.querySelector("[data-testid='followup-added']");
      added.hidden = true;
      var due = new Date(Date.now() + Number(followUp.elements.days.value) * 86400000);
      var conversationId = followUp.getAttribute("data-conversation-id");
      api("POST", "/api/v1/conversations/" + encodeURIComponent(conversationId) + "/follow-ups", {
        due_at: due.toISOString(),
        note: followUp.elements.note.value.trim()
      }).then(function () {
        followUp.elements.note.value = "";
        added.hidden = false;
      }).catch(function (error) { showError(followUp, error); });
    });
  }

  // ---- canned responses -----------------------------------------------------------------------
  var canned = document.querySelector("[data-testid='canned']");
  if (canned) {
    var data = JSON.parse(document.getElementById("lines-data").textContent);
    var sample = data.cannedSample || {};
    var form = canned.querySelector("[data-testid='canned-form']");
    var preview = canned.querySelector("[data-testid='canned-preview']");
    // The same plain substitution the server does: {{name}} with optional spaces, an unknown one empty.
    var drawPreview = function () {
      preview.textContent = form.elements.text.value.replace(/\{\{\s*([a-z_][a-z0-9_.]*)\s*\}\}/g, function (_, name) {
        return Object.prototype.hasOwnProperty.call(sample, name) ? sample[name] : "";
      });
    };
    form.elements.text.addEventListener("input", drawPreview);
    drawPreview();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(form);
      var team = form.elements.team_id.value;
      var body = {
        shortcut: form.elements.shortcut.value.trim().replace(/^\//, ""),
        title: form.elements.title.value.trim(),
        text: form.elements.text.value
      };
      var editing = form.getAttribute("data-editing");
      if (team && !editing) body.team_id = Number(team);
      var call = editing
        ? api("PATCH", "/api/v1/canned-responses/" + encodeURIComponent(editing), body)
        : api("POST", "/api/v1/canned-responses", body);
      call
        .then(function () { window.location.reload(); })
        .catch(function (error) {
          if (error && error.code === "shortcut_exists") {
            showError(form, { message: "shortcut: " + label(canned, "exists") });
            return;
          }
          showError(form, error, function (field) {
            return field === "shortcut" || field === "text" ? label(canned, field) : "";
          });
        });
    });
    // Edit: the row's values go into the form, which then changes that response (its owner stays).
    canned.querySelectorAll("button[data-action='edit']").forEach(function (button) {
      var row = button.closest("[data-canned-id]");
      button.addEventListener("click", function () {
        clearErrors(form);
        form.setAttribute("data-editing", row.getAttribute("data-canned-id"));
        form.elements.shortcut.value = row.getAttribute("data-shortcut");
        form.elements.title.value = row.getAttribute("data-title");
        form.elements.text.value = row.getAttribute("data-text");
        form.elements.team_id.disabled = true;
        var title = canned.querySelector("[data-testid='canned-form-title']");
        title.textContent = title.getAttribute("data-label-edit");
        drawPreview();
        form.elements.text.focus();
      });
    });
    canned.querySelectorAll("button[data-action='delete']").forEach(function (button) {
      var row = button.closest("[data-canned-id]");
      button.addEventListener("click", function () {
        if (!window.confirm(label(canned, "delete"))) return;
        button.disabled = true;
        api("DELETE", "/api/v1/canned-responses/" + row.getAttribute("data-canned-id"))
          .then(function () { row.remove(); })
          .catch(function () { button.disabled = false; button.textContent = label(canned, "failed"); });
      });
    });
  }
})();
