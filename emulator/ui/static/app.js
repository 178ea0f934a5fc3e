// The profile-emulator dashboard: a view of one namespace, made of control API calls only
// (openapi/control.yaml). No framework, no build step, nothing loaded from elsewhere.
"use strict";

const API = "/_emulator";
const POLL_MS = 500; // a new call shows within a second
const TOKEN_KEY = "profile-emulator-token"; // sessionStorage: this tab only, never the URL
const NS_KEY = "profile-emulator-namespace";

const ui = {
  namespace: sessionStorage.getItem(NS_KEY) || "default",
  tab: "journal",
  lastId: 0, // the newest journal entry shown
  entries: new Map(), // id -> entry
  open: null, // the entry whose details are shown
  paused: false, // waiting for a token
  lastRender: null, // ms the latest journal render took (read by the browser test)
};

const $ = (selector) => document.querySelector(selector);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function json(value) {
  return JSON.stringify(value, null, 2);
}

// --- the control API -----------------------------------------------------------------

class Unauthorized extends Error {}

async function call(method, path, body) {
  const headers = { "X-Emulator-Namespace": ui.namespace };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    askToken(token ? "That token was refused." : "");
    throw new Unauthorized();
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${data && data.detail}`);
  return data;
}

function say(text, bad) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("bad", Boolean(bad));
}

async function act(what, promise) {
  try {
    await promise;
    say(what);
  } catch (error) {
    if (!(error instanceof Unauthorized)) say(error.message, true);
  }
  await refresh();
}

// --- token ---------------------------------------------------------------------------

function askToken(message) {
  ui.paused = true;
  $("#token-error").textContent = message;
  const dialog = $("#token-dialog");
  if (!dialog.open) dialog.showModal();
}

$("#token-form").addEventListener("submit", () => {
  sessionStorage.setItem(TOKEN_KEY, $("#token").value);
  $("#token").value = "";
  $("#forget-token").hidden = false;
  ui.paused = false;
  reload();
});
$("#forget-token").hidden = !sessionStorage.getItem(TOKEN_KEY);
$("#forget-token").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  $("#forget-token").hidden = true;
  reload();
});

// --- namespaces ----------------------------------------------------------------------

async function loadNamespaces() {
  const listing = await call("GET", "/namespaces");
  const select = $("#namespace");
  const names = listing.map((n) => n.name);
  if (!names.includes(ui.namespace)) listing.push({ name: ui.namespace, requests: 0, latest: 0, rules: 0 });
  select.replaceChildren(...listing.map((n) => el("option", {
    value: n.name, selected: n.name === ui.namespace,
    text: `${n.name} (${n.requests} calls, ${n.rules} rules)`,
  })));
  return listing.find((n) => n.name === ui.namespace);
}

function pick(name) {
  if (!name || name === ui.namespace) return;
  ui.namespace = name;
  sessionStorage.setItem(NS_KEY, name);
  reload();
}

$("#namespace").addEventListener("change", (event) => pick(event.target.value));
$("#namespace-new").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && /^[A-Za-z0-9_.-]{1,64}$/.test(event.target.value)) {
    pick(event.target.value);
    event.target.value = "";
  }
});

// --- journal -------------------------------------------------------------------------

function statusClass(status) {
  return status === null ? "sx" : "s" + String(status)[0];
}

function row(entry) {
  const acted = entry.actedBy;
  const sent = entry.delivery; // a webhook delivery the emulator made (direction: outbound)
  return el("tr", { "data-id": entry.id, "data-operation": entry.operation || "",
                    "data-direction": entry.direction || "inbound", onclick: () => show(entry.id) },
    el("td", { text: entry.id }),
    el("td", { class: "mono", text: entry.at.slice(11, 23) }),
    el("td", { text: sent ? `${entry.api} webhook` : entry.api }),
    el("td", { text: sent ? `${entry.operation} (attempt ${sent.attempt}/${sent.of})` : entry.operation || "(no operation)" }),
    el("td", { class: "mono", text: `${sent ? "→ " : ""}${entry.method} ${entry.path}${entry.query ? "?" + entry.query : ""}` }),
    el("td", { class: statusClass(entry.status), "data-status": entry.status === null ? "none" : entry.status,
               text: entry.status === null ? (sent ? sent.outcome : entry.fault) : entry.status }),
    el("td", { text: entry.durationMs.toFixed(1) }),
    el("td", { text: acted ? `${acted.id} (${acted.action})` : sent && sent.fault ? `${entry.rule} (${sent.fault})` : "" }));
}

function addEntries(entries) {
  if (!entries.length) return;
  const started = performance.now();
  const body = $("#journal tbody");
  const rows = document.createDocumentFragment();
  for (const entry of entries) {
    ui.entries.set(entry.id, entry);
    ui.lastId = Math.max(ui.lastId, entry.id);
    rows.prepend(row(entry)); // newest on top
  }
  body.prepend(rows);
  while (body.children.length > 1000) { // the journal's own bound
    const gone = body.lastElementChild;
    ui.entries.delete(Number(gone.dataset.id));
    gone.remove();
  }
  ui.lastRender = performance.now() - started;
  $("#journal-empty").hidden = true;
  $("#count-journal").textContent = body.children.length;
}

function clearJournal() {
  ui.entries.clear();
  ui.lastId = 0;
  ui.open = null;
  $("#journal tbody").replaceChildren();
  $("#journal-empty").hidden = false;
  $("#count-journal").textContent = "";
  $("#entry").hidden = true;
}

function block(title, value) {
  return [el("h3", { text: title }), el("pre", { text: typeof value === "string" ? value : json(value) })];
}

async function show(id) {
  const entry = ui.entries.get(id);
  if (!entry) return;
  ui.open = id;
  for (const tr of document.querySelectorAll("#journal tr.open")) tr.classList.remove("open");
  const tr = document.querySelector(`#journal tr[data-id="${id}"]`);
  if (tr) tr.classList.add("open");
  const aside = $("#entry");
  const response = entry.response;
  aside.replaceChildren(
    el("h2", { text: `#${entry.id} ${entry.api} ${entry.operation || ""}` }),
    ...block("Request", `${entry.method} ${entry.path}${entry.query ? "?" + entry.query : ""}\n` +
      Object.entries(entry.headers).map(([k, v]) => `${k}: ${v}`).join("\n")),
    ...block("Request body", entry.body === null ? "(none)" : entry.body),
    ...(response ? [
      ...block(`Response ${response.status} (${entry.durationMs} ms)`,
        Object.entries(response.headers).map(([k, v]) => `${k}: ${v}`).join("\n")),
      ...block(`Response body${response.truncated ? ` (first bytes of ${response.size})` : ""}`,
        response.body === null ? "(none)" : response.body),
    ] : block("Response", `none: ${entry.delivery ? entry.delivery.outcome : entry.fault || "no response started"}`)),
    ...(entry.delivery ? block("Delivery", entry.delivery) : []),
    el("h3", { text: "Rule" }),
    el("p", { id: "acted", text: entry.actedBy
      ? `${entry.actedBy.id}${entry.actedBy.scenario ? " (scenario " + entry.actedBy.scenario + ")" : ""}: ${entry.actedBy.action}`
      : "no rule acted on this call" }),
    el("h3", { text: "Near misses" }),
    el("div", { id: "near-misses", text: "loading..." }));
  aside.hidden = false;
  if (entry.delivery) { // outbound: no fault rule of the vendor API weighed it
    $("#near-misses").textContent = "(a webhook delivery: delivery rules only)";
    return;
  }
  try {
    const found = await call("GET", `/requests/${id}/near-misses`);
    const list = found.nearMisses.map((miss) => el("div", { class: `miss d${Math.min(miss.distance, 1)}` },
      el("strong", { text: miss.rule.id }), ` ${miss.reason}: ${miss.detail}`));
    $("#near-misses").replaceChildren(...(list.length ? list : [el("p", { class: "empty", text: "none: no other rule in this namespace" })]));
  } catch (error) {
    $("#near-misses").textContent = error instanceof Unauthorized ? "" : error.message;
  }
}

