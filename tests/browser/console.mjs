// Drive the web console in Debian's Chromium: the sign-in page without a session, a wrong key, the
// right key, every page (what each panel shows: figures, tables, empty states), a filter, sign-out and a
// replay of the old cookie. Prints one JSON object on stdout. With --screenshots DIR it also writes PNGs
// of each page at desktop and phone width (make screenshots).
import { join } from "node:path";
import { launch } from "./chromium.mjs";

const [base, readKey, wrongKey, ...rest] = process.argv.slice(2);
const shotsAt = rest.indexOf("--screenshots");
const shots = shotsAt >= 0 ? rest[shotsAt + 1] : null;
const query = JSON.parse(process.env.CONSOLE_QUERIES || "{}"); // page -> query string
const filtered = process.env.CONSOLE_FILTER || "device=mobile";
const out = {consoleErrors: [], pages: {}};
const chromium = await launch("obs-console-");
const browser = chromium.browser;

async function dump(page) {
  return page.evaluate(() => {
    const figures = {};
    for (const el of document.querySelectorAll("[data-metric]")) figures[el.dataset.metric] = el.dataset.value;
    const tables = {};
    for (const t of document.querySelectorAll("table[data-table]")) {
      tables[t.dataset.table] = [...t.querySelectorAll("tr[data-row]")].map((tr) =>
        Object.fromEntries([...tr.querySelectorAll("[data-col]")].map((td) => [td.dataset.col, td.dataset.value])));
    }
    const panels = {};
    for (const p of document.querySelectorAll("[data-panel]")) {
      const emptyEl = p.querySelector("[data-empty]");
      panels[p.dataset.panel] = {empty: emptyEl ? emptyEl.textContent : null, text: p.textContent.slice(0, 400),
        charts: p.querySelectorAll("svg.chart").length};
    }
    const alerts = [...document.querySelectorAll("[data-alert]")].map((li) =>
      ({name: li.dataset.alert, runbook: li.querySelector("a")?.getAttribute("href") || null}));
    // accessibility basics: every control has a label, every chart a text alternative
    const unlabelled = [...document.querySelectorAll("input:not([type=hidden]), select")]
      .filter((el) => !el.labels || el.labels.length === 0).map((el) => el.name);
    const chartsWithoutText = [...document.querySelectorAll("svg.chart")].filter((el) => !el.getAttribute("aria-label")).length;
    return {figures, tables, panels, alerts, unlabelled, chartsWithoutText, title: document.title, h1: document.querySelector("h1")?.textContent,
            signIn: !!document.querySelector("#key"), error: document.querySelector(".error")?.textContent || null,
            path: location.pathname + location.search};
  });
}

async function open(page, path) {
  const res = await page.goto(base + path, {waitUntil: "load"});
  if (!(await page.$("#key"))) await page.waitForFunction(() => document.body.dataset.ready === "1", {timeout: 120000});
  // what the page cost: first paint and the bytes transferred (compressed, headers included)
  const perf = await page.evaluate(() => {
    const paint = Object.fromEntries(performance.getEntriesByType("paint").map((e) => [e.name, e.startTime]));
    const nav = performance.getEntriesByType("navigation")[0];
    const resources = performance.getEntriesByType("resource");
    return {firstPaintMs: paint["first-paint"] ?? null, firstContentfulPaintMs: paint["first-contentful-paint"] ?? null,
            bytes: (nav ? nav.transferSize : 0) + resources.reduce((n, r) => n + r.transferSize, 0),
            readyMs: Number(document.body.dataset.loadMs || 0)};
  });
  return {status: res.status(), perf, ...(await dump(page))};
}

async function signIn(page, key) {
  await page.type("#key", key);
  await Promise.all([page.waitForNavigation({waitUntil: "load"}), page.click("button[type=submit]")]);
  if (!(await page.$("#key"))) await page.waitForFunction(() => document.body.dataset.ready === "1", {timeout: 120000});
  return dump(page);
}

try {
  const page = await browser.newPage();
  // script errors only: a 401 sign-in page or a 404 of a route this server lacks is logged by Chromium too
  page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) out.consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => out.consoleErrors.push(String(e)));
  await page.setViewport({width: 1280, height: 900});
  await page.setCacheEnabled(false); // every page load pays for its script and stylesheet (page weight)
  out.noSession = await open(page, "/console/web");
  out.wrongKey = await signIn(page, wrongKey);
  out.signedIn = await signIn(page, readKey);
  out.cookies = (await page.cookies()).map(({name, httpOnly, sameSite, secure, expires, path}) =>
    ({name, httpOnly, sameSite, secure, expires, path}));
  for (const name of ["web", "business", "forecasts", "health"]) {
    out.pages[name] = await open(page, `/console/${name}${query[name] ? `?${query[name]}` : ""}`);
    if (shots) {
      await page.screenshot({path: join(shots, `${name}-desktop.png`), fullPage: true});
      await page.setViewport({width: 390, height: 844, isMobile: true, deviceScaleFactor: 2});
      await open(page, `/console/${name}${query[name] ? `?${query[name]}` : ""}`);
      await page.screenshot({path: join(shots, `${name}-phone.png`), fullPage: true});
      await page.setViewport({width: 1280, height: 900});
      await page.emulateMediaFeatures([{name: "prefers-color-scheme", value: "dark"}]);
      await open(page, `/console/${name}${query[name] ? `?${query[name]}` : ""}`);
      await page.screenshot({path: join(shots, `${name}-dark.png`), fullPage: true});
      await page.emulateMediaFeatures([{name: "prefers-color-scheme", value: "light"}]);
    }
  }
  if (process.env.CONSOLE_CUSTOM) out.custom = await open(page, `/console/web?range=custom&${process.env.CONSOLE_CUSTOM}`);
  // the keyboard alone reaches everything: the skip link first, then navigation, the form, sign-out
  await open(page, "/console/web?range=7d");
  out.tabOrder = [];
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press("Tab");
    out.tabOrder.push(await page.evaluate(() => {
      const el = document.activeElement;
      return el.id || el.getAttribute("name") || el.textContent.trim().slice(0, 30) || el.tagName;
    }));
  }
  out.filtered = await open(page, `/console/web?${query.web ? `${query.web}&` : ""}${filtered}`);
  // the filter form lives in the URL: submitting it by keyboard keeps the chosen fields, and only those
  await page.focus("#f-country");
  await page.keyboard.type("DE");
  await Promise.all([page.waitForNavigation({waitUntil: "load"}), page.keyboard.press("Enter")]);
  await page.waitForFunction(() => document.body.dataset.ready === "1", {timeout: 120000});
  out.formKeepsFilter = await page.evaluate(() => new URLSearchParams(location.search).toString());
  const session = (await page.cookies()).find((c) => c.name === "obs_console");
  await Promise.all([page.waitForNavigation({waitUntil: "load"}), page.click(".signout button")]);
  out.signedOut = await dump(page);
  out.afterSignOutApi = await page.evaluate(async () => (await fetch("/v1/analytics/kpi_summary")).status);
  if (session) await page.setCookie({...session});
  out.replay = await open(page, "/console/business");
  out.replayApi = await page.evaluate(async () => (await fetch("/v1/analytics/kpi_summary")).status);
  process.stdout.write(JSON.stringify(out) + "\n");
} finally {
  await chromium.close();
}
