// agenda.js — the session's agenda on the room page (docs/protocol.md, "Agenda"): every site sees
// the item the session is on (`agenda_item`, also sent right after `joined`); the host site picks
// an item of the agenda and marks it current, or ends it (`set_agenda_item`). The agenda itself
// comes with the join information (/api/join/<token>: session.agenda). room.js owns the
// connection and calls in through the hooks it passes to create().
// Exposes window.GiaobanAgenda = { create }.
"use strict";

(function () {
  const i18n = window.i18n;
  const t = (key, params) => i18n.t(key, params);
  const $ = (id) => document.getElementById(id);

  function create(hooks) {
    // hooks: send(msg), isHost(), joined(), agenda() -> [{title, presenter}]
    let current = null; // {index, title, presenter, since, by} or null

    function onMessage(msg) {
      if (msg.type !== "agenda_item") return;
      current = msg.item || null;
      render();
    }

    function label(item) {
      const total = hooks.agenda().length;
      const text = t("agenda.item", { n: item.index + 1, total: total || item.index + 1, title: item.title });
      return item.presenter ? `${text} — ${item.presenter}` : text;
    }

    function render() {
      const bar = $("agenda-bar");
      if (!bar) return;
      const agenda = hooks.agenda();
      const host = hooks.isHost() && agenda.length > 0;
      bar.hidden = !hooks.joined() || (!current && !host);
      $("agenda-now").textContent = current ? label(current) : t("agenda.none");
      $("agenda-now").dataset.index = current ? String(current.index) : "";
      $("agenda-control").hidden = !host;
      if (!host) return;
      const select = $("agenda-select");
      if (select.options.length !== agenda.length) {
        select.replaceChildren(...agenda.map((a, i) => {
          const o = document.createElement("option");
          o.value = String(i);
          o.textContent = `${i + 1}. ${a.title}`;
          return o;
        }));
      }
      // Propose the next item once one is current.
      if (current && document.activeElement !== select) {
        select.value = String(Math.min(current.index + 1, agenda.length - 1));
      }
      $("agenda-clear").disabled = !current;
    }

    function wire() {
      $("agenda-set")?.addEventListener("click", () => {
        const index = Number($("agenda-select").value);
        if (Number.isInteger(index)) hooks.send({ type: "set_agenda_item", index });
      });
      $("agenda-clear")?.addEventListener("click", () => hooks.send({ type: "set_agenda_item", index: null }));
      window.addEventListener("langchange", render);
    }

    // A new connection starts with no item until the server says otherwise.
    function reset() {
      current = null;
      render();
    }

    wire();
    return { onMessage, render, reset, current: () => current };
  }

  window.GiaobanAgenda = { create };
})();
