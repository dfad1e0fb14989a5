// linewatch's built-in page: reads the agent's JSON API and draws, per line ×
// target × kind, SmokePing's picture of the last hours: the median RTT of
// each step as a line coloured by the step's loss, over bands of the step's
// RTT spread. Plain DOM and SVG, no library; the agent's Content-Security-
// Policy allows nothing but this origin, so nothing here is inline or remote.
//
// API contracts: /api/v1/lines, /api/v1/targets, /api/v1/series (docs/api.md).
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
const RANGES = ['3h', '1d', '7d', '30d'];
const REFRESH_MS = 30000;
// Series requests in flight at once: the agent answers on one thread, and
// the page should not crowd out `linewatch status` or a Prometheus scrape.
const PARALLEL = 4;

// SmokePing's loss colours (its defaults for 20 pings: 0, 1, 2, 3, 4, 10 and
// 19 lost), as the share of echoes lost in a step.
const LOSS_COLOURS = [
  {upTo: 0, colour: '#26ff00', label: '0'},
  {upTo: 0.05, colour: '#00b8ff', label: '≤ 5 %'},
  {upTo: 0.10, colour: '#0059ff', label: '≤ 10 %'},
  {upTo: 0.15, colour: '#5e00ff', label: '≤ 15 %'},
  {upTo: 0.20, colour: '#7e00ff', label: '≤ 20 %'},
  {upTo: 0.50, colour: '#dd00ff', label: '≤ 50 %'},
  {upTo: 1, colour: '#ff0000', label: '> 50 %'},
];
const NO_LOSS_FIGURE = {colour: '#808080', label: 'nothing sent'};

// The RTT spread bands, widest first, drawn under the median.
const BANDS = [
  {name: 'minmax', low: 'min', high: 'max', fill: '#e0e0e0', label: 'min..max'},
  {name: 'p10p90', low: 'p10', high: 'p90', fill: '#bdbdbd', label: 'p10..p90'},
  {name: 'p25p75', low: 'p25', high: 'p75', fill: '#909090', label: 'p25..p75'},
];

// Chart geometry in SVG user units (the SVG scales to its box).
const W = 600, H = 200;
const PLOT = {left: 58, right: W - 10, top: 10, bottom: H - 24};

let generation = 0;  // bumps on every load; a slower, older load draws nothing
let refreshTimer = null;
let chartCount = 0;  // for unique clip-path ids
let range = RANGES[0];  // the range shown; kept while the hash names a line instead

// ---------- small helpers ----------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function lossStyle(loss) {
  if (loss === null || loss === undefined) return NO_LOSS_FIGURE;
  return LOSS_COLOURS.find((c) => loss <= c.upTo) || LOSS_COLOURS[LOSS_COLOURS.length - 1];
}

function fmtMs(v) {
  if (v === null || v === undefined) return '–';
  const digits = v < 1 ? 3 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return v.toFixed(digits) + ' ms';
}

function fmtPercent(share) {
  if (share === null || share === undefined) return '–';
  const p = share * 100;
  return (p === 0 || p === 100 ? p.toFixed(0) : p < 10 ? p.toFixed(1) : p.toFixed(0)) + ' %';
}

function fmtBps(v) {
  if (v === null || v === undefined) return '–';
  const units = [[1e9, 'Gbit/s'], [1e6, 'Mbit/s'], [1e3, 'kbit/s']];
  for (const [scale, unit] of units) {
    if (v >= scale) return (v / scale).toFixed(1) + ' ' + unit;
  }
  return Math.round(v) + ' bit/s';
}

function fmtTime(ms, withDate) {
  const d = new Date(ms);
  const hm = String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
  if (!withDate) return hm;
  return String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0') +
      ' ' + hm;
}

// A round number at or above `v`: 1, 2 or 5 times a power of ten.
function niceStep(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

async function getJSON(url) {
  const res = await fetch(url, {cache: 'no-store'});
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new Error(`${url}: ${res.status}, not JSON`);
  }
  if (!res.ok) throw new Error(`${url}: ${res.status} ${body && body.error ? body.error : ''}`);
  return body;
}

// Runs the async functions in `jobs`, at most `n` at a time; resolves to
// their results in order (each {value} or {error}).
async function pool(jobs, n) {
  const results = new Array(jobs.length);
  let next = 0;
  async function worker() {
    while (next < jobs.length) {
      const i = next++;
      try {
        results[i] = {value: await jobs[i]()};
      } catch (e) {
        results[i] = {error: e.message};
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(n, jobs.length)}, worker));
  return results;
}

// ---------- the chart ----------

