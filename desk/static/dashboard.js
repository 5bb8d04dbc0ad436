// The supervisors' dashboard: queues, warnings and breaches (with one-click actions), open
// tickets, agents, the day's 15-minute charts, exports and the knowledge-base gaps report.
"use strict";

(() => {
  const { api, el, clear, duration, percent, time, notice } = Desk;
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const state = { agents: [], today: "" };

  function act(fn) {
    return async (event) => {
      if (event) event.preventDefault();
      try {
        notice("");
        await fn(event);
      } catch (error) {
        notice(error.message, true);
      }
    };
  }

  function row(cells, props) {
    return el("tr", props || {}, ...cells.map((cell) => (cell instanceof Node ? el("td", {}, cell) : el("td", { text: cell }))));
  }

  function fill(table, rows, empty) {
    const body = clear($(table).querySelector("tbody"));
    for (const r of rows) body.append(r);
    if (!rows.length) {
      const cell = el("td", { text: empty });
      cell.colSpan = $(table).querySelectorAll("thead th").length;
      body.append(el("tr", { className: "muted" }, cell));
    }
  }

  function slCell(share) {
    const level = share === null ? "" : share >= 0.8 ? "ok" : share >= 0.6 ? "warn" : "bad";
    return el("span", { className: `sl ${level}`, text: percent(share) });
  }

  function renderBoard(board) {
    $("updated").textContent = `Updated ${time(board.now)}`;
    fill("queues", board.queues.map((q) => row([
      q.name, String(q.waiting), duration(q.longest_wait), slCell(q.service_level.interval),
      slCell(q.service_level.hour), slCell(q.service_level.today), duration(q.average_speed_of_answer),
      String(q.offered_today), String(q.answered_today), String(q.abandoned_today), String(q.backlog),
      String(q.breaches_today), q.satisfaction_today === null ? "—" : q.satisfaction_today.toFixed(1),
      `${q.agents_available} / ${q.agents_busy} / ${q.agents_away}`,
    ], { data: { queue: q.key } })), "No queues");
    state.agents = board.agents;
    fill("alerts", board.alerts.map((a) => row([
      el("span", { className: a.state === "breached" ? "bad" : "warn", text: duration(a.remaining_seconds) }),
      `#${a.ticket_id}`, a.customer || "—", a.queue, a.target.replaceAll("_", " "), a.state,
      String(a.priority), a.agent || "—", actions(a),
    ], { data: { ticket: a.ticket_id } })), "No warnings or breaches");
    fill("open-tickets", board.open_tickets.map((t) => row([
      `#${t.id}`, t.customer || "—", t.reason || "—", t.queue_name, t.status.replaceAll("_", " "),
      String(t.priority), t.agent || "—",
    ], { data: { ticket: t.id } })), "No open tickets");
    fill("agents", board.agents.map((a) => row([
      a.display_name, a.presence, `${a.load} / ${a.capacity}`, String(a.handled_today), duration(a.handle_time),
    ], { data: { agent: a.id } })), "No agents signed in");
  }

  function actions(alert) {
    const pick = el("select", { className: "reassign-to" }, el("option", { value: "", text: "Agent…" }));
    for (const a of state.agents) {
      if (a.presence !== "offline") pick.append(el("option", { value: String(a.id), text: a.display_name }));
    }
    const raise = el("button", { text: "Raise priority", className: "raise", on: { click: act(async () => {
      await api("POST", `/desk/api/tickets/${alert.ticket_id}/priority`);
      notice(`Ticket #${alert.ticket_id}: priority raised.`);
      await refresh();
    }) } });
    const reassign = el("button", { text: "Reassign", className: "reassign", on: { click: act(async () => {
      if (!pick.value) throw new Error("Choose an agent to reassign to");
      await api("POST", `/desk/api/tickets/${alert.ticket_id}/transfer`, { agent_id: Number(pick.value) });
      notice(`Ticket #${alert.ticket_id} reassigned.`);
      await refresh();
    }) } });
    return el("span", { className: "actions" }, raise, pick, reassign);
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text) node.textContent = text;
    return node;
  }

  function chart(id, rows, bars, minutes) {
    const box = clear($(id));
    const width = 960;
    const height = 160;
    const slots = (24 * 60) / minutes;
    const step = width / slots;
    const top = Math.max(1, ...rows.flatMap((r) => bars.map((b) => b.value(r) || 0)));
    for (const fraction of [0.5, 1]) box.append(svg("line", { x1: 0, x2: width, y1: height - 20 - fraction * (height - 30), y2: height - 20 - fraction * (height - 30), class: "gridline" }));
    for (const r of rows) {
      const at = new Date(r.interval);
      const slot = (at.getHours() * 60 + at.getMinutes()) / minutes;
      bars.forEach((bar, i) => {
        const value = bar.value(r);
        if (value === null || value === undefined) return;
        const h = (value / (bar.max || top)) * (height - 30);
        const rect = svg("rect", { x: slot * step + i * (step / bars.length), y: height - 20 - h, width: Math.max(1, step / bars.length - 1), height: h, class: bar.className });
        rect.append(svg("title", {}, `${time(r.interval)} ${bar.label}: ${bar.format(value)}`));
        box.append(rect);
      });
    }
    for (let hour = 0; hour < 24; hour += 3) box.append(svg("text", { x: (hour * 60) / minutes * step + 2, y: height - 5, class: "axis" }, `${hour}:00`));
  }

  async function refreshCharts() {
    const day = await api("GET", "/desk/api/dashboard/intervals");
    state.today = day.date;
    $("export-intervals").href = `/desk/api/export/intervals.csv?date=${day.date}`;
    $("export-tickets").href = `/desk/api/export/tickets.csv?date=${day.date}`;
    chart("chart-sl", day.totals, [{ value: (r) => r.service_level, max: 1, className: "bar-sl", label: "service level", format: percent }], day.interval_minutes);
    chart("chart-volume", day.totals, [
      { value: (r) => r.offered, className: "bar-offered", label: "offered", format: String },
      { value: (r) => r.abandoned, className: "bar-abandoned", label: "abandoned", format: String },
    ], day.interval_minutes);
  }

  async function refreshGaps() {
    const gaps = await api("GET", "/desk/api/kb-gaps?days=7");
    fill("gaps", gaps.map((g) => row([g.question, String(g.times), String(g.unhelpful), g.article || "—", time(g.last_asked)])), "No gaps this week");
  }

  async function refresh() {
    renderBoard(await api("GET", "/desk/api/dashboard"));
  }

  document.addEventListener("DOMContentLoaded", act(async () => {
    const me = await Desk.start();
    if (me.agent.roles.includes("agent")) $("to-console").hidden = false;
    await refresh();
    await Promise.all([refreshCharts(), refreshGaps()]);
    const later = Desk.debounce(act(async () => {
      await refresh();
      await refreshCharts();
    }), 400);
    Desk.live(() => later());
    document.body.dataset.ready = "true";
    setInterval(act(refresh), 5000);
    setInterval(act(async () => {
      await refreshCharts();
      await refreshGaps();
    }), 60000);
  }));
})();
