// Sluice status page: polls /api/stats, /api/connections and /api/upstreams once a second and redraws.
// Every value from the proxy is written with textContent, never parsed as HTML, so a host, user or rule name is shown
// as text and can never become markup. No framework, nothing loaded from anywhere but this endpoint.
"use strict";

(function () {
  const POLL_MS = 1000;

  const $ = (id) => document.getElementById(id);

  /** Creates an element with optional class and text. */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function formatDuration(totalSeconds) {
    let s = Math.max(0, Math.floor(Number(totalSeconds) || 0));
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    if (d > 0) {
      return d + "d " + h + "h";
    }
    if (h > 0) {
      return h + "h " + m + "m";
    }
    if (m > 0) {
      return m + "m " + s + "s";
    }
    return s + "s";
  }

  function formatBytes(n) {
    n = Number(n) || 0;
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
  }

  function formatClock(iso) {
    const date = new Date(iso);
    if (isNaN(date.getTime())) {
      return String(iso);
    }
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  function emptyRow(colspan, text) {
    const tr = el("tr", "empty");
    const td = el("td", null, text);
    td.colSpan = colspan;
    tr.appendChild(td);
    return tr;
  }

  function cell(text, className) {
    const td = el("td", className);
    if (text === undefined || text === null || text === "") {
      td.appendChild(el("span", "none", "—"));
    } else {
      td.textContent = String(text);
    }
    return td;
  }

  function renderConnections(connections) {
    const body = $("connections-body");
    const rows = connections.slice().sort((a, b) => b.id - a.id); // newest first
    if (rows.length === 0) {
      body.replaceChildren(emptyRow(8, "No open connections."));
      return;
    }

    body.replaceChildren(...rows.map((c) => {
      const tr = el("tr");
      tr.dataset.id = String(c.id);
      tr.dataset.destination = c.destination || "";
      tr.dataset.kind = c.kind;
      tr.appendChild(cell(c.client, "mono"));
      tr.appendChild(cell(c.user));
      tr.appendChild(cell(c.destination, "mono dest"));
      tr.appendChild(cell(c.rule));
      const kind = el("td");
      kind.appendChild(el("span", "kind kind-" + (c.kind === "tunnel" ? "tunnel" : "http"), c.kind));
      tr.appendChild(kind);
      tr.appendChild(cell(formatDuration(c.ageSeconds), "num"));
      const fromClient = cell(formatBytes(c.bytesFromClient), "num");
      fromClient.title = c.bytesFromClient + " bytes";
      tr.appendChild(fromClient);
      const toClient = cell(formatBytes(c.bytesToClient), "num");
      toClient.title = c.bytesToClient + " bytes";
      tr.appendChild(toClient);
      return tr;
    }));
  }

  /** "since 12:34:56, next probe in 3s" for a parent marked down; empty for one that is up. */
  function downDetail(parent) {
    if (parent.up) {
      return "";
    }

    const parts = [];
    if (parent.downSince) {
      parts.push("since " + formatClock(parent.downSince));
    }
    if (typeof parent.nextProbeInSeconds === "number") {
      const seconds = Math.ceil(parent.nextProbeInSeconds);
      parts.push(seconds <= 0 ? "probing now" : "next probe in " + seconds + "s");
    }
    return parts.join(", ");
  }

  function parentRow(upstream, parent) {
    const state = parent.up ? "up" : "down";
    const tr = el("tr", "parent-" + state);
    tr.dataset.upstream = upstream.name;
    tr.dataset.parent = parent.endpoint;
    tr.dataset.state = state;

    const name = el("td");
    name.appendChild(el("span", "upstream-name", upstream.name));
    name.appendChild(el("span", "upstream-balance", upstream.balance));
    name.title = "balance: " + upstream.balance + "; destinations checked: " + upstream.checkDestinations +
      (upstream.credentials ? "; sends credentials" : "; no credentials");
    tr.appendChild(name);
    tr.appendChild(cell(parent.proxy, "mono"));

    const health = el("td", "parent-state");
    health.appendChild(el("span", "health health-" + state, state));
    const detail = downDetail(parent);
    if (detail) {
      health.appendChild(document.createTextNode(" "));
      health.appendChild(el("span", "since", detail));
    }
    if (parent.downSince) {
      health.title = "down since " + parent.downSince + (parent.nextProbe ? ", next probe at " + parent.nextProbe : "");
    }
    tr.appendChild(health);

    tr.appendChild(cell(String(parent.consecutiveFailures), "num"));
    tr.appendChild(cell(parent.lastError, "error-text"));
    return tr;
  }

  function renderParents(upstreams) {
    const panel = $("parents-panel");
    upstreams = upstreams || [];
    panel.hidden = upstreams.length === 0; // no upstreams configured: nothing to show
    if (panel.hidden) {
      return;
    }

    const rows = [];
    let down = 0;
    for (const upstream of upstreams) {
      for (const parent of upstream.parents || []) {
        rows.push(parentRow(upstream, parent));
        down += parent.up ? 0 : 1;
      }
    }

    const hint = $("parents-hint");
    hint.textContent = down === 0
      ? (rows.length === 1 ? "up" : "all " + rows.length + " up")
      : down + " of " + rows.length + " down";
    hint.className = "hint" + (down === 0 ? "" : " hint-bad");
    $("parents-body").replaceChildren(...(rows.length === 0 ? [emptyRow(5, "No parent proxies.")] : rows));
  }

  function renderTop(list, entries, emptyText) {
    if (!entries || entries.length === 0) {
      list.replaceChildren(el("li", "empty", emptyText));
      return;
    }

    const max = Math.max(...entries.map((e) => e.count), 1);
    list.replaceChildren(...entries.map((e) => {
      const li = el("li");
      li.dataset.destination = e.destination;
      const label = el("span", "label");
      const name = el("span", "name mono", e.destination);
      name.title = e.destination;
      label.appendChild(name);
      label.appendChild(el("span", "count", e.count));
      li.appendChild(label);
      const track = el("span", "track");
      const bar = el("span", "bar");
      bar.style.width = Math.max(2, Math.round((e.count / max) * 100)) + "%"; // CSSOM, allowed by the page's CSP
      track.appendChild(bar);
      li.appendChild(track);
      return li;
    }));
  }

  function renderEvents(events) {
    const list = $("events");
    if (!events || events.length === 0) {
      list.replaceChildren(el("li", "empty", "No events yet."));
      return;
    }

    list.replaceChildren(...events.map((e) => {
      const li = el("li");
      const time = el("time", "when mono", formatClock(e.time));
      time.dateTime = e.time;
      time.title = e.time;
      li.appendChild(time);
      const slug = String(e.kind).toLowerCase().replace(/[^a-z]+/g, "-");
      li.appendChild(el("span", "event-kind event-" + slug, e.kind));
      li.appendChild(el("span", "message", e.message));
      return li;
    }));
  }

  function renderStats(stats) {
    const state = $("state");
    if (stats.draining) {
      state.textContent = "draining";
      state.className = "badge badge-draining";
    } else if (stats.ready) {
      state.textContent = "ready";
      state.className = "badge badge-ready";
    } else {
      state.textContent = "not ready";
      state.className = "badge badge-down";
    }

    document.title = "Sluice · " + state.textContent;
    $("uptime").textContent = formatDuration(stats.uptimeSeconds);
    $("generation").textContent = String(stats.configGeneration);
    $("active-connections").textContent = String(stats.activeConnections);
    $("active-tunnels").textContent = String(stats.activeTunnels);
    for (const hint of document.querySelectorAll(".window")) {
      hint.textContent = "last " + stats.windowMinutes + " minutes";
    }

    renderTop($("top-destinations"), stats.topDestinations, "No requests in this window.");
    renderTop($("top-denied"), stats.topDenied, "Nothing denied in this window.");
    renderEvents(stats.events);
  }

  function showUnreachable(message) {
    const state = $("state");
    state.textContent = "unreachable";
    state.className = "badge badge-down";
    $("updated").textContent = message;
    document.body.classList.add("stale");
    document.title = "Sluice · unreachable";
  }

  async function getJson(path) {
    const response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) {
      throw new Error(path + " answered " + response.status + (response.status === 401 ? " (a bearer token is required)" : ""));
    }
    return response.json();
  }

  async function poll() {
    try {
      const [stats, connections, upstreams] = await Promise.all([getJson("/api/stats"), getJson("/api/connections"), getJson("/api/upstreams")]);
      renderStats(stats);
      renderConnections(connections);
      renderParents(upstreams);
      document.body.classList.remove("stale");
      $("updated").textContent = "Updated " + new Date().toLocaleTimeString([], { hour12: false }) + " · refreshes every second";
    } catch (error) {
      showUnreachable("Cannot reach the proxy: " + (error && error.message ? error.message : error) + " · retrying");
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
