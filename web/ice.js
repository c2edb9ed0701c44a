// ice.js — ICE of the room page's peer connections: the TURN/STUN servers the server sends before
// `joined` (`ice_servers`, with time-limited credentials; docs/protocol.md), the transport policy
// (`?ice=relay` sends everything through TURN: to diagnose a site behind a firewall, and for the
// relay test), ICE restart when the network changes (the browser comes back online, the
// connection type changes, or a connection stays "disconnected" for 2 s: each connection restarts
// through the callback the room page gave, at most once every 5 s; the site stays in the room),
// and the candidate pairs in use, for statistics.
// Exposes window.GiaobanIce = { setServers, config, watch, selected, restart, expiresAt }.
"use strict";

(function () {
  const relayOnly = new URLSearchParams(location.search).get("ice") === "relay";
  let servers = [];
  let expiresAt = 0;          // Unix ms; 0: no credentials
  const watched = new Set();  // { pc, name }

  function setServers(msg) {
    servers = Array.isArray(msg?.servers) ? msg.servers.map((s) => ({ ...s })) : [];
    expiresAt = Number(msg?.expires_at || 0) * 1000;
  }

  // The RTCConfiguration of a new peer connection.
  function config() {
    const c = { iceServers: servers };
    if (relayOnly) c.iceTransportPolicy = "relay";
    return c;
  }

  const RESTART_GAP_MS = 5000, DISCONNECTED_MS = 2000;

  // Remembers a connection (until it closes) so that its selected pair can be reported and ICE
  // restarted: `restart` is how the room page restarts it (an offer with new credentials, or
  // asking the server for one).
  function watch(pc, name, restart) {
    const entry = { pc, name, restart, last: 0, timer: 0 };
    watched.add(entry);
    pc.addEventListener("connectionstatechange", () => { if (pc.connectionState === "closed") watched.delete(entry); });
    pc.addEventListener("iceconnectionstatechange", () => {
      clearTimeout(entry.timer);
      if (pc.iceConnectionState === "disconnected") entry.timer = setTimeout(() => restartOne(entry), DISCONNECTED_MS);
    });
    return entry;
  }

  function restartOne(entry) {
    const { pc } = entry;
    if (!entry.restart || pc.connectionState === "closed" || pc.signalingState === "closed") return false;
    if (Date.now() - entry.last < RESTART_GAP_MS) return false;
    entry.last = Date.now();
    try { entry.restart(); } catch (err) { console.warn("giaoban: ICE restart", err); return false; }
    return true;
  }

  // Restarts ICE on every open connection; returns how many restarted.
  function restart() {
    let n = 0;
    for (const entry of [...watched]) if (restartOne(entry)) n += 1;
    return n;
  }

  window.addEventListener("online", () => restart());
  if (navigator.connection && navigator.connection.addEventListener) {
    navigator.connection.addEventListener("change", () => restart());
  }

  // The candidate pair each open connection uses: local and remote candidate types ("host",
  // "srflx", "relay"), the protocol, and for a relay how the page reaches the TURN server.
  async function selected() {
    const out = [];
    for (const { pc, name } of [...watched]) {
      if (pc.connectionState === "closed") { continue; }
      const stats = await pc.getStats();
      let pairId = null;
      stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
      let pair = pairId ? stats.get(pairId) : null;
      if (!pair) stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
      if (!pair) { out.push({ pc: name, state: pc.connectionState }); continue; }
      const local = stats.get(pair.localCandidateId) || {};
      const remote = stats.get(pair.remoteCandidateId) || {};
      out.push({
        pc: name, state: pc.connectionState, localType: local.candidateType, remoteType: remote.candidateType,
        protocol: local.protocol, relayProtocol: local.relayProtocol || null,
        bytesSent: pair.bytesSent || 0, bytesReceived: pair.bytesReceived || 0,
      });
    }
    return out;
  }

  window.GiaobanIce = { setServers, config, watch, selected, restart, expiresAt: () => expiresAt };
})();
