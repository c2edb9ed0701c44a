// session.js — one session (phiên họp). With ?id=…: the detail from GET /api/sessions/{id} (time
// in Asia/Ho_Chi_Minh, host, chair, agenda, invited sites required/optional, series and its
// occurrences, the .ics file and each site's subscribable feed link) and, for the secretariat,
// edit and cancel with a scope (this / following / series) for a recurring session. Without an
// id: the form that creates one (POST /api/sessions), with the site picker grouped by unit and a
// weekly recurrence (weekdays, until a date or a number of times). A 409 shows the server's
// message (Vietnamese; English when the page is in English) and the conflicting sessions.
"use strict";

(function () {
  const GB = window.GB;
  const { t, el, $ } = GB;

  GB.addStrings({
    vi: {
      "sess.title": "Phiên họp", "sess.new": "Tạo phiên họp", "sess.edit": "Sửa phiên họp",
      "sess.back": "‹ Lịch họp", "sess.scope": "Áp dụng cho",
      "sess.scope.this": "Chỉ phiên họp này", "sess.scope.following": "Phiên này và các phiên sau",
      "sess.scope.series": "Toàn bộ chuỗi phiên họp",
      "sess.f.title": "Tên phiên họp", "sess.f.date": "Ngày (dd/mm/yyyy)",
      "sess.f.start": "Bắt đầu (HH:mm)", "sess.f.end": "Kết thúc (HH:mm)",
      "sess.f.host": "Điểm cầu chủ trì", "sess.f.chair": "Chủ trì (Họ và tên – Chức vụ)",
      "sess.f.agenda": "Chương trình họp", "sess.f.agendaAdd": "Thêm nội dung",
      "sess.f.item": "Nội dung", "sess.f.presenter": "Đơn vị trình bày", "sess.f.remove": "Xóa",
      "sess.f.sites": "Điểm cầu tham dự", "sess.f.filter": "Lọc theo tên",
      "sess.f.selected": "Đã chọn {n} điểm cầu", "sess.f.allUnit": "Chọn cả đơn vị",
      "sess.f.required": "Bắt buộc", "sess.f.optional": "Không bắt buộc",
      "sess.f.repeat": "Lặp lại", "sess.f.weekly": "Họp hằng tuần", "sess.f.weekdays": "Các ngày trong tuần",
      "sess.f.until": "Đến ngày", "sess.f.count": "Số lần",
      "sess.f.classified": "Phiên họp mật (không ghi hình)", "sess.f.record": "Tự động ghi hình",
      "sess.days": "T2|T3|T4|T5|T6|T7|CN",
      "sess.bad.date": "Ngày không hợp lệ (dd/mm/yyyy).", "sess.bad.time": "Giờ không hợp lệ (HH:mm, 24 giờ).",
      "sess.bad.until": "Ngày kết thúc lặp lại không hợp lệ.",
      "sess.conflict": "Trùng lịch", "sess.c.site": "Điểm cầu", "sess.c.session": "Phiên họp",
      "sess.c.time": "Thời gian", "sess.c.more": "… và {n} trường hợp khác",
      "sess.d.time": "Thời gian", "sess.d.host": "Điểm cầu chủ trì", "sess.d.chair": "Chủ trì",
      "sess.d.agenda": "Chương trình họp", "sess.d.sites": "Thành phần tham dự",
      "sess.d.unit": "Đơn vị", "sess.d.series": "Họp định kỳ",
      "sess.d.rule": "Quy tắc lặp", "sess.d.occurrences": "{n} phiên, {c} đã hủy",
      "sess.d.calendar": "Lịch (iCalendar)", "sess.d.ics": "Tải tệp .ics",
      "sess.d.board": "Giấy mời và đường dẫn tham gia của các điểm cầu",
      "sess.d.console": "Điều hành phiên họp",
      "sess.d.rollcall": "Bảng điểm danh",
      "sess.d.feed": "Đường dẫn đăng ký lịch của điểm cầu",
      "sess.d.scheduled": "Đã lên lịch", "sess.d.cancelled": "Đã hủy", "sess.d.override": "Đã điều chỉnh riêng",
      "sess.d.classified": "Phiên họp mật", "sess.d.record": "Tự động ghi hình",
      "sess.d.none": "Chưa có", "sess.a.edit": "Sửa", "sess.a.cancel": "Hủy phiên họp",
      "sess.a.confirm": "Xác nhận hủy", "sess.saved": "Đã lưu phiên họp.", "sess.cancelledOk": "Đã hủy phiên họp.",
      "sess.copied": "Đã sao chép đường dẫn.",
      "sess.r.weekly": "Hằng tuần vào {days}; {end}", "sess.r.count": "{n} lần", "sess.r.until": "đến ngày {date}",
      "sess.err.title": "Tên phiên họp không được để trống và không quá 300 ký tự.",
      "sess.err.generic": "Dữ liệu không hợp lệ ở mục “{field}”. Vui lòng kiểm tra lại.",
      "sess.err.site_ids": "Danh sách điểm cầu không hợp lệ (quá nhiều hoặc bị trùng lịch).",
      "sess.err.scope": "Phạm vi sửa không hợp lệ cho phiên họp này.",
      "sess.warn.past": "Thời gian bắt đầu đã qua. Nếu vẫn muốn tạo phiên họp trong quá khứ, bấm “Lưu” thêm một lần.",
      "sess.err.starts_at": "Cần nhập thời gian bắt đầu và kết thúc.",
      "sess.err.ends_at": "Giờ kết thúc phải sau giờ bắt đầu, phiên họp không dài quá thời lượng cho phép.",
      "sess.err.chair": "Thông tin chủ trì không quá 200 ký tự.",
      "sess.err.agenda": "Mỗi nội dung chương trình cần có tên (tối đa 50 nội dung).",
      "sess.err.rrule": "Quy tắc lặp không hợp lệ: cần số lần (tối đa 520) hoặc ngày kết thúc (tối đa 5 năm).",
      "sess.err.record_auto": "Phiên họp mật không được ghi hình.",
      "sess.err.sites": "Quá nhiều điểm cầu.",
      "sess.err.status": "Phiên họp đã bị hủy, không thể sửa.",
      "sess.err.unknown_site": "Có điểm cầu không tồn tại.",
      "sess.err.site_not_valid": "Có điểm cầu không còn hiệu lực vào ngày họp (đơn vị đã sáp nhập hoặc chưa thành lập).",
    },
    en: {
      "sess.title": "Session", "sess.new": "New session", "sess.edit": "Edit session",
      "sess.back": "‹ Meeting calendar", "sess.scope": "Apply to",
      "sess.scope.this": "This session only", "sess.scope.following": "This and following sessions",
      "sess.scope.series": "The whole series",
      "sess.f.title": "Title", "sess.f.date": "Date (dd/mm/yyyy)",
      "sess.f.start": "Start (HH:mm)", "sess.f.end": "End (HH:mm)",
      "sess.f.host": "Host site", "sess.f.chair": "Chair (Full name – Position)",
      "sess.f.agenda": "Agenda", "sess.f.agendaAdd": "Add item",
      "sess.f.item": "Item", "sess.f.presenter": "Presented by", "sess.f.remove": "Remove",
      "sess.f.sites": "Invited sites", "sess.f.filter": "Filter by name",
      "sess.f.selected": "{n} sites selected", "sess.f.allUnit": "Whole unit",
      "sess.f.required": "Required", "sess.f.optional": "Optional",
      "sess.f.repeat": "Repeat", "sess.f.weekly": "Weekly", "sess.f.weekdays": "Weekdays",
      "sess.f.until": "Until", "sess.f.count": "Times",
      "sess.f.classified": "Classified (no recording)", "sess.f.record": "Record automatically",
      "sess.days": "Mon|Tue|Wed|Thu|Fri|Sat|Sun",
      "sess.bad.date": "Invalid date (dd/mm/yyyy).", "sess.bad.time": "Invalid time (HH:mm, 24-hour).",
      "sess.bad.until": "Invalid end date of the repetition.",
      "sess.conflict": "Scheduling conflict", "sess.c.site": "Site", "sess.c.session": "Session",
      "sess.c.time": "Time", "sess.c.more": "… and {n} more",
      "sess.d.time": "Time", "sess.d.host": "Host site", "sess.d.chair": "Chair",
      "sess.d.agenda": "Agenda", "sess.d.sites": "Required attendees",
      "sess.d.unit": "Unit", "sess.d.series": "Recurring",
      "sess.d.rule": "Rule", "sess.d.occurrences": "{n} sessions, {c} cancelled",
      "sess.d.calendar": "Calendar (iCalendar)", "sess.d.ics": "Download .ics",
      "sess.d.board": "Invitations and join links of the sites",
      "sess.d.console": "Session console",
      "sess.d.rollcall": "Roll-call board",
      "sess.d.feed": "Sites' calendar subscription links",
      "sess.d.scheduled": "Scheduled", "sess.d.cancelled": "Cancelled", "sess.d.override": "Changed individually",
      "sess.d.classified": "Classified", "sess.d.record": "Recorded automatically",
      "sess.d.none": "None", "sess.a.edit": "Edit", "sess.a.cancel": "Cancel session",
      "sess.a.confirm": "Confirm cancellation", "sess.saved": "Session saved.", "sess.cancelledOk": "Session cancelled.",
      "sess.copied": "Link copied.",
      "sess.r.weekly": "Weekly on {days}; {end}", "sess.r.count": "{n} times", "sess.r.until": "until {date}",
      "sess.err.title": "The title must not be empty nor longer than 300 characters.",
      "sess.err.generic": "Invalid value in “{field}”. Please check it.",
      "sess.err.site_ids": "Invalid list of sites (too many, or a scheduling conflict).",
      "sess.err.scope": "Invalid edit scope for this session.",
      "sess.warn.past": "The start time has passed. To create a session in the past anyway, press “Save” once more.",
      "sess.err.starts_at": "Give a start and an end time.",
      "sess.err.ends_at": "The end must be after the start, within the longest session allowed.",
      "sess.err.chair": "The chair is at most 200 characters.",
      "sess.err.agenda": "Each agenda item needs a title (at most 50 items).",
      "sess.err.rrule": "Invalid repetition: give a number of times (at most 520) or an end date (at most 5 years).",
      "sess.err.record_auto": "A classified session cannot be recorded.",
      "sess.err.sites": "Too many sites.",
      "sess.err.status": "The session is cancelled and cannot be edited.",
      "sess.err.unknown_site": "A site does not exist.",
      "sess.err.site_not_valid": "A site is not valid on the session's date (its unit was merged or not yet created).",
    },
  });

  const WRITERS = ["secretariat", "admin"];
  const DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
  let who = null;
  let sites = [];
  // A session starting in the past is created only after a warning and a second "Lưu".
  let pastConfirmed = false;
  let detail = null;
  const picked = new Map(); // site id → required

  // ------------------------------------------------------------------ API with the full 409 body

  function csrf() {
    const m = document.cookie.split(";").map((p) => p.trim()).find((p) => p.startsWith("giaoban_csrf="));
    return m ? decodeURIComponent(m.slice("giaoban_csrf=".length)) : "";
  }

  async function send(method, path, body) {
    const res = await fetch(path, {
      method, credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body || {}),
    });
    if (res.status === 401) GB.toLogin();
    let data = null;
    try { data = await res.json(); } catch (_) { data = null; }
    return { status: res.status, data };
  }

  // ------------------------------------------------------------------ time helpers (UTC+7)

  function parseTime(text) {
    const m = /^(\d{1,2})[:h.](\d{2})$/.exec(String(text || "").trim());
    if (!m || +m[1] > 23 || +m[2] > 59) return null;
    return `${m[1].padStart(2, "0")}:${m[2]}`;
  }

  // "yyyy-mm-dd" + "HH:mm" in Hanoi → RFC 3339 with +07:00.
  function instant(day, time) {
    return `${day}T${time}:00+07:00`;
  }

  function localDay(value) {
    const d = GB.fmtDate(value);
    return `${d.slice(6, 10)}-${d.slice(3, 5)}-${d.slice(0, 2)}`;
  }

  function hhmm(value) {
    return GB.fmtDateTime(value).slice(-5);
  }

  function weekdayIndex(day) {
    const [y, m, d] = day.split("-").map(Number);
    return (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  }

  // ------------------------------------------------------------------ detail

  // "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4" → "Hằng tuần: T2, T4; 4 lần" (the raw rule otherwise).
  function ruleText(rule) {
    const names = t("sess.days").split("|");
    const byday = /BYDAY=([A-Z,]+)/.exec(rule);
    const count = /COUNT=(\d+)/.exec(rule);
    const until = /UNTIL=(\d{4})(\d{2})(\d{2})(T\d{6}Z)?/.exec(rule);
    if (!/^FREQ=WEEKLY/.test(rule) || /INTERVAL=/.test(rule)) return el("span", { class: "mono" }, rule);
    const days = byday ? byday[1].split(",").map((c) => names[DAYS.indexOf(c)]).join(", ") : "";
    let end = "";
    if (count) end = t("sess.r.count", { n: count[1] });
    else if (until) end = t("sess.r.until", { date: until[4] ? GB.fmtDate(`${until[1]}-${until[2]}-${until[3]}T${until[4].slice(1, 3)}:${until[4].slice(3, 5)}:00Z`) : `${until[3]}/${until[2]}/${until[1]}` });
    return t("sess.r.weekly", { days, end });
  }

  function row(label, ...value) {
    return el("div", { class: "dl-row" }, el("dt", null, label), el("dd", null, ...value));
  }

  function copyButton(text) {
    return el("button", {
      type: "button", class: "btn btn-small",
      on: { click: async () => { if (await GB.copyText(text)) GB.toast(t("sess.copied"), "ok"); } },
    }, t("common.copy"));
  }

  function renderDetail() {
    const d = detail;
    const cancelled = d.status === "cancelled";
    const canWrite = GB.hasRole(who, WRITERS) && !cancelled;
    const badges = [el("span", { class: ["badge", cancelled ? "badge-danger" : "badge-ok"] },
      t(cancelled ? "sess.d.cancelled" : "sess.d.scheduled"))];
    if (d.series) badges.push(el("span", { class: "badge badge-info" }, t("sess.d.series")));
    if (d.overridden) badges.push(el("span", { class: "badge badge-warn" }, t("sess.d.override")));
    if (d.classified) badges.push(el("span", { class: "badge badge-warn" }, t("sess.d.classified")));
    if (d.record_auto) badges.push(el("span", { class: "badge badge-info" }, t("sess.d.record")));
    const time = d.starts_at ? `${GB.fmtLongDate(d.starts_at)} ${hhmm(d.starts_at)}–${hhmm(d.ends_at)}` : t("sess.d.none");
    const agenda = d.agenda.length
      ? el("ol", null, ...d.agenda.map((a) => el("li", null, a.title, a.presenter ? el("span", { class: "muted" }, ` – ${a.presenter}`) : null)))
      : t("sess.d.none");
    const siteRows = d.sites.map((s) => el("tr", null,
      el("td", null, s.name, s.site_id === d.host_site_id ? el("span", { class: "badge badge-host" }, t("sess.f.host")) : null),
      el("td", null, s.unit_name),
      el("td", null, t(s.required ? "sess.f.required" : "sess.f.optional"))));
    const series = d.series ? row(t("sess.d.rule"), ruleText(d.series.rrule), " – ",
      t("sess.d.occurrences", { n: d.series.occurrences.length, c: d.series.occurrences.filter((o) => o.status === "cancelled").length })) : null;
    const feeds = el("ul", { class: "feed-list" }, ...d.site_feeds.map((f) => {
      const name = (d.sites.find((s) => s.site_id === f.site_id) || {}).name || f.site_id;
      return el("li", null, el("span", null, name), " ", copyButton(f.url));
    }));
    const actions = [];
    if (canWrite) {
      const scope = d.series ? el("select", { id: "cancel-scope", "aria-label": t("sess.scope") },
        ...["this", "following", "series"].map((s) => el("option", { value: s }, t(`sess.scope.${s}`)))) : null;
      const cancelBtn = el("button", { type: "button", class: "btn btn-danger" }, t("sess.a.cancel"));
      GB.confirmClick(cancelBtn, () => cancelSession(scope ? scope.value : "this"));
      actions.push(el("button", { type: "button", class: "btn btn-primary", on: { click: () => openForm(d) } }, t("sess.a.edit")), scope, cancelBtn);
    }
    GB.clear($("detail")).append(
      el("h1", null, d.title), el("p", { class: "badge-row" }, ...badges),
      el("dl", { class: "dl" },
        row(t("sess.d.time"), time),
        row(t("sess.d.host"), d.host_name),
        row(t("sess.d.chair"), d.chair || t("sess.d.none")),
        row(t("sess.d.agenda"), agenda),
        series,
        row(t("sess.d.calendar"), el("a", { href: d.calendar_url.replace(/^https?:\/\/[^/]+/, "") }, t("sess.d.ics")))),
      el("h2", null, t("sess.d.sites")),
      el("p", { class: "btn-row" }, el("a", { class: "btn", href: `/app/board?session=${encodeURIComponent(d.id)}` }, t("sess.d.board")),
        el("a", { class: "btn", href: `/app/rollcall?session=${encodeURIComponent(d.id)}` }, t("sess.d.rollcall")),
        el("a", { class: "btn", href: `/app/console?session=${encodeURIComponent(d.id)}` }, t("sess.d.console"))),
      el("div", { class: "table-wrap" }, el("table", { class: "data" },
        el("thead", null, el("tr", null, el("th", null, t("sess.c.site")), el("th", null, t("sess.d.unit")), el("th", null, ""))),
        el("tbody", null, ...siteRows))),
      el("h2", null, t("sess.d.feed")), feeds,
      el("div", { class: "form-actions" }, ...actions.filter(Boolean)));
    $("detail").hidden = false;
    document.title = `${d.title} – ${t("app.name")}`;
    // session-recording.js adds the recording controls below.
    window.dispatchEvent(new CustomEvent("gb:session-detail", { detail: { session: d, who } }));
  }

  async function loadDetail(id) {
    detail = await GB.api("GET", `/api/sessions/${encodeURIComponent(id)}`);
    renderDetail();
  }

  async function cancelSession(scope) {
    const r = await send("POST", `/api/sessions/${encodeURIComponent(detail.id)}/cancel`, { scope });
    if (r.status === 200) {
      detail = r.data;
      GB.toast(t("sess.cancelledOk"), "ok");
      renderDetail();
    } else {
      GB.toast((r.data && r.data.message) || `HTTP ${r.status}`, "error");
    }
  }

  // ------------------------------------------------------------------ form

  function agendaRow(item) {
    const li = el("li", { class: "agenda-row" },
      el("input", { class: "a-title", maxlength: 500, value: item.title || "", "aria-label": t("sess.f.item"), placeholder: t("sess.f.item") }),
      el("input", { class: "a-presenter", maxlength: 200, value: item.presenter || "", "aria-label": t("sess.f.presenter"), placeholder: t("sess.f.presenter") }),
      el("button", { type: "button", class: "btn btn-small", on: { click: () => li.remove() } }, t("sess.f.remove")));
    return li;
  }

  // The day the form's date field names ("yyyy-mm-dd"), or null while it is malformed.
  function formDay() {
    return GB.parseDate($("f-date").value);
  }

  // Whether a site's unit exists on `day` (a unit past its validity, e.g. merged away, is not
  // offered for that date). Dates are "yyyy-mm-dd", so they compare as text.
  function validOn(s, day) {
    return !day || (s.valid_from <= day && (!s.valid_to || s.valid_to >= day));
  }

  function renderHosts(selected) {
    const day = formDay();
    const hosts = GB.sortVi(sites.filter((s) => validOn(s, day) || s.id === selected), (s) => `${s.is_host ? 0 : 1}${s.name}`);
    GB.clear($("f-host")).append(...hosts.map((s) => el("option", { value: s.id, selected: s.id === selected }, s.name)));
  }

  function renderPicker() {
    const filter = $("site-filter").value.trim().toLowerCase();
    const day = formDay();
    const units = new Map();
    for (const s of sites) {
      if (!validOn(s, day) && !picked.has(s.id)) continue;
      if (filter && !`${s.name} ${s.unit_name}`.toLowerCase().includes(filter)) continue;
      if (!units.has(s.unit_id)) units.set(s.unit_id, { name: s.unit_name, sites: [] });
      units.get(s.unit_id).sites.push(s);
    }
    const boxes = GB.sortVi([...units.values()], (u) => u.name).map((u) => {
      const all = el("button", { type: "button", class: "btn-link small", on: { click: () => {
        u.sites.forEach((s) => { if (!picked.has(s.id)) picked.set(s.id, true); });
        renderPicker();
      } } }, t("sess.f.allUnit"));
      return el("div", { class: "unit-box picker-unit" },
        el("div", { class: "unit-head" }, el("strong", null, u.name), all),
        el("ul", { class: "picker-sites" }, ...u.sites.map((s) => {
          const box = el("input", { type: "checkbox", checked: picked.has(s.id), on: { change: (e) => {
            if (e.target.checked) picked.set(s.id, req.value === "1"); else picked.delete(s.id);
            req.disabled = !e.target.checked;
            $("site-count").textContent = t("sess.f.selected", { n: picked.size });
          } } });
          const req = el("select", { disabled: !picked.has(s.id), "aria-label": s.name, on: { change: (e) => picked.set(s.id, e.target.value === "1") } },
            el("option", { value: "1", selected: picked.get(s.id) !== false }, t("sess.f.required")),
            el("option", { value: "0", selected: picked.get(s.id) === false }, t("sess.f.optional")));
          return el("li", { class: "picker-site" }, el("label", { class: "check" }, box, el("span", null, s.name)), req);
        })));
    });
    GB.clear($("site-picker")).append(...boxes);
    $("site-count").textContent = t("sess.f.selected", { n: picked.size });
  }

  function renderWeekdays(selected) {
    const names = t("sess.days").split("|");
    GB.clear($("weekdays")).append(...DAYS.map((code, i) => el("label", { class: "check" },
      el("input", { type: "checkbox", value: code, checked: selected.includes(code) }), names[i])));
  }

  function openForm(d) {
    $("form-title").textContent = t(d ? "sess.edit" : "sess.new");
    $("scope-box").hidden = !(d && d.series);
    $("f-title").value = d ? d.title : "";
    const day = d && d.starts_at ? localDay(d.starts_at) : (new URLSearchParams(window.location.search).get("date") || GB.today());
    $("f-date").value = GB.fmtDate(day);
    $("f-start").value = d && d.starts_at ? hhmm(d.starts_at) : "08:00";
    $("f-end").value = d && d.ends_at ? hhmm(d.ends_at) : "10:00";
    $("f-chair").value = d ? d.chair : "";
    $("f-classified").checked = !!(d && d.classified);
    $("f-record").checked = !!(d && d.record_auto);
    $("record-hint").hidden = true;
    renderHosts(d ? d.host_site_id : null);
    GB.clear($("agenda-list")).append(...(d ? d.agenda : [{}]).map(agendaRow));
    picked.clear();
    if (d) d.sites.forEach((s) => { if (s.site_id !== d.host_site_id) picked.set(s.site_id, s.required); });
    renderPicker();
    const rule = d && d.series ? d.series.rrule : "";
    $("repeat-box").hidden = !!(d && !d.series);
    $("f-weekly").checked = !!rule;
    $("repeat-detail").hidden = !rule;
    const byday = /BYDAY=([A-Z,]+)/.exec(rule);
    renderWeekdays(byday ? byday[1].split(",") : [DAYS[weekdayIndex(day)]]);
    const count = /COUNT=(\d+)/.exec(rule);
    const until = /UNTIL=(\d{4})(\d{2})(\d{2})/.exec(rule);
    $("f-end-count").checked = !!count;
    $("f-end-until").checked = !count;
    if (count) $("f-count").value = count[1];
    $("f-until").value = until ? `${until[3]}/${until[2]}/${until[1]}` : "";
    $("form-error").hidden = true;
    $("conflict-box").hidden = true;
    $("detail").hidden = true;
    $("editor").hidden = false;
    $("f-title").focus();
  }

  function fail(message, field) {
    $("form-error").textContent = message;
    $("form-error").hidden = false;
    document.querySelectorAll(".is-invalid").forEach((n) => n.classList.remove("is-invalid"));
    const input = field && document.querySelector(`[name="${field}"]`);
    if (input) { input.classList.add("is-invalid"); input.focus(); }
  }

  // The request from the form; null (with the error shown) when a field is malformed.
  function collect() {
    const day = GB.parseDate($("f-date").value);
    if (!day) return fail(t("sess.bad.date"), "starts_at");
    const start = parseTime($("f-start").value);
    const end = parseTime($("f-end").value);
    if (!start || !end) return fail(t("sess.bad.time"), "ends_at");
    const host = $("f-host").value;
    const body = {
      title: $("f-title").value.trim(),
      host_site_id: host,
      sites: [...picked].filter(([id]) => id !== host).map(([site_id, required]) => ({ site_id, required })),
      starts_at: instant(day, start),
      ends_at: instant(day, end),
      agenda: [...document.querySelectorAll(".agenda-row")]
        .map((r) => ({ title: r.querySelector(".a-title").value.trim(), presenter: r.querySelector(".a-presenter").value.trim() }))
        .filter((a) => a.title),
      chair: $("f-chair").value.trim(),
      classified: $("f-classified").checked,
      record_auto: $("f-record").checked,
    };
    // Both ticked: say so and keep both as the user left them (never untick one silently).
    if (body.classified && body.record_auto) return fail(t("sess.err.record_auto"), "record_auto");
    if ($("f-weekly").checked && !$("repeat-box").hidden) {
      const days = [...document.querySelectorAll("#weekdays input:checked")].map((i) => i.value);
      // The first session is on the start date: its weekday is always one of the days.
      const first = DAYS[weekdayIndex(day)];
      if (!days.includes(first)) days.push(first);
      days.sort((a, b) => DAYS.indexOf(a) - DAYS.indexOf(b));
      let rule = `FREQ=WEEKLY${days.length ? `;BYDAY=${days.join(",")}` : ""}`;
      if ($("f-end-count").checked) rule += `;COUNT=${Number($("f-count").value) || 1}`;
      else {
        const until = GB.parseDate($("f-until").value);
        if (!until) return fail(t("sess.bad.until"), "rrule");
        rule += `;UNTIL=${until.replaceAll("-", "")}`;
      }
      body.rrule = rule;
    }
    return body;
  }

  // For an edit: only what changed (a series edit applies the fields it names).
  function changes(body) {
    const d = detail;
    const out = { scope: $("f-scope").value };
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    for (const k of ["title", "host_site_id", "chair", "classified", "record_auto"]) if (!same(body[k], d[k])) out[k] = body[k];
    if (!same(body.agenda, d.agenda)) out.agenda = body.agenda;
    const before = d.sites.filter((s) => s.site_id !== d.host_site_id).map((s) => ({ site_id: s.site_id, required: s.required }));
    const key = (l) => JSON.stringify(l.slice().sort((a, b) => (a.site_id < b.site_id ? -1 : 1)));
    if (key(before) !== key(body.sites) || out.host_site_id) out.sites = body.sites;
    if (new Date(body.starts_at).getTime() !== new Date(d.starts_at).getTime()) out.starts_at = body.starts_at;
    if (new Date(body.ends_at).getTime() !== new Date(d.ends_at).getTime()) out.ends_at = body.ends_at;
    if (body.rrule && d.series && body.rrule !== d.series.rrule && out.scope !== "this") out.rrule = body.rrule;
    return out;
  }

  function showConflict(report) {
    $("conflict-message").textContent = GB.lang === "en" ? report.message_en : report.message;
    GB.clear($("conflict-rows")).append(...report.conflicts.map((c) => el("tr", null,
      el("td", null, c.site_name),
      el("td", null, el("a", { href: `/app/session?id=${encodeURIComponent(c.session_id)}` }, c.title)),
      el("td", { class: "nowrap" }, `${GB.fmtDateTime(c.starts_at)}–${hhmm(c.ends_at)}`))));
    if (report.total > report.conflicts.length) {
      $("conflict-rows").append(el("tr", null, el("td", { colspan: 3 }, t("sess.c.more", { n: report.total - report.conflicts.length }))));
    }
    $("conflict-box").hidden = false;
    $("conflict-box").scrollIntoView({ block: "nearest" });
  }

  async function submit(e) {
    e.preventDefault();
    $("form-error").hidden = true;
    delete $("form-error").dataset.kind;
    $("conflict-box").hidden = true;
    const body = collect();
    if (!body) return;
    if (!detail && !pastConfirmed && new Date(body.starts_at) < new Date()) {
      pastConfirmed = true;
      $("form-error").textContent = t("sess.warn.past");
      $("form-error").hidden = false;
      $("form-error").dataset.kind = "past";
      return;
    }
    const r = detail
      ? await send("PATCH", `/api/sessions/${encodeURIComponent(detail.id)}`, changes(body))
      : await send("POST", "/api/sessions", body);
    if (r.status === 200 || r.status === 201) {
      GB.toast(t("sess.saved"), "ok");
      const id = detail ? detail.id : r.data.session_id;
      window.location.assign(`/app/session?id=${encodeURIComponent(id)}`);
    } else if (r.status === 409 && r.data && r.data.conflicts) {
      showConflict(r.data);
    } else {
      const data = r.data || {};
      const key = `sess.err.${data.field || data.code}`;
      // Only text in the page's language: the server's (English) message is shown in English only.
      let text;
      if (GB.has(key)) text = t(key);
      else if (r.status === 422) text = t("sess.err.generic", { field: data.field || "?" });
      else if (GB.lang === "en") text = data.message || `HTTP ${r.status}`;
      else text = GB.errorText(new GB.ApiError(r.status, data.code || `http_${r.status}`, data.message || ""));
      fail(text, data.field);
    }
  }

  GB.page({ nav: "calendar", title: "sess.title" }, async (me) => {
    who = me;
    const id = new URLSearchParams(window.location.search).get("id");
    $("session-form").addEventListener("submit", submit);
    $("agenda-add").addEventListener("click", () => $("agenda-list").append(agendaRow({})));
    $("site-filter").addEventListener("input", renderPicker);
    $("f-weekly").addEventListener("change", () => { $("repeat-detail").hidden = !$("f-weekly").checked; });
    // A new start date proposes its own weekday (the others can be added).
    $("f-start").addEventListener("change", () => { pastConfirmed = false; });
    $("f-date").addEventListener("change", () => {
      pastConfirmed = false;
      renderHosts($("f-host").value);
      renderPicker();
      const day = GB.parseDate($("f-date").value);
      if (day) renderWeekdays([DAYS[weekdayIndex(day)]]);
    });
    // A classified session is never recorded: the form shows it beside the boxes, live.
    const recordHint = () => { $("record-hint").hidden = !($("f-classified").checked && $("f-record").checked); };
    $("f-classified").addEventListener("change", recordHint);
    $("f-record").addEventListener("change", recordHint);
    $("form-cancel").addEventListener("click", () => {
      if (detail) { $("editor").hidden = true; renderDetail(); } else window.location.assign("/app/calendar");
    });
    if (GB.hasRole(who, WRITERS)) sites = (await GB.api("GET", "/api/sites")) || [];
    if (id) await loadDetail(id);
    else if (GB.hasRole(who, WRITERS)) openForm(null);
    else {
      $("detail").append(el("p", { class: "notice notice-warn" }, t("err.forbidden")));
      $("detail").hidden = false;
    }
    window.addEventListener("gb:langchange", () => { if (detail && !$("detail").hidden) renderDetail(); });
  });
})();
