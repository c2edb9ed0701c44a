// tiles.js — the remote sites on the room page: one tile per connected site (sorted by name),
// remote tracks attached to their site by stream or track id (a track that arrives before its
// owner is announced waits as an orphan), autoplay with the "Bật âm thanh" fallback. room.js owns
// the state and passes it in; chair.js decorates each tile (main view, hand, mute button).
// Exposes window.GiaobanTiles = { create }.
"use strict";

(function () {
  const i18n = window.i18n;
  const t = (key, params, fallback) => i18n.t(key, params, fallback);
  const $ = (id) => document.getElementById(id);
  const collator = new Intl.Collator("vi", { sensitivity: "base", numeric: true });

  // S: the room page's state (peers, owners, orphans, own ids); hooks: setStatus, decorate(peer).
  function create(S, hooks) {
    const setStatus = hooks.setStatus;

    function upsertPeer(p) {
      if (!p.participant_id || p.participant_id === S.participantId || (S.siteId && p.site_id === S.siteId)) return null;
      // Only one connection per site is live: a newer participant of the same site replaces the old.
      for (const [pid, other] of S.peers) if (other.siteId === p.site_id && pid !== p.participant_id) removePeer(pid);
      let peer = S.peers.get(p.participant_id);
      if (!peer) {
        peer = { participantId: p.participant_id, siteId: p.site_id, siteName: p.site_name || p.site_id,
          audioMuted: false, videoMuted: false, stream: new MediaStream(), el: null };
        S.peers.set(peer.participantId, peer);
        createTile(peer);
      }
      if (p.site_name) peer.siteName = p.site_name;
      if (typeof p.audio_muted === "boolean") peer.audioMuted = p.audio_muted;
      if (typeof p.video_muted === "boolean") peer.videoMuted = p.video_muted;
      renderTile(peer);
      updateEmpty();
      return peer;
    }

    function removePeer(pid) {
      const peer = S.peers.get(pid);
      if (!peer) return;
      S.peers.delete(pid);
      peer.el?.remove();
      for (const map of [S.streamOwner, S.trackOwner]) for (const [k, v] of map) if (v === pid) map.delete(k);
      updateEmpty();
    }

    function onRemoteTrack(ev) {
      const track = ev.track;
      const streamId = ev.streams?.[0]?.id;
      const pid = (streamId && S.streamOwner.get(streamId)) || S.trackOwner.get(track.id);
      if (pid && S.peers.has(pid)) attachTrack(pid, track);
      else S.orphans.push({ track, streamId });
    }

    function adoptOrphans() {
      S.orphans = S.orphans.filter(({ track, streamId }) => {
        const pid = (streamId && S.streamOwner.get(streamId)) || S.trackOwner.get(track.id);
        if (!pid || !S.peers.has(pid)) return track.readyState === "live";
        attachTrack(pid, track);
        return false;
      });
    }

    function attachTrack(pid, track) {
      const peer = S.peers.get(pid);
      S.trackOwner.set(track.id, pid);
      for (const old of peer.stream.getTracks()) if (old.kind === track.kind && old !== track) peer.stream.removeTrack(old);
      if (!peer.stream.getTrackById(track.id)) peer.stream.addTrack(track);
      track.addEventListener("ended", () => { peer.stream.removeTrack(track); renderTile(peer); });
      const video = peer.el.querySelector("video");
      if (video.srcObject !== peer.stream) video.srcObject = peer.stream;
      playRemote(video);
      renderTile(peer);
    }

    // Autoplay with sound may be refused (kiosk without a click): play muted and offer a button.
    function playRemote(video) {
      video.play().catch((err) => {
        if (err?.name !== "NotAllowedError") return;
        video.muted = true;
        video.dataset.autoMuted = "1";
        video.play().catch(() => {});
        $("enable-sound").hidden = false;
        setStatus("status.soundBlocked", "warn");
      });
    }

    function enableSound() {
      document.querySelectorAll("#tiles video[data-auto-muted]").forEach((v) => {
        v.muted = false;
        delete v.dataset.autoMuted;
        v.play().catch(() => {});
      });
      $("enable-sound").hidden = true;
      setStatus(null);
    }

    function createTile(peer) {
      const fig = document.createElement("figure");
      fig.className = "tile";
      fig.dataset.siteId = peer.siteId;
      fig.dataset.participantId = peer.participantId;
      fig.innerHTML = `<video autoplay playsinline></video><div class="tile-placeholder"></div>
        <figcaption class="tile-caption"><span class="caption-name"></span>
        <span class="badge badge-muted" hidden>${$("self-mic-muted").querySelector("svg").outerHTML}<span></span></span></figcaption>`;
      peer.el = fig;
      const tiles = $("tiles");
      const next = [...tiles.children].find((el) => collator.compare(S.peers.get(el.dataset.participantId)?.siteName || "", peer.siteName) > 0);
      tiles.insertBefore(fig, next || null);
    }

    const hasLive = (peer, kind) => peer.stream.getTracks().some((tr) => tr.kind === kind && tr.readyState === "live");

    function renderTile(peer) {
      const el = peer.el;
      if (!el) return;
      el.setAttribute("aria-label", t("tile.aria", { site: peer.siteName }));
      el.querySelector(".caption-name").textContent = peer.siteName;
      const badge = el.querySelector(".badge-muted");
      badge.hidden = !peer.audioMuted;
      badge.lastElementChild.textContent = t("tile.micMuted");
      const placeholder = el.querySelector(".tile-placeholder");
      const showVideo = hasLive(peer, "video") && !peer.videoMuted;
      placeholder.hidden = showVideo;
      placeholder.textContent = peer.videoMuted ? t("tile.camOff") : t("tile.noVideo");
      el.classList.toggle("no-video", !showVideo);
      hooks.decorate(peer);
    }

    function updateEmpty() {
      $("empty-note").hidden = !(S.joined && S.peers.size === 0);
    }

    return { upsertPeer, removePeer, onRemoteTrack, adoptOrphans, renderTile, enableSound, updateEmpty, hasLive };
  }

  window.GiaobanTiles = { create };
})();
