/* Lines operator console: live inbox and conversation pages over the events WebSocket.
 *
 * No build step and no dependencies. Everything that comes from customers is put into the page
 * with textContent (or into a sandboxed iframe's srcdoc for sanitised email HTML), never innerHTML.
 * UI strings come translated from the page's JSON block: t() looks up the English text; the server
 * finds the strings to translate by scanning this file for t() calls with a literal argument.
 */
(function () {
  "use strict";

  var dataNode = document.getElementById("lines-data");
  if (!dataNode) return;
  var DATA = JSON.parse(dataNode.textContent || "{}");
  var STRINGS = DATA.strings || {};
  var ME = DATA.me;

  function t(message) {
    return Object.prototype.hasOwnProperty.call(STRINGS, message) && STRINGS[message] ? STRINGS[message] : message;
  }

  function fmt(template, vars) {
    return template.replace(/%\((\w+)\)s/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(vars, key) ? String(vars[key]) : whole;
    });
  }

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(name) {
    var holder = $("#icon-templates");
    var found = holder && holder.content.querySelector('[data-icon="' + name + '"]');
    if (!found) found = holder && holder.content.querySelector('[data-icon="channel-other"]');
    return found ? found.firstElementChild.cloneNode(true) : document.createTextNode("");
  }

  // ---- edited messages: earlier versions, fetched when the operator opens the list ----------
  function editedMarker(m) {
    var details = el("details", {
      class: "msg-edited",
      "data-testid": "message-edited",
      "data-revisions": "/api/v1/conversations/" + encodeURIComponent(m.conversation_id) + "/messages/" + encodeURIComponent(m.id) + "/revisions"
    });
    details.appendChild(el("summary", {}, t("edited")));
    details.appendChild(el("ol", { class: "msg-revisions", "data-testid": "message-revisions" }));
    return details;
  }

  // ---- email flags: the same markup and labels as _email_meta.html, from the Message's `email` ----
  function emailAutoLabel(auto) {
    if (auto === "bounce") return t("Delivery failure report");
    if (auto === "loop") return t("Our own email came back");
    return t("Automatic email: not acknowledged");
  }

  function emailMeta(e) {
    var nodes = [];
    if (!e) return nodes;
    if (e.unreadable) {
      nodes.push(el("div", { class: "email-flag email-unreadable", "data-testid": "email-unreadable" },
        t("This email could not be read; the original is attached.")));
    }
    if (e.repaired) {
      nodes.push(el("div", { class: "email-flag", "data-testid": "email-repaired" },
        t("This email was malformed; its text was recovered from the raw message.")));
    }
    if (e.new_address) {
      nodes.push(el("div", { class: "email-flag", "data-testid": "email-new-address" },
        fmt(t("Written from another address: %(address)s"), { address: e.new_address })));
    }
    if (e.auto) nodes.push(el("div", { class: "email-flag", "data-testid": "email-auto" }, emailAutoLabel(e.auto)));
    if (e.too_large && e.too_large.length) {
      nodes.push(el("div", { class: "email-flag", "data-testid": "email-too-large" },
        t("Too large to store:") + " " + e.too_large.join(", ")));
    }
    if (e.quoted) {
      var quoted = el("details", { class: "email-quoted" });
      quoted.appendChild(el("summary", {}, t("Quoted text")));
      quoted.appendChild(el("pre", {}, e.quoted));
      nodes.push(quoted);
    }
    return nodes;
  }

  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details || !details.classList || !details.classList.contains("msg-edited") || !details.open) return;
    if (details.getAttribute("data-loaded")) return;
    var list = details.querySelector(".msg-revisions");
    api("GET", details.getAttribute("data-revisions")).then(function (body) {
      details.setAttribute("data-loaded", "1");
      list.textContent = "";
      body.revisions.forEach(function (r) {
        var item = el("li", {}, r.text || t("(no text)"));
        if (r.created_at) item.setAttribute("title", r.created_at);
        list.appendChild(item);
      });
    }).catch(function () { list.textContent = t("Something went wrong. Try again."); });
  }, true);

  // ---- toasts -------------------------------------------------------------------------------
  var toastTimer = null;
  function toast(message, isError) {
    var node = $(".toast");
    if (!node) return;
    node.textContent = message;
    node.classList.toggle("error", !!isError);
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { node.hidden = true; }, 5000);
  }

  // ---- API ----------------------------------------------------------------------------------
  var ERRORS = {
    unauthenticated: t("Your session has ended. Sign in again."),
    forbidden: t("You are not allowed to do that."),
    not_found: t("This conversation is no longer available to you."),
    conflict: t("Someone else changed this conversation a moment ago."),
    not_in_team: t("That operator is not a member of the conversation's team."),
    empty_text: t("Write something first."),
    text_too_long: t("The message is too long."),
    csrf_failed: t("Your session has changed. Reload the page."),
    at_capacity: t("The operator is at full capacity."),
    unknown_operator: t("That operator no longer exists or is deactivated."),
    unknown_team: t("That team no longer exists."),
    until_required: t("Choose when the conversation wakes up."),
    until_in_past: t("Choose a time in the future."),
    until_naive: t("Choose a time in the future."),
    until_not_allowed: t("Only a snoozed conversation has a wake-up time."),
    no_identity: t("This conversation has no sender to block."),
    payload_too_large: t("That is too large to send."),
    validation_error: t("Some of the values are not valid. Check them and try again.")
  };

  function ApiError(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }

  function api(method, path, body) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && DATA.csrf) headers["X-CSRF-Token"] = DATA.csrf;
    return fetch(path, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (raw) {
        var payload = null;
        try { payload = raw ? JSON.parse(raw) : null; } catch (e) { payload = null; }
        if (!response.ok) {
          var error = (payload && payload.error) || {};
          throw new ApiError(response.status, error.code || "http_" + response.status, error.message || "");
        }
        return payload;
      });
    });
  }

  window.LinesApi = api;  // for the page's other scripts (customers.js): one CSRF and error handling

  function explain(error) {
    if (error instanceof ApiError) {
      if (error.status === 401) return ERRORS.unauthenticated;
      return ERRORS[error.code] || error.message || t("Something went wrong. Try again.");
    }
    return t("No connection to the server. Try again in a moment.");
  }

  function fail(error) { toast(explain(error), true); }

  // ---- time ---------------------------------------------------------------------------------
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(DATA.lang, { numeric: "auto" }) : null;
  var clock = new Intl.DateTimeFormat(DATA.lang, { hour: "2-digit", minute: "2-digit" });
  var dated = new Intl.DateTimeFormat(DATA.lang, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

  function ago(iso) {
    var then = new Date(iso);
    if (isNaN(then.getTime())) return "";
    var seconds = Math.round((then.getTime() - Date.now()) / 1000);
    if (!relative) return dated.format(then);
    var abs = Math.abs(seconds);
    if (abs < 45) return t("just now");
    if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
    if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
    if (abs < 86400 * 7) return relative.format(Math.round(seconds / 86400), "day");
    return dated.format(then);
  }

  function shortTime(iso) {
    var then = new Date(iso);
    if (isNaN(then.getTime())) return "";
    return then.toDateString() === new Date().toDateString() ? clock.format(then) : dated.format(then);
  }

  function refreshTimes() {
    $all("time.conv-time[datetime], .previous time[datetime]").forEach(function (node) {
      node.textContent = ago(node.getAttribute("datetime"));
    });
    $all("time.msg-time[datetime]").forEach(function (node) {
      node.textContent = shortTime(node.getAttribute("datetime"));
    });
  }

  // ---- the events socket ---------------------------------------------------------------------
  function EventSocket(handlers) {
    this.handlers = handlers;
    this.socket = null;
    this.attempts = 0;
    this.pingTimer = null;
    this.indicatorTimer = null;
    this.connect();
  }

  EventSocket.prototype.connect = function () {
    var self = this;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket;
    try {
      socket = new WebSocket(scheme + location.host + "/api/v1/events");
    } catch (e) {
      self.retry();
      return;
    }
    self.socket = socket;
    socket.onopen = function () {
      self.attempts = 0;
      self.indicate(true);
      clearInterval(self.pingTimer);
      self.pingTimer = setInterval(function () { self.send({ type: "ping" }); }, 25000);
      if (self.handlers.open) self.handlers.open();
    };
    socket.onmessage = function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (!frame || typeof frame.type !== "string" || frame.type === "pong") return;
      if (frame.type === "resync") {
        if (self.handlers.resync) self.handlers.resync();
        return;
      }
      if (self.handlers.event) self.handlers.event(frame.type, frame.data || {});
    };
    socket.onclose = function (event) {
      clearInterval(self.pingTimer);
      if (event.code === 4401) {
        // The session was revoked or expired: the console is of no use until the operator signs in.
        location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
        return;
      }
      if (self.socket === socket) {
        self.socket = null;
        self.retry();
      }
    };
    socket.onerror = function () { /* onclose follows */ };
  };

  EventSocket.prototype.retry = function () {
    var self = this;
    self.attempts += 1;
    clearTimeout(self.indicatorTimer);
    self.indicatorTimer = setTimeout(function () { if (!self.socket || self.socket.readyState !== 1) self.indicate(false); }, 1500);
    // Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at 10 s.
    var delay = Math.min(10000, 500 * Math.pow(2, Math.min(self.attempts - 1, 5)));
    delay = delay / 2 + Math.random() * delay / 2;
    if (self.attempts === 4) {
      api("GET", "/api/v1/me").catch(function (error) {
        if (error instanceof ApiError && error.status === 401) location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      });
    }
    setTimeout(function () { self.connect(); }, delay);
  };

  EventSocket.prototype.send = function (frame) {
    if (this.socket && this.socket.readyState === 1) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  };

  EventSocket.prototype.indicate = function (connected) {
    // Other page scripts (the routing page's live queue) follow the socket through DOM events.
    document.dispatchEvent(new CustomEvent("lines:socket", { detail: { connected: connected } }));
    var node = $(".connection");
    if (!node) return;
    node.hidden = connected;
    node.setAttribute("data-state", connected ? "connected" : "reconnecting");
    document.body.setAttribute("data-connected", connected ? "true" : "false");
  };

  // ---- header: presence ----------------------------------------------------------------------
  function setupPresence() {
    var select = $(".presence-select");
    var dot = $(".presence-dot");
    if (!select) return;
    var current = select.value;
    select.addEventListener("change", function () {
      var wanted = select.value;
      api("PUT", "/api/v1/me/presence", { status: wanted }).then(function () {
        current = wanted;
        dot.className = "presence-dot presence-" + wanted;
      }).catch(function (error) {
        select.value = current;
        fail(error);
      });
    });
    return function (data) {
      if (ME && data.operator && data.operator.id === ME.id && data.presence) {
        current = data.presence;
        select.value = data.presence;
        dot.className = "presence-dot presence-" + data.presence;
      }
    };
  }

  var STATUS_LABELS = {
    open: t("Open"),
    pending: t("Pending"),
    snoozed: t("Snoozed"),
    resolved: t("Resolved")
  };
  var DELIVERY_LABELS = {
    queued: t("Queued"),
    sent: t("Sent"),
    delivered: t("Delivered"),
    read: t("Read"),
    failed: t("Not delivered")
  };

  // The same labels and markup as _sla_badge.html; sla.js ticks the time of badges with a deadline.
  var SLA_LABELS = {
    ok: t("SLA on track"),
    warning: t("SLA deadline close"),
    breached: t("SLA breached"),
    paused: t("SLA paused"),
    met: t("SLA met")
  };

  // Put the badge for `sla` ({state, due_at} or null) right after `anchor`, replacing one that is there.
  function renderSlaBadge(anchor, sla) {
    var parent = anchor.parentNode;
    var old = parent.querySelector('[data-testid="sla-badge"]');
    if (!sla || !sla.state) {
      if (old) old.remove();
      return;
    }
    var label = SLA_LABELS[sla.state] || sla.state;
    var badge = el("span", {
      class: "badge sla-badge sla-" + sla.state,
      "data-testid": "sla-badge",
      "data-sla-state": sla.state,
      title: sla.due_at ? label + " \u00b7 " + dated.format(new Date(sla.due_at)) : label
    }, sla.due_at ? "" : label);
    if (sla.due_at) badge.setAttribute("data-sla-due", sla.due_at);
    if (old) parent.replaceChild(badge, old);
    else anchor.after(badge);
    if (sla.due_at && window.LinesSla) window.LinesSla.tick();
  }

  function isSlaEvent(type) {
    return type === "sla.updated" || type === "sla.warning" || type === "sla.breached";
  }

  function contactName(contact) {
    if (contact && contact.name) return contact.name;
    return fmt(t("Visitor #%(id)s"), { id: contact ? contact.id : "?" });
  }

  // ---- inbox ---------------------------------------------------------------------------------
  function Inbox() {
    this.view = DATA.view;
    this.status = DATA.status;
    this.sort = DATA.sort || "recent";
    this.slaState = DATA.sla_state || "any";
    this.teams = DATA.teams || [];
    this.list = $(".conv-list");
    this.empty = $(".empty");
    this.known = {};
    var self = this;
    (DATA.conversations || []).forEach(function (c) { self.known[c.id] = c; });
    this.countsTimer = null;
    ["status-select", "sort-select", "sla-filter"].forEach(function (id) {
      var select = $('[data-testid="' + id + '"]');
      if (select) select.addEventListener("change", function () { self.reload(); });
    });
    this.setupPaging();
  }

  // Infinite scroll: the next page (same view, filters and sort) loads when the end of the list
  // comes into sight, following the API's keyset cursor until it says there is no more.
  Inbox.prototype.setupPaging = function () {
    var self = this;
    this.cursor = DATA.next_cursor || null;
    this.pageSize = DATA.page_size || 100;
    this.loading = false;
    this.more = $('[data-testid="list-more"]');
    if (!this.more) return;
    this.more.hidden = !this.cursor;
    if (!("IntersectionObserver" in window)) return;
    new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) self.loadMore();
    }, { rootMargin: "400px" }).observe(this.more);
  };

  Inbox.prototype.loadMore = function () {
    var self = this;
    if (this.loading || !this.cursor) return;
    this.loading = true;
    var url = "/api/v1/conversations?" + this.query() + "&limit=" + this.pageSize + "&before=" + encodeURIComponent(this.cursor);
    api("GET", url).then(function (payload) {
      (payload.conversations || []).forEach(function (c) { self.upsert(c, { unread: !!c.unread }); });
      self.cursor = payload.next_cursor || null;
      self.more.hidden = !self.cursor;
      self.loading = false;
      // Still in sight (a tall screen): keep going.
      if (self.cursor && self.more.getBoundingClientRect().top < window.innerHeight + 400) self.loadMore();
    }).catch(function (error) {
      self.loading = false;
      fail(error);
    });
  };

  Inbox.prototype.reload = function () {
    var form = $('[data-testid="status-filter"]');
    var query = ["view=" + encodeURIComponent(this.view)];
    $all("select", form).forEach(function (select) {
      query.push(encodeURIComponent(select.name) + "=" + encodeURIComponent(select.value));
    });
    location.assign("/?" + query.join("&"));
  };

  Inbox.prototype.query = function () {
    var query = "view=" + encodeURIComponent(this.view) + "&status=" + encodeURIComponent(this.status);
    if (this.sort !== "recent") query += "&sort=" + encodeURIComponent(this.sort);
    if (this.slaState !== "any") query += "&sla_state=" + encodeURIComponent(this.slaState);
    return query;
  };

  Inbox.prototype.row = function (id) {
    return this.list.querySelector('.conv-row[data-id="' + id + '"]');
  };

  Inbox.prototype.matches = function (c) {
    if (this.status !== "any" && c.status !== this.status) return false;
    if (this.slaState !== "any" && !(c.sla && c.sla.state === this.slaState)) return false;
    if (this.view === "mine") return !!(c.assignee && ME && c.assignee.id === ME.id);
    if (this.view === "unassigned") return !c.assignee;
    if (this.view === "team") return !!(c.team && this.teams.indexOf(c.team.id) >= 0);
    return true;
  };

  Inbox.prototype.build = function (c) {
    var template = $("#row-template");
    var row = template.content.firstElementChild.cloneNode(true);
    row.setAttribute("data-id", String(c.id));
    $(".conv-link", row).setAttribute("href", "/conversations/" + encodeURIComponent(c.id));
    return row;
  };

  Inbox.prototype.fill = function (row, c, preview) {
    row.setAttribute("data-status", c.status);
    row.setAttribute("data-last", c.last_message_at || "");
    var channel = $('[data-field="channel"]', row);
    if (channel.getAttribute("data-channel") !== c.channel) {
      channel.textContent = "";
      channel.appendChild(icon("channel-" + c.channel));
      channel.setAttribute("data-channel", c.channel);
    }
    $('[data-field="name"]', row).textContent = contactName(c.contact);
    var time = $('[data-field="time"]', row);
    if (c.last_message_at) {
      time.setAttribute("datetime", c.last_message_at);
      time.textContent = ago(c.last_message_at);
    }
    if (preview) this.setPreview(row, preview.text, preview);
    else if (!$('[data-field="preview"]', row).textContent && c.subject) this.setPreview(row, c.subject, null);
    var status = $('[data-field="status"]', row);
    status.className = "badge status status-" + c.status;
    status.textContent = STATUS_LABELS[c.status] || c.status;
    renderSlaBadge(status, c.sla);
    var team = $('[data-field="team"]', row);
    team.textContent = "";
    if (c.team) {
      team.appendChild(icon("team"));
      team.appendChild(document.createTextNode(c.team.title || c.team.name));
    }
    var assignee = $('[data-field="assignee"]', row);
    assignee.textContent = "";
    assignee.appendChild(icon("user"));
    if (c.assignee) assignee.appendChild(document.createTextNode(c.assignee.name));
    else assignee.appendChild(el("span", { class: "muted" }, t("Unassigned")));
  };

  // The same rules as author_label() in _row.html: the customer, the bot, or the operator by name.
  function authorLabel(kind, name) {
    if (kind === "contact") return t("Customer:");
    if (kind === "bot") return t("Bot:");
    if (kind === "operator" && name) return name + ":";
    return "";
  }

  // `author` is a message or preview ({author_kind, author_name}) or null for the subject.
  Inbox.prototype.setPreview = function (row, text, author) {
    var node = $('[data-field="preview"]', row);
    node.textContent = "";
    var label = author ? authorLabel(author.author_kind, author.author_name) : "";
    if (label) {
      node.appendChild(el("span", { class: "author author-" + author.author_kind, "data-testid": "preview-author" }, label));
      node.appendChild(document.createTextNode(" "));
    }
    node.appendChild(document.createTextNode(String(text || "").replace(/\s+/g, " ").trim().slice(0, 160)));
  };

  // The key a row sorts by, ascending: the nearest SLA deadline (none last, then by id), or the
  // newest activity (inverted by the caller). Server-rendered rows carry the same data attributes.
  Inbox.prototype.slaKey = function (due, id) {
    var time = due ? Date.parse(due) : NaN;
    return [isNaN(time) ? Infinity : time, Number(id)];
  };

  Inbox.prototype.place = function (row, c) {
    // Newest activity first (or nearest SLA deadline first); a row that moved is re-inserted at its place.
    var stamp = c.last_message_at || "";
    var mine = this.slaKey(c.sla && c.sla.due_at, c.id);
    var rows = $all(".conv-row", this.list);
    var before = null;
    for (var i = 0; i < rows.length; i++) {
      if (rows[i] === row) continue;
      if (this.sort === "sla") {
        var badge = rows[i].querySelector("[data-sla-due]");
        var other = this.slaKey(badge && badge.getAttribute("data-sla-due"), rows[i].getAttribute("data-id"));
        if (other[0] > mine[0] || (other[0] === mine[0] && other[1] > mine[1])) { before = rows[i]; break; }
      } else if ((rows[i].getAttribute("data-last") || "") <= stamp) { before = rows[i]; break; }
    }
    if (row.nextElementSibling !== before || row.parentNode !== this.list) this.list.insertBefore(row, before);
  };

  Inbox.prototype.upsert = function (c, options) {
    options = options || {};
    this.known[c.id] = c;
    var row = this.row(c.id);
    if (!this.matches(c)) {
      if (row) row.remove();
      this.changed();
      return;
    }
    var created = !row;
    if (created) row = this.build(c);
    this.fill(row, c, options.preview || previewOf(c));
    if (options.unread === true) row.classList.add("unread");
    else if (options.unread === false) row.classList.remove("unread");
    this.place(row, c);
    if (created && options.flash) {
      row.classList.add("fresh");
      setTimeout(function () { row.classList.remove("fresh"); }, 1700);
    }
    this.changed();
  };

  Inbox.prototype.remove = function (id) {
    var row = this.row(id);
    if (row) row.remove();
    delete this.known[id];
    this.changed();
  };

  Inbox.prototype.changed = function () {
    this.empty.hidden = !!this.list.querySelector(".conv-row");
    var self = this;
    clearTimeout(this.countsTimer);
    this.countsTimer = setTimeout(function () { self.refreshCounts(); }, 300);
  };

  Inbox.prototype.refreshCounts = function () {
    var query = "?status=" + encodeURIComponent(this.status) + "&sla_state=" + encodeURIComponent(this.slaState);
    api("GET", "/inbox/counts" + query).then(function (counts) {
      Object.keys(counts || {}).forEach(function (view) {
        var node = $('[data-count="' + view + '"]');
        if (node) node.textContent = String(counts[view]);
      });
    }).catch(function () { /* counts catch up on the next change */ });
  };

  Inbox.prototype.resync = function () {
    var self = this;
    return api("GET", "/api/v1/conversations?" + this.query() + "&limit=" + this.pageSize).then(function (payload) {
      var items = payload && payload.conversations;
      if (!Array.isArray(items)) return;
      // Back to the first page; scrolling pages on from its cursor again.
      self.cursor = payload.next_cursor || null;
      if (self.more) self.more.hidden = !self.cursor;
      var keep = {};
      items.forEach(function (c) {
        keep[c.id] = true;
        self.upsert(c, { unread: !!c.unread });
      });
      $all(".conv-row", self.list).forEach(function (row) {
        if (!keep[row.getAttribute("data-id")]) row.remove();
      });
      self.changed();
    }).catch(function () { /* the next reconnect or event tries again */ });
  };

  Inbox.prototype.event = function (type, data) {
    var self = this;
    if (type === "conversation.created") {
      this.upsert(data, { unread: data.unread !== false, flash: true });
    } else if (type === "conversation.updated" || type === "conversation.assigned") {
      this.upsert(data, { unread: data.unread ? true : undefined, flash: true });
    } else if (type === "conversation.removed") {
      if (data.if_hidden) {
        api("GET", "/api/v1/conversations/" + encodeURIComponent(data.id)).catch(function (error) {
          if (error instanceof ApiError && (error.status === 404 || error.status === 403)) self.remove(data.id);
        });
      } else {
        this.remove(data.id);
      }
    } else if (isSlaEvent(type)) {
      this.slaChanged(data);
    } else if (type === "sla.recomputed") {
      this.resync();
    } else if (type === "message.created") {
      var known = this.known[data.conversation_id];
      // Kept for a conversation not listed now, so that it has its preview if a filter admits it later.
      if (known && (data.direction === "in" || data.direction === "out")) known.last_message = data;
      var row = this.row(data.conversation_id);
      if (!row) return;
      if (data.direction === "in" || data.direction === "out") this.setPreview(row, messagePreview(data), data);
      if (data.direction === "in") row.classList.add("unread");
      if (data.created_at) {
        var c = this.known[data.conversation_id];
        if (c && (!c.last_message_at || c.last_message_at < data.created_at) && data.direction !== "note") {
          c.last_message_at = data.created_at;
          this.fill(row, c, null);
          this.place(row, c);
        }
      }
    }
  };

  // A deadline was set, moved, met, or passed a warning point: recolour the row, and add, move or
  // drop it where the SLA filter or order depends on it. A conversation this page has not seen
  // yet (a filter it now passes) is fetched whole.
  Inbox.prototype.slaChanged = function (data) {
    var self = this;
    var c = this.known[data.conversation_id];
    if (c) {
      c.sla = data.sla || null;
      this.upsert(c, {});
    } else if (data.sla && (this.slaState === "any" || data.sla.state === this.slaState)) {
      api("GET", "/api/v1/conversations/" + encodeURIComponent(data.conversation_id)).then(function (payload) {
        var fetched = payload && (payload.conversation || payload);
        if (!fetched || !fetched.id) return;
        var shown = (payload.messages || []).filter(function (m) { return m.direction === "in" || m.direction === "out"; });
        if (shown.length) fetched.last_message = shown[shown.length - 1];
        self.upsert(fetched, { unread: !!fetched.unread, flash: true });
      }).catch(function () { /* gone or not ours: nothing to show */ });
    }
  };

  function messagePreview(m) {
    if (m.text) return m.text;
    return (m.attachments || []).map(function (a) { return a.filename; }).join(", ");
  }

  function previewOf(c) {
    var last = c.last_message || c.preview;
    if (!last) return null;
    if (typeof last === "string") return { text: last };
    if (last.author_kind !== undefined && typeof last.text === "string" && !last.id) return last;
    return { text: messagePreview(last), author_kind: last.author_kind, author_name: last.author_name };
  }

  // ---- conversation --------------------------------------------------------------------------
  function ConversationPage(socket) {
    var self = this;
    this.conversation = DATA.conversation;
    this.id = this.conversation.id;
    this.list = $(".messages");
    this.seen = {};
    (DATA.message_ids || []).forEach(function (id) { self.seen[id] = true; });
    this.contactName = ($('[data-testid="conversation-contact"]') || {}).textContent || "";
    this.viewers = {};
    this.lastTypingSent = 0;
    this.contactTypingTimer = null;
    this.readTimer = null;
    this.mode = "reply";
    this.socket = socket;
    this.composer = $(".composer");
    this.input = $('[data-testid="reply-input"]');
    this.sendButton = $('[data-testid="reply-send"]');
    this.setupComposer();
    this.setupActions();
    this.scrollDown(true);
    setInterval(function () { self.announceViewing(); }, 20000);
    setInterval(function () { self.expireViewers(); }, 5000);
    var leave = function () { self.socket.send({ type: "left", conversation_id: self.id }); };
    window.addEventListener("pagehide", leave);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") {
        self.announceViewing();
        self.markRead();
      }
    });
  }

  ConversationPage.prototype.open = function () {
    this.announceViewing();
    // Also on the first connect: whatever happened between rendering and subscribing is fetched.
    this.resync();
  };

  ConversationPage.prototype.announceViewing = function () {
    if (document.visibilityState === "hidden") return;
    this.socket.send({ type: "viewing", conversation_id: this.id });
  };

  ConversationPage.prototype.scrollDown = function (force) {
    var list = this.list;
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 160;
    if (force || nearBottom) list.scrollTop = list.scrollHeight;
  };

  ConversationPage.prototype.buildMessage = function (m) {
    var li = el("li", {
      class: "msg msg-" + m.direction,
      "data-id": String(m.id),
      "data-testid": "message",
      "data-direction": m.direction,
      "data-author-kind": m.author_kind || ""
    });
    var time = el("time", { class: "msg-time", datetime: m.created_at || "" }, m.created_at ? shortTime(m.created_at) : "");
    if (m.direction === "system") {
      var system = el("div", { class: "msg-system" });
      system.appendChild(el("span", { class: "msg-text" }, m.text));
      system.appendChild(document.createTextNode(" "));
      system.appendChild(time);
      li.appendChild(system);
      return li;
    }
    var bubble = el("div", { class: "msg-bubble" });
    var head = el("div", { class: "msg-head" });
    var author = m.direction === "in" ? (m.author_name || this.contactName) : (m.author_kind === "bot" ? t("Bot") : m.author_name);
    head.appendChild(el("span", { class: "msg-author" }, author));
    if (m.direction === "note") {
      var label = el("span", { class: "note-label", "data-testid": "note-label" });
      label.appendChild(icon("lock"));
      label.appendChild(document.createTextNode(t("Private note")));
      head.appendChild(label);
    }
    head.appendChild(time);
    bubble.appendChild(head);
    if (m.html) {
      // Sanitised server-side, and still only ever shown inside an iframe with every sandbox flag on.
      var frame = document.createElement("iframe");
      // Linked cid: images (only the server makes same-origin URLs) need the console's origin; no scripts still.
      frame.setAttribute("sandbox", m.html.indexOf('src="/attachments/') >= 0 ? "allow-same-origin" : "");
      frame.setAttribute("referrerpolicy", "no-referrer");
      frame.setAttribute("title", t("Email"));
      frame.className = "msg-html";
      frame.srcdoc = m.html;
      bubble.appendChild(frame);
    } else {
      bubble.appendChild(el("div", { class: "msg-text", "data-testid": "message-text" }, m.text));
    }
    if (m.signature) bubble.appendChild(el("div", { class: "msg-signature", "data-testid": "message-signature" }, m.signature));
    emailMeta(m.email).forEach(function (node) { bubble.appendChild(node); });
    if (m.edited_at) bubble.appendChild(editedMarker(m));
    if (m.attachments && m.attachments.length) {
      var files = el("ul", { class: "msg-files" });
      m.attachments.forEach(function (a) {
        var item = el("li");
        item.appendChild(icon("paperclip"));
        if (a.url && /^\/attachments\/\d+\/[A-Za-z0-9_-]+$/.test(a.url)) {
          var link = el("a", { href: a.url, download: "", rel: "noreferrer" }, a.filename);
          item.appendChild(link);
        } else {
          item.appendChild(el("span", {}, a.filename));
        }
        files.appendChild(item);
      });
      bubble.appendChild(files);
    }
    if (m.direction === "out") {
      bubble.appendChild(el("div", { class: "msg-status", "data-field": "delivery", "data-testid": "delivery" }));
    }
    li.appendChild(bubble);
    this.setDelivery(li, m);
    return li;
  };

  // How far a reply has got. A reply's POST response or a re-fetch can be older than an update
  // event that overtook it, so those never move a status backwards; update events always apply.
  var DELIVERY_RANK = { queued: 0, failed: 1, sent: 2, delivered: 3, read: 4 };

  ConversationPage.prototype.setDelivery = function (li, m, onlyForward) {
    var node = li.querySelector('[data-field="delivery"]');
    if (!node || !m.delivery_status) return;
    var shown = node.getAttribute("data-status");
    if (onlyForward && shown && (DELIVERY_RANK[m.delivery_status] || 0) < (DELIVERY_RANK[shown] || 0)) return;
    node.setAttribute("data-status", m.delivery_status);
    node.className = "msg-status delivery-" + m.delivery_status;
    node.textContent = DELIVERY_LABELS[m.delivery_status] || m.delivery_status;
    if (m.delivery_error) node.setAttribute("title", m.delivery_error);
    else node.removeAttribute("title");
  };

  // The customer edited a message: show the new text and the "edited" marker (earlier versions on click).
  ConversationPage.prototype.showEdit = function (li, m) {
    var text = li.querySelector(".msg-text");
    if (text && !m.html) text.textContent = m.text;
    var marker = li.querySelector(".msg-edited");
    if (marker) {
      marker.removeAttribute("data-loaded");
      marker.open = false;
    } else {
      var bubble = li.querySelector(".msg-bubble");
      var files = bubble && bubble.querySelector(".msg-files");
      if (bubble) bubble.insertBefore(editedMarker(m), files || bubble.querySelector(".msg-status"));
    }
  };

  ConversationPage.prototype.add = function (m) {
    if (!m || m.conversation_id !== undefined && m.conversation_id !== this.id) return;
    if (this.seen[m.id]) {
      var existing = this.list.querySelector('.msg[data-id="' + m.id + '"]');
      if (existing) this.setDelivery(existing, m, true);
      return;
    }
    this.seen[m.id] = true;
    var node = this.buildMessage(m);
    var after = null;
    var items = $all(".msg", this.list);
    for (var i = items.length - 1; i >= 0; i--) {
      if (Number(items[i].getAttribute("data-id")) < m.id) { after = items[i]; break; }
    }
    var mine = ME && m.author_id === ME.id;
    if (after) after.after(node);
    else this.list.insertBefore(node, this.list.firstChild);
    this.scrollDown(mine);
    if (m.direction === "in") {
      this.clearContactTyping();
      this.markRead();
    }
  };

  ConversationPage.prototype.markRead = function () {
    var self = this;
    if (document.visibilityState === "hidden") return;
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(function () {
      api("POST", "/api/v1/conversations/" + self.id + "/read", {}).catch(function () { /* next open marks it */ });
    }, 500);
  };

  ConversationPage.prototype.update = function (c) {
    if (!c || c.id !== this.id) return;
    this.conversation = c;
    var badge = $('[data-testid="conversation-status"]');
    badge.className = "badge status status-" + c.status;
    badge.textContent = STATUS_LABELS[c.status] || c.status;
    var until = $('[data-testid="snoozed-until"]');
    if (until) until.hidden = c.status !== "snoozed";
    $('[data-testid="resolve"]').hidden = c.status === "resolved";
    $('[data-testid="reopen"]').hidden = c.status === "open";
    $('[data-testid="take"]').hidden = !!(c.assignee && ME && c.assignee.id === ME.id);
    $('[data-testid="assignee"]').textContent = c.assignee ? c.assignee.name : t("Unassigned");
    $('[data-testid="team"]').textContent = c.team ? (c.team.title || c.team.name) : "—";
    renderSlaBadge(badge, c.sla);
    if (c.contact) this.showContact(c.contact);
  };

  // A merge or unmerge can give this conversation another customer, or change its customer's
  // fields: the name in the header and the identities follow (contactChanged has the card reload).
  ConversationPage.prototype.showContact = function (contact) {
    var name = contactName(contact);
    this.contactName = name;
    $('[data-testid="conversation-contact"]').textContent = name;
    var heading = $('[data-testid="customer-name"]');
    if (heading) heading.textContent = name;
    if (Array.isArray(contact.identities)) this.showIdentities(contact.identities);
  };

  ConversationPage.prototype.showIdentities = function (identities) {
    var list = $('[data-testid="identities"]');
    if (!list) return;
    list.textContent = "";
    identities.forEach(function (i) {
      var item = el("li");
      item.appendChild(icon("channel-" + i.channel));
      var text = el("span", { class: "identity-text" });
      text.appendChild(el("span", { class: "identity" }, i.display || i.external_id));
      text.appendChild(document.createTextNode(" "));
      text.appendChild(el("span", { class: "muted" }, i.inbox));
      item.appendChild(text);
      list.appendChild(item);
    });
  };

  ConversationPage.prototype.contactChanged = function (data) {
    var mine = (data.conversations || []).some(function (c) { return c.id === this.id; }, this);
    if (!mine) return;
    var self = this;
    // The re-read carries the contact with its identities; the card reloads whatever changed.
    this.resync().then(function () {
      document.dispatchEvent(new CustomEvent("lines:contact", { detail: { contact_id: self.conversation.contact.id } }));
    });
  };

  ConversationPage.prototype.resync = function () {
    var self = this;
    return api("GET", "/api/v1/conversations/" + this.id).then(function (payload) {
      if (!payload) return;
      var conversation = payload.conversation || payload;
      self.update(conversation);
      if (payload.sender_state !== undefined) self.showBlocked(payload.sender_state === "blocked");
      (payload.messages || conversation.messages || []).forEach(function (m) {
        if (m.conversation_id === undefined) m.conversation_id = self.id;
        self.add(m);
      });
    }).catch(function (error) {
      if (error instanceof ApiError && error.status === 404) self.lost();
    });
  };

  ConversationPage.prototype.lost = function () {
    toast(t("This conversation is no longer available to you."), true);
    this.input.disabled = true;
    this.sendButton.disabled = true;
  };

  ConversationPage.prototype.setupComposer = function () {
    var self = this;
    $all(".composer .mode").forEach(function (button) {
      button.addEventListener("click", function () { self.setMode(button.getAttribute("data-mode")); });
    });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        self.send();
      }
    });
    this.input.addEventListener("input", function () {
      if (!self.input.value.trim()) return;
      var now = Date.now();
      if (now - self.lastTypingSent > 3000) {
        self.lastTypingSent = now;
        // A private note is typed for colleagues only: the customer is not told someone is typing.
        self.socket.send({ type: "typing", conversation_id: self.id, private: self.mode === "note" });
      }
    });
    this.composer.addEventListener("submit", function (event) {
      event.preventDefault();
      self.send();
    });
  };

  ConversationPage.prototype.setMode = function (mode) {
    this.mode = mode === "note" ? "note" : "reply";
    this.composer.classList.toggle("mode-note", this.mode === "note");
    this.composer.classList.toggle("mode-reply", this.mode === "reply");
    var self = this;
    $all(".composer .mode").forEach(function (button) {
      var active = button.getAttribute("data-mode") === self.mode;
      button.classList.toggle("active", active);
      button.setAttribute("aria-selected", active ? "true" : "false");
    });
    this.input.setAttribute("placeholder", this.input.getAttribute("data-placeholder-" + this.mode) || "");
    this.input.focus();
  };

  ConversationPage.prototype.send = function () {
    var self = this;
    var text = this.input.value;
    if (!text.trim() || this.sending) return;
    this.sending = true;
    this.sendButton.disabled = true;
    api("POST", "/api/v1/conversations/" + this.id + "/messages", { text: text, private: this.mode === "note" })
      .then(function (payload) {
        var message = payload && (payload.message || payload);
        if (self.input.value === text) self.input.value = "";
        if (message && message.id) {
          if (message.conversation_id === undefined) message.conversation_id = self.id;
          self.add(message);
        }
        self.scrollDown(true);
      })
      .catch(fail)
      .then(function () {
        self.sending = false;
        self.sendButton.disabled = false;
        self.input.focus();
      });
  };

  ConversationPage.prototype.setupActions = function () {
    var self = this;
    var path = "/api/v1/conversations/" + this.id;
    function run(button, request) {
      if (button) button.disabled = true;
      return request.then(function (payload) {
        self.update(payload && (payload.conversation || payload));
      }).catch(fail).then(function () { if (button) button.disabled = false; });
    }
    var take = $('[data-testid="take"]');
    take.addEventListener("click", function () { run(take, api("POST", path + "/assign", { operator_id: ME.id })); });
    var resolve = $('[data-testid="resolve"]');
    resolve.addEventListener("click", function () {
      run(resolve, api("POST", path + "/status", { status: "resolved" })).then(function () { toast(t("Conversation resolved.")); });
    });
    var reopen = $('[data-testid="reopen"]');
    reopen.addEventListener("click", function () { run(reopen, api("POST", path + "/status", { status: "open" })); });
    var snooze = $('[data-testid="snooze"]');
    snooze.addEventListener("change", function () {
      var until = snoozeUntil(snooze.value);
      snooze.value = "";
      if (!until) return;
      run(snooze, api("POST", path + "/status", { status: "snoozed", until: until })).then(function () {
        toast(fmt(t("Snoozed until %(time)s."), { time: dated.format(new Date(until)) }));
      });
    });
    this.setupBlocking(path);
    var assign = $('[data-testid="assign"]');
    var target = $('[data-testid="assign-select"]');
    assign.addEventListener("click", function () {
      var value = target.value;
      if (!value) { target.focus(); return; }
      var body = value.indexOf("operator:") === 0 ? { operator_id: Number(value.slice(9)) } : { team: value.slice(5) };
      run(assign, api("POST", path + "/assign", body)).then(function () { target.value = ""; });
    });
  };

  // Block or unblock the conversation's sender (channels with the BLOCK_SENDER feature: Telegram).
  // A colleague's block arrives as `sender.state`; a re-fetch carries `sender_state`.
  ConversationPage.prototype.showBlocked = function () { /* no button on this channel */ };

  ConversationPage.prototype.setupBlocking = function (path) {
    var block = $('[data-testid="block-sender"]');
    var unblock = $('[data-testid="unblock-sender"]');
    var badge = $('[data-testid="sender-blocked"]');
    if (!block || !unblock) return;
    function show(blocked) {
      block.hidden = blocked;
      unblock.hidden = !blocked;
      if (badge) badge.hidden = !blocked;
    }
    this.showBlocked = show;
    function send(button, blocked) {
      button.disabled = true;
      api("POST", path + "/block-sender", { blocked: blocked }).then(function (body) {
        show(body.state === "blocked");
        toast(body.state === "blocked" ? t("Sender blocked.") : t("Sender unblocked."));
      }).catch(fail).then(function () { button.disabled = false; });
    }
    block.addEventListener("click", function () {
      if (window.confirm(block.getAttribute("data-confirm"))) send(block, true);
    });
    unblock.addEventListener("click", function () { send(unblock, false); });
  };

  function isoWithOffset(date) {
    var offset = -date.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-";
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":00" +
      sign + pad(Math.floor(Math.abs(offset) / 60)) + ":" + pad(Math.abs(offset) % 60);
  }

  function snoozeUntil(choice) {
    var when = new Date();
    if (choice === "1h") {
      when = new Date(when.getTime() + 3600 * 1000);
    } else if (choice === "tomorrow") {
      when.setDate(when.getDate() + 1);
      when.setHours(9, 0, 0, 0);
    } else if (choice === "week") {
      when.setDate(when.getDate() + ((8 - when.getDay()) % 7 || 7));
      when.setHours(9, 0, 0, 0);
    } else {
      return null;
    }
    return isoWithOffset(when);
  }

  ConversationPage.prototype.event = function (type, data) {
    if (type === "message.created") {
      if (data.conversation_id === this.id) this.add(data);
    } else if (type === "message.updated") {
      if (data.conversation_id !== undefined && data.conversation_id !== this.id) return;
      var node = this.list.querySelector('.msg[data-id="' + data.id + '"]');
      if (node) this.setDelivery(node, data);
      if (node && data.edited_at) this.showEdit(node, data);
    } else if (type === "conversation.updated" || type === "conversation.assigned") {
      this.update(data);
    } else if (type === "sender.state") {
      if ((data.conversation_ids || []).indexOf(this.id) >= 0) this.showBlocked(data.state === "blocked");
    } else if (type === "sla.recomputed") {
      this.resync();
    } else if (type === "contact.merged" || type === "contact.unmerged") {
      this.contactChanged(data);
    } else if (isSlaEvent(type)) {
      if (data.conversation_id !== this.id) return;
      this.conversation.sla = data.sla || null;
      renderSlaBadge($('[data-testid="conversation-status"]'), this.conversation.sla);
    } else if (type === "conversation.removed") {
      if (data.id !== this.id) return;
      var self = this;
      api("GET", "/api/v1/conversations/" + this.id).catch(function (error) {
        if (error instanceof ApiError && (error.status === 404 || error.status === 403)) self.lost();
      });
    } else if (type === "conversation.viewing" || type === "conversation.typing" || type === "conversation.left") {
      if (data.conversation_id !== this.id) return;
      this.presence(type, data);
    }
  };

  ConversationPage.prototype.presence = function (type, data) {
    if (data.who === "contact") {
      if (type === "conversation.typing") this.contactTyping(data.name || this.contactName);
      return;
    }
    var operator = data.operator;
    if (!operator || (ME && operator.id === ME.id)) return;
    if (type === "conversation.left") {
      delete this.viewers[operator.id];
    } else {
      var known = this.viewers[operator.id];
      var now = Date.now();
      this.viewers[operator.id] = {
        name: operator.name,
        seen: now,
        typingUntil: type === "conversation.typing" ? now + 6000 : (known ? known.typingUntil : 0)
      };
      // A newcomer does not know we are here yet: say so now rather than at our next beat. Only
      // for someone new to us, so two consoles answer each other once and then fall quiet.
      if (!known) this.announceViewing();
    }
    this.renderViewers();
  };

  ConversationPage.prototype.expireViewers = function () {
    var now = Date.now();
    var self = this;
    Object.keys(this.viewers).forEach(function (id) {
      if (now - self.viewers[id].seen > 50000) delete self.viewers[id];
    });
    this.renderViewers();
  };

  ConversationPage.prototype.renderViewers = function () {
    var now = Date.now();
    var typing = [];
    var viewing = [];
    var self = this;
    Object.keys(this.viewers).forEach(function (id) {
      var v = self.viewers[id];
      (v.typingUntil > now ? typing : viewing).push(v.name);
    });
    var bar = $('[data-testid="collision"]');
    var parts = [];
    if (typing.length) parts.push(fmt(t("%(names)s is typing a reply…"), { names: typing.join(", ") }));
    if (viewing.length) parts.push(fmt(t("%(names)s is also viewing this conversation"), { names: viewing.join(", ") }));
    $(".collision-text", bar).textContent = parts.join(" · ");
    bar.hidden = parts.length === 0;
    if (typing.length) {
      clearTimeout(this.typingRender);
      this.typingRender = setTimeout(function () { self.renderViewers(); }, 6100);
    }
  };

  ConversationPage.prototype.contactTyping = function (name) {
    var line = $('[data-testid="typing"]');
    line.textContent = fmt(t("%(name)s is typing…"), { name: name });
    var self = this;
    clearTimeout(this.contactTypingTimer);
    this.contactTypingTimer = setTimeout(function () { self.clearContactTyping(); }, 6000);
  };

  ConversationPage.prototype.clearContactTyping = function () {
    clearTimeout(this.contactTypingTimer);
    var line = $('[data-testid="typing"]');
    if (line) line.textContent = "";
  };

  // ---- notices: events meant for this operator alone (SLA escalations, follow-ups due) ------
  // They stay on screen until dismissed, each with a link to its conversation; the page hears them
  // through the "lines:event" DOM event every socket event is re-dispatched as.
  var NOTICE_TARGETS = {
    first_response: t("First response"),
    next_response: t("Next response"),
    resolution: t("Resolution")
  };

  function noticeList() {
    var list = $('[data-testid="notices"]');
    if (!list) {
      list = el("div", { class: "notices", "data-testid": "notices", role: "status", "aria-live": "polite" });
      document.body.appendChild(list);
    }
    return list;
  }

  function showNotice(kind, title, detail, conversationId) {
    var item = el("div", { class: "notice notice-" + kind.replace(/\./g, "-"), "data-testid": "notice", "data-kind": kind });
    item.appendChild(el("strong", { class: "notice-title" }, title));
    if (detail) item.appendChild(el("span", { class: "notice-detail", "data-testid": "notice-detail" }, detail));
    if (conversationId) {
      item.appendChild(el("a", {
        class: "notice-link",
        "data-testid": "notice-link",
        href: "/conversations/" + encodeURIComponent(conversationId)
      }, fmt(t("Open conversation #%(id)s"), { id: conversationId })));
    }
    var close = el("button", { type: "button", class: "btn btn-ghost notice-close", "data-testid": "notice-dismiss" }, t("Dismiss"));
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(close);
    noticeList().appendChild(item);
  }

  document.addEventListener("lines:event", function (event) {
    var type = event.detail && event.detail.type;
    var data = (event.detail && event.detail.data) || {};
    if (type === "notification" && (data.kind === "sla.breached" || data.kind === "sla.warning")) {
      var title = data.kind === "sla.breached" ? t("SLA breached") : t("SLA deadline close");
      showNotice(data.kind, title, NOTICE_TARGETS[data.target] || "", data.conversation_id);
    } else if (type === "follow_up.due") {
      showNotice(type, t("Follow-up due"), data.note || "", data.conversation_id);
    }
  });

  // ---- priority: the select on the conversation page sets it; a change by anyone else follows live
  function setupPriority() {
    var select = $('[data-testid="priority-select"]');
    if (!select) return;
    var id = Number(select.getAttribute("data-conversation-id"));
    var shown = select.value;
    select.addEventListener("change", function () {
      var wanted = select.value;
      select.disabled = true;
      api("POST", "/api/v1/conversations/" + encodeURIComponent(id) + "/priority", { priority: wanted })
        .then(function (c) {
          shown = c.priority;
          select.value = shown;
          toast(fmt(t("Priority set to %(priority)s."), { priority: select.options[select.selectedIndex].text }));
        })
        .catch(function (error) { select.value = shown; fail(error); })
        .then(function () { select.disabled = false; });
    });
    document.addEventListener("lines:event", function (event) {
      var type = event.detail && event.detail.type;
      var c = event.detail && event.detail.data;
      if ((type === "conversation.updated" || type === "conversation.assigned") && c && c.id === id && c.priority) {
        shown = c.priority;
        if (!select.disabled) select.value = shown;
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setupPriority);
  else setupPriority();

  // ---- start ---------------------------------------------------------------------------------
  function start() {
    refreshTimes();
    setInterval(refreshTimes, 30000);
    if (!ME) return;
    var presence = setupPresence();
    var page = null;
    var socket = new EventSocket({
      open: function () {
        // After every (re)connect re-read the state: events sent while we were away are not replayed.
        if (page && page.open) page.open();
        else if (page) page.resync();
      },
      resync: function () { if (page) page.resync(); },
      event: function (type, data) {
        if (type === "operator.presence" && presence) presence(data);
        if (page) page.event(type, data);
        document.dispatchEvent(new CustomEvent("lines:event", { detail: { type: type, data: data } }));
      }
    });
    if (DATA.page === "inbox") page = new Inbox();
    else if (DATA.page === "conversation") page = new ConversationPage(socket);
    window.LinesConsole = { socket: socket, page: page };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
