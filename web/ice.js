// ice.js — ICE of the room page's peer connections: the TURN/STUN servers the server sends before
// `joined` (`ice_servers`, with time-limited credentials; docs/protocol.md), the transport policy
// (`?ice=relay` sends everything through TURN: to diagnose a site behind a firewall, and for the
// relay test), and the candidate pairs in use, for statistics.
// Exposes window.GiaobanIce = { setServers, config, watch, selected, expiresAt }.
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

  // Remembers a connection (until it closes) so that its selected pair can be reported.
  function watch(pc, name) {
    const entry = { pc, name };
    watched.add(entry);
    pc.addEventListener("connectionstatechange", () => { if (pc.connectionState === "closed") watched.delete(entry); });
    return entry;
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

  window.GiaobanIce = { setServers, config, watch, selected, expiresAt: () => expiresAt };
})();
