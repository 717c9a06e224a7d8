// Draws the console's charts from the figures each page carries as JSON (no other requests).
"use strict";

(function () {
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function width(el) {
    return Math.max(320, el.clientWidth || 600);
  }

  function draw(el, series, columns, extra) {
    var options = Object.assign({ width: width(el), height: 220, series: series }, extra || {});
    var chart = new uPlot(options, columns, el);
    el.dataset.drawn = "yes";
    window.addEventListener("resize", function () {
      chart.setSize({ width: width(el), height: 220 });
    });
    return chart;
  }

  var bars = uPlot.paths.bars({ size: [0.7, 40] });
  var stepped = uPlot.paths.stepped({ align: 1 });

  function pressure(el) {
    var d = data("pressure-data");
    draw(el, [
      {},
      { label: "busiest party", stroke: "#2458c6", width: 2, paths: stepped, fill: "rgba(36,88,198,0.08)" },
      { label: "pool size", stroke: "#b3261e", width: 2, dash: [6, 4] },
      { label: "projected", stroke: "#8a5a00", width: 2, dash: [2, 4] },
      { label: "1505s", stroke: "#b3261e", fill: "rgba(179,38,30,0.35)", paths: bars, scale: "refusals" }
    ], [d.x, d.busiest, d.pool, d.projected, d.refusals], {
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.15]; } } },
      axes: [{}, { label: "live maskings" }, { side: 1, scale: "refusals", label: "1505s", grid: { show: false } }]
    });
  }

  function calls(el) {
    var d = data("calls-data");
    draw(el, [{}, { label: "calls", stroke: "#2458c6", fill: "rgba(36,88,198,0.35)", paths: bars },
                  { label: "answered", stroke: "#1e7d3a", fill: "rgba(30,125,58,0.35)", paths: bars }],
         [d.x, d.calls, d.answered]);
  }

  function rate(el) {
    var d = data("calls-data");
    draw(el, [{}, { label: "answered %", stroke: "#1e7d3a", width: 2, spanGaps: false, points: { show: true } }],
         [d.x, d.rate], { scales: { y: { range: [0, 100] } } });
  }

  function durations(el) {
    var d = data("calls-data");
    var x = d.durationLabels.map(function (_, i) { return i; });
    draw(el, [{ label: "talk time" }, { label: "answered calls", stroke: "#2458c6", fill: "rgba(36,88,198,0.35)", paths: bars }],
         [x, d.durations], {
           scales: { x: { time: false, range: [-0.5, x.length - 0.5] } },
           axes: [{ values: function (u, ticks) { return ticks.map(function (t) { return d.durationLabels[t] || ""; }); }, splits: function () { return x; } }, {}]
         });
  }

  var kinds = { pressure: pressure, calls: calls, rate: rate, durations: durations };
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    kinds[el.dataset.chart](el);
  });
  // When the charts are up: the load benchmark (bench/console.py) reads it.
  performance.mark("callmask-charts-drawn");
})();
