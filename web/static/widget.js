/*
 * Lines web chat widget. One tag, no dependencies:
 *
 *   <script src="https://lines.example/webchat/widget.js" data-site-key="demo" async></script>
 *
 * Optional, before the tag: window.LinesChat = {identity: {id, name, email, hash}}, where `hash` is
 * HMAC-SHA256(site identity secret, id) in hex, computed by the site's own server.
 *
 * Protocol: docs/webchat.md. Everything from the network is
 * rendered with textContent, never as HTML. Messages typed while offline wait in localStorage with
 * their client_id until the server acknowledges them, so nothing is lost or stored twice.
 */
(function () {
  "use strict";

  var script = document.currentScript || findScript();
  if (!script || !script.src) return;
  var siteKey = script.getAttribute("data-site-key") || "";
  if (!siteKey) {
    console.warn("Lines chat: the script tag needs a data-site-key attribute");
    return;
  }
  var api = (window.LinesChat = window.LinesChat || {});
  if (api.__started) return;
  api.__started = true;

  var src = new URL(script.src, location.href);
  var base = src.origin + src.pathname.replace(/\/webchat\/widget\.js$/, "");
  var siteUrl = base + "/webchat/" + encodeURIComponent(siteKey);
  var wsUrl = siteUrl.replace(/^http/, "ws") + "/ws";
  var identity = validIdentity(api.identity);
  var threadKey = identity ? "u:" + identity.id : "anon";
  var STORE_KEY = "lines-chat:" + siteKey;
  var MAX_CACHED = 100;
  var TYPING_SEND_MS = 2000;
  var TYPING_SHOW_MS = 5000;
  var CLIP = "M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9";

  var lang = (script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "en")
    .slice(0, 2)
    .toLowerCase();
  var TEXT = {
    en: {
      open: "Open chat",
      close: "Close chat",
      message: "Message",
      placeholder: "Write a message…",
      send: "Send",
      attach: "Attach a file",
      online: "Online",
      away: "Away",
      connecting: "Connecting…",
      offline: "Offline — your messages will be sent when the connection is back",
      typing: "typing…",
      you: "You",
      tooLong: "The message is too long.",
      signIn: "Please sign in on the site to chat with us.",
      notSent: "The message could not be sent.",
      busy: "The chat is busy right now. Please try again later.",
      uploadTooLarge: "The file is too large.",
      uploadType: "This type of file is not accepted.",
      uploadFailed: "The file could not be sent.",
      uploading: "sending…",
      failed: "not sent",
      pending: "waiting for connection",
      title: "Chat with us",
    },
    ru: {
      open: "Открыть чат",
      close: "Закрыть чат",
      message: "Сообщение",
      placeholder: "Напишите сообщение…",
      send: "Отправить",
      attach: "Прикрепить файл",
      online: "На связи",
      away: "Нет на месте",
      connecting: "Подключение…",
      offline: "Нет связи — сообщения отправятся, когда связь восстановится",
      typing: "печатает…",
      you: "Вы",
      tooLong: "Сообщение слишком длинное.",
      signIn: "Войдите на сайте, чтобы написать нам.",
      notSent: "Сообщение не отправлено.",
      busy: "Чат сейчас перегружен. Попробуйте позже.",
      uploadTooLarge: "Файл слишком большой.",
      uploadType: "Такие файлы не принимаются.",
      uploadFailed: "Файл не отправлен.",
      uploading: "отправка…",
      failed: "не отправлено",
      pending: "ждёт связи",
      title: "Напишите нам",
    },
  };
  var t = TEXT[lang] || TEXT.en;

  var config = {
    title: "",
    welcome: "",
    max_message_chars: 4000,
    max_upload_bytes: 10485760,
    attachment_types: [],
  };

  // Public state for the page and for browser tests: one object, updated in place.
  var state = (api.state = {
    connected: false,
    operators: true,
    open: false,
    unread: 0,
    conversation: null,
    queued: 0,
    identity: identity ? "pending" : null,
  });

  // ---------------------------------------------------------------- storage
  var memoryStore = null;

  function readStore() {
    var raw = null;
    try {
      raw = window.localStorage.getItem(STORE_KEY);
    } catch (e) {
      raw = memoryStore;
    }
    var data = null;
    try {
      data = raw ? JSON.parse(raw) : null;
    } catch (e) {
      data = null;
    }
    if (!data || typeof data !== "object") data = {};
    if (!data.threads || typeof data.threads !== "object") data.threads = {};
    var th = data.threads[threadKey];
    if (!th || typeof th !== "object") th = data.threads[threadKey] = {};
    if (!Array.isArray(th.messages)) th.messages = [];
    if (!Array.isArray(th.queue)) th.queue = [];
    if (typeof th.last_seen !== "number") th.last_seen = null;
    return data;
  }

  function writeStore(data) {
    var raw = JSON.stringify(data);
    try {
      window.localStorage.setItem(STORE_KEY, raw);
    } catch (e) {
      memoryStore = raw;
    }
  }

  // Read-modify-write: another tab of the same site may have changed the store meanwhile.
  function update(change) {
    var data = readStore();
    var result = change(data, data.threads[threadKey]);
    writeStore(data);
    state.queued = data.threads[threadKey].queue.length;
    return result;
  }

  function thread() {
    return readStore().threads[threadKey];
  }

  // ---------------------------------------------------------------- helpers
  function findScript() {
    var list = document.querySelectorAll("script[data-site-key]");
    for (var i = 0; i < list.length; i++) {
      if (/\/webchat\/widget\.js(\?|#|$)/.test(list[i].src)) return list[i];
    }
    return null;
  }

  function validIdentity(raw) {
    if (!raw || typeof raw !== "object") return null;
    var id = raw.id;
    if (typeof id === "number") id = String(id);
    if (typeof id !== "string" || !id) return null;
    var out = { id: id, hash: typeof raw.hash === "string" ? raw.hash : "" };
    if (typeof raw.name === "string") out.name = raw.name.slice(0, 200);
    if (typeof raw.email === "string") out.email = raw.email.slice(0, 254);
    return out;
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    // randomUUID needs a secure context; getRandomValues does not.
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = [];
    for (var i = 0; i < 16; i++) h.push((b[i] + 0x100).toString(16).slice(1));
    return (
      h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") + "-" +
      h.slice(8, 10).join("") + "-" + h.slice(10, 16).join("")
    );
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (Object.prototype.hasOwnProperty.call(attrs, k) && attrs[k] !== null && attrs[k] !== undefined) {
          node.setAttribute(k, String(attrs[k]));
        }
      }
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(paths) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    for (var i = 0; i < paths.length; i++) {
      var p = document.createElementNS(ns, "path");
      p.setAttribute("d", paths[i]);
      svg.appendChild(p);
    }
    return svg;
  }

  function timeOf(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (isNaN(d.getTime())) return "";
    try {
      return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    } catch (e) {
      return d.toTimeString().slice(0, 5);
    }
  }

  function pageInfo() {
    var utm = {};
    var count = 0;
    try {
      new URL(location.href).searchParams.forEach(function (value, key) {
        if (/^utm_[a-z0-9_]{1,30}$/.test(key) && value && count < 10) {
          utm[key] = value.slice(0, 500);
          count++;
        }
      });
    } catch (e) {
      utm = {};
    }
    // The touchpoint is where the visit began: keep the landing referrer and UTM tags for the session.
    var landing = null;
    try {
      landing = JSON.parse(window.sessionStorage.getItem(STORE_KEY + ":landing") || "null");
      if (!landing) {
        landing = { referrer: document.referrer || "", utm: utm };
        window.sessionStorage.setItem(STORE_KEY + ":landing", JSON.stringify(landing));
      }
    } catch (e) {
      landing = { referrer: document.referrer || "", utm: utm };
    }
    return {
      url: location.href.slice(0, 2000),
      referrer: String(landing.referrer || document.referrer || "").slice(0, 2000),
      utm: count ? utm : landing.utm && typeof landing.utm === "object" ? landing.utm : {},
    };
  }

  // ---------------------------------------------------------------- view
  var ui = {};

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".lc{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2330}",
    ".launcher{position:fixed;right:20px;bottom:20px;width:58px;height:58px;border-radius:50%;border:0;",
    "background:#4f46e5;color:#fff;cursor:pointer;box-shadow:0 8px 24px rgba(40,40,90,.3);display:flex;",
    "align-items:center;justify-content:center;transition:transform .15s ease;z-index:2147483000}",
    ".launcher:hover{transform:scale(1.06)}",
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible{outline:3px solid #a5b4fc;outline-offset:2px}",
    ".launcher svg{width:28px;height:28px;fill:none;stroke:#fff;stroke-width:2;stroke-linecap:round;",
    "stroke-linejoin:round}",
    ".badge{position:absolute;top:-2px;right:-2px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;",
    "background:#ef4444;color:#fff;font:600 12px/22px system-ui,sans-serif;text-align:center;border:2px solid #fff}",
    ".badge[hidden],.typing[hidden],.notice[hidden],.panel[hidden]{display:none}",
    ".panel{position:fixed;right:20px;bottom:90px;width:370px;max-width:calc(100vw - 24px);height:560px;",
    "max-height:calc(100vh - 110px);background:#fff;border-radius:16px;box-shadow:0 16px 48px rgba(20,20,60,.25);",
    "display:flex;flex-direction:column;overflow:hidden;z-index:2147483000}",
    "@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;",
    "border-radius:0}}",
    ".head{background:linear-gradient(135deg,#4f46e5,#7c3aed);color:#fff;padding:14px 16px;display:flex;",
    "align-items:center;gap:10px}",
    ".head .titles{flex:1;min-width:0}",
    ".title{font-weight:650;font-size:16px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".status{font-size:12px;opacity:.9;display:flex;align-items:center;gap:6px}",
    ".dot{width:8px;height:8px;border-radius:50%;background:#fbbf24}",
    ".status[data-connected='true'] .dot{background:#34d399}",
    ".status[data-connected='true'][data-operators='away'] .dot{background:#fbbf24}",
    ".close{background:transparent;border:0;color:#fff;cursor:pointer;width:32px;height:32px;border-radius:8px;",
    "display:flex;align-items:center;justify-content:center}",
    ".close:hover{background:rgba(255,255,255,.15)}",
    ".close svg{width:20px;height:20px;fill:none;stroke:#fff;stroke-width:2;stroke-linecap:round}",
    ".list{flex:1;overflow-y:auto;padding:16px;display:flex;flex-direction:column;gap:8px;background:#f6f7fb}",
    ".msg{max-width:82%;padding:8px 12px;border-radius:14px;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.06);",
    "align-self:flex-start;word-wrap:break-word;overflow-wrap:anywhere}",
    ".msg .who{font-size:12px;font-weight:600;color:#4f46e5;margin-bottom:2px}",
    ".msg .text{white-space:pre-wrap}",
    ".msg .meta{font-size:11px;color:#8a8fa3;margin-top:3px;text-align:right}",
    ".msg[data-author='contact']{align-self:flex-end;background:#4f46e5;color:#fff}",
    ".msg[data-author='contact'] .meta{color:#c7c9f9}",
    ".msg[data-author='bot'] .who{color:#0f766e}",
    ".msg[data-status='pending']{opacity:.7}",
    ".msg[data-status='failed']{background:#fee2e2;color:#7f1d1d}",
    ".msg[data-status='failed'] .meta{color:#b91c1c}",
    ".msg .file{font-weight:600;display:flex;align-items:center;gap:6px}",
    ".msg .file svg{width:16px;height:16px;flex:none;fill:none;stroke:currentColor;stroke-width:2;",
    "stroke-linecap:round;stroke-linejoin:round}",
    ".welcome{align-self:flex-start;background:#eef0ff;color:#312e81;padding:10px 12px;border-radius:14px;",
    "max-width:90%;white-space:pre-wrap}",
    ".typing{padding:0 16px 6px;font-size:12px;color:#6b7080;background:#f6f7fb}",
    ".notice{margin:0 12px 8px;padding:8px 10px;border-radius:10px;background:#fff7ed;color:#9a3412;font-size:13px}",
    ".compose{display:flex;align-items:flex-end;gap:8px;padding:10px;border-top:1px solid #e6e8f0;background:#fff}",
    ".compose textarea{flex:1;resize:none;border:1px solid #d6d9e6;border-radius:12px;padding:9px 12px;",
    "font:inherit;min-height:40px;max-height:120px;color:#1f2330;background:#fff}",
    ".compose textarea:focus{border-color:#818cf8;outline:none}",
    ".iconbtn{flex:none;width:40px;height:40px;border-radius:12px;border:0;cursor:pointer;display:flex;",
    "align-items:center;justify-content:center}",
    ".iconbtn svg{width:20px;height:20px;fill:none;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}",
    ".attach{background:#eef0ff}.attach svg{stroke:#4f46e5}",
    ".send{background:#4f46e5}.send svg{stroke:#fff}",
    ".send:disabled{background:#c7c9f9;cursor:default}",
    ".hiddenfile{display:none}",
    ".buttons{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}",
    ".buttons button{border:1px solid #4f46e5;background:#fff;color:#4f46e5;border-radius:999px;padding:5px 12px;",
    "font:inherit;font-size:13px;cursor:pointer}",
    ".buttons button:hover{background:#eef0ff}.buttons button:disabled{opacity:.5;cursor:default}",
  ].join("");

  function build() {
    var host = el("div", { "data-lines-chat": siteKey });
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    // A constructed stylesheet is not inline style for CSP, so the widget works on pages whose
    // policy is `style-src 'self'` (our /demo, shops with a strict policy); <style> is the fallback.
    if (host.attachShadow && "adoptedStyleSheets" in root && typeof CSSStyleSheet.prototype.replaceSync === "function") {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      var style = el("style");
      style.textContent = CSS;
      root.appendChild(style);
    }
    var wrap = el("div", { class: "lc" });
    root.appendChild(wrap);

    ui.launcher = el("button", { class: "launcher", type: "button", "data-testid": "launcher", "aria-label": t.open });
    ui.launcher.appendChild(icon(["M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"]));
    ui.badge = el("span", { class: "badge", "data-testid": "unread", hidden: "" }, "0");
    ui.launcher.appendChild(ui.badge);

    ui.panel = el("div", { class: "panel", role: "dialog", "data-testid": "window", hidden: "" });
    var head = el("div", { class: "head" });
    var titles = el("div", { class: "titles" });
    ui.title = el("div", { class: "title", "data-testid": "title" }, config.title || t.title);
    ui.status = el("div", { class: "status", "data-testid": "status", "data-connected": "false" });
    ui.status.appendChild(el("span", { class: "dot" }));
    ui.statusText = el("span", null, t.connecting);
    ui.status.appendChild(ui.statusText);
    titles.appendChild(ui.title);
    titles.appendChild(ui.status);
    ui.close = el("button", { class: "close", type: "button", "data-testid": "close", "aria-label": t.close });
    ui.close.appendChild(icon(["M6 6l12 12", "M18 6L6 18"]));
    head.appendChild(titles);
    head.appendChild(ui.close);

    ui.list = el("div", { class: "list", "data-testid": "messages", role: "log", "aria-live": "polite" });
    ui.welcome = el("div", { class: "welcome", "data-testid": "welcome", hidden: "" });
    ui.list.appendChild(ui.welcome);
    ui.typing = el("div", { class: "typing", "data-testid": "typing", hidden: "", "aria-live": "polite" }, t.typing);
    ui.notice = el("div", { class: "notice", "data-testid": "notice", hidden: "", role: "status" });

    var compose = el("div", { class: "compose" });
    ui.file = el("input", { type: "file", class: "hiddenfile", "data-testid": "file-input", tabindex: "-1" });
    ui.attach = el("button", { class: "iconbtn attach", type: "button", "data-testid": "attach", "aria-label": t.attach });
    ui.attach.appendChild(icon([CLIP]));
    ui.input = el("textarea", {
      rows: "1",
      "data-testid": "input",
      "aria-label": t.message,
      placeholder: t.placeholder,
      maxlength: String(config.max_message_chars),
    });
    ui.send = el("button", { class: "iconbtn send", type: "button", "data-testid": "send", "aria-label": t.send });
    ui.send.appendChild(icon(["M4 12l16-8-6 16-2.5-6.5z", "M11.5 13.5L20 4"]));
    compose.appendChild(ui.file);
    compose.appendChild(ui.attach);
    compose.appendChild(ui.input);
    compose.appendChild(ui.send);

    ui.panel.appendChild(head);
    ui.panel.appendChild(ui.list);
    ui.panel.appendChild(ui.typing);
    ui.panel.appendChild(ui.notice);
    ui.panel.appendChild(compose);
    wrap.appendChild(ui.panel);
    wrap.appendChild(ui.launcher);
    document.body.appendChild(host);

    ui.launcher.addEventListener("click", function () {
      setOpen(!state.open);
    });
    ui.close.addEventListener("click", function () {
      setOpen(false);
    });
    ui.send.addEventListener("click", submit);
    ui.input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        submit();
      }
    });
    ui.input.addEventListener("input", function () {
      autosize();
      sendTyping();
    });
    ui.attach.addEventListener("click", function () {
      ui.file.click();
    });
    ui.file.addEventListener("change", function () {
      var files = ui.file.files;
      for (var i = 0; files && i < files.length; i++) uploadFile(files[i]);
      ui.file.value = "";
    });
  }

  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight + 2, 120) + "px";
  }

  function applyConfig() {
    ui.title.textContent = config.title || t.title;
    ui.panel.setAttribute("aria-label", config.title || t.title);
    ui.welcome.textContent = config.welcome || "";
    if (config.welcome) ui.welcome.removeAttribute("hidden");
    else ui.welcome.setAttribute("hidden", "");
    ui.input.setAttribute("maxlength", String(config.max_message_chars));
    if (config.attachment_types && config.attachment_types.length) {
      ui.file.setAttribute("accept", config.attachment_types.join(","));
    }
  }

  function setOpen(open) {
    state.open = !!open;
    if (state.open) {
      ui.panel.removeAttribute("hidden");
      ui.launcher.setAttribute("aria-label", t.close);
      setUnread(0);
      scrollDown();
      ui.input.focus();
    } else {
      ui.panel.setAttribute("hidden", "");
      ui.launcher.setAttribute("aria-label", t.open);
    }
    update(function (data) {
      data.open = state.open;
    });
  }

  function setUnread(n) {
    state.unread = n;
    ui.badge.textContent = n > 99 ? "99+" : String(n);
    if (n > 0) ui.badge.removeAttribute("hidden");
    else ui.badge.setAttribute("hidden", "");
  }

  function setConnected(connected) {
    state.connected = connected;
    ui.status.setAttribute("data-connected", connected ? "true" : "false");
    ui.status.setAttribute("data-operators", state.operators ? "online" : "away");
    ui.statusText.textContent = connected
      ? state.operators
        ? t.online
        : t.away
      : navigator.onLine === false
        ? t.offline
        : t.connecting;
  }

  var noticeTimer = null;
  function notice(text) {
    ui.notice.textContent = text;
    ui.notice.removeAttribute("hidden");
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () {
      ui.notice.setAttribute("hidden", "");
    }, 8000);
  }

  function scrollDown() {
    ui.list.scrollTop = ui.list.scrollHeight;
  }

  // Buttons of a bot message (`{"id","label"}` strings only); a press is the `button` frame.
  var pressed = {};

  function validButtons(raw) {
    if (!Array.isArray(raw)) return [];
    return raw.filter(function (b) {
      return b && typeof b.id === "string" && typeof b.label === "string";
    });
  }

  function buttonsNode(m) {
    var box = el("div", { class: "buttons", "data-testid": "buttons" });
    m.buttons.forEach(function (b) {
      var button = el("button", { type: "button", "data-testid": "button", "data-button": b.id }, b.label);
      button.addEventListener("click", function () {
        if (!sendFrame({ type: "button", message_id: m.id, button: b.id })) return;
        pressed[m.id + ":" + b.id] = b.label;
        var all = box.querySelectorAll("button");
        for (var i = 0; i < all.length; i++) all[i].disabled = true;
      });
      box.appendChild(button);
    });
    return box;
  }

  function messageNode(m, status, last) {
    var author = m.author === "operator" || m.author === "bot" ? m.author : "contact";
    var node = el("div", {
      class: "msg",
      "data-testid": "message",
      "data-author": author,
      "data-id": typeof m.id === "number" ? m.id : null,
      "data-client-id": m.client_id || null,
      "data-status": status || "sent",
    });
    if (author !== "contact" && m.name) node.appendChild(el("div", { class: "who" }, m.name));
    var files = Array.isArray(m.attachments) ? m.attachments : [];
    if (files.length) {
      for (var i = 0; i < files.length; i++) {
        var line = el("div", { class: "text file", "data-testid": "message-text" });
        line.appendChild(icon([CLIP]));
        line.appendChild(document.createTextNode(files[i].filename));
        node.appendChild(line);
      }
    } else {
      node.appendChild(el("div", { class: "text", "data-testid": "message-text" }, m.text || ""));
    }
    if (last && author !== "contact" && m.buttons && m.buttons.length) node.appendChild(buttonsNode(m));
    var meta = timeOf(m.at);
    if (status === "pending") meta = t.pending;
    if (status === "uploading") meta = t.uploading;
    if (status === "failed") meta = t.failed;
    node.appendChild(el("div", { class: "meta" }, meta));
    return node;
  }

  // Transient items (uploads in flight, refused messages) live only in the page.
  var transient = [];

  function render() {
    var th = thread();
    var atBottom = ui.list.scrollHeight - ui.list.scrollTop - ui.list.clientHeight < 40;
    while (ui.list.lastChild && ui.list.lastChild !== ui.welcome) ui.list.removeChild(ui.list.lastChild);
    var i;
    for (i = 0; i < th.messages.length; i++) {
      var last = i === th.messages.length - 1 && !th.queue.length;
      ui.list.appendChild(messageNode(th.messages[i], null, last));
    }
    for (i = 0; i < th.queue.length; i++) {
      var q = th.queue[i];
      ui.list.appendChild(messageNode({ author: "contact", text: q.text, at: q.at, client_id: q.client_id }, "pending"));
    }
    for (i = 0; i < transient.length; i++) ui.list.appendChild(messageNode(transient[i], transient[i].status));
    state.queued = th.queue.length;
    state.conversation = th.conversation || null;
    if (atBottom || state.open) scrollDown();
  }

  // ---------------------------------------------------------------- messages
  function addMessages(items, counts) {
    // Adds server messages (deduplicated by id); returns how many operator/bot messages were new.
    var fresh = 0;
    update(function (data, th) {
      var known = {};
      var i;
      for (i = 0; i < th.messages.length; i++) {
        if (typeof th.messages[i].id === "number") known[th.messages[i].id] = true;
      }
      for (i = 0; i < items.length; i++) {
        var m = items[i];
        if (!m || typeof m.id !== "number") continue;
        if (m.client_id) removeQueued(th, m.client_id);
        if (known[m.id]) continue;
        known[m.id] = true;
        th.messages.push({
          id: m.id,
          author: m.author === "operator" || m.author === "bot" ? m.author : "contact",
          name: typeof m.name === "string" ? m.name : "",
          text: typeof m.text === "string" ? m.text : "",
          at: typeof m.at === "string" ? m.at : new Date().toISOString(),
          attachments: Array.isArray(m.attachments) ? m.attachments : [],
          buttons: validButtons(m.buttons),
        });
        if (m.author === "operator" || m.author === "bot") {
          fresh++;
          // last_seen follows what the server sent us, never our own acks: an operator reply with a
          // lower id may still be on its way, and a reconnect must ask for it.
          if (counts && (th.last_seen === null || m.id > th.last_seen)) th.last_seen = m.id;
        }
      }
      th.messages.sort(function (a, b) {
        return a.id - b.id;
      });
      if (th.messages.length > MAX_CACHED) th.messages = th.messages.slice(th.messages.length - MAX_CACHED);
    });
    return fresh;
  }

  function removeQueued(th, clientId) {
    for (var i = 0; i < th.queue.length; i++) {
      if (th.queue[i].client_id === clientId) {
        return th.queue.splice(i, 1)[0];
      }
    }
    return null;
  }

  function removeTransient(clientId) {
    transient = transient.filter(function (x) {
      return x.client_id !== clientId;
    });
  }

  function submit() {
    var text = ui.input.value.replace(/^\s+|\s+$/g, "");
    if (!text) return;
    if (text.length > config.max_message_chars) {
      notice(t.tooLong);
      return;
    }
    queueText(text);
    ui.input.value = "";
    autosize();
    ui.input.focus();
  }

  function queueText(text) {
    var item = { client_id: uuid(), text: text, at: new Date().toISOString() };
    update(function (data, th) {
      th.queue.push(item);
    });
    render();
    scrollDown();
    flush();
    return item.client_id;
  }

  // ---------------------------------------------------------------- connection
  var ws = null;
  var welcomed = false;
  var attempt = 0;
  var reconnectTimer = null;
  var sentNow = {};
  var retryTimers = {};
  var lastTypingSent = 0;
  var typingTimer = null;
  var visitorToken = null;
  var identityRejected = false;
  var identityMissing = false;
  var holdOff = 0;
  var rehello = false;
  var rehelloNow = false;

  function sendFrame(frame) {
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch (e) {
      return false;
    }
  }

  function flush() {
    // Each queued message goes once per connection; the server stores a resent client_id once.
    if (!welcomed) return;
    var queue = thread().queue;
    for (var i = 0; i < queue.length; i++) {
      var q = queue[i];
      if (sentNow[q.client_id] || retryTimers[q.client_id]) continue;
      if (sendFrame({ type: "message", client_id: q.client_id, text: q.text })) sentNow[q.client_id] = true;
    }
  }

  function retryLater(clientId, seconds) {
    delete sentNow[clientId];
    if (retryTimers[clientId]) return;
    var ms = Math.max(1, Math.min(Number(seconds) || 5, 300)) * 1000;
    retryTimers[clientId] = setTimeout(function () {
      delete retryTimers[clientId];
      flush();
    }, ms);
  }

  function sendTyping() {
    var now = Date.now();
    if (!welcomed || !ui.input.value || now - lastTypingSent < TYPING_SEND_MS) return;
    lastTypingSent = now;
    sendFrame({ type: "typing" });
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (ws) return;
    var sock;
    try {
      sock = new WebSocket(wsUrl);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    welcomed = false;
    sentNow = {};
    sock.onopen = function () {
      var data = readStore();
      var hello = {
        type: "hello",
        visitor: typeof data.visitor === "string" ? data.visitor : null,
        last_seen: data.threads[threadKey].last_seen,
        page: pageInfo(),
      };
      if (identity && !identityRejected) hello.identity = identity;
      sock.send(JSON.stringify(hello));
    };
    sock.onmessage = function (ev) {
      if (sock !== ws) return;
      var frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (frame && typeof frame.type === "string" && HANDLERS[frame.type]) HANDLERS[frame.type](frame);
    };
    sock.onclose = function (ev) {
      if (sock !== ws) return;
      ws = null;
      var again = rehelloNow;
      rehelloNow = false;
      welcomed = false;
      setConnected(false);
      hideTyping();
      if (identityMissing) return;
      if (again) connect();
      else scheduleReconnect(ev.code);
    };
  }

  function scheduleReconnect(code) {
    if (reconnectTimer) return;
    // Exponential backoff with jitter, so a restarted server is not hit by every widget at once.
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt));
    delay = delay / 2 + Math.random() * (delay / 2);
    if (code === 1013 || holdOff) delay = Math.max(delay, holdOff || 60000);
    holdOff = 0;
    attempt = Math.min(attempt + 1, 10);
    reconnectTimer = setTimeout(connect, delay);
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    ui.typing.setAttribute("hidden", "");
  }

  var HANDLERS = {
    welcome: function (f) {
      if (rehello && ws) {
        rehello = false;
        rehelloNow = true;
        ws.close(1000);
        return;
      }
      welcomed = true;
      attempt = 0;
      if (identity && !identityRejected) state.identity = "accepted";
      update(function (data, th) {
        if (typeof f.visitor === "string" && f.visitor !== data.visitor) {
          // A new visitor (first visit, or the server no longer knows our token): what we cached
          // belongs to nobody now. Unsent messages stay queued and go out as this visitor.
          if (data.visitor && !identity) {
            th.messages = [];
            th.last_seen = null;
            th.conversation = null;
          }
          data.visitor = f.visitor;
        }
        visitorToken = data.visitor || null;
        if (typeof f.conversation === "number") th.conversation = f.conversation;
      });
      var fresh = addMessages(Array.isArray(f.history) ? f.history : [], true);
      if (!state.open && fresh) setUnread(state.unread + fresh);
      // Whether anybody can answer now (the server's availability), not merely whether we are connected.
      state.operators = !(f.availability && f.availability.open === false);
      setConnected(true);
      render();
      flush();
    },
    ack: function (f) {
      if (typeof f.button === "string" && typeof f.id === "number") {
        var label = pressed[f.message_id + ":" + f.button];
        if (label) addMessages([{ id: f.id, author: "contact", text: label, at: new Date().toISOString() }]);
        render();
        return;
      }
      if (typeof f.client_id !== "string") return;
      delete sentNow[f.client_id];
      update(function (data, th) {
        if (typeof f.conversation === "number") th.conversation = f.conversation;
        var item = removeQueued(th, f.client_id);
        if (!item || typeof f.id !== "number") return;
        for (var i = 0; i < th.messages.length; i++) if (th.messages[i].id === f.id) return;
        th.messages.push({ id: f.id, author: "contact", name: "", text: item.text, at: item.at, attachments: [] });
        th.messages.sort(function (a, b) {
          return a.id - b.id;
        });
      });
      render();
    },
    message: function (f) {
      if (typeof f.id !== "number") return;
      if (f.client_id) removeTransient(f.client_id);
      var fresh = addMessages([f], true);
      if (fresh) hideTyping();
      if (fresh && !state.open) setUnread(state.unread + fresh);
      render();
    },
    typing: function () {
      ui.typing.removeAttribute("hidden");
      clearTimeout(typingTimer);
      typingTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
    },
    error: function (f) {
      var cid = typeof f.client_id === "string" ? f.client_id : null;
      switch (f.code) {
        case "identity_rejected":
          // The server treats us as an anonymous visitor: so must the widget. The hello carried the
          // claimed identity's last_seen, so say hello again as the anonymous visitor.
          identityRejected = true;
          state.identity = "rejected";
          if (threadKey !== "anon") {
            threadKey = "anon";
            rehello = true;
            render();
          }
          break;
        case "rate_limited":
        case "unavailable":
          if (cid) retryLater(cid, f.retry_after);
          break;
        case "identity_required":
          // The site chats with signed-in customers only: reconnecting would be refused again.
          identityMissing = true;
          notice(t.signIn);
          break;
        case "too_many_visitors":
          holdOff = Math.max(60000, (Number(f.retry_after) || 60) * 1000);
          notice(t.busy);
          break;
        case "message_too_long":
        case "empty_message":
        case "bad_frame":
          if (cid) {
            var item = update(function (data, th) {
              return removeQueued(th, cid);
            });
            if (item) {
              transient.push({ author: "contact", text: item.text, at: item.at, client_id: cid, status: "failed" });
              render();
            }
            notice(f.code === "message_too_long" ? t.tooLong : t.notSent);
          }
          break;
        default:
          break;
      }
    },
  };

  // ---------------------------------------------------------------- upload
  function uploadFile(file) {
    if (!visitorToken) {
      notice(t.uploadFailed);
      return;
    }
    if (file.size > config.max_upload_bytes) {
      notice(t.uploadTooLarge);
      return;
    }
    var cid = uuid();
    var item = { author: "contact", text: file.name, at: new Date().toISOString(), client_id: cid, status: "uploading" };
    transient.push(item);
    render();
    scrollDown();
    var form = new FormData();
    form.append("client_id", cid);
    if (identity && !identityRejected) form.append("identity", JSON.stringify(identity));
    form.append("file", file, file.name);
    fetch(siteUrl + "/upload", {
      method: "POST",
      body: form,
      headers: { "X-Visitor-Token": visitorToken },
      mode: "cors",
      credentials: "omit",
    })
      .then(function (r) {
        return r
          .json()
          .catch(function () {
            return {};
          })
          .then(function (body) {
            return { ok: r.ok, status: r.status, body: body || {} };
          });
      })
      .then(function (res) {
        if (res.ok && typeof res.body.id === "number") {
          removeTransient(cid);
          addMessages(
            [{ id: res.body.id, author: "contact", text: file.name, attachments: res.body.attachments || [] }],
            false
          );
        } else {
          item.status = "failed";
          notice(res.status === 413 ? t.uploadTooLarge : res.status === 415 ? t.uploadType : t.uploadFailed);
        }
        render();
      })
      .catch(function () {
        item.status = "failed";
        notice(t.uploadFailed);
        render();
      });
  }

  // ---------------------------------------------------------------- start
  function loadConfig() {
    if (!window.fetch) return;
    fetch(siteUrl + "/config", { credentials: "omit" })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (body) {
        if (!body || typeof body !== "object") return;
        if (typeof body.title === "string") config.title = body.title;
        if (typeof body.welcome === "string") config.welcome = body.welcome;
        if (typeof body.max_message_chars === "number") config.max_message_chars = body.max_message_chars;
        if (typeof body.max_upload_bytes === "number") config.max_upload_bytes = body.max_upload_bytes;
        if (Array.isArray(body.attachment_types)) config.attachment_types = body.attachment_types;
        applyConfig();
      })
      .catch(function () {
        /* the defaults do */
      });
  }

  // On a shared browser, the previous customer's cached chat must not outlive their sign-out
  // (or a switch to another account): keep only this identity's thread and the anonymous one.
  function pruneOtherIdentities() {
    update(function (data) {
      for (var key in data.threads) {
        if (Object.prototype.hasOwnProperty.call(data.threads, key) && key !== threadKey && key !== "anon") {
          delete data.threads[key];
        }
      }
    });
  }

  function start() {
    pruneOtherIdentities();
    build();
    applyConfig();
    var data = readStore();
    visitorToken = typeof data.visitor === "string" ? data.visitor : null;
    render();
    if (data.open) setOpen(true);
    setConnected(false);
    loadConfig();
    connect();
    window.addEventListener("online", function () {
      if (!ws) {
        attempt = 0;
        connect();
      }
    });
    window.addEventListener("storage", function (ev) {
      if (ev.key === STORE_KEY) render();
    });
  }

  api.open = function () {
    setOpen(true);
  };
  api.close = function () {
    setOpen(false);
  };
  api.toggle = function () {
    setOpen(!state.open);
  };
  api.send = function (text) {
    text = String(text || "").replace(/^\s+|\s+$/g, "");
    if (!text || text.length > config.max_message_chars || !ui.list) return null;
    return queueText(text);
  };

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
