// The administration pages (/admin/operators, /admin/teams): forms that call the API and show its
// refusals at the field they concern. Every visible word comes from the server-rendered template.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("lines-data").textContent);
  const root = document.querySelector("[data-testid=admin-operators], [data-testid=admin-teams]");
  if (!root || !DATA.editable) return;
  const message = (name) => {
    const el = root.querySelector(`[data-message="${name}"]`);
    return el ? el.textContent : "";
  };

  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (DATA.csrf) headers["X-CSRF-Token"] = DATA.csrf;
    const response = await fetch(path, { method, headers, credentials: "same-origin", body: JSON.stringify(body) });
    let data = {};
    try { data = await response.json(); } catch (err) { data = {}; }
    if (!response.ok) {
      const error = data.error || {};
      throw { status: response.status, code: error.code || "failed", message: error.message || "" };
    }
    return data;
  }

  // The API names the field first: "name: String should have at least 1 character", "capacity.chat: …".
  function fieldOf(error) {
    const byCode = { login_taken: "login", team_exists: "name", unknown_team: "teams", unknown_operator: "members" };
    if (byCode[error.code]) return byCode[error.code];
    const match = /^([a-z_]+)[.:]/.exec(error.message || "");
    return match ? match[1] : null;
  }

  function clearErrors(form) {
    for (const el of form.querySelectorAll("[data-error-for]")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    form.querySelector("[data-testid=form-error]").hidden = true;
  }

  function showError(form, error) {
    const field = fieldOf(error);
    const slot = field && form.querySelector(`[data-error-for="${field}"]`);
    if (slot) {
      slot.textContent = message(error.code) || message(`field-${field}`) || message("field-any");
      const input = form.querySelector(`[name="${field}"]`);
      if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
      return;
    }
    const box = form.querySelector("[data-testid=form-error]");
    box.textContent = error.status === 403 ? message("forbidden") : message("failed");
    box.hidden = false;
  }

  function openForm(form, editing) {
    clearErrors(form);
    form.reset();
    form.dataset.id = editing ? String(editing.id) : "";
    for (const el of form.querySelectorAll("[data-new]")) el.textContent = editing ? el.dataset.edit : el.dataset.new;
    form.hidden = false;
    form.scrollIntoView({ block: "nearest" });
  }

  const checked = (form, name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
  const setChecked = (form, name, values) => {
    for (const input of form.querySelectorAll(`input[name="${name}"]`)) input.checked = values.includes(input.value);
  };

  async function submit(form, save) {
    clearErrors(form);
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      await save();
      window.location.reload();
    } catch (error) {
      showError(form, error && error.code ? error : { code: "failed" });
    } finally {
      button.disabled = false;
    }
  }

  root.addEventListener("click", (event) => {
    const cancel = event.target.closest("[data-action=cancel]");
    if (cancel) cancel.closest("form").hidden = true;
  });

  // Operators
  const operatorForm = root.querySelector("[data-testid=operator-form]");
  if (operatorForm) {
    const byId = new Map(DATA.operators.map((o) => [o.id, o]));
    const showSkills = (skills) => Object.entries(skills || {}).map(([k, v]) => `${k}:${v}`).join(", ");
    const readSkills = (text) => {
      const skills = {};
      for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
        const [name, level] = part.split(":").map((s) => s.trim());
        skills[name] = level === undefined || level === "" ? 1 : /^\d+$/.test(level) ? parseInt(level, 10) : level;
      }
      return skills;
    };
    const readCapacity = () => {
      const capacity = {};
      for (const kind of ["chat", "email"]) {
        const raw = operatorForm.elements[`capacity-${kind}`].value.trim();
        if (raw !== "") capacity[kind] = /^\d+$/.test(raw) ? parseInt(raw, 10) : raw;
      }
      return capacity;
    };

    root.querySelector("[data-action=new-operator]").addEventListener("click", () => {
      openForm(operatorForm, null);
      operatorForm.elements.login.readOnly = false;
      operatorForm.elements["capacity-chat"].value = "5";
      operatorForm.elements["capacity-email"].value = "10";
    });

    root.addEventListener("click", async (event) => {
      const row = event.target.closest("[data-testid=operator-row]");
      if (!row) return;
      const operator = byId.get(parseInt(row.dataset.id, 10));
      if (event.target.closest("[data-action=edit-operator]")) {
        openForm(operatorForm, operator);
        const f = operatorForm.elements;
        f.login.value = operator.login;
        f.login.readOnly = true;
        f.name.value = operator.name;
        f.email.value = operator.email || "";
        f.role.value = operator.role;
        setChecked(operatorForm, "teams", operator.teams);
        f.skills.value = showSkills(operator.skills);
        f["capacity-chat"].value = (operator.capacity || {}).chat ?? "";
        f["capacity-email"].value = (operator.capacity || {}).email ?? "";
      }
      const toggle = event.target.closest("[data-action=set-active]");
      if (toggle) {
        toggle.disabled = true;
        try {
          await api("PATCH", `/api/v1/operators/${operator.id}`, { active: toggle.dataset.active === "true" });
          window.location.reload();
        } catch (error) {
          toggle.disabled = false;
          window.alert(error.status === 403 ? message("forbidden") : message("failed"));
        }
      }
    });

    operatorForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = operatorForm.elements;
      const body = {
        name: f.name.value.trim(),
        email: f.email.value.trim() || null,
        role: f.role.value,
        teams: checked(operatorForm, "teams"),
        skills: readSkills(f.skills.value),
        capacity: readCapacity(),
      };
      const id = operatorForm.dataset.id;
      if (f.password.value || !id) body.password = f.password.value;
      submit(operatorForm, () => {
        if (!id) return api("POST", "/api/v1/operators", { ...body, login: f.login.value.trim() });
        const current = byId.get(parseInt(id, 10));
        if (current.id === DATA.me_id) delete body.role; // an admin keeps their own role
        return api("PATCH", `/api/v1/operators/${id}`, body);
      });
    });
  }

  // Teams
  const teamForm = root.querySelector("[data-testid=team-form]");
  if (teamForm) {
    const byId = new Map(DATA.teams.map((t) => [t.id, t]));
    root.querySelector("[data-action=new-team]").addEventListener("click", () => {
      openForm(teamForm, null);
      teamForm.elements.name.readOnly = false;
    });
    root.addEventListener("click", (event) => {
      if (!event.target.closest("[data-action=edit-team]")) return;
      const team = byId.get(parseInt(event.target.closest("[data-testid=team-row]").dataset.id, 10));
      openForm(teamForm, team);
      teamForm.elements.name.value = team.name;
      teamForm.elements.name.readOnly = true;
      teamForm.elements.title.value = team.title;
      setChecked(teamForm, "members", team.members);
    });
    teamForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = teamForm.elements;
      const members = checked(teamForm, "members");
      const id = teamForm.dataset.id;
      submit(teamForm, async () => {
        if (id) return api("PATCH", `/api/v1/teams/${id}`, { title: f.title.value.trim(), members });
        const created = await api("POST", "/api/v1/teams", { name: f.name.value.trim(), title: f.title.value.trim() });
        if (members.length) await api("PATCH", `/api/v1/teams/${created.id}`, { members });
        return created;
      });
    });
  }
})();
