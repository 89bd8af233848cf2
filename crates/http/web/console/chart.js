// The console's delivery chart: webhook deliveries per time bucket (delivered and
// failed, stacked) and delivery latency (average and maximum), drawn as SVG with
// axes, an accessible title and description, and a table with the same numbers.
// Colours come from style.css classes (the CSP allows no inline styles).

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 720;
const HEIGHT = 220;
const MARGIN = { top: 14, right: 16, bottom: 34, left: 56 };
let serial = 0;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function html(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round upper bound for an axis (1, 2, 5 × 10^n steps, whole numbers) for about 4 ticks. */
function niceScale(max) {
  if (!(max > 0)) return { top: 1, step: 1 };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough));
  return { top: Math.ceil(max / step) * step, step };
}

function timeLabel(ms, withDate) {
  const date = new Date(ms);
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return withDate ? `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}` : time;
}

/** The frame of one panel: title, description, the y axis with its grid, the x axis. */
function panel(titleText, descText, yMax, yLabel, buckets, bucketMs) {
  const id = `chart-${++serial}`;
  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-labelledby': `${id}-title ${id}-desc`,
    class: 'chart',
    preserveAspectRatio: 'xMidYMid meet',
  });
  root.append(svg('title', { id: `${id}-title` }, titleText), svg('desc', { id: `${id}-desc` }, descText));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const { top, step } = niceScale(yMax);
  const y = (value) => MARGIN.top + plotH - (value / top) * plotH;
  const axes = svg('g', { class: 'axis', 'aria-hidden': 'true' });
  for (let value = 0; value <= top + step / 2; value += step) {
    axes.append(svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value), class: 'grid' }));
    axes.append(svg('text', { x: MARGIN.left - 6, y: y(value) + 4, class: 'tick y-tick' }, formatNumber(value)));
  }
  axes.append(svg('text', { x: 12, y: MARGIN.top + plotH / 2, class: 'axis-label', transform: `rotate(-90 12 ${MARGIN.top + plotH / 2})` }, yLabel));
  axes.append(svg('line', { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: MARGIN.top + plotH, class: 'axis-line' }));
  axes.append(svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH, class: 'axis-line' }));
  const n = Math.max(buckets.length, 1);
  const slot = plotW / n;
  const spansDays = buckets.length > 0 && new Date(buckets[0].start).toDateString() !== new Date(buckets[buckets.length - 1].start + bucketMs).toDateString();
  const every = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i <= n; i += every) {
    const x = MARGIN.left + i * slot;
    const start = buckets.length ? buckets[0].start + i * bucketMs : 0;
    axes.append(svg('line', { x1: x, x2: x, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + 5, class: 'axis-line' }));
    axes.append(svg('text', { x, y: HEIGHT - 12, class: 'tick x-tick' }, buckets.length ? timeLabel(start, spansDays) : ''));
  }
  root.append(axes);
  return { root, y, slot, plotH };
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function hasLatency(bucket) {
  return bucket.delivered + bucket.failed > 0 && bucket.latency_avg_ms !== null && bucket.latency_avg_ms !== undefined;
}

function deliveriesPanel(stats, label) {
  const { buckets, bucket_ms: bucketMs } = stats;
  const delivered = buckets.reduce((sum, b) => sum + b.delivered, 0);
  const failed = buckets.reduce((sum, b) => sum + b.failed, 0);
  const busiest = buckets.reduce((best, b) => (b.delivered + b.failed > (best ? best.delivered + best.failed : 0) ? b : best), null);
  const per = bucketMs === 60000 ? 'minute' : `${Math.round(bucketMs / 60000)} minutes`;
  const desc = busiest
    ? `From ${timeLabel(stats.from, true)} to ${timeLabel(stats.to, true)}: ${delivered} delivered and ${failed} failed. Busiest: ${busiest.delivered} delivered and ${busiest.failed} failed at ${timeLabel(busiest.start)}.`
    : `From ${timeLabel(stats.from, true)} to ${timeLabel(stats.to, true)}: no deliveries.`;
  const max = buckets.reduce((m, b) => Math.max(m, b.delivered + b.failed), 0);
  const { root, y, slot } = panel(`Webhook deliveries per ${per}, ${label}`, desc, max, `events per ${per}`, buckets, bucketMs);
  const bars = svg('g', { class: 'bars' });
  buckets.forEach((b, i) => {
    if (b.delivered + b.failed === 0) return;
    const x = MARGIN.left + i * slot + slot * 0.1;
    const width = Math.max(slot * 0.8, 1);
    const group = svg('g', { class: 'bar' });
    group.append(svg('title', {}, `${timeLabel(b.start)}: ${b.delivered} delivered, ${b.failed} failed`));
    if (b.delivered > 0) group.append(svg('rect', { x, width, y: y(b.delivered), height: y(0) - y(b.delivered), class: 'bar-delivered' }));
    if (b.failed > 0) group.append(svg('rect', { x, width, y: y(b.delivered + b.failed), height: y(b.delivered) - y(b.delivered + b.failed), class: 'bar-failed' }));
    bars.append(group);
  });
  root.append(bars);
  return root;
}

