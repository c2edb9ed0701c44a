// board.js — the invitation board (/app/board?session=<id>): loads
// GET /api/sessions/<id>/invitations every 5 s and renders one row per invited site (status
// badge, live presence, stage times, connection-test report, join link with copy and, under it,
// re-issue and revoke (admin, secretariat; two clicks on the same button), apart from the
// attendance actions confirm / ready (also the site's own operator). Rows refresh as actions land
// and every 5 s, except a row whose button is armed. "Copy all links" puts one "site: link" line
// per visible site on the clipboard: this session's join links, or each site's stable link
// (GET /api/sessions/<id>/site-links).
// The shell (navigation, API client with CSRF header and login redirect, dates, Vietnamese
// sorting, toasts, two-step buttons, copy) is common.js; this page's strings are added below.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;
  const REFRESH_MS = 5000;
  const STATUSES = ["invited", "confirmed", "tested", "ready", "revoked"];
  const BADGE = { invited: "badge-invited", confirmed: "badge-info", tested: "badge-warn", ready: "badge-ok", revoked: "badge-danger badge-revoked" };
  // The summary chips: a count of zero revoked invitations is not struck through.
  const COUNT_BADGE = Object.assign({}, BADGE, { revoked: "badge-danger" });
  const RANK = { invited: 0, confirmed: 1, tested: 2, ready: 3, revoked: -1 };

  GB.addStrings({
    vi: {
      "board.title": "Bảng theo dõi giấy mời",
      "board.counts": "Tổng hợp trạng thái",
      "board.col.no": "STT",
      "board.col.site": "Điểm cầu",
      "board.col.status": "Trạng thái",
      "board.col.times": "Mốc thời gian",
      "board.col.test": "Kiểm tra kết nối",
      "board.col.link": "Đường dẫn tham gia",
      "board.col.actions": "Thao tác",
      "board.refresh": "Tự động cập nhật mỗi 5 giây.",
      "board.updated": "Cập nhật lúc {time}.",
      "board.status.invited": "Đã mời",
      "board.status.confirmed": "Đã xác nhận",
      "board.status.tested": "Đã kiểm tra",
      "board.status.ready": "Sẵn sàng",
      "board.status.revoked": "Đã thu hồi",
      "board.host": "Điểm cầu chủ trì",
      "board.online": "Đang trực tuyến",
      "board.rollcall": "Bảng điểm danh",
      "board.time.confirmed": "Xác nhận: {t}",
      "board.time.tested": "Kiểm tra: {t}",
      "board.time.ready": "Sẵn sàng: {t}",
      "board.time.revoked": "Thu hồi: {t}",
      "board.time.issued": "Cấp đường dẫn: {t}",
      "board.test.none": "Chưa có kết quả",
      "board.test.camera": "Camera",
      "board.test.microphone": "Micro",
      "board.test.ok": "tốt",
      "board.test.bad": "lỗi",
      "board.test.network": "Độ trễ mạng: {ms} ms",
      "board.test.at": "Lúc {t}",
      "board.link.none": "Đường dẫn đã bị thu hồi",
      "board.link.version": "Lần cấp {v}, hết hạn {t}",
      "board.link.aria": "Đường dẫn tham gia của {site}",
      "board.btn.copy": "Sao chép",
      "board.btn.reissue": "Cấp lại",
      "board.btn.revoke": "Thu hồi",
      "board.btn.confirm": "Xác nhận",
      "board.btn.ready": "Sẵn sàng",
      "board.done.reissue": "Đã cấp lại đường dẫn cho {site}. Đường dẫn cũ không còn sử dụng được.",
      "board.done.revoke": "Đã thu hồi giấy mời của {site}.",
      "board.done.status": "Đã cập nhật trạng thái của {site}: {status}.",
      "board.done.copy": "Đã sao chép đường dẫn tham gia của {site}.",
      "board.err.copy": "Không sao chép được; hãy chọn đường dẫn và sao chép thủ công.",
      "board.copyAll.session": "Sao chép tất cả đường dẫn của phiên họp",
      "board.copyAll.site": "Sao chép tất cả đường dẫn cố định",
      "board.done.copyAll": "Đã sao chép {n} đường dẫn (mỗi điểm cầu một dòng).",
      "board.copyAll.none": "Không có đường dẫn nào để sao chép.",
      "board.err.noSession": "Địa chỉ trang thiếu mã phiên họp (?session=…).",
      "board.err.revoked": "Giấy mời đã bị thu hồi; cần cấp lại đường dẫn trước khi cập nhật trạng thái.",
      "board.empty": "Phiên họp chưa mời điểm cầu nào.",
    },
    en: {
      "board.title": "Invitation board",
      "board.counts": "Status summary",
      "board.col.no": "No.",
      "board.col.site": "Site",
      "board.col.status": "Status",
      "board.col.times": "Milestones",
      "board.col.test": "Connection test",
      "board.col.link": "Join link",
      "board.col.actions": "Actions",
      "board.refresh": "Refreshes every 5 seconds.",
      "board.updated": "Updated at {time}.",
      "board.status.invited": "Invited",
      "board.status.confirmed": "Confirmed",
      "board.status.tested": "Tested",
      "board.status.ready": "Ready",
      "board.status.revoked": "Revoked",
      "board.host": "Host site",
      "board.online": "Online now",
      "board.rollcall": "Roll-call board",
      "board.time.confirmed": "Confirmed: {t}",
      "board.time.tested": "Tested: {t}",
      "board.time.ready": "Ready: {t}",
      "board.time.revoked": "Revoked: {t}",
      "board.time.issued": "Link issued: {t}",
      "board.test.none": "No result yet",
      "board.test.camera": "Camera",
      "board.test.microphone": "Microphone",
      "board.test.ok": "OK",
      "board.test.bad": "failed",
      "board.test.network": "Network delay: {ms} ms",
      "board.test.at": "At {t}",
      "board.link.none": "The link has been revoked",
      "board.link.version": "Issue {v}, expires {t}",
      "board.link.aria": "Join link of {site}",
      "board.btn.copy": "Copy",
      "board.btn.reissue": "Re-issue",
      "board.btn.revoke": "Revoke",
      "board.btn.confirm": "Confirm",
      "board.btn.ready": "Ready",
      "board.done.reissue": "A new link was issued for {site}. The old link no longer works.",
      "board.done.revoke": "The invitation of {site} was revoked.",
      "board.done.status": "Status of {site} updated: {status}.",
      "board.done.copy": "The join link of {site} was copied.",
      "board.err.copy": "Could not copy; select the link and copy it by hand.",
      "board.copyAll.session": "Copy all links of this session",
      "board.copyAll.site": "Copy all stable links",
      "board.done.copyAll": "{n} links copied (one site per line).",
      "board.copyAll.none": "There is no link to copy.",
      "board.err.noSession": "The page address lacks the session id (?session=…).",
      "board.err.revoked": "The invitation is revoked; re-issue the link before changing its status.",
      "board.empty": "No site is invited to this session.",
    },
  });

  const sessionId = new URLSearchParams(window.location.search).get("session") || "";
  let who = null;
  let board = null;
  let boardText = "";
  let timer = null;

  const base = () => `/api/sessions/${encodeURIComponent(sessionId)}/invitations`;
  const canIssue = () => GB.hasRole(who, ["admin", "secretariat"]);
  const canSetStatus = () => canIssue() || GB.hasRole(who, ["site_operator"]);

  function showError(text) {
    const box = $("board-error");
    box.replaceChildren();
    if (text) box.append(el("p", { class: "notice notice-error" }, text));
  }

  async function load() {
    try {
      const next = await GB.api("GET", base());
      showError("");
      $("updated").textContent = t("board.updated", { time: GB.fmtDateTime(new Date(), true).slice(-8) });
      const text = JSON.stringify(next);
      // Re-render only on change, so a selected link or a focused button survives the refresh.
      if (text !== boardText) {
        board = next;
        boardText = text;
        render();
      }
    } catch (e) {
      showError(GB.errorText(e));
      if (e.status === 403 || e.status === 404) stop();
    }
  }

  function stop() {
    if (timer) window.clearInterval(timer);
    timer = null;
  }

  function render() {
    if (!board) return;
    const s = board.session;
    $("session-title").textContent = s.title;
    $("session-time").textContent = [GB.fmtDateTime(s.starts_at), GB.fmtDateTime(s.ends_at)].filter(Boolean).join(" – ");
    // Each stage counts the sites that reached it (a ready site has also confirmed and tested),
    // out of the sites still invited; revoked ones are counted apart.
    const live = board.invitations.filter((i) => i.status !== "revoked");
    const reached = (st) => live.filter((i) => RANK[i.status] >= RANK[st]).length;
    GB.clear($("counts")).append(...STATUSES.map((st) => el("li", { class: `badge ${COUNT_BADGE[st]}`, dataset: { stage: st } },
      `${t(`board.status.${st}`)}: `,
      el("strong", null, st === "revoked" ? String(board.counts.revoked || 0) : `${reached(st)}/${live.length}`))));
    const rows = board.invitations.slice().sort((a, b) =>
      (b.is_host - a.is_host) || GB.compareVi(a.unit_name, b.unit_name) || GB.compareVi(a.site_name, b.site_name));
    const tbody = $("rows");
    // A row whose button is armed (waiting for its confirming click) is kept as it is, so the
    // second click lands on the same button; every other row is refreshed.
    const armed = new Map([...tbody.querySelectorAll("tr[data-site]")]
      .filter((tr) => tr.querySelector(".is-armed"))
      .map((tr) => [tr.dataset.site, tr]));
    const next = rows.map((inv, i) => armed.get(inv.site_id) || row(inv, i + 1));
    if (next.length === 0) next.push(el("tr", null, el("td", { colspan: 7, class: "empty" }, t("board.empty"))));
    tbody.replaceChildren(...next);
  }

  function row(inv, n) {
    const times = [["confirmed", inv.confirmed_at], ["tested", inv.tested_at], ["ready", inv.ready_at],
      ["revoked", inv.revoked_at], ["issued", inv.issued_at]]
      .filter(([, v]) => v).map(([k, v]) => el("div", null, t(`board.time.${k}`, { t: GB.fmtDateTime(v) })));
    const ok = (b) => t(b ? "board.test.ok" : "board.test.bad");
    const test = inv.test
      ? [el("div", { class: inv.test.camera ? "test-ok" : "test-bad" }, `${t("board.test.camera")}: ${ok(inv.test.camera)}`),
        el("div", { class: inv.test.microphone ? "test-ok" : "test-bad" }, `${t("board.test.microphone")}: ${ok(inv.test.microphone)}`),
        el("div", null, t("board.test.network", { ms: Math.round(inv.test.network_ms) })),
        el("div", { class: "muted" }, t("board.test.at", { t: GB.fmtDateTime(inv.test.at) }))]
      : el("span", { class: "muted" }, t("board.test.none"));
    return el("tr", { dataset: { site: inv.site_id } },
      el("td", { class: "num" }, String(n)),
      el("td", { class: "site-cell" },
        el("div", { class: "site-title" }, inv.site_name),
        el("div", { class: "muted small" }, inv.unit_name),
        inv.is_host ? el("span", { class: "badge badge-host" }, t("board.host")) : null,
        (board.online_site_ids || []).includes(inv.site_id)
          ? el("span", { class: "badge badge-ok", dataset: { online: "1" } }, t("board.online")) : null),
      el("td", null, el("span", { class: `badge ${BADGE[inv.status]}` }, t(`board.status.${inv.status}`))),
      el("td", { class: "times" }, times),
      el("td", { class: "test" }, test),
      el("td", { class: "link" }, linkCell(inv)),
      el("td", { class: "actions" }, actions(inv)));
  }

  function linkCell(inv) {
    if (!inv.link) return [el("span", { class: "muted" }, t("board.link.none")), linkActions(inv)];
    const input = el("input", { class: "link-input", type: "text", readonly: true, value: inv.link,
      "aria-label": t("board.link.aria", { site: inv.site_name }), on: { focus: (e) => e.target.select() } });
    const copy = el("button", { type: "button", class: "btn btn-small", dataset: { action: "copy" },
      on: { click: () => copyLink(inv) } }, t("board.btn.copy"));
    return [el("div", { class: "link-line" }, input, copy),
      el("div", { class: "muted small" }, t("board.link.version", { v: inv.link_version, t: GB.fmtDateTime(inv.link_expires_at) })),
      linkActions(inv)];
  }

  // Re-issue and revoke act on the link: they sit under it, apart from the attendance buttons,
  // and each needs a second click on the same (armed, red) button.
  function linkActions(inv) {
    if (!canIssue()) return null;
    const out = [twoStep(button("reissue", "btn-outline", null), () => post(inv, "reissue"))];
    if (inv.status !== "revoked") out.push(twoStep(button("revoke", "btn-danger", null), () => post(inv, "revoke")));
    return el("div", { class: "link-actions" }, ...out);
  }

  function actions(inv) {
    const out = [];
    const live = inv.status !== "revoked";
    if (live && canSetStatus()) {
      if (inv.status === "invited") out.push(button("confirm", "btn-primary", () => post(inv, "status", { status: "confirmed" })));
      if (inv.status !== "ready") out.push(button("ready", "btn-primary", () => post(inv, "status", { status: "ready" })));
    }
    return out;
  }

  function button(action, cls, run) {
    return el("button", { type: "button", class: ["btn", "btn-small", cls], dataset: { action },
      on: run ? { click: run } : null }, t(`board.btn.${action}`));
  }

  // A destructive action: GB.confirmClick asks for a second click on the same button; render()
  // keeps an armed button's row while the others refresh.
  function twoStep(btn, run) {
    GB.confirmClick(btn, run);
    return btn;
  }

  async function post(inv, action, body) {
    try {
      await GB.api("POST", `${base()}/${encodeURIComponent(inv.site_id)}/${action}`, body || {});
      const done = action === "status"
        ? t("board.done.status", { site: inv.site_name, status: t(`board.status.${body.status}`) })
        : t(`board.done.${action}`, { site: inv.site_name });
      GB.toast(done, "success");
    } catch (e) {
      GB.toast(e.status === 409 ? t("board.err.revoked") : GB.errorText(e), "error");
    } finally {
      boardText = "";
      load();
    }
  }

  async function copyLink(inv) {
    if (await GB.copyText(inv.link)) GB.toast(t("board.done.copy", { site: inv.site_name }), "success");
    else GB.toast(t("board.err.copy"), "error");
  }

  // One "site name: link" line per site; `lines` already in board order.
  async function copyLines(lines) {
    if (!lines.length) { GB.toast(t("board.copyAll.none"), "error"); return; }
    const text = lines.map((l) => `${l.name}: ${l.link}`).join("\n");
    if (await GB.copyText(text)) GB.toast(t("board.done.copyAll", { n: lines.length }), "success");
    else GB.toast(t("board.err.copy"), "error");
  }

  function sortedLines(list) {
    return list.slice().sort((a, b) => (b.is_host - a.is_host) || GB.compareVi(a.unit_name || "", b.unit_name || "")
      || GB.compareVi(a.name, b.name));
  }

  async function copyAllSession() {
    if (!board) return;
    await copyLines(sortedLines(board.invitations.filter((i) => i.link)
      .map((i) => ({ name: i.site_name, link: i.link, is_host: i.is_host, unit_name: i.unit_name }))));
  }

  async function copyAllSite() {
    try {
      const list = await GB.api("GET", `/api/sessions/${encodeURIComponent(sessionId)}/site-links`);
      const inv = new Map((board?.invitations || []).map((i) => [i.site_id, i]));
      await copyLines(sortedLines(list.filter((l) => l.link).map((l) => ({ name: l.site_name, link: l.link,
        is_host: inv.get(l.site_id)?.is_host || false, unit_name: inv.get(l.site_id)?.unit_name || "" }))));
    } catch (e) {
      GB.toast(GB.errorText(e), "error");
    }
  }

  GB.page({ nav: "calendar", title: "board.title", roles: ["admin", "secretariat", "operator", "site_operator"] }, async (me) => {
    who = me;
    window.addEventListener("gb:langchange", () => { boardText = ""; render(); });
    if (!sessionId) {
      showError(t("board.err.noSession"));
      return;
    }
    $("to-rollcall").href = `/app/rollcall?session=${encodeURIComponent(sessionId)}`;
    $("copy-all-session").addEventListener("click", copyAllSession);
    $("copy-all-site").addEventListener("click", copyAllSite);
    await load();
    timer = window.setInterval(load, REFRESH_MS);
  });
})();
