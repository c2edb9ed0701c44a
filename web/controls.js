// controls.js — the room page's own controls: the microphone and camera switches (a site cannot
// lift a mute the chair holds: the switch says so and stays off), their labels, the badges of the
// own preview, and the device panel toggle. room.js owns the state and the connection.
// Exposes window.GiaobanControls = { create }.
"use strict";

(function () {
  const t = (key, params) => window.i18n.t(key, params);
  const $ = (id) => document.getElementById(id);

  // S: the room page's state (micMuted, camOff, tracks); hooks: chairHolds(kind), setStatus,
  // send(msg) (when joined).
  function create(S, hooks) {
    function setMuted(kind, muted) {
      if (!muted && hooks.chairHolds(kind)) { hooks.setStatus("chair.mutedByChair", "warn", 5000); return; }
      if (kind === "audio") S.micMuted = muted; else S.camOff = muted;
      if (S.tracks[kind]) S.tracks[kind].enabled = !muted;
      hooks.send({ type: "mute", kind, muted });
      render();
    }

    function render() {
      const mic = $("mic-btn"), cam = $("cam-btn");
      mic.textContent = t(S.micMuted ? "btn.micOn" : "btn.micOff");
      cam.textContent = t(S.camOff ? "btn.camOn" : "btn.camOff");
      mic.setAttribute("aria-label", mic.textContent);
      cam.setAttribute("aria-label", cam.textContent);
      mic.disabled = !S.tracks.audio || hooks.chairHolds("audio");
      if (hooks.chairHolds("audio")) mic.textContent = t("chair.micByChair");
      cam.disabled = !S.tracks.video;
      mic.classList.toggle("is-off", S.micMuted);
      cam.classList.toggle("is-off", S.camOff);
      $("self-mic-muted").hidden = !(S.micMuted && S.tracks.audio);
      $("self-off").hidden = !!S.tracks.video && !S.camOff;
      $("self-off").textContent = t(S.tracks.video ? "tile.camOff" : "tile.noVideo");
    }

    function toggleDevices(open) {
      const show = open ?? !document.body.classList.contains("devices-open");
      document.body.classList.toggle("devices-open", show);
      $("devices-btn").setAttribute("aria-expanded", String(show));
    }

    return { setMuted, render, toggleDevices };
  }

  window.GiaobanControls = { create };
})();
