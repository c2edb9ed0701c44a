// review.js — recordings review (/app/review). Without ?id: GET /api/recordings (the recordings
// the user may view, newest first), by date and session. With ?id: GET /api/recordings/{id}
// (audited server side): the host site's file and a chosen site's file play side by side on the
// recording's clock (each file starts at its offset; a site with several files, after a
// reconnect, switches file as the clock passes), switching site keeps the position, the timeline
// becomes chapters that seek, each file has its (signed, short-lived) download link when the user
// may download, and the composite file job shows its progress. window.REVIEW exposes the clock.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;

  GB.addStrings({
    vi: {
      "rev.title": "Xem lại ghi hình", "rev.lead": "Các bản ghi hình bạn được phép xem, mới nhất trước.",
      "rev.col.date": "Ngày giờ ghi", "rev.col.session": "Phiên họp", "rev.col.status": "Trạng thái",
      "rev.col.open": "Xem lại", "rev.open": "Xem", "rev.none": "Chưa có bản ghi hình nào bạn được phép xem.",
      "rev.back": "‹ Danh sách bản ghi hình", "rev.host": "Điểm cầu chủ trì", "rev.site": "Điểm cầu",
      "rev.absent": "Điểm cầu không có mặt ở thời điểm này.", "rev.position": "Thời điểm",
      "rev.chapters": "Mục lục", "rev.files": "Tệp ghi hình theo điểm cầu", "rev.download": "Tải xuống",
      "rev.meta": "Ghi lúc {start} · {n} tệp · {status}",
      "rev.status.recording": "Đang ghi hình", "rev.status.complete": "Hoàn tất",
      "rev.status.interrupted": "Bị gián đoạn (máy chủ dừng)", "rev.status.failed": "Lỗi",
      "rev.ev.recording_started": "Bắt đầu ghi hình", "rev.ev.recording_stopped": "Dừng ghi hình",
      "rev.ev.recording_interrupted": "Ghi hình bị gián đoạn",
      "rev.ev.site_joined": "{site} tham gia", "rev.ev.site_left": "{site} rời phiên họp",
      "rev.ev.mute_on": "{site} tắt micro", "rev.ev.mute_off": "{site} bật micro",
      "rev.ev.camera_on": "{site} tắt camera", "rev.ev.camera_off": "{site} bật camera",
      "rev.ev.floor_given": "Mời {site} phát biểu", "rev.ev.floor_taken": "{site} kết thúc phát biểu",
      "rev.ev.speaking": "{site} phát biểu", "rev.ev.screen_share_started": "{site} trình chiếu",
      "rev.ev.screen_share_stopped": "{site} dừng trình chiếu",
      "rev.ev.agenda_item": "Nội dung {n}: {title}", "rev.ev.agenda_item_cleared": "Kết thúc nội dung chương trình họp",
      "rev.composite": "Tệp tổng hợp",
      "rev.compositeLead": "Một tệp: người phát biểu hoặc màn hình trình chiếu lớn, điểm cầu chủ trì bên cạnh, âm thanh của mọi điểm cầu.",
      "rev.compositeMake": "Tạo tệp tổng hợp", "rev.compositeRunning": "Đang tạo tệp tổng hợp: {p}%",
      "rev.compositeDone": "Đã tạo tệp tổng hợp.", "rev.compositeFailed": "Không tạo được tệp tổng hợp: {e}",
    },
    en: {
      "rev.title": "Recordings", "rev.lead": "The recordings you may view, newest first.",
      "rev.col.date": "Recorded at", "rev.col.session": "Session", "rev.col.status": "Status",
      "rev.col.open": "Playback", "rev.open": "Open", "rev.none": "No recording you may view yet.",
      "rev.back": "‹ Recordings", "rev.host": "Host site", "rev.site": "Site",
      "rev.absent": "The site was not connected at this time.", "rev.position": "Position",
      "rev.chapters": "Chapters", "rev.files": "Files per site", "rev.download": "Download",
      "rev.meta": "Recorded {start} · {n} files · {status}",
      "rev.status.recording": "Recording", "rev.status.complete": "Complete",
      "rev.status.interrupted": "Interrupted (server stopped)", "rev.status.failed": "Failed",
      "rev.ev.recording_started": "Recording started", "rev.ev.recording_stopped": "Recording stopped",
      "rev.ev.recording_interrupted": "Recording interrupted",
      "rev.ev.site_joined": "{site} joined", "rev.ev.site_left": "{site} left",
      "rev.ev.mute_on": "{site} muted", "rev.ev.mute_off": "{site} unmuted",
      "rev.ev.camera_on": "{site} turned the camera off", "rev.ev.camera_off": "{site} turned the camera on",
      "rev.ev.floor_given": "Floor given to {site}", "rev.ev.floor_taken": "{site} ended speaking",
      "rev.ev.speaking": "{site} speaks", "rev.ev.screen_share_started": "{site} shares a screen",
      "rev.ev.screen_share_stopped": "{site} stopped sharing",
      "rev.ev.agenda_item": "Agenda item {n}: {title}", "rev.ev.agenda_item_cleared": "Agenda item ended",
      "rev.composite": "Composite file",
      "rev.compositeLead": "One file: the speaker or shared screen large, the host beside it, every site's audio.",
      "rev.compositeMake": "Build the composite file", "rev.compositeRunning": "Building the composite file: {p}%",
      "rev.compositeDone": "The composite file is ready.", "rev.compositeFailed": "The composite file failed: {e}",
    },
  });

  const SYNC_TOLERANCE_S = 0.25;
  let rec = null; // GET /api/recordings/{id}
  let chosen = null; // site id shown beside the host
  let clockMs = 0;

  function fmtClock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return hh ? `${two(hh)}:${two(mm)}:${two(ss)}` : `${two(mm)}:${two(ss)}`;
  }

  function siteName(id) {
    const f = rec.files.find((x) => x.site_id === id);
    return f ? f.site_name : id || "";
  }

  // The file of `site` that covers `ms` on the recording's clock.
  function fileAt(site, ms) {
    return rec.files.find((f) => f.site_id === site && f.url && ms >= f.offset_ms &&
      ms < f.offset_ms + (f.duration_ms ?? Number.MAX_SAFE_INTEGER));
  }

  // Puts `video` at `ms` of `site`'s recording (switching file if needed); false when absent.
  function place(video, absent, site, ms, playing) {
    const f = fileAt(site, ms);
    absent.hidden = !!f;
    video.hidden = !f;
    if (!f) { if (!video.paused) video.pause(); return false; }
    const want = (ms - f.offset_ms) / 1000;
    if (video.dataset.file !== f.file) {
      video.dataset.file = f.file;
      video.dataset.offset = f.offset_ms;
      video.src = f.url;
      video.addEventListener("loadedmetadata", () => { video.currentTime = want; if (playing) video.play().catch(() => {}); }, { once: true });
      return true;
    }
    if (Math.abs(video.currentTime - want) > SYNC_TOLERANCE_S) video.currentTime = want;
    if (playing && video.paused) video.play().catch(() => {});
    if (!playing && !video.paused) video.pause();
    return true;
  }

  function masterVideo() {
    const host = $("v-host");
    return !host.hidden && host.dataset.file ? host : $("v-site");
  }

  function clockOf(video) {
    return Number(video.dataset.offset || 0) + video.currentTime * 1000;
  }

  function seek(ms, play) {
    clockMs = ms;
    const playing = play ?? !masterVideo().paused;
    place($("v-host"), $("host-absent"), rec.manifest.host_site_id, ms, playing);
    place($("v-site"), $("site-absent"), chosen, ms, playing);
    $("clock").textContent = fmtClock(ms);
  }

  // Every quarter second: the master's position is the clock; the other follows it.
  function tick() {
    if (!rec) return;
    const m = masterVideo();
    if (!m.dataset.file) return;
    clockMs = clockOf(m);
    $("clock").textContent = fmtClock(clockMs);
    const playing = !m.paused && !m.ended;
    const other = m === $("v-host") ? ["v-site", "site-absent", chosen] : ["v-host", "host-absent", rec.manifest.host_site_id];
    place($(other[0]), $(other[1]), other[2], clockMs, playing);
  }

  function chapterLabel(e) {
    const site = siteName(e.site_id);
    let detail = {};
    try { detail = JSON.parse(e.detail || "{}"); } catch (_) { /* keep empty */ }
    let key = `rev.ev.${e.kind}`;
    if (e.kind === "mute_changed") {
      key = detail.kind === "video" ? (detail.muted ? "rev.ev.camera_on" : "rev.ev.camera_off") : (detail.muted ? "rev.ev.mute_on" : "rev.ev.mute_off");
    }
    if (e.kind === "agenda_item") return t(key, { n: (detail.index ?? 0) + 1, title: detail.title || "" });
    return GB.has(key) ? t(key, { site }) : `${e.kind} ${site}`;
  }

  function renderPlayer() {
    const m = rec.manifest;
    $("rec-title").textContent = m.title;
    $("rec-meta").textContent = t("rev.meta", {
      start: GB.fmtDateTime(m.started_at), n: rec.files.length, status: t(`rev.status.${m.status}`),
    });
    $("host-name").textContent = siteName(m.host_site_id);
    const sites = GB.sortVi([...new Set(rec.files.map((f) => f.site_id))].filter((s) => s !== m.host_site_id), siteName);
    const sel = $("site-select");
    GB.clear(sel);
    for (const id of sites) sel.append(el("option", { value: id }, siteName(id)));
    if (!chosen || !sites.includes(chosen)) chosen = sites[0] || m.host_site_id;
    sel.value = chosen;
    const chapters = $("chapters");
    GB.clear(chapters);
    const shown = m.timeline.filter((e) => !["track_published", "track_ended"].includes(e.kind));
    for (const e of shown) {
      const agenda = e.kind.startsWith("agenda_item");
      chapters.append(el("li", {}, el("button", { type: "button", class: agenda ? "chapter chapter-agenda" : "chapter", "data-at": e.at_ms, "data-kind": e.kind, on: { click: () => seek(e.at_ms, true) } },
        el("span", { class: "t" }, fmtClock(e.at_ms)), chapterLabel(e))));
    }
    const files = $("files");
    GB.clear(files);
    for (const f of rec.files) {
      const when = `${fmtClock(f.offset_ms)}–${fmtClock(f.offset_ms + (f.duration_ms || 0))}`;
      files.append(el("li", {}, `${f.site_name} (${when}) `,
        f.download_url ? el("a", { href: f.download_url, download: f.file }, t("rev.download")) : ""));
    }
  }

  async function showPlayer(id) {
    $("player-view").hidden = false;
    rec = await GB.api("GET", `/api/recordings/${encodeURIComponent(id)}`);
    renderPlayer();
    $("site-select").addEventListener("change", () => { chosen = $("site-select").value; seek(clockMs); });
    window.addEventListener("gb:langchange", renderPlayer);
    $("v-host").addEventListener("play", tick);
    $("v-host").addEventListener("pause", tick);
    setInterval(tick, 250);
    const first = rec.files.find((f) => f.site_id === rec.manifest.host_site_id) || rec.files[0];
    if (first) seek(first.offset_ms, false);
    setupComposite(id);
  }

  function setupComposite(id) {
    const btn = $("composite-btn"), status = $("composite-status"), bar = $("composite-progress");
    const show = (job) => {
      if (!job) return;
      bar.hidden = job.status === "done" || job.status === "failed";
      bar.value = job.progress || 0;
      if (job.status === "done") {
        GB.clear(status);
        status.append(t("rev.compositeDone"), " ", job.url ? el("a", { href: job.url, download: "" }, t("rev.download")) : "");
      } else if (job.status === "failed") status.textContent = t("rev.compositeFailed", { e: job.error || "" });
      else status.textContent = t("rev.compositeRunning", { p: Math.round((job.progress || 0) * 100) });
      btn.disabled = job.status === "queued" || job.status === "running";
      if (btn.disabled) setTimeout(poll, 1000);
    };
    const poll = async () => {
      try { show(await GB.api("GET", `/api/recordings/${encodeURIComponent(id)}/composite`)); } catch (_) { /* none yet */ }
    };
    btn.hidden = !rec.access.download;
    btn.addEventListener("click", async () => {
      try { show(await GB.api("POST", `/api/recordings/${encodeURIComponent(id)}/composite`, {})); } catch (e) { status.textContent = GB.errorText(e); }
    });
    poll();
  }

  async function showList() {
    $("list-view").hidden = false;
    const items = await GB.api("GET", "/api/recordings");
    const rows = $("rows");
    GB.clear(rows);
    if (!items.length) rows.append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, t("rev.none"))));
    for (const it of items) {
      const r = it.recording;
      rows.append(el("tr", {},
        el("td", {}, GB.fmtDateTime(r.started_at)),
        el("td", {}, it.title),
        el("td", {}, t(`rev.status.${r.status}`)),
        el("td", {}, el("a", { href: `/app/review?id=${encodeURIComponent(r.id)}` }, t("rev.open")))));
    }
  }

  window.REVIEW = { seek, clock: () => clockMs };

  GB.page({ title: "rev.title", nav: "review" }, async () => {
    const id = new URLSearchParams(window.location.search).get("id");
    if (id) await showPlayer(id); else await showList();
  });
})();
