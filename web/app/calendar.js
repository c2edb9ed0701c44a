// calendar.js — the week calendar (lịch họp tuần). Shows the sessions of one ISO week, Monday to
// Sunday in Asia/Ho_Chi_Minh (dd/mm/yyyy, 24-hour), each as a card (time, title, host site, site
// count, series and cancelled marks) linking to the session page; previous/next/this week (the
// week is kept in ?week=2026-W48); "Tạo phiên họp" for the secretariat and admins. A site
// operator sees the sessions of their own site.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;

  GB.addStrings({
    vi: {
      "cal.title": "Lịch họp",
      "cal.prev": "‹ Tuần trước",
      "cal.next": "Tuần sau ›",
      "cal.today": "Tuần này",
      "cal.new": "Tạo phiên họp",
      "cal.week": "Tuần {n}: từ {from} đến {to}",
      "cal.none": "Không có phiên họp",
      "cal.sites": "{n} điểm cầu",
      "cal.series": "Họp định kỳ",
      "cal.cancelled": "Đã hủy",
      "cal.classified": "Mật",
      "cal.days": "Thứ Hai|Thứ Ba|Thứ Tư|Thứ Năm|Thứ Sáu|Thứ Bảy|Chủ Nhật",
    },
    en: {
      "cal.title": "Meeting calendar",
      "cal.prev": "‹ Previous week",
      "cal.next": "Next week ›",
      "cal.today": "This week",
      "cal.new": "New session",
      "cal.week": "Week {n}: {from} to {to}",
      "cal.none": "No sessions",
      "cal.sites": "{n} sites",
      "cal.series": "Recurring",
      "cal.cancelled": "Cancelled",
      "cal.classified": "Classified",
      "cal.days": "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday",
    },
  });

  const WRITERS = ["secretariat", "admin"];
  const READERS = ["admin", "secretariat", "operator", "chair", "auditor"];

  // ISO week of a "yyyy-mm-dd" calendar date: { year, week, monday }.
  function isoWeek(iso) {
    const [y, m, d] = iso.split("-").map(Number);
    const date = new Date(Date.UTC(y, m - 1, d));
    const dow = (date.getUTCDay() + 6) % 7; // Monday 0
    const monday = GB.addDays(iso, -dow);
    const thursday = new Date(date.getTime() + (3 - dow) * 86400000);
    const year = thursday.getUTCFullYear();
    const jan1 = Date.UTC(year, 0, 1);
    const week = 1 + Math.floor((thursday.getTime() - jan1) / (7 * 86400000));
    return { year, week, monday };
  }

  // "2026-W48" → its Monday, "yyyy-mm-dd" (null when malformed).
  function mondayOf(weekText) {
    const m = /^(\d{4})-W(\d{1,2})$/.exec(weekText || "");
    if (!m) return null;
    const jan4 = `${m[1]}-01-04`;
    const first = isoWeek(jan4).monday;
    const monday = GB.addDays(first, 7 * (Number(m[2]) - 1));
    return isoWeek(monday).week === Number(m[2]) ? monday : null;
  }

  function weekText(monday) {
    const w = isoWeek(monday);
    return `${w.year}-W${String(w.week).padStart(2, "0")}`;
  }

  // "HH:mm" in Hanoi of an RFC 3339 instant.
  function hhmm(value) {
    return GB.fmtDateTime(value).slice(-5);
  }

  // The Hanoi calendar date ("yyyy-mm-dd") of an instant.
  function hanoiDay(value) {
    const d = GB.fmtDate(value); // dd/mm/yyyy
    return `${d.slice(6, 10)}-${d.slice(3, 5)}-${d.slice(0, 2)}`;
  }

  let who = null;
  let monday = null;

  function card(s) {
    const cancelled = s.status === "cancelled";
    const badges = [];
    if (s.series_id) badges.push(el("span", { class: "badge badge-info" }, t("cal.series")));
    if (cancelled) badges.push(el("span", { class: "badge badge-danger" }, t("cal.cancelled")));
    if (s.classified) badges.push(el("span", { class: "badge badge-warn" }, t("cal.classified")));
    return el("li", null,
      el("a", {
        class: ["session-card", cancelled && "is-cancelled"],
        href: `/app/session?id=${encodeURIComponent(s.id)}`,
      },
      el("span", { class: "session-time" }, `${hhmm(s.starts_at)}–${hhmm(s.ends_at)}`),
      el("strong", { class: "session-title" }, s.title),
      el("span", { class: "session-meta" }, s.host_name),
      el("span", { class: "session-meta" }, t("cal.sites", { n: s.site_count })),
      badges.length ? el("span", { class: "badge-row" }, ...badges) : null));
  }

  function render(sessions) {
    const days = t("cal.days").split("|");
    const w = isoWeek(monday);
    $("week-label").textContent = t("cal.week", {
      n: w.week, from: GB.fmtDate(monday), to: GB.fmtDate(GB.addDays(monday, 6)),
    });
    const today = GB.today();
    const columns = days.map((name, i) => {
      const day = GB.addDays(monday, i);
      const mine = sessions.filter((s) => hanoiDay(s.starts_at) === day);
      return el("section", { class: ["day", day === today && "is-today"], "aria-label": `${name} ${GB.fmtDate(day)}` },
        el("h2", { class: "day-head" }, el("span", null, name), el("span", { class: "muted" }, GB.fmtDate(day))),
        mine.length
          ? el("ul", { class: "day-list" }, ...mine.map(card))
          : el("p", { class: "empty small" }, t("cal.none")));
    });
    GB.clear($("week-grid")).append(...columns);
  }

  async function load() {
    const week = weekText(monday);
    const url = new URL(window.location.href);
    url.searchParams.set("week", week);
    window.history.replaceState(null, "", url);
    const params = { week };
    if (!GB.hasRole(who, READERS)) {
      const own = (who.grants || []).find((g) => g.site_id);
      if (own) params.site_id = own.site_id;
    }
    $("cal-error").hidden = true;
    try {
      render(await GB.api("GET", `/api/sessions${GB.query(params)}`));
    } catch (e) {
      $("cal-error").textContent = GB.errorText(e);
      $("cal-error").hidden = false;
      GB.clear($("week-grid"));
    }
  }

  function move(days) {
    monday = GB.addDays(monday, days);
    load();
  }

  GB.page({ nav: "calendar", title: "cal.title" }, async (me) => {
    who = me;
    const asked = new URLSearchParams(window.location.search).get("week");
    monday = mondayOf(asked) || isoWeek(GB.today()).monday;
    $("new-session").hidden = !GB.hasRole(who, WRITERS);
    $("prev-week").addEventListener("click", () => move(-7));
    $("next-week").addEventListener("click", () => move(7));
    $("this-week").addEventListener("click", () => {
      monday = isoWeek(GB.today()).monday;
      load();
    });
    window.addEventListener("gb:langchange", load);
    await load();
  });
})();