// The y scale's top: the highest p90 (else median) with some room, rounded;
// a step's max above it is clipped, as in SmokePing, so one outlier does not
// flatten the rest.
function yTop(points) {
  let top = 0;
  for (const p of points) {
    if (!p.rtt_ms) continue;
    const r = p.rtt_ms;
    top = Math.max(top, r.p90 ?? r.median ?? 0, r.median ?? 0);
  }
  if (top <= 0) return 1;
  const step = niceStep((top * 1.2) / 4);
  return step * 4;
}

// Time ticks: the first interval giving at most 6 ticks, on local-time boundaries.
function timeTicks(from, to) {
  const min = 60e3, hour = 3600e3, day = 86400e3;
  const spans = [5 * min, 10 * min, 15 * min, 30 * min, hour, 2 * hour, 3 * hour, 4 * hour,
    6 * hour, 12 * hour, day, 2 * day, 5 * day, 7 * day];
  const span = spans.find((s) => (to - from) / s <= 6) || 7 * day;
  const offset = new Date(from).getTimezoneOffset() * min;
  const ticks = [];
  for (let t = Math.ceil((from - offset) / span) * span + offset; t <= to; t += span) ticks.push(t);
  return {ticks, withDate: span >= day || to - from > day};
}

function axes(g, x, y, from, to, top) {
  const step = top / 4;
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  for (let i = 0; i <= 4; i++) {
    const v = i * step;
    g.append(svg('line', {class: 'rule', x1: PLOT.left, x2: PLOT.right, y1: y(v), y2: y(v)}));
    g.append(svg('text', {class: 'ylabel', x: PLOT.left - 4, y: y(v) + 4, 'text-anchor': 'end'},
        v.toFixed(decimals) + (i === 4 ? ' ms' : '')));
  }
  const {ticks, withDate} = timeTicks(from, to);
  for (const t of ticks) {
    g.append(svg('line', {class: 'rule', x1: x(t), x2: x(t), y1: PLOT.top, y2: PLOT.bottom}));
    g.append(svg('text', {class: 'xlabel', x: x(t), y: H - 8, 'text-anchor': 'middle'},
        fmtTime(t, withDate)));
  }
}

function tooltip(p, stepMs) {
  const lines = [`${fmtTime(p.ms, true)} – ${fmtTime(p.ms + stepMs, false)}, ` +
      `${p.rounds} round${p.rounds === 1 ? '' : 's'} (${p.ok} ok)`];
  const r = p.rtt_ms;
  lines.push(r ? `median ${fmtMs(r.median)}  (min ${fmtMs(r.min)}, p25 ${fmtMs(r.p25)}, ` +
      `p75 ${fmtMs(r.p75)}, max ${fmtMs(r.max)})` : 'no RTT: nothing answered');
  lines.push(`loss ${fmtPercent(p.loss)} (${p.lost} of ${p.sent} lost)`);
  return lines.join('\n');
}

// Whether the median runs on from point `a` to the next point `b`: `b` is the
// very next step (no gap) and both have a median.
function joined(a, b, stepMs) {
  const has = (p) => p && p.rtt_ms && p.rtt_ms.median !== null && p.rtt_ms.median !== undefined;
  return has(a) && has(b) && b.ms - a.ms <= stepMs * 1.001;
}

