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
    await page.setViewport({ width: 1280, height: 800 });
    await page.goto(url, { waitUntil: "load", timeout: WAIT_MS });
    await page.waitForFunction(() => !document.getElementById("model").textContent.includes("loading"), { timeout: WAIT_MS });
    // Every numeric decoding option of the API (/openapi.json) has its input on the page.
    await page.waitForSelector("#options[data-ready='1']", { timeout: WAIT_MS });
    const offered = await page.$$eval("#options input", (inputs) => inputs.map((i) => i.dataset.field).sort());
    const documented = await page.evaluate(async () => {
      const api = await (await fetch("/openapi.json")).json();
      return Object.entries(api.components.schemas.SummarizeRequest.properties)
        .filter(([, s]) => s["x-decoding-option"]).map(([n]) => n).sort();
    });
    const numeric = await page.evaluate(async () => {
      const api = await (await fetch("/openapi.json")).json();
      return Object.entries(api.components.schemas.SummarizeRequest.properties)
        .filter(([, s]) => s.type === "integer" || s.type === "number").map(([n]) => n).sort();
    });
    // Every numeric request field is a decoding option, and the boolean one (sampling) is a checkbox.
    if (offered.join() !== documented.join() || !numeric.every((n) => offered.includes(n)) || offered.length < 14 ||
        (await page.$eval("#option-sampling", (e) => e.type)) !== "checkbox")
      throw new Error(`the page offers ${offered} but the API documents ${documented}`);
    await page.click("#decoding summary");
    await page.type("#option-lenpen", "0.5");
    await page.type("#option-no_repeat_ngram_size", "2");
    let sent = null;
    page.on("request", (request) => { if (request.url().endsWith("/v1/summarize")) sent = JSON.parse(request.postData()); });
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
    // The options went out as typed; empty ones were left to the server.
    if (!sent || sent.lenpen !== 0.5 || sent.no_repeat_ngram_size !== 2 || sent.beam !== 4 || "max_len_a" in sent)
      throw new Error(`the request sent ${JSON.stringify(sent)}`);
    // The summary is shown once: in the highlight view's panel, the plain box hidden; both columns have room.
    const layout = await page.evaluate(() => ({
      plainVisible: document.getElementById("summary-section").offsetParent !== null,
      panel: document.querySelector("#highlight .hl-summary").innerText.trim(),
      plain: document.getElementById("summary").textContent.trim(),
      doc: document.querySelector("#highlight .hl-doc").clientWidth,
      side: document.querySelector("#highlight .hl-side").clientWidth,
    }));
    if (layout.plainVisible) throw new Error("the summary is shown twice (plain box and highlight panel)");
    if (!layout.panel || layout.panel.replace(/\s+/g, " ") !== layout.plain.replace(/\s+/g, " "))
      throw new Error(`the highlight panel shows "${layout.panel}", the summary is "${layout.plain}"`);
    if (layout.doc < 550 || layout.side < 320) throw new Error(`cramped columns: document ${layout.doc} px, summary ${layout.side} px`);
    await page.screenshot({ path: path.join(artifacts, "serve-page.png"), fullPage: true });
    // Without the highlight view the plain summary box shows it.
    await page.click("#highlights");
    await page.click("#submit");
    await page.waitForFunction(() => document.getElementById("summary-section").offsetParent !== null &&
                               document.getElementById("highlight-section").hidden, { timeout: WAIT_MS });
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
