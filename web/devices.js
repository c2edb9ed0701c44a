// devices.js — the site's own camera and microphone: getUserMedia (with fallbacks so a site
// without a camera still sends sound), device selection remembered in localStorage, the muted
// preview (#local-video), a microphone level meter and pick-up of devices plugged in later.
// Exposes window.GiaobanDevices.create(hooks); room.js owns everything about the connection.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => window.i18n.t(key, params);
  const KINDS = ["audio", "video"];

  function mediaErrorText(err) {
    if (!navigator.mediaDevices || err?.name === "SecurityError" || !window.isSecureContext) return t("media.insecure");
    if (err && window.i18n.has("media." + err.name)) return t("media." + err.name);
    return t("media.other", { message: err?.message || err?.name || String(err) });
  }

  function constraints(kind, deviceId, exact) {
    const base = kind === "audio"
      ? { echoCancellation: true, noiseSuppression: true, autoGainControl: true }
      : { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 25 } };
    if (deviceId) base.deviceId = exact ? { exact: deviceId } : { ideal: deviceId };
    return base;
  }

  function savedDevice(kind) {
    try { return localStorage.getItem("giaoban.device." + kind) || undefined; } catch (_) { return undefined; }
  }

  function saveDevice(kind, deviceId) {
    try { localStorage.setItem("giaoban.device." + kind, deviceId); } catch (_) { /* private mode */ }
  }

  async function getTrack(kind, deviceId, exact) {
    const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraints(kind, deviceId, exact) });
    return stream.getTracks()[0];
  }

  // hooks: enabled(kind) -> bool (not muted), onTrack(kind, track|null), onStatus(textFn, level),
  //        wanted() -> bool (whether a device plugged in later should be opened).
  function create(hooks) {
    const stream = new MediaStream();
    const tracks = { audio: null, video: null };
    let meter = null;

    // Installs `track` (or null) as the local `kind` track and tells room.js.
    function setTrack(kind, track) {
      const old = tracks[kind];
      if (old && old !== track) { stream.removeTrack(old); old.stop(); }
      tracks[kind] = track;
      if (track) {
        track.enabled = hooks.enabled(kind);
        stream.addTrack(track);
        track.addEventListener("ended", () => { if (tracks[kind] === track) { setTrack(kind, null); refresh(); } });
      }
      const video = $("local-video");
      video.srcObject = stream;
      video.play().catch(() => {});
      if (kind === "audio") startMeter();
      hooks.onTrack(kind, track);
    }

    // Opens camera and microphone together, else each alone; failures leave the site a viewer.
    async function acquire() {
      if (!navigator.mediaDevices?.getUserMedia) {
        hooks.onStatus(() => `${t("media.insecure")} ${t("status.viewer")}`, "warn");
        return;
      }
      try {
        const s = await navigator.mediaDevices.getUserMedia({
          audio: constraints("audio", savedDevice("audio")), video: constraints("video", savedDevice("video")),
        });
        for (const track of s.getTracks()) setTrack(track.kind, track);
      } catch (err) {
        const errors = {};
        for (const kind of KINDS) {
          try { setTrack(kind, await getTrack(kind, savedDevice(kind))); } catch (e) { errors[kind] = e; }
        }
        if (errors.audio && errors.video) hooks.onStatus(() => `${mediaErrorText(err)} ${t("status.viewer")}`, "warn");
        else if (errors.audio) hooks.onStatus(() => t("media.noMic", { reason: mediaErrorText(errors.audio) }), "warn");
        else if (errors.video) hooks.onStatus(() => t("media.noCamera", { reason: mediaErrorText(errors.video) }), "warn");
      }
      await refresh();
    }

    function stopAll() {
      for (const kind of KINDS) if (tracks[kind]) setTrack(kind, null);
      stopMeter();
    }

    // Fills both <select>s; labels are only known after permission was granted.
    async function refresh() {
      if (!navigator.mediaDevices?.enumerateDevices) return;
      let devices = [];
      try { devices = await navigator.mediaDevices.enumerateDevices(); } catch (_) { return; }
      for (const kind of KINDS) {
        const select = $(kind + "-select");
        const list = devices.filter((d) => d.kind === kind + "input" && d.deviceId);
        const current = tracks[kind]?.getSettings?.().deviceId;
        select.replaceChildren();
        list.forEach((d, n) => {
          const opt = new Option(d.label || t("device.unnamed", { n: n + 1 }), d.deviceId);
          opt.selected = d.deviceId === current;
          select.add(opt);
        });
        if (!list.length) select.add(new Option(t("device.none"), ""));
        select.disabled = !list.length;
      }
    }

    async function change(kind) {
      const deviceId = $(kind + "-select").value;
      if (!deviceId) return;
      // Release the current camera first: many cannot be opened twice.
      if (kind === "video" && tracks.video) tracks.video.stop();
      try {
        setTrack(kind, await getTrack(kind, deviceId, true));
        saveDevice(kind, deviceId);
      } catch (err) {
        hooks.onStatus(() => t(kind === "audio" ? "media.noMic" : "media.noCamera", { reason: mediaErrorText(err) }), "error");
        if (tracks[kind]?.readyState === "ended") setTrack(kind, null);
      }
      refresh();
    }

    // A device plugged in later (a kiosk camera waking up) is opened if that kind is still missing.
    async function onDeviceChange() {
      await refresh();
      if (!hooks.wanted()) return;
      for (const kind of KINDS) {
        if (tracks[kind] || $(kind + "-select").disabled) continue;
        try { setTrack(kind, await getTrack(kind, savedDevice(kind))); } catch (_) { /* still unavailable */ }
      }
      refresh();
    }

    function startMeter() {
      stopMeter();
      const track = tracks.audio;
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!track || !Ctx) return;
      try {
        const ctx = new Ctx();
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 512;
        ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
        const data = new Uint8Array(analyser.fftSize);
        const bar = $("level-bar");
        const m = { ctx, raf: 0 };
        const tick = () => {
          m.raf = requestAnimationFrame(tick);
          if (!bar.offsetParent) return; // panel hidden: skip the work
          analyser.getByteTimeDomainData(data);
          let sum = 0;
          for (const v of data) sum += (v - 128) * (v - 128);
          const level = Math.min(100, Math.round(Math.sqrt(sum / data.length) * 2.5));
          bar.style.width = level + "%";
          bar.parentElement.setAttribute("aria-valuenow", String(level));
        };
        meter = m;
        tick();
      } catch (_) { /* no meter */ }
    }

    function stopMeter() {
      if (!meter) return;
      cancelAnimationFrame(meter.raf);
      meter.ctx.close().catch(() => {});
      meter = null;
      $("level-bar").style.width = "0%";
    }

    for (const kind of KINDS) $(kind + "-select").addEventListener("change", () => change(kind));
    navigator.mediaDevices?.addEventListener?.("devicechange", onDeviceChange);
    // An AudioContext made before any click starts suspended; resume the meter on the first click.
    document.addEventListener("pointerdown", () => meter?.ctx.resume().catch(() => {}));
    window.addEventListener("langchange", refresh);

    return { stream, tracks, acquire, stopAll, refresh, change };
  }

  window.GiaobanDevices = { create };
})();