// The SVG for one series document; `points` sorted by time.
function drawChart(doc) {
  const from = Date.parse(doc.from), to = Date.parse(doc.to);
  const stepMs = doc.step_s * 1000;
  const points = doc.points.map((p) => Object.assign({ms: Date.parse(p.t)}, p));
  const top = yTop(points);
  const x = (t) => PLOT.left + ((Math.min(Math.max(t, from), to) - from) / (to - from)) *
      (PLOT.right - PLOT.left);
  const y = (v) => PLOT.bottom - (Math.min(v, top) / top) * (PLOT.bottom - PLOT.top);
  const clipId = `plot-${++chartCount}`;
  const chart = svg('svg', {
    class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `${doc.kind} RTT and loss of ${doc.target} on ${doc.line}`,
    'data-line': doc.line, 'data-target': doc.target, 'data-kind': doc.kind,
    'data-points': String(points.length), 'data-step-s': String(doc.step_s),
  });
  chart.append(svg('defs', {}, svg('clipPath', {id: clipId},
      svg('rect', {x: PLOT.left, y: PLOT.top, width: PLOT.right - PLOT.left,
        height: PLOT.bottom - PLOT.top}))));
  const frame = svg('g', {class: 'axes'});
  axes(frame, x, y, from, to, top);
  chart.append(frame);
  const plot = svg('g', {'clip-path': `url(#${clipId})`});
  chart.append(plot);

  // The smoke: one path per band, a rectangle per step.
  for (const band of BANDS) {
    let d = '';
    for (const p of points) {
      const r = p.rtt_ms;
      if (!r || r[band.low] === null || r[band.high] === null) continue;
      const x0 = x(p.ms), x1 = Math.max(x(p.ms + stepMs), x0 + 0.5);
      d += `M${x0.toFixed(1)} ${y(r[band.high]).toFixed(1)}H${x1.toFixed(1)}` +
          `V${y(r[band.low]).toFixed(1)}H${x0.toFixed(1)}Z`;
    }
    if (d) plot.append(svg('path', {class: `band band-${band.name}`, d, fill: band.fill}));
  }

  // Steps where nothing answered: a column in the loss colour. The median:
  // a level per step, joined to the next step's when there is no gap; one
  // path per loss colour.
  const columns = new Map(), medians = new Map();
  points.forEach((p, i) => {
    const style = lossStyle(p.loss);
    const x0 = x(p.ms), x1 = Math.max(x(p.ms + stepMs), x0 + 1);
    const r = p.rtt_ms;
    if (!r || r.median === null || r.median === undefined) {
      const c = columns.get(style) || {d: '', n: 0};
      c.d += `M${x0.toFixed(1)} ${PLOT.top}H${x1.toFixed(1)}V${PLOT.bottom}H${x0.toFixed(1)}Z`;
      c.n++;
      columns.set(style, c);
      return;
    }
    const m = medians.get(style) || {d: '', n: 0, dots: []};
    m.d += `M${x0.toFixed(1)} ${y(r.median).toFixed(1)}H${x1.toFixed(1)}`;
    const next = points[i + 1], prev = points[i - 1];
    if (joined(p, next, stepMs)) m.d += `V${y(next.rtt_ms.median).toFixed(1)}`;
    // A step alone between gaps is a dot, or it would be too thin to see.
    if (!joined(prev, p, stepMs) && !joined(p, next, stepMs)) {
      m.dots.push(svg('circle', {class: 'dot', cx: ((x0 + x1) / 2).toFixed(1),
        cy: y(r.median).toFixed(1), r: 2.5, fill: style.colour}));
    }
    m.n++;
    medians.set(style, m);
  });
  for (const [style, c] of columns) {
    plot.append(svg('path', {class: 'lost', d: c.d, fill: style.colour, 'data-steps': String(c.n)}));
  }
  for (const [style, m] of medians) {
    plot.append(svg('path', {class: 'median', d: m.d, stroke: style.colour, fill: 'none',
      'data-steps': String(m.n), 'data-loss': style.label}));
    plot.append(...m.dots);
  }

  // Hover targets: one column per step carrying its figures.
  const hover = svg('g', {class: 'hover'});
  for (const p of points) {
    const x0 = x(p.ms), x1 = Math.max(x(p.ms + stepMs), x0 + 2);
    hover.append(svg('rect', {x: x0.toFixed(1), y: PLOT.top, width: (x1 - x0).toFixed(1),
      height: PLOT.bottom - PLOT.top, 'data-loss': p.loss === null ? '' : String(p.loss)},
    svg('title', {}, tooltip(p, stepMs))));
  }
  chart.append(hover);
  if (points.length === 0) {
    chart.append(svg('text', {class: 'empty', x: (PLOT.left + PLOT.right) / 2,
      y: (PLOT.top + PLOT.bottom) / 2, 'text-anchor': 'middle'}, 'no rounds stored in this range'));
  }
  return chart;
}

// The figures under a chart's title: the latest step's median and the range's loss.
function summary(doc) {
  let sent = 0, lost = 0;
  for (const p of doc.points) {
    sent += p.sent;
    lost += p.lost;
  }
  const last = doc.points[doc.points.length - 1];
  const median = last && last.rtt_ms ? last.rtt_ms.median : null;
  return `now ${fmtMs(median)} · loss ${sent ? fmtPercent(lost / sent) : '–'} over the range`;
}

// ---------- the page ----------

// The range the hash asks for ("#range=7d"); the current one when it names none.
function rangeFromHash() {
  const m = /range=([0-9a-z]+)/.exec(location.hash);
  return m && RANGES.includes(m[1]) ? m[1] : range;
}

function stateBadge(state) {
  const s = state || 'unknown';
  return el('span', {class: `state state-${s}`, 'data-state': s}, s);
}

