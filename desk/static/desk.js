// Shared by the desk's pages: the JSON API with the session's CSRF token, safe DOM building
// (text only ever goes in through textContent), formatting, and the live event stream.
"use strict";

const Desk = (() => {
  let csrf = "";

  async function api(method, path, body) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRF-Token"] = csrf;
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch(path, options);
    if (response.status === 401) {
      location.assign("/desk/login");
      throw new Error("signed out");
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json() : null;
    if (!response.ok) throw new Error((data && data.error) || response.statusText);
    return data;
  }

  // el("li", {className: "x", text: "...", data: {id: 1}, on: {click: f}}, child, "text", ...)
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    const p = props || {};
    if (p.className) node.className = p.className;
    if (p.text !== undefined && p.text !== null) node.textContent = String(p.text);
    if (p.title) node.title = p.title;
    if (p.type) node.type = p.type;
    if (p.value !== undefined) node.value = p.value;
    if (p.disabled) node.disabled = true;
    for (const [key, value] of Object.entries(p.data || {})) node.dataset[key] = String(value);
    for (const [name, handler] of Object.entries(p.on || {})) node.addEventListener(name, handler);
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function options(select, items, keep) {
    const current = select.value;
    clear(select);
    for (const [value, label] of items) select.append(el("option", { value, text: label }));
    if (keep && [...select.options].some((o) => o.value === current)) select.value = current;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const sign = seconds < 0 ? "-" : "";
    let s = Math.round(Math.abs(seconds));
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${sign}${h}h ${pad(m)}m` : `${sign}${m}m ${pad(s)}s`;
  }

  function percent(share) {
    return share === null || share === undefined ? "—" : `${Math.round(share * 100)}%`;
  }

  function time(iso) {
    if (!iso) return "";
    const at = new Date(iso);
    return at.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }

  function notice(text, isError) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text || "";
    box.classList.toggle("error", Boolean(isError));
  }

  async function start() {
    const me = await api("GET", "/desk/api/me");
    csrf = me.csrf;
    document.getElementById("business").textContent = me.business;
    document.getElementById("me").textContent = `${me.agent.display_name} (${me.agent.roles.join(", ")})`;
    document.getElementById("sign-out").addEventListener("click", async () => {
      try {
        await api("POST", "/desk/api/logout");
      } finally {
        location.assign("/desk/login");
      }
    });
    return me;
  }

  function live(onEvent) {
    const source = new EventSource("/desk/api/events");
    source.addEventListener("ticket", (message) => onEvent(JSON.parse(message.data)));
    source.addEventListener("signed_out", () => location.assign("/desk/login"));
    return source;
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  return { api, el, clear, options, duration, percent, time, notice, start, live, debounce };
})();
