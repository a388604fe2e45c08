// Harvest Data of one source (an Inventory device's notifications and uploads, a Sigfox device's
// decoded frames) as a time-series chart of its numeric fields and as a table, updated live.

import { clock, errorText, field, h, notice, replace, table } from "../dom.js";
import { entriesSince, followEntries, numericFields } from "../harvest.js";
import uPlot from "../vendor/uPlot.esm.js";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];
const RANGES = [["5 min", 5 * 60e3], ["1 hour", 3600e3], ["24 hours", 86400e3], ["all (latest 5000)", 0]];
const TABLE_ROWS = 200;
const POLL_MS = 1000;

export async function render(root, [resourceType, resourceId]) {
  const state = { range: RANGES[1][1], live: true, entries: [], zoomed: false };
  const chartBox = h("div", { class: "chart", id: "chart", role: "img", "aria-label": "Chart of the numeric fields" });
  const summary = h("p", { id: "chart-summary", class: "muted" });
  const tableBox = h("div", { id: "data-table" });
  const message = h("p", { hidden: true });
  let plot = null;
  let plotSeries = "";

  const rangeSelect = h("select", { name: "range" },
    RANGES.map(([label, ms]) => h("option", { value: ms, selected: ms === state.range }, label)));
  rangeSelect.addEventListener("change", () => {
    state.range = Number(rangeSelect.value);
    reload();
  });
  const liveBox = h("input", { type: "checkbox", name: "live", checked: true });
  liveBox.addEventListener("change", () => { state.live = liveBox.checked; });
  const resetZoom = h("button", { type: "button", onclick: () => { state.zoomed = false; draw(true); } }, "Reset zoom");

  const back = resourceType === "SigfoxDevice"
    ? h("a", { href: `#/sigfox/${encodeURIComponent(resourceId)}` }, "← Sigfox device")
    : h("a", { href: `#/devices/${encodeURIComponent(resourceId)}` }, "← Objects");
  replace(root,
    h("div", { class: "page-head" }, h("p", {}, back),
      h("h1", {}, "Data ", h("small", {}, `${resourceType} ${resourceId}`)),
      h("p", { class: "muted" }, "Harvest Data entries: numeric fields as series (drag across the chart to zoom, " +
        "double-click or Reset zoom to see all; click a legend entry to hide a series).")),
    h("div", { class: "filters" }, field("Time range", rangeSelect),
      h("label", { class: "check" }, liveBox, " Live updates"), resetZoom),
    message, summary, chartBox, h("h2", {}, "Entries"), tableBox);

  function seriesNames() {
    const names = new Set();
    for (const entry of state.entries) for (const name of Object.keys(numericFields(entry))) names.add(name);
    return [...names].sort();
  }

  function draw(resetScales = !state.zoomed) {
    const names = seriesNames();
    const x = state.entries.map((e) => e.time / 1000);
    const columns = names.map((name) => state.entries.map((e) => numericFields(e)[name] ?? null));
    const points = columns.reduce((n, column) => n + column.filter((v) => v !== null).length, 0);
    summary.textContent = `${state.entries.length} entries, ${names.length} numeric series, ${points} points`;
    summary.dataset.points = String(points);
    if (!names.length) {
      if (plot) plot.destroy();
      plot = null;
      plotSeries = "";
      replace(chartBox, h("p", { class: "muted" }, "No numeric data yet: observe a resource, or wait for an upload."));
    } else if (!plot || plotSeries !== names.join("\n")) {
      if (plot) plot.destroy();
      chartBox.replaceChildren();
      plotSeries = names.join("\n");
      plot = new uPlot({
        width: Math.max(280, chartBox.clientWidth || 600),
        height: 300,
        scales: { x: { time: true } },
        series: [{}, ...names.map((name, i) => ({ label: name, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
          points: { size: 5 } }))],
        cursor: { drag: { x: true, y: false } },
        hooks: { setSelect: [(u) => { if (u.select.width > 0) state.zoomed = true; }] },
      }, [x, ...columns], chartBox);
    } else {
      plot.setData([x, ...columns], resetScales);
    }
    const newest = state.entries.slice(-TABLE_ROWS).reverse();
    replace(tableBox, table(["Time", "Content"], newest.map((entry) => h("tr", {},
      h("td", {}, clock(entry.time)),
      h("td", {}, h("code", { class: "content" }, entry.parsed ? JSON.stringify(entry.parsed) : entry.content)))),
    newest.length ? `Newest ${newest.length} of ${state.entries.length} entries` : "No entries"));
  }

  async function reload() {
    try {
      const from = state.range ? Date.now() - state.range : undefined;
      state.entries = await entriesSince(resourceType, resourceId, from);
      state.zoomed = false;
      notice(message, "");
      draw(true);
    } catch (error) {
      notice(message, errorText(error), "error");
    }
  }

  await reload();
  const onResize = () => { if (plot) plot.setSize({ width: Math.max(280, chartBox.clientWidth), height: 300 }); };
  window.addEventListener("resize", onResize);
  const stop = followEntries(resourceType, resourceId, {
    since: state.entries.length ? state.entries[state.entries.length - 1].time : 0,
    intervalMs: POLL_MS,
    paused: () => !state.live,
    onEntries: (fresh) => {
      state.entries.push(...fresh);
      draw();
    },
  });
  return () => {
    stop();
    window.removeEventListener("resize", onResize);
    if (plot) plot.destroy();
  };
}
