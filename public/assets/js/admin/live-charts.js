// Small live charts of the server, drawn by uPlot from GET /stats samples.
// The counters in /stats are cumulative, so rates are computed here over a
// window of samples (short gaps between polls would make a single interval
// jumpy); a counter that went down means the server restarted, and that
// point is left empty rather than drawn as a negative rate.

import uPlot from '/vendor/uplot/uPlot.esm.js';
import { h } from '../dom.js';
import { formatBytes, formatInteger, formatLatency, formatNumber } from '../format.js';

/** Samples kept: 10 minutes at one every 2 s. */
const WINDOW = 300;
const HEIGHT = 120;

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

const sum = (record) => Object.values(record ?? {}).reduce((total, n) => total + (Number(n) || 0), 0);

/**
 * How much a cumulative counter grew over about the last `seconds`, measured
 * from the oldest sample inside that window (or the previous one): per
 * `perSeconds` when given, else the plain count. Null without a baseline, or
 * when the counter went down.
 */
const growth = (counter, seconds, perSeconds) => (stats, atMs, earlier) => {
  let base = earlier[earlier.length - 1];
  if (!base) return null;
  for (let i = earlier.length - 1; i >= 0 && atMs - earlier[i].at <= seconds * 1000 + 500; i--) base = earlier[i];
  const delta = counter(stats) - counter(base.stats);
  const span = (atMs - base.at) / 1000;
  if (delta < 0 || span <= 0) return null;
  return perSeconds === undefined ? delta : (delta / span) * perSeconds;
};

/**
 * Each chart: its series (label and how to read a value from a sample) and
 * the headline shown above it.
 */
const CHARTS = [
  {
    id: 'connections',
    title: 'Connections',
    series: [
      ['SSE', (s) => s.connections?.byTransport?.sse ?? 0],
      ['WebSocket', (s) => s.connections?.byTransport?.ws ?? 0],
      ['Socket.IO', (s) => s.connections?.byTransport?.socketio ?? 0],
    ],
    headline: (s) => formatInteger(s.connections?.total),
    format: formatInteger,
  },
  {
    id: 'users',
    title: 'Users online',
    series: [['Users', (s) => s.usersOnline ?? 0]],
    headline: (s) => formatInteger(s.usersOnline),
    format: formatInteger,
  },
  {
    id: 'codes',
    title: 'Codes per minute',
    // The codes published over the last minute.
    series: [['Codes / min', growth((s) => s.codes?.published ?? 0, 60)]],
    headline: (_s, values) => formatInteger(values[0]),
    format: formatInteger,
  },
  {
    id: 'deliveries',
    title: 'Deliveries per second',
    series: [
      ['Live', growth((s) => sum(s.deliveries?.live), 10, 1)],
      ['Replayed', growth((s) => Number(s.deliveries?.replayed) || 0, 10, 1)],
    ],
    headline: (_s, values) => formatNumber((values[0] ?? 0) + (values[1] ?? 0)),
    format: formatNumber,
  },
  {
    id: 'acks',
    title: 'Ack latency',
    series: [
      ['Median', (s) => s.acks?.recentMedianMs ?? null],
      ['p99', (s) => s.acks?.recentP99Ms ?? null],
    ],
    headline: (s) => {
      if (!s.acks) return 'Not reported';
      return s.acks.recentMedianMs === null || s.acks.recentMedianMs === undefined
        ? 'No recent acks'
        : `${formatLatency(s.acks.recentMedianMs)} median`;
    },
    format: formatLatency,
  },
  {
    id: 'memory',
    title: 'Memory',
    series: [
      ['RSS', (s) => s.memory?.rss ?? null],
      ['Heap used', (s) => s.memory?.heapUsed ?? null],
    ],
    headline: (s) => formatBytes(s.memory?.rss),
    format: formatBytes,
  },
];

function palette() {
  const style = getComputedStyle(document.documentElement);
  const read = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return {
    series: [read('--chart-1', '#4338ca'), read('--chart-2', '#0d9488'), read('--chart-3', '#d97706')],
    axis: read('--muted', '#576170'),
    grid: read('--border', '#d9dde4'),
  };
}

export class LiveCharts {
  #charts = [];
  #times = [];
  /** The samples so far, oldest first: `{at, stats}`. */
  #samples = [];

  /** @param {HTMLElement} container */
  constructor(container) {
    const colors = palette();
    for (const spec of CHARTS) {
      const titleId = `chart-${spec.id}-title`;
      const now = h('p', { class: 'chart-now', text: '—' });
      const plot = h('div', { class: 'chart-plot', role: 'img', 'aria-label': `${spec.title}: no data yet` });
      const card = h(
        'article',
        { class: 'chart-card card', 'aria-labelledby': titleId, dataset: { chart: spec.id } },
        h('div', { class: 'chart-head' }, h('h3', { id: titleId, text: spec.title }), now),
        plot,
      );
      container.append(card);
      const values = spec.series.map(() => []);
      const chart = new uPlot(this.#options(spec, colors, plot), [this.#times, ...values], plot);
      this.#charts.push({ spec, chart, values, now, plot });
      new ResizeObserver(() => {
        const width = plot.clientWidth;
        if (width > 0 && width !== chart.width) chart.setSize({ width, height: HEIGHT });
      }).observe(plot);
    }
  }

  /** Adds one /stats sample taken at `atMs`. */
  push(stats, atMs) {
    this.#times.push(atMs / 1000);
    const dropOld = this.#times.length > WINDOW;
    if (dropOld) this.#times.shift();
    for (const { spec, chart, values, now, plot } of this.#charts) {
      const latest = spec.series.map(([, read], i) => {
        const value = read(stats, atMs, this.#samples);
        values[i].push(value);
        if (dropOld) values[i].shift();
        return value;
      });
      chart.setData([this.#times, ...values]);
      now.textContent = spec.headline(stats, latest);
      plot.setAttribute(
        'aria-label',
        `${spec.title}, last 10 minutes. Now: ${spec.series.map(([label], i) => `${label} ${spec.format(latest[i])}`).join(', ')}.`,
      );
    }
    this.#samples.push({ at: atMs, stats });
    if (this.#samples.length > WINDOW) this.#samples.shift();
  }

  #options(spec, colors, plot) {
    const axis = {
      stroke: colors.axis,
      grid: { stroke: colors.grid, width: 1 },
      ticks: { show: false },
      font: '11px system-ui, sans-serif',
    };
    return {
      width: Math.max(plot.clientWidth, 200),
      height: HEIGHT,
      legend: { show: spec.series.length > 1, live: false },
      cursor: { drag: { x: false, y: false }, points: { size: 5 } },
      scales: {
        x: { time: true },
        // Counts start at zero, so a flat line does not look like a swing.
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [
        { ...axis, space: 90, values: (_u, splits) => splits.map((v) => clock.format(new Date(v * 1000))) },
        { ...axis, size: 56, values: (_u, splits) => splits.map((v) => spec.format(v)) },
      ],
      series: [
        {},
        ...spec.series.map(([label], i) => ({
          label,
          stroke: colors.series[i],
          width: 2,
          fill: i === 0 ? `${colors.series[i]}1f` : undefined,
          points: { show: false },
          spanGaps: false,
          value: (_u, v) => spec.format(v),
        })),
      ],
    };
  }
}