/** Polylines through the buckets that have a value; gaps where none were delivered. */
function lines(buckets, value, slot, y, className) {
  const group = svg('g', {});
  let points = [];
  const flush = () => {
    if (points.length === 1) {
      const [cx, cy] = points[0].split(',');
      group.append(svg('circle', { cx, cy, r: 2.5, class: `${className} dot` }));
    } else if (points.length > 1) {
      group.append(svg('polyline', { points: points.join(' '), class: className }));
    }
    points = [];
  };
  buckets.forEach((b, i) => {
    if (!hasLatency(b)) return flush();
    points.push(`${(MARGIN.left + (i + 0.5) * slot).toFixed(1)},${y(value(b)).toFixed(1)}`);
  });
  flush();
  return group;
}

function latencyPanel(stats, label) {
  const { buckets, bucket_ms: bucketMs } = stats;
  const measured = buckets.filter(hasLatency);
  const max = measured.reduce((m, b) => Math.max(m, b.latency_max_ms ?? b.latency_avg_ms), 0);
  const desc = measured.length
    ? `Average latency from ${Math.round(Math.min(...measured.map((b) => b.latency_avg_ms)))} to ${Math.round(Math.max(...measured.map((b) => b.latency_avg_ms)))} ms; the slowest POST took ${Math.round(max)} ms.`
    : 'No latency measured: nothing was sent in this period.';
  const { root, y, slot } = panel(`Webhook delivery latency, ${label}`, desc, max, 'milliseconds', buckets, bucketMs);
  root.append(lines(buckets, (b) => b.latency_max_ms ?? b.latency_avg_ms, slot, y, 'line-max'));
  root.append(lines(buckets, (b) => b.latency_avg_ms, slot, y, 'line-avg'));
  return root;
}

function legend(items) {
  const list = html('ul', 'legend');
  for (const [className, text] of items) {
    const item = html('li');
    item.append(html('span', `swatch ${className}`), document.createTextNode(text));
    list.append(item);
  }
  return list;
}

function dataTable(stats) {
  const details = html('details', 'chart-table');
  details.append(html('summary', null, 'Show the numbers as a table'));
  const wrap = html('div', 'table-wrap');
  const table = html('table');
  table.append(html('caption', null, 'Deliveries and latency per period (periods without any POST are left out)'));
  const head = html('tr');
  for (const text of ['Period starting', 'Delivered', 'Failed', 'Average latency (ms)', 'Maximum latency (ms)']) {
    const th = html('th', null, text);
    th.scope = 'col';
    head.append(th);
  }
  const thead = html('thead');
  thead.append(head);
  const tbody = html('tbody');
  for (const b of stats.buckets) {
    if (b.delivered + b.failed === 0) continue;
    const row = html('tr');
    const th = html('th', null, timeLabel(b.start, true));
    th.scope = 'row';
    row.append(th, html('td', 'num', String(b.delivered)), html('td', 'num', String(b.failed)),
      html('td', 'num', hasLatency(b) ? String(Math.round(b.latency_avg_ms)) : '–'),
      html('td', 'num', hasLatency(b) && b.latency_max_ms != null ? String(Math.round(b.latency_max_ms)) : '–'));
    tbody.append(row);
  }
  if (!tbody.children.length) {
    const row = html('tr');
    const td = html('td', null, 'No deliveries in this period.');
    td.colSpan = 5;
    row.append(td);
    tbody.append(row);
  }
  table.append(thead, tbody);
  wrap.append(table);
  details.append(wrap);
  return details;
}

/** The whole chart of one app's `/webhook/stats` answer. */
export function deliveryChart(stats, label) {
  const figure = html('figure', 'delivery-chart');
  figure.append(deliveriesPanel(stats, label), legend([['bar-delivered', 'delivered'], ['bar-failed', 'failed']]));
  figure.append(latencyPanel(stats, label), legend([['line-avg', 'average latency'], ['line-max', 'maximum latency']]));
  figure.append(dataTable(stats));
  return figure;
}
