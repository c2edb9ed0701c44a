// console-recording.js — the recording panel of the operator console (/app/console?session=<id>):
// reads GET /api/sessions/<id>/recordings every 2 s and shows whether the session is being
// recorded (*Đang ghi hình*, since when, the running time kept live), the start / stop button
// (POST /api/sessions/<id>/recording/start|stop, the same routes as the session page), why a
// recording was refused (a classified session) or stopped (a full disk or the size limit), and
// the session's recordings with a link to the review page. console.js owns the rest of the page.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;
  const REFRESH_MS = 2000;

  GB.addStrings({
    vi: {
      "crec.title": "Ghi hình",
      "crec.start": "Bắt đầu ghi hình",
      "crec.stop": "Dừng ghi hình",
      "crec.on": "Đang ghi hình",
      "crec.since": "từ {at} (đã ghi {elapsed})",
      "crec.off": "Phiên họp đang không được ghi hình.",
      "crec.none": "Phiên họp chưa có bản ghi hình.",
      "crec.open": "Xem lại",
      "crec.item": "{start} – {stop} · {n} tệp · {status}",
      "crec.started": "Đã bắt đầu ghi hình.",
      "crec.stopped": "Đã dừng ghi hình.",
      "crec.classified": "Phiên họp mật không được ghi hình.",
      "crec.err.classified": "Không thể ghi hình: phiên họp mật không được ghi hình.",
      "crec.err.already_recording": "Phiên họp đang được ghi hình.",
      "crec.err.not_recording": "Phiên họp hiện không được ghi hình.",
      "crec.err.session_cancelled": "Phiên họp đã bị hủy, không thể ghi hình.",
      "crec.err.full": "Ghi hình đã dừng lúc {at}: hết dung lượng lưu trữ. Phiên họp vẫn tiếp tục; đề nghị giải phóng dung lượng trước khi ghi hình lại.",
      "crec.err.failed": "Ghi hình đã dừng lúc {at} do lỗi: {message}",
      "crec.status.recording": "đang ghi", "crec.status.complete": "hoàn tất",
      "crec.status.interrupted": "bị gián đoạn", "crec.status.failed": "lỗi",
    },
    en: {
      "crec.title": "Recording",
      "crec.start": "Start recording",
      "crec.stop": "Stop recording",
      "crec.on": "Recording",
      "crec.since": "since {at} ({elapsed} so far)",
      "crec.off": "The session is not being recorded.",
      "crec.none": "No recording of this session yet.",
      "crec.open": "Play back",
      "crec.item": "{start} – {stop} · {n} files · {status}",
      "crec.started": "Recording started.",
      "crec.stopped": "Recording stopped.",
      "crec.classified": "A classified session is never recorded.",
      "crec.err.classified": "Cannot record: a classified session is never recorded.",
      "crec.err.already_recording": "The session is already being recorded.",
      "crec.err.not_recording": "The session is not being recorded.",
      "crec.err.session_cancelled": "The session is cancelled: it cannot be recorded.",
      "crec.err.full": "Recording stopped at {at}: the storage is full. The session goes on; free some space before recording again.",
      "crec.err.failed": "Recording stopped at {at} after an error: {message}",
      "crec.status.recording": "recording", "crec.status.complete": "complete",
      "crec.status.interrupted": "interrupted", "crec.status.failed": "failed",
    },
  });

  // A write error or the size limit: the recording stopped for want of space.
  const FULL = /size limit|no space|os error 28|disk full|quota/i;

  const sessionId = new URLSearchParams(window.location.search).get("session");
  const base = () => `/api/sessions/${encodeURIComponent(sessionId)}`;
  let list = null;
  let session = null;
  let busy = false;
  let error = "";

  function elapsed(since) {
    const s = Math.max(0, Math.floor((Date.now() - new Date(since).getTime()) / 1000));
    const hh = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    return hh > 0 ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  function errorOf(e) {
    const key = `crec.err.${e && e.code}`;
    return GB.has(key) ? t(key) : GB.errorText(e);
  }

  // Why the latest recording stopped on its own, if it did.
  function failure(latest) {
    if (!latest || latest.status !== "failed" || !latest.error) return "";
    const at = GB.fmtDateTime(latest.stopped_at || latest.started_at, true);
    return FULL.test(latest.error) ? t("crec.err.full", { at }) : t("crec.err.failed", { at, message: latest.error });
  }

  function running() {
    return (list || []).find((r) => r.recording.status === "recording")?.recording || null;
  }

  // The live part: badge, since when, running time (every second).
  function renderState() {
    const rec = running();
    const box = $("crec-state");
    box.replaceChildren();
    if (rec) {
      box.append(el("span", { class: "badge badge-danger", id: "crec-on" }, t("crec.on")), " ",
        el("span", { id: "crec-since" }, t("crec.since", { at: GB.fmtDateTime(rec.started_at, true), elapsed: elapsed(rec.started_at) })));
    } else if (list) {
      box.append(el("span", { class: "muted" }, t("crec.off")));
    }
  }

  function render() {
    if (!list) return;
    const rec = running();
    const btn = $("crec-toggle");
    btn.textContent = t(rec ? "crec.stop" : "crec.start");
    btn.className = rec ? "btn btn-small btn-danger" : "btn btn-small btn-primary";
    btn.dataset.action = rec ? "stop" : "start";
    btn.disabled = busy || (!rec && !!session?.classified);
    $("crec-classified").hidden = !session?.classified;
    renderState();
    const notice = error || failure(list[0]?.recording);
    $("crec-error").replaceChildren(...(notice ? [el("p", { class: "notice notice-error" }, notice)] : []));
    const items = list.map((r) => el("li", { "data-recording": r.recording.id, "data-status": r.recording.status },
      t("crec.item", {
        start: GB.fmtDateTime(r.recording.started_at, true),
        stop: r.recording.stopped_at ? GB.fmtDateTime(r.recording.stopped_at, true) : "…",
        n: r.files.length,
        status: t(`crec.status.${r.recording.status}`),
      }), " ",
      el("a", { href: `/app/review?id=${encodeURIComponent(r.recording.id)}` }, t("crec.open"))));
    $("crec-list").replaceChildren(...items);
    $("crec-none").hidden = items.length > 0;
  }

  async function load() {
    try {
      list = await GB.api("GET", `${base()}/recordings`);
      list.sort((a, b) => String(b.recording.started_at).localeCompare(String(a.recording.started_at)));
    } catch (e) {
      error = GB.errorText(e);
    }
    render();
  }

  async function toggle() {
    const action = $("crec-toggle").dataset.action;
    busy = true;
    render();
    try {
      await GB.api("POST", `${base()}/recording/${action}`, {});
      error = "";
      GB.toast(t(action === "stop" ? "crec.stopped" : "crec.started"), "ok");
    } catch (e) {
      error = errorOf(e);
    }
    busy = false;
    await load();
  }

  GB.ready().then(async () => {
    if (!sessionId || !$("crec-toggle")) return;
    $("crec-toggle").addEventListener("click", toggle);
    window.addEventListener("gb:langchange", render);
    try {
      session = await GB.api("GET", base());
    } catch (e) {
      // The console shows why it cannot read the session; the panel still lists recordings.
    }
    await load();
    window.setInterval(load, REFRESH_MS);
    window.setInterval(renderState, 1000);
  });
})();
