// html_report.js -- heapscope's HTML report (file://, no server) in Debian's
// headless chromium, driven by puppeteer-core, looked at as a person would:
// the page loads with no console error and no network request; the timeline
// has one point per snapshot; the suspects table's first row names the
// expected function; clicking it shows that site's stack (inline frames
// marked) and the source lines around its origin; the snapshot's flame graph
// and the growth flame graph draw boxes, the growth one with the function in
// it; clicking a flame box shows its stack. A screenshot of each view is kept
// in SCREENSHOT_DIR (timeline, suspects, flame, growth, stack).
//
// Usage: node html_report.js NPM_PREFIX SCREENSHOT_DIR REPORT.html SNAPSHOTS FUNCTION
// Exits 0 when everything held, 1 otherwise (one FAIL line per problem).
'use strict';
const path = require('path');

const [prefix, shotDir, report, nSnapsArg, fn] = process.argv.slice(2);
if (!prefix || !shotDir || !report || !nSnapsArg || !fn) {
  console.error('usage: node html_report.js NPM_PREFIX SCREENSHOT_DIR REPORT.html SNAPSHOTS FUNCTION');
  process.exit(2);
}
const puppeteer = require(path.join(prefix, 'node_modules', 'puppeteer-core'));
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
let failures = 0;
const fail = (msg) => { console.error('FAIL: ' + msg); failures++; };

// Polls cond() in the page every 100 ms, at most `tries` times (no clock read).
async function poll(page, cond, tries, what, ...args) {
  for (let i = 0; i < tries; i++) {
    if (await page.evaluate(cond, ...args)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out waiting for ' + what);
}

async function shot(page, id, name) {
  const e = await page.$('#' + id);
  if (!e) return fail('no #' + id + ' to take a screenshot of');
  await e.screenshot({ path: path.join(shotDir, name + '.png') });
}

(async () => {
  const browser = await puppeteer.launch({ executablePath: chromium, headless: 'new',
    args: ['--no-sandbox', '--disable-gpu', '--allow-file-access-from-files'] });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.type() + ': ' + m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => { if (!r.url().startsWith('file://') && !r.url().startsWith('data:')) errors.push('network request: ' + r.url()); });
    await page.goto('file://' + path.resolve(report), { waitUntil: 'load' });
    await poll(page, () => window.heapscope && window.heapscope.ready === true, 100, 'the report to draw');

    const n = Number(nSnapsArg);
    const points = await page.evaluate(() => window.heapscope.charts.timeline.data.datasets.map((d) => [d.label, d.data.length]));
    const live = points.find((p) => p[0].startsWith('live heap'));
    if (!live) fail('no live heap series in the timeline: ' + JSON.stringify(points));
    else if (live[1] !== n) fail('the timeline has ' + live[1] + ' points, expected one per snapshot: ' + n);
    const canvasOk = await page.evaluate(() => {
      const c = document.getElementById('timeline');
      return c.width > 100 && c.height > 100;
    });
    if (!canvasOk) fail('the timeline canvas was not laid out');
    await shot(page, 'timeline-view', 'timeline');

    const firstRow = await page.evaluate(() => {
      const tr = document.querySelector('#suspects tbody tr');
      return tr ? { text: tr.textContent, suspect: tr.classList.contains('suspect') } : null;
    });
    if (!firstRow) fail('the suspects table is empty');
    else {
      if (!firstRow.text.includes(fn)) fail('the first suspect row does not name ' + fn + ': ' + firstRow.text);
      if (!firstRow.suspect) fail('the first row is not marked a leak suspect');
    }
    await shot(page, 'suspects-view', 'suspects');

    await page.click('#suspects tbody tr');
    await poll(page, () => document.querySelectorAll('#stack-frames li').length > 0, 50, 'the stack after the click');
    const stack = await page.evaluate(() => ({
      title: document.querySelector('#stack h3').textContent,
      origin: (document.querySelector('#stack-frames li.origin') || {}).textContent || '',
      inlined: document.querySelectorAll('#stack-frames .inl').length,
      here: (document.querySelector('#stack pre .here') || {}).textContent || '',
    }));
    if (!stack.origin.includes(fn)) fail('the clicked site\'s origin frame is not ' + fn + ': ' + JSON.stringify(stack));
    if (stack.inlined === 0) fail('no inline frame is marked in the stack (the map insert is inlined)');
    if (!stack.here.includes('the leak: never erased')) fail('the source line at the origin is not shown: ' + JSON.stringify(stack.here));
    await shot(page, 'stack-view', 'stack');

    const flame = await page.evaluate(() => document.querySelectorAll('#flame > div[data-node]').length);
    if (flame < 3) fail('the flame graph drew ' + flame + ' boxes');
    await shot(page, 'flame-view', 'flame');
    const grown = await page.evaluate((f) => [...document.querySelectorAll('#grown > div[data-node]')].map((b) => b.dataset.name)
      .filter((x) => x.includes(f)).length, fn);
    if (grown === 0) fail('the growth flame graph (first to last snapshot) has no box for ' + fn);
    await shot(page, 'growth-view', 'growth');

    // A flame box's click shows its stack.
    await page.evaluate((f) => {
      const b = [...document.querySelectorAll('#grown > div[data-node]')].find((x) => x.dataset.name.includes(f));
      b.click();
    }, fn);
    const clicked = await page.evaluate(() => document.querySelector('#stack h3').textContent);
    if (!clicked.includes(fn)) fail('a click on the growth box did not show its stack: ' + clicked);
    for (const e of errors) fail('page: ' + e);
  } catch (e) {
    fail(String(e && e.stack || e));
  } finally {
    await browser.close();
  }
  if (failures) process.exit(1);
  console.log('html report: ok (' + nSnapsArg + ' snapshots; screenshots in ' + shotDir + ')');
})();
