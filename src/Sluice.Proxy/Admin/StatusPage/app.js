// Sluice status page: polls /api/stats, /api/connections, /api/upstreams, /api/rules and /api/traffic once a second
// and redraws.
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

  // Traffic charts: inline SVG drawn here (no charting library), one value a second over the last 15 minutes.
  // The SVG namespace is read from the page's own <svg> elements, so nothing here names a URL.
  const CHART_HEIGHT = 160;
  const MARGIN = { left: 64, right: 12, top: 10, bottom: 22 };
  let lastTraffic = null;
  let reportMode = false;

  function formatCount(v) {
    v = Number(v) || 0;
    if (v >= 1e6) {
      return (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + "M";
    }
    if (v >= 1e4) {
      return (v / 1e3).toFixed(0) + "k";
    }
    if (v >= 1e3) {
      return (v / 1e3).toFixed(1) + "k";
    }
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  const formatRate = (v) => formatCount(v) + "/s";
  const formatByteRate = (v) => formatBytes(Math.round(v)) + "/s";

  /** The smallest "round" number (1, 2, 2.5, 5 times a power of ten, or of 1024 for bytes) at or above v. */
  function niceCeiling(v, base) {
    if (!(v > 0)) {
      return base === 1024 ? 1024 : 1;
    }
    let unit = 1;
    if (base === 1024) {
      while (v / unit >= 1024) {
        unit *= 1024;
      }
    }
    const scaled = v / unit;
    const power = Math.pow(10, Math.floor(Math.log10(scaled)));
    const f = scaled / power;
    const step = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return step * power * unit;
  }

  const CHARTS = [
    { id: "chart-requests", label: "Requests per second", base: 10, format: formatRate, series: [{ key: "requests", name: "requests", cls: "s-requests" }] },
    { id: "chart-bytes", label: "Bytes per second to and from clients", base: 1024, format: formatByteRate, series: [{ key: "bytes", name: "bytes", cls: "s-bytes" }] },
    {
      id: "chart-denials", label: "Denials per second", base: 10, format: formatRate, series: [
        { key: "denials", name: "denied", cls: "s-denials" },
        { key: "wouldDenies", name: "would deny", cls: "s-would", optional: true },
      ],
    },
  ];

  function svgEl(svg, tag, attributes, text) {
    const node = document.createElementNS(svg.namespaceURI, tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, String(value));
    }
    if (text !== undefined) {
      node.textContent = String(text);
    }
    return node;
  }

  function sum(values) {
    let total = 0;
    for (const v of values) {
      total += v;
    }
    return total;
  }

  function peakOf(values) {
    let peak = 0;
    for (const v of values) {
      peak = v > peak ? v : peak;
    }
    return peak;
  }

  function slotTime(traffic, i) {
    return new Date(Date.parse(traffic.start) + i * traffic.intervalSeconds * 1000);
  }

  function clockOf(date, seconds) {
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined, hour12: false });
  }

  function drawChart(def, traffic) {
    const figure = $(def.id);
    const area = figure.querySelector(".chart-area");
    const svg = area.querySelector("svg");
    const width = Math.max(260, Math.round(area.clientWidth || 480));
    const height = CHART_HEIGHT;
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    const series = def.series.filter((s) => !s.optional || reportMode || peakOf(traffic[s.key]) > 0);
    const n = traffic[def.series[0].key].length;
    const top = niceCeiling(Math.max(...series.map((s) => peakOf(traffic[s.key]))), def.base);
    const x = (i) => MARGIN.left + (n <= 1 ? plotW : (i * plotW) / (n - 1));
    const y = (v) => MARGIN.top + plotH - (v / top) * plotH;
    const nodes = [];

    // Seconds before the proxy started: shaded, so a quiet start is not read as a quiet quarter hour.
    const startIndex = Math.ceil((Date.parse(traffic.since) - Date.parse(traffic.start)) / (traffic.intervalSeconds * 1000));
    if (startIndex > 0) {
      const edge = x(Math.min(startIndex, n - 1));
      nodes.push(svgEl(svg, "rect", { class: "before-start", x: MARGIN.left, y: MARGIN.top, width: Math.max(0, edge - MARGIN.left), height: plotH }));
    }

    for (const f of [0, 0.5, 1]) {
      const gy = y(top * f);
      nodes.push(svgEl(svg, "line", { class: f === 0 ? "axis" : "grid", x1: MARGIN.left, x2: width - MARGIN.right, y1: gy, y2: gy }));
      nodes.push(svgEl(svg, "text", { class: "tick tick-y", x: MARGIN.left - 6, y: gy, "text-anchor": "end", "dominant-baseline": "middle" }, def.format(top * f)));
    }

    for (const [i, anchor] of [[0, "start"], [Math.round((n - 1) / 3), "middle"], [Math.round((2 * (n - 1)) / 3), "middle"], [n - 1, "end"]]) {
      nodes.push(svgEl(svg, "line", { class: "tick-mark", x1: x(i), x2: x(i), y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + 4 }));
      nodes.push(svgEl(svg, "text", { class: "tick tick-x", x: x(i), y: height - 4, "text-anchor": anchor }, clockOf(slotTime(traffic, i), false)));
    }

    for (const s of series) {
      const values = traffic[s.key];
      let line = "";
      for (let i = 0; i < n; i++) {
        line += (i === 0 ? "M" : "L") + x(i).toFixed(1) + " " + y(values[i]).toFixed(1);
      }
      const base = y(0).toFixed(1);
      nodes.push(svgEl(svg, "path", { class: "fill " + s.cls, d: line + "L" + x(n - 1).toFixed(1) + " " + base + "L" + x(0).toFixed(1) + " " + base + "Z" }));
      nodes.push(svgEl(svg, "path", { class: "line " + s.cls, d: line, "data-key": s.key }));
    }

    const hover = def.hover;
    if (typeof hover === "number" && hover >= 0 && hover < n) {
      nodes.push(svgEl(svg, "line", { class: "hover-line", x1: x(hover), x2: x(hover), y1: MARGIN.top, y2: MARGIN.top + plotH }));
      for (const s of series) {
        nodes.push(svgEl(svg, "circle", { class: "hover-dot " + s.cls, cx: x(hover), cy: y(traffic[s.key][hover]), r: 3.5 }));
      }
    }

    // Takes the pointer over the plot; drawn last so it is on top.
    nodes.push(svgEl(svg, "rect", { class: "hit", x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH }));
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(height));
    svg.replaceChildren(...nodes);
    def.geometry = { width, plotW, n };

    // The figures beside the title: a hovered second's, else now and the peak; also as data-* for tools and tests.
    const main = traffic[def.series[0].key];
    const figures = figure.querySelector(".chart-figures");
    figures.replaceChildren();
    if (typeof hover === "number" && hover >= 0 && hover < n) {
      figures.appendChild(el("span", "figure-time mono", clockOf(slotTime(traffic, hover), true)));
      for (const s of series) {
        figures.appendChild(el("span", "figure " + s.cls, s.name + " " + def.format(traffic[s.key][hover])));
      }
    } else {
      for (const s of series) {
        const values = traffic[s.key];
        const prefix = series.length > 1 ? s.name + " " : "";
        figures.appendChild(el("span", "figure " + s.cls, prefix + "now " + def.format(values[n - 1]) + " · peak " + def.format(peakOf(values))));
      }
    }

    const legend = figure.querySelector(".chart-legend");
    if (legend) {
      legend.hidden = series.length < 2;
    }
    figure.dataset.total = String(sum(main));
    figure.dataset.last = String(main[n - 1]);
    figure.dataset.peak = String(peakOf(main));
    figure.dataset.newest = slotTime(traffic, n - 1).toISOString();
    svg.setAttribute("aria-label", def.label + " over the last 15 minutes: now " + def.format(main[n - 1]) + ", peak " + def.format(peakOf(main)));
  }

  function renderTraffic(traffic) {
    lastTraffic = traffic;
    for (const def of CHARTS) {
      drawChart(def, traffic);
    }
  }

  /** Hovering a chart picks the second under the pointer; leaving it shows now and the peak again. */
  function watchPointer(def) {
    const svg = $(def.id).querySelector("svg");
    svg.addEventListener("pointermove", (event) => {
      if (!def.geometry || !lastTraffic) {
        return;
      }
      const rect = svg.getBoundingClientRect();
      const px = ((event.clientX - rect.left) * def.geometry.width) / Math.max(1, rect.width);
      const i = Math.round(((px - MARGIN.left) / def.geometry.plotW) * (def.geometry.n - 1));
      const hover = i < 0 || i >= def.geometry.n ? null : i;
      if (hover !== def.hover) {
        def.hover = hover;
        drawChart(def, lastTraffic);
      }
    });
    svg.addEventListener("pointerleave", () => {
      def.hover = null;
      if (lastTraffic) {
        drawChart(def, lastTraffic);
      }
    });
  }

  for (const def of CHARTS) {
    watchPointer(def);
  }

  window.addEventListener("resize", () => {
    if (lastTraffic) {
      renderTraffic(lastTraffic);
    }
  });

  function actionChip(action) {
    return el("span", "action action-" + (action === "allow" || action === "report" ? action : "deny"), action);
  }

  function ruleRow(name, action, line, figures, isDefault) {
    const never = figures.hits === 0;
    const tr = el("tr", (isDefault ? "rule-default" : "rule") + (never ? " rule-never" : ""));
    tr.dataset.rule = isDefault ? "" : name;
    tr.dataset.hits = String(figures.hits);
    tr.dataset.wouldDeny = String(figures.wouldDeny);
    tr.appendChild(cell(line === null ? "" : String(line), "num mono"));
    const nameCell = el("td", "rule-name");
    nameCell.appendChild(el("span", isDefault ? "default-name" : "name", isDefault ? "default" : name));
    if (never) {
      nameCell.appendChild(el("span", "tag tag-never", "never hit"));
    }
    tr.appendChild(nameCell);
    const actionCell = el("td");
    actionCell.appendChild(actionChip(action));
    tr.appendChild(actionCell);
    tr.appendChild(cell(String(figures.hits), "num hits"));
    tr.appendChild(cell(String(figures.wouldDeny), "num would" + (figures.wouldDeny > 0 ? " would-some" : "")));
    const last = cell(figures.lastHit ? formatClock(figures.lastHit) : "", "last-hit mono");
    if (figures.lastHit) {
      last.title = figures.lastHit;
    }
    tr.appendChild(last);
    return tr;
  }

  /** The rules table and the mode; true when would-denies can happen (report mode, or a report rule). */
  function renderRules(rules) {
    reportMode = rules.mode === "report";
    $("mode").hidden = !reportMode;
    $("policy-mode").textContent = reportMode ? "report" : "enforce";
    $("report-note").hidden = !reportMode;
    document.body.classList.toggle("report-mode", reportMode);

    const rows = (rules.rules || []).map((r) => ruleRow(r.name, r.action, r.line, r, false));
    rows.push(ruleRow("default", rules.default.action, null, rules.default, true));
    $("rules-body").replaceChildren(...rows);

    const never = (rules.rules || []).filter((r) => r.hits === 0).length;
    const hint = $("rules-hint");
    hint.textContent = "first match wins · hits since " + formatClock(rules.since) +
      ((rules.rules || []).length === 0 ? "" : " · " + (never === 0 ? "every rule hit" : never + " of " + rules.rules.length + " never hit"));
    hint.title = "counted since " + rules.since + ", config generation " + rules.configGeneration;
    return reportMode || (rules.rules || []).some((r) => r.action === "report");
  }

  function renderWouldDeny(entries, expected) {
    entries = entries || [];
    const panel = $("would-deny-panel");
    panel.hidden = !expected && entries.length === 0; // nothing can be a would-deny: nothing to show
    if (panel.hidden) {
      return;
    }

    if (entries.length === 0) {
      $("would-deny-body").replaceChildren(emptyRow(2, "Nothing would have been denied in this window."));
      return;
    }

    $("would-deny-body").replaceChildren(...entries.map((e) => {
      const tr = el("tr");
      tr.dataset.destination = e.destination;
      tr.appendChild(cell(e.destination, "mono dest"));
      tr.appendChild(cell(String(e.count), "num"));
      return tr;
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
      const [stats, connections, upstreams, rules, traffic] = await Promise.all(
        ["/api/stats", "/api/connections", "/api/upstreams", "/api/rules", "/api/traffic"].map(getJson));
      renderStats(stats);
      renderConnections(connections);
      renderParents(upstreams);
      renderWouldDeny(stats.topWouldDeny, renderRules(rules)); // the mode first: the charts show would-denies in report mode
      renderTraffic(traffic);
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
