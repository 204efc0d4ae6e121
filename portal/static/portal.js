// Portal's only script, and an enhancement only: every page works without it.
// Served from our own origin (the Content-Security-Policy allows nothing else).
"use strict";

// Focus what the page was drawn to say: an error summary after a refused form,
// or the message after a change (elements marked data-focus; the first wins), so
// that the eye and a screen reader start there.
document.addEventListener("DOMContentLoaded", () => {
  const target = document.querySelector("[data-focus]");
  if (target) {
    target.focus();
  }
});

// A link of the error summary to a field focuses the field, its label in view
// (GOV.UK's pattern): following "#id" alone scrolls to the field but leaves the
// focus on the link.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element
    ? event.target.closest(".error-summary a[href^='#']")
    : null;
  if (!link) {
    return;
  }
  const field = document.getElementById(link.getAttribute("href").slice(1));
  if (!field) {
    return;
  }
  event.preventDefault();
  const label = document.querySelector(`label[for="${CSS.escape(field.id)}"]`);
  (label || field).scrollIntoView();
  field.focus({ preventScroll: true });
});

// --- nav: the header's menus (the switcher, the account menu) ---------------------
// Both are <details data-menu>: they open and close without script. Here they also
// close on Escape (focus back on their toggle) and on a click outside them, and
// opening one closes the other, as menus do. Tabbing out leaves one open, as a
// <details> does (so a keyboard user can tab back into it).
(() => {
  const menus = () => Array.from(document.querySelectorAll("details[data-menu]"));
  const close = (menu, refocus) => {
    if (!menu.open) {
      return;
    }
    menu.open = false;
    if (refocus) {
      menu.querySelector("summary").focus();
    }
  };
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") {
      return;
    }
    for (const menu of menus()) {
      if (menu.open) {
        event.preventDefault();
        close(menu, true);
      }
    }
  });
  const outside = (event) => {
    for (const menu of menus()) {
      if (!menu.contains(event.target)) {
        close(menu, false);
      }
    }
  };
  document.addEventListener("click", outside);
  document.addEventListener("toggle", (event) => {
    const opened = event.target;
    if (opened instanceof HTMLDetailsElement && opened.open && opened.hasAttribute("data-menu")) {
      for (const menu of menus()) {
        if (menu !== opened) {
          close(menu, false);
        }
      }
    }
  }, true);
})();

// --- nav: the switcher's finder (past its first ten organizations) ----------------
// Without script the finder submits to the organization list's search. With it, the
// names found replace the switcher's list as one types: the list's own JSON (the
// same policy filter, the same search), the first ten, and "See all" leads to the
// whole result.
(() => {
  const input = document.querySelector("[data-switcher-filter]");
  if (!input || !window.fetch) {
    return;
  }
  const form = input.form;
  const panel = form.closest(".switcher-panel");
  const list = panel.querySelector(".switcher-list");
  const all = panel.querySelector(".switcher-all");
  const status = panel.querySelector(".switcher-status");
  if (!list || !all || !status) {
    return;
  }
  const shown = Array.from(list.children);
  const allHref = all.getAttribute("href");
  const allText = all.textContent;
  const current = list.querySelector("a[aria-current]");
  let asked = 0;
  let timer = null;
  const restore = () => {
    list.replaceChildren(...shown);
    all.setAttribute("href", allHref);
    all.textContent = allText;
    all.hidden = false;
    status.textContent = "";
  };
  const row = (org) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `${form.getAttribute("action")}/${org.id}`;
    link.textContent = org.name;
    if (current && current.getAttribute("href") === link.getAttribute("href")) {
      link.setAttribute("aria-current", "true");
      link.className = "switcher-current";
    }
    item.append(link);
    return item;
  };
  const find = async (term) => {
    const ask = ++asked;
    if (!term) {
      restore();
      return;
    }
    const url = new URL(form.getAttribute("action"), window.location.href);
    url.searchParams.set("q", term);
    let body = null;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      body = response.ok ? await response.json() : null;
    } catch {
      body = null;
    }
    if (ask !== asked || body === null) {
      return; // a newer search is on its way, or this one failed: Find still works
    }
    const total = body.paging.total;
    list.replaceChildren(...body.orgs.slice(0, 10).map(row));
    status.textContent = total === 0
      ? "No organization of yours has a name that contains that."
      : `${total.toLocaleString("en")} found`;
    all.setAttribute("href", url.pathname + url.search);
    all.textContent = `See all ${total.toLocaleString("en")} found`;
    all.hidden = total <= 10;
  };
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => find(input.value.trim()), 200);
  });
  // This script is deferred: a name typed before it ran had no listener to hear it.
  if (input.value.trim()) {
    find(input.value.trim());
  }
})();

// A form that changes a role (data-change-control: the member page's radio
// buttons, a row's select on the people page) is drawn with the current role
// chosen, and sending it so changes nothing (the server refuses it, saying so).
// Keep its button disabled until another role is chosen (or, where the form has
// one, another expiry typed: a time-limited role).
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-change-control]")) {
    const chosen = () => {
      const data = new FormData(form);
      return `${data.get("name")}|${data.get("expires") ?? ""}`;
    };
    const initial = chosen();
    const buttons = form.querySelectorAll("button[type=submit]");
    const update = () => {
      for (const button of buttons) {
        button.disabled = chosen() === initial;
      }
    };
    form.addEventListener("change", update);
    form.addEventListener("input", update);
    update();
  }
});
