// console-agenda.js — the agenda panel of the operator console (/app/console?session=<id>): reads
// GET /api/sessions/<id>/agenda/current every 2 s (the session's agenda and the item it is on)
// and lets the operator mark an item current (PUT …/agenda/current {index}) or end it (DELETE),
// the same rules as the host site's room page (docs/protocol.md, "Agenda"): every site shows the
// item, the recording's timeline gets a chapter. console.js owns the rest of the page.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;
  const REFRESH_MS = 2000;

  GB.addStrings({
    vi: {
      "cag.title": "Chương trình họp",
      "cag.none": "Phiên họp không có chương trình họp.",
      "cag.now": "Đang thảo luận: nội dung {n} — {title}",
      "cag.idle": "Chưa chuyển sang nội dung nào.",
      "cag.since": "từ {at}",
      "cag.set": "Chuyển sang nội dung này",
      "cag.clear": "Kết thúc nội dung",
      "cag.current": "Đang thảo luận",
      "cag.err.no_agenda": "Phiên họp không có chương trình họp.",
      "cag.err.agenda_item_out_of_range": "Không có nội dung này trong chương trình họp.",
      "cag.err.site_not_connected": "Chưa có điểm cầu nào kết nối: chưa thể chuyển nội dung.",
    },
    en: {
      "cag.title": "Agenda",
      "cag.none": "The session has no agenda.",
      "cag.now": "Now: item {n} — {title}",
      "cag.idle": "No agenda item has been started yet.",
      "cag.since": "since {at}",
      "cag.set": "Move to this item",
      "cag.clear": "End the item",
      "cag.current": "Now",
      "cag.err.no_agenda": "The session has no agenda.",
      "cag.err.agenda_item_out_of_range": "The agenda has no such item.",
      "cag.err.site_not_connected": "No site is connected yet: the item cannot be changed.",
    },
  });

  const sessionId = new URLSearchParams(window.location.search).get("session");
  const path = () => `/api/sessions/${encodeURIComponent(sessionId)}/agenda/current`;
  let state = null;
  let error = "";

  function errorOf(e) {
    const key = `cag.err.${e && e.code}`;
    return GB.has(key) ? t(key) : GB.errorText(e);
  }

  function render() {
    if (!state) return;
    const cur = state.current;
    $("cag-none").hidden = state.agenda.length > 0;
    $("cag-now").textContent = cur
      ? `${t("cag.now", { n: cur.index + 1, title: cur.title })} (${t("cag.since", { at: GB.fmtDateTime(cur.since, true) })})`
      : (state.agenda.length ? t("cag.idle") : "");
    $("cag-now").dataset.index = cur ? String(cur.index) : "";
    $("cag-clear").hidden = !state.agenda.length;
    $("cag-clear").disabled = !cur;
    $("cag-error").replaceChildren(...(error ? [el("p", { class: "notice notice-error" }, error)] : []));
    $("cag-list").replaceChildren(...state.agenda.map((a, i) => {
      const now = cur && cur.index === i;
      return el("li", { "data-index": String(i), class: now ? "agenda-current" : "" },
        `${a.title}${a.presenter ? ` — ${a.presenter}` : ""} `,
        now
          ? el("span", { class: "badge badge-info" }, t("cag.current"))
          : el("button", { type: "button", class: "btn btn-small btn-outline", on: { click: () => call("PUT", { index: i }) } }, t("cag.set")));
    }));
  }

  async function load() {
    try {
      state = await GB.api("GET", path());
    } catch (e) {
      error = GB.errorText(e);
    }
    render();
  }

  async function call(method, body) {
    try {
      state = await GB.api(method, path(), body);
      error = "";
    } catch (e) {
      error = errorOf(e);
    }
    render();
  }

  GB.ready().then(async () => {
    if (!sessionId || !$("cag-list")) return;
    $("cag-clear").addEventListener("click", () => call("DELETE"));
    window.addEventListener("gb:langchange", render);
    await load();
    window.setInterval(load, REFRESH_MS);
  });
})();