function linesTable(lines) {
  const body = document.querySelector('#lines tbody');
  body.replaceChildren(...lines.map((l) => el('tr', {'data-line': l.line, 'data-state': l.state},
      el('th', {scope: 'row'}, el('a', {href: `#line-${l.line}`}, l.line)),
      el('td', {}, stateBadge(l.state)),
      el('td', {}, l.health ?? '–'),
      el('td', {}, l.score === null || l.score === undefined ? '–' : l.score.toFixed(2)),
      el('td', {}, l.role ?? '–'),
      el('td', {}, `${l.targets_ok ?? '–'} / ${l.targets ?? '–'}`),
      el('td', {}, fmtBps(l.rx_bps)),
      el('td', {}, fmtBps(l.tx_bps)),
      el('td', {}, l.utilisation === null || l.utilisation === undefined ?
          '–' : fmtPercent(l.utilisation)))));
}

function legend() {
  const swatch = (fill, stroke) => svg('svg', {class: 'swatch', viewBox: '0 0 16 10',
    'aria-hidden': 'true'}, stroke ? svg('path', {d: 'M0 5H16', stroke, 'stroke-width': 3}) :
      svg('rect', {width: 16, height: 10, fill}));
  const items = [el('li', {}, 'median, by loss:')];
  for (const c of LOSS_COLOURS.concat([NO_LOSS_FIGURE])) {
    items.push(el('li', {class: 'loss'}, swatch(null, c.colour), c.label));
  }
  items.push(el('li', {}, 'RTT spread:'));
  for (const b of BANDS) items.push(el('li', {class: 'band'}, swatch(b.fill), b.label));
  document.getElementById('legend').replaceChildren(...items);
}

function chartBox(job, result, target) {
  const caption = el('figcaption', {}, el('b', {}, job.target), ` ${job.kind}`,
      target.address ? ` · ${target.address}` : '');
  const box = el('figure', {class: 'chart-box', 'data-line': job.line, 'data-target': job.target,
    'data-kind': job.kind}, caption);
  if (result.error) {
    box.setAttribute('data-error', result.error);
    box.append(el('p', {class: 'chart-error'}, result.error));
  } else {
    caption.append(el('span', {class: 'summary'}, summary(result.value)));
    box.append(drawChart(result.value));
  }
  return box;
}

function render(lines, targets, jobs, results) {
  linesTable(lines);
  const sections = lines.map((l) => {
    const section = el('section', {class: 'line', id: `line-${l.line}`, 'data-line': l.line},
        el('h2', {}, `${l.line} `, stateBadge(l.state)));
    const grid = el('div', {class: 'grid'});
    jobs.forEach((job, i) => {
      if (job.line === l.line) grid.append(chartBox(job, results[i], targets.get(job.target)));
    });
    if (!grid.childElementCount) grid.append(el('p', {}, 'no target is probed on this line'));
    section.append(grid);
    return section;
  });
  document.getElementById('charts').replaceChildren(...sections);
}

function showError(message) {
  const box = document.getElementById('error');
  box.textContent = message;
  box.hidden = !message;
}

async function load() {
  const mine = ++generation;
  clearTimeout(refreshTimer);
  range = rangeFromHash();
  for (const a of document.querySelectorAll('#ranges a')) {
    if (a.dataset.range === range) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    const [linesDoc, targetsDoc] =
        await Promise.all([getJSON('/api/v1/lines'), getJSON('/api/v1/targets')]);
    const targets = new Map(targetsDoc.targets.map((t) => [t.target, t]));
    const jobs = [];
    for (const l of linesDoc.lines) {
      for (const t of targetsDoc.targets) {
        if (!t.lines.includes(l.line)) continue;
        for (const kind of t.kinds) jobs.push({line: l.line, target: t.target, kind});
      }
    }
    const results = await pool(jobs.map((j) => () => getJSON('/api/v1/series?' +
        new URLSearchParams({line: j.line, target: j.target, kind: j.kind, since: range}))), PARALLEL);
    if (mine !== generation) return;
    document.getElementById('agent').textContent = linesDoc.agent ? `· ${linesDoc.agent}` : '';
    render(linesDoc.lines, targets, jobs, results);
    showError('');
    document.getElementById('updated').textContent =
        `${range} · updated ${fmtTime(Date.now(), false)} · refreshes every ${REFRESH_MS / 1000} s`;
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
  } catch (e) {
    if (mine !== generation) return;
    showError(`could not read the agent: ${e.message}`);
    document.getElementById('updated').textContent = `failed at ${fmtTime(Date.now(), false)}`;
  } finally {
    if (mine === generation) refreshTimer = setTimeout(load, REFRESH_MS);
  }
}

legend();
window.addEventListener('hashchange', () => {
  if (rangeFromHash() !== range) load();
});
load();
