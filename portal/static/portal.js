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

// A form that changes a role (data-change-control: the member page's radio
// buttons, a row's select on the people page) is drawn with the current role
// chosen, and sending it so changes nothing (the server refuses it, saying so).
// Keep its button disabled until another role is chosen.
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-change-control]")) {
    const chosen = () => new FormData(form).get("name");
    const initial = chosen();
    const buttons = form.querySelectorAll("button[type=submit]");
    const update = () => {
      for (const button of buttons) {
        button.disabled = chosen() === initial;
      }
    };
    form.addEventListener("change", update);
    update();
  }
});
