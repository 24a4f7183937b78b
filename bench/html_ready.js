// bench/html_ready.js -- how long a `heapscope html` report takes to be ready in
// headless chromium (window.heapscope.ready: every chart and table drawn), from the
// start of navigation; prints one line per run. Not a test: nothing asserts a time.
// Usage: node bench/html_ready.js NPM_PREFIX REPORT.html [RUNS]   (CHROMIUM=/usr/bin/chromium)
'use strict';
const path = require('path');
const [prefix, report, runsArg] = process.argv.slice(2);
if (!prefix || !report) {
  console.error('usage: node bench/html_ready.js NPM_PREFIX REPORT.html [RUNS]');
  process.exit(2);
}
const puppeteer = require(path.join(path.resolve(prefix), 'node_modules', 'puppeteer-core'));
(async () => {
  const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: 'new',
    args: ['--no-sandbox', '--disable-gpu', '--allow-file-access-from-files'] });
  try {
    for (let i = 0; i < Number(runsArg || 3); i++) {
      const page = await browser.newPage();
      const t0 = Date.now();
      await page.goto('file://' + path.resolve(report), { waitUntil: 'load' });
      await page.waitForFunction(() => window.heapscope && window.heapscope.ready === true, { timeout: 120000, polling: 10 });
      const t = (Date.now() - t0) / 1000;
      const sites = await page.evaluate(() => document.body.innerText.match(/ ([0-9]+) sites/) ? document.body.innerText.match(/ ([0-9]+) sites/)[1] : '?');
      console.log('run ' + (i + 1) + ': ready ' + t.toFixed(2) + ' s (sites in the page: ' + sites + ')');
      await page.close();
    }
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
