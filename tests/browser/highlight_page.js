// The page `pyramidion highlight -o page.html` writes, opened from disk in headless Chromium: the words are
// shaded, the legend and the summary are there, the layer toggle changes the shading, a summary word click
// marks its source sentences; nothing outside the file is fetched.
// usage: node highlight_page.js BUILD_DIR PAGE   (a screenshot goes to BUILD_DIR/browser-artifacts/highlight-page.png)
"use strict";
const path = require("path");
const fs = require("fs");
const [buildDir, pagePath] = process.argv.slice(2);
if (!buildDir || !pagePath) {
  console.error("usage: node highlight_page.js BUILD_DIR PAGE");
  process.exit(2);
}
const puppeteer = require(path.resolve(buildDir, "browser/node_modules/puppeteer-core"));
const WAIT_MS = 20000;
const overall = setTimeout(() => {
  console.error("highlight_page: gave up after 90 s");
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
    const url = "file://" + path.resolve(pagePath);
    const foreign = [];
    page.on("request", (request) => {
      if (request.url() !== url && !request.url().startsWith("data:")) foreign.push(request.url());
    });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(url, { waitUntil: "load", timeout: WAIT_MS });
    await page.waitForSelector(".hl-root[data-rendered='1']", { timeout: WAIT_MS });
    const data = await page.evaluate(() => JSON.parse(document.getElementById("highlight-data").textContent));
    const words = await page.$$eval(".hl-w", (spans) => spans.map((s) => s.style.backgroundColor));
    if (words.length !== data.words.length) throw new Error(`${words.length} word spans for ${data.words.length} words`);
    const shaded = words.filter((c) => c && c !== "transparent").length;
    if (shaded < data.words.length * 0.9) throw new Error(`only ${shaded} of ${words.length} words are shaded`);
    if (new Set(words).size < 3) throw new Error("the shading does not vary");
    const legend = await page.$eval(".hl-legend", (e) => e.textContent);
    const ramp = await page.$eval(".hl-ramp", (e) => getComputedStyle(e).backgroundImage);
    if (!/of the pooled memory/.test(legend) || !/%/.test(legend)) throw new Error(`unexpected legend: ${legend}`);
    if (!ramp.startsWith("linear-gradient")) throw new Error(`the legend has no colour ramp: ${ramp}`);
    const summary = await page.$eval(".hl-summary", (e) => e.textContent);
    if (!summary.trim() || !data.summary_words.length || !summary.includes(data.summary_words[0].text))
      throw new Error(`unexpected summary: "${summary}"`);
    const ranked = await page.$$eval(".hl-ranking li", (items) => items.length);
    if (ranked < 1) throw new Error("no ranked sentences");
    await page.screenshot({ path: path.join(artifacts, "highlight-page.png"), fullPage: true });

    // The layer toggle: the first pooling layer shades the words differently.
    const options = await page.$$eval(".hl-layer option", (o) => o.map((x) => x.value));
    if (options.length !== data.layers.length || options.length < 2) throw new Error(`layer options: ${options}`);
    await page.select(".hl-layer", options[0]);
    await page.waitForFunction(() => document.querySelector(".hl-root").dataset.layer === "0");
    const after = await page.$$eval(".hl-w", (spans) => spans.map((s) => s.style.backgroundColor));
    const changed = after.filter((c, i) => c !== words[i]).length;
    if (changed === 0) throw new Error("the layer toggle did not change the shading");
    // The shading follows the data: the most kept word of layer 0 has the darkest colour of the scale's end.
    const expected = await page.evaluate(() => {
      const d = JSON.parse(document.getElementById("highlight-data").textContent);
      let best = 0;
      d.words.forEach((w, i) => { if (w.shares[0] > d.words[best].shares[0]) best = i; });
      const span = document.querySelector(`.hl-w[data-w="${best}"]`);
      return [span.style.backgroundColor, window.pyramidionHighlight.colour(1)];
    });
    if (expected[0] !== expected[1]) throw new Error(`the most kept word is ${expected[0]}, not ${expected[1]}`);
    await page.screenshot({ path: path.join(artifacts, "highlight-page-layer0.png"), fullPage: true });

    // A long unbroken token wraps inside its panel (never widens it past the page).
    const overflow = await page.evaluate(() => {
      const word = document.querySelector(".hl-sw");
      word.textContent = "x".repeat(400) + " ";
      const doc = document.querySelector(".hl-doc .hl-w");
      doc.textContent = "y".repeat(400) + " ";
      const panels = [".hl-summary", ".hl-doc"].map((q) => document.querySelector(q));
      return panels.map((p) => p.scrollWidth - p.clientWidth).concat(document.documentElement.scrollWidth - window.innerWidth);
    });
    if (overflow.some((extra) => extra > 1)) throw new Error(`a long token overflows: ${overflow} px (summary, document, page)`);

    // A summary word click marks the source sentences it drew on.
    await page.click(".hl-sw");
    const linked = await page.$$eval(".hl-s.hl-linked", (e) => e.length);
    const links = await page.$eval(".hl-links", (e) => e.textContent);
    if (linked < 1 || !/drew on sentence/.test(links)) throw new Error(`summary links: ${linked} marked, "${links}"`);
    if (errors.length) throw new Error(`script errors: ${errors.join("; ")}`);
    if (foreign.length) throw new Error(`the page fetched outside itself: ${foreign.join(", ")}`);
    console.log(`highlight page ok: ${words.length} words, ${changed} recoloured by the toggle, ${linked} sentences linked`);
  } catch (e) {
    failed = e;
    try {
      await page.screenshot({ path: path.join(artifacts, "highlight-page-failure.png"), fullPage: true });
    } catch (_) {}
  } finally {
    await browser.close();
    clearTimeout(overall);
  }
  if (failed) {
    console.error(`highlight_page: ${failed.message}`);
    process.exit(1);
  }
})().catch((e) => {
  console.error(`highlight_page: ${e.message}`);
  process.exit(1);
});
