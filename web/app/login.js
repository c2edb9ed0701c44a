// login.js — behaviour of /login (web/login.html): POST /api/login with username and password,
// localized errors (wrong credentials, network, server), then on to ?next=<path> when it is a path
// of this server (never another origin) or /app/home. Someone already logged in goes on at once.
"use strict";

(function () {
  const { t, $ } = window.GB;
  const DEFAULT_NEXT = "/app/home";

  let errorKey = "";
  let errorText = "";

  // Only a path on this origin; anything else (other hosts, javascript:, //host, and paths the
  // URL parser normalises into "//host", like "/.//host" or "/\\host") → home. The result always
  // starts with one "/" followed by something else, so no browser reads it as another host.
  function safeNext(raw) {
    if (!raw) return DEFAULT_NEXT;
    try {
      const u = new URL(raw, window.location.origin);
      if (u.origin !== window.location.origin || u.pathname === "/login") return DEFAULT_NEXT;
      const path = u.pathname + u.search + u.hash;
      if (!/^\/(?![\/\\])/.test(path)) return DEFAULT_NEXT;
      return path;
    } catch (_) {
      return DEFAULT_NEXT;
    }
  }

  // Where to go after login, as an absolute URL of this origin.
  function nextUrl() {
    return window.location.origin + safeNext(new URLSearchParams(window.location.search).get("next"));
  }

  function showError(key, text) {
    errorKey = key;
    errorText = text || "";
    $("login-error").textContent = key ? t(key) : errorText;
  }

  function markInvalid(fields) {
    for (const id of ["username", "password"]) {
      if (fields.includes(id)) $(id).setAttribute("aria-invalid", "true");
      else $(id).removeAttribute("aria-invalid");
    }
  }

  function setBusy(busy) {
    const btn = $("login-submit");
    btn.disabled = busy;
    btn.textContent = t(busy ? "login.busy" : "login.submit");
  }

  async function submit(ev) {
    ev.preventDefault();
    const username = $("username").value.trim();
    const password = $("password").value;
    if (!username || !password) {
      markInvalid([!username && "username", !password && "password"].filter(Boolean));
      showError("login.missing");
      $(username ? "password" : "username").focus();
      return;
    }
    markInvalid([]);
    showError("");
    setBusy(true);
    try {
      await window.GB.api("POST", "/api/login", { username, password }, { noRedirect: true });
      window.location.assign(nextUrl());
    } catch (e) {
      setBusy(false);
      if (e.code === "unauthorized") {
        markInvalid(["username", "password"]);
        showError("login.wrong");
        $("password").value = "";
        $("password").focus();
      } else if (e.code === "too_many_requests") {
        showError("login.tooMany");
      } else {
        showError("", window.GB.errorText(e));
      }
    }
  }

  function refreshLang() {
    document.title = `${t("login.title")} – ${t("app.name")}`;
    $("lang-switch").lang = window.GB.lang === "vi" ? "en" : "vi";
    if (errorKey) $("login-error").textContent = t(errorKey);
    $("login-info").textContent = t("login.needed");
    if (!$("login-submit").disabled) $("login-submit").textContent = t("login.submit");
  }

  async function init() {
    await window.GB.ready();
    window.GB.safeNext = safeNext; // read by the browser tests

    window.GB.applyI18n(document);
    $("lang-switch").addEventListener("click", () => window.GB.setLang(window.GB.lang === "vi" ? "en" : "vi"));
    window.addEventListener("gb:langchange", refreshLang);
    $("login-info").hidden = !new URLSearchParams(window.location.search).has("next");
    refreshLang();
    $("login-form").addEventListener("submit", submit);
    // Enabled only now: a submit before the script is ready must not post the form natively.
    $("login-submit").disabled = false;
    try {
      await window.GB.me({ noRedirect: true });
      window.location.replace(nextUrl());
      return;
    } catch (_) {
      // Not logged in: stay.
    }
    $("username").focus();
  }

  init();
})();
