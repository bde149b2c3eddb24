// Observatory console: one ES module, no framework. The server renders each page's shell (navigation,
// the range/filter form); this fills its panels from the read API (/v1/...), which accepts the session
// cookie on GET. Every figure carries its raw value in data-value (tests compare them with the API).
// Charts are inline SVG. Every panel says its empty state in words.

const body = document.body;
const page = body.dataset.page;
const today = body.dataset.today; // the server's date (UTC): ranges follow the server's clock
const params = new URLSearchParams(location.search);
const panels = document.getElementById("panels");
const status = document.getElementById("status");
const WEB_FILTERS = ["page", "source", "referrer", "country", "device", "browser", "os", "site"];
const DAY = 86400000;

// -- elements -------------------------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}
const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

function panel(id, title, wide = false) {
  const content = h("div", {class: "content"}, h("p", {class: "loading", text: "Loading…"}));
  const section = h("section", {class: wide ? "panel wide" : "panel", id: `panel-${id}`, "aria-labelledby": `h-${id}`, "data-panel": id},
    h("h2", {id: `h-${id}`, text: title}), content);
  panels.append(section);
  return content;
}
function fill(content, ...children) { content.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined)); }
function empty(content, text) { fill(content, h("p", {class: "empty", "data-empty": "1", text})); }

// -- formats --------------------------------------------------------------------------------------
const nf = new Intl.NumberFormat("en", {maximumFractionDigits: 0});
const nf2 = new Intl.NumberFormat("en", {maximumFractionDigits: 2});
const FMT = {
  int: (v) => nf.format(v),
  num: (v) => nf2.format(v),
  money: (v) => nf2.format(v),
  pct: (v) => `${nf2.format(v * 100)}%`,
  dur: (v) => (v >= 60 ? `${Math.floor(v / 60)}m ${Math.round(v % 60)}s` : `${Math.round(v)}s`),
  text: (v) => (v === "" ? "(unknown)" : String(v)),
};
const fmt = (kind, v) => (v === null || v === undefined ? "–" : (FMT[kind] || FMT.num)(v));

// -- ranges ---------------------------------------------------------------------------------------
const day = (iso) => new Date(`${iso}T00:00:00Z`);
const iso = (d) => d.toISOString().slice(0, 10);
function range() {
  const r = params.get("range") || "30d";
  const t = day(today);
  let start, end = new Date(t.getTime() + DAY);
  const from = params.get("from"), to = params.get("to");
  if (r === "today") start = t;
  else if (r === "custom" && /^\d{4}-\d{2}-\d{2}$/.test(from || "") && /^\d{4}-\d{2}-\d{2}$/.test(to || "") && from <= to) {
    start = day(from); end = new Date(day(to).getTime() + DAY);
  } else start = new Date(end.getTime() - ({"7d": 7, "90d": 90}[r] || 30) * DAY);
  const days = Math.round((end - start) / DAY);
  const prevStart = new Date(start.getTime() - days * DAY);
  return {start: iso(start), end: iso(end), prevStart: iso(prevStart), prevEnd: iso(start), days,
          granularity: days <= 2 ? "hour" : "day"};
}

// -- the read API ---------------------------------------------------------------------------------
async function api(path, query = {}) {
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== "" && v !== null && v !== undefined));
  const url = `/v1/${path}${qs.toString() ? `?${qs}` : ""}`;
  let res;
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
    } catch (e) {
      return {ok: false, status: 0, url, data: {message: `the server did not answer (${e.message})`}};
    }
    if (res.status !== 503 || attempt >= 5 || !res.headers.get("Retry-After")) break;
    // busy (a forecast fit is running): wait as the server says, a few times
    await new Promise((ok) => setTimeout(ok, Math.min(30, Number(res.headers.get("Retry-After")) || 1) * 1000));
  }
  if (res.status === 401) { location.reload(); return new Promise(() => {}); } // session over: sign-in page
  const data = await res.json().catch(() => ({}));
  return {ok: res.ok, status: res.status, url, data};
}
function failure(content, r, what) {
  if (r.status === 404 && r.data.error !== "churn_disabled") return empty(content, `${what}: this server does not serve ${r.url.split("?")[0]} yet.`);
  return empty(content, `${what}: ${r.data.message || `the server answered ${r.status}`}.`);
}

