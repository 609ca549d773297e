// The review page of a sitrep run. Everything it needs is in the JSON data element: no request
// leaves the page. Evidence offsets arrive as UTF-16 code units, the units of JS strings.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const STORE_KEY = "sitrep-review:" + DATA.key;
  const records = new Map(DATA.records.map((r) => [r.key, r]));
  // Record ids need not be unique; the page names records by `key`, events by incident id.
  const byIncident = new Map();
  DATA.records.forEach((r) => { if (r.kind === "incident" && !byIncident.has(r.id)) byIncident.set(r.id, r.key); });
  const articles = new Map(DATA.articles.map((a) => [a.id, a]));
  const COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700", "#bf3989", "#0550ae", "#57606a"];
  let decisions = loadDecisions();
  let current = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  // Decisions: {record id: {decision: "accepted" | "rejected", edits: {path: value}}}.
  function loadDecisions() {
    try {
      const stored = window.localStorage.getItem(STORE_KEY);
      return stored ? JSON.parse(stored) : {};
    } catch (error) {
      return {};
    }
  }

  function saveDecisions() {
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify(decisions));
    } catch (error) {
      status("decisions cannot be stored in this browser: export them before closing");
    }
  }

  function state(id) {
    const d = decisions[id];
    if (!d) return "undecided";
    if (d.decision === "accepted" && d.edits && Object.keys(d.edits).length) return "corrected";
    return d.decision;
  }

  function status(message) {
    document.getElementById("status").textContent = message;
  }

  // Field paths: "where.name", "casualties[0].best". Evidence is not edited here.
  function leafPaths(value, prefix, out) {
    if (Array.isArray(value)) {
      value.forEach((item, n) => leafPaths(item, prefix + "[" + n + "]", out));
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) {
        if (key === "evidence") continue;
        leafPaths(item, prefix ? prefix + "." + key : key, out);
      }
    } else {
      out.push(prefix);
    }
    return out;
  }

  function splitPath(path) {
    return path.split(/\.|\[(\d+)\]/).filter((part) => part !== undefined && part !== "")
      .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  }

  function getPath(obj, path) {
    return splitPath(path).reduce((node, key) => (node == null ? undefined : node[key]), obj);
  }

  function setPath(obj, path, value) {
    const keys = splitPath(path);
    let node = obj;
    for (const key of keys.slice(0, -1)) node = node[key];
    node[keys[keys.length - 1]] = value;
  }

  function corrected(record) {
    const data = JSON.parse(JSON.stringify(record.data));
    const edits = (decisions[record.key] || {}).edits || {};
    for (const [path, value] of Object.entries(edits)) setPath(data, path, value);
    return data;
  }

  function show(value) {
    return value === null || value === undefined ? "—" : String(value);
  }

  // ---- articles, their highlighted text and their records ----
  function highlighted(article) {
    const box = el("div", { class: "text" });
    if (typeof article.text !== "string") {
      box.append(el("p", { class: "missing", text: "The run did not record this article's text." }));
      return box;
    }
    const text = article.text;
    const spans = [];
    for (const id of article.records) {
      for (const span of records.get(id).spans) {
        if (span.end > span.start) spans.push({ start: span.start, end: span.end, record: id });
      }
    }
    const cuts = new Set([0, text.length]);
    spans.forEach((s) => { cuts.add(s.start); cuts.add(s.end); });
    const bounds = [...cuts].sort((x, y) => x - y);
    for (let i = 0; i + 1 < bounds.length; i++) {
      const [from, to] = [bounds[i], bounds[i + 1]];
      const piece = text.slice(from, to);
      const covering = spans.filter((s) => s.start <= from && s.end >= to);
      if (!covering.length) {
        box.append(piece);
        continue;
      }
      // A click selects the record of the narrowest span under it.
      covering.sort((x, y) => (x.end - x.start) - (y.end - y.start));
      const ids = [...new Set(covering.map((s) => s.record))];
      box.append(el("mark", { "data-record": ids[0], "data-records": ids.join(" "), text: piece }));
    }
    return box;
  }

  function recordItem(record) {
    const item = el("li", { class: "record", id: "record-" + record.key, "data-key": record.key, "data-id": record.id, tabindex: "-1" });
    item.append(el("span", { class: "decision" }));
    item.append(el("strong", { text: record.label }));
    if (record.salience) item.append(" · " + record.salience);
    if (record.summary) item.append(el("div", { text: record.summary }));
    item.append(el("div", { text: [show(record.date), show(record.place), show(record.country)].join(" · ") }));
    item.append(el("dl", { class: "fields" }));
    item.addEventListener("click", () => select(record.key, false));
    return item;
  }

  function renderRecord(id) {
    const record = records.get(id);
    const item = document.getElementById("record-" + id);
    const decided = state(id);
    item.dataset.decision = decided;
    item.querySelector(".decision").textContent = decided;
    const edits = (decisions[id] || {}).edits || {};
    const data = corrected(record);
    const fields = item.querySelector(".fields");
    fields.replaceChildren();
    for (const path of leafPaths(data, "", [])) {
      fields.append(el("dt", { class: path in edits ? "edited" : "", text: path }));
      fields.append(el("dd", { class: path in edits ? "edited" : "", text: show(getPath(data, path)) }));
    }
    renderProgress(record.article_id);
  }

  function renderProgress(articleId) {
    const ids = articles.get(articleId).records;
    const done = ids.filter((id) => state(id) !== "undecided").length;
    const node = document.getElementById("progress-" + articleId);
    if (node) node.textContent = ids.length ? done + "/" + ids.length + " reviewed" : "no records";
  }

  function renderArticles() {
    const main = document.getElementById("articles");
    for (const article of DATA.articles) {
      const section = el("section", { class: "article", id: "article-" + article.id, "data-id": article.id });
      const title = article.title || article.source || article.id;
      section.append(el("div", { class: "article-head" },
        el("h2", { text: title }),
        el("p", { text: "id " + article.id + " · published " + show(article.published) + " · " },
          el("span", { id: "progress-" + article.id }))));
      const list = el("ol", { class: "records" });
      article.records.forEach((id) => list.append(recordItem(records.get(id))));
      section.append(el("div", { class: "article-body" }, highlighted(article), list));
      main.append(section);
      article.records.forEach(renderRecord);
      renderProgress(article.id);
    }
    main.addEventListener("click", (event) => {
      const mark = event.target.closest("mark[data-record]");
      if (mark) select(mark.dataset.record, false);
    });
  }

  // ---- selection and filters ----
  function visibleRecords() {
    return DATA.records.filter((r) => !document.getElementById("record-" + r.key).classList.contains("hidden"));
  }

  function select(id, scroll) {
    current = id;
    document.querySelectorAll(".record.selected").forEach((n) => n.classList.remove("selected"));
    document.querySelectorAll("mark.current").forEach((n) => n.classList.remove("current"));
    if (id === null) return;
    const item = document.getElementById("record-" + id);
    item.classList.add("selected");
    document.querySelectorAll("mark").forEach((mark) => {
      if (mark.dataset.records.split(" ").includes(id)) mark.classList.add("current");
    });
    if (scroll) item.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const shown = visibleRecords();
    if (!shown.length) return;
    const at = shown.findIndex((r) => r.key === current);
    const next = at < 0 ? (step > 0 ? 0 : shown.length - 1) : Math.min(Math.max(at + step, 0), shown.length - 1);
    select(shown[next].key, true);
  }

  function filters() {
    const value = (id) => document.getElementById(id).value;
    return {
      eventType: value("filter-event-type"), salience: value("filter-salience"),
      country: value("filter-country"), from: value("filter-from"), to: value("filter-to"),
    };
  }

  function passes(f, eventType, saliences, country, date) {
    if (f.eventType && eventType !== f.eventType) return false;
    if (f.salience && !saliences.includes(f.salience)) return false;
    if (f.country && country !== f.country) return false;
    if ((f.from || f.to) && !date) return false;
    if (f.from && date < f.from) return false;
    if (f.to && date > f.to) return false;
    return true;
  }

  function recordPasses(f, r) {
    return passes(f, r.event_type, [r.salience], r.country, r.date);
  }

  function eventPasses(f, e) {
    const saliences = (e.members || []).map((m) => m.salience);
    return passes(f, e.event_type, saliences, (e.where || {}).country, (e.when || {}).start);
  }

  function applyFilters() {
    const f = filters();
    const active = Object.values(f).some(Boolean);
    for (const r of DATA.records) {
      const ok = recordPasses(f, r);
      document.getElementById("record-" + r.key).classList.toggle("hidden", !ok);
      document.querySelectorAll("mark").forEach((mark) => {
        if (mark.dataset.record === r.key) mark.classList.toggle("filtered", !ok);
      });
    }
    for (const a of DATA.articles) {
      const shown = a.records.some((id) => recordPasses(f, records.get(id)));
      document.getElementById("article-" + a.id).classList.toggle("hidden", active && !shown);
    }
    if (current && !recordPasses(f, records.get(current))) select(null, false);
    for (const e of DATA.events || []) {
      const node = document.getElementById("event-" + e.id);
      if (node) node.classList.toggle("hidden", !eventPasses(f, e));
    }
    drawTimeline(f);
    const shown = visibleRecords().length;
    document.getElementById("counts").textContent = DATA.articles.length + " articles, " +
      DATA.records.length + " records (" + shown + " shown), " +
      (DATA.events ? DATA.events.length + " merged events, " : "") +
      DATA.failures.length + " failures, " + DATA.unplaced.length + " unplaced evidence";
  }

  function fillFilters() {
    const options = (id, values) => {
      const select = document.getElementById(id);
      [...new Set(values.filter(Boolean))].sort().forEach((v) => select.append(el("option", { value: v, text: v })));
      select.addEventListener("change", applyFilters);
    };
    const events = DATA.events || [];
    options("filter-event-type", DATA.records.map((r) => r.event_type).concat(events.map((e) => e.event_type)));
    options("filter-salience", DATA.records.map((r) => r.salience));
    options("filter-country", DATA.records.map((r) => r.country).concat(events.map((e) => (e.where || {}).country)));
    ["filter-from", "filter-to"].forEach((id) => document.getElementById(id).addEventListener("change", applyFilters));
  }

  // ---- timeline: one dot per event (per incident before any merge), stacked by day ----
  function drawTimeline(f) {
    const merged = DATA.events !== null;
    document.getElementById("timeline-title").textContent = merged
      ? "Timeline of merged events" : "Timeline of incidents (no events merged yet)";
    const items = merged
      ? DATA.events.filter((e) => eventPasses(f, e)).map((e) => ({
        date: (e.when || {}).start, type: e.event_type, target: "event-" + e.id,
        label: show((e.when || {}).start) + " " + e.event_type + " at " + show((e.where || {}).name) + " (" + show(e.sources) + " sources)",
      }))
      : DATA.records.filter((r) => r.kind === "incident" && recordPasses(f, r)).map((r) => ({
        date: r.date, type: r.event_type, record: r.key, label: show(r.date) + " " + r.label + " at " + show(r.place),
      }));
    const dated = items.filter((i) => i.date);
    const box = document.getElementById("timeline");
    box.replaceChildren();
    if (!dated.length) {
      box.append(el("p", { class: "missing", text: "Nothing dated to draw." }));
      return;
    }
    const NS = "http://www.w3.org/2000/svg";
    const svgEl = (tag, attrs) => {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      return node;
    };
    const day = (d) => Date.parse(d + "T00:00:00Z") / 86400000;
    const days = dated.map((i) => day(i.date));
    const [lo, hi] = [Math.min(...days), Math.max(...days)];
    const width = 900, left = 20, right = 20, base = 130, r = 5;
    const x = (d) => left + (hi === lo ? (width - left - right) / 2 : ((d - lo) / (hi - lo)) * (width - left - right));
    const types = [...new Set(dated.map((i) => i.type))].sort();
    const stack = {};
    let top = base;
    const dots = dated.map((item) => {
      const d = day(item.date);
      const level = (stack[d] = (stack[d] || 0) + 1);
      const cy = base - level * (2 * r + 2);
      top = Math.min(top, cy - r);
      return { item, cx: x(d), cy };
    });
    const height = base + 40 + Math.max(0, 10 - top);
    const shift = Math.max(0, 10 - top);
    const svg = svgEl("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" });
    svg.append(svgEl("line", { x1: left, x2: width - right, y1: base + shift, y2: base + shift, stroke: "#57606a" }));
    const tick = (d, anchor) => {
      const label = svgEl("text", { x: x(d), y: base + shift + 16, "text-anchor": anchor, "font-size": 11 });
      label.textContent = new Date(d * 86400000).toISOString().slice(0, 10);
      svg.append(label);
    };
    if (hi === lo) tick(lo, "middle");
    else { tick(lo, "start"); tick(hi, "end"); }
    for (const { item, cx, cy } of dots) {
      const dot = svgEl("circle", { cx: cx, cy: cy + shift, r: r, fill: COLORS[types.indexOf(item.type) % COLORS.length] });
      const title = svgEl("title", {});
      title.textContent = item.label;
      dot.append(title);
      dot.addEventListener("click", () => {
        if (item.record) select(item.record, true);
        else flash(document.getElementById(item.target));
      });
      svg.append(dot);
    }
    types.forEach((type, n) => {
      const label = svgEl("text", { x: left + n * 220, y: base + shift + 34, "font-size": 11, fill: COLORS[n % COLORS.length] });
      label.textContent = "● " + type;
      svg.append(label);
    });
    box.append(svg);
  }

  function flash(node) {
    if (!node) return;
    node.scrollIntoView({ block: "nearest" });
    node.classList.add("flash");
    setTimeout(() => node.classList.remove("flash"), 1500);
  }

  // ---- events, failures, unplaced evidence ----
  function renderEvents() {
    const box = document.getElementById("events");
    if (DATA.events === null) {
      box.append(el("p", { class: "missing", id: "no-events", text: "No events were merged yet: run `sitrep merge " + DATA.run + "` and build this page again." }));
      return;
    }
    if (!DATA.events.length) box.append(el("p", { class: "missing", text: "The merge found no events." }));
    for (const e of DATA.events) {
      const where = e.where || {}, when = e.when || {};
      const node = el("div", { class: "event", id: "event-" + e.id },
        el("strong", { text: show(e.event_type) + " / " + show(e.sub_event_type) }),
        " · " + show(when.start) + (when.end && when.end !== when.start ? " to " + when.end : "") +
        " · " + show(where.name) + ", " + show(where.country) + " · " + show(e.sources) + " sources · " + e.id);
      const list = el("ul", {});
      for (const m of e.members || []) {
        const article = articles.get(m.article_id);
        const key = byIncident.get(m.incident_id);
        const link = el("a", { href: "#record-" + (key || ""), text: (article && (article.title || article.source)) || m.article_id });
        link.addEventListener("click", (event) => {
          event.preventDefault();
          if (key) select(key, true);
        });
        list.append(el("li", {}, link, " · " + show(m.salience) + (m.founding ? " · founding" : "") +
          (m.joined_by && m.joined_by.length ? " · joined by " + m.joined_by.join(", ") : "")));
      }
      node.append(list);
      box.append(node);
    }
  }

  function table(rows, columns) {
    const head = el("tr", {}, ...columns.map((c) => el("th", { text: c })));
    const body = rows.map((row) => el("tr", {}, ...columns.map((c) => el("td", { text: show(row[c]) }))));
    return el("table", {}, head, ...body);
  }

  function renderFailures() {
    const box = document.getElementById("failures");
    if (!DATA.failures.length) box.append(el("p", { class: "missing", text: "No article failed." }));
    else box.append(table(DATA.failures, ["article_id", "location", "error_kind", "reason", "attempts"]));
  }

  function renderUnplaced() {
    const box = document.getElementById("unplaced");
    if (!DATA.unplaced.length) box.append(el("p", { class: "missing", text: "Every evidence span was placed in its article." }));
    else box.append(table(DATA.unplaced, ["record", "article_id", "field", "quote", "start", "end", "reason"]));
  }

  // ---- review: accept, reject, correct, export ----
  function decide(decision) {
    if (!current) return status("select a record first (j/k, or click it)");
    if (decision === null) delete decisions[current];
    else decisions[current] = { decision: decision, edits: (decisions[current] || {}).edits || {} };
    saveDecisions();
    renderRecord(current);
    status(records.get(current).label + ": " + state(current));
  }

  function openEditor() {
    if (!current) return status("select a record first (j/k, or click it)");
    const record = records.get(current);
    const data = corrected(record);
    const fieldSelect = document.getElementById("editor-field");
    fieldSelect.replaceChildren(...leafPaths(data, "", []).map((p) => el("option", { value: p, text: p })));
    const input = document.getElementById("editor-value");
    const fill = () => {
      const value = getPath(data, fieldSelect.value);
      input.value = value === null || value === undefined ? "null" : String(value);
    };
    fieldSelect.onchange = fill;
    fill();
    document.getElementById("editor-record").textContent = record.label;
    document.getElementById("editor").showModal();
    fieldSelect.focus();
  }

  function parseValue(original, text) {
    if (text.trim() === "null") return null;
    if (typeof original === "string") return text;
    try {
      const parsed = JSON.parse(text);
      if (parsed === null || ["number", "boolean"].includes(typeof parsed)) return parsed;
    } catch (error) { /* not JSON: kept as text */ }
    return text;
  }

  function saveEdit() {
    const record = records.get(current);
    const path = document.getElementById("editor-field").value;
    const value = parseValue(getPath(record.data, path), document.getElementById("editor-value").value);
    const d = decisions[current] || { decision: "accepted", edits: {} };
    d.decision = "accepted";
    d.edits = d.edits || {};
    if (JSON.stringify(value) === JSON.stringify(getPath(record.data, path))) delete d.edits[path];
    else d.edits[path] = value;
    decisions[current] = d;
    saveDecisions();
    renderRecord(current);
    status(record.label + ": " + path + " = " + show(value));
  }

  // One gold line per article whose every record has a decision: accepted and corrected records
  // kept (without id and provenance), rejected ones dropped.
  function goldLines() {
    const lines = [];
    let partial = 0;
    for (const article of DATA.articles) {
      const ids = article.records;
      const decided = ids.filter((id) => state(id) !== "undecided");
      if (!decided.length) continue;
      if (decided.length < ids.length) { partial++; continue; }
      const line = { article_id: article.id };
      if (article.source) line.path = article.source;
      if (article.published) line.published = article.published;
      line.incidents = [];
      line.statistics = [];
      for (const id of ids) {
        if (state(id) === "rejected") continue;
        const record = records.get(id);
        line[record.kind === "incident" ? "incidents" : "statistics"].push(corrected(record));
      }
      lines.push(JSON.stringify(line));
    }
    return { lines, partial };
  }

  function exportDecisions() {
    const { lines, partial } = goldLines();
    const note = partial ? "; " + partial + " partly reviewed articles left out" : "";
    if (!lines.length) return status("no fully reviewed article to export yet" + note);
    const blob = new Blob([lines.join("\n") + "\n"], { type: "application/x-ndjson" });
    const link = el("a", { href: URL.createObjectURL(blob), download: "decisions-" + DATA.run + ".jsonl" });
    document.body.append(link);
    link.click();
    link.remove();
    status("exported " + lines.length + " reviewed articles as gold" + note);
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.getElementById("editor").open) return;
    if (event.target.closest("input, select, textarea")) return;
    const actions = {
      j: () => move(1), k: () => move(-1), a: () => decide("accepted"), r: () => decide("rejected"),
      u: () => decide(null), e: openEditor, x: exportDecisions,
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  renderArticles();
  renderEvents();
  renderFailures();
  renderUnplaced();
  fillFilters();
  applyFilters();
  document.addEventListener("keydown", onKey);
  document.getElementById("export").addEventListener("click", exportDecisions);
  document.getElementById("editor-form").addEventListener("submit", saveEdit);
  document.getElementById("editor-cancel").addEventListener("click", () => document.getElementById("editor").close());
  document.body.dataset.ready = "true";
})();
