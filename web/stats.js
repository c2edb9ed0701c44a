// stats.js — connection statistics of the room page: sums over getStats() of the publish and
// subscribe peer connections (window.giaoban.stats()) and the collapsible "Thông số kết nối"
// panel that shows them every 2 s. Exposes window.GiaobanStats = { collect, mountPanel }.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => window.i18n.t(key, params);
  const PERIOD_MS = 2000;

  function empty(siteIds) {
    const out = {
      inboundVideo: { framesDecoded: 0, packetsReceived: 0, bytesReceived: 0 },
      inboundAudio: { packetsReceived: 0, bytesReceived: 0 },
      outboundVideo: { packetsSent: 0, framesEncoded: 0 },
      outboundAudio: { packetsSent: 0 },
      perSite: {},
    };
    for (const id of siteIds) out.perSite[id] = { framesDecoded: 0, audioPackets: 0 };
    return out;
  }

  // pcs: peer connections (null entries skipped); siteOfTrack(trackId) -> siteId or undefined;
  // siteIds: the sites to report even when nothing was received from them yet.
  async function collect(pcs, siteOfTrack, siteIds) {
    const out = empty(siteIds);
    for (const pc of pcs) {
      if (!pc || pc.connectionState === "closed") continue;
      let report;
      try { report = await pc.getStats(); } catch (_) { continue; }
      const byMid = new Map();
      for (const tr of pc.getTransceivers()) if (tr.mid !== null && tr.receiver?.track) byMid.set(tr.mid, tr.receiver.track.id);
      report.forEach((s) => {
        const kind = s.kind || s.mediaType;
        if (s.type === "inbound-rtp") {
          if (kind === "video") {
            out.inboundVideo.framesDecoded += s.framesDecoded || 0;
            out.inboundVideo.packetsReceived += s.packetsReceived || 0;
            out.inboundVideo.bytesReceived += s.bytesReceived || 0;
          } else if (kind === "audio") {
            out.inboundAudio.packetsReceived += s.packetsReceived || 0;
            out.inboundAudio.bytesReceived += s.bytesReceived || 0;
          }
          // The receiver's track names the site (older browsers: via the "track" stats object).
          const trackId = s.trackIdentifier || (s.trackId && report.get(s.trackId)?.trackIdentifier) || byMid.get(s.mid);
          const siteId = trackId && siteOfTrack(trackId);
          const site = siteId !== undefined && out.perSite[siteId];
          if (site && kind === "video") site.framesDecoded += s.framesDecoded || 0;
          if (site && kind === "audio") site.audioPackets += s.packetsReceived || 0;
        } else if (s.type === "outbound-rtp") {
          if (kind === "video") {
            out.outboundVideo.packetsSent += s.packetsSent || 0;
            out.outboundVideo.framesEncoded += s.framesEncoded || 0;
          } else if (kind === "audio") {
            out.outboundAudio.packetsSent += s.packetsSent || 0;
          }
        }
      });
    }
    return out;
  }

  const locale = () => (window.i18n.lang === "vi" ? "vi-VN" : "en-GB");
  const fmtNumber = (n) => Number(n || 0).toLocaleString(locale());

  function fmtBytes(n) {
    const units = ["B", "KB", "MB", "GB"];
    let v = n || 0, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return `${v.toLocaleString(locale(), { maximumFractionDigits: u ? 1 : 0 })} ${units[u]}`;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    cells.forEach((text, n) => {
      const cell = document.createElement(n ? "td" : "th");
      if (!n) cell.scope = "row";
      cell.textContent = text;
      tr.append(cell);
    });
    return tr;
  }

  // getStats() -> Promise<stats>; sites() -> [{siteId, siteName}] in display order.
  function mountPanel(getStats, sites) {
    const panel = $("stats-panel");
    let busy = false;
    async function update() {
      if (!panel.open || busy) return;
      busy = true;
      try {
        const s = await getStats();
        const rows = [
          ["stats.inVideoFrames", fmtNumber(s.inboundVideo.framesDecoded)],
          ["stats.inVideoPackets", fmtNumber(s.inboundVideo.packetsReceived)],
          ["stats.inVideoBytes", fmtBytes(s.inboundVideo.bytesReceived)],
          ["stats.inAudioPackets", fmtNumber(s.inboundAudio.packetsReceived)],
          ["stats.inAudioBytes", fmtBytes(s.inboundAudio.bytesReceived)],
          ["stats.outVideoPackets", fmtNumber(s.outboundVideo.packetsSent)],
          ["stats.outVideoFrames", fmtNumber(s.outboundVideo.framesEncoded)],
          ["stats.outVideoState", t(s.videoPaused ? "stats.outVideoPaused" : "stats.outVideoSending")],
          ["stats.outAudioPackets", fmtNumber(s.outboundAudio.packetsSent)],
        ];
        $("stats-body").replaceChildren(...rows.map(([key, value]) => row([t(key), value])));
        $("stats-sites").replaceChildren(...sites().map((p) => row([p.siteName,
          fmtNumber(s.perSite[p.siteId]?.framesDecoded), fmtNumber(s.perSite[p.siteId]?.audioPackets)])));
        $("stats-updated").textContent = t("stats.updated", { time: window.i18n.formatTime(new Date()) });
      } finally {
        busy = false;
      }
    }
    panel.addEventListener("toggle", update);
    window.addEventListener("langchange", update);
    setInterval(update, PERIOD_MS);
    return { update };
  }

  window.GiaobanStats = { collect, mountPanel };
})();