// -- building blocks ------------------------------------------------------------------------------
function kpi(label, name, value, kind, change, changeKind = "ratio") {
  let delta = null;
  if (change !== undefined) {
    if (change === null) delta = h("span", {class: "change", text: "no previous data"});
    else {
      const text = changeKind === "points" ? `${change >= 0 ? "+" : ""}${nf2.format(change * 100)} pts` : `${change >= 0 ? "+" : ""}${nf2.format(change * 100)}%`;
      delta = h("span", {class: `change ${change > 0 ? "up" : change < 0 ? "down" : ""}`, "data-change": name, "data-value": change},
        `${text} vs previous period`);
    }
  }
  return h("div", {class: "kpi"}, h("span", {class: "label", text: label}),
    h("span", {class: "value", "data-metric": name, "data-value": value ?? "", text: fmt(kind, value)}), delta);
}
function ratio(cur, prev) { return prev ? (cur - prev) / prev : null; }

function table(name, columns, rows, caption) {
  const head = h("tr", {}, columns.map((c) => h("th", {scope: "col", class: c.kind && c.kind !== "text" ? "num" : "", text: c.label})));
  const trs = rows.map((r) => h("tr", {"data-row": ""}, columns.map((c) =>
    h("td", {class: c.kind && c.kind !== "text" ? "num" : "", "data-col": c.key, "data-value": r[c.key] ?? "", text: fmt(c.kind || "text", r[c.key])}))));
  return h("div", {class: "scroll"}, h("table", {"data-table": name}, caption ? h("caption", {text: caption}) : null,
    h("thead", {}, head), h("tbody", {}, trs)));
}

