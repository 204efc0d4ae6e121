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

// --- nav: the header's menus (the switcher, the account menu) ---------------------
// Both are <details data-menu>: they open and close without script. Here they also
// close on Escape (focus back on their toggle) and on a click or focus outside
// them, and opening one closes the other, as menus do.
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
  document.addEventListener("focusin", outside);
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
