// home.js — the start page (/app/home): greets the person by name with today's date in
// Asia/Ho_Chi_Minh, lists their roles with scope (site and unit names from GET /api/sites), and
// shows one card per page their roles open (the same list as the navigation bar) plus notes for
// roles that work elsewhere (site technicians in the room page, reviewers by explicit grant).
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

  GB.page({ nav: "home", title: "home.title" }, async (me) => {
    who = me;
    render();
    await loadNames();
    render();
    window.addEventListener("gb:langchange", render);
  });
})();
