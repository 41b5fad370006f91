// A live plot of one numeric (or boolean) sensor with uPlot, keeping HISTORY_S seconds in the page.

export const HISTORY_S = 300;
const MIN_SPAN_S = 30; // a plot shows at least this much time, so a few points do not fill it
const dirty = new Set();
let frame = 0;

function redraw() {
  frame = 0;
  for (const plot of dirty) plot.draw();
  dirty.clear();
}

// The history of one channel: kept in the page while it is open, whether a plot shows it or not.
export class Series {
  constructor() { this.xs = []; this.ys = []; }

  push(t, v) {
    const y = typeof v === "boolean" ? (v ? 1 : 0) : v;
    if (typeof y !== "number" || !Number.isFinite(y)) return false;
    if (this.xs.length && t < this.xs[this.xs.length - 1]) return false;
    this.xs.push(t);
    this.ys.push(y);
    const oldest = t - HISTORY_S;
    let cut = 0;
    while (cut < this.xs.length && this.xs[cut] < oldest) cut++;
    if (cut) { this.xs.splice(0, cut); this.ys.splice(0, cut); }
    return true;
  }
}

export class LivePlot {
  constructor(container, series, { unit, color, step }) {
    this.container = container;
    this.series = series;
    this.u = null;
    this.unit = unit || "";
    this.color = color;
    this.step = step;
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(container);
    // A sensor that reports changes only (motion, an alert) is still at its last value now: its line
    // runs on to the present, redrawn every second.
    this.ticker = step ? setInterval(() => this.changed(), 1000) : 0;
  }

  make() {
    if (this.u || typeof uPlot === "undefined") return;
    const width = Math.max(200, this.container.clientWidth);
    const styles = getComputedStyle(document.documentElement);
    const muted = styles.getPropertyValue("--muted").trim() || "#888";
    const grid = styles.getPropertyValue("--line").trim() || "#ddd";
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: "11px system-ui" };
    const paths = this.step && uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
    this.u = new uPlot({
      width, height: 150, legend: { show: false }, cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: this.step ? { range: [-0.1, 1.1] } : { auto: true },
      },
      axes: [axis, { ...axis, size: 46, values: (u, ticks) => ticks.map((v) => `${+v.toFixed(2)}`) }],
      series: [{}, { stroke: this.color, width: 2, fill: `${this.color}22`, paths, points: { show: false } }],
    }, [this.series.xs, this.series.ys], this.container);
  }

  resize() {
    if (!this.u) { this.make(); return; }
    const width = Math.max(200, this.container.clientWidth);
    if (Math.abs(width - this.u.width) > 2) this.u.setSize({ width, height: 150 });
  }

  changed() {
    dirty.add(this);
    if (!frame) frame = requestAnimationFrame(redraw);
  }

  draw() {
    if (!this.u) this.make();
    if (!this.u) return;
    let { xs, ys } = this.series;
    if (this.step && xs.length) {
      xs = xs.concat(Math.max(Date.now() / 1000, xs[xs.length - 1]));
      ys = ys.concat(ys[ys.length - 1]);
    }
    this.u.setData([xs, ys]);
    if (xs.length) {
      const max = xs[xs.length - 1];
      this.u.setScale("x", { min: Math.min(xs[0], max - MIN_SPAN_S), max });
    }
  }

  destroy() {
    clearInterval(this.ticker);
    this.observer.disconnect();
    dirty.delete(this);
    if (this.u) this.u.destroy();
    this.u = null;
  }
}

// A sparkline of the last SPARK_S seconds of a series on a small canvas (the device list's tiles).
const SPARK_S = 60;
const sparkDirty = new Set();
let sparkFrame = 0;

export function sparkline(canvas, series, step = false) {
  sparkDirty.add({ canvas, series, step });
  if (!sparkFrame) sparkFrame = requestAnimationFrame(drawSparklines);
}

function drawSparklines() {
  sparkFrame = 0;
  const color = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#3b6cf6";
  const seen = new Set();
  for (const { canvas, series, step } of sparkDirty) {
    if (seen.has(canvas) || !canvas.isConnected) continue;
    seen.add(canvas);
    const dpr = window.devicePixelRatio || 1;
    const cw = Math.round(canvas.clientWidth * dpr), ch = Math.round(canvas.clientHeight * dpr);
    if (cw && ch && (canvas.width !== cw || canvas.height !== ch)) { canvas.width = cw; canvas.height = ch; }
    const g = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height;
    g.clearRect(0, 0, w, h);
    const { xs, ys } = series;
    if (xs.length < 2) continue;
    const t1 = xs[xs.length - 1];
    let t0 = t1 - SPARK_S;
    let i = xs.length - 1;
    while (i > 0 && xs[i - 1] >= t0) i--;
    t0 = Math.max(t0, xs[i]);
    const width = Math.max(t1 - t0, 1e-9);
    let lo = Infinity, hi = -Infinity;
    for (let k = i; k < xs.length; k++) { lo = Math.min(lo, ys[k]); hi = Math.max(hi, ys[k]); }
    const span = hi - lo || 1;
    g.strokeStyle = color;
    g.lineWidth = 1.5 * dpr;
    g.beginPath();
    for (let k = i; k < xs.length; k++) {
      const x = ((xs[k] - t0) / width) * (w - 2) + 1;
      const y = h - 2 - ((ys[k] - lo) / span) * (h - 4);
      if (k === i) g.moveTo(x, y);
      else if (step) { g.lineTo(x, h - 2 - ((ys[k - 1] - lo) / span) * (h - 4)); g.lineTo(x, y); }
      else g.lineTo(x, y);
    }
    g.stroke();
  }
  sparkDirty.clear();
}
