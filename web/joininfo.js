// joininfo.js — the room page before joining: the join information of the link
// (/api/join/<token>), and the join window — before the room opens, "Chưa đến giờ họp" with the
// start, the join button off (the device check stays) and a timer that reloads the information
// when the room opens; the device check's result reported for the invitation board. room.js owns
// the state and passes it in.
// Exposes window.GiaobanJoinInfo = { create }.
"use strict";

(function () {
  const i18n = window.i18n;
  const t = (key, params, fallback) => i18n.t(key, params, fallback);
  const $ = (id) => document.getElementById(id);

  // S: the room page's state; h: token, autojoin, showEnded, setStatus, errorText, renderHeader,
  // resetJoinButton, join.
  function create(S, h) {

    // Returns "ok", "fatal" (bad link: nothing else to do) or "network" (try the socket anyway).
    async function loadInfo() {
      if (!h.token) { h.showEnded("fatal.title", "err.noToken", false); return "fatal"; }
      let res;
      try {
        const t0 = performance.now();
        res = await fetch(`/api/join/${encodeURIComponent(h.token)}`, { cache: "no-store", headers: { Accept: "application/json" } });
        S.rttMs = performance.now() - t0;
      } catch (_) {
        h.setStatus("err.network", "error");
        return "network";
      }
      let body = null;
      try { body = await res.json(); } catch (_) { /* not JSON */ }
      if (!res.ok) {
        if (res.status >= 500 || !body) { h.setStatus(() => h.errorText(body?.code, body?.message || `HTTP ${res.status}`), "error"); return "network"; }
        h.showEnded("fatal.title", () => h.errorText(body.code, body.message), false);
        return "fatal";
      }
      S.info = body;
      S.sessionId = body?.session?.id ?? null;
      h.renderHeader();
      setEarly(body?.window?.state === "too_early" ? { opensAt: body.window.opens_at, startsAt: body.window.starts_at } : null);
      return "ok";
    }

    // ---------------------------------------------------------------- join window

    // Before the room opens: "Chưa đến giờ họp" with the start, the join button off (the device
    // check stays), and a timer that reloads the join info when the room opens.
    function setEarly(early) {
      S.early = early;
      clearTimeout(S.earlyTimer);
      renderEarly();
      if (!early) return;
      const wait = Math.max(1000, new Date(early.opensAt).getTime() - Date.now() + 500);
      S.earlyTimer = setTimeout(reopen, Math.min(wait, 2 ** 31 - 1));
    }

    async function reopen() {
      const info = await loadInfo();
      if (info === "ok" && !S.early) {
        h.resetJoinButton();
        if (h.autojoin) h.join();
      } else if (info !== "fatal" && !S.early) {
        S.earlyTimer = setTimeout(reopen, 5000);
      }
    }

    function renderEarly() {
      $("early").hidden = !S.early;
      if (!S.early) return;
      $("early-text").textContent = t("early.text", {
        start: i18n.formatDateTime(S.early.startsAt), opens: i18n.formatDateTime(S.early.opensAt),
      });
      const btn = $("join-btn");
      btn.disabled = true;
    }

    // Gửi kết quả kiểm tra: the device check and the HTTP round trip, for the invitation board.
    function reportTest() {
      const body = { camera: !!S.tracks.video, microphone: !!S.tracks.audio, network_ms: Math.round(S.rttMs || 0) };
      fetch(`/api/join/${encodeURIComponent(h.token)}/test-result`, { method: "POST",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }).catch(() => {});
    }

    return { loadInfo, setEarly, reopen, renderEarly, reportTest };
  }

  window.GiaobanJoinInfo = { create };
})();
