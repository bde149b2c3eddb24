// Drive Debian's Chromium (system binary) through the test page: load, click (an interaction for INP),
// throw an error, hide the page (web vitals report on hidden), then keep the page open until the test
// writes a line on stdin (it waits for the rows in ClickHouse), and print what the browser saw as JSON.
import { launch } from "./chromium.mjs";
import { createInterface } from "node:readline";

const [pageUrl] = process.argv.slice(2);
const seen = [];
const consoleErrors = [];
const chromium = await launch("obs-chromium-");
const browser = chromium.browser;
try {
  const page = await browser.newPage();
  page.on("response", (r) => seen.push({method: r.request().method(), url: r.url(), status: r.status()}));
  page.on("requestfailed", (r) => seen.push({method: r.method(), url: r.url(), status: 0, error: r.failure()?.errorText}));
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  await page.goto(pageUrl, {waitUntil: "load"});
  await page.waitForFunction(() => window.__sdk.ready && window.__sdk.posthog, {timeout: 60000});
  await page.click("#buy");
  await page.click("#crash");
  console.error("page driven; hiding it so web vitals report");
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
    document.dispatchEvent(new Event("visibilitychange"));
    window.dispatchEvent(new Event("pagehide"));
  });
  console.error("ready for the test");
  process.stdout.write(JSON.stringify({stage: "driven"}) + "\n");
  const lines = createInterface({input: process.stdin});
  for await (const line of lines) { if (line.trim() === "done") break; }
  const sdkState = await page.evaluate(() => window.__sdk);
  process.stdout.write(JSON.stringify({stage: "done", seen, consoleErrors, sdkState}) + "\n");
} finally {
  await chromium.close();
}
