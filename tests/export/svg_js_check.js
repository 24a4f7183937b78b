// svg_js_check.js SVG FUNCTION -- runs the flame graph's own inline script
// against a minimal DOM built from the file, to check the interaction:
// hover writes "name - bytes (percent)" to the details line, clicking a frame
// zooms it to the full width (ancestors stay full width and faded, unrelated
// frames hide), and "Reset zoom" restores the original layout.
'use strict';
const fs = require('fs');
const [svgPath, fn] = process.argv.slice(2);
const text = fs.readFileSync(svgPath, 'utf8');
const unescape = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
  .replace(/&apos;/g, "'").replace(/&amp;/g, '&');

function element(attrs) {
  const listeners = {};
  const classes = new Set();
  return {
    attrs, listeners, children: {}, style: {}, textContent: '',
    getAttribute(k) { return k in this.attrs ? this.attrs[k] : null; },
    setAttribute(k, v) { this.attrs[k] = String(v); },
    addEventListener(type, f) { listeners[type] = f; },
    getElementsByTagName(tag) { return this.children[tag] || []; },
    classList: { add: (c) => classes.add(c), remove: (c) => classes.delete(c), has: (c) => classes.has(c) },
    fire(type) { listeners[type].call(this, {}); },
  };
}

const frames = [];
const gRe = /<g data-n="([^"]*)" data-x="([^"]*)" data-w="([^"]*)" data-d="([^"]*)" data-v="([^"]*)">.*?<rect x="([^"]*)" y="[^"]*" width="([^"]*)"/g;
let m;
while ((m = gRe.exec(text)) !== null) {
  const g = element({ 'data-n': unescape(m[1]), 'data-x': m[2], 'data-w': m[3], 'data-d': m[4], 'data-v': m[5] });
  g.children.rect = [element({ x: m[6], width: m[7] })];
  g.children.text = [element({})];
  frames.push(g);
}
if (frames.length === 0) throw new Error('no frames found');
const details = { nodeValue: ' ' };
const reset = element({});
const byId = {
  details: { firstChild: details },
  reset,
  frames: { getElementsByTagName: (t) => (t === 'g' ? frames : []) },
};
const total = /data-total="(\d+)"/.exec(text)[1];
global.document = {
  getElementById: (id) => byId[id],
  documentElement: { getAttribute: (k) => (k === 'data-total' ? total : null) },
};
const script = /<!\[CDATA\[([\s\S]*?)\]\]>/.exec(text)[1];
// Function declarations in the script become globals of this context.
(0, eval)(script);
global.hsInit({});

const W = 1200;
const width = (g) => parseFloat(g.children.rect[0].attrs.width);
const x = (g) => parseFloat(g.children.rect[0].attrs.x);
const target = frames.find((g) => g.attrs['data-n'] === fn);
if (!target) throw new Error(`no frame ${fn}`);
const before = frames.map((g) => [x(g), width(g)]);

target.fire('mouseover');
const bytes = target.attrs['data-v'];
if (!details.nodeValue.startsWith(`${fn} \u2014 `) || !details.nodeValue.includes(`(${bytes} bytes, `) ||
    !/%\)$/.test(details.nodeValue)) throw new Error(`hover text: ${details.nodeValue}`);
target.fire('mouseout');
if (details.nodeValue !== ' ') throw new Error('mouseout did not clear the details');

target.fire('click');
if (Math.abs(x(target)) > 1e-6 || Math.abs(width(target) - (W - 0.5)) > 0.01)
  throw new Error(`zoomed frame at x=${x(target)} width=${width(target)}`);
const d0 = +target.attrs['data-d'];
let hidden = 0, parents = 0;
for (const g of frames) {
  const d = +g.attrs['data-d'];
  if (g.style.display === 'none') { hidden++; continue; }
  if (d < d0) {
    if (!g.classList.has('parent') || Math.abs(width(g) - (W - 0.5)) > 0.01) throw new Error(`ancestor ${g.attrs['data-n']}`);
    parents++;
  }
}
if (parents !== d0) throw new Error(`expected ${d0} ancestors shown, got ${parents}`);
if (hidden === 0) throw new Error('zoom hid no unrelated frame');
if (!target.children.text[0].textContent.startsWith(fn.substring(0, 3))) throw new Error('zoomed label missing');

reset.fire('click');
frames.forEach((g, i) => {
  if (g.style.display === 'none' || Math.abs(x(g) - before[i][0]) > 0.01 || Math.abs(width(g) - before[i][1]) > 0.01)
    throw new Error(`reset did not restore ${g.attrs['data-n']}`);
});
console.log(`svg script ok: hover, zoom into ${fn} (${parents} ancestors kept, ${hidden} frames hidden), reset`);
