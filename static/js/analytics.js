/* Managers' dashboard charts. Data comes from the page's json_script (#analytics-data): each
   chart names one of its panel's tables, which is also printed as an HTML table beside it.
   No inline scripts or handlers (CSP script-src 'self'). */
(function () {
  "use strict";

  function tableOf(panel, key) {
    for (var i = 0; i < panel.tables.length; i++) {
      if (panel.tables[i].key === key) return panel.tables[i];
    }
    return null;
  }

  function columnLabel(table, key) {
    for (var i = 0; i < table.columns.length; i++) {
      if (table.columns[i].key === key) return table.columns[i].label;
    }
    return key;
  }

  function kindOf(table, key) {
    for (var i = 0; i < table.columns.length; i++) {
      if (table.columns[i].key === key) return table.columns[i].kind;
    }
    return "";
  }

  /* Percent ratios are drawn as percentages; money (integer fen in the panel) in yuan, as labelled. */
  function valuesOf(table, key) {
    var kind = kindOf(table, key);
    return table.rows.map(function (row) {
      var value = row.values[key];
      if (value === null || value === undefined) return null;
      if (kind === "percent") return Math.round(value * 1000) / 10;
      if (kind === "money") return Math.round(value) / 100;
      return value;
    });
  }

  /* Axis ticks: counts never at 0.5; large figures compact (1,500,000 → 150万 / 1.5M) so the last
     tick is not cut off on a phone. */
  var chinese = (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0;
  function compact(value) {
    var size = Math.abs(value);
    if (chinese && size >= 10000) return +(value / 10000).toFixed(1) + "万";
    if (!chinese && size >= 1000000) return +(value / 1000000).toFixed(1) + "M";
    if (!chinese && size >= 1000) return +(value / 1000).toFixed(1) + "k";
    return String(value);
  }

  function optionFor(chart, table) {
    var labels = table.rows.map(function (row) { return row.label; });
    var grid = { left: 8, right: 16, top: 36, bottom: 8, containLabel: true };
    var legend = { top: 0, type: "scroll" };
    if (chart.type === "funnel") {
      var key = chart.series[0];
      return {
        tooltip: { trigger: "item", renderMode: "richText" },
        series: [{
          type: "funnel", sort: "none", gap: 2, minSize: "8%", left: "5%", width: "90%",
          label: { show: true, position: "inside", formatter: "{b}: {c}" },
          data: table.rows.map(function (row) { return { name: row.label, value: row.values[key] }; })
        }]
      };
    }
    if (chart.type === "pie") {
      var pieKey = chart.series[0];
      return {
        tooltip: { trigger: "item", renderMode: "richText" },
        legend: legend,
        series: [{
          type: "pie", radius: ["35%", "65%"], top: 24,
          label: { formatter: "{b}: {c}" },
          data: table.rows.map(function (row) { return { name: row.label, value: row.values[pieKey] }; })
        }]
      };
    }
    var horizontal = chart.type === "hbar";
    var categoryAxis = { type: "category", data: labels, axisLabel: { interval: 0, hideOverlap: true } };
    var counts = chart.series.every(function (key) { return kindOf(table, key) === "int"; });
    var valueAxis = { type: "value", minInterval: counts ? 1 : 0, axisLabel: { formatter: compact } };
    return {
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: legend,
      grid: grid,
      xAxis: horizontal ? valueAxis : categoryAxis,
      yAxis: horizontal ? Object.assign({}, categoryAxis, { inverse: true }) : valueAxis,
      series: chart.series.map(function (key) {
        return {
          name: columnLabel(table, key),
          type: chart.type === "line" ? "line" : "bar",
          stack: chart.type === "stack" ? "total" : undefined,
          data: valuesOf(table, key),
          connectNulls: true
        };
      })
    };
  }

  function draw() {
    var source = document.getElementById("analytics-data");
    if (!source || !window.echarts) return;
    var panels = JSON.parse(source.textContent);
    var byKey = {};
    panels.forEach(function (panel) { byKey[panel.key] = panel; });
    var instances = [];
    document.querySelectorAll(".analytics-chart").forEach(function (element) {
      var panel = byKey[element.dataset.panel];
      if (!panel) return;
      var chart = null;
      panel.charts.forEach(function (candidate) { if (candidate.key === element.dataset.chart) chart = candidate; });
      var table = chart && tableOf(panel, chart.table);
      if (!table || !table.rows.length) {
        element.classList.add("analytics-chart-empty");
        return;
      }
      var instance = window.echarts.init(element, null, { renderer: "canvas" });
      instance.setOption(optionFor(chart, table));
      instances.push(instance);
    });
    window.addEventListener("resize", function () {
      instances.forEach(function (instance) { instance.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
