// chair.js — chairing on the room page (docs/protocol.md, "Chairing"): the hand button and the
// floor state for every site, the "muted by the chair" state of the own microphone, and for the
// host site the control panel (queue of hands with give / take the floor, mute all, sites join
// muted), a mute button on each tile, the main view (floor holder large), the highlight of who is
// speaking (`speaking`), and the page arrows of
// its grid, which tell the server what to forward (`subscribe`). room.js owns the connection and
// the tiles and calls in through the hooks it passes to create().
// Exposes window.GiaobanChair = { create }.
"use strict";

(function () {
  const i18n = window.i18n;
  const t = (key, params) => i18n.t(key, params);
  const $ = (id) => document.getElementById(id);

  function create(hooks) {
    // hooks: send(msg), peers() -> Map, siteId(), hostSiteId(), isHost(), joined(), siteName(siteId),
    //        applyChairMute(kind, muted) (the chair muted / unmuted the own microphone or camera)
    const C = {
      hands: [],          // [{site_id, raised_at}]
      floor: null,        // site id holding the floor
      joinMuted: false,
      pageSize: 25,
      page: 0,
      chairMuted: { audio: false, video: false },  // the chair holds the own mute
      muted: new Map(),   // site id -> { audio: {muted, by}, video: {muted, by} }
      speaking: new Set(), // site ids speaking now (from the server's audio levels)
    };

    const nameOf = (siteId) => hooks.siteName(siteId) || siteId;
    const others = () => [...hooks.peers().values()].map((p) => p.siteId).sort();
    const pages = () => Math.max(1, Math.ceil(others().length / C.pageSize));

    function onMessage(msg) {
      switch (msg.type) {
        case "hands_changed": C.hands = msg.hands || []; break;
        case "floor_changed": C.floor = msg.site_id || null; break;
        case "speaking":
          if (msg.speaking) C.speaking.add(msg.site_id); else C.speaking.delete(msg.site_id);
          break;
        case "chair_policy":
          C.joinMuted = !!msg.join_muted;
          if (msg.page_size > 0) C.pageSize = msg.page_size;
          break;
        case "mute_changed": {
          const m = C.muted.get(msg.site_id) || {};
          m[msg.kind] = { muted: !!msg.muted, by: msg.by || "site" };
          C.muted.set(msg.site_id, m);
          if (msg.site_id === hooks.siteId()) {
            C.chairMuted[msg.kind] = !!msg.muted && msg.by === "chair";
            // The server decides: a chair's mute or unmute applies to the own track.
            if (msg.by === "chair" || !msg.muted) hooks.applyChairMute(msg.kind, !!msg.muted);
          }
          break;
        }
        default: return false;
      }
      render();
      return true;
    }

    function reset() {
      C.hands = []; C.floor = null; C.page = 0;
      C.chairMuted = { audio: false, video: false };
      C.muted.clear();
      C.speaking.clear();
      render();
    }

    const raised = () => C.hands.some((h) => h.site_id === hooks.siteId());

    function toggleHand() {
      hooks.send({ type: raised() ? "lower_hand" : "raise_hand" });
    }

    function setPage(p) {
      const n = pages();
      const next = Math.min(Math.max(0, p), n - 1);
      if (next === C.page) return;
      C.page = next;
      hooks.send({ type: "subscribe", page: C.page });
      render();
    }

    // Which tiles the page shows: the host its page of the grid and the floor holder; a remote
    // site the host and the floor holder (the server forwards exactly that video).
    function visible(siteId) {
      if (siteId === C.floor) return true;
      if (!hooks.isHost()) return siteId === hooks.hostSiteId();
      const list = others();
      const start = Math.min(C.page, pages() - 1) * C.pageSize;
      return list.slice(start, start + C.pageSize).includes(siteId);
    }

    // Tile decorations: main view, hand raised, mute button for the host.
    function decorateTile(peer) {
      const el = peer.el;
      if (!el) return;
      el.classList.toggle("tile-main", peer.siteId === C.floor);
      el.classList.toggle("tile-hand", C.hands.some((h) => h.site_id === peer.siteId));
      el.classList.toggle("tile-speaking", C.speaking.has(peer.siteId));
      el.hidden = !visible(peer.siteId);
      let btn = el.querySelector(".tile-mute");
      if (!hooks.isHost()) { btn?.remove(); return; }
      if (!btn) {
        btn = document.createElement("button");
        btn.type = "button";
        btn.className = "btn btn-small tile-mute";
        btn.addEventListener("click", () => {
          const m = C.muted.get(peer.siteId)?.audio;
          hooks.send({ type: "set_mute", site_id: peer.siteId, kind: "audio", muted: !m?.muted });
        });
        el.appendChild(btn);
      }
      const muted = !!C.muted.get(peer.siteId)?.audio?.muted;
      btn.textContent = t(muted ? "chair.unmuteSite" : "chair.muteSite");
      btn.setAttribute("aria-label", `${btn.textContent}: ${peer.siteName}`);
      btn.classList.toggle("is-off", muted);
    }

    function timeOf(iso) {
      try {
        return new Intl.DateTimeFormat("vi-VN", { timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit",
          minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(new Date(iso));
      } catch (_) { return ""; }
    }

    function renderPanel() {
      const panel = $("chair-panel");
      panel.hidden = !(hooks.joined() && hooks.isHost());
      if (panel.hidden) return;
      const list = $("hands-list");
      list.replaceChildren(...C.hands.map((h, i) => {
        const li = document.createElement("li");
        const label = document.createElement("span");
        label.textContent = `${i + 1}. ${nameOf(h.site_id)} — ${timeOf(h.raised_at)}`;
        const give = document.createElement("button");
        give.type = "button";
        give.className = "btn btn-small";
        give.textContent = t("chair.give");
        give.addEventListener("click", () => hooks.send({ type: "give_floor", site_id: h.site_id }));
        li.append(label, give);
        return li;
      }));
      $("hands-empty").hidden = C.hands.length > 0;
      $("next-btn").disabled = C.hands.length === 0;
      $("revoke-btn").disabled = !C.floor;
      $("join-muted").checked = C.joinMuted;
      const n = pages();
      $("page-label").textContent = t("chair.page", { page: Math.min(C.page, n - 1) + 1, pages: n });
      $("page-prev").disabled = C.page <= 0;
      $("page-next").disabled = C.page >= n - 1;
    }

    function render() {
      const floor = $("floor-banner");
      floor.hidden = !(hooks.joined() && C.floor);
      if (C.floor) {
        floor.textContent = C.floor === hooks.siteId() ? t("chair.youHaveFloor") : t("chair.floorHolder", { site: nameOf(C.floor) });
      }
      const hand = $("hand-btn");
      hand.hidden = !hooks.joined() || hooks.isHost();
      hand.textContent = t(raised() ? "chair.lowerHand" : "chair.raiseHand");
      hand.classList.toggle("is-on", raised());
      hand.setAttribute("aria-pressed", String(raised()));
      $("chair-muted-note").hidden = !C.chairMuted.audio;
      renderPanel();
      for (const peer of hooks.peers().values()) decorateTile(peer);
    }

    function wire() {
      $("hand-btn").addEventListener("click", toggleHand);
      $("next-btn").addEventListener("click", () => hooks.send({ type: "give_floor" }));
      $("revoke-btn").addEventListener("click", () => hooks.send({ type: "revoke_floor" }));
      $("mute-all-btn").addEventListener("click", () => hooks.send({ type: "mute_all" }));
      $("join-muted").addEventListener("change", (ev) => hooks.send({ type: "set_join_muted", on: ev.target.checked }));
      $("page-prev").addEventListener("click", () => setPage(C.page - 1));
      $("page-next").addEventListener("click", () => setPage(C.page + 1));
    }

    wire();
    return {
      onMessage, reset, render, decorateTile,
      chairHolds: (kind) => C.chairMuted[kind],
      state: () => ({ hands: C.hands.map((h) => h.site_id), floor: C.floor, page: C.page, pages: pages(),
        speaking: [...C.speaking],
        joinMuted: C.joinMuted, chairMuted: { ...C.chairMuted } }),
    };
  }

  window.GiaobanChair = { create };
})();
