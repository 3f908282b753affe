// SMS segment counter for the reply box of SMS conversations. Mirrors channels/sms/segments.py:
// GSM-7 when every character is in the basic or extension table, else UCS-2; 160/153 septets or
// 70/67 UTF-16 units; extension characters take two septets; pairs are never split across parts.
// Both are checked against tests/channels/sms/segment_cases.json.
(function () {
  "use strict";
  var BASIC =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "\f^{}\\[~]|€";
  var SINGLE = { gsm7: 160, ucs2: 70 };
  var MULTI = { gsm7: 153, ucs2: 67 };

  function count(text) {
    var chars = Array.from(text || "");
    var gsm = chars.every(function (ch) {
      return BASIC.indexOf(ch) >= 0 || EXTENSION.indexOf(ch) >= 0;
    });
    var encoding = gsm ? "gsm7" : "ucs2";
    var sizes = chars.map(function (ch) {
      if (gsm) return EXTENSION.indexOf(ch) >= 0 ? 2 : 1;
      return ch.codePointAt(0) > 0xffff ? 2 : 1;
    });
    var units = sizes.reduce(function (a, b) {
      return a + b;
    }, 0);
    if (units === 0) return { encoding: encoding, units: 0, segments: 0, per_segment: SINGLE[encoding] };
    if (units <= SINGLE[encoding]) return { encoding: encoding, units: units, segments: 1, per_segment: SINGLE[encoding] };
    var limit = MULTI[encoding];
    var segments = 1;
    var used = 0;
    sizes.forEach(function (size) {
      if (used + size > limit) {
        segments += 1;
        used = 0;
      }
      used += size;
    });
    return { encoding: encoding, units: units, segments: segments, per_segment: limit, last_used: used };
  }

  function left(info) {
    if (info.segments === 0) return info.per_segment;
    if (info.segments === 1) return info.per_segment - info.units;
    return info.per_segment - info.last_used;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return String(values[key]);
    });
  }

  function wire() {
    var counter = document.querySelector("[data-testid=sms-segments]");
    var form = document.querySelector("[data-testid=composer]");
    if (!counter || !form) return;
    var input = form.querySelector("textarea[name=text]");
    var max = parseInt(counter.getAttribute("data-max"), 10) || 1;
    function update() {
      var info = count(input.value);
      var values = {
        segments: info.segments,
        max: max,
        encoding: info.encoding === "gsm7" ? "GSM-7" : "UCS-2",
        left: left(info),
      };
      var over = info.segments > max;
      counter.textContent = fill(counter.getAttribute(over ? "data-text-over" : "data-text-count"), values);
      counter.classList.toggle("over", over);
      counter.setAttribute("data-segments", String(info.segments));
      counter.setAttribute("data-encoding", info.encoding);
    }
    input.addEventListener("input", update);
    form.addEventListener("submit", function () {
      setTimeout(update, 0);
    });
    update();
  }

  window.LinesSmsSegments = { count: count };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
