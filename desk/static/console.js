// The agents' console: presence, offers with a countdown, my tickets, and the open ticket with
// the single customer view, the transcript, SLA countdowns and every action on it.
"use strict";

(() => {
  const { api, el, clear, options, duration, time, notice } = Desk;
  const $ = (id) => document.getElementById(id);
  const AUTHORS = { customer: "Customer", bot: "Bot", agent: "Agent", note: "Internal note", event: "" };
  const state = { me: null, ticket: null, loadedAt: 0, offers: [], skew: 0, beat: null };

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

  // -- presence and my lists -----------------------------------------------------------------

  async function setPresence(value) {
    await api("POST", "/desk/api/presence", { presence: value });
    clearInterval(state.beat);
    if (value !== "offline") {
      state.beat = setInterval(() => api("POST", "/desk/api/presence", { presence: $("presence").value }), 20000);
    }
  }

  async function refresh() {
    const data = await api("GET", "/desk/api/console");
    state.skew = Date.parse(data.now) - Date.now();
    $("presence").value = data.presence;
    const waiting = Object.entries(data.waiting).map(([q, n]) => `${q}: ${n}`).join(" · ");
    $("waiting").textContent = waiting ? `Waiting — ${waiting}` : "";
    state.offers = data.offers;
    renderOffers();
    const list = clear($("my-tickets"));
    for (const ticket of data.tickets) {
      list.append(
        el("li", { className: ticket.id === currentId() ? "current" : "", data: { ticket: ticket.id } },
          el("button", { className: "link", text: `#${ticket.id} ${ticket.queue_name}`, on: { click: () => openTicket(ticket.id) } }),
          el("span", { className: `status ${ticket.status}`, text: ticket.status.replaceAll("_", " ") })),
      );
    }
    if (!data.tickets.length) list.append(el("li", { className: "muted", text: "No tickets yet" }));
  }

  function renderOffers() {
    const list = clear($("offers"));
    const now = Date.now() + state.skew;
    for (const offer of state.offers) {
      const left = Math.max(0, (Date.parse(offer.expires_at) - now) / 1000);
      list.append(
        el("li", { className: "offer", data: { ticket: offer.ticket.id } },
          el("strong", { text: `#${offer.ticket.id} ${offer.ticket.queue_name}` }),
          el("span", { className: "countdown", text: `${Math.ceil(left)} s` }),
          el("button", { text: "Accept", className: "accept", on: { click: act(() => accept(offer.ticket.id)) } }),
          el("button", { text: "Decline", className: "decline", on: { click: act(() => decline(offer.ticket.id)) } })),
      );
    }
    if (!state.offers.length) list.append(el("li", { className: "muted", text: "No offers" }));
  }

  async function accept(id) {
    await api("POST", `/desk/api/offers/${id}/accept`);
    await refresh();
    await openTicket(id);
  }

  async function decline(id) {
    await api("POST", `/desk/api/offers/${id}/decline`);
    await refresh();
  }

  async function nextTicket() {
    const data = await api("POST", "/desk/api/next");
    if (!data.ticket) {
      notice("Nothing is waiting in your queues.");
      return;
    }
    await refresh();
    await openTicket(data.ticket.id);
  }

  // -- the ticket ----------------------------------------------------------------------------

  function currentId() {
    return state.ticket ? state.ticket.ticket.id : null;
  }

  async function openTicket(id) {
    const data = await api("GET", `/desk/api/tickets/${id}`);
    state.ticket = data;
    state.loadedAt = Date.now();
    history.replaceState(null, "", `#ticket=${id}`);
    renderTicket(data);
    for (const item of $("my-tickets").children) item.classList.toggle("current", item.dataset.ticket === String(id));
  }

  function fact(list, label, value) {
    list.append(el("dt", { text: label }), el("dd", { text: value === null || value === undefined || value === "" ? "—" : value }));
  }

  function renderTicket(data) {
    const t = data.ticket;
    const c = data.customer;
    $("ticket").hidden = false;
    $("ticket-title").textContent = `#${t.id} · ${c.full_name}`;
    const facts = clear($("ticket-facts"));
    const confidence = t.confidence === null ? "" : ` (${Math.round(t.confidence * 100)}%)`;
    for (const [label, value] of [
      ["Status", t.status.replaceAll("_", " ")], ["Queue", t.queue_name], ["Channel", t.channel],
      ["Priority", t.priority], ["Reason", t.reason], ["Intent", `${t.intent || "—"}${confidence}`],
      ["Agent", data.assigned_agent],
    ]) facts.append(el("span", { className: "fact" }, el("b", { text: `${label}: ` }), value === null || value === undefined ? "—" : String(value)));
    renderTranscript(data.transcript);
    renderCustomer(data);
    renderSla();
    const held = ["assigned", "waiting_on_customer"].includes(t.status) && t.assigned_agent_id === state.me.agent.id;
    for (const id of ["send-reply", "wait-customer", "resolve", "book"]) $(id).disabled = !held;
    $("wait-customer").hidden = t.status === "waiting_on_customer";
    $("resume").hidden = t.status !== "waiting_on_customer";
    $("resume").disabled = !held;
    $("transfer").disabled = !held && !state.me.agent.roles.some((r) => r !== "agent");
  }

  function renderTranscript(entries) {
    const list = clear($("transcript"));
    for (const entry of entries) {
      const who = entry.author === "agent" || entry.author === "note" ? entry.agent || AUTHORS[entry.author] : AUTHORS[entry.author];
      const label = entry.author === "note" ? `Note · ${who || ""}` : who;
      list.append(
        el("li", { className: `msg ${entry.author}`, data: { author: entry.author } },
          el("span", { className: "who", text: label }),
          el("time", { text: time(entry.at) }),
          el("p", { className: "text", text: entry.text || "" })),
      );
    }
    list.scrollTop = list.scrollHeight;
  }

  function renderCustomer(data) {
    const c = data.customer;
    const facts = clear($("customer"));
    fact(facts, "Name", c.full_name);
    fact(facts, "Tier", c.tier);
    fact(facts, "Lifetime value", c.lifetime_value);
    fact(facts, "Language", c.language);
    fact(facts, "Customer since", time(c.customer_since));
    fact(facts, "Heard about us", c.heard_about_us);
    fact(facts, "Notes", c.notes);
    const ids = clear($("identities"));
    for (const i of c.identities) {
      ids.append(el("li", {}, `${i.channel}: ${i.external_id} `, el("span", { className: i.verified ? "ok" : "warn", text: i.verified ? "verified" : "not verified" })));
    }
    const appointments = clear($("appointments"));
    for (const a of c.appointments) {
      appointments.append(el("li", {}, `${time(a.start_at)} ${a.service} · ${a.resource} `,
        el("button", { className: "link", text: "Cancel", on: { click: act(() => cancelAppointment(a.id)) } })));
    }
    if (!c.appointments.length) appointments.append(el("li", { className: "muted", text: "None booked" }));
    const tx = data.transactions;
    $("transactions-summary").textContent = `${tx.count} purchases, ${tx.total} ${tx.currency || ""}`;
    const txList = clear($("transactions"));
    for (const item of tx.recent) txList.append(el("li", { text: `${time(item.at)} ${item.item} ${item.amount} ${item.currency}` }));
    const past = clear($("past-tickets"));
    for (const p of data.past_tickets) {
      const rating = p.rating ? ` · rated ${p.rating}/5` : "";
      past.append(el("li", { text: `#${p.id} ${time(p.created_at)} ${p.queue} · ${p.status}${rating}` }));
    }
    if (!data.past_tickets.length) past.append(el("li", { className: "muted", text: "First contact" }));
    const contacts = clear($("history"));
    for (const h of c.contact_history) {
      contacts.append(el("li", {}, el("span", { className: "muted", text: `${time(h.at)} ${h.channel} ${h.direction === "inbound" ? "←" : "→"} ` }), h.text || ""));
    }
  }

  function renderSla() {
    const box = clear($("sla"));
    if (!state.ticket) return;
    const elapsed = (Date.now() - state.loadedAt) / 1000;
    for (const s of state.ticket.sla) {
      const live = s.running && (s.state === "running" || s.state === "warning" || s.state === "breached");
      const left = live ? s.remaining_seconds - elapsed : s.remaining_seconds;
      const label = s.target.replaceAll("_", " ");
      const shown = s.state === "met" ? "met" : s.state === "paused" ? "paused" : duration(left);
      const level = left < 0 || s.state === "breached" ? "breached" : s.state === "warning" || left < s.target_seconds * 0.2 ? "warning" : s.state;
      box.append(el("span", { className: `clock ${level}`, data: { target: s.target } }, `${label}: `, el("b", { text: shown })));
    }
  }

  function ticketPath(suffix) {
    return `/desk/api/tickets/${currentId()}/${suffix}`;
  }

  async function reloadTicket() {
    if (currentId()) await openTicket(currentId());
  }

  async function sendReply() {
    const text = $("reply-text").value.trim();
    if (!text) return;
    await api("POST", ticketPath("reply"), { text });
    $("reply-text").value = "";
    await reloadTicket();
  }

  async function addNote() {
    const text = $("reply-text").value.trim();
    if (!text) return;
    await api("POST", ticketPath("note"), { text });
    $("reply-text").value = "";
    await reloadTicket();
  }

  async function simple(suffix, body) {
    await api("POST", ticketPath(suffix), body);
    await reloadTicket();
    await refresh();
  }

  async function transfer() {
    const queue = $("transfer-queue").value;
    const agent = $("transfer-agent").value;
    const body = {};
    if (queue) body.queue = queue;
    if (agent) body.agent_id = Number(agent);
    await api("POST", ticketPath("transfer"), body);
    notice("Transferred.");
    await refresh();
    try {
      await reloadTicket();
    } catch (error) {
      $("ticket").hidden = true;
      state.ticket = null;
    }
  }

  async function book() {
    const start = $("book-start").value;
    if (!start) throw new Error("Choose a date and time first");
    await api("POST", ticketPath("appointments"), {
      service: $("book-service").value,
      resource: $("book-resource").value,
      start_at: new Date(start).toISOString(),
    });
    notice("Booked.");
    await reloadTicket();
  }

  async function cancelAppointment(id) {
    await api("POST", ticketPath(`appointments/${id}/cancel`));
    notice("Appointment cancelled.");
    await reloadTicket();
  }

  // -- set-up ----------------------------------------------------------------------------------

  async function fillForms(me) {
    options($("canned"), [["", "Canned response…"], ...me.canned_responses.map((c) => [c.key, c.title])]);
    options($("resolution-code"), me.resolution_codes.map((c) => [c.key, c.title]));
    options($("transfer-queue"), [["", "Queue…"], ...me.all_queues.map((q) => [q.key, q.name])]);
    const agents = await api("GET", "/desk/api/agents");
    options($("transfer-agent"), [["", "Agent…"], ...agents.filter((a) => a.id !== me.agent.id).map((a) => [String(a.id), `${a.display_name} (${a.presence})`])]);
    const catalog = await api("GET", "/desk/api/catalog");
    options($("book-service"), catalog.services.map((s) => [s.key, s.name]));
    options($("book-resource"), catalog.resources.map((r) => [r.key, r.name]));
    $("canned").addEventListener("change", () => {
      const chosen = me.canned_responses.find((c) => c.key === $("canned").value);
      if (chosen) $("reply-text").value = chosen.text;
      $("canned").value = "";
    });
  }

  document.addEventListener("DOMContentLoaded", act(async () => {
    const me = await Desk.start();
    state.me = me;
    if (me.agent.roles.some((r) => r === "supervisor" || r === "admin")) $("to-dashboard").hidden = false;
    await fillForms(me);
    $("presence").addEventListener("change", act(() => setPresence($("presence").value)));
    $("next-ticket").addEventListener("click", act(nextTicket));
    $("reply-form").addEventListener("submit", act(sendReply));
    $("add-note").addEventListener("click", act(addNote));
    $("wait-customer").addEventListener("click", act(() => simple("waiting")));
    $("resume").addEventListener("click", act(() => simple("resume")));
    $("resolve-form").addEventListener("submit", act(() => simple("resolve", { code: $("resolution-code").value })));
    $("transfer-form").addEventListener("submit", act(transfer));
    $("book-form").addEventListener("submit", act(book));
    await refresh();
    if (state.me.agent.roles.includes("agent") && $("presence").value !== "offline") await setPresence($("presence").value);
    const wanted = /#ticket=(\d+)/.exec(location.hash);
    if (wanted) await openTicket(Number(wanted[1])).catch(() => {});
    const later = Desk.debounce(act(async () => {
      await refresh();
      await reloadTicket();
    }), 250);
    Desk.live(() => later());
    setInterval(() => {
      renderOffers();
      renderSla();
    }, 1000);
    document.body.dataset.ready = "true";
  }));
})();
