// 运营分析: draws the funnel, bar and line charts from /console/analytics.json (same filters as the page).
// Loaded as a file (the console's CSP allows no inline script); ECharts is vendored next to it.
(function () {
  "use strict";
  var charts = {};

  function chart(id) {
    var node = document.getElementById(id);
    if (!charts[id]) charts[id] = echarts.init(node, null, { renderer: "canvas" });
    return charts[id];
  }

  function funnel(entry) {
    var stages = [{ name: "发起", value: entry.started }];
    entry.steps.forEach(function (s) { stages.push({ name: s.label, value: s.reached }); });
    if (entry.submitted || entry.approved) {
      stages.push({ name: "提交申请", value: entry.submitted });
      stages.push({ name: "审核通过", value: entry.approved });
    } else {
      stages.push({ name: "办结", value: entry.completed });
    }
    chart("chart-funnel").setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: "{b}: {c}" },
      series: [{ type: "funnel", sort: "none", left: "10%", width: "80%", min: 0,
                 max: Math.max(1, entry.started), label: { show: true, position: "inside", formatter: "{b} {c}" },
                 data: stages }]
    }, true);
  }

  function bar(funnels) {
    chart("chart-bar").setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { data: ["发起", "办结", "提交申请", "转人工"] },
      grid: { left: 40, right: 10, bottom: 70 },
      xAxis: { type: "category", data: funnels.map(function (f) { return f.name; }), axisLabel: { rotate: 40 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "发起", type: "bar", data: funnels.map(function (f) { return f.started; }) },
        { name: "办结", type: "bar", data: funnels.map(function (f) { return f.completed; }) },
        { name: "提交申请", type: "bar", data: funnels.map(function (f) { return f.submitted; }) },
        { name: "转人工", type: "bar", data: funnels.map(function (f) { return f.handoffs; }) }
      ]
    }, true);
  }

  function line(daily) {
    chart("chart-line").setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { data: ["发起", "办结", "提交申请"] },
      grid: { left: 40, right: 10 },
      xAxis: { type: "category", data: daily.map(function (d) { return d.date; }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "发起", type: "line", data: daily.map(function (d) { return d.started; }) },
        { name: "办结", type: "line", data: daily.map(function (d) { return d.completed; }) },
        { name: "提交申请", type: "line", data: daily.map(function (d) { return d.submitted; }) }
      ]
    }, true);
  }

  function draw(data) {
    var funnels = data.funnels;
    var select = document.getElementById("funnel-business");
    select.replaceChildren();
    funnels.forEach(function (f) {
      var opt = document.createElement("option");
      opt.value = f.business;
      opt.textContent = f.name;
      select.appendChild(opt);
    });
    var first = funnels.filter(function (f) { return f.started > 0; })[0] || funnels[0];
    if (first) {
      select.value = first.business;
      funnel(first);
    }
    select.addEventListener("change", function () {
      funnel(funnels.filter(function (f) { return f.business === select.value; })[0]);
    });
    bar(funnels);
    line(data.daily);
    document.body.setAttribute("data-charts", "ready");
  }

  fetch("/console/analytics.json" + window.location.search, { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
    .then(draw)
    .catch(function (err) { document.body.setAttribute("data-charts", "error:" + err); });
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  });
})();
