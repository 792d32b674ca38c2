// A running bill run's page: polls its progress so the counts move without a reload, and
// reloads once the run has stopped running, to show its summary and the audit. Text is
// set with textContent, never HTML.
"use strict";

const POLL_MS = 1000;

async function poll(box) {
  try {
    const reply = await fetch(box.dataset.feed, { headers: { Accept: "application/json" } });
    if (reply.status === 401) { window.location.reload(); return; }
    if (!reply.ok) return;
    const progress = await reply.json();
    if (progress.status !== "running") { window.location.reload(); return; }
    for (const field of box.querySelectorAll("[data-field]")) {
      if (field.dataset.field !== "status") field.textContent = progress[field.dataset.field];
    }
  } catch (_) { /* the next poll tries again */ }
  window.setTimeout(() => poll(box), POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("progress");
  if (box && box.dataset.status === "running") window.setTimeout(() => poll(box), POLL_MS);
});
