// share.js — screen sharing (trình chiếu) on the room page (docs/protocol.md, "Screen sharing"):
// the "Trình chiếu" button of every site (getDisplayMedia → a second video track on the publish
// connection, declared as content by `share_screen {mid}` just before the offer that adds it), its
// stop (the button, or the browser's own "stop sharing" bar: the track ends), the end of the own
// capture when the server says the share was replaced or stopped by a controller (and why), the
// shared screen shown large on every page (`track_published` with source "screen"; its stream id
// is not the site's camera stream), and for the host site a button that stops anyone's share.
// room.js owns the connection and calls in through the hooks it passes to create().
// Exposes window.GiaobanShare = { create }.
"use strict";

(function () {
  const i18n = window.i18n;
  const t = (key, params) => i18n.t(key, params);
  const $ = (id) => document.getElementById(id);

  function create(hooks) {
    // hooks: conn() (the joined connection or null), send(msg), enqueue(c, fn), publishOffer(c),
    //        publishPc(c) (the publish connection, made if needed), siteId(), isHost(),
    //        siteName(siteId), setStatus(text, kind, ms)
    const V = {
      sharer: null,            // site id sharing now (share_changed)
      capture: null,           // own display stream while sharing
      sender: null,            // its RTCRtpSender
      transceiver: null,       // its transceiver (mid declared once with share_screen)
      declared: false,
      screens: new Map(),      // stream id of a screen (track_published) -> site id
      track: null,             // the remote screen track shown
    };

    const mine = () => !!V.capture;

    // Starts sharing: pick a screen or window, add it to the publish connection, declare and offer.
    async function start() {
      const c = hooks.conn();
      if (!c || mine()) return;
      if (!navigator.mediaDevices?.getDisplayMedia) { hooks.setStatus("share.unsupported", "error", 6000); return; }
      let stream;
      try {
        stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
      } catch (err) {
        if (err?.name !== "NotAllowedError") hooks.setStatus("share.failed", "error", 6000);
        return;
      }
      const track = stream.getVideoTracks()[0];
      if (!track || hooks.conn() !== c) { stream.getTracks().forEach((tr) => tr.stop()); return; }
      if ("contentHint" in track) track.contentHint = "detail";
      // The browser's own "stop sharing" bar ends the track.
      track.addEventListener("ended", () => { if (V.capture === stream) stop(true); });
      V.capture = stream;
      V.declared = false;
      render();
      await hooks.enqueue(c, async () => {
        const pc = hooks.publishPc(c);
        V.transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
        window.GiaobanPeer.preferVp8(V.transceiver);
        V.sender = V.transceiver.sender;
        await hooks.publishOffer(c);
      });
    }

    // Called by room.js between setLocalDescription and sending `publish_offer`: the new screen's
    // mid is known now, and the server must hear it before the offer.
    function beforeOffer(c) {
      if (!V.transceiver || V.declared || !V.transceiver.mid) return;
      V.declared = true;
      hooks.send({ type: "share_screen", mid: V.transceiver.mid });
    }

    // Stops the own capture; `tell`: the site stops it (else the server already ended the share).
    function stop(tell) {
      const stream = V.capture;
      if (!stream) return;
      const c = hooks.conn();
      if (tell && c) hooks.send({ type: "stop_share" });
      stream.getTracks().forEach((tr) => tr.stop());
      const sender = V.sender;
      V.capture = V.sender = V.transceiver = null;
      V.declared = false;
      render();
      if (c && sender) {
        hooks.enqueue(c, async () => {
          if (c.pub && c.pub.getSenders().includes(sender)) {
            c.pub.removeTrack(sender);
            await hooks.publishOffer(c);
          }
        });
      }
    }

    function onShareChanged(msg) {
      const me = hooks.siteId();
      V.sharer = msg.site_id || null;
      if (msg.previous === me && mine() && msg.reason !== "stopped") {
        stop(false);
        if (msg.reason === "replaced") hooks.setStatus(() => t("share.replaced", { site: hooks.siteName(msg.site_id) || msg.site_id }), "warn", 8000);
        else if (msg.reason === "stopped_by_controller") hooks.setStatus("share.stoppedByChair", "warn", 8000);
      }
      if (V.sharer === me && !mine()) {
        // The server holds a share this page no longer captures (a reload): end it.
        hooks.send({ type: "stop_share" });
      }
      render();
    }

    // `track_published` / `track_ended` with source "screen".
    function onTrackPublished(msg) { V.screens.set(msg.stream_id, msg.site_id); }
    function onTrackEnded(msg) {
      V.screens.delete(msg.stream_id);
      if (V.track && !live()) showTrack(null);
      render();
    }

    const live = () => V.track && V.track.readyState === "live" && V.screens.size > 0;

    // A remote track: claimed (and shown) when its stream is a screen.
    function claim(track, streamId) {
      if (!streamId || !V.screens.has(streamId)) return false;
      showTrack(track);
      track.addEventListener("ended", () => { if (V.track === track) { showTrack(null); render(); } });
      return true;
    }

    function showTrack(track) {
      V.track = track;
      const video = $("screen-video");
      video.srcObject = track ? new MediaStream([track]) : null;
      if (track) video.play().catch(() => {});
      render();
    }

    function reset() {
      stop(false);
      V.sharer = null;
      V.screens.clear();
      showTrack(null);
    }

    function render() {
      const me = hooks.siteId();
      const joined = !!hooks.conn();
      const btn = $("share-btn");
      btn.hidden = !joined;
      btn.textContent = t(mine() ? "share.stop" : "share.start");
      btn.classList.toggle("is-on", mine());
      btn.setAttribute("aria-pressed", String(mine()));
      const other = joined && V.sharer && V.sharer !== me;
      const view = $("screen-view");
      view.hidden = !other;
      document.body.classList.toggle("has-screen", !!other);
      $("screen-caption").textContent = other ? t("share.caption", { site: hooks.siteName(V.sharer) || V.sharer }) : "";
      $("screen-wait").hidden = !other || !!(V.track && V.track.readyState === "live");
      $("screen-stop").hidden = !(other && hooks.isHost());
      $("share-note").hidden = !mine();
    }

    function wire() {
      $("share-btn").addEventListener("click", () => (mine() ? stop(true) : start()));
      $("screen-stop").addEventListener("click", () => { if (V.sharer) hooks.send({ type: "stop_share", site_id: V.sharer }); });
    }

    wire();
    return {
      beforeOffer, onShareChanged, onTrackPublished, onTrackEnded, claim, reset, render,
      isScreenStream: (id) => V.screens.has(id),
      sender: () => V.sender,
      state: () => ({ sharer: V.sharer, sharing: mine(), showing: !!V.track && V.track.readyState === "live",
        trackId: V.track?.id || null }),
    };
  }

  window.GiaobanShare = { create };
})();
