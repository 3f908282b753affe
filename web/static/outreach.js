/* "New conversation" on the inbox page: lists the channels the operator may write first on
   (GET /outreach/channels), posts to POST /api/v1/conversations and opens the new conversation.
   API error codes become field errors in the page's language (the texts are on the dialog). */
(function () {
  "use strict";
  var FIELD_OF = {
    invalid_recipient: "to",
    customer_of_another_team: "to",
    not_in_team: "channel",
    unknown_channel: "channel",
    empty_text: "text"
  };

  function csrf() {
    var node = document.getElementById("lines-data");
    try { return (JSON.parse(node.textContent) || {}).csrf || ""; } catch (e) { return ""; }
  }

  function init() {
    var button = document.querySelector(".outreach-open");
    var dialog = document.querySelector("dialog.outreach");
    if (!button || !dialog) return;
    var form = dialog.querySelector("form");
    var select = form.elements.channel;

    function showError(field, text) {
      var slot = form.querySelector('[data-error-for="' + field + '"]');
      if (slot) slot.textContent = text;
      var input = form.elements[field];
      if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
    }

    function clearErrors() {
      form.querySelectorAll("[data-error-for]").forEach(function (slot) { slot.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    }

    function errorText(code) {
      return dialog.getAttribute("data-error-" + code) || dialog.getAttribute("data-error-other");
    }

    fetch("/outreach/channels", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { channels: [] }; })
      .then(function (payload) {
        payload.channels.forEach(function (c) {
          var option = document.createElement("option");
          option.value = c.channel + "/" + c.inbox;
          option.textContent = c.channel + " · " + c.inbox + (c.team ? " (" + c.team + ")" : "");
          option.setAttribute("data-testid", "outreach-option");
          select.appendChild(option);
        });
        button.hidden = payload.channels.length === 0;
      })
      .catch(function () { button.hidden = true; });

    button.addEventListener("click", function () {
      clearErrors();
      dialog.showModal();
      form.elements.to.focus();
    });
    form.querySelector('[data-action="cancel"]').addEventListener("click", function () { dialog.close(); });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors();
      var text = form.elements.text.value.trim();
      var to = form.elements.to.value.trim();
      if (!to) { showError("to", errorText("invalid_recipient")); return; }
      if (!text) { showError("text", errorText("empty_text")); return; }
      var parts = select.value.split("/");
      var submit = form.querySelector('[type="submit"]');
      submit.disabled = true;
      fetch("/api/v1/conversations", {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ channel: parts[0], inbox: parts.slice(1).join("/"), to: to, text: text })
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (payload) {
          if (response.ok) {
            location.assign("/conversations/" + encodeURIComponent(payload.conversation.id));
            return;
          }
          var code = (payload && payload.error && payload.error.code) || "other";
          showError(FIELD_OF[code] || "form", errorText(code));
          submit.disabled = false;
        });
      }).catch(function () {
        showError("form", errorText("other"));
        submit.disabled = false;
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
