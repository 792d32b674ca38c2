// The phone simulator: polls the conversation so replies appear without a reload, sends
// the compose box with fetch (the form still works without JavaScript), and remembers
// the numbers opened lately in this browser. Text is set with textContent, never HTML.
"use strict";

const RECENT_KEY = "vasguard.phone.recent";
const POLL_MS = 1000;

function recentNumbers() {
  try { return JSON.parse(localStorage.getItem(RECENT_KEY) || "[]").filter((n) => /^\d{5,20}$/.test(n)); }
  catch (_) { return []; }
}

function showRecent(current) {
  const box = document.getElementById("recent");
  if (!box) return;
  let numbers = recentNumbers();
  if (current) {
    numbers = [current, ...numbers.filter((n) => n !== current)].slice(0, 8);
    localStorage.setItem(RECENT_KEY, JSON.stringify(numbers));
  }
  const others = numbers.filter((n) => n !== current);
  if (!others.length) return;
  const label = document.createElement("p");
  label.className = "hint";
  label.textContent = box.dataset.label;
  box.append(label);
  for (const n of others) {
    const a = document.createElement("a");
    a.href = box.dataset.base + n;
    a.textContent = n;
    box.append(a);
  }
}

function bubble(m) {
  const li = document.createElement("li");
  li.className = "bubble " + (m.mine ? "mine" : "theirs");
  li.dataset.id = m.id;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = (m.mine ? "" : m.peer + " · ") + m.at + (m.note ? " · " + m.note : "");
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = m.text;
  li.append(meta, body);
  return li;
}

function render(list, messages) {
  const signature = JSON.stringify(messages.map((m) => [m.id, m.note]));
  if (list.dataset.signature === signature) return;
  list.dataset.signature = signature;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (messages.length) {
    list.replaceChildren(...messages.map(bubble));
  } else {
    const empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = list.dataset.empty;
    list.replaceChildren(empty);
  }
  if (atBottom || !list.dataset.scrolled) { list.scrollTop = list.scrollHeight; list.dataset.scrolled = "1"; }
}

async function poll(list) {
  try {
    const reply = await fetch(list.dataset.feed, { headers: { Accept: "application/json" } });
    if (reply.status === 401) { window.location.reload(); return; }
    if (reply.ok) render(list, (await reply.json()).messages);
  } catch (_) { /* the next poll tries again */ }
}

function pollForever(list) {
  poll(list).finally(() => window.setTimeout(() => pollForever(list), POLL_MS));
}

function compose(form, list) {
  const error = document.getElementById("compose-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const reply = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { Accept: "application/json", "X-CSRF-Token": data.get("csrf") },
    });
    const answer = await reply.json().catch(() => ({ error: String(reply.status) }));
    error.textContent = answer.error || "";
    if (reply.ok) { form.elements.text.value = ""; poll(list); }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("conversation");
  showRecent(list ? list.dataset.number : null);
  if (!list) return;
  list.scrollTop = list.scrollHeight;
  const form = document.getElementById("compose");
  if (form) compose(form, list);
  pollForever(list);
});
