// heapprofile_speedscope.js -- speedscope's own offline page (npm speedscope,
// dist/release/index.html over file://) in Debian's headless chromium, driven
// by puppeteer-core: imports each given profile through the page's file input
// (its "Browse" button, as a person would), checks the console names the
// expected importer and shows no error, reads the total speedscope loaded
// from the page itself (after the toolbar names it: the file's name for a
// .heapprofile, the document's "name" for speedscope JSON) (its own Export button: the speedscope JSON it writes
// carries endValue = the loaded profile's total weight), checks the sandwich
// view's table lists an expected function, and keeps a screenshot of the flame
// chart and of the sandwich view.
//
// Usage: node heapprofile_speedscope.js NPM_PREFIX SCREENSHOT_DIR EXPECTED_TOTAL FUNCTION
//             FILE=IMPORTER [FILE=IMPORTER ...]
//   IMPORTER: the text after "Importing as " speedscope logs (e.g. "Chrome Heap Profile").
// Exits 0 when every file passed, 1 otherwise (one FAIL line per problem).
'use strict';
const fs = require('fs');
const path = require('path');

const [prefix, shotDir, expectedArg, fn, ...files] = process.argv.slice(2);
if (!prefix || !shotDir || !expectedArg || !fn || files.length === 0) {
  console.error('usage: node heapprofile_speedscope.js NPM_PREFIX SCREENSHOT_DIR EXPECTED_TOTAL FUNCTION FILE=IMPORTER...');
  process.exit(2);
}
const puppeteer = require(path.join(prefix, 'node_modules', 'puppeteer-core'));
const index = path.join(prefix, 'node_modules', 'speedscope', 'dist', 'release', 'index.html');
const expected = Number(expectedArg);
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
let failures = 0;
const fail = (msg) => { console.error('FAIL: ' + msg); failures++; };

// speedscope's byte formatter (its ByteFormatter.format, dist/release): 1024-based, 2 decimals.
function speedscopeBytes(b) {
  if (b < 1024) return b.toFixed(0) + ' B';
  for (const unit of ['KB', 'MB', 'GB']) {
    b /= 1024;
    if (b < 1024 || unit === 'GB') return b.toFixed(2) + ' ' + unit;
  }
}

// Polls cond() in the page every 100 ms, at most `tries` times (no clock read).
async function poll(page, cond, tries, what, ...args) {
  for (let i = 0; i < tries; i++) {
    if (await page.evaluate(cond, ...args)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out waiting for ' + what);
}

async function checkFile(browser, file, importer) {
  const name = path.basename(file);
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  const logs = [], errors = [];
  page.on('console', (m) => (m.type() === 'error' ? errors : logs).push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push('request failed: ' + r.url()));
  page.on('dialog', async (d) => { errors.push('dialog: ' + d.message()); await d.dismiss(); });  // an import error is an alert
  // Keep what the page's Export button would download.
  await page.evaluateOnNewDocument(() => {
    const create = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (blob) => {
      window.__exported = blob;
      return create(blob);
    };
    HTMLAnchorElement.prototype.click = function () {};  // no download dialog
  });
  try {
    await page.goto('file://' + index, { waitUntil: 'load' });
    const input = await page.waitForSelector('input[type=file]', { timeout: 20000 });
    await input.uploadFile(file);
    // Loaded: the toolbar grows its Export tab and names the profile; or the error page.
    const title = name.endsWith('.heapprofile') ? name : JSON.parse(fs.readFileSync(file, 'utf8')).name;
    await poll(page, new Function('return document.body.innerText.includes("Something went wrong") || ' +
                                  '(document.body.innerText.includes("Export") && document.body.innerText.includes(' +
                                  JSON.stringify(title) + '))'), 300, name + ' to load');
    const body = await page.evaluate(() => document.body.innerText);
    if (body.includes('Something went wrong')) fail(name + ': speedscope shows "Something went wrong"');
    if (!logs.includes('Importing as ' + importer))
      fail(name + ': console has no "Importing as ' + importer + '"; it has: ' + JSON.stringify(logs));
    await page.screenshot({ path: path.join(shotDir, name + '.flamechart.png') });

    // The loaded total, from the page's own Export.
    const exportTab = await page.waitForSelector('::-p-text(Export)', { timeout: 20000 });
    await exportTab.click();
    await poll(page, () => !!window.__exported, 100, name + ': the Export button to produce a file');
    const exported = JSON.parse(await page.evaluate(() => window.__exported.text()));
    const total = exported.profiles.reduce((s, p) => s + (p.endValue - p.startValue), 0);
    if (total !== expected) fail(name + ': speedscope loaded a total of ' + total + ' bytes, heapscope report says ' + expected);
    else console.log(name + ': speedscope total ' + total + ' bytes = heapscope report');

    // The sandwich view (its tab in the toolbar) lists functions in a DOM table.
    const sandwich = await page.waitForSelector('::-p-text(Sandwich)', { timeout: 20000 });
    await sandwich.click();
    await poll(page, (f) => document.body.innerText.includes(f), 100, name + ': the sandwich table', fn).catch(() => {});
    const table = await page.evaluate(() => document.body.innerText);
    if (!table.includes(fn)) fail(name + ': the sandwich view does not list ' + fn + '; it shows: ' + table.slice(0, 400));
    // What a person reads: the outermost frames' Total column is the whole, as speedscope formats bytes.
    const shown = speedscopeBytes(expected) + ' (100%)';
    if (!table.includes(shown)) fail(name + ': the sandwich view shows no "' + shown + '"; it shows: ' + table.slice(0, 400));
    await page.screenshot({ path: path.join(shotDir, name + '.sandwich.png') });
  } catch (e) {
    fail(name + ': ' + e.message);
  }
  if (errors.length) fail(name + ': console errors: ' + JSON.stringify(errors));
  await page.close();
}

(async () => {
  fs.mkdirSync(shotDir, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
           '--no-first-run', '--no-default-browser-check', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  try {
    for (const arg of files) {
      const eq = arg.indexOf('=');
      await checkFile(browser, arg.slice(0, eq), arg.slice(eq + 1));
    }
  } finally {
    await browser.close();
  }
  process.exit(failures ? 1 : 0);
})().catch((e) => {
  console.error('FAIL: ' + (e && e.stack || e));
  process.exit(1);
});
