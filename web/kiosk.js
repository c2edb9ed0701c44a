// kiosk.js — the room PC's page. At /kiosk: pairs once with a code (typed, or from the pairing
// link's #pair=… fragment; the credential comes back as an HttpOnly cookie the script never sees),
// then follows GET /api/device/current and the stream /api/device/events: shows the site, the
// clock (the server's), today's sessions and a countdown to the next, runs the camera and
// microphone check before it, opens the room page of the current session in a frame when its
// join window opens (?autojoin=1) and leaves it when the session ends. A revoked credential
// unpairs at once; a lost server is retried with backoff, said on screen. At /s/<token> (a
// site's stable link): the same waiting screen from GET /api/s/<token>, and the room page of the
// current session opened in place (the person there presses "Tham gia").
// Exposes window.kiosk = { state, room } for tests and diagnostics.
"use strict";

(function () {
  const i18n = window.i18n;
  const $ = (id) => document.getElementById(id);

  const STRINGS = {
    vi: {
      "app": "Giao ban trực tuyến",
      "pair.title": "Ghép nối máy tính phòng họp",
      "pair.hint": "Nhập mã ghép nối do Ban tổ chức cấp (trang Đơn vị & điểm cầu), hoặc mở đường dẫn ghép nối trên máy tính này.",
      "pair.code": "Mã ghép nối",
      "pair.submit": "Ghép nối",
      "pair.working": "Đang ghép nối…",
      "pair.err.pairing_invalid": "Mã ghép nối không đúng. Vui lòng kiểm tra lại hoặc đề nghị Ban tổ chức cấp mã mới.",
      "pair.err.pairing_used": "Mã ghép nối này đã được sử dụng. Vui lòng đề nghị Ban tổ chức cấp mã mới.",
      "pair.err.pairing_expired": "Mã ghép nối đã hết hạn. Vui lòng đề nghị Ban tổ chức cấp mã mới.",
      "pair.err.device_revoked": "Thiết bị của mã này đã bị thu hồi. Vui lòng đề nghị Ban tổ chức cấp mã mới.",
      "pair.err.too_many_requests": "Nhập sai quá nhiều lần. Vui lòng thử lại sau ít phút.",
      "pair.err.other": "Không ghép nối được: {message}",
      "unpaired.revoked": "Quyền truy cập của máy tính này đã bị thu hồi. Máy đã được hủy ghép nối; vui lòng ghép nối lại bằng mã mới.",
      "next.title": "Phiên họp tiếp theo",
      "next.none": "Hôm nay điểm cầu không còn phiên họp nào.",
      "next.joinIn": "Tự động tham gia sau",
      "next.openIn": "Phòng họp mở sau",
      "next.time": "Bắt đầu lúc {start}; phòng họp mở lúc {opens}",
      "check.title": "Kiểm tra camera và micro",
      "check.camera": "Camera",
      "check.microphone": "Micro",
      "check.run": "Kiểm tra lại",
      "check.running": "Đang kiểm tra…",
      "check.ok": "Hoạt động tốt",
      "check.bad": "Không hoạt động",
      "check.at": "Kiểm tra lúc {time}",
      "today.title": "Lịch họp hôm nay",
      "today.time": "Thời gian",
      "today.session": "Phiên họp",
      "today.state": "Trạng thái",
      "today.empty": "Hôm nay điểm cầu không có phiên họp nào.",
      "state.upcoming": "Sắp diễn ra",
      "state.open": "Đang mở phòng (kiểm tra kết nối)",
      "state.live": "Đang diễn ra",
      "state.ended": "Đã kết thúc",
      "state.cancelled": "Đã hủy",
      "state.revoked": "Đã thu hồi giấy mời",
      "status.lost": "Mất kết nối tới máy chủ. Thử lại sau {s} giây…",
      "status.retrying": "Đang kết nối lại tới máy chủ…",
      "status.back": "Đã kết nối lại tới máy chủ.",
      "link.revoked": "Đường dẫn này đã bị thu hồi hoặc đã được thay bằng đường dẫn mới. Vui lòng liên hệ Ban tổ chức.",
      "link.invalid": "Đường dẫn không hợp lệ. Vui lòng kiểm tra lại đường dẫn trong giấy mời.",
      "lang": "English",
    },
    en: {
      "app": "Online briefing",
      "pair.title": "Pair this meeting-room PC",
      "pair.hint": "Type the pairing code from the organiser (Units & sites page), or open the pairing link on this PC.",
      "pair.code": "Pairing code",
      "pair.submit": "Pair",
      "pair.working": "Pairing…",
      "pair.err.pairing_invalid": "Wrong pairing code. Check it, or ask the organiser for a new one.",
      "pair.err.pairing_used": "This pairing code has been used already. Ask the organiser for a new one.",
      "pair.err.pairing_expired": "This pairing code has expired. Ask the organiser for a new one.",
      "pair.err.device_revoked": "The device of this code was revoked. Ask the organiser for a new code.",
      "pair.err.too_many_requests": "Too many wrong codes. Try again in a few minutes.",
      "pair.err.other": "Could not pair: {message}",
      "unpaired.revoked": "This PC's access was revoked and it has been unpaired; pair it again with a new code.",
      "next.title": "Next session",
      "next.none": "No more sessions for this site today.",
      "next.joinIn": "Joins by itself in",
      "next.openIn": "The room opens in",
      "next.time": "Starts at {start}; the room opens at {opens}",
      "check.title": "Camera and microphone check",
      "check.camera": "Camera",
      "check.microphone": "Microphone",
      "check.run": "Check again",
      "check.running": "Checking…",
      "check.ok": "Working",
      "check.bad": "Not working",
      "check.at": "Checked at {time}",
      "today.title": "Today's sessions",
      "today.time": "Time",
      "today.session": "Session",
      "today.state": "State",
      "today.empty": "This site has no session today.",
      "state.upcoming": "Upcoming",
      "state.open": "Room open (connection test)",
      "state.live": "In progress",
      "state.ended": "Ended",
      "state.cancelled": "Cancelled",
      "state.revoked": "Invitation revoked",
      "status.lost": "Connection to the server lost. Retrying in {s} s…",
      "status.retrying": "Reconnecting to the server…",
      "status.back": "Connected to the server again.",
      "link.revoked": "This link has been revoked or replaced by a newer one. Please contact the organiser.",
      "link.invalid": "This link is not valid. Check the link in the invitation.",
      "lang": "Tiếng Việt",
    },
  };

  function k(key, params) {
    const table = STRINGS[i18n.lang] || STRINGS.vi;
    let s = table[key] ?? STRINGS.vi[key] ?? key;
    for (const [name, v] of Object.entries(params || {})) s = s.split(`{${name}}`).join(String(v));
    return s;
  }

  const BACKOFF_MIN = 1000, BACKOFF_MAX = 30000;
  const CHECK_BEFORE_MS = 15 * 60 * 1000;   // the device check runs when the window opens within this
  const linkToken = location.pathname.startsWith("/s/") ? decodeURIComponent(location.pathname.slice(3)) : null;

  const S = {
    mode: linkToken ? "link" : "device",
    phase: "loading",          // loading | pair | wait | room | invalid
    data: null,                // the last state from the server
    offsetMs: 0,               // server clock − local clock
    backoff: BACKOFF_MIN,
    retryTimer: 0,
    stream: null,
    roomSession: null,         // session id shown in the frame
    roomOpenedAt: 0,           // performance.now() when the frame was created
    check: { camera: "idle", microphone: "idle", at: null, forSession: null, running: false },
    checkAbort: null,
    lastError: null,
    pollTimer: 0,
  };

  const serverNow = () => Date.now() + S.offsetMs;

  // ------------------------------------------------------------------ rendering

  function setPhase(phase) {
    S.phase = phase;
    document.body.className = `kiosk phase-${phase}`;
    $("pair").hidden = phase !== "pair";
    $("wait").hidden = phase !== "wait";
    $("room").hidden = phase !== "room";
  }

  function setStatus(text, kind) {
    const box = $("status");
    box.hidden = !text;
    box.textContent = text || "";
    box.dataset.kind = kind || "info";
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function tick() {
    const now = new Date(serverNow());
    $("clock-time").textContent = i18n.formatTime(now);
    $("clock-date").textContent = i18n.formatDateTime(now).slice(0, 10);
    const next = S.data?.next;
    if (next) {
      const ms = Math.max(0, Date.parse(next.opens_at) - serverNow());
      const s = Math.floor(ms / 1000);
      $("countdown").textContent = `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
      maybeCheck(next, ms);
    }
  }

  function applyLang() {
    document.querySelectorAll("[data-k]").forEach((el) => { el.textContent = k(el.dataset.k); });
    $("lang-btn").textContent = k("lang");
    if (S.data) render();
    renderCheck();
  }

  function render() {
    const d = S.data;
    $("site-name").textContent = d.site.name;
    document.title = `${d.site.name} – ${k("app")}`;
    const next = d.next;
    $("next-none").hidden = !!next;
    $("next-box").hidden = !next;
    if (next) {
      $("next-name").textContent = next.title;
      $("next-time").textContent = k("next.time", { start: i18n.formatDateTime(next.starts_at), opens: i18n.formatDateTime(next.opens_at) });
      document.querySelector("[data-k='next.joinIn']").textContent = k(S.mode === "device" ? "next.joinIn" : "next.openIn");
    }
    const rows = d.today.map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.state = s.state;
      tr.dataset.session = s.id;
      for (const text of [i18n.formatRange(s.starts_at, s.ends_at).slice(11) || i18n.formatRange(s.starts_at, s.ends_at), s.title, k(`state.${s.state}`)]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 3;
      td.className = "k-muted";
      td.textContent = k("today.empty");
      tr.append(td);
      rows.push(tr);
    }
    $("today-rows").replaceChildren(...rows);
    tick();
  }

  // ------------------------------------------------------------------ following the server

  function apply(data) {
    S.data = data;
    S.offsetMs = Date.parse(data.now) - Date.now();
    S.lastError = null;
    render();
    const cur = data.current;
    if (cur) {
      if (S.mode === "link") { location.assign(cur.join_path); return; }
      if (S.roomSession !== cur.id) enterRoom(cur);
    } else {
      if (S.roomSession) leaveRoom();
      if (S.phase !== "wait") setPhase("wait");
    }
    if (S.mode === "link") schedulePoll(data);
  }

  // Link mode has no stream: ask again at the next change (and every 30 s).
  function schedulePoll(data) {
    clearTimeout(S.pollTimer);
    const next = data.next_change ? Date.parse(data.next_change) - Date.parse(data.now) + 50 : 30000;
    S.pollTimer = setTimeout(load, Math.max(200, Math.min(next, 30000)));
  }

  async function load() {
    clearTimeout(S.retryTimer);
    const url = S.mode === "link" ? `/api/s/${encodeURIComponent(linkToken)}` : "/api/device/current";
    let res, body = null;
    try {
      res = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
      try { body = await res.json(); } catch (_) { body = null; }
    } catch (_) {
      return lost();
    }
    if (res.status >= 500 || !body) return lost();
    if (!res.ok) return refused(body);
    if (S.backoff > BACKOFF_MIN || S.lastError === "lost") setStatus(k("status.back"), "info");
    else setStatus(null);
    S.backoff = BACKOFF_MIN;
    apply(body);
    if (S.mode === "device") openStream();
  }

  function refused(body) {
    closeStream();
    leaveRoom();
    setStatus(null);
    if (S.mode === "link") {
      setPhase("invalid");
      setStatus(k(body.code === "link_revoked" ? "link.revoked" : "link.invalid"), "error");
      return;
    }
    showPairing(body.code === "device_revoked" ? k("unpaired.revoked") : null);
  }

  // The server is unreachable: say so, try again later (doubling up to 30 s). The room frame, if
  // any, keeps running: the room page has its own reconnection.
  function lost() {
    closeStream();
    S.lastError = "lost";
    const delay = S.backoff;
    S.backoff = Math.min(S.backoff * 2, BACKOFF_MAX);
    let left = Math.round(delay / 1000);
    setStatus(k("status.lost", { s: left }), "error");
    const countdown = setInterval(() => {
      left -= 1;
      if (left > 0) setStatus(k("status.lost", { s: left }), "error");
      else { clearInterval(countdown); setStatus(k("status.retrying"), "error"); }
    }, 1000);
    S.retryTimer = setTimeout(() => { clearInterval(countdown); load(); }, delay);
  }

  function openStream() {
    if (S.stream) return;
    const es = new EventSource("/api/device/events");
    S.stream = es;
    es.addEventListener("state", (ev) => {
      try { apply(JSON.parse(ev.data)); } catch (err) { console.error("kiosk:", err); }
    });
    es.addEventListener("revoked", () => {
      closeStream();
      // One more request: its refusal clears the cookie and shows why.
      load();
    });
    es.onerror = () => {
      if (S.stream !== es) return;
      closeStream();
      // Unreachable, or refused (an EventSource cannot tell): ask once, which decides.
      load();
    };
  }

  function closeStream() {
    if (S.stream) { S.stream.close(); S.stream = null; }
  }

  // ------------------------------------------------------------------ the room

  function enterRoom(cur) {
    stopCheck();
    leaveRoom();
    const frame = document.createElement("iframe");
    frame.allow = "camera; microphone; autoplay; fullscreen";
    frame.title = cur.title;
    frame.src = `${cur.join_path}?autojoin=1`;
    S.roomSession = cur.id;
    S.roomOpenedAt = performance.now();
    $("room").replaceChildren(frame);
    setPhase("room");
  }

  function leaveRoom() {
    const frame = $("room").querySelector("iframe");
    S.roomSession = null;
    if (!frame) return;
    // Say goodbye (reason "leave"), then drop the frame.
    try { frame.contentWindow?.giaoban?.leave?.(); } catch (_) { /* not loaded yet */ }
    setTimeout(() => frame.remove(), 300);
  }

  // ------------------------------------------------------------------ camera and microphone check

  function maybeCheck(next, msToOpen) {
    if (S.mode !== "device" || S.phase !== "wait" || S.check.running) return;
    if (S.check.forSession === next.id) return;
    if (msToOpen <= CHECK_BEFORE_MS) runCheck(next.id);
  }

  function renderCheck() {
    const show = (id, st) => {
      const el = $(id);
      el.dataset.state = st;
      el.textContent = st === "idle" ? "—" : k(st === "running" ? "check.running" : st === "ok" ? "check.ok" : "check.bad");
    };
    show("check-camera", S.check.camera);
    show("check-mic", S.check.microphone);
    $("check-at").textContent = S.check.at ? k("check.at", { time: i18n.formatDateTime(S.check.at) }) : "";
  }

  function stopCheck() {
    if (S.checkAbort) S.checkAbort();
  }

  async function runCheck(forSession) {
    if (S.check.running) return;
    S.check = { ...S.check, camera: "running", microphone: "running", running: true, forSession: forSession ?? S.check.forSession };
    renderCheck();
    let stream = null, ctx = null, aborted = false;
    S.checkAbort = () => { aborted = true; };
    const finish = (camera, microphone) => {
      if (stream) stream.getTracks().forEach((tr) => tr.stop());
      if (ctx) ctx.close().catch(() => {});
      $("check-video").srcObject = null;
      S.checkAbort = null;
      S.check = { ...S.check, camera, microphone, at: new Date(serverNow()), running: false };
      renderCheck();
    };
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch (_) {
      try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch (_) { /* none */ }
      if (!stream) { finish("bad", "bad"); return; }
    }
    const video = $("check-video");
    video.srcObject = stream;
    let level = 0;
    const audio = stream.getAudioTracks()[0];
    if (audio) {
      try {
        ctx = new AudioContext();
        const an = ctx.createAnalyser();
        an.fftSize = 512;
        ctx.createMediaStreamSource(new MediaStream([audio])).connect(an);
        const buf = new Uint8Array(an.fftSize);
        const sample = () => {
          an.getByteTimeDomainData(buf);
          for (const v of buf) level = Math.max(level, Math.abs(v - 128));
        };
        for (let i = 0; i < 30 && !aborted; i++) { sample(); await new Promise((r) => setTimeout(r, 100)); }
      } catch (_) { /* no audio context */ }
    }
    const deadline = performance.now() + 3000;
    while (!aborted && stream.getVideoTracks().length && video.videoWidth === 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    finish(stream.getVideoTracks().length && video.videoWidth > 0 ? "ok" : "bad", audio && level > 2 ? "ok" : "bad");
  }

  // ------------------------------------------------------------------ pairing

  function showPairing(reason) {
    setPhase("pair");
    $("site-name").textContent = "—";
    $("pair-reason").hidden = !reason;
    $("pair-reason").textContent = reason || "";
  }

  async function pair(code) {
    $("pair-error").textContent = "";
    $("pair-btn").disabled = true;
    $("pair-btn").textContent = k("pair.working");
    try {
      const res = await fetch("/api/kiosk/pair", {
        method: "POST", cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ code }),
      });
      let body = null;
      try { body = await res.json(); } catch (_) { body = null; }
      if (res.ok) { $("pair-code").value = ""; $("pair-reason").hidden = true; await load(); return true; }
      const key = `pair.err.${body?.code}`;
      $("pair-error").textContent = STRINGS.vi[key] ? k(key) : k("pair.err.other", { message: body?.message || `HTTP ${res.status}` });
      showPairing(null);
      return false;
    } catch (_) {
      $("pair-error").textContent = k("pair.err.other", { message: "network" });
      showPairing(null);
      return false;
    } finally {
      $("pair-btn").disabled = false;
      $("pair-btn").textContent = k("pair.submit");
    }
  }

  // ------------------------------------------------------------------ start

  function state() {
    const frame = $("room").querySelector("iframe");
    return {
      mode: S.mode, phase: S.phase, site: S.data?.site ?? null,
      current: S.data?.current ?? null, next: S.data?.next ?? null,
      today: S.data?.today ?? [], roomSession: S.roomSession, roomOpenedAt: S.roomOpenedAt,
      check: { camera: S.check.camera, microphone: S.check.microphone, at: S.check.at },
      status: $("status").hidden ? null : $("status").textContent,
      pairReason: $("pair-reason").hidden ? null : $("pair-reason").textContent,
      pairError: $("pair-error").textContent || null,
      frame: frame ? frame.getAttribute("src") : null,
    };
  }

  window.kiosk = { state, room: () => $("room").querySelector("iframe")?.contentWindow ?? null };

  async function start() {
    $("lang-btn").addEventListener("click", () => i18n.toggle());
    window.addEventListener("langchange", applyLang);
    applyLang();
    $("pair-form").addEventListener("submit", (ev) => { ev.preventDefault(); pair($("pair-code").value); });
    $("check-btn").addEventListener("click", () => runCheck(null));
    $("check-btn").hidden = S.mode !== "device";
    document.querySelector(".k-check").hidden = S.mode !== "device";
    setInterval(tick, 1000);
    // A pairing link carries its code in the fragment: redeem it, then forget it.
    const m = /(?:^#|&)pair=([^&]+)/.exec(location.hash);
    if (S.mode === "device" && m) {
      history.replaceState(null, "", location.pathname);
      if (await pair(decodeURIComponent(m[1]))) return;
      return;
    }
    await load();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
