// attendance-record.js — the printable attendance record (/app/attendance-record?session=<id>):
// reads GET /api/sessions/<id>/attendance once and fills the A4 layout of attendance-record.html
// (times dd/mm/yyyy HH:mm in Asia/Ho_Chi_Minh through common.js); "In biên bản" prints.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;

  GB.addStrings({
    vi: {
      "rec.title": "BIÊN BẢN ĐIỂM DANH",
      "rec.print": "In biên bản",
      "rec.nation": "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
      "rec.motto": "Độc lập – Tự do – Hạnh phúc",
      "rec.session": "Phiên họp",
      "rec.chair": "Chủ trì",
      "rec.time": "Thời gian",
      "rec.result": "Kết quả",
      "rec.counts": "Có mặt {attended}/{expected} điểm cầu (đến muộn {late}, về sớm {left_early}); vắng mặt {absent}, vắng mặt có lý do {absent_with_reason}, được miễn {excused}.",
      "rec.col.no": "STT",
      "rec.col.site": "Điểm cầu",
      "rec.col.in": "Vào lúc",
      "rec.col.out": "Rời lúc",
      "rec.col.minutes": "Có mặt (phút)",
      "rec.col.status": "Trạng thái",
      "rec.col.note": "Ghi chú",
      "rec.incidents": "Mất kết nối {n} lần",
      "rec.generated": "Lập lúc {t}.",
      "rec.secretary": "THƯ KÝ",
      "rec.chairSign": "CHỦ TRÌ",
      "rec.sign": "(Ký, ghi rõ họ tên)",
      "rec.err.noSession": "Địa chỉ trang thiếu mã phiên họp (?session=…).",
    },
    en: {
      "rec.title": "ATTENDANCE RECORD",
      "rec.print": "Print the record",
      "rec.nation": "SOCIALIST REPUBLIC OF VIET NAM",
      "rec.motto": "Independence – Freedom – Happiness",
      "rec.session": "Session",
      "rec.chair": "Chair",
      "rec.time": "Time",
      "rec.result": "Result",
      "rec.counts": "Present {attended}/{expected} sites (late {late}, left early {left_early}); absent {absent}, absent with reason {absent_with_reason}, excused {excused}.",
      "rec.col.no": "No.",
      "rec.col.site": "Site",
      "rec.col.in": "In",
      "rec.col.out": "Out",
      "rec.col.minutes": "Present (min)",
      "rec.col.status": "Status",
      "rec.col.note": "Note",
      "rec.incidents": "Connection lost {n} times",
      "rec.generated": "Drawn up at {t}.",
      "rec.secretary": "SECRETARY",
      "rec.chairSign": "CHAIR",
      "rec.sign": "(Signature, full name)",
      "rec.err.noSession": "The page address lacks the session id (?session=…).",
    },
  });

  const sessionId = new URLSearchParams(window.location.search).get("session") || "";
  let roll = null;

  function render() {
    if (!roll) return;
    $("rec-host").textContent = roll.host_name;
    $("rec-title").textContent = roll.title;
    $("rec-chair").textContent = [roll.chair, roll.host_name].filter(Boolean).join(" – ");
    $("rec-time").textContent = [GB.fmtDateTime(roll.starts_at), GB.fmtDateTime(roll.ends_at)].filter(Boolean).join(" – ");
    $("rec-counts").textContent = t("rec.counts", roll.counts);
    GB.clear($("rec-rows")).append(...roll.sites.map((s, i) => {
      const notes = [];
      if (s.incidents) notes.push(t("rec.incidents", { n: s.incidents }));
      if (s.mark && s.mark.reason) notes.push(s.mark.reason);
      return el("tr", { dataset: { site: s.site_id } },
        el("td", { class: "num" }, String(i + 1)),
        el("td", null, s.site_name),
        el("td", null, s.first_join ? GB.fmtDateTime(s.first_join) : ""),
        el("td", null, s.last_leave ? GB.fmtDateTime(s.last_leave) : ""),
        el("td", { class: "num" }, String(Math.floor(s.present_seconds / 60))),
        el("td", null, t(`att.status.${s.status}`)),
        el("td", null, notes.join("; ")));
    }));
    $("rec-generated").textContent = t("rec.generated", { t: GB.fmtDateTime(roll.generated_at) });
  }

  GB.page({ nav: "calendar", title: "rec.title", roles: ["admin", "secretariat", "operator", "chair", "auditor"] }, async () => {
    if (!sessionId) {
      $("rec-error").append(el("p", { class: "notice notice-error" }, t("rec.err.noSession")));
      return;
    }
    $("do-print").addEventListener("click", () => window.print());
    window.addEventListener("gb:langchange", render);
    try {
      roll = await GB.api("GET", `/api/sessions/${encodeURIComponent(sessionId)}/attendance`);
      render();
    } catch (e) {
      $("rec-error").append(el("p", { class: "notice notice-error" }, GB.errorText(e)));
    }
  });
})();
