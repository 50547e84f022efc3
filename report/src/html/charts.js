// ptl charts: draws a run's charts as inline SVG from the run's chart JSON
// ({series: [SeriesPoint], phases: [{name, duration_s, target_rps, latency}],
// marks: [{kind, label, start_s, end_s}] (optional: degraded windows, pauses)}). Without
// "paused" marks, pauses are read from the series points' `paused` fractions.
//
// Every drawing function is pure (data in, SVG markup string out) so that the HTML report, a
// live dashboard and the Node tests (charts.test.js) share it; only renderAll touches a page.
// No dependencies and no network: the report must open offline.
(function (root) {
  "use strict";

  var WIDTH = 900;
  var HEIGHT = 280;
  var MARGIN = { top: 34, right: 16, bottom: 44, left: 64 };
  var COLORS = {
    target: "#7f7f7f",
    achieved: "#1f77b4",
    p50: "#2ca02c",
    p95: "#ff7f0e",
    p99: "#d62728",
    max: "#9467bd",
    errors: "#d62728",
    dropped: "#ff7f0e",
  };
  var PHASE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var PERCENTILES = [["p50", "p50"], ["p90", "p90"], ["p95", "p95"], ["p99", "p99"],
    ["p99.9", "p999"], ["max", "max"]];
  var TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
    10800, 21600, 43200, 86400];

  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" };
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) { return ESCAPES[c]; });
  }

  function finite(v) {
    return typeof v === "number" && isFinite(v);
  }

  // Coordinates are rounded to 0.1 px: smaller files, no visible difference.
  function px(v) {
    return String(Math.round(v * 10) / 10);
  }

  // Ticks at 1, 2 or 5 × 10^k covering [lo, hi]; the last tick is >= hi.
  function niceTicks(lo, hi, count) {
    if (!finite(lo)) lo = 0;
    if (!finite(hi) || hi <= lo) hi = lo + 1;
    var raw = (hi - lo) / Math.max(1, count || 5);
    var magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = magnitude * 10;
    [1, 2, 5].some(function (m) {
      if (m * magnitude >= raw) { step = m * magnitude; return true; }
      return false;
    });
    var first = Math.floor(lo / step);
    var last = Math.ceil(hi / step - 1e-9);
    var ticks = [];
    for (var i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
    return ticks;
  }

  // Powers of ten covering [lo, hi] (both > 0).
  function logTicks(lo, hi) {
    var first = Math.floor(Math.log10(lo));
    var last = Math.ceil(Math.log10(hi));
    if (last === first) last = first + 1;
    var ticks = [];
    for (var e = first; e <= last; e++) ticks.push(Number(Math.pow(10, e).toPrecision(12)));
    return ticks;
  }

  // Time ticks at whole, readable steps (1s … 1d), about `count` of them.
  function timeTicks(lo, hi, count) {
    var span = Math.max(1, hi - lo);
    var step = TIME_STEPS[TIME_STEPS.length - 1];
    TIME_STEPS.some(function (s) {
      if (span / s <= (count || 8)) { step = s; return true; }
      return false;
    });
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
    return ticks;
  }

  function formatSeconds(t) {
    t = Math.round(t);
    if (t < 60) return t + "s";
    var h = Math.floor(t / 3600);
    var m = Math.floor((t % 3600) / 60);
    var s = t % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (h > 0) return h + "h" + (m || s ? pad(m) + "m" : "");
    return m + "m" + (s ? pad(s) + "s" : "");
  }

  function formatNumber(v) {
    if (!finite(v)) return "";
    var a = Math.abs(v);
    if (a >= 1e6) return trim(v / 1e6) + "M";
    if (a >= 1e3) return trim(v / 1e3) + "k";
    return trim(v);
  }

  function trim(v) {
    return String(Number(v.toPrecision(3)));
  }

  // Where each phase starts and ends, from the per-second series (each point names its phase);
  // when there is no series, from the phases' durations laid end to end.
  function phaseSpans(data) {
    var series = (data && data.series) || [];
    var spans = [];
    series.forEach(function (point) {
      var last = spans[spans.length - 1];
      if (!last || last.name !== point.phase) {
        spans.push({ name: point.phase, start: point.t, end: point.t + 1 });
      } else {
        last.end = point.t + 1;
      }
    });
    if (spans.length === 0 && data && data.phases) {
      var at = 0;
      data.phases.forEach(function (phase) {
        var d = finite(phase.duration_s) ? phase.duration_s : 0;
        spans.push({ name: phase.name, start: at, end: at + d });
        at += d;
      });
    }
    return spans;
  }

  // Paused stretches from the series alone (each point's `paused` fraction of its seconds), for
  // data without "paused" marks (a live view): neighbouring paused points make one stretch; a
  // stretch starting part-way into a point is taken to start late in it, one ending part-way
  // to end early in it.
  function pauseMarks(series) {
    var marks = [];
    var open = null;
    (series || []).forEach(function (point, i) {
      var next = series[i + 1];
      var prev = series[i - 1];
      var width = next ? next.t - point.t : (prev ? point.t - prev.t : 1);
      if (!(width > 0)) width = 1;
      var f = finite(point.paused) ? Math.min(1, Math.max(0, point.paused)) : 0;
      if (f > 0) {
        if (!open) {
          open = { kind: "paused", label: "paused", start_s: point.t + width * (1 - f) };
          marks.push(open);
        }
        open.end_s = open.start_s < point.t ? point.t + width * f : point.t + width;
        if (f < 1 && open.start_s < point.t) open = null;
      } else {
        open = null;
      }
    });
    return marks;
  }

  // The marks to shade: the data's, and pauses from the series when it lists none.
  function chartMarks(data) {
    var marks = (data && data.marks) || [];
    var hasPauses = marks.some(function (m) { return m && m.kind === "paused"; });
    return hasPauses ? marks : marks.concat(pauseMarks(data && data.series));
  }

  // A line chart. opts: {title, xLabel, yLabel, series: [{name, color, points: [[x, y]],
  // dash}], bands: [{name, start, end}] (phases), marks: [{kind, label, start_s, end_s}]
  // (shaded stretches), categories: [label] (x is then an index), logY, yFormat}. Points
  // with a non-finite y break the line.
  function lineChart(opts) {
    var width = opts.width || WIDTH;
    var height = opts.height || HEIGHT;
    var plot = {
      left: MARGIN.left, top: MARGIN.top,
      right: width - MARGIN.right, bottom: height - MARGIN.bottom,
    };
    var series = (opts.series || []).filter(function (s) { return s.points && s.points.length; });
    var out = [];
    out.push("<svg class=\"ptl-chart\" viewBox=\"0 0 " + width + " " + height +
      "\" role=\"img\" aria-label=\"" + esc(opts.title || "chart") + "\">");
    out.push("<text class=\"ptl-chart-title\" x=\"" + plot.left + "\" y=\"16\">" +
      esc(opts.title || "") + "</text>");

    var xs = [];
    var ys = [];
    series.forEach(function (s) {
      s.points.forEach(function (p) {
        if (finite(p[0])) xs.push(p[0]);
        if (finite(p[1]) && (!opts.logY || p[1] > 0)) ys.push(p[1]);
      });
    });
    if (xs.length === 0 || ys.length === 0) {
      out.push("<text class=\"ptl-chart-empty\" x=\"" + px((plot.left + plot.right) / 2) +
        "\" y=\"" + px((plot.top + plot.bottom) / 2) + "\" text-anchor=\"middle\">no data</text>");
      out.push("</svg>");
      return out.join("");
    }

    // X domain.
    var categories = opts.categories;
    var xLo, xHi, xTicks;
    if (categories) {
      xLo = -0.5;
      xHi = categories.length - 0.5;
      xTicks = categories.map(function (_, i) { return i; });
    } else {
      xLo = Math.min.apply(null, xs);
      xHi = Math.max.apply(null, xs);
      (opts.bands || []).forEach(function (b) {
        if (finite(b.start)) xLo = Math.min(xLo, b.start);
        if (finite(b.end)) xHi = Math.max(xHi, b.end);
      });
      if (xHi <= xLo) xHi = xLo + 1;
      xTicks = timeTicks(xLo, xHi, 8);
    }
    var xScale = function (x) {
      return plot.left + (x - xLo) / (xHi - xLo) * (plot.right - plot.left);
    };

    // Y domain: from 0 (linear) or the lowest decade (log) to a tick at or above the max.
    var yMax = Math.max.apply(null, ys);
    var yTicks, yScale;
    if (opts.logY) {
      var yMin = Math.min.apply(null, ys);
      yTicks = logTicks(yMin, yMax);
      var lo = Math.log10(yTicks[0]);
      var hi = Math.log10(yTicks[yTicks.length - 1]);
      yScale = function (y) {
        var v = Math.log10(Math.max(y, yTicks[0]));
        return plot.bottom - (v - lo) / (hi - lo) * (plot.bottom - plot.top);
      };
    } else {
      yTicks = niceTicks(0, yMax > 0 ? yMax : 1, 5);
      var top = yTicks[yTicks.length - 1];
      yScale = function (y) {
        return plot.bottom - y / top * (plot.bottom - plot.top);
      };
    }
    var yFormat = opts.yFormat || formatNumber;

    // Phase bands, shaded alternately, named at the top when there is room.
    (opts.bands || []).forEach(function (band, i) {
      var x0 = Math.max(plot.left, xScale(band.start));
      var x1 = Math.min(plot.right, xScale(band.end));
      if (!(x1 > x0)) return;
      out.push("<g class=\"ptl-phase\"><rect class=\"ptl-phase-band ptl-phase-" + (i % 2) +
        "\" x=\"" + px(x0) + "\" y=\"" + plot.top + "\" width=\"" + px(x1 - x0) +
        "\" height=\"" + (plot.bottom - plot.top) + "\"><title>" + esc(band.name) + "</title></rect>");
      if (i > 0) {
        out.push("<line class=\"ptl-phase-edge\" x1=\"" + px(x0) + "\" x2=\"" + px(x0) +
          "\" y1=\"" + plot.top + "\" y2=\"" + plot.bottom + "\"></line>");
      }
      var room = Math.floor((x1 - x0 - 6) / 7);
      if (room >= 2) {
        var label = String(band.name);
        if (label.length > room) label = label.slice(0, room - 1) + "\u2026";
        out.push("<text class=\"ptl-phase-label\" x=\"" + px(x0 + 3) + "\" y=\"" +
          (plot.top + 11) + "\">" + esc(label) + "</text>");
      }
      out.push("</g>");
    });

    // Marked stretches (a cluster's degraded windows, pauses): shaded over the phases, named
    // in their title; one still going (no end) reaches the end of the data.
    (opts.marks || []).forEach(function (mark) {
      if (!finite(mark.start_s)) return;
      var x0 = Math.max(plot.left, xScale(mark.start_s));
      var x1 = Math.min(plot.right, xScale(finite(mark.end_s) ? mark.end_s : xHi));
      if (x0 > plot.right) return;
      // A mark of no length (noticed and healed at once) still shows as a thin stripe.
      var w = Math.max(2, x1 - x0);
      out.push("<rect class=\"ptl-mark ptl-mark-" + esc(mark.kind || "mark") + "\" x=\"" +
        px(x0) + "\" y=\"" + plot.top + "\" width=\"" + px(w) + "\" height=\"" +
        (plot.bottom - plot.top) + "\"><title>" + esc(mark.label || mark.kind || "") +
        "</title></rect>");
    });

    // Axes, grid and tick labels.
    out.push("<g class=\"ptl-axis\">");
    yTicks.forEach(function (t) {
      var y = px(yScale(t));
      out.push("<line class=\"ptl-grid\" x1=\"" + plot.left + "\" x2=\"" + plot.right +
        "\" y1=\"" + y + "\" y2=\"" + y + "\"></line>");
      out.push("<text class=\"ptl-tick\" x=\"" + (plot.left - 6) + "\" y=\"" + y +
        "\" dy=\"0.32em\" text-anchor=\"end\">" + esc(yFormat(t)) + "</text>");
    });
    xTicks.forEach(function (t) {
      var x = px(xScale(t));
      var label = categories ? categories[t] : formatSeconds(t);
      out.push("<line class=\"ptl-tick-mark\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" +
        plot.bottom + "\" y2=\"" + (plot.bottom + 4) + "\"></line>");
      out.push("<text class=\"ptl-tick\" x=\"" + x + "\" y=\"" + (plot.bottom + 16) +
        "\" text-anchor=\"middle\">" + esc(label) + "</text>");
    });
    out.push("<line class=\"ptl-axis-line\" x1=\"" + plot.left + "\" x2=\"" + plot.right +
      "\" y1=\"" + plot.bottom + "\" y2=\"" + plot.bottom + "\"></line>");
    out.push("<line class=\"ptl-axis-line\" x1=\"" + plot.left + "\" x2=\"" + plot.left +
      "\" y1=\"" + plot.top + "\" y2=\"" + plot.bottom + "\"></line>");
    if (opts.xLabel) {
      out.push("<text class=\"ptl-axis-label\" x=\"" + px((plot.left + plot.right) / 2) +
        "\" y=\"" + (height - 6) + "\" text-anchor=\"middle\">" + esc(opts.xLabel) + "</text>");
    }
    if (opts.yLabel) {
      var cy = px((plot.top + plot.bottom) / 2);
      out.push("<text class=\"ptl-axis-label\" x=\"14\" y=\"" + cy +
        "\" text-anchor=\"middle\" transform=\"rotate(-90 14 " + cy + ")\">" +
        esc(opts.yLabel) + "</text>");
    }
    out.push("</g>");

    // Series: one polyline per unbroken run of points, dots where a point stands alone or
    // the x axis is categorical.
    series.forEach(function (s) {
      var color = s.color || "#333";
      var dash = s.dash ? " stroke-dasharray=\"" + esc(s.dash) + "\"" : "";
      out.push("<g class=\"ptl-series\" data-series=\"" + esc(s.name) + "\"><title>" +
        esc(s.name) + "</title>");
      var runs = [[]];
      s.points.forEach(function (p) {
        var ok = finite(p[0]) && finite(p[1]) && (!opts.logY || p[1] > 0);
        if (ok) runs[runs.length - 1].push(p);
        else if (runs[runs.length - 1].length) runs.push([]);
      });
      runs.forEach(function (run) {
        if (run.length > 1) {
          out.push("<polyline fill=\"none\" stroke=\"" + esc(color) + "\" stroke-width=\"1.6\"" +
            dash + " points=\"" + run.map(function (p) {
              return px(xScale(p[0])) + "," + px(yScale(p[1]));
            }).join(" ") + "\"></polyline>");
        }
        if (run.length === 1 || categories) {
          run.forEach(function (p) {
            var label = (categories ? categories[p[0]] : formatSeconds(p[0])) + ": " + yFormat(p[1]);
            out.push("<circle r=\"3\" fill=\"" + esc(color) + "\" cx=\"" + px(xScale(p[0])) +
              "\" cy=\"" + px(yScale(p[1])) + "\"><title>" + esc(s.name + " " + label) +
              "</title></circle>");
          });
        }
      });
      out.push("</g>");
    });

    // Legend, right-aligned above the plot.
    var x = plot.right;
    var legend = [];
    series.slice().reverse().forEach(function (s) {
      var w = 18 + String(s.name).length * 7;
      x -= w + 10;
      legend.push("<g class=\"ptl-legend-item\"><line x1=\"" + px(x) + "\" x2=\"" + px(x + 14) +
        "\" y1=\"12\" y2=\"12\" stroke=\"" + esc(s.color || "#333") + "\" stroke-width=\"3\"" +
        (s.dash ? " stroke-dasharray=\"" + esc(s.dash) + "\"" : "") + "></line><text x=\"" +
        px(x + 18) + "\" y=\"12\" dy=\"0.32em\">" + esc(s.name) + "</text></g>");
    });
    out.push("<g class=\"ptl-legend\">" + legend.reverse().join("") + "</g>");
    out.push("</svg>");
    return out.join("");
  }

  function pick(series, key) {
    return (series || []).map(function (p) { return [p.t, p[key]]; });
  }

  function rateChart(data) {
    var s = data.series || [];
    return lineChart({
      title: "Request rate: planned vs achieved",
      xLabel: "time since start",
      yLabel: "requests/s",
      bands: phaseSpans(data),
      marks: chartMarks(data),
      series: [
        { name: "target", color: COLORS.target, dash: "6 4", points: pick(s, "target_rps") },
        { name: "achieved", color: COLORS.achieved, points: pick(s, "achieved_rps") },
      ],
    });
  }

  function latencyChart(data) {
    var s = data.series || [];
    return lineChart({
      title: "Response time percentiles per second",
      xLabel: "time since start",
      yLabel: "ms",
      bands: phaseSpans(data),
      marks: chartMarks(data),
      series: [
        { name: "p50", color: COLORS.p50, points: pick(s, "p50_ms") },
        { name: "p95", color: COLORS.p95, points: pick(s, "p95_ms") },
        { name: "p99", color: COLORS.p99, points: pick(s, "p99_ms") },
        { name: "max", color: COLORS.max, dash: "2 3", points: pick(s, "max_ms") },
      ],
    });
  }

  function errorsChart(data) {
    var s = data.series || [];
    return lineChart({
      title: "Errors and dropped arrivals per second",
      xLabel: "time since start",
      yLabel: "per second",
      bands: phaseSpans(data),
      marks: chartMarks(data),
      series: [
        { name: "errors", color: COLORS.errors, points: pick(s, "errors") },
        { name: "dropped", color: COLORS.dropped, dash: "5 3", points: pick(s, "dropped") },
      ],
    });
  }

  // Each phase's response-time distribution: its percentiles p50 … max on a log scale.
  function percentileChart(data) {
    var categories = PERCENTILES.map(function (p) { return p[0]; });
    var series = (data.phases || []).map(function (phase, i) {
      var latency = phase.latency || {};
      return {
        name: phase.name,
        color: PHASE_COLORS[i % PHASE_COLORS.length],
        points: PERCENTILES.map(function (p, j) { return [j, latency[p[1]]]; }),
      };
    });
    return lineChart({
      title: "Response time distribution per phase",
      xLabel: "percentile",
      yLabel: "ms (log scale)",
      categories: categories,
      logY: true,
      series: series,
    });
  }

  var CHARTS = {
    "ptl-chart-rate": rateChart,
    "ptl-chart-latency": latencyChart,
    "ptl-chart-percentiles": percentileChart,
    "ptl-chart-errors": errorsChart,
  };

  // Fills every element of the page whose id names a chart.
  function renderAll(doc, data) {
    Object.keys(CHARTS).forEach(function (id) {
      var element = doc.getElementById(id);
      if (element) element.innerHTML = CHARTS[id](data || {});
    });
  }

  var api = {
    lineChart: lineChart,
    rateChart: rateChart,
    latencyChart: latencyChart,
    errorsChart: errorsChart,
    percentileChart: percentileChart,
    phaseSpans: phaseSpans,
    pauseMarks: pauseMarks,
    chartMarks: chartMarks,
    niceTicks: niceTicks,
    logTicks: logTicks,
    timeTicks: timeTicks,
    formatSeconds: formatSeconds,
    renderAll: renderAll,
  };
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ptlCharts = api;
  }
})(typeof globalThis !== "undefined" ? globalThis : this);
