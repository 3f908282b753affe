// SLA countdown badges: every element with data-sla-due shows the time left (or overdue) and turns
// red when the deadline passes. Rendered by _sla_badge.html, or by console.js for rows and
// states that arrive live (it calls LinesSla.tick() so a new badge shows its time at once).
(function () {
  "use strict";

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function format(ms) {
    var sign = ms < 0 ? "\u2212" : "";
    var total = Math.floor(Math.abs(ms) / 1000);
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var seconds = total % 60;
    return sign + hours + ":" + pad(minutes) + ":" + pad(seconds);
  }

  function tick() {
    var now = Date.now();
    var badges = document.querySelectorAll("[data-sla-due]");
    for (var i = 0; i < badges.length; i++) {
      var badge = badges[i];
      var due = Date.parse(badge.getAttribute("data-sla-due"));
      if (isNaN(due)) continue;
      var left = due - now;
      badge.textContent = format(left);
      if (left < 0 && badge.getAttribute("data-sla-state") !== "breached") {
        badge.classList.remove("sla-ok", "sla-warning");
        badge.classList.add("sla-breached");
        badge.setAttribute("data-sla-state", "breached");
      }
    }
  }

  window.LinesSla = { tick: tick };

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
  });
})();
