// html_page.js -- the script of heapscope's HTML report (render/html.cpp embeds
// it after Chart.js). Reads the JSON in #heapscope-data (the tables html.h
// describes) and draws: the timeline and the stacked top sites (Chart.js),
// the suspects table with a Chart.js sparkline per row, flame graphs of a
// snapshot and of the growth between two (DOM boxes), and a site's or frame's
// stack with the source lines around it. No network.
'use strict';
(function () {
  const D = JSON.parse(document.getElementById('heapscope-data').textContent);
  const S = D.strings, F = D.frames, N = D.nodes, ST = D.sites;
  const nFrames = F.length / 6, nNodes = N.length / 2, nSites = ST.length / 4;
  const snaps = D.snapshots;
  const hs = (window.heapscope = { data: D, charts: {}, flames: {} });

  // ---- helpers --------------------------------------------------------------
  const el = (tag, props, ...kids) => {
    const e = document.createElement(tag);
    if (props) for (const k in props) {
      if (k === 'class') e.className = props[k];
      else if (k === 'text') e.textContent = props[k];
      else e.setAttribute(k, props[k]);
    }
    for (const c of kids) e.append(c);
    return e;
  };
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  function size(b) {
    let v = Math.abs(b), u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return (b < 0 ? '-' : '') + (u ? v.toFixed(1) : String(v)) + ' ' + units[u];
  }
  const signed = (b) => (b > 0 ? '+' : '') + size(b);
  const base = (p) => (p ? p.slice(p.lastIndexOf('/') + 1) : '');
  const fn = (f) => S[F[6 * f]];
  const shortFn = (f) => S[F[6 * f + 1]];
  const file = (f) => (F[6 * f + 2] < 0 ? '' : S[F[6 * f + 2]]);
  const line = (f) => F[6 * f + 3];
  const module = (f) => (F[6 * f + 4] < 0 ? '' : S[F[6 * f + 4]]);
  const inlined = (f) => F[6 * f + 5] === 1;
  const where = (f) => (file(f) ? base(file(f)) + (line(f) ? ':' + line(f) : '') : base(module(f)));
  function kind(f) {
    const name = fn(f), m = module(f);
    if (!file(f) && /^0x|\+0x/.test(name)) return 'unknown';
    if (/^(std::|__gnu_cxx::|__cxx|operator new|operator delete)/.test(name)) return 'std';
    if (/^(\/usr)?\/lib/.test(m) || /^(malloc|calloc|realloc|free|__libc|_dl_|__GI_)/.test(name)) return 'system';
    return 'user';
  }
  // A site's frames, innermost first.
  function siteFrames(s) {
    const out = [];
    for (let n = ST[4 * s]; n >= 0; n = N[2 * n]) out.push(N[2 * n + 1]);
    return out;
  }
  function nodeFrames(n) {
    const out = [];
    for (; n >= 0; n = N[2 * n]) out.push(N[2 * n + 1]);
    return out;
  }
  const siteOrigin = (s) => ST[4 * s + 1];
  const siteContainer = (s) => (ST[4 * s + 2] < 0 ? '' : S[ST[4 * s + 2]]);
  function siteLabel(s) {
    const fr = siteFrames(s), o = siteOrigin(s);
    const f = fr[o >= 0 ? o : 0];
    return f === undefined ? 'site ' + s : shortFn(f) + '  ' + where(f);
  }

  // Per snapshot, live bytes per site (decoded from the gap-encoded pairs).
  const live = snaps.map((snap) => {
    const a = new Float64Array(nSites), v = snap.values;
    let site = 0;
    for (let i = 0; i < v.length; i += 2) { site += v[i]; a[site] = v[i + 1]; }
    return a;
  });
  const times = snaps.map((s) => s.t);
  const xLabel = D.time_basis === 'file order' ? 'snapshot' : 's from the first snapshot';

  // ---- header ---------------------------------------------------------------
  const last = snaps[snaps.length - 1];
  document.getElementById('summary').textContent = snaps.length + ' snapshot' +
    (snaps.length === 1 ? '' : 's') + (snaps.length > 1 ? ' over ' + (times[times.length - 1] - times[0]).toFixed(1) +
    (D.time_basis === 'file order' ? ' (file order)' : ' s (' + D.time_basis + ')') : '') +
    '; live heap ' + size(last.live) + ' in ' + last.blocks + ' blocks at the last; ' + nSites + ' sites' +
    (D.wrappers.length ? '; allocation wrappers (not origins): ' + D.wrappers.join(', ') : '');
  const notes = document.getElementById('notes');
  for (const n of D.notes) notes.append(el('li', { text: n }));

  // ---- stack view -----------------------------------------------------------
  const sources = new Map(D.sources.map((s) => [s.file + ':' + s.line, s]));
  function sourceBlock(f) {
    const src = sources.get(file(f) + ':' + line(f));
    if (!src) return el('p', { class: 'hint', text: file(f) ? file(f) + ':' + line(f) + ': source not read at report time' : '' });
    const pre = el('pre', { class: 'source' });
    src.lines.forEach((text, i) => {
      const n = src.first_line + i;
      pre.append(el('span', { class: n === src.line ? 'here' : '', text: String(n).padStart(5) + '  ' + text + '\n' }));
    });
    return el('div', {}, el('p', { text: src.file + ':' + src.line }), pre);
  }
  function showStack(title, frames, origin, container, extra) {
    const box = document.getElementById('stack');
    box.textContent = '';
    box.append(el('h3', { text: title }));
    if (extra) box.append(el('p', { text: extra }));
    if (container) box.append(el('p', { class: 'container', text: 'container ' + container }));
    const ol = el('ol', { id: 'stack-frames' });
    frames.forEach((f, i) => {
      const li = el('li', { class: i === origin ? 'origin' : '', title: fn(f) });  // the whole name on hover
      li.append((i === origin ? '> ' : '') + shortFn(f) + '  ' + (file(f) ? file(f) + ':' + line(f) : module(f)));
      if (inlined(f)) li.append(el('span', { class: 'inl', text: '  (inlined)' }));
      if (D.wrappers.includes(shortFn(f))) li.append(el('span', { class: 'wrap', text: '  (allocation wrapper)' }));
      ol.append(li);
    });
    box.append(ol);
    const at = origin >= 0 ? frames[origin] : frames[0];
    if (at !== undefined) box.append(sourceBlock(at));
  }
  function showSite(s, extra) {
    showStack(siteLabel(s), siteFrames(s), siteOrigin(s), siteContainer(s), extra);
  }
  hs.showSite = showSite;

  // ---- timeline -------------------------------------------------------------
  const palette = ['#d1495b', '#00798c', '#edae49', '#30638e', '#66a182', '#8d5a97', '#e07a5f', '#3d405b', '#81b29a', '#999'];
  let flameSnapshot = snaps.length - 1, growthFrom = 0, growthTo = snaps.length - 1;
  const commonOptions = (yTitle) => ({
    animation: false, maintainAspectRatio: false, parsing: false, normalized: true,
    interaction: { mode: 'nearest', intersect: false },
    scales: { x: { type: 'linear', title: { display: true, text: xLabel } },
              y: { beginAtZero: true, title: { display: true, text: yTitle }, ticks: { callback: (v) => size(v) } } },
    plugins: { tooltip: { callbacks: { label: (c) => c.dataset.label + ': ' + size(c.parsed.y) +
                                                  (c.dataset.files ? ' (' + base(c.dataset.files[c.dataIndex]) + ')' : '') } } },
  });
  {
    const pts = (key) => snaps.map((s, i) => ({ x: times[i], y: s[key] }));
    const has = (key) => snaps.some((s) => s[key] !== null && s[key] !== undefined);
    const sets = [{ label: 'live heap (heapscope)', data: pts('live'), borderColor: palette[0], backgroundColor: palette[0],
                    files: snaps.map((s) => s.file), pointRadius: 4 }];
    if (has('rss')) sets.push({ label: 'RSS', data: pts('rss'), borderColor: palette[1], backgroundColor: palette[1], pointRadius: 3 });
    if (has('heap_in_use')) {
      sets.push({ label: 'allocator holds (in use + free)', borderColor: palette[2], backgroundColor: palette[2], pointRadius: 3,
                  data: snaps.map((s, i) => ({ x: times[i], y: s.heap_in_use === null ? null : s.heap_in_use + s.held_free })) });
      sets.push({ label: 'allocator holds free', data: pts('held_free'), borderColor: palette[3], backgroundColor: palette[3], pointRadius: 2, borderDash: [4, 3] });
    }
    if (D.peak) {
      const p = [{ x: times[D.peak.snapshot], y: D.peak.live }];
      sets.push({ label: 'peak of the snapshots', type: 'scatter', data: p, pointStyle: 'triangle', pointRadius: 9,
                  borderColor: '#000', backgroundColor: '#ffd400' });
      if (D.peak.recorded)
        sets.push({ label: "profiler's recorded peak", type: 'scatter', data: [{ x: D.peak.recorded.t, y: D.peak.recorded.live }],
                    pointStyle: 'star', pointRadius: 10, borderColor: '#b00', backgroundColor: '#b00' });
    }
    const opts = commonOptions('bytes');
    opts.onClick = (ev, elems) => {
      const e = elems.find((x) => x.datasetIndex === 0);
      if (!e) return;
      if (ev.native && ev.native.shiftKey) setGrowth(e.index, growthTo); else setFlameSnapshot(e.index);
    };
    hs.charts.timeline = new Chart(document.getElementById('timeline'), { type: 'line', data: { datasets: sets }, options: opts });
  }
  // The top sites by their most live bytes, stacked.
  {
    const best = new Float64Array(nSites);
    for (const a of live) for (let s = 0; s < nSites; s++) if (a[s] > best[s]) best[s] = a[s];
    const order = Array.from({ length: nSites }, (_, i) => i).filter((s) => best[s] > 0).sort((a, b) => best[b] - best[a]);
    const top = order.slice(0, 8);
    const sets = top.map((s, k) => ({ label: siteLabel(s), site: s, data: live.map((a, i) => ({ x: times[i], y: a[s] })),
                                      borderColor: palette[k], backgroundColor: palette[k] + '99', fill: k ? '-1' : 'origin', pointRadius: 2 }));
    if (order.length > top.length)
      sets.push({ label: 'all other sites', data: live.map((a, i) => {
        let sum = 0;
        for (const s of order.slice(top.length)) sum += a[s];
        return { x: times[i], y: sum };
      }), borderColor: palette[9], backgroundColor: palette[9] + '66', fill: '-1', pointRadius: 2 });
    const opts = commonOptions('live bytes');
    opts.scales.y.stacked = true;
    opts.onClick = (ev, elems) => { if (elems.length && sets[elems[0].datasetIndex].site !== undefined) showSite(sets[elems[0].datasetIndex].site); };
    hs.charts.stacked = new Chart(document.getElementById('stacked'), { type: 'line', data: { datasets: sets }, options: opts });
  }

  // ---- suspects table -------------------------------------------------------
  const tbody = document.querySelector('#suspects tbody');
  const more = document.getElementById('suspects-more');
  let shown = 0;
  const T = D.suspects;
  function addRows(count) {
    const W = 7, rows = T.rows, endRow = Math.min(rows.length / W, shown + count);
    for (let r = shown; r < endRow; r++) {
      const s = rows[W * r], suspect = rows[W * r + 6] === 1;
      const fr = siteFrames(s), o = siteOrigin(s), f = fr[o >= 0 ? o : 0];
      const spark = el('canvas', { width: 120, height: 28, class: 'spark' });
      const whereCell = el('td', { class: 'where' }, el('span', { class: 'label', text: suspect ? 'leak suspect: ' : '' }),
                           f === undefined ? 'site ' + s : shortFn(f) + '  ' + where(f));
      if (siteContainer(s)) whereCell.append(el('div', { class: 'container', text: 'container ' + siteContainer(s) }));
      const tr = el('tr', { class: suspect ? 'suspect' : '', 'data-site': s },
        el('td', { text: r + 1 }), el('td', { text: signed(rows[W * r + 1]) }), el('td', { text: signed(rows[W * r + 2]) }),
        el('td', { text: rows[W * r + 3].toFixed(2) }), el('td', { text: Math.round(rows[W * r + 4] * 100) + '%' }),
        el('td', { text: size(live[live.length - 1][s]) }), el('td', { text: signed(rows[W * r + 5]) }),
        el('td', {}, spark), whereCell);
      tr.addEventListener('click', () => {
        for (const x of tbody.querySelectorAll('tr.selected')) x.classList.remove('selected');
        tr.classList.add('selected');
        showSite(s, 'slope ' + signed(rows[W * r + 1]) + '/s, r2 ' + rows[W * r + 3].toFixed(2) + ', live ' +
                 live.map((a) => size(a[s])).join(' -> '));
      });
      tbody.append(tr);
      new Chart(spark, { type: 'line', data: { datasets: [{ data: live.map((a, i) => ({ x: times[i], y: a[s] })),
                          borderColor: suspect ? '#b00' : '#555', borderWidth: 1.5, pointRadius: 0 }] },
                         options: { animation: false, responsive: false, parsing: false, events: [],
                                    plugins: { legend: { display: false }, tooltip: { enabled: false } },
                                    scales: { x: { type: 'linear', display: false }, y: { display: false, beginAtZero: true } } } });
    }
    shown = endRow;
    more.hidden = shown >= T.rows.length / W;
  }
  if (T) {
    document.getElementById('suspects-summary').textContent = T.suspects + ' leak suspect' + (T.suspects === 1 ? '' : 's') +
      ' among ' + T.total_sites + ' sites (sorted as heapscope trend sorts: steady growth first, churn last; ' +
      T.rows.length / 7 + ' rows kept)';
    if (T.memory) document.getElementById('memory-diagnosis').textContent = 'memory: ' + T.memory.diagnosis +
      (T.memory.advice.length ? '; try: ' + T.memory.advice.join('; ') : '');
    addRows(25);  // the strongest first; "Show more" adds 100 at a time
    more.addEventListener('click', () => addRows(100));
  } else {
    document.getElementById('suspects-summary').textContent = 'The suspects need 3 or more snapshots taken while the program ran.';
  }

  // ---- flame graphs ---------------------------------------------------------
  const children = Array.from({ length: nNodes }, () => []);
  const roots = [];
  for (let n = 0; n < nNodes; n++) (N[2 * n] < 0 ? roots : children[N[2 * n]]).push(n);
  const depthOf = new Int32Array(nNodes);
  for (let n = 0; n < nNodes; n++) depthOf[n] = N[2 * n] < 0 ? 0 : depthOf[N[2 * n]] + 1;  // parents come first
  // Node totals of per-site values (only positive values count).
  function totals(valueOf) {
    const t = new Float64Array(nNodes);
    for (let s = 0; s < nSites; s++) {
      const v = valueOf(s);
      if (v > 0) for (let n = ST[4 * s]; n >= 0; n = N[2 * n]) t[n] += v;
    }
    return t;
  }
  const MAX_BOXES = 4000, ROW = 16;
  function drawFlame(id, values, caption) {
    const box = document.getElementById(id);
    const state = { values, zoom: -1, caption };
    hs.flames[id] = state;
    const draw = () => {
      box.textContent = '';
      const width = box.clientWidth || 1000;
      let rootNodes = roots, total = 0, top = 0;
      if (state.zoom >= 0) {
        const anc = nodeFrames(state.zoom).length;  // the zoomed frame and its callers, full width
        for (let n = state.zoom, d = anc - 1; n >= 0; n = N[2 * n], d--)
          box.append(flameBox(n, 0, d, width, state.values[n], 'ancestor' + (n === state.zoom ? ' selected' : '')));
        rootNodes = children[state.zoom];
        total = state.values[state.zoom];
        top = anc;
      } else for (const r of roots) total += values[r];
      state.drawn = [];
      if (total <= 0) {
        box.append(el('div', { class: 'empty', text: caption + ': nothing' }));
        box.style.height = 'auto';
        return;
      }
      const stack = [];
      let x = 0;
      for (const r of rootNodes.slice().sort((a, b) => values[b] - values[a])) { stack.push([r, x, top]); x += values[r]; }
      let maxDepth = top, boxes = 0;
      while (stack.length && boxes < MAX_BOXES) {
        const [n, x0, d] = stack.pop();
        const w = values[n] / total * width;
        if (w < 1 || values[n] <= 0) continue;
        box.append(flameBox(n, x0 / total * width, d, w, values[n], ''));
        state.drawn.push(n);
        boxes++;
        maxDepth = Math.max(maxDepth, d);
        let cx = x0;
        for (const c of children[n].slice().sort((a, b) => values[b] - values[a]))
          if (values[c] > 0) { stack.push([c, cx, d + 1]); cx += values[c]; }
      }
      box.style.height = (maxDepth + 1) * ROW + 4 + 'px';
    };
    const flameBox = (n, x, d, w, v, extra) => {
      const f = N[2 * n + 1];
      const b = el('div', { class: kind(f) + ' ' + extra, title: fn(f) + '  ' + where(f) + '\n' + size(v),
                            'data-node': n, 'data-name': fn(f) });
      b.style.left = x + 'px'; b.style.top = d * ROW + 'px'; b.style.width = w + 'px';
      if (w > 30) b.textContent = shortFn(f);
      b.addEventListener('click', () => {
        state.zoom = state.zoom === n ? -1 : n;
        const fr = nodeFrames(n);
        showStack(fn(f) + '  ' + where(f), fr, 0, '', caption + ': ' + size(v) + ' under this frame' + (inlined(f) ? ' (an inlined frame)' : ''));
        draw();
      });
      return b;
    };
    state.draw = draw;
    draw();
  }
  for (const b of document.querySelectorAll('button.reset'))
    b.addEventListener('click', () => { const s = hs.flames[b.dataset.flame]; if (s) { s.zoom = -1; s.draw(); } });

  const pick = (id, value, onChange) => {
    const sel = document.getElementById(id);
    snaps.forEach((s, i) => sel.append(el('option', { value: i, text: '#' + (i + 1) + ' ' + base(s.file) + ' (' + size(s.live) + ')' })));
    sel.value = value;
    sel.addEventListener('change', () => onChange(Number(sel.value)));
    return sel;
  };
  function setFlameSnapshot(i) {
    flameSnapshot = i;
    document.getElementById('flame-snapshot').value = i;
    const a = live[i];
    drawFlame('flame', totals((s) => a[s]), base(snaps[i].file));
  }
  function setGrowth(from, to) {
    growthFrom = from; growthTo = to;
    document.getElementById('growth-from').value = from;
    document.getElementById('growth-to').value = to;
    const a = live[from], b = live[to];
    const grown = totals((s) => b[s] - a[s]), shrunk = totals((s) => a[s] - b[s]);
    let g = 0, sh = 0;
    for (let s = 0; s < nSites; s++) { const d = b[s] - a[s]; if (d > 0) g += d; else sh -= d; }
    document.getElementById('grown-title').textContent = 'Grown: ' + signed(g);
    document.getElementById('shrunk-title').textContent = 'Shrunk: ' + size(sh);
    drawFlame('grown', grown, 'grown from ' + base(snaps[from].file) + ' to ' + base(snaps[to].file));
    drawFlame('shrunk', shrunk, 'shrunk from ' + base(snaps[from].file) + ' to ' + base(snaps[to].file));
  }
  hs.setFlameSnapshot = setFlameSnapshot;
  hs.setGrowth = setGrowth;
  pick('flame-snapshot', flameSnapshot, setFlameSnapshot);
  pick('growth-from', growthFrom, (i) => setGrowth(i, growthTo));
  pick('growth-to', growthTo, (i) => setGrowth(growthFrom, i));
  setFlameSnapshot(flameSnapshot);
  setGrowth(growthFrom, growthTo);
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { for (const k in hs.flames) hs.flames[k].draw(); }, 150);
  });
  hs.ready = true;
})();
