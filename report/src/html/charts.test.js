// Tests of charts.js under Node's own test runner: `node --test runtime/src/report_html/`
// (also run by `cargo test -p ptl-runtime --test report_charts_js`).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const charts = require("./charts.js");

function seriesPoint(t, phase, extra) {
  return Object.assign({
    t, phase, target_rps: 100, achieved_rps: 99, errors: 0, dropped: 0,
    p50_ms: 10, p95_ms: 20, p99_ms: 30, max_ms: 40,
  }, extra || {});
}

function polylines(svg) {
  return [...svg.matchAll(/<polyline[^>]* points="([^"]*)"/g)].map((m) =>
    m[1].split(" ").map((pair) => pair.split(",").map(Number)));
}

function viewBox(svg) {
  const m = svg.match(/viewBox="0 0 (\d+) (\d+)"/);
  return { width: Number(m[1]), height: Number(m[2]) };
}

// Each opening tag has its closing tag, in order (every element here is written in full).
function assertBalanced(svg) {
  const stack = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*>/g)) {
    if (m[1] === "/") {
      assert.equal(stack.pop(), m[2], `unexpected </${m[2]}>`);
    } else {
      stack.push(m[2]);
    }
  }
  assert.deepEqual(stack, []);
}

test("a line chart draws one polyline per series, inside its view box", () => {
  const svg = charts.lineChart({
    title: "t",
    series: [
      { name: "a", color: "#000", points: [[0, 1], [1, 5], [2, 3]] },
      { name: "b", color: "#111", points: [[0, 2], [1, 2], [2, 9]] },
    ],
  });
  const lines = polylines(svg);
  assert.equal(lines.length, 2);
  assert.equal(lines[0].length, 3);
  const box = viewBox(svg);
  for (const line of lines) {
    for (const [x, y] of line) {
      assert.ok(x >= 0 && x <= box.width, `x ${x}`);
      assert.ok(y >= 0 && y <= box.height, `y ${y}`);
    }
  }
  // Higher values are drawn higher (smaller y), the same x for the same t.
  assert.ok(lines[1][2][1] < lines[1][0][1]);
  assert.equal(lines[0][1][0], lines[1][1][0]);
  assertBalanced(svg);
  assert.doesNotMatch(svg, /NaN|undefined|Infinity/);
});

test("a non-finite value breaks the line instead of drawing garbage", () => {
  const svg = charts.lineChart({
    series: [{ name: "a", points: [[0, 1], [1, 2], [2, null], [3, 4], [4, 5]] }],
  });
  const lines = polylines(svg);
  assert.equal(lines.length, 2);
  assert.equal(lines[0].length, 2);
  assert.equal(lines[1].length, 2);
  assert.doesNotMatch(svg, /NaN/);
});

test("an empty chart says so", () => {
  const svg = charts.lineChart({ title: "empty", series: [] });
  assert.match(svg, /no data/);
  assertBalanced(svg);
  const svg2 = charts.rateChart({ series: [], phases: [] });
  assert.match(svg2, /no data/);
});

test("text is escaped", () => {
  const svg = charts.lineChart({
    title: "<script>&",
    bands: [{ name: "<b>phase</b>", start: 0, end: 100 }],
    series: [{ name: "\"quoted\"", points: [[0, 1], [100, 2]] }],
  });
  assert.doesNotMatch(svg, /<script>|<b>/);
  assert.match(svg, /&lt;script&gt;&amp;/);
  assert.match(svg, /&lt;b&gt;phase&lt;\/b&gt;/);
  assert.match(svg, /&quot;quoted&quot;/);
  assertBalanced(svg);
});

test("phase spans come from the series, or from the durations without one", () => {
  const data = {
    series: [seriesPoint(0, "warmup"), seriesPoint(1, "warmup"), seriesPoint(2, "peak"),
      seriesPoint(3, "peak"), seriesPoint(4, "peak")],
  };
  assert.deepEqual(charts.phaseSpans(data), [
    { name: "warmup", start: 0, end: 2 },
    { name: "peak", start: 2, end: 5 },
  ]);
  assert.deepEqual(charts.phaseSpans({ series: [], phases: [
    { name: "a", duration_s: 10 }, { name: "b", duration_s: 5 },
  ] }), [{ name: "a", start: 0, end: 10 }, { name: "b", start: 10, end: 15 }]);
});