// a line chart: series [{name, points: [[Date, y]], cls}], band [[Date, lo, hi]], marks [[Date, y]]
function chart(label, series, band = [], marks = []) {
  // drawn at the panel's own width, so the axis labels keep their size on a phone
  const W = Math.max(300, Math.min(1200, panels.clientWidth - 28)), H = 220, L = 48, R = 8, T = 10, B = 24;
  const xs = [...series.flatMap((x) => x.points.map((p) => +p[0])), ...band.map((b) => +b[0])];
  const ys = [...series.flatMap((x) => x.points.map((p) => p[1])), ...band.flatMap((b) => [b[1], b[2]]), 0];
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y1 = Math.max(...ys) || 1;
  const X = (t) => L + ((+t - x0) / Math.max(1, x1 - x0)) * (W - L - R);
  const Y = (v) => T + (1 - v / y1) * (H - T - B);
  const svg = s("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "chart"});
  svg.append(s("line", {x1: L, x2: W - R, y1: Y(0), y2: Y(0), class: "axis"}));
  for (const [v, y] of [[y1, Y(y1)], [y1 / 2, Y(y1 / 2)]]) {
    svg.append(s("line", {x1: L, x2: W - R, y1: y, y2: y, class: "grid"}));
    const t = s("text", {x: L - 4, y: y + 4, class: "tick", "text-anchor": "end"}); t.textContent = nf.format(v); svg.append(t);
  }
  for (const t of [x0, x1]) {
    const el = s("text", {x: X(t), y: H - 6, class: "tick", "text-anchor": t === x0 ? "start" : "end"});
    el.textContent = iso(new Date(t)); svg.append(el);
  }
  if (band.length) {
    const pts = [...band.map((b) => `${X(b[0])},${Y(b[2])}`), ...band.slice().reverse().map((b) => `${X(b[0])},${Y(b[1])}`)];
    svg.append(s("polygon", {points: pts.join(" "), class: "band"}));
  }
  series.forEach((x, i) => svg.append(s("polyline", {points: x.points.map((p) => `${X(p[0])},${Y(p[1])}`).join(" "), class: `line ${x.cls || `s${i}`}`})));
  for (const m of marks) {
    const c = s("circle", {cx: X(m[0]), cy: Y(m[1]), r: 4, class: "mark"});
    const title = s("title"); title.textContent = `anomaly ${iso(new Date(m[0]))}: ${nf2.format(m[1])}`; c.append(title); svg.append(c);
  }
  const legend = h("ul", {class: "legend"}, series.map((x, i) => h("li", {class: x.cls || `s${i}`, text: x.name})),
    band.length ? h("li", {class: "band", text: "95% band"}) : null, marks.length ? h("li", {class: "mark", text: `anomalies (${marks.length})`}) : null);
  return h("figure", {class: "chart-box"}, svg, legend);
}
const at = (v) => new Date(String(v).length === 10 ? `${v}T00:00:00Z` : v);

// -- pages ----------------------------------------------------------------------------------------
async function webPage() {
  const r = range();
  const filters = Object.fromEntries(WEB_FILTERS.map((f) => [f, params.get(f) || ""]).filter(([, v]) => v));
  const described = Object.entries(filters).map(([k, v]) => `${k}=${v}`).join(", ");
  const live = panel("live", "Visitors in the last 5 minutes");
  const totals = panel("totals", "Overview", true);
  const series = panel("series", "Visitors and pageviews", true);
  const lists = [["pages", "Top pages", "Page", "pageviews"], ["entry_pages", "Entry pages", "Page", "sessions"],
    ["exit_pages", "Exit pages", "Page", "sessions"], ["sources", "Sources", "Source", "sessions"],
    ["referrers", "Referrers", "Referrer", "sessions"], ["utm_campaigns", "UTM campaigns", "Campaign", "sessions"],
    ["devices", "Devices", "Device", "sessions"], ["browsers", "Browsers", "Browser", "sessions"],
    ["os", "Operating systems", "OS", "sessions"], ["countries", "Countries", "Country", "sessions"]]
    .map(([key, title, label, measure]) => ({key, label, measure, content: panel(key, title)}));
  const [o, l] = await Promise.all([
    api("web/overview", {start: r.start, end: r.end, granularity: r.granularity, limit: 10, ...filters}),
    api("web/live", {minutes: 5, site: filters.site}),
  ]);
  const showLive = (x) => {
    if (x.ok) fill(live, kpi("visitors now", "live.visitors", x.data.visitors, "int"), x.data.message ? h("p", {class: "empty", text: x.data.message}) : null);
    else failure(live, x, "Live visitors");
  };
  showLive(l);
  setInterval(async () => showLive(await api("web/live", {minutes: 5, site: filters.site})), 30000); // stays live
  const all = [totals, series, ...lists.map((x) => x.content)];
  if (!o.ok) return all.forEach((c) => failure(c, o, "Web analytics"));
  const d = o.data, t = d.totals, p = d.previous || {}, ch = d.change || {};
  const none = d.message || `No pageviews between ${r.start} and ${r.end}${described ? ` with ${described}` : ""}.`;
  if (!t || !t.sessions) return all.forEach((c) => empty(c, none));
  fill(totals, h("div", {class: "kpis"},
    kpi("Visitors", "web.visitors", t.visitors, "int", ch.visitors ?? ratio(t.visitors, p.visitors)),
    kpi("Pageviews", "web.pageviews", t.pageviews, "int", ch.pageviews ?? ratio(t.pageviews, p.pageviews)),
    kpi("Sessions", "web.sessions", t.sessions, "int", ch.sessions ?? ratio(t.sessions, p.sessions)),
    kpi("Bounce rate", "web.bounce_rate", t.bounce_rate, "pct", ch.bounce_rate ?? null, "points"),
    kpi("Visit duration", "web.avg_session_duration_s", t.avg_session_duration_s, "dur", ch.avg_session_duration_s ?? null)));
  const rows = d.series || [];
  if (!rows.length) empty(series, none);
  else fill(series, chart(`Visitors and pageviews per ${r.granularity}, ${r.start} to ${r.end}`, [
    {name: "visitors", points: rows.map((x) => [at(x.bucket), x.visitors])},
    {name: "pageviews", points: rows.map((x) => [at(x.bucket), x.pageviews])}]),
    h("details", {}, h("summary", {text: "As a table"}), table("series", [{key: "bucket", label: r.granularity},
      {key: "visitors", label: "Visitors", kind: "int"}, {key: "pageviews", label: "Pageviews", kind: "int"}], rows)));
  for (const x of lists) {
    const rs = d[x.key] || [];
    if (!rs.length) empty(x.content, `No ${x.label.toLowerCase()} data in this range${described ? ` with ${described}` : ""}.`);
    else fill(x.content, table(x.key, [{key: "value", label: x.label}, {key: x.measure, label: x.measure[0].toUpperCase() + x.measure.slice(1), kind: "int"},
      {key: "visitors", label: "Visitors", kind: "int"}], rs));
  }
}

async function businessPage() {
  const r = range();
  const kpis = panel("kpis", "Key figures", true);
  const revenue = panel("revenue", "Revenue per day", true);
  const funnel = panel("funnel", "Funnel");
  const products = panel("products", "Top products by revenue");
  const retention = panel("retention", "Retention cohorts (weekly)", true);
  const churn = panel("churn", "Churn risk by segment", true);
  const q = {start: r.start, end: r.end};
  const lastDay = iso(new Date(day(r.end).getTime() - DAY));
  const [k, kp, wm, rv, fn, tp, rc, cu] = await Promise.all([
    api("analytics/kpi_summary", q), api("analytics/kpi_summary", {start: r.prevStart, end: r.prevEnd}),
    api("analytics/wau_mau", {start: lastDay, end: r.end}), api("analytics/revenue", {...q, granularity: "day"}),
    api("analytics/funnel", {...q, steps: params.get("steps") || ""}), api("analytics/top_products_by_revenue", {...q, limit: 10}),
    api("analytics/retention_cohorts", q), api("churn"),
  ]);
  if (!k.ok) failure(kpis, k, "Key figures");
  else {
    const c = k.data.rows[0] || {}, p = (kp.ok && kp.data.rows[0]) || {};
    const w = (wm.ok && wm.data.rows[wm.data.rows.length - 1]) || {};
    fill(kpis, h("div", {class: "kpis"},
      kpi("Revenue", "biz.revenue", c.revenue, "money", ratio(c.revenue, p.revenue)),
      kpi("Orders", "biz.orders", c.orders, "int", ratio(c.orders, p.orders)),
      kpi("Average order value", "biz.average_order_value", c.average_order_value, "money", ratio(c.average_order_value, p.average_order_value)),
      kpi("Conversion", "biz.purchase_conversion", c.purchase_conversion, "pct", p.purchase_conversion === undefined ? null : c.purchase_conversion - p.purchase_conversion, "points"),
      kpi(`DAU (${lastDay})`, "biz.dau", w.dau, "int"), kpi("WAU", "biz.wau", w.wau, "int"), kpi("MAU", "biz.mau", w.mau, "int")));
    if (!c.active_users) kpis.append(h("p", {class: "empty", "data-empty": "1", text: `No events between ${r.start} and ${r.end}.`}));
  }
  if (!rv.ok) failure(revenue, rv, "Revenue");
  else if (!rv.data.rows.some((x) => x.orders)) empty(revenue, `No purchases between ${r.start} and ${r.end}.`);
  else fill(revenue, chart(`Revenue per day, ${r.start} to ${r.end}`, [{name: "revenue", points: rv.data.rows.map((x) => [at(x.bucket), x.revenue])}]));
  if (!fn.ok) failure(funnel, fn, "Funnel");
  else if (!fn.data.rows.length || !fn.data.rows[0].users) empty(funnel, `Nobody did the funnel's first step (${fn.data.rows[0]?.event_name || "?"}) in this range.`);
  else {
    const top = fn.data.rows[0].users;
    fill(funnel, h("ol", {class: "funnel"}, fn.data.rows.map((x) => h("li", {},
      h("span", {class: "step", text: x.event_name}),
      h("span", {class: "bar", "aria-hidden": "true", "data-width": Math.round((x.users / top) * 100)}),
      h("span", {class: "num", "data-metric": `funnel.${x.step}`, "data-value": x.users, text: `${fmt("int", x.users)} · ${fmt("pct", x.conversion_from_start)}`})))));
    funnel.querySelectorAll(".bar").forEach((b) => { b.style.inlineSize = `${b.dataset.width}%`; });
  }
  if (!tp.ok) failure(products, tp, "Top products");
  else if (!tp.data.rows.length) empty(products, "No products sold in this range.");
  else fill(products, table("top_products", [{key: "product_id", label: "Product"}, {key: "revenue", label: "Revenue", kind: "money"},
    {key: "units", label: "Units", kind: "int"}, {key: "orders", label: "Orders", kind: "int"}], tp.data.rows));
  if (!rc.ok) failure(retention, rc, "Retention");
  else if (!rc.data.rows.length) empty(retention, "No cohort started in this range: retention needs a week with new users.");
  else fill(retention, heatmap(rc.data.rows));
  if (!cu.ok) failure(churn, cu, "Churn");
  else if (!cu.data.cutoff) empty(churn, cu.data.message || "No churn scores yet.");
  else {
    const rows = Object.entries(cu.data.segments).flatMap(([seg, xs]) => xs.map((x) => ({segment: seg, ...x})));
    fill(churn, h("p", {class: "note", text: `Scored at ${cu.data.cutoff}.`}), table("churn", [{key: "segment", label: "Segment"}, {key: "value", label: "Value"},
      {key: "users", label: "Users", kind: "int"}, {key: "mean_probability", label: "Mean risk", kind: "pct"}, {key: "at_risk", label: "At risk", kind: "int"}], rows));
  }
}

function heatmap(rows) {
  const weeks = [...new Set(rows.map((x) => x.cohort_week))].sort();
  const offsets = [...new Set(rows.map((x) => x.week_offset))].sort((a, b) => a - b);
  const cell = new Map(rows.map((x) => [`${x.cohort_week}|${x.week_offset}`, x]));
  return h("div", {class: "scroll"}, h("table", {class: "heat", "data-table": "retention"},
    h("thead", {}, h("tr", {}, h("th", {scope: "col", text: "Cohort"}), h("th", {scope: "col", class: "num", text: "Users"}),
      offsets.map((o) => h("th", {scope: "col", class: "num", text: `W${o}`})))),
    h("tbody", {}, weeks.map((w) => {
      const first = rows.find((x) => x.cohort_week === w);
      return h("tr", {"data-row": ""}, h("th", {scope: "row", text: w}), h("td", {class: "num", "data-col": "cohort_size", "data-value": first.cohort_size, text: fmt("int", first.cohort_size)}),
        offsets.map((o) => {
          const x = cell.get(`${w}|${o}`);
          if (!x) return h("td", {});
          const level = Math.min(9, Math.floor(x.retention * 10));
          return h("td", {class: `num heat${level}`, "data-col": `W${o}`, "data-value": x.retention, title: `${fmt("int", x.active_users)} users`, text: fmt("pct", x.retention)});
        }));
    }))));
}

async function forecastsPage() {
  const list = await api("forecast");
  if (!list.ok) return failure(panel("forecast", "Forecasts"), list, "Forecasts");
  const metrics = list.data.scheduled.length ? list.data.scheduled : ["revenue", "orders", "dau", "signups"];
  await Promise.all(metrics.map(async (m) => {
    const content = panel(`fc-${m.replace(/[^a-z0-9]/gi, "-")}`, `Forecast: ${m}`, true);
    const r = await api(`forecast/${encodeURIComponent(m)}`, {periods: 30, granularity: "day", history: 90});
    if (!r.ok) {
      if (r.data.error === "insufficient_history") return empty(content, `Forecasts need ${r.data.needed} ${r.data.granularity || "day"}s of history: ${r.data.have} so far.`);
      return failure(content, r, `Forecast of ${m}`);
    }
    const d = r.data, bt = d.model.backtest || {}, kind = (d.model.model || {}).kind || bt.chosen || "?";
    const history = (d.history || []).map((x) => [at(x.ds), x.y]);
    const lines = [{name: "forecast", points: d.points.map((x) => [at(x.ds), x.yhat]), cls: "s1"}];
    if (history.length) lines.unshift({name: "history", points: history, cls: "s0"});
    const band = d.points.map((x) => [at(x.ds), x.yhat_lower, x.yhat_upper]);
    const marks = (d.anomalies || []).map((x) => [at(x.ds), x.y]);
    fill(content,
      chart(`${m}: history, forecast and 95% band`, lines, band, marks),
      h("dl", {class: "facts"},
        h("dt", {text: "Model serving"}), h("dd", {"data-metric": `fc.${m}.model`, "data-value": kind, text: kind}),
        h("dt", {text: "Backtest MAE / best baseline"}), h("dd", {"data-metric": `fc.${m}.relative_mae`, "data-value": bt.relative_mae ?? "",
          text: bt.relative_mae === undefined || bt.relative_mae === null ? "not backtested yet" : `${nf2.format(bt.relative_mae)} (best baseline: ${bt.best_baseline}; < 1 beats it)`}),
        h("dt", {text: "Band coverage (held out)"}), h("dd", {text: typeof bt.coverage === "number" ? `${fmt("pct", bt.coverage)} of held-out points inside` : "not measured yet"}),
        h("dt", {text: "Anomalies in the shown history"}), h("dd", {"data-metric": `fc.${m}.anomalies`, "data-value": marks.length, text: d.anomalies ? String(marks.length) : "not reported by this server"})),
      d.message ? h("p", {class: "empty", text: d.message}) : null);
  }));
}

async function healthPage() {
  const titles = {ingest: "Ingest", queue: "Queue", consumer: "Consumer", store: "Store (accepted → queryable)", alerts: "Firing alerts"};
  const content = Object.fromEntries(Object.entries(titles).map(([k, t]) => [k, panel(k, t, k === "alerts")]));
  const r = await api("health/summary");
  if (!r.ok) return Object.values(content).forEach((c) => failure(c, r, "Health"));
  const d = r.data, miss = d.missing || {};
  const section = (key, items) => {
    const part = d[key], c = content[key];
    if (!part) return empty(c, miss[key] ? `Not available here: ${miss[key]}.` : "Not reported by this server.");
    fill(c, h("div", {class: "kpis"}, items.map(([label, name, kind]) => kpi(label, `health.${key}.${name}`, part[name], kind))));
  };
  section("ingest", [["Accepted per second", "accepted_per_s", "num"], ["Accepted (total)", "accepted_total", "int"], ["4xx answers", "http_4xx_total", "int"], ["5xx answers", "http_5xx_total", "int"]]);
  section("queue", [["Queue depth", "depth", "int"], ["Consumers", "consumers", "int"]]);
  section("consumer", [["Consumer lag (messages)", "lag_messages", "int"], ["Accepted → queryable p50 (s)", "accepted_to_queryable_p50_s", "num"], ["Accepted → queryable p95 (s)", "accepted_to_queryable_p95_s", "num"], ["Last insert (s ago)", "last_insert_age_s", "num"]]);
  if (d.store && d.store.reachable === false) empty(content.store, `ClickHouse does not answer: ${d.store.error}.`);
  else section("store", [["Rows stored per second (5 min)", "inserted_per_s_5m", "num"], ["Rows stored in the last hour", "rows_inserted_last_hour", "int"], ["Accepted → queryable p50 (s)", "accepted_to_queryable_p50_s", "num"], ["Accepted → queryable p95 (s)", "accepted_to_queryable_p95_s", "num"], ["Newest row (s ago)", "newest_insert_age_s", "num"]]);
  const a = d.alerts || {}, al = content.alerts;
  if (!a.configured) empty(al, "Alerts are not connected: set OBS_FORECASTER_ALERTMANAGER_URL to list the firing ones here.");
  else if (a.error) empty(al, `Alertmanager did not answer: ${a.error}.`);
  else if (!a.firing.length) empty(al, "No alert is firing.");
  else fill(al, h("ul", {class: "alerts"}, a.firing.map((x) => h("li", {class: `sev-${x.severity}`, "data-alert": x.name},
    h("strong", {text: x.name}), ` (${x.severity}) since ${x.starts_at}: ${x.summary || ""} `,
    x.runbook_url ? h("a", {href: x.runbook_url, text: `runbook for ${x.name}`}) : null))));
}

// -- start ----------------------------------------------------------------------------------------
function customFields() {
  const form = document.querySelector("form.controls");
  // a shared URL holds only what was chosen: empty filters (and unused custom dates) are left out
  if (form) form.addEventListener("submit", () => form.querySelectorAll("input, select").forEach((el) => {
    if (!el.value || (el.closest(".field.custom") && el.closest(".field").hidden)) el.disabled = true;
  }));
  const select = document.getElementById("range");
  if (!select) return;
  const show = () => document.querySelectorAll(".field.custom").forEach((f) => { f.hidden = select.value !== "custom"; });
  select.addEventListener("change", show);
  show();
}

customFields();
const started = performance.now();
({web: webPage, business: businessPage, forecasts: forecastsPage, health: healthPage})[page]()
  .catch((e) => { status.textContent = `Something went wrong: ${e.message}`; })
  .finally(() => {
    if (!status.textContent.startsWith("Something")) status.textContent = `Updated ${new Date().toISOString().slice(11, 19)} UTC`;
    body.dataset.ready = "1";
    body.dataset.loadMs = String(Math.round(performance.now() - started));
  });
