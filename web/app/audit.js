// audit.js — the audit log viewer (/app/audit, auditor and admin): filters kept in the page
// address (actor, action, target, from/to as calendar days in Asia/Ho_Chi_Minh, page size, page),
// GET /api/audit newest first (one extra row tells whether a next page exists), a table with
// dd/mm/yyyy HH:mm:ss times, localized action names and compact JSON detail (click an actor or a
// target to filter by it), and GET /api/audit/verify shown as OK or the first broken seq in red.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;

  // Known actions, grouped for the select (audit-actions.js).
  const ACTION_GROUPS = window.GB_AUDIT_ACTIONS || [];
  const LIMITS = [25, 50, 100, 200];

  const state = { actor: "", action: "", target: "", from: "", to: "", limit: 50, page: 0 };
  let entries = [];
  let hasNext = false;
  let badSeq = null;
  let verifyResult = null;
  let loading = false;

  const actionLabel = (a) => (GB.has(`action.${a}`) ? t(`action.${a}`) : a);

  // ------------------------------------------------------------------ state ↔ address ↔ form

  function readAddress() {
    const q = new URLSearchParams(window.location.search);
    state.actor = q.get("actor") || "";
    state.action = q.get("action") || "";
    state.target = q.get("target") || "";
    state.from = GB.parseDate(q.get("from") || "") || "";
    state.to = GB.parseDate(q.get("to") || "") || "";
    const limit = Number(q.get("limit"));
    state.limit = LIMITS.includes(limit) ? limit : 50;
    state.page = Math.max(0, Number.parseInt(q.get("page") || "1", 10) - 1 || 0);
  }

  function writeAddress() {
    const q = GB.query({
      actor: state.actor, action: state.action, target: state.target, from: state.from, to: state.to,
      limit: state.limit === 50 ? "" : state.limit, page: state.page ? state.page + 1 : "",
    });
    window.history.replaceState(null, "", window.location.pathname + q);
  }

  function fillActions() {
    const sel = $("f-action");
    const current = sel.value || state.action;
    const known = new Set(ACTION_GROUPS.flatMap(([, list]) => list));
    const groups = ACTION_GROUPS.map(([g, list]) => el("optgroup", { label: t(`actionGroup.${g}`) },
      list.map((a) => el("option", { value: a, selected: a === current }, actionLabel(a)))));
    const extra = current && !known.has(current) ? [el("option", { value: current, selected: true }, current)] : [];
    sel.replaceChildren(el("option", { value: "" }, t("audit.allActions")), ...extra, ...groups);
  }

  function fillForm() {
    $("f-actor").value = state.actor;
    $("f-target").value = state.target;
    $("f-from").value = state.from ? GB.fmtDate(state.from) : "";
    $("f-to").value = state.to ? GB.fmtDate(state.to) : "";
    $("f-limit").value = String(state.limit);
    fillActions();
    $("f-action").value = state.action;
  }

  function filterFail(message, input) {
    $("filter-error").textContent = message;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  // Reads the form into state; false (with a message) when a date is wrong.
  function readForm() {
    $("filter-error").textContent = "";
    $("filters").querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    const fromText = $("f-from").value.trim();
    const toText = $("f-to").value.trim();
    const from = fromText ? GB.parseDate(fromText) : "";
    const to = toText ? GB.parseDate(toText) : "";
    if (from === null) { filterFail(t("org.err.date"), $("f-from")); return false; }
    if (to === null) { filterFail(t("org.err.date"), $("f-to")); return false; }
    if (from && to && to < from) { filterFail(t("audit.err.range"), $("f-to")); return false; }
    state.actor = $("f-actor").value.trim();
    state.target = $("f-target").value.trim();
    state.action = $("f-action").value;
    state.from = from;
    state.to = to;
    state.limit = Number($("f-limit").value) || 50;
    return true;
  }

  // ------------------------------------------------------------------ loading and drawing

  async function search() {
    writeAddress();
    loading = true;
    renderPager();
    const q = GB.query({
      actor: state.actor, action: state.action, target: state.target,
      from: state.from ? GB.dayStart(state.from) : "",
      to: state.to ? GB.dayStart(GB.addDays(state.to, 1)) : "", // the whole "to" day; the API's `to` is exclusive
      limit: state.limit + 1, offset: state.page * state.limit,
    });
    try {
      const rows = (await GB.api("GET", `/api/audit${q}`)) || [];
      hasNext = rows.length > state.limit;
      entries = rows.slice(0, state.limit);
      if (!entries.length && state.page > 0) {
        state.page = 0;
        loading = false;
        await search();
        return;
      }
    } catch (e) {
      entries = [];
      hasNext = false;
      GB.toast(GB.errorText(e), "error");
      GB.clear($("rows")).append(el("tr", null, el("td", { colspan: 6, class: "empty" }, GB.errorText(e))));
      loading = false;
      renderPager();
      return;
    }
    loading = false;
    renderRows();
    renderPager();
  }

  function filterButton(value, field) {
    if (!value) return el("span", { class: "muted" }, "—");
    return el("button", {
      type: "button", class: "btn-link mono", title: t("audit.filterBy", { value }),
      on: { click: () => { state[field] = value; state.page = 0; fillForm(); search(); } },
    }, value);
  }

  function renderRows() {
    const body = GB.clear($("rows"));
    if (!entries.length) {
      body.append(el("tr", null, el("td", { colspan: 6, class: "empty" }, t("audit.none"))));
      return;
    }
    for (const e of entries) {
      const detail = GB.compactJson(e.detail);
      body.append(el("tr", { class: e.seq === badSeq ? "row-bad" : null },
        el("td", { class: "num" }, String(e.seq)),
        el("td", { class: "time" }, GB.fmtDateTime(e.at, true)),
        el("td", null, filterButton(e.actor, "actor")),
        el("td", null, el("span", { title: e.action }, actionLabel(e.action))),
        el("td", null, filterButton(e.target, "target")),
        el("td", null, detail ? el("code", { class: "detail mono" }, detail) : el("span", { class: "muted" }, "—"))));
    }
  }

  function renderPager() {
    const first = state.page * state.limit + 1;
    $("page-info").textContent = loading ? t("common.loading")
      : entries.length ? t("audit.pageInfo", { page: state.page + 1, from: first, to: first + entries.length - 1 })
        : "";
    $("prev").disabled = loading || state.page === 0;
    $("next").disabled = loading || !hasNext;
  }

  // ------------------------------------------------------------------ integrity check

  function renderVerify() {
    const box = GB.clear($("verify-result"));
    const r = verifyResult;
    if (!r) return;
    if (r.error) {
      box.append(el("p", { class: "notice notice-error" }, GB.errorText(r.error)));
    } else if (r.ok) {
      box.append(el("p", { class: "notice notice-ok" },
        el("strong", null, t("audit.verifyOk")), " ", t("audit.verifyOkText", { entries: r.entries, time: r.time })));
    } else {
      box.append(el("p", { class: "notice notice-error" },
        el("strong", null, t("audit.verifyBad", { seq: r.seq })), " ",
        t("audit.verifyBadText", { time: r.time }), el("br"), el("code", { class: "mono" }, r.detail || "")));
    }
  }

  async function verify() {
    const btn = $("verify");
    btn.disabled = true;
    btn.textContent = t("audit.verifying");
    try {
      const r = await GB.api("GET", "/api/audit/verify");
      const time = GB.fmtDateTime(new Date(), true);
      verifyResult = r.ok ? { ok: true, entries: r.entries, time } : { ok: false, seq: r.seq, detail: r.error, time };
      badSeq = r.ok ? null : r.seq;
    } catch (e) {
      verifyResult = { error: e };
    } finally {
      btn.disabled = false;
      btn.textContent = t("audit.verify");
    }
    renderVerify();
    renderRows();
  }

  // ------------------------------------------------------------------ start

  function onLang() {
    fillActions();
    renderRows();
    renderPager();
    renderVerify();
    if (!$("verify").disabled) $("verify").textContent = t("audit.verify");
  }

  GB.page({ nav: "audit", title: "audit.title", roles: ["auditor", "admin"] }, async () => {
    readAddress();
    fillForm();
    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!readForm()) return;
      state.page = 0;
      search();
    });
    $("clear").addEventListener("click", () => {
      Object.assign(state, { actor: "", action: "", target: "", from: "", to: "", page: 0 });
      $("filter-error").textContent = "";
      fillForm();
      search();
    });
    $("f-limit").addEventListener("change", () => { if (readForm()) { state.page = 0; search(); } });
    $("prev").addEventListener("click", () => { if (state.page > 0) { state.page -= 1; search(); } });
    $("next").addEventListener("click", () => { if (hasNext) { state.page += 1; search(); } });
    $("verify").addEventListener("click", verify);
    window.addEventListener("gb:langchange", onLang);
    await search();
  });
})();
