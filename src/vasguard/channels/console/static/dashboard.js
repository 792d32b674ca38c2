// The dashboard's charts, from the page's own JSON block (no request of their own).
"use strict";
(function () {
  const block = document.getElementById("dashboard-data");
  if (!block || typeof Chart === "undefined") return;
  const data = JSON.parse(block.textContent);
  const colours = ["#0b6e4f", "#2f7dd1", "#d98b1c", "#a4262c", "#7b4fb0", "#5d6b7a"];
  function draw(id, kind, chart, options) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    const datasets = chart.series.map(function (s, i) {
      return { label: s.label, data: s.data, borderColor: colours[i % colours.length],
               backgroundColor: colours[i % colours.length], tension: 0.2, pointRadius: 2 };
    });
    const made = new Chart(canvas, {
      type: kind,
      data: { labels: chart.labels, datasets: datasets },
      options: Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
                               interaction: { mode: "index", intersect: false } }, options || {}),
    });
    canvas.dataset.drawn = String(datasets.reduce(function (n, d) { return n + d.data.length; }, 0));
    return made;
  }
  draw("chart-activity", "line", data.activity);
  draw("chart-reminders", "bar", data.reminders);
  draw("chart-money", "bar", data.money);
  draw("chart-provinces", "bar", data.provinces, { indexAxis: "y" });
})();
