// The lead's routing page: the rules as forms (and raw JSON), preview, what-if, publish, history,
// rollback, the live queue and the skills matrix with capacity. Every visible word comes from the
// server-rendered template.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("lines-data").textContent);
  const root = document.querySelector("[data-testid=routing]");
  if (!root) return;
  const $ = (selector, scope) => (scope || root).querySelector(selector);
  const message = (name) => document.querySelector(`[data-message=${name}]`).textContent;
  let live = DATA.rules || {};
  let extras = { lead_types: {}, routes: {} }; // fields the form does not show are kept as they were

  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (method !== "GET" && DATA.csrf) headers["X-CSRF-Token"] = DATA.csrf;
    const response = await fetch(path, { method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined });
    const data = await response.json();
    if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
    return data;
  }

  const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);
  const skills = (text) => Object.fromEntries(list(text).map((p) => { const [k, v] = p.split(":"); return [k.trim(), parseInt(v || "1", 10)]; }));
  const showSkills = (obj) => Object.entries(obj || {}).map(([k, v]) => `${k}:${v}`).join(", ");

  function addRow(table, templateId, values) {
    const row = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
    for (const input of row.querySelectorAll("[data-k]")) {
      const value = values[input.dataset.k];
      if (value !== undefined && value !== null) input.value = Array.isArray(value) ? value.join(", ") : value;
    }
    $(`[data-testid=${table}] tbody`).appendChild(row);
    return row;
  }

  function fill(rules) {
    for (const name of ["lead-types", "routes"]) $(`[data-testid=${name}] tbody`).replaceChildren();
    extras = { lead_types: {}, routes: {} };
    for (const t of rules.lead_types || []) {
      const when = t.when || {};
      const { channels, keywords_any, language, contact_tags_any, regex, ...rest } = when;
      extras.lead_types[t.id] = rest;
      addRow("lead-types", "lead-type-row", { id: t.id, priority: t.priority, channels, keywords_any, language, contact_tags_any, regex });
    }
    for (const r of rules.routes || []) {
      const o = r.overflow || {};
      extras.routes[r.lead_type] = { drop_required_skills: o.drop_required_skills };
      addRow("routes", "route-row", {
        lead_type: r.lead_type, team: r.team, strategy: r.strategy || "least_loaded",
        required_skills: showSkills(r.required_skills), preferred_skills: showSkills(r.preferred_skills),
        overflow_after: o.after_seconds, overflow_team: o.team, reply_within_seconds: r.reply_within_seconds,
      });
    }
    const sticky = rules.sticky || { enabled: true, within_days: 30 };
    $("[data-field=sticky-enabled]").checked = sticky.enabled !== false;
    $("[data-field=sticky-days]").value = sticky.within_days || 30;
    $("[data-testid=rules-json]").value = JSON.stringify(rules, null, 2);
  }

  function read() {
    const get = (row, k) => row.querySelector(`[data-k=${k}]`).value.trim();
    const leadTypes = [...root.querySelectorAll("[data-testid=lead-types] tbody tr")].map((row) => {
      const id = get(row, "id");
      const when = { ...(extras.lead_types[id] || {}) };
      for (const k of ["channels", "keywords_any", "contact_tags_any"]) if (get(row, k)) when[k] = list(get(row, k));
      for (const k of ["language", "regex"]) if (get(row, k)) when[k] = get(row, k);
      return { id, priority: parseInt(get(row, "priority") || "5", 10), when };
    });
    const routes = [...root.querySelectorAll("[data-testid=routes] tbody tr")].map((row) => {
      const route = { lead_type: get(row, "lead_type"), strategy: get(row, "strategy") };
      if (get(row, "team")) route.team = get(row, "team");
      if (get(row, "required_skills")) route.required_skills = skills(get(row, "required_skills"));
      if (get(row, "preferred_skills")) route.preferred_skills = skills(get(row, "preferred_skills"));
      if (get(row, "overflow_after")) {
        route.overflow = { after_seconds: parseInt(get(row, "overflow_after"), 10) };
        if (get(row, "overflow_team")) route.overflow.team = get(row, "overflow_team");
        const keep = extras.routes[route.lead_type] || {};
        if (keep.drop_required_skills) route.overflow.drop_required_skills = true;
      }
      if (get(row, "reply_within_seconds")) route.reply_within_seconds = parseInt(get(row, "reply_within_seconds"), 10);
      return route;
    });
    const rules = { ...live, lead_types: leadTypes, routes };
    rules.sticky = { enabled: $("[data-field=sticky-enabled]").checked, within_days: parseInt($("[data-field=sticky-days]").value || "30", 10) };
    $("[data-testid=rules-json]").value = JSON.stringify(rules, null, 2);
    return rules;
  }

  function status(text, error) {
    const el = $("[data-testid=routing-status]");
    el.textContent = text;
    el.classList.toggle("error", !!error);
  }

  async function loadHistory() {
    const body = await api("GET", "/api/v1/routing/rules/history");
    const tbody = $("[data-testid=history] tbody");
    tbody.replaceChildren();
    for (const v of body.versions) {
      const row = addRow("history", "history-row", {});
      row.querySelector("[data-k=version]").textContent = v.version;
      row.querySelector("[data-k=author]").textContent = v.author;
      row.querySelector("[data-k=created_at]").textContent = new Date(v.created_at).toLocaleString();
      row.querySelector("[data-k=comment]").textContent = v.comment;
      row.querySelector("[data-action=rollback]").dataset.version = v.version;
    }
  }

  async function loadLive() {
    const body = await api("GET", "/api/v1/routing/rules");
    live = body.rules || {};
    $("[data-testid=live-version]").textContent = body.version || "—";
    fill(live);
  }

  // The live queue is re-read when the server says it changed (`routing.queue_changed` on the
  // operator socket, throttled there); bursts are folded into one read a second here too. Only while
  // the socket is down does the page poll, slowly. Waits tick up locally between reads.
  const QUEUE_MIN_GAP = 1000;
  const QUEUE_FALLBACK_POLL = 15000;
  let queue = null;
  let queueReadAt = 0;
  let queueTimer = null;
  let queuePoll = null;

  async function loadQueue() {
    queueReadAt = Date.now();
    try {
      queue = await api("GET", "/api/v1/routing/queue");
      queueReadAt = Date.now();
      renderQueue();
    } catch (err) { /* the next event or poll tries again */ }
  }

  function waited(seconds) {
    return seconds === null || seconds === undefined ? null : seconds + (Date.now() - queueReadAt) / 1000;
  }

  function renderQueue() {
    if (!queue) return;
    const q = queue;
    const longest = waited(q.longest_wait_seconds);
    $("[data-testid=queue-waiting]").textContent = q.waiting;
    $("[data-testid=queue-longest]").textContent = longest === null ? "—" : Math.round(longest);
    const types = $("[data-testid=queue-types] tbody");
    types.replaceChildren(...q.by_lead_type.map((t) => cells([t.lead_type || "—", t.waiting, Math.round(waited(t.longest_wait_seconds) || 0)])));
    const ops = $("[data-testid=queue-operators] tbody");
    ops.replaceChildren(...q.operators.map((o) => cells([
      o.name, o.presence, `${o.load.chat} / ${o.capacity.chat ?? 0}`, `${o.load.email} / ${o.capacity.email ?? 0}`, showSkills(o.skills),
    ])));
  }

  function queueChanged() {
    if (queueTimer !== null) return;
    const gap = Math.max(0, queueReadAt + QUEUE_MIN_GAP - Date.now());
    queueTimer = setTimeout(() => { queueTimer = null; loadQueue(); }, gap);
  }

  function queueLive(connected) {
    document.body.dataset.queueUpdates = connected ? "push" : "poll";
    clearInterval(queuePoll);
    queuePoll = connected ? null : setInterval(loadQueue, QUEUE_FALLBACK_POLL);
    if (connected) queueChanged(); // events sent while the socket was down are not replayed
  }

  document.addEventListener("lines:event", (event) => {
    if (event.detail.type === "routing.queue_changed") queueChanged();
  });
  document.addEventListener("lines:socket", (event) => queueLive(event.detail.connected));

  function cells(values) {
    const tr = document.createElement("tr");
    for (const v of values) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
    return tr;
  }

  // The skills matrix: one row per operator the lead may edit, one column per skill, and capacity
  // per channel kind. Each row is saved alone with PATCH /api/v1/operators/{id}.
  const SKILL_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
  const matrix = () => $("[data-testid=skills-matrix]");
  const skillColumns = () => [...matrix().querySelectorAll("thead th[data-skill]")].map((th) => th.dataset.skill);

  function skillsStatus(text, error) {
    const el = $("[data-testid=skills-status]");
    el.textContent = text;
    el.classList.toggle("error", !!error);
  }

  function levelInput(skill, value) {
    const input = document.createElement("input");
    Object.assign(input, { type: "number", min: 0, max: 5, step: 1, className: "num" });
    input.dataset.skill = skill;
    input.setAttribute("aria-label", skill);
    if (value) input.value = value;
    return input;
  }

  function addSkillColumn(skill) {
    const th = document.createElement("th");
    th.dataset.skill = skill;
    th.textContent = skill;
    const last = matrix().querySelector("thead th:last-child");
    last.before(th);
    for (const row of matrix().querySelectorAll("tbody tr")) {
      const td = document.createElement("td");
      td.appendChild(levelInput(skill, row.dataset.skills ? JSON.parse(row.dataset.skills)[skill] : undefined));
      row.lastElementChild.before(td);
    }
  }

  function fillOperatorRow(row, operator) {
    row.dataset.operatorId = operator.id;
    row.dataset.skills = JSON.stringify(operator.skills || {});
    row.querySelector("[data-k=name]").textContent = operator.name;
    row.querySelector("[data-k=teams]").textContent = (operator.teams || []).join(", ");
    for (const kind of ["chat", "email"]) {
      const value = (operator.capacity || {})[kind];
      row.querySelector(`[data-capacity=${kind}]`).value = value === undefined || value === null ? "" : value;
    }
    for (const input of row.querySelectorAll("[data-skill]")) input.value = (operator.skills || {})[input.dataset.skill] || "";
  }

  function fillMatrix(operators) {
    const known = new Set(skillColumns());
    const skillNames = [...new Set(operators.flatMap((o) => Object.keys(o.skills || {})))].sort();
    for (const operator of operators) {
      const row = document.getElementById("skills-row").content.firstElementChild.cloneNode(true);
      fillOperatorRow(row, operator);
      for (const skill of skillColumns()) {
        const td = document.createElement("td");
        td.appendChild(levelInput(skill, (operator.skills || {})[skill]));
        row.lastElementChild.before(td);
      }
      $("[data-testid=skills-matrix] tbody").appendChild(row);
    }
    for (const skill of skillNames) if (!known.has(skill)) addSkillColumn(skill);
    $("[data-testid=skills-empty]").hidden = operators.length > 0;
  }

  function whole(input, max) {
    const text = input.value.trim();
    const ok = !input.validity.badInput && /^\d+$/.test(text) && parseInt(text, 10) <= max;
    return ok ? parseInt(text, 10) : null;
  }

  function readOperatorRow(row) {
    for (const input of row.querySelectorAll("input")) input.removeAttribute("aria-invalid");
    const invalid = (input, name) => { input.setAttribute("aria-invalid", "true"); input.focus(); throw new Error(message(name)); };
    const capacity = {};
    for (const kind of ["chat", "email"]) {
      const input = row.querySelector(`[data-capacity=${kind}]`);
      const value = whole(input, 1000);
      if (value === null) invalid(input, "bad-capacity");
      capacity[kind] = value;
    }
    const skills = {};
    for (const input of row.querySelectorAll("[data-skill]")) {
      if (input.value.trim() === "" && !input.validity.badInput) continue;
      const level = whole(input, 5);
      if (level === null) invalid(input, "bad-level");
      if (level > 0) skills[input.dataset.skill] = level;
    }
    return { skills, capacity };
  }

  async function saveOperator(row) {
    const name = row.querySelector("[data-k=name]").textContent;
    let body;
    try {
      body = readOperatorRow(row);
    } catch (err) {
      skillsStatus(`${name}: ${err.message}`, true);
      return;
    }
    const saved = await api("PATCH", `/api/v1/operators/${row.dataset.operatorId}`, body).catch((err) => {
      skillsStatus(`${name}: ${err.message}`, true);
      return null;
    });
    if (!saved) return;
    fillOperatorRow(row, saved);
    skillsStatus(`${message("saved")}: ${name}`);
    loadQueue();
  }

  function addSkill() {
    const field = $("[data-field=new-skill]");
    const skill = field.value.trim().toLowerCase();
    field.removeAttribute("aria-invalid");
    if (!SKILL_NAME.test(skill)) { field.setAttribute("aria-invalid", "true"); skillsStatus(message("bad-skill"), true); return; }
    if (skillColumns().includes(skill)) { field.setAttribute("aria-invalid", "true"); skillsStatus(message("skill-exists"), true); return; }
    addSkillColumn(skill);
    field.value = "";
    skillsStatus("");
  }

  async function simulate() {
    const draft = read();
    const load = {
      sample: $("[data-field=sim-sample]").value,
      days: parseInt($("[data-field=sim-days]").value || "7", 10),
      hours: parseFloat($("[data-field=sim-hours]").value || "168"),
      arrivals_per_hour: { webchat: parseFloat($("[data-field=sim-rate]").value || "30") },
      handle_minutes: parseFloat($("[data-field=sim-handle]").value || "8"),
    };
    const tbody = $("[data-testid=simulation] tbody");
    // One after the other: the server runs one simulation per lead at a time (a second is a 429).
    const a = await api("POST", "/api/v1/routing/simulate", { ...load, rules: draft });
    const b = await api("POST", "/api/v1/routing/simulate", load);
    tbody.replaceChildren();
    for (const [label, result] of [[message("draft"), a], [message("live"), b]]) {
      const teams = Object.entries(result.teams);
      // Every rules set gets a row, also when nothing of the load reached any operator.
      if (!teams.length) tbody.appendChild(cells([label, "—", 0, "—", "—", "—", result.never_assigned]));
      teams.forEach(([team, t], i) => {
        tbody.appendChild(cells([label, team, t.conversations, Math.round(t.wait_p50_seconds), Math.round(t.wait_p99_seconds), `${Math.round(t.answered_within_target * 100)}%`, i === 0 ? result.never_assigned : ""]));
      });
    }
    const presence = $("[data-testid=simulation-presence]");
    presence.textContent = message(b.presence === "history" ? "presence-history" : "presence-everyone");
    presence.hidden = false;
    $("[data-testid=simulation]").hidden = false;
  }

  root.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    try {
      switch (button.dataset.action) {
        case "add-lead-type": addRow("lead-types", "lead-type-row", { priority: 5 }); break;
        case "add-route": addRow("routes", "route-row", { strategy: "least_loaded" }); break;
        case "remove-row": button.closest("tr").remove(); break;
        case "import-json": fill(JSON.parse($("[data-testid=rules-json]").value)); break;
        case "preview": {
          const result = await api("POST", "/api/v1/routing/preview", {
            rules: read(), channel: $("[data-field=preview-channel]").value,
            text: $("[data-field=preview-text]").value, contact_tags: list($("[data-field=preview-tags]").value),
          });
          const who = result.operator ? result.operator.name : message("nobody");
          $("[data-testid=preview-result]").textContent = `${result.lead_type || "—"} → ${result.team || "—"} → ${who}`;
          $("[data-testid=preview-result]").classList.remove("error");
          break;
        }
        case "simulate": await simulate(); break;
        case "add-skill": addSkill(); break;
        case "save-operator": await saveOperator(button.closest("tr")); break;
        case "publish": {
          const body = await api("PUT", "/api/v1/routing/rules", { rules: read(), comment: $("[data-field=comment]").value });
          status(`${message("published")} ${body.version}`);
          await loadLive(); await loadHistory();
          break;
        }
        case "rollback": {
          const body = await api("POST", `/api/v1/routing/rules/history/${button.dataset.version}/rollback`);
          status(`${message("published")} ${body.version}`);
          await loadLive(); await loadHistory();
          break;
        }
      }
    } catch (err) {
      if (button.dataset.action === "preview") {
        $("[data-testid=preview-result]").textContent = err.message;
        $("[data-testid=preview-result]").classList.add("error");
      } else {
        status(err.message, true);
      }
    }
  });

  $("[data-field=new-skill]").addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); addSkill(); }
  });

  fill(live);
  fillMatrix(DATA.operators || []);
  loadHistory();
  loadQueue();
  queueLive(false); // until the operator socket says it is connected
  setInterval(() => { if (!document.hidden) renderQueue(); }, 1000); // the waits tick between reads
})();
