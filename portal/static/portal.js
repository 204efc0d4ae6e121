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
