// peer.js — the room page's two peer connections (docs/protocol.md): making one (ICE servers,
// ICE restart through ice.js, trickled candidates sent, failure reported), remote candidates
// queued until the remote description is set, and the VP8 preference of a video transceiver
// (the camera's in room.js, the shared screen's in share.js).
// Exposes window.GiaobanPeer = { create, preferVp8 }.
"use strict";

(function () {
  function preferVp8(transceiver) {
    if (!transceiver.setCodecPreferences) return;
    for (const Cls of [window.RTCRtpSender, window.RTCRtpReceiver]) {
      const codecs = Cls?.getCapabilities?.("video")?.codecs;
      if (!codecs) continue;
      const isVp8 = (c) => /\/vp8$/i.test(c.mimeType);
      try { transceiver.setCodecPreferences([...codecs.filter(isVp8), ...codecs.filter((c) => !isVp8(c))]); return; } catch (_) { /* try the next */ }
    }
  }

  // hooks: live(c), send(c, msg), enqueue(c, fn), publishOffer(c), failed(c) (media failed)
  function create(hooks) {
    function makePc(c, name) {
      const pc = new RTCPeerConnection(window.GiaobanIce.config());
      // ICE restart (ice.js): publish offers anew with new credentials; subscribe asks the server.
      window.GiaobanIce.watch(pc, name, () => {
        if (!hooks.live(c)) return;
        if (name === "subscribe") { hooks.send(c, { type: "ice_restart", pc: "subscribe" }); return; }
        pc.restartIce();
        hooks.enqueue(c, () => hooks.publishOffer(c));
      });
      pc.onicecandidate = (ev) => {
        if (!ev.candidate || !ev.candidate.candidate || !hooks.live(c)) return;
        hooks.send(c, { type: "ice_candidate", pc: name, candidate: ev.candidate.toJSON() });
      };
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "failed" && hooks.live(c)) hooks.failed(c);
      };
      return pc;
    }

    async function addRemoteCandidate(c, which, candidate) {
      const pc = which === "publish" ? c.pub : c.sub;
      if (!candidate || (which !== "publish" && which !== "subscribe")) return;
      if (!pc || !pc.remoteDescription) { c.pending[which].push(candidate); return; }
      try { await pc.addIceCandidate(candidate); } catch (err) { console.warn("giaoban: addIceCandidate", err); }
    }

    async function flushCandidates(c, which) {
      const list = c.pending[which];
      c.pending[which] = [];
      for (const cand of list) await addRemoteCandidate(c, which, cand);
    }

    return { makePc, addRemoteCandidate, flushCandidates };
  }

  window.GiaobanPeer = { create, preferVp8 };
})();
