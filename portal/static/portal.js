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
