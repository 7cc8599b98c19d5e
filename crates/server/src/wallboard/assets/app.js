// Switchboard wallboard: renders the board the server pushes over server-sent events.
// No framework, no network beyond this server: it works offline and on a wall TV.
"use strict";

const params = new URLSearchParams(location.search);
const token = params.get("token") || localStorage.getItem("switchboard-token") || "";
if (params.get("token")) localStorage.setItem("switchboard-token", token);
const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);

let board = null;
let history = {};
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
const dash = (v, unit = "") => (v === null || v === undefined ? "–" : `${v}${unit}`);
const duration = (ms) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`;
};

function tile(q) {
  const t = el("article", { class: "tile", "data-queue": q.queue, "data-status": q.status });
  t.append(el("h3", {}, q.queue));
  const big = el("div", { class: "big" });
  const waiting = el("div");
  waiting.append(el("div", { class: "value", "data-field": "waiting" }, String(q.waiting)), el("div", { class: "label" }, "waiting"));
  const sl = el("div", { class: "sl" });
  sl.append(
    el("div", { class: "value", "data-field": "service_level" }, dash(q.service_level_pct, "%")),
    el("div", { class: "label" }, `service level (target ${q.target_pct}% in ${q.threshold_s} s)`),
  );
  big.append(waiting, sl);
  t.append(big);
  const facts = el("div", { class: "facts" });
  const fact = (label, field, value) => {
    const row = el("div");
    row.append(el("span", { class: "label" }, label), el("span", { "data-field": field }, value));
    facts.append(row);
  };
  fact("longest wait", "longest_wait", duration(q.longest_wait_s * 1000));
  fact("est. wait", "estimated_wait", q.estimated_wait_s === null ? "–" : duration(q.estimated_wait_s * 1000));
  fact("ASA", "asa", dash(q.asa_s, " s"));
  fact("abandoned", "abandoned", String(q.abandoned));
  fact("answered", "answered", String(q.answered));
  fact("offered", "offered", String(q.offered));
  fact("available", "available", String(q.available));
  fact("on call", "on_call", String(q.on_call));
  fact("wrap-up", "wrap_up", String(q.wrap_up));
  fact("not ready", "not_ready", String(q.not_ready));
  t.append(facts);
  return t;
}

function fillSelect(select, values) {
  // Rebuilding the options closes a dropdown someone has open: only do it when they change.
  const key = JSON.stringify(values);
  if (select.dataset.values === key) return;
  select.dataset.values = key;
  const current = select.value;
  const keep = [...select.options].filter((o) => o.value === "");
  select.replaceChildren(...keep, ...values.map((v) => el("option", { value: v }, v)));
  if (values.includes(current) || current === "") select.value = current;
}

function renderAgents() {
  const team = $("filter-team").value, queue = $("filter-queue").value;
  const rows = board.agents
    .filter((a) => (!team || a.team === team) && (!queue || a.queues.includes(queue)))
    .map((a) => {
      const tr = el("tr", { "data-agent": a.id });
      const state = el("td");
      state.append(el("span", { class: `state ${a.state}` }, a.state.replace("_", " ")));
      tr.append(el("td", {}, a.name), state, el("td", {}, a.reason), a.since_ms > 0 ? el("td", { "data-since": a.since_ms }, duration(board.at_ms - a.since_ms)) : el("td", {}, "–"), el("td", {}, a.queue), el("td", {}, a.team));
      return tr;
    });
  document.querySelector("#agents tbody").replaceChildren(...rows);
}

function renderChart() {
  const svg = $("chart");
  const queue = $("chart-queue").value;
  const points = (history[queue] || []).slice();
  if (board) {
    const q = board.queues.find((x) => x.queue === queue);
    if (q) points.push({ at_ms: board.at_ms, waiting: q.waiting, service_level: null });
  }
  const W = 1000, H = 220, pad = 30;
  const parts = [];
  if (points.length > 1) {
    const t0 = points[0].at_ms, t1 = points[points.length - 1].at_ms || t0 + 1;
    const maxWaiting = Math.max(5, ...points.map((p) => p.waiting));
    const x = (t) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (W - 2 * pad);
    const yw = (w) => H - pad - (w / maxWaiting) * (H - 2 * pad);
    const ys = (s) => H - pad - s * (H - 2 * pad);
    parts.push(`<polyline class="waiting" points="${points.map((p) => `${x(p.at_ms)},${yw(p.waiting)}`).join(" ")}"/>`);
    const sl = points.filter((p) => p.service_level !== null);
    if (sl.length > 1) parts.push(`<polyline class="sl" points="${sl.map((p) => `${x(p.at_ms)},${ys(p.service_level)}`).join(" ")}"/>`);
    const target = board && board.queues.length ? board.queues[0].target_pct / 100 : 0.8;
    parts.push(`<line class="target" x1="${pad}" x2="${W - pad}" y1="${ys(target)}" y2="${ys(target)}"/>`);
    parts.push(`<text x="${pad}" y="18">max ${maxWaiting} waiting</text>`);
    parts.push(`<text x="${W - pad - 160}" y="18">${new Date(t0).toLocaleTimeString()} – now</text>`);
  } else {
    parts.push(`<text x="${pad}" y="${H / 2}">collecting history…</text>`);
  }
  svg.innerHTML = parts.join("");
}

function render() {
  $("tiles").replaceChildren(...board.queues.map(tile));
  const queues = board.queues.map((q) => q.queue);
  fillSelect($("filter-queue"), queues);
  fillSelect($("chart-queue"), queues);
  if (!$("chart-queue").dataset.chosen && queues.length) {
    // Until someone picks one, chart the busiest queue.
    const busiest = board.queues.reduce((a, b) => (b.waiting > a.waiting ? b : a));
    $("chart-queue").value = busiest.queue;
  }
  fillSelect($("filter-team"), [...new Set(board.agents.map((a) => a.team).filter(Boolean))].sort());
  renderAgents();
  renderChart();
  document.body.dataset.at = String(board.at_ms);
}

function setConnection(state, text) {
  const b = $("connection");
  b.dataset.state = state;
  b.textContent = text;
}

async function loadHistory() {
  const r = await fetch(withToken("api/history"));
  if (r.ok) history = await r.json();
}

function connect() {
  const source = new EventSource(withToken("events"));
  source.addEventListener("board", (e) => {
    board = JSON.parse(e.data);
    setConnection("live", "live");
    $("error").hidden = true;
    render();
  });
  source.onerror = () => {
    setConnection("error", "reconnecting");
    fetch(withToken("api/board")).then((r) => {
      if (r.status === 401 || r.status === 403) {
        $("error").textContent = "This board needs a supervisor token: open it as /?token=…";
        $("error").hidden = false;
        source.close();
      }
    }).catch(() => {});
  };
}

for (const id of ["filter-team", "filter-queue"]) $(id).addEventListener("change", () => board && renderAgents());
$("chart-queue").addEventListener("change", () => {
  $("chart-queue").dataset.chosen = "yes";
  renderChart();
});
setInterval(() => {
  $("clock").textContent = new Date().toLocaleTimeString();
  if (board) {
    for (const td of document.querySelectorAll("[data-since]")) td.textContent = duration(Date.now() - Number(td.dataset.since));
  }
}, 1000);
setInterval(() => loadHistory().then(() => board && renderChart()), 60000);
loadHistory().finally(connect);