test("time charts mark each phase with a band and a label", () => {
  const series = [];
  for (let t = 0; t < 60; t++) series.push(seriesPoint(t, t < 30 ? "warmup" : "baseline"));
  const svg = charts.rateChart({ series });
  assert.equal((svg.match(/class="ptl-phase-band/g) || []).length, 2);
  assert.match(svg, />warmup</);
  assert.match(svg, />baseline</);
  assert.equal((svg.match(/class="ptl-phase-edge"/g) || []).length, 1);
  assertBalanced(svg);
});

test("the percentile chart draws each phase's distribution on a log scale", () => {
  const latency = { p50: 1, p90: 5, p95: 10, p99: 100, p999: 500, max: 1000, mean: 3 };
  const svg = charts.percentileChart({ phases: [
    { name: "a", latency }, { name: "b", latency: Object.assign({}, latency, { max: 2000 }) },
  ] });
  const lines = polylines(svg);
  assert.equal(lines.length, 2);
  assert.equal(lines[0].length, 6);
  // On a log scale 1 -> 10 and 10 -> 100 are the same height apart.
  const [p50, , p95, p99] = lines[0];
  assert.ok(Math.abs((p50[1] - p95[1]) - (p95[1] - p99[1])) < 0.5);
  for (const label of ["p50", "p99.9", "max"]) assert.match(svg, new RegExp(`>${label}<`));
  assertBalanced(svg);
});

test("nice ticks cover the range with round steps", () => {
  for (const [lo, hi] of [[0, 1], [0, 7.3], [0, 980], [0, 123456], [0, 0.004]]) {
    const ticks = charts.niceTicks(lo, hi, 5);
    assert.ok(ticks[0] <= lo && ticks[ticks.length - 1] >= hi, `${lo}..${hi}: ${ticks}`);
    assert.ok(ticks.length >= 2 && ticks.length <= 12, `${ticks}`);
    const step = ticks[1] - ticks[0];
    const mantissa = step / Math.pow(10, Math.floor(Math.log10(step)));
    assert.ok([1, 2, 5, 10].some((m) => Math.abs(m - mantissa) < 1e-6), `step ${step}`);
  }
  assert.deepEqual(charts.logTicks(3, 700), [1, 10, 100, 1000]);
});

test("time ticks are whole readable steps", () => {
  assert.deepEqual(charts.timeTicks(0, 10, 8), [0, 2, 4, 6, 8, 10]);
  const ticks = charts.timeTicks(0, 3600, 8);
  assert.equal(ticks[1] - ticks[0], 600);
  assert.equal(charts.formatSeconds(90), "1m30s");
  assert.equal(charts.formatSeconds(3600), "1h");
  assert.equal(charts.formatSeconds(45), "45s");
});

test("renderAll fills the chart elements of a page", () => {
  const elements = {};
  const doc = {
    getElementById(id) {
      if (!id.startsWith("ptl-chart-")) return null;
      elements[id] = elements[id] || { innerHTML: "" };
      return elements[id];
    },
  };
  charts.renderAll(doc, { series: [seriesPoint(0, "a"), seriesPoint(1, "a")], phases: [] });
  assert.deepEqual(Object.keys(elements).sort(), [
    "ptl-chart-errors", "ptl-chart-latency", "ptl-chart-percentiles", "ptl-chart-rate",
  ]);
  assert.match(elements["ptl-chart-rate"].innerHTML, /^<svg/);
});

test("marked stretches are shaded where they fall, open ones to the end of the data", () => {
  const series = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((t) => seriesPoint(t, "a"));
  const svg = charts.rateChart({
    series,
    marks: [
      { kind: "degraded", label: "agent-1 lost", start_s: 2, end_s: 4 },
      { kind: "paused", label: "paused", start_s: 6, end_s: null },
    ],
  });
  assertBalanced(svg);
  const rects = [...svg.matchAll(/<rect class="ptl-mark ptl-mark-(\w+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)]
    .map((m) => ({ kind: m[1], x: Number(m[2]), w: Number(m[3]) }));
  assert.deepEqual(rects.map((r) => r.kind), ["degraded", "paused"]);
  // x runs 0..10 s over the plot: 2..4 s is a fifth as wide as the whole 0..10 s.
  const plotWidth = viewBox(svg).width - 64 - 16;
  assert.ok(Math.abs(rects[0].w - plotWidth / 5) < 0.5, JSON.stringify(rects));
  assert.ok(Math.abs(rects[1].x + rects[1].w - (64 + plotWidth)) < 0.5, "open mark reaches the end");
  assert.match(svg, /<title>agent-1 lost<\/title>/);
  assert.doesNotMatch(charts.rateChart({ series }), /ptl-mark/);
});

test("without paused marks, pauses are read from the series' paused fractions", () => {
  const fractions = [0, 0, 0.5, 1, 1, 0.25, 0, 0, 1, 0];
  const series = fractions.map((paused, t) => seriesPoint(t, "a", { paused }));
  assert.deepEqual(charts.pauseMarks(series), [
    { kind: "paused", label: "paused", start_s: 2.5, end_s: 5.25 },
    { kind: "paused", label: "paused", start_s: 8, end_s: 9 },
  ]);
  // Compacted points cover several seconds each.
  const wide = [0, 4, 8].map((t, i) => seriesPoint(t, "a", { paused: [0, 0.5, 0][i] }));
  assert.deepEqual(charts.pauseMarks(wide), [
    { kind: "paused", label: "paused", start_s: 6, end_s: 8 },
  ]);
  // Old data (no fractions) has no pauses; marks given by the data win over the series.
  assert.deepEqual(charts.pauseMarks([seriesPoint(0, "a")]), []);
  const given = [{ kind: "paused", label: "paused", start_s: 2.4, end_s: 5.3 }];
  assert.deepEqual(charts.chartMarks({ series, marks: given }), given);
  const degraded = [{ kind: "degraded", label: "x", start_s: 1, end_s: 2 }];
  assert.equal(charts.chartMarks({ series, marks: degraded }).length, 3);
  const svg = charts.rateChart({ series });
  assertBalanced(svg);
  assert.equal([...svg.matchAll(/ptl-mark-paused/g)].length, 2);
});
