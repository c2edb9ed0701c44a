// org.js — the units and sites page (/app/org): GET /api/units and /api/sites drawn as a tree
// (parent → children; within a level by kind, then Vietnamese name order) with kind, validity and
// a "Hết hiệu lực" badge, each unit's sites below it, a search box and "hide expired". Admins add
// and edit units (POST /api/units, PATCH /api/units/{id} with only the changed fields) and add or
// rename sites (PUT /api/sites/{id}); admins and the secretariat manage a site's room-PC device
// credentials (list, issue with the token shown once, revoke) in a dialog; its kiosk pairing code
// and the site's stable link are in org-kiosk.js (window.GBOrg gives it the dialog's site).
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;

  // Kinds in the order a level of the tree lists them; others follow.
  const KINDS = ["city", "department", "district", "ward", "commune"];
  const SLUG = /^[a-z0-9-]{1,64}$/;

  let isAdmin = false;
  let canDevices = false;
  let units = [];
  let sites = [];
  let byId = new Map();
  let children = new Map();
  let roots = [];
  let sitesOf = new Map();
  let today = "";

  // ------------------------------------------------------------------ data

  function kindRank(k) {
    const i = KINDS.indexOf(k);
    return i < 0 ? KINDS.length : i;
  }

  function compareUnits(a, b) {
    return kindRank(a.kind) - kindRank(b.kind) || GB.compareVi(a.name, b.name);
  }

  function index() {
    today = GB.today();
    byId = new Map(units.map((u) => [u.id, u]));
    children = new Map();
    roots = [];
    for (const u of units) {
      if (u.parent_id && u.parent_id !== u.id && byId.has(u.parent_id)) {
        if (!children.has(u.parent_id)) children.set(u.parent_id, []);
        children.get(u.parent_id).push(u);
      } else {
        roots.push(u);
      }
    }
    roots.sort(compareUnits);
    for (const list of children.values()) list.sort(compareUnits);
    sitesOf = new Map();
    for (const s of sites) {
      if (!sitesOf.has(s.unit_id)) sitesOf.set(s.unit_id, []);
      sitesOf.get(s.unit_id).push(s);
    }
    for (const list of sitesOf.values()) list.sort((a, b) => (b.is_host - a.is_host) || GB.compareVi(a.name, b.name));
  }

  async function load() {
    const [u, s] = await Promise.all([GB.api("GET", "/api/units"), GB.api("GET", "/api/sites")]);
    units = u || [];
    sites = s || [];
    index();
    render();
  }

  // Every unit in tree order with its depth (cycles and orphans included once).
  function treeOrder() {
    const out = [];
    const seen = new Set();
    const walk = (u, depth) => {
      if (seen.has(u.id)) return;
      seen.add(u.id);
      out.push({ unit: u, depth });
      for (const c of children.get(u.id) || []) walk(c, depth + 1);
    };
    roots.forEach((u) => walk(u, 0));
    units.filter((u) => !seen.has(u.id)).sort(compareUnits).forEach((u) => walk(u, 0));
    return out;
  }

  function descendants(id) {
    const out = new Set([id]);
    const stack = [id];
    while (stack.length) {
      for (const c of children.get(stack.pop()) || []) {
        if (!out.has(c.id)) { out.add(c.id); stack.push(c.id); }
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ labels

  const isExpired = (u) => !!(u.valid_to && u.valid_to < today);
  const notYetValid = (u) => u.valid_from > today;
  const kindLabel = (k) => (GB.has(`kind.${k}`) ? t(`kind.${k}`) : k);

  function validityText(u) {
    return u.valid_to
      ? t("org.validity.range", { from: GB.fmtDate(u.valid_from), to: GB.fmtDate(u.valid_to) })
      : t("org.validity.open", { from: GB.fmtDate(u.valid_from) });
  }

  function fold(s) {
    return String(s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
  }

  // ------------------------------------------------------------------ tree

  // Ids of the units to draw: those matching the search (or with a matching site), and their
  // ancestors; expired units are left out on request unless a descendant is shown.
  function visibleUnits() {
    const q = fold($("search").value.trim());
    const hide = $("hide-expired").checked;
    const shown = new Set();
    const matches = (u) => !q || fold(`${u.name} ${u.id}`).includes(q)
      || (sitesOf.get(u.id) || []).some((s) => fold(`${s.name} ${s.id}`).includes(q));
    const visit = (u, seen) => {
      if (seen.has(u.id)) return false;
      seen.add(u.id);
      let any = false;
      for (const c of children.get(u.id) || []) if (visit(c, seen)) any = true;
      if (any || ((!hide || !isExpired(u)) && matches(u))) {
        shown.add(u.id);
        return true;
      }
      return false;
    };
    const seen = new Set();
    roots.forEach((u) => visit(u, seen));
    return shown;
  }

  function smallButton(label, aria, run, extra) {
    return el("button", { type: "button", class: `btn btn-small ${extra || ""}`, "aria-label": aria, on: { click: run } }, label);
  }

  function siteNode(s) {
    const actions = [];
    if (isAdmin) actions.push(smallButton(t("org.renameSite"), t("org.renameSiteAria", { name: s.name }), () => openSite(s)));
    if (canDevices) actions.push(smallButton(t("org.devices"), t("org.devicesAria", { name: s.name }), () => openDevices(s)));
    return el("li", { class: "site" },
      el("span", { class: "site-name" }, s.name),
      s.is_host ? el("span", { class: "badge badge-host" }, t("org.host")) : null,
      el("span", { class: "mono muted" }, s.id),
      actions.length ? el("span", { class: "site-actions" }, actions) : null);
  }

  function unitNode(u, shown, seen) {
    seen.add(u.id);
    const expired = isExpired(u);
    const kids = (children.get(u.id) || []).filter((c) => shown.has(c.id) && !seen.has(c.id));
    const list = sitesOf.get(u.id) || [];
    const actions = isAdmin ? el("div", { class: "unit-actions" },
      smallButton(t("org.edit"), t("org.editAria", { name: u.name }), () => openUnit(u)),
      smallButton(t("org.addChild"), t("org.addChildAria", { name: u.name }), () => openUnit(null, u.id)),
      smallButton(t("org.addSite"), t("org.addSiteAria", { name: u.name }), () => openSite(null, u.id))) : null;
    return el("li", { class: ["unit", expired && "is-expired"] },
      el("div", { class: "unit-box" },
        el("div", { class: "unit-head" },
          el("h3", { class: "unit-name" }, u.name),
          el("span", { class: "badge badge-info" }, kindLabel(u.kind)),
          expired ? el("span", { class: "badge badge-danger" }, t("org.expired")) : null,
          !expired && notYetValid(u) ? el("span", { class: "badge badge-warn" }, t("org.notYet")) : null,
          actions),
        el("div", { class: "unit-meta" },
          el("span", null, `${t("org.validity")}: ${validityText(u)}`),
          el("span", null, `${t("org.code")}: `, el("span", { class: "mono" }, u.id)),
          u.managed_by === "config" ? el("span", null, t("org.fromConfig")) : null),
        list.length
          ? el("ul", { class: "sites", "aria-label": t("org.sitesOf", { name: u.name }) }, list.map(siteNode))
          : el("p", { class: "muted small" }, t("org.noSites"))),
      kids.length ? el("ul", { class: "children" }, kids.map((c) => unitNode(c, shown, seen))) : null);
  }

  function render() {
    const shown = visibleUnits();
    const tree = GB.clear($("tree"));
    const seen = new Set();
    const top = roots.filter((u) => shown.has(u.id));
    if (!top.length) tree.append(el("li", { class: "empty" }, t(units.length ? "org.noMatch" : "org.none")));
    top.forEach((u) => tree.append(unitNode(u, shown, seen)));
    $("summary").textContent = t("org.summary", {
      units: units.length, sites: sites.length, expired: units.filter(isExpired).length,
    });
  }

  // ------------------------------------------------------------------ dialogs: shared

  function formFail(errorId, message, input) {
    $(errorId).textContent = message;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
    return false;
  }

  function clearFormErrors(form, errorId) {
    $(errorId).textContent = "";
    form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  }

  function unitOptions(selected, exclude, noneKey) {
    const opts = noneKey ? [el("option", { value: "" }, t(noneKey))] : [];
    for (const { unit, depth } of treeOrder()) {
      if (exclude && exclude.has(unit.id)) continue;
      const mark = isExpired(unit) ? ` (${t("org.expired")})` : "";
      opts.push(el("option", { value: unit.id, selected: unit.id === selected }, `${"— ".repeat(depth)}${unit.name}${mark}`));
    }
    return opts;
  }

  // ------------------------------------------------------------------ unit dialog

  let editingUnit = null;
  let unitIdTouched = false;

  function unitTitle() {
    return editingUnit ? t("org.editUnitTitle", { name: editingUnit.name }) : t("org.addUnitTitle");
  }

  function fillKinds(selected) {
    const all = [...new Set([...KINDS, ...units.map((u) => u.kind)])];
    $("u-kind").replaceChildren(...all.map((k) => el("option", { value: k, selected: k === selected }, kindLabel(k))));
  }

  function openUnit(u, parentId) {
    editingUnit = u;
    unitIdTouched = false;
    const form = $("unit-form");
    form.reset();
    clearFormErrors(form, "unit-error");
    $("unit-dialog-title").textContent = unitTitle();
    $("u-id-field").hidden = !!u;
    $("u-name").value = u ? u.name : "";
    const parent = u ? u.parent_id : parentId;
    fillKinds(u ? u.kind : "department");
    $("u-parent").replaceChildren(...unitOptions(parent || "", u ? descendants(u.id) : null, "org.noParent"));
    $("u-from").value = GB.fmtDate(u ? u.valid_from : today);
    $("u-to").value = u && u.valid_to ? GB.fmtDate(u.valid_to) : "";
    $("unit-config-note").hidden = !(u && u.managed_by === "config");
    $("unit-dialog").showModal();
    $("u-name").focus();
  }

  const UNIT_FIELDS = { id: "u-id", name: "u-name", kind: "u-kind", parent_id: "u-parent", valid_from: "u-from", valid_to: "u-to" };

  async function saveUnit(ev) {
    ev.preventDefault();
    const form = $("unit-form");
    clearFormErrors(form, "unit-error");
    const name = $("u-name").value.trim();
    const kind = $("u-kind").value;
    const parent = $("u-parent").value || null;
    const from = GB.parseDate($("u-from").value);
    const toText = $("u-to").value.trim();
    const to = toText ? GB.parseDate(toText) : null;
    if (!name) return formFail("unit-error", t("invalid.name"), $("u-name"));
    if (!from) return formFail("unit-error", t("org.err.date"), $("u-from"));
    if (toText && !to) return formFail("unit-error", t("org.err.date"), $("u-to"));
    if (to && to < from) return formFail("unit-error", t("invalid.valid_to"), $("u-to"));
    try {
      if (editingUnit) {
        const old = editingUnit;
        const patch = {};
        if (name !== old.name) patch.name = name;
        if (kind !== old.kind) patch.kind = kind;
        if (parent !== (old.parent_id || null)) patch.parent_id = parent;
        if (from !== old.valid_from) patch.valid_from = from;
        if (to !== (old.valid_to || null)) patch.valid_to = to;
        if (!Object.keys(patch).length) {
          $("unit-dialog").close();
          GB.toast(t("common.noChanges"), "info");
          return;
        }
        await GB.api("PATCH", `/api/units/${encodeURIComponent(old.id)}`, patch);
        GB.toast(t("org.unitSaved", { name }), "success");
      } else {
        const id = $("u-id").value.trim();
        if (!SLUG.test(id)) return formFail("unit-error", t("invalid.id"), $("u-id"));
        if (byId.has(id)) return formFail("unit-error", t("conflict.unit", { x: id }), $("u-id"));
        await GB.api("POST", "/api/units", { id, name, kind, parent_id: parent, valid_from: from, valid_to: to });
        GB.toast(t("org.unitCreated", { name }), "success");
      }
      $("unit-dialog").close();
      await load();
    } catch (e) {
      const field = GB.errorField(e) || (e.code === "conflict" ? "id" : null);
      formFail("unit-error", GB.errorText(e), field && UNIT_FIELDS[field] ? $(UNIT_FIELDS[field]) : null);
    }
  }

  // ------------------------------------------------------------------ site dialog

  let editingSite = null;
  let siteIdTouched = false;

  function siteTitle() {
    return editingSite ? t("org.editSiteTitle", { name: editingSite.name }) : t("org.addSiteTitle");
  }

  function openSite(s, unitId) {
    editingSite = s;
    siteIdTouched = false;
    const form = $("site-form");
    form.reset();
    clearFormErrors(form, "site-error");
    $("site-dialog-title").textContent = siteTitle();
    $("s-id-field").hidden = !!s;
    $("s-name").value = s ? s.name : "";
    $("s-unit").replaceChildren(...unitOptions(s ? s.unit_id : unitId, null, null));
    $("s-host").checked = !!(s && s.is_host);
    $("site-dialog").showModal();
    $("s-name").focus();
  }

  const SITE_FIELDS = { id: "s-id", name: "s-name", unit_id: "s-unit" };

  async function saveSite(ev) {
    ev.preventDefault();
    const form = $("site-form");
    clearFormErrors(form, "site-error");
    const name = $("s-name").value.trim();
    const unitId = $("s-unit").value;
    const isHost = $("s-host").checked;
    if (!name) return formFail("site-error", t("invalid.name"), $("s-name"));
    const id = editingSite ? editingSite.id : $("s-id").value.trim();
    if (!editingSite) {
      if (!SLUG.test(id)) return formFail("site-error", t("invalid.id"), $("s-id"));
      if (sites.some((s) => s.id === id)) return formFail("site-error", t("conflict.site", { x: id }), $("s-id"));
    } else if (name === editingSite.name && unitId === editingSite.unit_id && isHost === editingSite.is_host) {
      $("site-dialog").close();
      GB.toast(t("common.noChanges"), "info");
      return;
    }
    try {
      await GB.api("PUT", `/api/sites/${encodeURIComponent(id)}`, { unit_id: unitId, name, is_host: isHost });
      GB.toast(t(editingSite ? "org.siteSaved" : "org.siteCreated", { name }), "success");
      $("site-dialog").close();
      await load();
    } catch (e) {
      const field = GB.errorField(e);
      formFail("site-error", GB.errorText(e), field && SITE_FIELDS[field] ? $(SITE_FIELDS[field]) : null);
    }
  }

  // ------------------------------------------------------------------ devices dialog

  let deviceSite = null;
  let devices = [];

  function devicesTitle() {
    return deviceSite ? t("dev.title", { site: deviceSite.name }) : "";
  }

  async function openDevices(s) {
    deviceSite = s;
    window.dispatchEvent(new CustomEvent("gb:devicesite", { detail: s }));
    devices = [];
    $("devices-title").textContent = devicesTitle();
    $("d-label").value = "";
    $("d-label").removeAttribute("aria-invalid");
    $("device-error").textContent = "";
    hideToken();
    GB.clear($("device-rows")).append(el("tr", null, el("td", { colspan: 5, class: "loading" }, t("common.loading"))));
    $("devices-dialog").showModal();
    $("d-label").focus();
    await loadDevices();
  }

  async function loadDevices() {
    const s = deviceSite;
    try {
      const list = (await GB.api("GET", `/api/sites/${encodeURIComponent(s.id)}/devices`)) || [];
      if (s !== deviceSite) return;
      devices = list.sort((a, b) => (!!a.revoked_at - !!b.revoked_at) || String(b.created_at).localeCompare(String(a.created_at)));
      renderDevices();
    } catch (e) {
      GB.clear($("device-rows"));
      $("device-error").textContent = GB.errorText(e);
    }
  }

  function renderDevices() {
    const body = GB.clear($("device-rows"));
    if (!devices.length) {
      body.append(el("tr", null, el("td", { colspan: 5, class: "empty" }, t("dev.none"))));
      return;
    }
    for (const d of devices) {
      let action = null;
      if (!d.revoked_at) {
        action = el("button", { type: "button", class: "btn btn-small btn-danger", "aria-label": t("dev.revokeAria", { label: d.label }) }, t("dev.revoke"));
        GB.confirmClick(action, () => revokeDevice(d));
      }
      body.append(el("tr", { class: d.revoked_at ? "is-off" : null },
        el("td", null, d.label),
        el("td", { class: "mono" }, d.created_by),
        el("td", { class: "time" }, GB.fmtDateTime(d.created_at)),
        el("td", null, d.revoked_at
          ? el("span", { class: "badge badge-danger" }, t("dev.revokedAt", { time: GB.fmtDateTime(d.revoked_at) }))
          : el("span", { class: "badge badge-ok" }, t("dev.active"))),
        el("td", null, action)));
    }
  }

  function hideToken() {
    $("token").value = "";
    $("token-box").hidden = true;
  }

  async function issueDevice(ev) {
    ev.preventDefault();
    $("device-error").textContent = "";
    const input = $("d-label");
    input.removeAttribute("aria-invalid");
    const label = input.value.trim();
    if (!label || label.length > 100) return formFail("device-error", t("invalid.label"), input);
    const submit = ev.target.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const issued = await GB.api("POST", `/api/sites/${encodeURIComponent(deviceSite.id)}/devices`, { label });
      input.value = "";
      $("token").value = issued.token;
      $("token-box").hidden = false;
      $("copy-token").focus();
      GB.toast(t("dev.issued", { label }), "success");
      await loadDevices();
    } catch (e) {
      formFail("device-error", GB.errorText(e), GB.errorField(e) === "label" ? input : null);
    } finally {
      submit.disabled = false;
    }
  }

  async function revokeDevice(d) {
    try {
      await GB.api("POST", `/api/devices/${encodeURIComponent(d.id)}/revoke`);
      GB.toast(t("dev.revoked", { label: d.label }), "success");
    } catch (e) {
      GB.toast(GB.errorText(e), "error");
    }
    await loadDevices();
  }

  async function copyToken() {
    const ok = await GB.copyText($("token").value);
    if (!ok) $("token").select();
    GB.toast(t(ok ? "dev.copied" : "dev.copyManually"), ok ? "success" : "warn");
  }

  // ------------------------------------------------------------------ start

  function onLang() {
    render();
    if ($("unit-dialog").open) {
      $("unit-dialog-title").textContent = unitTitle();
      fillKinds($("u-kind").value);
    }
    if ($("site-dialog").open) $("site-dialog-title").textContent = siteTitle();
    if ($("devices-dialog").open) {
      $("devices-title").textContent = devicesTitle();
      renderDevices();
    }
  }

  window.GBOrg = { deviceSite: () => deviceSite, reloadDevices: () => loadDevices() };

  function wire() {
    document.querySelectorAll("dialog [data-close]").forEach((b) =>
      b.addEventListener("click", () => b.closest("dialog").close()));
    $("unit-form").addEventListener("submit", saveUnit);
    $("site-form").addEventListener("submit", saveSite);
    $("device-form").addEventListener("submit", issueDevice);
    $("copy-token").addEventListener("click", copyToken);
    // The token is shown once: it leaves the page when the dialog closes.
    $("devices-dialog").addEventListener("close", () => { hideToken(); deviceSite = null; });
    $("u-name").addEventListener("input", () => { if (!editingUnit && !unitIdTouched) $("u-id").value = GB.slugify($("u-name").value); });
    $("u-id").addEventListener("input", () => { unitIdTouched = true; });
    $("s-name").addEventListener("input", () => { if (!editingSite && !siteIdTouched) $("s-id").value = GB.slugify($("s-name").value); });
    $("s-id").addEventListener("input", () => { siteIdTouched = true; });
    document.querySelectorAll("dialog input, dialog select").forEach((n) =>
      n.addEventListener("input", () => n.removeAttribute("aria-invalid")));
    $("search").addEventListener("input", render);
    $("hide-expired").addEventListener("change", render);
    $("add-root").addEventListener("click", () => openUnit(null, roots.length === 1 ? roots[0].id : null));
    window.addEventListener("gb:langchange", onLang);
  }

  GB.page({ nav: "org", title: "org.title", roles: ["admin", "secretariat", "operator", "chair", "auditor"] }, async (me) => {
    isAdmin = GB.hasRole(me, ["admin"]);
    canDevices = GB.hasRole(me, ["admin", "secretariat"]);
    $("add-root").hidden = !isAdmin;
    wire();
    await load();
  });
})();
