// The rating buttons with JavaScript: each form posts to the JSON API (POST /api/rate with
// the session's CSRF token) and the card shows the answer in place. Without JavaScript the
// same forms post to /rate and the page reloads showing the same thing.
"use strict";

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form.rate-form")) return;
  event.preventDefault();
  const fields = new FormData(form);
  let rated;
  try {
    const response = await fetch("/api/rate", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": fields.get("csrf")},
      body: JSON.stringify({paper: fields.get("paper"), action: fields.get("action")}),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    rated = await response.json();
  } catch {
    form.submit();  // the plain post: the server's page says what went wrong
    return;
  }
  const actions = form.closest(".actions");
  for (const button of actions.querySelectorAll("button.rate")) {
    const chosen = button.dataset.action === rated.action;
    button.classList.toggle("chosen", chosen);
    button.setAttribute("aria-pressed", String(chosen));
  }
  actions.querySelector(".rated").textContent = rated.said;
  actions.closest(".card")?.classList.toggle("dismissed", rated.action === "dismiss");
});
