// home.js — the start page (/app/home): greets the person by name with today's date in
// Asia/Ho_Chi_Minh, lists their roles with scope (site and unit names from GET /api/sites), and
// shows one card per page their roles open (the same list as the navigation bar) plus notes for
// roles that work elsewhere (site technicians in the room page, reviewers by explicit grant), and
// today's sessions with their live counts (GET /api/attendance/today).
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;

  // Roles whose work is not on a page of the navigation bar get a short explanation.
  const NOTES = ["site_operator", "reviewer"];

  let who = null;
  const names = { sites: {}, units: {} };

  async function loadNames() {
    try {
      const sites = await GB.api("GET", "/api/sites");
      for (const s of sites || []) {
        names.sites[s.id] = s.name;
        names.units[s.unit_id] = s.unit_name;
      }
    } catch (_) {
      // Names are a nicety: ids are shown instead.
    }
    if (GB.hasRole(who, ["admin", "secretariat", "operator", "chair", "auditor"])) {
      try {
        for (const u of (await GB.api("GET", "/api/units")) || []) names.units[u.id] = u.name;
      } catch (_) { /* ids instead */ }
    }
  }

  function render() {
    const id = who.identity;
    const full = id.display_name || id.username || "";
    const short = full.split(" – ")[0].trim() || full;
    $("welcome-title").textContent = t("home.hello", { name: short });
    $("today").textContent = t("home.today", { date: GB.fmtLongDate(new Date()) });
    GB.clear($("who")).append(full, id.username ? el("span", { class: "mono" }, ` (${id.username})`) : null);

    const grants = GB.sortGrants(who.grants);
    GB.clear($("grants")).append(...(grants.length
      ? grants.map((g) => el("li", null, GB.grantLabel(g, names)))
      : [el("li", { class: "muted" }, t("home.noRoles"))]));

    const pages = GB.navFor(who).filter((n) => n.id !== "home");
    GB.clear($("cards")).append(...pages.map((n) => el("li", null,
      el("a", { class: "link-card", href: n.href },
        el("strong", null, t(n.key)),
        el("span", null, t(`home.card.${n.id}`))))));

    const notes = NOTES.filter((r) => GB.hasRole(who, [r])).map((r) =>
      el("p", { class: "notice" }, el("strong", null, `${GB.roleLabel(r)}: `), t(`home.note.${r}`)));
    if (!pages.length && !notes.length) notes.push(el("p", { class: "notice notice-warn" }, t("home.nothing")));
    GB.clear($("notes")).append(...notes);
  }

  // Today's sessions with live counts (sites online now / expected), for the schedule's readers;
  // refreshed every 15 s.
  let todayItems = null;

  async function loadToday() {
    try {
      todayItems = await GB.api("GET", "/api/attendance/today");
    } catch (_) {
      todayItems = null;
    }
    renderToday();
  }

  function renderToday() {
    const section = $("today-section");
    if (!todayItems) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    const list = GB.clear($("today-list"));
    if (!todayItems.length) list.append(el("li", { class: "muted" }, t("home.todayNone")));
    for (const s of todayItems) {
      const time = [GB.fmtDateTime(s.starts_at).slice(-5), GB.fmtDateTime(s.ends_at).slice(-5)].join("–");
      list.append(el("li", { dataset: { session: s.session_id } },
        el("strong", null, `${time} `),
        el("a", { href: `/app/session?id=${encodeURIComponent(s.session_id)}` }, s.title),
        s.session_status === "cancelled" ? el("span", { class: "badge badge-danger" }, t("home.cancelled")) : null,
        el("span", { class: "muted" }, ` — ${s.host_name}. `),
        el("a", { class: "live-count", href: `/app/rollcall?session=${encodeURIComponent(s.session_id)}` },
          t("home.liveCount", { online: s.online, expected: s.expected }))));
    }
  }

  GB.page({ nav: "home", title: "home.title" }, async (me) => {
    who = me;
    render();
    await loadNames();
    render();
    window.addEventListener("gb:langchange", () => { render(); renderToday(); });
    if (GB.hasRole(who, ["admin", "secretariat", "operator", "chair", "auditor"])) {
      await loadToday();
      window.setInterval(loadToday, 15000);
    }
  });
})();
