// The page `pyramidion serve` gives at GET /: paste a document, press Summarize, the summary appears, with the
// highlight view of what the model kept.
// usage: node serve_page.js BUILD_DIR URL   (a screenshot goes to BUILD_DIR/browser-artifacts/serve-page.png)
"use strict";
const path = require("path");
const fs = require("fs");
const [buildDir, url] = process.argv.slice(2);
if (!buildDir || !url) {
  console.error("usage: node serve_page.js BUILD_DIR URL");
  process.exit(2);
}
const puppeteer = require(path.resolve(buildDir, "browser/node_modules/puppeteer-core"));
const WAIT_MS = 20000;
const overall = setTimeout(() => {
  console.error("serve_page: gave up after 90 s");
  process.exit(1);
}, 90000);

(async () => {
  const artifacts = path.resolve(buildDir, "browser-artifacts");
  fs.mkdirSync(artifacts, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless=new", "--no-sandbox", "--disable-gpu"],
    timeout: WAIT_MS,
  });
  let failed = null;
  const page = await browser.newPage();
  try {
    page.setDefaultTimeout(WAIT_MS);
    // Only the server itself may be contacted: any other request fails the test (the page is self-contained).
    const origin = new URL(url).origin;
    const foreign = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(origin) && !request.url().startsWith("data:")) foreign.push(request.url());
    });
    await page.setViewport({ width: 1000, height: 800 });
    await page.goto(url, { waitUntil: "load", timeout: WAIT_MS });
    await page.waitForFunction(() => !document.getElementById("model").textContent.includes("loading"), { timeout: WAIT_MS });
    const document_text = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike";
    await page.type("#document", document_text);
    await page.click("#submit");
    await page.waitForSelector("#summary[data-done='1']", { timeout: WAIT_MS });
    const summary = await page.$eval("#summary", (e) => e.textContent);
    const details = await page.$eval("#details", (e) => e.textContent);
    const error = await page.$eval("#error", (e) => e.textContent);
    const model = await page.$eval("#model", (e) => e.textContent);
    // The highlight view (on by default): the document's words shaded, the summary beside them.
    await page.waitForSelector("#highlight.hl-root[data-rendered='1']", { timeout: WAIT_MS });
    const shaded = await page.$$eval("#highlight .hl-w", (spans) => spans.filter((s) => s.style.backgroundColor).length);
    const legend = await page.$$eval("#highlight .hl-legend", (e) => e.length);
    const layers = await page.$$eval("#highlight .hl-layer option", (o) => o.length);
    if (shaded !== 13) throw new Error(`the highlight view shades ${shaded} words (expected the document's 13)`);
    if (legend !== 1 || layers !== 2) throw new Error(`highlight view: ${legend} legends, ${layers} layer options`);
    await page.screenshot({ path: path.join(artifacts, "serve-page.png"), fullPage: true });
    if (error) throw new Error(`the page shows an error: ${error}`);
    if (!summary.trim()) throw new Error("the summary is empty");
    if (!/\d+ tokens, source 14 tokens/.test(details)) throw new Error(`unexpected details: ${details}`);
    if (!model.startsWith("model tiny") || !model.includes("up to 64 source tokens")) throw new Error(`unexpected model line: ${model}`);
    if (foreign.length) throw new Error(`the page fetched outside the server: ${foreign.join(", ")}`);
    console.log(`serve page ok: summary "${summary}" (${details})`);
  } catch (e) {
    failed = e;
    try {
      await page.screenshot({ path: path.join(artifacts, "serve-page-failure.png"), fullPage: true });
    } catch (_) {}
  } finally {
    await browser.close();
    clearTimeout(overall);
  }
  if (failed) {
    console.error(`serve_page: ${failed.message}`);
    process.exit(1);
  }
})().catch((e) => {
  console.error(`serve_page: ${e.message}`);
  process.exit(1);
});