async function pollJournal(summary) {
  if (summary && summary.latest < ui.lastId) clearJournal(); // reset by someone else
  const found = await call("GET", `/requests?after=${ui.lastId}`);
  addEntries(found.requests);
}

// --- rules, scenarios, errors, state -------------------------------------------------

function describeMatch(match) {
  const parts = Object.entries(match).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return parts.length ? parts.join(" ") : "every call";
}

function describeAction(rule) {
  const acts = [];
  if (rule.error) acts.push("error " + rule.error);
  if (rule.respond) acts.push("respond " + rule.respond.status);
  if (rule.fault) acts.push("fault " + rule.fault);
  if (rule.delayMs !== undefined) acts.push(`delay ${rule.delayMs} ms`);
  if (rule.delay) acts.push("delay " + JSON.stringify(rule.delay));
  if (rule.times !== undefined) acts.push(`times ${rule.times}`);
  if (rule.after) acts.push(`after ${rule.after}`);
  if (rule.probability !== 1) acts.push(`p=${rule.probability}`);
  if (rule.ttlSeconds !== undefined) acts.push(`ttl ${rule.ttlSeconds}s`);
  return acts.join(", ");
}

// A list is drawn again only when what the API answers changed, so a poll never replaces
// a button or a switch under the pointer.
const drawn = {};

function changed(name, data) {
  const text = JSON.stringify(data);
  if (drawn[name] === text) return false;
  drawn[name] = text;
  return true;
}

