// org-kiosk.js — on the units and sites page, in a site's devices dialog: "Tạo mã ghép nối kiosk"
// (POST /api/sites/<id>/pairings with the label typed above: a one-time code and a pairing link
// to open on the room PC's /kiosk page, shown until the dialog closes) and the site's stable link
// (GET /api/sites/<id>/link, copy, re-issue, revoke: /s/<token> always leads to the site's
// current or next session). The dialog's site comes from org.js (window.GBOrg).
"use strict";

(function () {
  const GB = window.GB;
  const { t, $ } = GB;

  GB.addStrings({
    vi: {
      "kio.pair": "Tạo mã ghép nối kiosk",
      "kio.pairHint": "Trên máy tính phòng họp, mở trang /kiosk và nhập mã ghép nối, hoặc mở đường dẫn ghép nối. Mã chỉ dùng được một lần.",
      "kio.code": "Mã ghép nối",
      "kio.link": "Đường dẫn ghép nối",
      "kio.expires": "(hết hạn lúc {time})",
      "kio.paired": "Đã tạo mã ghép nối cho thiết bị “{label}”.",
      "kio.siteLink": "Đường dẫn cố định của điểm cầu",
      "kio.siteLinkHint": "Luôn dẫn tới phiên họp hiện tại hoặc sắp tới của điểm cầu; gửi một lần cho điểm cầu không có máy kiosk.",
      "kio.reissue": "Cấp lại",
      "kio.revoke": "Thu hồi",
      "kio.linkRevoked": "Đường dẫn đã bị thu hồi lúc {time}. Cấp lại để tạo đường dẫn mới.",
      "kio.linkIssued": "Lần cấp {v}, lúc {time}. Cấp lại thì đường dẫn cũ không còn dùng được.",
      "kio.copied": "Đã sao chép.",
      "kio.done.reissue": "Đã cấp đường dẫn cố định mới; đường dẫn cũ không còn dùng được.",
      "kio.done.revoke": "Đã thu hồi đường dẫn cố định của điểm cầu.",
    },
    en: {
      "kio.pair": "Create a kiosk pairing code",
      "kio.pairHint": "On the meeting-room PC, open the /kiosk page and type the pairing code, or open the pairing link. The code works once.",
      "kio.code": "Pairing code",
      "kio.link": "Pairing link",
      "kio.expires": "(expires at {time})",
      "kio.paired": "Pairing code created for device “{label}”.",
      "kio.siteLink": "The site's stable link",
      "kio.siteLinkHint": "Always leads to the site's current or next session; send it once to a site without a kiosk.",
      "kio.reissue": "Re-issue",
      "kio.revoke": "Revoke",
      "kio.linkRevoked": "The link was revoked at {time}. Re-issue it to make a new one.",
      "kio.linkIssued": "Issue {v}, at {time}. Re-issuing stops the old link.",
      "kio.copied": "Copied.",
      "kio.done.reissue": "A new stable link was issued; the old one no longer works.",
      "kio.done.revoke": "The site's stable link was revoked.",
    },
  });

  const site = () => window.GBOrg && window.GBOrg.deviceSite();
  const sitePath = (s) => `/api/sites/${encodeURIComponent(s.id)}`;

  async function createPairing() {
    const s = site();
    if (!s) return;
    const input = $("d-label");
    const label = input.value.trim();
    $("device-error").textContent = "";
    if (!label || label.length > 100) {
      input.setAttribute("aria-invalid", "true");
      $("device-error").textContent = t("invalid.label");
      input.focus();
      return;
    }
    try {
      const p = await GB.api("POST", `${sitePath(s)}/pairings`, { label });
      input.value = "";
      $("pairing-code").textContent = p.code;
      $("pairing-expiry").textContent = t("kio.expires", { time: GB.fmtDateTime(p.expires_at) });
      $("pairing-link").value = p.link;
      $("pairing-box").hidden = false;
      GB.toast(t("kio.paired", { label }), "success");
      await window.GBOrg.reloadDevices();
    } catch (e) {
      $("device-error").textContent = GB.errorText(e);
    }
  }

  function showLink(l) {
    $("site-link").value = l.link || "";
    $("copy-site-link").disabled = !l.link;
    $("revoke-site-link").hidden = !l.link;
    $("site-link-state").textContent = l.link
      ? t("kio.linkIssued", { v: l.version, time: GB.fmtDateTime(l.issued_at) })
      : t("kio.linkRevoked", { time: GB.fmtDateTime(l.revoked_at) });
  }

  async function loadLink(s) {
    $("site-link").value = "";
    $("site-link-state").textContent = "";
    try {
      const l = await GB.api("GET", `${sitePath(s)}/link`);
      if (site() === s) showLink(l);
    } catch (e) {
      $("site-link-state").textContent = GB.errorText(e);
    }
  }

  async function linkAction(action) {
    const s = site();
    if (!s) return;
    try {
      showLink(await GB.api("POST", `${sitePath(s)}/link/${action}`));
      GB.toast(t(`kio.done.${action}`), "success");
    } catch (e) {
      GB.toast(GB.errorText(e), "error");
    }
  }

  async function copy(text) {
    const ok = await GB.copyText(text);
    GB.toast(t(ok ? "kio.copied" : "dev.copyManually"), ok ? "success" : "warn");
  }

  function wire() {
    $("pair-kiosk").addEventListener("click", createPairing);
    $("copy-pairing").addEventListener("click", () => copy($("pairing-link").value));
    $("copy-site-link").addEventListener("click", () => copy($("site-link").value));
    GB.confirmClick($("reissue-site-link"), () => linkAction("reissue"));
    GB.confirmClick($("revoke-site-link"), () => linkAction("revoke"));
    window.addEventListener("gb:devicesite", (ev) => {
      $("pairing-box").hidden = true;
      $("pairing-link").value = "";
      loadLink(ev.detail);
    });
    // The code is shown while the dialog is open only.
    $("devices-dialog").addEventListener("close", () => { $("pairing-box").hidden = true; $("pairing-link").value = ""; });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
