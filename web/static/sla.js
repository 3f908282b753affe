// SLA countdown badges: every element with data-sla-due shows the time left (or overdue) in words and turns
// red when the deadline passes. Rendered by _sla_badge.html, or by console.js for rows and
// states that arrive live (it calls LinesSla.tick() so a new badge shows its time at once).
(function () {
  "use strict";

  // The same words and rules as console/countdown.py (checked against tests/sla_words_cases.json).
  var WORDS = {
    en: { due: "due in {}", overdue: "overdue {}", d: "d", h: "h", m: "m" },
    ru: { due: "через {}", overdue: "просрочено на {}", d: "д", h: "ч", m: "мин" }
  };

  function words(ms, lang) {
    var w = WORDS[lang] || WORDS.en;
    var total = Math.max(1, Math.floor(Math.abs(ms) / 60000));
    var days = Math.floor(total / 1440), hours = Math.floor((total % 1440) / 60), minutes = total % 60;
    var units = days ? [[days, "d"], [hours, "h"]] : hours ? [[hours, "h"], [minutes, "m"]] : [[minutes, "m"]];
    var amount = units.filter(function (u) { return u[0]; }).map(function (u) { return u[0] + " " + w[u[1]]; }).join(" ");
    return w[ms >= 0 ? "due" : "overdue"].replace("{}", amount);
  }

  function tick() {
    var now = Date.now();
    var badges = document.querySelectorAll("[data-sla-due]");
    for (var i = 0; i < badges.length; i++) {
      var badge = badges[i];
      var due = Date.parse(badge.getAttribute("data-sla-due"));
      if (isNaN(due)) continue;
      var left = due - now;
      var text = words(left, document.documentElement.lang);
      if (badge.textContent !== text) badge.textContent = text;
      if (left < 0 && badge.getAttribute("data-sla-state") !== "breached") {
        badge.classList.remove("sla-ok", "sla-warning");
        badge.classList.add("sla-breached");
        badge.setAttribute("data-sla-state", "breached");
      }
    }
  }

  window.LinesSla = { tick: tick, words: words };

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
  });
})();