async function loadRules() {
  const rules = await call("GET", "/faults");
  if (!changed("rules", rules)) return;
  $("#rules tbody").replaceChildren(...rules.map((rule) => el("tr", { "data-rule": rule.id, class: rule.spent ? "spent" : null },
    el("td", { class: "mono", text: rule.id + (rule.scenario ? ` (${rule.scenario})` : "") }),
    el("td", { text: rule.stage }),
    el("td", { class: "mono", text: describeMatch(rule.match) }),
    el("td", { text: describeAction(rule) }),
    el("td", { class: "matched", text: rule.matched }),
    el("td", { class: "fired", text: rule.fired }),
    el("td", { class: "state", text: rule.spent ? "spent" : "live" }),
    el("td", {}, el("button", { class: "remove", onclick: () => act(`rule ${rule.id} removed`,
      call("DELETE", `/faults/${encodeURIComponent(rule.id)}`)), text: "remove" })))));
  $("#rules-empty").hidden = rules.length > 0;
  $("#count-rules").textContent = rules.length || "";
}

async function loadScenarios() {
  const scenarios = await call("GET", "/scenarios");
  if (!changed("scenarios", scenarios)) return;
  $("#scenarios").replaceChildren(...scenarios.map((s) => el("li", { "data-scenario": s.name },
    el("label", {},
      el("input", { type: "checkbox", checked: s.active, onchange: (event) => act(
        `scenario ${s.name} ${event.target.checked ? "on" : "off"}`,
        call(event.target.checked ? "PUT" : "DELETE", `/scenarios/${encodeURIComponent(s.name)}`)) }),
      s.name),
    el("p", { text: s.description }))));
}

let catalogue = null;

async function loadErrors() {
  catalogue = catalogue || await call("GET", "/errors");
  const needle = $("#errors-filter").value.toLowerCase();
  $("#errors tbody").replaceChildren(...catalogue
    .filter((e) => !needle || JSON.stringify(e).toLowerCase().includes(needle))
    .map((e) => el("tr", { "data-error": e.name },
      el("td", { class: "mono", text: e.name }),
      el("td", { text: e.status }),
      el("td", {}, el("code", { text: JSON.stringify(e.body) })),
      el("td", { text: e.fidelity }),
      el("td", {}, el("button", { class: "inject", text: "inject once", onclick: () => act(
        `${e.name} injected once`, call("POST", "/faults", { error: e.name, times: 1 })) })))));
}
$("#errors-filter").addEventListener("input", () => loadErrors());

function tree(key, value, depth) {
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    const node = el("details", { open: depth < 1 },
      el("summary", {}, el("span", { class: "key", text: key }), ` (${Array.isArray(value) ? keys.length + " items" : keys.length + " keys"})`));
    node.addEventListener("toggle", () => {
      if (node.open && node.children.length === 1) {
        node.append(...keys.map((k) => tree(k, value[k], depth + 1)));
      }
    }, { once: false });
    if (depth < 1) node.append(...keys.map((k) => tree(k, value[k], depth + 1)));
    return node;
  }
  return el("div", { class: "leaf" }, el("span", { class: "key", text: key }), ": " + JSON.stringify(value));
}

async function loadState() {
  const state = await call("GET", "/state");
  $("#state").replaceChildren(...Object.keys(state).map((name) => tree(name, state[name], 1)));
}
$("#state-refresh").addEventListener("click", () => act("state read", loadState()));

$("#clear-rules").addEventListener("click", () => act("every rule removed", call("DELETE", "/faults")));
$("#reset").addEventListener("click", () => {
  if (!confirm(`Reset namespace ${ui.namespace} to its fixtures (state, rules, scenarios, journal)?`)) return;
  clearJournal();
  act(`namespace ${ui.namespace} reset`, call("POST", "/reset"));
});

// --- tabs and the loop ---------------------------------------------------------------

const loaders = { rules: loadRules, scenarios: loadScenarios, errors: loadErrors, state: loadState };

for (const button of document.querySelectorAll("#tabs button")) {
  button.addEventListener("click", () => {
    ui.tab = button.dataset.tab;
    for (const other of document.querySelectorAll("#tabs button")) other.removeAttribute("aria-current");
    button.setAttribute("aria-current", "page");
    for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== "tab-" + ui.tab;
    refresh(true);
  });
}

async function refresh(switched) {
  if (ui.paused) return;
  try {
    const summary = await loadNamespaces();
    await pollJournal(summary);
    if (ui.tab === "rules" || ui.tab === "scenarios") await loaders[ui.tab]();
    else if (switched && loaders[ui.tab]) await loaders[ui.tab]();
    document.body.dataset.ready = "true";
  } catch (error) {
    if (!(error instanceof Unauthorized)) say(error.message, true);
  }
}

function reload() {
  for (const name of Object.keys(drawn)) delete drawn[name];
  clearJournal();
  refresh(true);
}

let polling = false;
setInterval(async () => {
  if (polling || document.hidden) return;
  polling = true;
  try { await refresh(false); } finally { polling = false; }
}, POLL_MS);

window.emulatorDashboard = ui; // for scripts and the browser test
reload();
