// common.js — the shared shell of the secretariat pages (/login and /app/*), included after
// /static/app/i18n-app.js and before the page's own script. Owns window.GB: the JSON API client
// (CSRF header, redirect to /login on 401, errors with code/message and their localized text), the
// cached current user and role checks, the top navigation bar in <header id="gb-nav">, the
// language (localStorage "giaoban.lang", shared with the room page), dates in Asia/Ho_Chi_Minh
// (dd/mm/yyyy, 24-hour), Vietnamese sorting, toasts, two-step confirmation and the GB.el DOM
// helper (text only: never innerHTML with data). Nothing here is page specific.
"use strict";

(function () {
  const LANG_KEY = "giaoban.lang";
  const TIME_ZONE = "Asia/Ho_Chi_Minh";
  const CSRF_COOKIE = "giaoban_csrf";
  const STRINGS_SRC = "/static/app/i18n-app.js";

  // Every role, in the order they are listed to people.
  const ROLES = ["admin", "secretariat", "operator", "site_operator", "chair", "reviewer", "auditor"];

  // The navigation entries and who sees them (null: everyone logged in). The org roles are the
  // readers of GET /api/units.
  const NAV = [
    { id: "home", href: "/app/home", key: "nav.home", roles: null },
    { id: "calendar", href: "/app/calendar", key: "nav.calendar",
      roles: ["admin", "secretariat", "operator", "chair", "site_operator"] },
    { id: "org", href: "/app/org", key: "nav.org", roles: ["admin", "secretariat", "operator", "chair", "auditor"] },
    { id: "users", href: "/app/users", key: "nav.users", roles: ["admin"] },
    { id: "audit", href: "/app/audit", key: "nav.audit", roles: ["auditor", "admin"] },
    { id: "review", href: "/app/review", key: "nav.review", roles: ["admin", "secretariat", "operator", "chair", "reviewer"] },
  ];

  // ------------------------------------------------------------------ language

  function storedLang() {
    try {
      const v = window.localStorage.getItem(LANG_KEY);
      return v === "en" ? "en" : "vi";
    } catch (_) {
      return "vi";
    }
  }

  let lang = storedLang();

  function strings() {
    return window.GB_STRINGS || {};
  }

  // Translates `key` with {name} placeholders from `params`; falls back to Vietnamese, then the key.
  function t(key, params) {
    const S = strings();
    let s = (S[lang] && S[lang][key]) ?? (S.vi && S.vi[key]) ?? key;
    if (params) {
      s = s.replace(/\{(\w+)\}/g, (m, name) =>
        params[name] !== undefined && params[name] !== null ? String(params[name]) : m);
    }
    return s;
  }

  function has(key) {
    const S = strings();
    return !!(S.vi && Object.prototype.hasOwnProperty.call(S.vi, key));
  }

  // Adds page strings: { vi: {...}, en: {...} } (later keys win).
  function addStrings(dict) {
    const S = (window.GB_STRINGS = window.GB_STRINGS || { vi: {}, en: {} });
    for (const l of Object.keys(dict)) S[l] = Object.assign(S[l] || {}, dict[l]);
  }

  // Fills data-i18n (text), data-i18n-aria, data-i18n-title and data-i18n-placeholder under root.
  function applyI18n(root) {
    const r = root || document;
    document.documentElement.lang = lang;
    r.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
    r.querySelectorAll("[data-i18n-aria]").forEach((n) => { n.setAttribute("aria-label", t(n.dataset.i18nAria)); });
    r.querySelectorAll("[data-i18n-title]").forEach((n) => { n.title = t(n.dataset.i18nTitle); });
    r.querySelectorAll("[data-i18n-placeholder]").forEach((n) => { n.placeholder = t(n.dataset.i18nPlaceholder); });
  }

  function setLang(l) {
    if ((l !== "vi" && l !== "en") || l === lang) return;
    lang = l;
    try { window.localStorage.setItem(LANG_KEY, l); } catch (_) { /* private mode */ }
    applyI18n(document);
    // Keep the room page's i18n.js in step when a page loads both.
    if (window.i18n && window.i18n.lang !== l && typeof window.i18n.setLang === "function") window.i18n.setLang(l);
    window.dispatchEvent(new CustomEvent("gb:langchange", { detail: { lang: l } }));
  }

  window.addEventListener("langchange", (e) => { if (e.detail && e.detail.lang) setLang(e.detail.lang); });

  // The dictionary is normally loaded by its own <script>; load it if a page forgot.
  // The page is ready once DOMContentLoaded fired, which is after every deferred script ran: a
  // page's own script (which applies the translations) must not start before the scripts loaded
  // after it (its panels) have added their strings, or the page shows their raw keys meanwhile.
  // Deferred, this script runs while the document is already "interactive" but before that event.
  const loadedScript = document.currentScript;
  const domLoaded = document.readyState === "loading" ||
      (document.readyState === "interactive" && loadedScript && loadedScript.defer)
    ? new Promise((r) => document.addEventListener("DOMContentLoaded", () => r(), { once: true }))
    : Promise.resolve();
  function domReady() {
    return domLoaded;
  }

  async function ready() {
    await domReady();
    toastHost(); // an existing live region, so the first toast is announced too
    if (has("app.name")) return;
    await new Promise((resolve) => {
      const s = document.createElement("script");
      s.src = STRINGS_SRC;
      s.addEventListener("load", resolve);
      s.addEventListener("error", resolve);
      document.head.append(s);
    });
  }

  // ------------------------------------------------------------------ dates (Asia/Ho_Chi_Minh)

  const partsFmt = new Intl.DateTimeFormat("vi-VN", {
    timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

  function toDate(value) {
    if (value === null || value === undefined || value === "") return null;
    const d = value instanceof Date ? value : new Date(value);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function zoned(d) {
    const p = {};
    for (const part of partsFmt.formatToParts(d)) p[part.type] = part.value;
    if (p.hour === "24") p.hour = "00";
    return p;
  }

  // "dd/mm/yyyy". A plain "yyyy-mm-dd" (a calendar date) is reformatted, never shifted.
  function fmtDate(value) {
    const m = typeof value === "string" ? ISO_DATE.exec(value) : null;
    if (m) return `${m[3]}/${m[2]}/${m[1]}`;
    const d = toDate(value);
    if (!d) return "";
    const p = zoned(d);
    return `${p.day}/${p.month}/${p.year}`;
  }

  // "dd/mm/yyyy HH:mm" (or with ":ss" when `seconds`), 24-hour, in Asia/Ho_Chi_Minh.
  function fmtDateTime(value, seconds) {
    const d = toDate(value);
    if (!d) return "";
    const p = zoned(d);
    const time = seconds ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
    return `${p.day}/${p.month}/${p.year} ${time}`;
  }

  // "Thứ Hai, 24/11/2025" / "Monday, 24/11/2025".
  function fmtLongDate(value) {
    const d = toDate(value) || new Date();
    const weekday = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "vi-VN", { timeZone: TIME_ZONE, weekday: "long" }).format(d);
    const w = weekday.charAt(0).toUpperCase() + weekday.slice(1);
    return `${w}, ${fmtDate(d)}`;
  }

  // Today in Asia/Ho_Chi_Minh as "yyyy-mm-dd" (comparable with the API's calendar dates).
  function today() {
    const p = zoned(new Date());
    return `${p.year}-${p.month}-${p.day}`;
  }

  // "dd/mm/yyyy" (or "d/m/yyyy", or "yyyy-mm-dd") → "yyyy-mm-dd"; null when not a real date.
  function parseDate(text) {
    const s = String(text || "").trim();
    let y, mo, d;
    let m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(s);
    if (m) { d = +m[1]; mo = +m[2]; y = +m[3]; } else if ((m = ISO_DATE.exec(s))) { y = +m[1]; mo = +m[2]; d = +m[3]; } else return null;
    const probe = new Date(Date.UTC(y, mo - 1, d));
    if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d) return null;
    return `${String(y).padStart(4, "0")}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
  }

  // "yyyy-mm-dd" + n days.
  function addDays(iso, n) {
    const m = ISO_DATE.exec(iso);
    const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3] + n));
    return d.toISOString().slice(0, 10);
  }

  // The instant a calendar day starts in Asia/Ho_Chi_Minh (UTC+7 all year, no DST), RFC 3339.
  function dayStart(iso) {
    return `${iso}T00:00:00+07:00`;
  }

  // ------------------------------------------------------------------ text helpers

  const collator = new Intl.Collator("vi");
  function compareVi(a, b) {
    return collator.compare(String(a ?? ""), String(b ?? ""));
  }
  function sortVi(list, key) {
    const k = key || ((x) => x);
    return list.slice().sort((a, b) => compareVi(k(a), k(b)));
  }

  // "Ủy ban nhân dân Phường Đống Đa" → "uy-ban-nhan-dan-phuong-dong-da" (ids: a-z, 0-9, '-', ≤ 64).
  function slugify(text) {
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[đĐ]/g, "d").toLowerCase().replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "").slice(0, 64).replace(/-+$/, "");
  }

  function compactJson(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "object" && Object.keys(value).length === 0) return "";
    try { return JSON.stringify(value); } catch (_) { return String(value); }
  }

  // ------------------------------------------------------------------ DOM

  const PROPS = new Set(["value", "checked", "selected", "indeterminate"]);
  const FORBIDDEN = new Set(["style", "innerHTML", "outerHTML", "srcdoc"]);

  function appendChildren(node, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) appendChildren(node, c);
      else if (c instanceof Node) node.append(c);
      else node.append(document.createTextNode(String(c)));
    }
    return node;
  }

  // el("button", {class: "btn", type: "button", on: {click: fn}, "aria-label": "…"}, "Text", child…)
  // Strings become text nodes; `text` sets textContent; `dataset` sets data-*; null/undefined/false
  // attributes are left out (aria-* keep "false"). Inline styles and event attributes are refused.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (FORBIDDEN.has(k) || /^on[a-z]/.test(k)) throw new Error(`GB.el: attribute "${k}" is not allowed`);
      if (v === null || v === undefined || (v === false && !k.startsWith("aria-"))) continue;
      if (k === "class") node.className = Array.isArray(v) ? v.filter(Boolean).join(" ") : v;
      else if (k === "text") node.textContent = String(v);
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (PROPS.has(k)) node[k] = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    return appendChildren(node, children);
  }

  function clear(node) {
    node.replaceChildren();
    return node;
  }

  function $(id) {
    return document.getElementById(id);
  }

  // ------------------------------------------------------------------ toasts

  function toastHost() {
    let host = $("gb-toasts");
    if (!host) {
      host = el("div", { id: "gb-toasts", class: "gb-toasts", "aria-live": "polite" });
      document.body.append(host);
    }
    return host;
  }

  // kind: "info" | "success" | "warn" | "error". Errors stay longer and are announced assertively.
  function toast(message, kind) {
    const k = kind || "info";
    const close = el("button", { type: "button", class: "gb-toast-close", "aria-label": t("common.close") }, "×");
    const node = el("div", { class: `gb-toast gb-toast-${k}`, role: k === "error" ? "alert" : null },
      el("span", { class: "gb-toast-text" }, message), close);
    const remove = () => node.remove();
    close.addEventListener("click", remove);
    toastHost().append(node);
    setTimeout(remove, k === "error" ? 10000 : 5000);
    return node;
  }

  // A destructive button asks for a second click (within 4 s) instead of a modal dialog.
  function confirmClick(button, run) {
    const label = button.textContent;
    let timer = null;
    button.addEventListener("click", () => {
      if (!button.classList.contains("is-armed")) {
        button.classList.add("is-armed");
        button.textContent = t("common.confirmAgain", { action: label });
        timer = setTimeout(() => { button.classList.remove("is-armed"); button.textContent = label; }, 4000);
        return;
      }
      clearTimeout(timer);
      button.classList.remove("is-armed");
      button.textContent = label;
      run();
    });
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_) {
      const area = el("textarea", { class: "visually-hidden", readonly: true, value: text });
      document.body.append(area);
      area.select();
      let ok = false;
      try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
      area.remove();
      return ok;
    }
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || code);
      this.name = "ApiError";
      this.status = status;
      this.code = code;
    }
  }

  function csrfToken() {
    for (const part of document.cookie.split(";")) {
      const i = part.indexOf("=");
      if (i > 0 && part.slice(0, i).trim() === CSRF_COOKIE) return decodeURIComponent(part.slice(i + 1).trim());
    }
    return "";
  }

  function toLogin() {
    const next = window.location.pathname + window.location.search;
    window.location.assign(`/login?next=${encodeURIComponent(next)}`);
  }

  // "?a=1&b=2" from an object, leaving out empty values.
  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
    }
    const s = q.toString();
    return s ? `?${s}` : "";
  }

  // Fetches JSON. Resolves with the parsed body (null for 204). On 401 it goes to /login (and never
  // resolves) unless opts.noRedirect; otherwise rejects with an ApiError {status, code, message}
  // ("network" when the server cannot be reached).
  async function api(method, path, body, opts) {
    const o = opts || {};
    const m = String(method || "GET").toUpperCase();
    const headers = { Accept: "application/json" };
    const init = { method: m, headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined && body !== null) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (m !== "GET" && m !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "network", String((e && e.message) || e));
    }
    if (res.status === 401 && !o.noRedirect) {
      toLogin();
      return new Promise(() => {});
    }
    const text = await res.text().catch(() => "");
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (!res.ok) {
      const code = (data && data.code) || `http_${res.status}`;
      throw new ApiError(res.status, code, (data && data.message) || text || res.statusText);
    }
    return data;
  }

  // Known server messages (code "invalid"/"conflict") → string keys; {x} is the captured name.
  const MESSAGE_PATTERNS = [
    [/^username:/, "invalid.username"],
    [/^display_name:/, "invalid.display_name"],
    [/^password:/, "invalid.password"],
    [/^grants: give between/, "invalid.grants.count"],
    [/^grants: a site operator/, "invalid.grants.siteOperator"],
    [/^grants: scope a grant/, "invalid.grants.both"],
    [/^grants: unknown site (\S+)/, "invalid.grants.unknownSite"],
    [/^grants: unknown unit (\S+)/, "invalid.grants.unknownUnit"],
    [/^id:/, "invalid.id"],
    [/^name:/, "invalid.name"],
    [/^kind:/, "invalid.kind"],
    [/^label:/, "invalid.label"],
    [/^valid_to: before/, "invalid.valid_to"],
    [/^parent_id: a unit cannot be its own ancestor/, "invalid.parent.cycle"],
    [/^parent_id: unknown unit (\S+)/, "invalid.parent.unknown"],
    [/^parent_id:/, "invalid.parent.deep"],
    [/^unit_id: unknown unit (\S+)/, "invalid.unit_id"],
    [/^user (\S+) exists already/, "conflict.user"],
    [/^unit (\S+) exists already/, "conflict.unit"],
  ];

  // A sentence for people, in the current language, for any error thrown by GB.api (or other).
  function errorText(err) {
    if (!(err instanceof ApiError)) return t("err.unexpected", { message: String((err && err.message) || err) });
    if (err.code === "invalid" || err.code === "conflict") {
      for (const [re, key] of MESSAGE_PATTERNS) {
        const m = re.exec(err.message || "");
        if (m) return t(key, { x: m[1] || "" });
      }
    }
    if (has(`err.${err.code}`)) return t(`err.${err.code}`, { message: err.message, status: err.status });
    return t("err.other", { code: err.code, message: err.message });
  }

  // The request field an "invalid" error names ("username: …" → "username"), or null.
  function errorField(err) {
    if (!(err instanceof ApiError) || err.code !== "invalid") return null;
    const m = /^([a-z_]+):/.exec(err.message || "");
    return m ? m[1] : null;
  }

  // ------------------------------------------------------------------ who is logged in

  let mePromise = null;

  // GET /api/me, once per page (opts.refresh to reload; opts.noRedirect to get a 401 as an error).
  function me(opts) {
    const o = opts || {};
    if (!mePromise || o.refresh || o.noRedirect) {
      const p = api("GET", "/api/me", undefined, { noRedirect: !!o.noRedirect });
      if (o.noRedirect) return p;
      mePromise = p;
      p.catch(() => { mePromise = null; });
    }
    return mePromise;
  }

  function rolesOf(who) {
    return new Set(((who && who.grants) || []).map((g) => g.role));
  }

  function hasRole(who, roles) {
    const mine = rolesOf(who);
    return roles.some((r) => mine.has(r));
  }

  function roleLabel(role) {
    return has(`role.${role}`) ? t(`role.${role}`) : role;
  }

  // "Cán bộ kỹ thuật điểm cầu (Điểm cầu: Phòng họp Sở Nội vụ)"; names maps ids to names.
  function grantLabel(g, names) {
    const n = names || {};
    if (g.site_id) return t("grant.site", { role: roleLabel(g.role), name: (n.sites && n.sites[g.site_id]) || g.site_id });
    if (g.unit_id) return t("grant.unit", { role: roleLabel(g.role), name: (n.units && n.units[g.unit_id]) || g.unit_id });
    return roleLabel(g.role);
  }

  function sortGrants(grants) {
    return (grants || []).slice().sort((a, b) => ROLES.indexOf(a.role) - ROLES.indexOf(b.role));
  }

  function navFor(who) {
    return NAV.filter((n) => !n.roles || hasRole(who, n.roles));
  }

  async function logout() {
    try { await api("POST", "/api/logout", undefined, { noRedirect: true }); } catch (_) { /* gone already */ }
    mePromise = null;
    window.location.assign("/login");
  }

  // ------------------------------------------------------------------ the shell

  function renderNav(who, active) {
    const host = $("gb-nav");
    if (!host) return;
    host.classList.add("gb-nav");
    const name = who.identity.display_name || who.identity.username || who.identity.label || "";
    const roles = sortGrants(who.grants).map((g) => roleLabel(g.role));
    const otherLang = lang === "vi" ? "en" : "vi";
    const langBtn = el("button", {
      type: "button", class: "btn btn-ghost btn-small", lang: otherLang,
      "aria-label": t("lang.switchAria"), on: { click: () => setLang(otherLang) },
    }, t("lang.switch"));
    const outBtn = el("button", { type: "button", class: "btn btn-ghost btn-small", on: { click: logout } }, t("nav.logout"));
    host.replaceChildren(
      el("a", { class: "gb-brand", href: "/app/home" },
        el("span", { class: "gb-brand-org" }, t("app.org")),
        el("span", { class: "gb-brand-name" }, t("app.name"))),
      el("nav", { class: "gb-menu", "aria-label": t("nav.aria") },
        el("ul", null, navFor(who).map((n) => el("li", null,
          el("a", { href: n.href, "aria-current": n.id === active ? "page" : null }, t(n.key)))))),
      el("div", { class: "gb-user" },
        el("span", { class: "gb-user-name", title: `${name}\n${[...new Set(roles)].join(", ")}` },
          el("span", { class: "visually-hidden" }, t("nav.signedInAs")), name),
        langBtn, outBtn));
  }

  function mainNode() {
    return document.querySelector("main") || document.body;
  }

  function showDenied(roles) {
    const names = roles.map(roleLabel).join(", ");
    clear(mainNode()).append(el("section", { class: "card notice notice-error", role: "alert" },
      el("h1", null, t("denied.title")),
      el("p", null, t("denied.text", { roles: names })),
      el("p", null, el("a", { href: "/app/home" }, t("denied.home")))));
  }

  function showFatal(err) {
    clear(mainNode()).append(el("section", { class: "card notice notice-error", role: "alert" },
      el("h1", null, t("fatal.title")), el("p", null, errorText(err))));
  }

  // Bootstraps a page: strings, language, current user (→ /login on 401), navigation, the role
  // check, then init(me). opts: { nav: "users", title: "users.title", roles: ["admin"] }.
  async function page(opts, init) {
    const o = opts || {};
    await ready();
    const setTitle = () => {
      document.title = o.title ? `${t(o.title)} – ${t("app.name")}` : t("app.name");
    };
    applyI18n(document);
    setTitle();
    let who;
    try {
      who = await me();
    } catch (e) {
      showFatal(e);
      return;
    }
    renderNav(who, o.nav);
    let denied = o.roles && !hasRole(who, o.roles);
    window.addEventListener("gb:langchange", () => {
      setTitle();
      renderNav(who, o.nav);
      if (denied) showDenied(o.roles);
    });
    if (denied) {
      showDenied(o.roles);
      return;
    }
    try {
      await init(who);
    } catch (e) {
      console.error(e);
      if (e instanceof ApiError && e.code === "forbidden") { denied = true; showDenied(o.roles || []); } else showFatal(e);
    }
  }

  window.GB = {
    ROLES, NAV, ApiError,
    api, query, me, rolesOf, hasRole, roleLabel, grantLabel, sortGrants, navFor, logout, toLogin,
    t, has, addStrings, applyI18n, setLang, ready, get lang() { return lang; },
    fmtDate, fmtDateTime, fmtLongDate, today, parseDate, addDays, dayStart,
    compareVi, sortVi, slugify, compactJson,
    el, clear, $, toast, confirmClick, copyText, errorText, errorField,
    page, renderNav,
  };
})();
