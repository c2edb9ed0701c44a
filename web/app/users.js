// users.js — the user accounts page (/app/users, admin): lists GET /api/users sorted by name
// (Vietnamese order) with roles and scope, filters the list as you type, and creates accounts
// with POST /api/users. The display name is composed as "Họ và tên – Chức vụ – Đơn vị"; each role
// row picks a scope (whole system, a unit, or a site from a picker grouped by unit). The form
// checks what it can before sending and shows the server's validation message on the field named.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;

  const USERNAME = /^[a-z0-9._-]{3,64}$/;
  const MIN_PASSWORD = 10;
  const PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.";

  let users = [];
  let sites = [];
  let units = []; // [{id, name, expired}] — units that have sites (a unit scope needs sites)
  const names = { sites: {}, units: {} };

  // ------------------------------------------------------------------ data

  async function loadOrg() {
    sites = (await GB.api("GET", "/api/sites")) || [];
    const today = GB.today();
    const byUnit = new Map();
    for (const s of sites) {
      names.sites[s.id] = s.name;
      names.units[s.unit_id] = s.unit_name;
      s.expired = !!(s.valid_to && s.valid_to < today);
      if (!byUnit.has(s.unit_id)) byUnit.set(s.unit_id, { id: s.unit_id, name: s.unit_name, expired: s.expired });
    }
    units = GB.sortVi([...byUnit.values()], (u) => u.name);
  }

  async function loadUsers() {
    users = GB.sortVi((await GB.api("GET", "/api/users")) || [], (u) => u.display_name);
    renderUsers();
  }

  // ------------------------------------------------------------------ list

  function fold(s) {
    return String(s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
  }

  function renderUsers() {
    const q = fold($("filter").value.trim());
    const shown = users.filter((u) => !q || fold([u.display_name, u.username,
      ...u.grants.map((g) => GB.grantLabel(g, names))].join(" ")).includes(q));
    $("count").textContent = t("users.count", { shown: shown.length, total: users.length });
    const body = GB.clear($("rows"));
    if (!shown.length) {
      body.append(el("tr", null, el("td", { colspan: 6, class: "empty" }, t(users.length ? "users.noMatch" : "users.none"))));
      return;
    }
    shown.forEach((u, i) => {
      body.append(el("tr", { class: u.disabled ? "is-off" : null },
        el("td", { class: "num" }, String(i + 1)),
        el("td", null, u.display_name),
        el("td", { class: "mono" }, u.username),
        el("td", null, el("ul", { class: "role-list" }, GB.sortGrants(u.grants).map((g) =>
          el("li", null, el("span", { class: `badge ${g.role === "admin" ? "badge-danger" : "badge-info"}` }, GB.grantLabel(g, names)))))),
        el("td", null, el("span", { class: `badge ${u.disabled ? "" : "badge-ok"}` }, t(u.disabled ? "users.disabled" : "users.active"))),
        el("td", { class: "time" }, GB.fmtDate(u.created_at))));
    });
  }

  // ------------------------------------------------------------------ role rows

  let rowSeq = 0;

  function roleOptions(selected) {
    return GB.ROLES.map((r) => el("option", { value: r, selected: r === selected }, GB.roleLabel(r)));
  }

  function scopeOptions(role, selected) {
    const siteOnly = role === "site_operator";
    return ["all", "unit", "site"].map((s) => el("option", {
      value: s, selected: s === selected, disabled: siteOnly && s !== "site",
    }, t(`users.scope.${s}`)));
  }

  function expiredMark(x) {
    return x.expired ? ` (${t("org.expired")})` : "";
  }

  function targetOptions(scope, selected) {
    const first = el("option", { value: "" }, t(scope === "site" ? "users.pickSite" : "users.pickUnit"));
    if (scope === "unit") {
      return [first, ...units.map((u) => el("option", { value: u.id, selected: u.id === selected }, u.name + expiredMark(u)))];
    }
    // Sites grouped by unit, both in Vietnamese order.
    const groups = units.map((u) => el("optgroup", { label: u.name + expiredMark(u) },
      GB.sortVi(sites.filter((s) => s.unit_id === u.id), (s) => s.name).map((s) =>
        el("option", { value: s.id, selected: s.id === selected }, s.name + (s.is_host ? ` – ${t("org.host")}` : "")))));
    return [first, ...groups];
  }

  function grantRow(initial) {
    const n = ++rowSeq;
    const state = Object.assign({ role: "secretariat", scope: "all", target: "" }, initial || {});
    const role = el("select", { id: `g-role-${n}`, class: "g-role" });
    const scope = el("select", { id: `g-scope-${n}`, class: "g-scope" });
    const target = el("select", { id: `g-target-${n}`, class: "g-target" });
    const targetLabel = el("label", { for: `g-target-${n}` });
    const remove = el("button", { type: "button", class: "btn btn-small btn-danger" }, t("users.removeRole"));
    const row = el("div", { class: "grant-row" },
      el("div", { class: "field" }, el("label", { for: `g-role-${n}` }, t("users.f.role")), role),
      el("div", { class: "field" }, el("label", { for: `g-scope-${n}` }, t("users.f.scope")), scope),
      el("div", { class: "field g-target-field" }, targetLabel, target),
      el("div", null, remove));

    function fill() {
      if (state.role === "site_operator") state.scope = "site";
      role.replaceChildren(...roleOptions(state.role));
      scope.replaceChildren(...scopeOptions(state.role, state.scope));
      target.closest(".g-target-field").hidden = state.scope === "all";
      targetLabel.textContent = t(state.scope === "site" ? "users.f.site" : "users.f.unitScope");
      if (state.scope !== "all") target.replaceChildren(...targetOptions(state.scope, state.target));
      remove.textContent = t("users.removeRole");
    }
    role.addEventListener("change", () => { state.role = role.value; fill(); });
    scope.addEventListener("change", () => { state.scope = scope.value; state.target = ""; fill(); });
    target.addEventListener("change", () => { state.target = target.value; target.removeAttribute("aria-invalid"); });
    remove.addEventListener("click", () => {
      row.remove();
      if (!$("grant-rows").children.length) addGrantRow();
      else $("add-grant").focus();
    });
    row.gb = { state, fill, target };
    fill();
    return row;
  }

  function addGrantRow(initial) {
    const row = grantRow(initial);
    $("grant-rows").append(row);
    return row;
  }

  // ------------------------------------------------------------------ form

  function displayName() {
    return ["f-fullname", "f-position", "f-unit"].map((id) => $(id).value.trim().replace(/\s+/g, " "))
      .filter(Boolean).join(" – ");
  }

  function updatePreview() {
    $("display-preview").textContent = displayName() || "—";
  }

  function generatePassword() {
    const bytes = new Uint32Array(16);
    window.crypto.getRandomValues(bytes);
    const pw = Array.from(bytes, (b) => PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length]).join("");
    $("f-password").value = pw;
    $("show-password").checked = true;
    $("f-password").type = "text";
    $("f-password").removeAttribute("aria-invalid");
    GB.toast(t("users.passwordGenerated"), "info");
  }

  function clearErrors() {
    $("form-error").textContent = "";
    $("add-form").querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  }

  function fail(message, input) {
    $("form-error").textContent = message;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  // Grants from the role rows, or an error {message, input}.
  function collectGrants() {
    const grants = [];
    const seen = new Set();
    for (const row of $("grant-rows").children) {
      const { state, target } = row.gb;
      const g = { role: state.role };
      if (state.scope !== "all") {
        if (!state.target) return { error: t(state.scope === "site" ? "users.err.pickSite" : "users.err.pickUnit"), input: target };
        g[state.scope === "site" ? "site_id" : "unit_id"] = state.target;
      }
      const key = JSON.stringify(g);
      if (!seen.has(key)) { seen.add(key); grants.push(g); }
    }
    if (!grants.length) return { error: t("invalid.grants.count"), input: $("add-grant") };
    return { grants };
  }

  const FIELD_INPUT = { username: "f-username", display_name: "f-fullname", password: "f-password" };

  async function submit(ev) {
    ev.preventDefault();
    clearErrors();
    const username = $("f-username").value.trim();
    const password = $("f-password").value;
    const display = displayName();
    if (!USERNAME.test(username)) return fail(t("invalid.username"), $("f-username"));
    if (password.length < MIN_PASSWORD) return fail(t("invalid.password"), $("f-password"));
    if (!$("f-fullname").value.trim() || display.length > 200) return fail(t("invalid.display_name"), $("f-fullname"));
    const g = collectGrants();
    if (g.error) return fail(g.error, g.input);

    const btn = $("submit");
    btn.disabled = true;
    try {
      await GB.api("POST", "/api/users", { username, display_name: display, password, grants: g.grants });
      GB.toast(t("users.created", { name: display, username }), "success");
      resetForm();
      await loadUsers();
    } catch (e) {
      const field = GB.errorField(e);
      let input = field && FIELD_INPUT[field] ? $(FIELD_INPUT[field]) : null;
      if (field === "grants") input = $("grant-rows").querySelector("select");
      if (e.code === "conflict") input = $("f-username");
      fail(GB.errorText(e), input);
    } finally {
      btn.disabled = false;
    }
  }

  function resetForm() {
    $("add-form").reset();
  }

  function onReset() {
    // Runs before the browser resets the inputs: rebuild the rows once it has.
    setTimeout(() => {
      clearErrors();
      $("f-password").type = "password";
      GB.clear($("grant-rows"));
      addGrantRow();
      updatePreview();
    }, 0);
  }

  function onLang() {
    renderUsers();
    for (const row of $("grant-rows").children) row.gb.fill();
  }

  GB.page({ nav: "users", title: "users.title", roles: ["admin"] }, async () => {
    $("add-form").addEventListener("submit", submit);
    $("add-form").addEventListener("reset", onReset);
    $("filter").addEventListener("input", renderUsers);
    $("add-grant").addEventListener("click", () => {
      const row = addGrantRow();
      row.querySelector("select").focus();
    });
    $("gen-password").addEventListener("click", generatePassword);
    $("show-password").addEventListener("change", (e) => { $("f-password").type = e.target.checked ? "text" : "password"; });
    for (const id of ["f-fullname", "f-position", "f-unit"]) $(id).addEventListener("input", updatePreview);
    for (const id of ["f-username", "f-password", "f-fullname"]) {
      $(id).addEventListener("input", () => $(id).removeAttribute("aria-invalid"));
    }
    window.addEventListener("gb:langchange", onLang);
    await loadOrg();
    addGrantRow();
    await loadUsers();
  });
})();
