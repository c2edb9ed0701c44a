// session-recording.js — the recording controls of a session's page (/app/session?id=…), below
// the detail that session.js renders (it announces each render with the "gb:session-detail"
// event): the session's recordings (GET /api/sessions/{id}/recordings) with a link to the review
// page, and for the chair, operator and admin the start / stop buttons (POST
// /api/sessions/{id}/recording/start|stop). A classified session says it is never recorded.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el } = GB;
  const READERS = ["admin", "secretariat", "operator", "chair"];
  const RECORDERS = ["admin", "operator", "chair"];

  GB.addStrings({
    vi: {
      "srec.title": "Ghi hình", "srec.start": "Bắt đầu ghi hình", "srec.stop": "Dừng ghi hình",
      "srec.on": "Đang ghi hình", "srec.none": "Phiên họp chưa có bản ghi hình.",
      "srec.classified": "Phiên họp mật không được ghi hình.", "srec.open": "Xem lại",
      "srec.item": "{start} · {n} tệp · {status}", "srec.started": "Đã bắt đầu ghi hình.",
      "srec.stopped": "Đã dừng ghi hình.",
      "srec.status.recording": "đang ghi", "srec.status.complete": "hoàn tất",
      "srec.status.interrupted": "bị gián đoạn", "srec.status.failed": "lỗi",
    },
    en: {
      "srec.title": "Recording", "srec.start": "Start recording", "srec.stop": "Stop recording",
      "srec.on": "Recording", "srec.none": "No recording of this session yet.",
      "srec.classified": "A classified session is never recorded.", "srec.open": "Play back",
      "srec.item": "{start} · {n} files · {status}", "srec.started": "Recording started.",
      "srec.stopped": "Recording stopped.",
      "srec.status.recording": "recording", "srec.status.complete": "complete",
      "srec.status.interrupted": "interrupted", "srec.status.failed": "failed",
    },
  });

  async function render(session, who) {
    if (!GB.hasRole(who, READERS)) return;
    const box = el("section", { id: "session-recording", "aria-live": "polite" });
    const old = document.getElementById("session-recording");
    if (old) old.remove();
    document.getElementById("detail").append(box);
    box.append(el("h2", null, t("srec.title")));
    if (session.classified) {
      box.append(el("p", { class: "notice notice-warn" }, t("srec.classified")));
      return;
    }
    let list = [];
    try {
      list = await GB.api("GET", `/api/sessions/${encodeURIComponent(session.id)}/recordings`);
    } catch (e) {
      box.append(el("p", { class: "muted" }, GB.errorText(e)));
      return;
    }
    const running = list.some((r) => r.recording.status === "recording");
    if (running) box.append(el("p", null, el("span", { class: "badge badge-danger" }, t("srec.on"))));
    if (GB.hasRole(who, RECORDERS) && session.status !== "cancelled") {
      const action = running ? "stop" : "start";
      const btn = el("button", { type: "button", id: `recording-${action}`, class: running ? "btn btn-danger" : "btn btn-primary" }, t(`srec.${action}`));
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        try {
          await GB.api("POST", `/api/sessions/${encodeURIComponent(session.id)}/recording/${action}`, {});
          GB.toast(t(running ? "srec.stopped" : "srec.started"), "ok");
        } catch (e) {
          GB.toast(GB.errorText(e), "error");
        }
        render(session, who);
      });
      box.append(el("p", { class: "btn-row" }, btn));
    }
    if (!list.length) {
      box.append(el("p", { class: "muted" }, t("srec.none")));
      return;
    }
    box.append(el("ul", null, ...list.map((r) => el("li", null,
      t("srec.item", { start: GB.fmtDateTime(r.recording.started_at), n: r.files.length, status: t(`srec.status.${r.recording.status}`) }), " ",
      el("a", { href: `/app/review?id=${encodeURIComponent(r.recording.id)}` }, t("srec.open"))))));
  }

  window.addEventListener("gb:session-detail", (e) => render(e.detail.session, e.detail.who));
})();
