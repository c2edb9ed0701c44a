// rollcall.js — the roll-call board (/app/rollcall?session=<id>): reads the roll call from
// GET /api/sessions/<id>/attendance/stream (Server-Sent Events: one `roll_call` event at once,
// then one whenever a site joins, drops, leaves or is marked, and every 5 s) and renders one row
// per invited site with data-site / data-live / data-status attributes; the secretariat marks a
// status with a reason through POST .../attendance/marks. If the stream cannot be opened the page
// falls back to reading the JSON every 5 s. Shell (API client, dates, toasts) in common.js.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;
  const STATUSES = ["present", "late", "left_early", "absent", "absent_with_reason", "excused", "not_checked"];
  const MARKABLE = ["present", "late", "left_early", "absent", "absent_with_reason", "excused"];
  const LIVE_BADGE = { online: "badge-online", reconnecting: "badge-reconnecting", left: "badge-left", never_joined: "badge-never" };

  GB.addStrings({
    vi: {
      "roll.title": "Bảng điểm danh",
      "roll.counts": "Tổng hợp điểm danh",
      "roll.headline": "Có mặt: {attended}/{expected} điểm cầu",
      "roll.online": "Đang trực tuyến: {n}",
      "roll.csv": "Tải CSV",
      "roll.xlsx": "Tải Excel (XLSX)",
      "roll.print": "Biên bản điểm danh (in)",
      "roll.board": "Bảng theo dõi giấy mời",
      "roll.col.no": "STT",
      "roll.col.site": "Điểm cầu",
      "roll.col.live": "Hiện tại",
      "roll.col.readiness": "Sẵn sàng",
      "roll.col.times": "Vào / rời",
      "roll.col.present": "Có mặt",
      "roll.col.incidents": "Mất kết nối",
      "roll.col.status": "Điểm danh",
      "roll.live": "Cập nhật trực tiếp.",
      "roll.polling": "Mất luồng cập nhật trực tiếp; đang cập nhật mỗi 5 giây.",
      "roll.updated": "Cập nhật lúc {time}.",
      "roll.host": "Điểm cầu chủ trì",
      "roll.state.online": "Trực tuyến từ {t}",
      "roll.state.reconnecting": "Mất kết nối từ {t}",
      "roll.state.left": "Đã rời lúc {t}",
      "roll.state.never_joined": "Chưa tham gia",
      "roll.in": "Vào: {t}",
      "roll.out": "Rời: {t}",
      "roll.minutes": "{n} phút",
      "roll.readiness.invited": "Đã mời",
      "roll.readiness.confirmed": "Đã xác nhận",
      "roll.readiness.tested": "Đã kiểm tra",
      "roll.readiness.ready": "Sẵn sàng",
      "roll.readiness.revoked": "Đã thu hồi",
      "roll.marked": "Đánh dấu tay bởi {by} lúc {t}; tính toán: {computed}",
      "roll.mark.title": "Điểm danh thủ công",
      "roll.mark.site": "Điểm cầu",
      "roll.mark.status": "Trạng thái",
      "roll.mark.reason": "Lý do",
      "roll.mark.save": "Ghi nhận",
      "roll.mark.done": "Đã ghi nhận điểm danh của {site}: {status}.",
      "roll.mark.needReason": "Cần nhập lý do cho trạng thái này.",
      "roll.err.noSession": "Địa chỉ trang thiếu mã phiên họp (?session=…).",
      "roll.empty": "Phiên họp chưa mời điểm cầu nào.",
    },
    en: {
      "roll.title": "Roll-call board",
      "roll.counts": "Roll-call summary",
      "roll.headline": "Present: {attended}/{expected} sites",
      "roll.online": "Online now: {n}",
      "roll.csv": "Download CSV",
      "roll.xlsx": "Download Excel (XLSX)",
      "roll.print": "Attendance record (print)",
      "roll.board": "Invitation board",
      "roll.col.no": "No.",
      "roll.col.site": "Site",
      "roll.col.live": "Now",
      "roll.col.readiness": "Readiness",
      "roll.col.times": "In / out",
      "roll.col.present": "Present",
      "roll.col.incidents": "Connection lost",
      "roll.col.status": "Roll call",
      "roll.live": "Live updates.",
      "roll.polling": "Live updates lost; refreshing every 5 seconds.",
      "roll.updated": "Updated at {time}.",
      "roll.host": "Host site",
      "roll.state.online": "Online since {t}",
      "roll.state.reconnecting": "Connection lost at {t}",
      "roll.state.left": "Left at {t}",
      "roll.state.never_joined": "Never joined",
      "roll.in": "In: {t}",
      "roll.out": "Out: {t}",
      "roll.minutes": "{n} min",
      "roll.readiness.invited": "Invited",
      "roll.readiness.confirmed": "Confirmed",
      "roll.readiness.tested": "Tested",
      "roll.readiness.ready": "Ready",
      "roll.readiness.revoked": "Revoked",
      "roll.marked": "Marked by hand by {by} at {t}; computed: {computed}",
      "roll.mark.title": "Manual roll call",
      "roll.mark.site": "Site",
      "roll.mark.status": "Status",
      "roll.mark.reason": "Reason",
      "roll.mark.save": "Record",
      "roll.mark.done": "Roll call of {site} recorded: {status}.",
      "roll.mark.needReason": "A reason is required for this status.",
      "roll.err.noSession": "The page address lacks the session id (?session=…).",
      "roll.empty": "No site is invited to this session.",
    },
  });

  const sessionId = new URLSearchParams(window.location.search).get("session") || "";
  const base = () => `/api/sessions/${encodeURIComponent(sessionId)}/attendance`;
  let who = null;
  let roll = null;
  let source = null;
  let poll = null;

  function showError(text) {
    const box = $("roll-error");
    box.replaceChildren();
    if (text) box.append(el("p", { class: "notice notice-error" }, text));
  }

  function time(v) {
    return v ? GB.fmtDateTime(v) : "";
  }

  function liveText(live) {
    switch (live.state) {
      case "online": return t("roll.state.online", { t: time(live.since) });
      case "reconnecting": return t("roll.state.reconnecting", { t: time(live.since) });
      case "left": return t("roll.state.left", { t: time(live.at) });
      default: return t("roll.state.never_joined");
    }
  }

  function render() {
    if (!roll) return;
    $("session-title").textContent = roll.title;
    $("session-time").textContent = [time(roll.starts_at), time(roll.ends_at)].filter(Boolean).join(" – ");
    const c = roll.counts;
    $("headline").textContent = t("roll.headline", { attended: c.attended, expected: c.expected });
    GB.clear($("counts")).append(
      el("li", { class: "badge badge-online" }, t("roll.online", { n: c.online })),
      ...STATUSES.filter((s) => c[s] > 0).map((s) => el("li", { class: `badge st-${s}` },
        `${t(`att.status.${s}`)}: `, el("strong", null, String(c[s])))));
    const tbody = GB.clear($("rows"));
    if (!roll.sites.length) tbody.append(el("tr", null, el("td", { colspan: 8, class: "empty" }, t("roll.empty"))));
    roll.sites.forEach((s, i) => tbody.append(row(s, i + 1)));
    $("updated").textContent = t("roll.updated", { time: GB.fmtDateTime(roll.generated_at, true).slice(-8) });
    fillMarkSites();
  }

  function row(s, n) {
    const times = [s.first_join ? el("div", null, t("roll.in", { t: time(s.first_join) })) : null,
      s.last_leave ? el("div", null, t("roll.out", { t: time(s.last_leave) })) : null];
    const note = s.mark
      ? el("div", { class: "mark-note" }, t("roll.marked", { by: s.mark.marked_by, t: time(s.mark.marked_at),
        computed: t(`att.status.${s.computed_status}`) }), s.mark.reason ? ` — ${s.mark.reason}` : "")
      : null;
    return el("tr", { dataset: { site: s.site_id, live: s.live.state, status: s.status } },
      el("td", { class: "num" }, String(n)),
      el("td", { class: "site-cell" },
        el("div", { class: "site-title" }, s.site_name),
        el("div", { class: "muted small" }, s.unit_name),
        s.is_host ? el("span", { class: "badge badge-host" }, t("roll.host")) : null),
      el("td", { class: "live" }, el("span", { class: `badge ${LIVE_BADGE[s.live.state] || ""}` }, liveText(s.live))),
      el("td", null, t(`roll.readiness.${s.readiness}`)),
      el("td", { class: "times" }, times),
      el("td", { class: "num" }, t("roll.minutes", { n: Math.floor(s.present_seconds / 60) })),
      el("td", { class: "num" }, String(s.incidents)),
      el("td", null, el("span", { class: `badge st-${s.status}` }, t(`att.status.${s.status}`)), note));
  }

  function fillMarkSites() {
    const select = $("m-site");
    const keep = select.value;
    const options = roll.sites.map((s) => el("option", { value: s.site_id }, s.site_name));
    if (select.options.length !== options.length) {
      select.replaceChildren(...options);
      if (keep) select.value = keep;
    }
  }

  function fillMarkStatuses() {
    const select = $("m-status");
    const keep = select.value;
    select.replaceChildren(...MARKABLE.map((s) => el("option", { value: s }, t(`att.status.${s}`))));
    if (keep) select.value = keep;
  }

  async function mark(ev) {
    ev.preventDefault();
    const site = $("m-site").value;
    const status = $("m-status").value;
    const reason = $("m-reason").value.trim();
    if (!reason && (status === "absent_with_reason" || status === "excused")) {
      GB.toast(t("roll.mark.needReason"), "error");
      $("m-reason").focus();
      return;
    }
    const btn = $("m-save");
    btn.disabled = true;
    try {
      roll = await GB.api("POST", `${base()}/marks`, { site_id: site, status, reason });
      render();
      const name = (roll.sites.find((s) => s.site_id === site) || {}).site_name || site;
      GB.toast(t("roll.mark.done", { site: name, status: t(`att.status.${status}`) }), "success");
      $("m-reason").value = "";
    } catch (e) {
      GB.toast(GB.errorText(e), "error");
    } finally {
      btn.disabled = false;
    }
  }

  async function loadOnce() {
    try {
      roll = await GB.api("GET", base());
      showError("");
      render();
    } catch (e) {
      showError(GB.errorText(e));
      if (e.status === 403 || e.status === 404) stopAll();
    }
  }

  function stopAll() {
    if (source) source.close();
    source = null;
    if (poll) window.clearInterval(poll);
    poll = null;
  }

  function listen() {
    if (!window.EventSource) {
      startPolling();
      return;
    }
    source = new EventSource(`${base()}/stream`);
    source.addEventListener("roll_call", (ev) => {
      roll = JSON.parse(ev.data);
      showError("");
      $("stream-state").textContent = t("roll.live");
      render();
    });
    source.addEventListener("error", () => {
      // EventSource reconnects by itself; when it gives up (closed), poll instead.
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        startPolling();
      }
    });
  }

  function startPolling() {
    $("stream-state").textContent = t("roll.polling");
    if (!poll) poll = window.setInterval(loadOnce, 5000);
    loadOnce();
  }

  GB.page({ nav: "calendar", title: "roll.title", roles: ["admin", "secretariat", "operator", "chair", "auditor"] }, async (me) => {
    who = me;
    if (!sessionId) {
      showError(t("roll.err.noSession"));
      return;
    }
    const id = encodeURIComponent(sessionId);
    $("dl-csv").href = `${base()}.csv`;
    $("dl-xlsx").href = `${base()}.xlsx`;
    $("print").href = `/app/attendance-record?session=${id}`;
    $("to-board").href = `/app/board?session=${id}`;
    if (GB.hasRole(who, ["admin", "secretariat"])) {
      $("mark-section").hidden = false;
      fillMarkStatuses();
      $("mark-form").addEventListener("submit", mark);
    }
    window.addEventListener("gb:langchange", () => { fillMarkStatuses(); render(); });
    await loadOnce();
    listen();
  });
})();
