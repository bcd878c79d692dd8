// How long a highlight page takes to open in headless Chromium: navigation to the first shaded screen, and to
// the whole document rendered (the rest renders in the background). A benchmark, not a test (no thresholds).
// usage: node bench_highlight_page.js BUILD_DIR PAGE [RUNS]
"use strict";
const path = require("path");
const [buildDir, pagePath, runsArg] = process.argv.slice(2);
const puppeteer = require(path.resolve(buildDir, "browser/node_modules/puppeteer-core"));
const runs = Number(runsArg || 3);

(async () => {
  const browser = await puppeteer.launch({ executablePath: "/usr/bin/chromium", args: ["--headless=new", "--no-sandbox", "--disable-gpu"] });
  try {
    for (let run = 0; run < runs; ++run) {
      const page = await browser.newPage();
      await page.setViewport({ width: 1200, height: 900 });
      const start = Date.now();
      await page.goto("file://" + path.resolve(pagePath), { waitUntil: "domcontentloaded", timeout: 60000 });
      await page.waitForSelector(".hl-w", { timeout: 60000 });
      const first = Date.now() - start;
      await page.waitForSelector(".hl-root[data-rendered='1']", { timeout: 120000 });
      const all = Date.now() - start;
      const words = await page.$$eval(".hl-w", (s) => s.length);
      const t0 = Date.now();
      await page.select(".hl-layer", "0");
      await page.waitForFunction(() => document.querySelector(".hl-root").dataset.layer === "0");
      const toggle = Date.now() - t0;
      console.log(JSON.stringify({ run, words, first_screen_ms: first, all_rendered_ms: all, layer_toggle_ms: toggle }));
      await page.close();
    }
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(`bench_highlight_page: ${e.message}`);
  process.exit(1);
});
