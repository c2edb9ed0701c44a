// room.js — behaviour of the room page: join info (/api/join/<token>), local devices and preview,
// the signaling WebSocket (/ws, docs/protocol.md), the publish and subscribe peer connections,
// remote tiles, own controls and reconnection with backoff. Local devices live in devices.js,
// statistics in stats.js, chairing (hands, floor, mutes by the chair, host controls) in chair.js,
// screen sharing in share.js, peer connection helpers in peer.js, own switches in controls.js.
// Exposes window.giaoban = { state, stats, join, leave, toggleMic, toggleCamera }.
"use strict";

(function () {
  const i18n = window.i18n;
  const t = (key, params, fallback) => i18n.t(key, params, fallback);
  const $ = (id) => document.getElementById(id);

  const FATAL_CODES = new Set(["invalid_token", "token_expired", "session_not_found", "session_cancelled", "site_not_invited",
    "unsupported_version", "replaced", "link_revoked", "invitation_revoked", "device_revoked", "too_early"]);
  const CLOSE_CODES = { 4000: "replaced", 4400: "unsupported_version", 4401: "invalid_token",
    4403: "site_not_invited", 4404: "session_not_found", 4410: "session_cancelled", 4425: "too_early" };
  const PING_MS = 15000;          // keep-alive interval
  const SILENCE_MS = 40000;       // no frame at all for this long: the socket is treated as dead
  const BACKOFF_MIN = 1000, BACKOFF_MAX = 10000, STABLE_MS = 10000;
  const collator = new Intl.Collator("vi", { sensitivity: "base", numeric: true });

  const token = tokenFromPath();
  const autojoin = new URLSearchParams(location.search).get("autojoin") === "1";

  const S = {
    info: null,
    localStream: null,  // devices.stream
    tracks: null,       // devices.tracks: { audio, video }
    micMuted: false, camOff: false,
    active: false,      // the site wants to be in the session (join pressed, not left)
    joined: false,
    everJoined: false,  // joined at least once since join was pressed (drives the "lost" wording)
    siteId: null, siteName: null, participantId: null, sessionId: null, hostSiteId: null,
    conn: null,         // current connection, see connect()
    peers: new Map(),   // participant_id -> { participantId, siteId, siteName, audioMuted, videoMuted, stream, el }
    streamOwner: new Map(),   // stream_id (track_published) -> participant_id
    trackOwner: new Map(),    // track id (track_published track_id or receiver track id) -> participant_id
    orphans: [],              // remote tracks that arrived before their owner was known
    backoff: BACKOFF_MIN, reconnectTimer: null,
    status: null, ended: null, statusTimer: null,
    recording: false,   // the session is being recorded (the `recording` message)
    isHost: false,      // this site is the session's host site: it may start and stop recording
    early: null,        // { opensAt, startsAt } while the room is not open yet (join window)
    earlyTimer: null,
  };

  function tokenFromPath() {
    const last = location.pathname.split("/").filter(Boolean).pop() || "";
    try { return decodeURIComponent(last); } catch (_) { return last; }
  }

  // ---------------------------------------------------------------- status, header, phases

  function errorText(code, message) {
    const msg = message || code || "";
    // A revoked invitation comes with the code site_not_invited: say that it was revoked.
    if (code === "site_not_invited" && /revoked/i.test(msg)) return t("err.invitation_revoked", { message: msg });
    if (code && i18n.has("err." + code)) return t("err." + code, { message: msg });
    if (code) return t("err.protocol", { code, message: msg });
    return t("err.unknown", { message: msg });
  }

  // Shows a status line; `text` is either a key (re-translated on language change) or a function.
  function setStatus(text, kind, autoClearMs) {
    S.status = text ? { text, kind: kind || "info" } : null;
    clearTimeout(S.statusTimer);
    if (text && autoClearMs) S.statusTimer = setTimeout(() => setStatus(null), autoClearMs);
    renderStatus();
  }

  function renderStatus() {
    const bar = $("status");
    if (!S.status) { bar.hidden = $("enable-sound").hidden; $("status-text").textContent = ""; return; }
    const s = S.status;
    $("status-text").textContent = typeof s.text === "function" ? s.text() : t(s.text);
    bar.className = "statusbar status-" + s.kind;
    bar.hidden = false;
  }

  function setConnState(state) {
    const el = $("conn-state");
    el.dataset.i18n = "conn." + state;
    el.className = "conn-state conn-" + state;
    el.textContent = t("conn." + state);
  }

  function setPhase(phase) {
    document.body.classList.remove("phase-lobby", "phase-call", "phase-ended");
    document.body.classList.add("phase-" + phase);
    $("controls").hidden = phase !== "call";
    $("ended").hidden = phase !== "ended";
    if (phase !== "call") toggleDevicesPanel(false);
  }

  function renderHeader() {
    const session = S.info?.session || {};
    const title = session.title || "";
    const site = S.siteName || S.info?.site?.name || "—";
    $("session-title").textContent = title;
    $("site-name").textContent = site;
    const range = i18n.formatRange(session.starts_at, session.ends_at);
    $("session-time").textContent = range;
    $("time-item").hidden = !range;
    document.title = title ? `${title} — ${t("app.title")}` : t("app.title");
  }

  // Ends the page in a final panel: left, replaced, or a fatal join error.
  function showEnded(titleKey, hint, canRejoin) {
    S.ended = { titleKey, hint, canRejoin };
    setPhase("ended");
    renderEnded();
    setStatus(null);
  }

  function renderEnded() {
    if (!S.ended) return;
    $("ended-title").textContent = t(S.ended.titleKey);
    $("ended-hint").textContent = typeof S.ended.hint === "function" ? S.ended.hint() : t(S.ended.hint);
    $("rejoin-btn").hidden = !S.ended.canRejoin;
  }

  // ---------------------------------------------------------------- join info

  const { loadInfo, reopen, renderEarly, reportTest } = window.GiaobanJoinInfo.create(S, {
    token, autojoin, showEnded, setStatus, errorText, renderHeader, resetJoinButton, join,
  });

  // ---------------------------------------------------------------- chairing (chair.js)

  const isHost = () => !!S.siteId && S.siteId === S.hostSiteId;
  const chair = window.GiaobanChair.create({
    send: (msg) => { if (S.conn && S.joined) send(S.conn, msg); },
    peers: () => S.peers,
    siteId: () => S.siteId,
    hostSiteId: () => S.hostSiteId,
    isHost,
    joined: () => S.joined,
    siteName: (id) => [...S.peers.values()].find((p) => p.siteId === id)?.siteName || (id === S.siteId ? S.siteName : null),
    // The server muted or unmuted the own track (the chair, or giving / taking the floor).
    applyChairMute: (kind, muted) => {
      if (kind === "audio") S.micMuted = muted; else S.camOff = muted;
      if (S.tracks[kind]) S.tracks[kind].enabled = !muted;
      renderControls();
    },
  });

  // ---------------------------------------------------------------- screen sharing (share.js)

  const share = window.GiaobanShare.create({
    conn: () => (S.conn && S.joined ? S.conn : null),
    send: (msg) => { if (S.conn && S.joined) send(S.conn, msg); },
    enqueue: (c, fn) => enqueue(c, fn),
    publishOffer: (c) => publishOffer(c),
    publishPc: (c) => (c.pub = c.pub || makePc(c, "publish")),
    siteId: () => S.siteId, isHost, setStatus,
    siteName: (id) => [...S.peers.values()].find((p) => p.siteId === id)?.siteName || (id === S.siteId ? S.siteName : null),
  });

  // The agenda item the session is on, and the host's picker (agenda.js).
  const agenda = window.GiaobanAgenda.create({
    send: (msg) => { if (S.conn && S.joined) send(S.conn, msg); },
    isHost, joined: () => S.joined, agenda: () => S.info?.session?.agenda || [],
  });

  // ---------------------------------------------------------------- local media (devices.js)

  const devices = window.GiaobanDevices.create({
    enabled: (kind) => (kind === "audio" ? !S.micMuted : !S.camOff),
    onStatus: (text, level) => setStatus(text, level),
    wanted: () => S.active || !document.body.classList.contains("phase-ended"),
    onTrack: (kind, track) => {
      renderControls();
      const c = S.conn;
      if (c && S.joined && (track || c.senders[kind])) enqueue(c, () => publishTrack(c, kind, track));
    },
  });
  S.tracks = devices.tracks;
  S.localStream = devices.stream;

  // ---------------------------------------------------------------- connection

  function wsUrl() {
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  }

  const live = (c) => S.conn === c && !c.closed;

  function send(c, msg) {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(msg));
  }

  // Everything that touches a connection's peer connections runs in order on its queue.
  function enqueue(c, fn) {
    c.queue = c.queue.then(() => (live(c) ? fn() : undefined))
      .catch((err) => console.error("giaoban:", err));
    return c.queue;
  }

  function join() {
    if (S.active) return;
    S.active = true;
    S.everJoined = false;
    S.backoff = BACKOFF_MIN;
    S.ended = null;
    const btn = $("join-btn");
    btn.disabled = true;
    btn.dataset.i18n = "btn.joining";
    btn.textContent = t("btn.joining");
    setPhase("call");
    connect();
  }

  function connect() {
    clearTimeout(S.reconnectTimer);
    if (!S.active) return;
    const c = {
      ws: new WebSocket(wsUrl()), pub: null, sub: null, senders: {}, pending: { publish: [], subscribe: [] },
      queue: Promise.resolve(), pingTimer: 0, lastSeen: Date.now(), closed: false, joinedAt: 0,
      pubOffering: false, pubAgain: false, fatal: null,
    };
    S.conn = c;
    setConnState("connecting");
    if (!S.everJoined) setStatus("status.connecting");
    c.ws.onopen = () => {
      if (!live(c)) return;
      send(c, { type: "join", v: 1, token });
      c.pingTimer = setInterval(() => {
        if (Date.now() - c.lastSeen > SILENCE_MS) { lostConnection(c, 0); return; }
        send(c, { type: "ping" });
      }, PING_MS);
    };
    c.ws.onmessage = (ev) => {
      if (!live(c) || typeof ev.data !== "string") return;
      c.lastSeen = Date.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      // The close that follows a fatal error may overtake the queue: remember the code now.
      if (msg?.type === "error" && FATAL_CODES.has(msg.code)) c.fatal = { code: msg.code, message: msg.message };
      enqueue(c, () => handle(c, msg));
    };
    c.ws.onclose = (ev) => { if (live(c)) lostConnection(c, ev.code); };
  }

  // Closes a connection and forgets everything it carried (peers come back with the next `joined`).
  function teardown(c) {
    c.closed = true;
    clearInterval(c.pingTimer);
    c.ws.onopen = c.ws.onmessage = c.ws.onclose = null;
    try { c.ws.close(1000); } catch (_) { /* already closed */ }
    for (const pc of [c.pub, c.sub]) if (pc) { pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null; pc.close(); }
    if (S.conn === c) S.conn = null;
    S.joined = false;
    S.participantId = null;
    for (const pid of [...S.peers.keys()]) removePeer(pid);
    S.streamOwner.clear();
    S.trackOwner.clear();
    S.orphans = [];
    $("enable-sound").hidden = true;
    chair.reset();
    share.reset();
    agenda.reset();
  }

  function lostConnection(c, code) {
    if (c.joinedAt && Date.now() - c.joinedAt > STABLE_MS) S.backoff = BACKOFF_MIN;
    teardown(c);
    if (!S.active) return;
    if (c.fatal) { fatal(c.fatal.code, c.fatal.message); return; }
    if (CLOSE_CODES[code]) { fatal(CLOSE_CODES[code], ""); return; }
    const delay = S.backoff;
    S.backoff = Math.min(S.backoff * 2, BACKOFF_MAX);
    setConnState("lost");
    if (S.everJoined) setStatus("status.reconnecting", "error");
    else setStatus(() => t("status.connectFailed", { s: Math.round(delay / 1000) }), "error");
    S.reconnectTimer = setTimeout(connect, delay);
  }

  function fatal(code, message) {
    if (code === "too_early") { backToLobbyEarly(); return; }
    S.active = false;
    clearTimeout(S.reconnectTimer);
    if (S.conn) teardown(S.conn);
    devices.stopAll();
    setConnState("idle");
    resetJoinButton();
    if (code === "replaced") showEnded("replaced.title", "replaced.hint", true);
    else showEnded("fatal.title", () => errorText(code, message), code !== "unsupported_version" && S.everJoined);
  }

  // `join` refused as too early (the page's clock ran ahead): back to the device check, and the
  // join info says when the room opens.
  async function backToLobbyEarly() {
    S.active = false;
    clearTimeout(S.reconnectTimer);
    if (S.conn) teardown(S.conn);
    setConnState("idle");
    setStatus(null);
    setPhase("lobby");
    resetJoinButton();
    await loadInfo();
    if (!S.early) S.earlyTimer = setTimeout(reopen, 5000);
  }

  function leave() {
    if (!S.active) return;
    // The host site leaving ends the chairing of the session for everyone: ask first.
    if (isHost() && S.joined && !window.confirm(t("chair.confirmLeave"))) return;
    S.active = false;
    clearTimeout(S.reconnectTimer);
    const c = S.conn;
    if (c) { send(c, { type: "leave" }); teardown(c); }
    devices.stopAll();
    setConnState("idle");
    resetJoinButton();
    showEnded("left.title", "left.hint", true);
  }

  async function rejoin() {
    $("rejoin-btn").disabled = true;
    setPhase("lobby");
    if (!S.tracks.audio && !S.tracks.video) await devices.acquire();
    $("rejoin-btn").disabled = false;
    join();
  }

  function resetJoinButton() {
    const btn = $("join-btn");
    btn.disabled = !!S.early;
    btn.dataset.i18n = "btn.join";
    btn.textContent = t("btn.join");
  }

  const { makePc, addRemoteCandidate, flushCandidates } = window.GiaobanPeer.create({
    live, send, enqueue, publishOffer: (c) => publishOffer(c),
    failed: (c) => { lostConnection(c, 0); if (S.active) setStatus("status.mediaFailed", "error"); },
  });
  const preferVp8 = window.GiaobanPeer.preferVp8;

  // Sends `track` on the publish connection: replaceTrack when a sender exists, else a new
  // sendonly transceiver and a (re)offer.
  async function publishTrack(c, kind, track) {
    const sender = c.senders[kind];
    if (sender) { await sender.replaceTrack(track); return; }
    if (!track) return;
    if (!c.pub) c.pub = makePc(c, "publish");
    const tr = c.pub.addTransceiver(track, { direction: "sendonly", streams: [S.localStream] });
    if (kind === "video") preferVp8(tr);
    c.senders[kind] = tr.sender;
    await publishOffer(c);
  }

  async function publishOffer(c) {
    if (c.pubOffering) { c.pubAgain = true; return; }
    c.pubOffering = true;
    try {
      await c.pub.setLocalDescription(await c.pub.createOffer());
    } catch (err) {
      c.pubOffering = false;
      throw err;
    }
    share.beforeOffer(c); // a new screen's mid is declared before the offer that adds it
    send(c, { type: "publish_offer", sdp: c.pub.localDescription.sdp });
  }

  // ---------------------------------------------------------------- server messages

  async function handle(c, msg) {
    switch (msg.type) {
      case "joined": return onJoined(c, msg);
      case "publish_answer":
        if (!c.pub || c.pub.signalingState !== "have-local-offer") return;
        await c.pub.setRemoteDescription({ type: "answer", sdp: msg.sdp });
        c.pubOffering = false;
        await flushCandidates(c, "publish");
        if (c.pubAgain) { c.pubAgain = false; await publishOffer(c); }
        return;
      case "subscribe_offer": {
        if (!c.sub) return;
        await c.sub.setRemoteDescription({ type: "offer", sdp: msg.sdp });
        await flushCandidates(c, "subscribe");
        await c.sub.setLocalDescription(await c.sub.createAnswer());
        send(c, { type: "subscribe_answer", sdp: c.sub.localDescription.sdp });
        return;
      }
      case "ice_candidate": return addRemoteCandidate(c, msg.pc, msg.candidate);
      case "participant_joined":
        if (upsertPeer(msg)) setStatus(() => t("status.peerJoined", { site: msg.site_name }), "info", 5000);
        return;
      case "participant_left": {
        const peer = S.peers.get(msg.participant_id);
        if (!peer) return;
        removePeer(msg.participant_id);
        if (msg.reason !== "replaced") {
          const keys = { leave: "status.peerLeft", revoked: "status.peerRevoked", cancelled: "status.peerCancelled" };
          const key = keys[msg.reason] || "status.peerDropped";
          setStatus(() => t(key, { site: peer.siteName }), "info", 5000);
        }
        return;
      }
      case "track_published":
        if (!upsertPeer(msg)) return;
        if (msg.source === "screen") {
          share.onTrackPublished(msg);
          S.orphans = S.orphans.filter((o) => !share.claim(o.track, o.streamId));
          return;
        }
        S.streamOwner.set(msg.stream_id, msg.participant_id);
        S.trackOwner.set(msg.track_id, msg.participant_id);
        adoptOrphans();
        return;
      case "track_ended": {
        if (msg.source === "screen") { share.onTrackEnded(msg); return; }
        const peer = S.peers.get(msg.participant_id);
        if (peer) { peer.stream.getTracks().filter((tr) => tr.kind === msg.kind).forEach((tr) => peer.stream.removeTrack(tr)); renderTile(peer); }
        return;
      }
      case "mute_changed": {
        const peer = S.peers.get(msg.participant_id);
        if (peer) peer[msg.kind === "audio" ? "audioMuted" : "videoMuted"] = !!msg.muted;
        chair.onMessage(msg);
        if (peer) renderTile(peer);
        return;
      }
      case "hands_changed": case "floor_changed": case "chair_policy": case "speaking":
        chair.onMessage(msg);
        return;
      case "share_changed": share.onShareChanged(msg); return;
      case "video_paused":
        // On a chain of its own, not the connection's queue: an encoder reconfiguring never holds
        // up signaling (and needs no renegotiation).
        S.pauseChain = (S.pauseChain || Promise.resolve())
          .then(() => (live(c) ? pauseVideo(c, msg.source, !!msg.paused) : undefined))
          .catch((err) => console.warn("video_paused:", err));
        return;
      case "agenda_item": agenda.onMessage(msg); return;
      case "recording": {
        // Đang ghi hình: every participant sees that the session is being recorded.
        S.recording = !!msg.active;
        renderRecording();
        if (!msg.active && msg.error) setStatus(() => t("rec.failed", { error: msg.error }), "error");
        else if (!msg.active) setStatus("rec.stopped", "info", 5000);
        return;
      }
      case "ice_servers": window.GiaobanIce.setServers(msg); return;
      case "pong": return;
      case "error":
        if (FATAL_CODES.has(msg.code)) { fatal(msg.code, msg.message); return; }
        setStatus(() => errorText(msg.code, msg.message), "error");
        return;
      default: return;
    }
  }

  // No site shows this site's camera (or screen) and no recording runs: stop encoding and sending
  // it until the server says it is wanted again (`video_paused`); the encoder then starts again
  // with a keyframe. Saves the room PC's CPU and the site's uplink.
  async function pauseVideo(c, source, paused) {
    const sender = source === "screen" ? share.sender() : c.senders.video;
    if (!sender || !c.pub || !c.pub.getSenders().includes(sender)) return;
    const params = sender.getParameters();
    if (!params.encodings?.length || params.encodings.every((e) => e.active === !paused)) return;
    for (const e of params.encodings) e.active = !paused;
    try {
      await sender.setParameters(params);
      S.videoPaused = paused;
    } catch (err) {
      console.warn("video_paused:", err);
    }
  }

  // The recording badge for everyone; the start/stop button for the host site.
  function renderRecording() {
    $("rec-badge").hidden = !S.recording;
    const btn = $("rec-toggle");
    btn.hidden = !(S.isHost && S.joined);
    btn.textContent = t(S.recording ? "rec.stop" : "rec.start");
  }

  function toggleRecording() {
    if (S.conn && S.joined) send(S.conn, { type: "recording", active: !S.recording });
  }

  async function onJoined(c, msg) {
    S.joined = true;
    S.everJoined = true;
    S.videoPaused = false;
    c.joinedAt = Date.now();
    S.participantId = msg.participant_id;
    S.siteId = msg.site?.id ?? null;
    S.siteName = msg.site?.name ?? null;
    S.sessionId = msg.session?.id ?? S.sessionId;
    S.hostSiteId = msg.session?.host_site_id ?? null;
    document.body.classList.toggle("is-host", isHost());
    S.isHost = !!msg.session?.host_site_id && msg.session.host_site_id === S.siteId;
    renderRecording();
    if (msg.session?.title) S.info = { ...(S.info || {}), session: { ...(S.info?.session || {}), ...msg.session } };
    renderHeader();
    agenda.render();
    setConnState("connected");
    if (!S.tracks.audio && !S.tracks.video) setStatus("status.viewer", "warn");
    else if (S.status?.kind !== "warn") setStatus("status.joined", "info", 4000); // keep device warnings
    for (const p of msg.peers || []) upsertPeer(p);
    updateEmpty();
    c.sub = makePc(c, "subscribe");
    c.sub.ontrack = (ev) => { if (!share.claim(ev.track, ev.streams?.[0]?.id)) onRemoteTrack(ev); };
    if (S.micMuted) send(c, { type: "mute", kind: "audio", muted: true });
    if (S.camOff) send(c, { type: "mute", kind: "video", muted: true });
    for (const kind of ["audio", "video"]) {
      const track = S.tracks[kind];
      if (!track) continue;
      c.pub = c.pub || makePc(c, "publish");
      const tr = c.pub.addTransceiver(track, { direction: "sendonly", streams: [S.localStream] });
      if (kind === "video") preferVp8(tr);
      c.senders[kind] = tr.sender;
    }
    if (c.pub) await publishOffer(c);
  }

  // ---------------------------------------------------------------- remote sites and tiles

  const tiles = window.GiaobanTiles.create(S, { setStatus, decorate: (peer) => chair.decorateTile(peer) });
  const { upsertPeer, removePeer, onRemoteTrack, adoptOrphans, renderTile, enableSound, updateEmpty, hasLive } = tiles;

  // ---------------------------------------------------------------- own controls (controls.js)

  const controls = window.GiaobanControls.create(S, {
    chairHolds: (kind) => chair.chairHolds(kind), setStatus,
    send: (msg) => { if (S.conn && S.joined) send(S.conn, msg); },
  });
  function toggleMic() { controls.setMuted("audio", !S.micMuted); }
  function toggleCamera() { controls.setMuted("video", !S.camOff); }
  function renderControls() { controls.render(); }
  function toggleDevicesPanel(open) { controls.toggleDevices(open); }

  // ---------------------------------------------------------------- statistics (stats.js)

  function collectStats() {
    const c = S.conn;
    // The shared screen is counted apart, as perSite.screen.
    const siteOfTrack = (id) => (id === share.state().trackId ? "screen" : S.peers.get(S.trackOwner.get(id))?.siteId);
    return window.GiaobanStats.collect(c ? [c.pub, c.sub] : [], siteOfTrack, [...S.peers.values()].map((p) => p.siteId).concat("screen"))
      .then((s) => ({ ...s, videoPaused: !!S.videoPaused }));
  }

  function sortedSites() {
    return [...S.peers.values()].sort((a, b) => collator.compare(a.siteName, b.siteName));
  }

  // ---------------------------------------------------------------- wiring and start

  function state() {
    return {
      joined: S.joined, siteId: S.siteId, siteName: S.siteName, participantId: S.participantId,
      sessionId: S.sessionId, micMuted: S.micMuted, cameraOff: S.camOff,
      publishing: !!S.conn?.pub, connected: !!S.conn && S.joined, isHost: isHost(), chair: chair.state(),
      share: share.state(), videoPaused: !!S.videoPaused,
      peers: [...S.peers.values()].map((p) => ({
        siteId: p.siteId, siteName: p.siteName, participantId: p.participantId,
        hasVideo: hasLive(p, "video"), hasAudio: hasLive(p, "audio"),
        audioMuted: p.audioMuted, videoMuted: p.videoMuted,
      })),
    };
  }

  window.GiaobanStats.mountPanel(collectStats, sortedSites);
  window.giaoban = { state, stats: collectStats, join, leave, toggleMic, toggleCamera };

  function onLangChange() {
    renderHeader();
    renderEarly();
    renderStatus();
    renderEnded();
    renderControls();
    for (const peer of S.peers.values()) renderTile(peer);
    chair.render();
    share.render();
  }

  async function start() {
    $("join-btn").addEventListener("click", join);
    $("rejoin-btn").addEventListener("click", rejoin);
    $("leave-btn").addEventListener("click", leave);
    $("mic-btn").addEventListener("click", toggleMic);
    $("cam-btn").addEventListener("click", toggleCamera);
    $("devices-btn").addEventListener("click", () => toggleDevicesPanel());
    $("enable-sound").addEventListener("click", enableSound);
    $("rec-toggle").addEventListener("click", toggleRecording);
    window.addEventListener("langchange", renderRecording);
    window.addEventListener("langchange", onLangChange);
    window.addEventListener("online", () => { if (S.active && !S.conn) connect(); });
    renderHeader();
    renderControls();
    setConnState("idle");

    const info = await loadInfo();
    $("loading").hidden = true;
    if (info === "fatal") return;
    await devices.acquire();
    reportTest();
    if (S.early) { renderEarly(); return; }
    resetJoinButton();
    if (autojoin) join();
  }

  start();
})();
