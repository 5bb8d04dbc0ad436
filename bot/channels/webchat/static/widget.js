/* Frontdesk web chat widget: one <script src="https://frontdesk.example/webchat/widget.js" async>
 * on any page. Vanilla JS, no build step. Every piece of text goes into the page with
 * textContent or DOM APIs, never as HTML.
 *
 * Optional, before the script tag:
 *   window.FrontdeskWebchat = {
 *     identity: {user_id: "...", hash: "..."},   // signed identity (HMAC-SHA256, hex)
 *     token: "...",                              // or a short-lived JWT
 *     getToken: async () => "...",               // or a function that fetches a fresh one
 *     open: true,                                // open the chat at once
 *   };
 * or the attributes data-user-id, data-user-hash, data-token, data-open on the script tag.
 */
(function () {
  "use strict";
  if (window.__frontdeskWebchat) return;
  window.__frontdeskWebchat = true;

  var script = document.currentScript || document.querySelector('script[src*="/webchat/widget.js"]');
  if (!script) return;
  var BASE = script.src.replace(/\/webchat\/widget\.js(?:[?#].*)?$/, "");
  var WS_URL = BASE.replace(/^http/, "ws") + "/webchat/ws";
  var OPTIONS = window.FrontdeskWebchat || {};
  var PREFIX = "frontdesk-webchat:" + BASE + ":";
  var PONG_TIMEOUT = 10000;
  var FALLBACK_TEXTS = {
    open: "Chat with us", close: "Close the chat", placeholder: "Type a message…", send: "Send",
    connecting: "Connecting…", online: "Online", offline: "Reconnecting…",
    refused: "This website is not allowed to use the chat.", sending: "sending…",
    typing: "The assistant is typing…", team: "our team"
  };

  // -- storage: localStorage when the page allows it, memory otherwise ---------------------------
  var memory = {};
  function load(name, fallback) {
    var raw = null;
    try { raw = window.localStorage.getItem(PREFIX + name); } catch (e) { raw = memory[name] || null; }
    if (raw === null || raw === undefined) return fallback;
    try { return JSON.parse(raw); } catch (e) { return fallback; }
  }
  function save(name, value) {
    var raw = JSON.stringify(value);
    try { window.localStorage.setItem(PREFIX + name, raw); } catch (e) { memory[name] = raw; }
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // -- state -------------------------------------------------------------------------------------
  var texts = FALLBACK_TEXTS;
  var config = { title: "", intro: "", origin_allowed: true, max_message_chars: 2000 };
  var messages = new Map();      // seq -> frame
  var pending = load("pending", []);  // [{key, text, title}] until the server acknowledges
  var lastSeq = 0;               // every message up to here is shown
  var ws = null, connecting = false, welcomed = false, everWelcomed = false, attempts = 0;
  var pingTimer = null, pongTimer = null, reconnectTimer = null, retryTimer = null;
  var ui = {};

  // -- the DOM -----------------------------------------------------------------------------------
  function build() {
    var host = el("div");
    host.id = "frontdesk-webchat";
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var css = el("link");
    css.rel = "stylesheet";
    css.href = BASE + "/webchat/widget.css";
    root.appendChild(css);

    ui.launcher = el("button", "fd-launcher", texts.open);
    ui.launcher.type = "button";
    ui.launcher.addEventListener("click", function () { setOpen(true); });

    ui.panel = el("section", "fd-panel");
    ui.panel.setAttribute("aria-label", config.title || texts.open);
    ui.panel.hidden = true;
    var header = el("header", "fd-header");
    var heading = el("div", "fd-heading");
    heading.appendChild(el("strong", "fd-title", config.title));
    ui.status = el("span", "fd-status", texts.connecting);
    heading.appendChild(ui.status);
    var close = el("button", "fd-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", texts.close);
    close.addEventListener("click", function () { setOpen(false); });
    header.appendChild(heading);
    header.appendChild(close);

    ui.log = el("div", "fd-log");
    ui.log.setAttribute("role", "log");
    ui.log.setAttribute("aria-live", "polite");
    ui.intro = el("p", "fd-intro", config.intro);
    ui.list = el("ol", "fd-messages");
    ui.outbox = el("ol", "fd-messages fd-outbox");
    ui.typing = el("p", "fd-typing", texts.typing);
    ui.typing.hidden = true;
    ui.log.appendChild(ui.intro);
    ui.log.appendChild(ui.list);
    ui.log.appendChild(ui.outbox);
    ui.log.appendChild(ui.typing);

    ui.quick = el("div", "fd-quick");
    ui.notice = el("p", "fd-notice");
    ui.notice.hidden = true;
    ui.notice.setAttribute("role", "alert");

    ui.form = el("form", "fd-form");
    ui.input = el("textarea", "fd-input");
    ui.input.rows = 1;
    ui.input.placeholder = texts.placeholder;
    ui.input.maxLength = config.max_message_chars;
    ui.input.setAttribute("aria-label", texts.placeholder);
    ui.send = el("button", "fd-send", texts.send);
    ui.send.type = "submit";
    ui.form.appendChild(ui.input);
    ui.form.appendChild(ui.send);
    ui.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = ui.input.value;
      if (!text.trim()) return;
      ui.input.value = "";
      send(text, null);
    });
    ui.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        ui.form.requestSubmit ? ui.form.requestSubmit() : ui.send.click();
      }
    });

    ui.panel.appendChild(header);
    ui.panel.appendChild(ui.log);
    ui.panel.appendChild(ui.quick);
    ui.panel.appendChild(ui.notice);
    ui.panel.appendChild(ui.form);
    root.appendChild(ui.panel);
    root.appendChild(ui.launcher);
    document.body.appendChild(host);
  }

  function setOpen(open) {
    ui.panel.hidden = !open;
    ui.launcher.hidden = open;
    save("open", open);
    if (open) { scrollDown(); ui.input.focus(); }
  }

  function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

  function setStatus(text, state) {
    ui.status.textContent = text;
    ui.panel.setAttribute("data-state", state);
  }

  function showNotice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = !text;
  }

  // -- rendering messages ------------------------------------------------------------------------
  function choiceButton(choice, className) {
    var button = el("button", className, choice.title);
    button.type = "button";
    button.addEventListener("click", function () { send(String(choice.payload), String(choice.title)); });
    return button;
  }

  var AUTHORS = { customer: true, bot: true, agent: true };

  function renderMessage(frame) {
    if (!AUTHORS[frame.author]) frame.author = "bot";
    var item = el("li", "fd-msg fd-" + frame.author);
    item.setAttribute("data-seq", String(frame.seq));
    item.setAttribute("data-author", frame.author);
    if (frame.author === "agent") {
      item.appendChild(el("span", "fd-agent-name", (frame.agent || "") + " · " + texts.team));
    }
    var shown = frame.author === "customer" && frame.title ? frame.title : frame.text;
    item.appendChild(el("p", "fd-text", shown));
    if (frame.buttons && frame.buttons.length) {
      var row = el("div", "fd-buttons");
      frame.buttons.forEach(function (choice) { row.appendChild(choiceButton(choice, "fd-button")); });
      item.appendChild(row);
    }
    (frame.links || []).forEach(function (link) {
      if (!/^https?:\/\//i.test(String(link.url))) return;
      var a = el("a", "fd-link", link.title || link.url);
      a.href = String(link.url);
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      item.appendChild(a);
    });
    return item;
  }

  function addMessage(frame) {
    if (typeof frame.seq !== "number" || messages.has(frame.seq)) return;
    messages.set(frame.seq, frame);
    var item = renderMessage(frame);
    var after = null;
    Array.prototype.some.call(ui.list.children, function (child) {
      if (Number(child.getAttribute("data-seq")) > frame.seq) { after = child; return true; }
      return false;
    });
    ui.list.insertBefore(item, after);
    if (frame.author === "customer" && frame.key) dropOutbox(frame.key);
    while (messages.has(lastSeq + 1)) lastSeq += 1;
    refreshChoices();
    scrollDown();
  }

  function resetMessages(frames) {
    messages.clear();
    ui.list.textContent = "";
    lastSeq = frames.length ? frames[0].seq - 1 : 0;
    frames.forEach(addMessage);
    refreshChoices();
  }

  // Buttons and quick replies answer the latest bot message; once the customer has written
  // after it, they are spent.
  function refreshChoices() {
    var items = Array.prototype.slice.call(ui.list.children);
    var waiting = Boolean(ui.outbox.querySelector(".fd-pending"));
    var lastCustomer = -1;
    items.forEach(function (item, index) { if (item.getAttribute("data-author") === "customer") lastCustomer = index; });
    items.forEach(function (item, index) {
      item.querySelectorAll("button").forEach(function (b) { b.disabled = index < lastCustomer || waiting; });
    });
    ui.quick.textContent = "";
    var latest = items.length ? messages.get(Number(items[items.length - 1].getAttribute("data-seq"))) : null;
    if (latest && latest.author !== "customer" && latest.quick_replies && !waiting) {
      latest.quick_replies.forEach(function (choice) { ui.quick.appendChild(choiceButton(choice, "fd-chip")); });
    }
  }

  function addOutbox(item) {
    var node = el("li", "fd-msg fd-customer fd-pending");
    node.setAttribute("data-key", item.key);
    node.setAttribute("data-author", "customer");
    node.appendChild(el("p", "fd-text", item.title || item.text));
    node.appendChild(el("span", "fd-state", texts.sending));
    ui.outbox.appendChild(node);
    refreshChoices();
    scrollDown();
  }

  function dropOutbox(key) {
    Array.prototype.slice.call(ui.outbox.children).forEach(function (node) {
      if (node.getAttribute("data-key") === key) node.remove();
    });
    refreshChoices();
  }

  // -- sending -----------------------------------------------------------------------------------
  function send(text, title) {
    if (text.length > config.max_message_chars) text = text.slice(0, config.max_message_chars);
    var item = { key: newKey(), text: text, title: title };
    pending.push(item);
    save("pending", pending);
    addOutbox(item);
    showNotice("");
    transmit(item);
  }

  function transmit(item) {
    if (!ws || !welcomed || ws.readyState !== WebSocket.OPEN) return;  // re-sent after welcome
    var frame = { type: "message", key: item.key, text: item.text };
    if (item.title) frame.title = item.title;
    ws.send(JSON.stringify(frame));
  }

  function forget(key) {
    pending = pending.filter(function (item) { return item.key !== key; });
    save("pending", pending);
  }

  // -- the connection ----------------------------------------------------------------------------
  function identityOf() {
    var data = script.dataset || {};
    if (OPTIONS.identity) return { identity: OPTIONS.identity };
    if (data.userId && data.userHash) return { identity: { user_id: data.userId, hash: data.userHash } };
    if (OPTIONS.token || data.token) return { token: OPTIONS.token || data.token };
    return {};
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (connecting) return;
    connecting = true;
    var proof = identityOf();
    var getToken = typeof OPTIONS.getToken === "function" ? OPTIONS.getToken : null;
    var ready = Promise.resolve(proof);
    if (getToken) {
      ready = new Promise(function (resolve) { resolve(getToken()); })
        .then(function (token) { return token ? { token: String(token) } : proof; }, function () { return proof; });
    }
    ready.then(openSocket);
  }

  function openSocket(proof) {
    connecting = false;
    setStatus(texts.connecting, "connecting");
    welcomed = false;
    var socket;
    try { socket = new WebSocket(WS_URL); } catch (e) { socket = null; }
    ws = socket;
    if (!socket) { gone(); return; }
    socket.onopen = function () {
      var hello = { type: "hello", session: load("session", null), last_seq: lastSeq };
      if (proof.identity) hello.identity = proof.identity;
      if (proof.token) hello.token = proof.token;
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = function (event) {
      if (socket !== ws) return;
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      receive(frame);
    };
    socket.onclose = function () { drop(socket); };
  }

  // The socket is gone (closed, refused, or silent): forget it and come back later.
  function drop(socket) {
    if (socket !== ws) return;
    gone();
  }

  function gone() {
    ws = null;
    welcomed = false;
    stopPing();
    ui.typing.hidden = true;
    if (!everWelcomed && !config.origin_allowed) {
      setStatus(texts.refused, "refused");
      showNotice(texts.refused);
      return;
    }
    setStatus(texts.offline, "offline");
    attempts += 1;
    var delay = Math.min(15000, 500 * Math.pow(2, Math.min(attempts - 1, 5)));
    reconnectTimer = setTimeout(connect, delay * (0.75 + Math.random() * 0.5));
  }

  function receive(frame) {
    if (frame.type === "welcome") {
      welcomed = true; everWelcomed = true; attempts = 0;
      save("session", frame.session);
      if (frame.reset) resetMessages(frame.messages || []); else (frame.messages || []).forEach(addMessage);
      setStatus(texts.online, "online");
      showNotice("");
      startPing((frame.ping_interval || 25) * 1000);
      pending.forEach(transmit);
    } else if (frame.type === "message") {
      addMessage(frame);
    } else if (frame.type === "ack") {
      forget(frame.key);
    } else if (frame.type === "typing") {
      ui.typing.hidden = !frame.on;
      scrollDown();
    } else if (frame.type === "error") {
      onError(frame);
    } else if (frame.type === "pong") {
      clearTimeout(pongTimer);
    }
  }

  function onError(frame) {
    showNotice(frame.message || "");
    if (!frame.key) return;
    if (frame.retry) {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(function () { pending.forEach(transmit); }, 3000);
      return;
    }
    forget(frame.key);
    Array.prototype.slice.call(ui.outbox.children).forEach(function (node) {
      if (node.getAttribute("data-key") !== frame.key) return;
      node.classList.add("fd-failed");
      node.classList.remove("fd-pending");
      node.removeAttribute("data-key");
      var state = node.querySelector(".fd-state");
      if (state) state.textContent = frame.message || "";
    });
    refreshChoices();
  }

  // A client-side ping notices a dead connection the browser has not (a sleeping laptop, a
  // proxy that dropped it); it also fetches anything stored while the push missed us.
  function startPing(interval) {
    stopPing();
    pingTimer = setInterval(ping, interval);
  }
  function stopPing() { clearInterval(pingTimer); clearTimeout(pongTimer); }
  function ping() {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ type: "ping", last_seq: lastSeq }));
    clearTimeout(pongTimer);
    var socket = ws;
    pongTimer = setTimeout(function () { drop(socket); socket.close(); }, PONG_TIMEOUT);
  }

  window.addEventListener("online", function () { if (!ws) connect(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) ping(); });

  function start(data) {
    if (data) {
      config = data;
      texts = Object.assign({}, FALLBACK_TEXTS, data.texts || {});
    }
    build();
    pending.forEach(addOutbox);
    var data2 = script.dataset || {};
    setOpen(Boolean(load("open", false) || OPTIONS.open || data2.open !== undefined));
    connect();
  }

  function boot() {
    fetch(BASE + "/webchat/config", { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(start, function () { start(null); });
  }

  if (document.body) boot(); else document.addEventListener("DOMContentLoaded", boot);
})();
