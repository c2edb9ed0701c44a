// console.js — the operator console (/app/console?session=<id>): reads
// GET /api/sessions/<id>/live every 2 s and renders the floor, the queue of hands (give the
// floor), and the connected sites with their microphone and camera (mute / unmute, held by the
// chair); the buttons call the chairing routes (POST …/floor, DELETE …/floor, POST …/mute,
// POST …/mute-all, PUT …/policy, DELETE …/hands/<site>), and who shares a screen (stop it:
// DELETE …/share). Every answer is the new live state.
// The shell (navigation, API client with CSRF header and login redirect, strings) is common.js.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;
  const REFRESH_MS = 2000;

  GB.addStrings({
    vi: {
      "console.title": "Điều hành phiên họp",
      "console.next": "Mời điểm cầu tiếp theo",
      "console.revoke": "Kết thúc phát biểu",
      "console.muteAll": "Tắt micro tất cả (trừ điểm cầu chủ trì)",
      "console.joinMuted": "Điểm cầu tham gia ở trạng thái tắt micro",
      "console.hands": "Đăng ký phát biểu",
      "console.noHands": "Chưa có điểm cầu đăng ký phát biểu.",
      "console.sites": "Điểm cầu đang kết nối",
      "console.col.site": "Điểm cầu",
      "console.col.mic": "Micro",
      "console.col.cam": "Camera",
      "console.col.actions": "Thao tác",
      "console.refresh": "Tự động cập nhật mỗi 2 giây.",
      "console.floor": "Đang phát biểu: {site}",
      "console.noFloor": "Chưa mời điểm cầu nào phát biểu.",
      "console.on": "Đang bật",
      "console.off": "Đã tắt",
      "console.offByChair": "Chủ trì đã tắt",
      "console.host": "Điểm cầu chủ trì",
      "console.give": "Mời phát biểu",
      "console.lower": "Hủy đăng ký",
      "console.mute": "Tắt micro",
      "console.unmute": "Bật micro",
      "console.camOff": "Tắt camera",
      "console.camOn": "Bật camera",
      "console.noSession": "Thiếu mã phiên họp trong địa chỉ (?session=…).",
      "console.none": "Chưa có điểm cầu nào kết nối.",
      "console.share": "Đang trình chiếu: {site}",
      "console.noShare": "Không có điểm cầu nào trình chiếu.",
      "console.stopShare": "Dừng trình chiếu",
    },
    en: {
      "console.title": "Session console",
      "console.next": "Give the floor to the next site",
      "console.revoke": "Take the floor back",
      "console.muteAll": "Mute all (except the host site)",
      "console.joinMuted": "Sites join muted",
      "console.hands": "Requests to speak",
      "console.noHands": "No site has asked to speak.",
      "console.sites": "Connected sites",
      "console.col.site": "Site",
      "console.col.mic": "Microphone",
      "console.col.cam": "Camera",
      "console.col.actions": "Actions",
      "console.refresh": "Refreshed every 2 seconds.",
      "console.floor": "Speaking: {site}",
      "console.noFloor": "No site has the floor.",
      "console.on": "On",
      "console.off": "Off",
      "console.offByChair": "Muted by the chair",
      "console.host": "Host site",
      "console.give": "Give the floor",
      "console.lower": "Lower hand",
      "console.mute": "Mute",
      "console.unmute": "Unmute",
      "console.camOff": "Camera off",
      "console.camOn": "Camera on",
      "console.noSession": "The address lacks the session id (?session=…).",
      "console.none": "No site is connected yet.",
      "console.share": "Sharing its screen: {site}",
      "console.noShare": "No site is sharing its screen.",
      "console.stopShare": "Stop the screen share",
    },
  });

  const sessionId = new URLSearchParams(window.location.search).get("session");
  const base = () => `/api/sessions/${encodeURIComponent(sessionId)}`;
  let live = null;

  function showError(text) {
    const box = $("console-error");
    box.replaceChildren();
    if (text) box.append(el("p", { class: "notice notice-error" }, text));
  }

  async function call(method, path, body) {
    try {
      live = await GB.api(method, base() + path, body);
      showError("");
      render();
    } catch (e) {
      showError(GB.errorText(e));
    }
  }

  const nameOf = (id) => live?.sites.find((s) => s.site_id === id)?.site_name || id;

  function state(muted, byChair) {
    if (!muted) return t("console.on");
    return byChair ? t("console.offByChair") : t("console.off");
  }

  function render() {
    if (!live) return;
    $("floor").textContent = live.floor ? t("console.floor", { site: nameOf(live.floor) }) : t("console.noFloor");
    $("c-join-muted").checked = !!live.join_muted;
    // Disabled in the page until the live state is known (a click before would do nothing).
    $("c-join-muted").disabled = false;
    $("c-mute-all").disabled = false;
    $("c-share").textContent = live.sharer ? t("console.share", { site: nameOf(live.sharer) }) : t("console.noShare");
    $("c-stop-share").disabled = !live.sharer;
    $("c-revoke").disabled = !live.floor;
    $("c-next").disabled = live.hands.length === 0;
    $("c-no-hands").hidden = live.hands.length > 0;
    $("c-hands").replaceChildren(...live.hands.map((h) => el("li", null,
      `${nameOf(h.site_id)} — ${GB.fmtDateTime(h.raised_at)} `,
      el("button", { type: "button", class: "btn btn-small", on: { click: () => call("POST", "/floor", { site_id: h.site_id }) } }, t("console.give")),
      " ",
      el("button", { type: "button", class: "btn btn-small btn-outline", on: { click: () => call("DELETE", `/hands/${encodeURIComponent(h.site_id)}`) } }, t("console.lower")))));
    const rows = live.sites.map((s) => el("tr", null,
      el("td", null, s.site_name, s.site_id === live.host_site_id ? ` (${t("console.host")})` : ""),
      el("td", null, state(s.audio_muted, s.audio_muted_by_chair)),
      el("td", null, state(s.video_muted, s.video_muted_by_chair)),
      el("td", null,
        el("button", { type: "button", class: "btn btn-small", on: { click: () => call("POST", "/floor", { site_id: s.site_id }) } }, t("console.give")), " ",
        el("button", { type: "button", class: "btn btn-small btn-outline",
          on: { click: () => call("POST", "/mute", { site_id: s.site_id, kind: "audio", muted: !s.audio_muted }) } },
        t(s.audio_muted ? "console.unmute" : "console.mute")), " ",
        el("button", { type: "button", class: "btn btn-small btn-outline",
          on: { click: () => call("POST", "/mute", { site_id: s.site_id, kind: "video", muted: !s.video_muted }) } },
        t(s.video_muted ? "console.camOn" : "console.camOff")))));
    $("c-sites").replaceChildren(...(rows.length ? rows : [el("tr", null, el("td", { colspan: "4", class: "muted" }, t("console.none")))]));
  }

  async function load() {
    try {
      live = await GB.api("GET", `${base()}/live`);
      showError("");
      render();
    } catch (e) {
      showError(GB.errorText(e));
    }
  }

  GB.page({ nav: "calendar", title: "console.title", roles: ["admin", "operator", "chair"] }, async () => {
    if (!sessionId) { showError(t("console.noSession")); return; }
    $("c-next").addEventListener("click", () => call("POST", "/floor", {}));
    $("c-revoke").addEventListener("click", () => call("DELETE", "/floor"));
    $("c-mute-all").addEventListener("click", () => call("POST", "/mute-all"));
    $("c-stop-share").addEventListener("click", () => call("DELETE", "/share"));
    $("c-join-muted").addEventListener("change", (ev) => call("PUT", "/policy", { join_muted: ev.target.checked }));
    window.addEventListener("gb:langchange", render);
    await load();
    window.setInterval(load, REFRESH_MS);
  });
})();
