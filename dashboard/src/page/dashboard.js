// ptl dashboard: follows the server's event stream (/events) and draws the selected run with
// the report's own chart code (charts.js). The server keeps every run's series: a connection
// starts with a full snapshot; a reconnection (with Last-Event-ID) gets only what was missed,
// the events themselves or a "resume" whose series points merge by their second `t`, so a
// point is never drawn twice. A server that stops answering for FAIL_OVER_MS is left for the
// first other dashboard of the same runs (a cluster's other coordinators, GET /api/peers) that
// answers, with the token and the run shown. Where the server offers plans, the "Start a run"
// panel starts one. A finished run gets a "Capacity" panel: the server's analysis of it
// (GET /api/runs/{id}/analysis, the plan's thresholds plus the SLOs typed in) and its chart
// (an SVG image from the same server: nothing in it runs).
(function () {
  "use strict";

  var runs = [];          // summaries, newest first
  var views = {};         // id -> RunView
  var selected = null;    // id chosen by the user (null: follow the newest run)
  var lastId = "";        // the id of the last event, for a stream opened anew
  var plans = [];         // what the server may start (GET /api/plans)
  var options = [];       // `ptl submit`'s start options it takes, with their defaults
  var peers = [];         // other dashboards showing the same runs
  var downSince = 0;      // when the stream stopped answering (0: it is live)
  var FAIL_OVER_MS = 5000;

  var shown = /^#run=(.+)$/.exec(location.hash);
  if (shown) selected = decodeURIComponent(shown[1]);

  function $(id) { return document.getElementById(id); }

  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" };
  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) { return ESCAPES[c]; });
  }
  function num(v, digits) {
    if (typeof v !== "number" || !isFinite(v)) return "-";
    return v.toLocaleString("en-US", { maximumFractionDigits: digits == null ? 1 : digits });
  }
  function ms(v) { return typeof v === "number" && v > 0 ? num(v, 2) + " ms" : "-"; }
  function secs(v) { return window.ptlCharts.formatSeconds(Math.max(0, v || 0)); }

  function current() {
    var id = selected;
    if (!id || !views[id]) {
      var live = runs.filter(function (r) { return views[r.id] && (r.status === "running" || r.status === "paused" || r.status === "stopping"); });
      id = live.length ? live[0].id : (runs.length && views[runs[0].id] ? runs[0].id : null);
    }
    return id ? views[id] : null;
  }

  function upsert(series, points) {
    points.forEach(function (p) {
      var i = series.length;
      while (i > 0 && series[i - 1].t > p.t) i--;
      if (i > 0 && series[i - 1].t === p.t) series[i - 1] = p; else series.splice(i, 0, p);
    });
  }

  function setSummary(summary) {
    var i = runs.findIndex(function (r) { return r.id === summary.id; });
    if (i >= 0) runs[i] = summary; else runs.unshift(summary);
    if (views[summary.id]) views[summary.id].summary = summary;
  }

  function drawCharts(view) {
    var data = {
      series: view.series,
      phases: view.phase_latency,
      marks: view.marks,
    };
    window.ptlCharts.renderAll(document, data);
    ["ptl-chart-rate", "ptl-chart-latency", "ptl-chart-errors", "ptl-chart-percentiles"].forEach(function (id) {
      $(id).setAttribute("data-points", String(view.series.length));
    });
  }

  function cards(view) {
    var h = view.headline, s = view.summary;
    var items = [
      ["phase", h.phase || (s.status === "done" ? "finished" : "-")],
      ["phase left", h.phase ? secs(h.phase_left_s) : "-"],
      ["run left", s.status === "done" || s.status === "failed" ? "-" : secs(h.run_left_s)],
      ["target", num(h.target_rps) + "/s"],
      ["achieved", num(h.achieved_rps) + "/s"],
      ["requests", num(h.requests, 0)],
      ["errors", num(h.errors, 0)],
      ["dropped", num(h.dropped, 0)],
      ["p95", ms(s.p95_ms)],
      ["p99", ms(s.p99_ms)],
    ];
    $("cards").innerHTML = items.map(function (c) {
      return "<div class=\"card\"><div class=\"name\">" + esc(c[0]) + "</div><div class=\"value\">" + esc(c[1]) + "</div></div>";
    }).join("");
  }

  function table(id, head, rows) {
    $(id).innerHTML = "<tr>" + head.map(function (h, i) {
      return "<th" + (i === 0 ? " class=\"text\"" : "") + ">" + esc(h) + "</th>";
    }).join("") + "</tr>" + rows.join("");
  }

  function drawTables(view) {
    // `exhausted`: iterations a `unique` feeder had no row left for, never sent.
    table("phases", ["phase", "target", "achieved", "planned", "requests", "errors", "dropped", "exhausted"],
      (view.phase_rows || []).map(function (p) {
        return "<tr><td class=\"text\">" + esc(p.name) + "</td><td>" + num(p.target_rps) + "/s</td><td>" +
          num(p.achieved_rps) + "/s</td><td>" + num(p.planned, 0) + "</td><td>" + num(p.requests, 0) +
          "</td><td class=\"" + (p.errors ? "bad" : "") + "\">" + num(p.errors, 0) +
          "</td><td class=\"" + (p.dropped ? "bad" : "") + "\">" + num(p.dropped, 0) +
          "</td><td class=\"" + (p.exhausted ? "bad" : "") + "\">" + num(p.exhausted, 0) + "</td></tr>";
      }));
    table("requests", ["phase", "request", "requests", "errors", "dropped", "rate", "p50", "p95", "p99", "max"],
      view.requests.map(function (r) {
        return "<tr><td class=\"text\">" + esc(r.phase) + "</td><td>" + esc(r.request) + "</td><td>" +
          num(r.requests, 0) + "</td><td class=\"" + (r.errors ? "bad" : "") + "\">" + num(r.errors, 0) +
          "</td><td class=\"" + (r.dropped ? "bad" : "") + "\">" + num(r.dropped, 0) + "</td><td>" +
          num(r.achieved_rps) + "/s</td><td>" + ms(r.p50_ms) + "</td><td>" + ms(r.p95_ms) + "</td><td>" +
          ms(r.p99_ms) + "</td><td>" + ms(r.max_ms) + "</td></tr>";
      }));
    $("agents-section").hidden = view.agents.length === 0;
    table("agents", ["agent", "share", "state", "last report", "deltas", "requests"],
      view.agents.map(function (a) {
        var ago = a.last_report_ms ? secs((Date.now() - a.last_report_ms) / 1000) + " ago" : "-";
        return "<tr><td class=\"text\">" + esc(a.name) + "</td><td>" + num(a.share * 100) + "%</td><td>" +
          esc(a.state) + "</td><td>" + esc(ago) + "</td><td>" + num(a.deltas, 0) + "</td><td>" +
          num(a.requests, 0) + "</td></tr>";
      }));
    table("verdicts", ["threshold", "result", "actual"], view.summary.verdicts.map(function (t) {
      // Pending: the run goes on and the threshold's phase has no data yet.
      var state = t.state === "pending" ? "<span class=\"pending\">PENDING</span>" :
        (t.state === "pass" ? "<span class=\"pass\">PASS</span>" : "<span class=\"fail\">FAIL</span>");
      return "<tr><td class=\"text\"><code>" + esc(t.expr) + "</code></td><td>" + state +
        "</td><td>" + esc(t.state === "pending" ? "-" : t.actual_text) + "</td></tr>";
    }));
  }

  function drawRuns(view) {
    var id = view ? view.summary.id : null;
    $("run-select").innerHTML = "<option value=\"\">newest</option>" + runs.map(function (r) {
      return "<option value=\"" + esc(r.id) + "\"" + (r.id === selected ? " selected" : "") + ">" +
        esc(r.id + " · " + r.plan + " · " + r.status) + "</option>";
    }).join("");
    table("runs", ["run", "plan", "status", "started", "duration", "requests", "errors", "p95", "verdict", ""],
      runs.map(function (r) {
        var pending = r.verdicts && r.verdicts.some(function (t) { return t.state === "pending"; });
        var verdict = r.passed == null ? (pending ? "<span class=\"pending\">PENDING</span>" : "-") :
          (r.passed ? "<span class=\"pass\">PASS</span>" : "<span class=\"fail\">FAIL</span>");
        return "<tr class=\"" + (r.id === id ? "selected" : "") + "\"><td class=\"text\"><button class=\"link\" data-run=\"" +
          esc(r.id) + "\">" + esc(r.id) + "</button></td><td>" + esc(r.plan) + "</td><td>" + esc(r.status) +
          "</td><td>" + esc(r.started_at || "-") + "</td><td>" + secs(r.duration_s) + "</td><td>" +
          num(r.requests, 0) + "</td><td>" + num(r.errors, 0) + "</td><td>" + ms(r.p95_ms) + "</td><td>" +
          verdict + "</td><td><a href=\"/api/runs/" + encodeURIComponent(r.id) + "/report\" target=\"_blank\">report</a></td></tr>";
      }));
  }

  function draw() {
    var view = current();
    drawRuns(view);
    if (!view) {
      $("status").textContent = "no run yet";
      return;
    }
    var s = view.summary;
    $("status").textContent = s.status;
    $("status").className = "status " + s.status;
    $("phase").textContent = s.plan + (s.reason ? " · " + s.reason : "");
    $("btn-stop").hidden = !s.controls.stop;
    $("btn-pause").hidden = !s.controls.pause;
    $("btn-resume").hidden = !s.controls.resume;
    $("report-link").href = "/api/runs/" + encodeURIComponent(s.id) + "/report";
    cards(view);
    drawCharts(view);
    drawTables(view);
    drawCapacity(view);
  }

  // The query the Capacity panel asks with: each comma-separated SLO typed in, and `at`.
  function capacityQuery() {
    var parts = $("capacity-slos").value.split(/[,;]/).map(function (s) { return s.trim(); })
      .filter(function (s) { return s !== ""; })
      .map(function (s) { return "slo=" + encodeURIComponent(s); });
    var at = $("capacity-at").value.trim();
    if (at) parts.push("at=" + encodeURIComponent(at));
    return parts.length ? "?" + parts.join("&") : "";
  }

  var capacityAsked = "";  // run id and query of the analysis shown (or being fetched)
  var capacityTyped = "";  // the query of the fields as last submitted (typing alone asks nothing)

  function rate(v) { return typeof v === "number" ? num(v, v < 100 ? 1 : 0) + "/s" : "-"; }

  function capacityText(a) {
    var lines = [];
    a.slos.forEach(function (s) {
      lines.push("SLO " + s.slo + ": " + (s.broke_at_rps == null ? "held at every step" :
        "broke at " + rate(s.broke_at_rps) + ", held up to " + (s.held_up_to_rps == null ? "no step" : rate(s.held_up_to_rps))));
    });
    lines.push("knee: " + (a.knee_rps == null ? "none (see the notes)" :
      rate(a.knee_rps) + " (step planned at " + rate(a.knee_target_rps) + ")"));
    var m = a.model;
    lines.push("model: " + (m ? "p99 = " + num(m.base_ms) + " ms + " + num(m.scale, 0) + " / (capacity - rate), capacity " +
      (m.capacity_rps == null ? "none (no curvature)" : rate(m.capacity_rps)) + ", residual RMS " + ms(m.rms_ms) +
      " over " + m.points + " steps" : "none"));
    var p = a.prediction;
    if (p) {
      lines.push("predicted p99 at " + rate(p.at_rps) + ": " + (p.p99_ms == null ? "beyond the fitted capacity" :
        ms(p.p99_ms) + " (range " + ms(p.low_ms) + " to " + (p.high_ms == null ? "unbounded" : ms(p.high_ms)) + ")"));
    }
    a.notes.forEach(function (n) { lines.push("note: " + n); });
    return lines.join("\n");
  }

  function drawCapacity(view) {
    var s = view.summary;
    var finished = s.status === "done" || s.status === "failed";
    $("capacity-section").hidden = !finished;
    if (!finished) { capacityAsked = ""; return; }
    var base = "/api/runs/" + encodeURIComponent(s.id) + "/analysis";
    var query = capacityTyped;
    if (capacityAsked === base + query) return;
    capacityAsked = base + query;
    $("capacity-message").textContent = "analysing…";
    fetch(base + query, { credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (answer) {
        if (capacityAsked !== base + query) return;  // another run or query since
        var ok = answer.ok;
        $("capacity-chart").hidden = !ok;
        $("capacity-text").hidden = !ok;
        if (!ok) {
          $("capacity-message").textContent = answer.body.error || "no analysis";
          $("capacity-chart").removeAttribute("src");
          return;
        }
        $("capacity-message").textContent = "judged by " + answer.body.slos.map(function (x) { return x.slo; }).join(", ");
        $("capacity-chart").src = base + "/chart" + query;
        $("capacity-text").textContent = capacityText(answer.body);
      })
      .catch(function (e) { $("capacity-message").textContent = "no analysis: " + e; });
  }

  function fetchView(id) {
    fetch("/api/runs/" + encodeURIComponent(id) + "/view", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (view) { if (view) { views[view.summary.id] = view; draw(); } });
  }

  function select(id) {
    selected = id || null;
    if (selected && !views[selected]) fetchView(selected);
    draw();
  }

  function control(verb) {
    var view = current();
    if (!view) return;
    var headers = {};
    var token = sessionStorage.getItem("ptl-token");
    if (token) headers.Authorization = "Bearer " + token;
    fetch("/api/runs/" + encodeURIComponent(view.summary.id) + "/" + verb,
      { method: "POST", credentials: "same-origin", headers: headers })
      .then(function (r) {
        if (r.status === 401) {
          var entered = window.prompt("Operator token");
          if (entered) { sessionStorage.setItem("ptl-token", entered); control(verb); }
          return;
        }
        return r.json().then(function (body) {
          $("message").textContent = r.ok ? verb + ": " + body.status : verb + " refused: " + body.error;
        });
      });
  }

  function loadPeers() {
    fetch("/api/peers", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body) peers = body.peers; })
      .catch(function () {});
  }

  // Still down: go to the first peer that answers (an opaque no-cors answer is enough; the
  // server's content security policy names the peers' origins), else look again later. A
  // server back on this address first (a restart) keeps the page here.
  function failOver() {
    if (!downSince) return;
    var token = new URLSearchParams(location.search).get("token") || sessionStorage.getItem("ptl-token");
    var to = "/" + (token ? "?token=" + encodeURIComponent(token) : "") +
      (selected ? "#run=" + encodeURIComponent(selected) : "");
    (function attempt(i) {
      if (!downSince) return;
      if (i >= peers.length) { setTimeout(failOver, FAIL_OVER_MS); return; }
      var peer = peers[i].replace(/\/+$/, "");
      fetch(peer + "/", { mode: "no-cors", cache: "no-store" })
        .then(function () { if (downSince) location.href = peer + to; })
        .catch(function () { attempt(i + 1); });
    })(0);
  }

  function listen() {
    // EventSource sends Last-Event-ID when it reconnects by itself; a stream it gave up on (a
    // proxy's error page during a failover) is opened anew with the id in the address.
    var source = new EventSource(lastId ? "/events?last_event_id=" + encodeURIComponent(lastId) : "/events");
    source.onopen = function () {
      downSince = 0;
      $("conn").textContent = "live"; $("conn").className = "conn live";
      loadPeers();
    };
    source.onerror = function () {
      $("conn").textContent = "reconnecting…"; $("conn").className = "conn down";
      if (!downSince) { downSince = Date.now(); setTimeout(failOver, FAIL_OVER_MS); }
      if (source.readyState === EventSource.CLOSED) setTimeout(listen, 2000);
    };
    function on(name, handle) {
      source.addEventListener(name, function (e) {
        if (e.lastEventId) lastId = e.lastEventId;
        handle(JSON.parse(e.data));
      });
    }
    on("snapshot", function (snap) {
      runs = snap.runs;
      views = {};
      snap.views.forEach(function (v) { views[v.summary.id] = v; });
      draw();
    });
    on("resume", function (resume) {
      runs = resume.runs;
      resume.views.forEach(function (v) {
        var id = v.summary.id, have = views[id];
        if (!Object.prototype.hasOwnProperty.call(resume.since, id)) { views[id] = v; return; }
        // Only the newest points came: without the older ones, ask for the whole view.
        if (!have) { fetchView(id); return; }
        upsert(have.series, v.series);
        ["summary", "phases", "marks", "headline", "phase_rows", "requests", "phase_latency", "agents"].forEach(function (k) { have[k] = v[k]; });
      });
      runs.forEach(function (r) { if (views[r.id]) views[r.id].summary = r; });
      draw();
    });
    on("runs", function (body) {
      runs = body.runs;
      runs.forEach(function (r) { if (views[r.id]) views[r.id].summary = r; });
      draw();
    });
    on("run", function (view) {
      var have = views[view.summary.id];
      // A coordinator that just took over announces a run before reading its deltas: the
      // points the page has stay until its ticks bring them again.
      if (have && view.series.length === 0) view.series = have.series;
      views[view.summary.id] = view;
      setSummary(view.summary);
      draw();
    });
    on("tick", function (tick) {
      var view = views[tick.id];
      if (!view) return;
      if (tick.reset) view.series = [];
      upsert(view.series, tick.points);
      ["marks", "headline", "phase_rows", "requests", "phase_latency", "agents"].forEach(function (k) { view[k] = tick[k]; });
      setSummary(tick.summary);
      draw();
    });
  }

  function operatorHeaders() {
    var headers = { "Content-Type": "application/json" };
    var token = sessionStorage.getItem("ptl-token");
    if (token) headers.Authorization = "Bearer " + token;
    return headers;
  }

  function drawLaunchParams() {
    var plan = plans.find(function (p) { return p.name === $("launch-plan").value; });
    $("launch-params").innerHTML = plan ? plan.params.map(function (p) {
      return "<label>" + esc(p.name) + " <span class=\"sub\">" + esc(p.kind) + "</span> <input data-param=\"" +
        esc(p.name) + "\" data-default=\"" + esc(p.default) + "\" value=\"" + esc(p.default) + "\"></label>";
    }).join("") : "";
    var broken = plan && !plan.checks;
    $("launch-diagnostics").hidden = !broken;
    $("launch-diagnostics").textContent = broken ? (plan.diagnostics || "") : "";
    $("launch-message").textContent = broken ? "this plan has errors with its defaults" : "";
  }

  // Empty fields show submit's defaults as placeholders and are not sent: the default applies.
  function drawLaunchOptions() {
    $("launch-options").hidden = options.length === 0;
    $("launch-option-fields").innerHTML = options.map(function (o) {
      var field = o.kind === "choice"
        ? "<select data-option=\"" + esc(o.name) + "\"><option value=\"\">" + esc(o.default) + " (default)</option>" +
          o.choices.map(function (c) { return "<option value=\"" + esc(c) + "\">" + esc(c) + "</option>"; }).join("") + "</select>"
        : "<input data-option=\"" + esc(o.name) + "\" placeholder=\"" + esc(o.default) + "\">";
      return "<label title=\"" + esc(o.help) + "\">" + esc(o.name.replace(/_/g, " ")) + " <span class=\"sub\">" +
        esc(o.flag) + "</span> " + field + "</label>";
    }).join("");
  }

  function loadPlans() {
    fetch("/api/plans", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) return;  // this server starts no runs: the panel stays hidden
        plans = body.plans;
        options = body.options || [];
        $("launch").hidden = false;
        drawLaunchOptions();
        $("launch-plan").innerHTML = plans.map(function (p) {
          return "<option value=\"" + esc(p.name) + "\">" + esc(p.name + (p.checks ? "" : " (has errors)")) + "</option>";
        }).join("");
        drawLaunchParams();
      });
  }

  function startRun() {
    var params = {};
    Array.prototype.forEach.call($("launch-params").querySelectorAll("input[data-param]"), function (input) {
      if (input.value !== input.getAttribute("data-default")) params[input.getAttribute("data-param")] = input.value;
    });
    var body = { plan: $("launch-plan").value, params: params };
    var agents = parseInt($("launch-agents").value, 10);
    if (agents > 0) body.agents = agents;
    var chosen = {};
    Array.prototype.forEach.call($("launch-option-fields").querySelectorAll("[data-option]"), function (field) {
      if (field.value.trim() !== "") chosen[field.getAttribute("data-option")] = field.value.trim();
    });
    if (Object.keys(chosen).length) body.options = chosen;
    $("launch-message").textContent = "starting…";
    $("launch-diagnostics").hidden = true;
    fetch("/api/runs", { method: "POST", credentials: "same-origin", headers: operatorHeaders(), body: JSON.stringify(body) })
      .then(function (r) {
        if (r.status === 401) {
          $("launch-message").textContent = "starting a run needs the operator token";
          var entered = window.prompt("Operator token");
          if (entered) { sessionStorage.setItem("ptl-token", entered); startRun(); }
          return;
        }
        return r.json().then(function (answer) {
          if (r.ok) {
            $("launch-message").textContent = "started " + answer.run + "; it shows here once the coordinator picks it up";
            select(answer.run);
          } else {
            $("launch-message").textContent = "not started: " + answer.error;
            $("launch-diagnostics").textContent = answer.diagnostics || "";
            $("launch-diagnostics").hidden = !answer.diagnostics;
          }
        });
      })
      .catch(function (e) { $("launch-message").textContent = "not started: " + e; });
  }

  $("run-select").addEventListener("change", function (e) { select(e.target.value); });
  $("runs").addEventListener("click", function (e) {
    var run = e.target.getAttribute && e.target.getAttribute("data-run");
    if (run) select(run);
  });
  $("btn-stop").addEventListener("click", function () { control("stop"); });
  $("btn-pause").addEventListener("click", function () { control("pause"); });
  $("btn-resume").addEventListener("click", function () { control("resume"); });
  $("capacity-form").addEventListener("submit", function (e) {
    e.preventDefault();
    capacityTyped = capacityQuery();
    var view = current();
    if (view) drawCapacity(view);
  });
  $("launch-plan").addEventListener("change", drawLaunchParams);
  $("launch-form").addEventListener("submit", function (e) { e.preventDefault(); startRun(); });
  loadPlans();
  listen();
  // Coordinators come and go: keep the list fresh while the stream is live.
  setInterval(function () { if (!downSince) loadPeers(); }, 10000);
})();
