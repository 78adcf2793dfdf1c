// A live line chart on uPlot: `series` is [{ label, values }] over shared `times` (seconds).
import uPlot from "uplot";
import { useEffect, useRef } from "preact/hooks";
import { html } from "./ui.js";

const COLOURS = ["#2f6fde", "#d9480f", "#2b8a3e", "#9c36b5", "#e8590c"];

export function Chart({ title, times, series, unit = "", height = 160, max }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = [times, ...series.map((s) => s.values)];
  const shape = series.map((s) => s.label).join("|");

  useEffect(() => {
    const width = Math.max(240, box.current.clientWidth);
    const options = {
      width,
      height,
      legend: { show: series.length > 1 },
      scales: { x: { time: true }, y: max ? { range: [0, max] } : {} },
      axes: [
        { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.15)" } },
        {
          stroke: "currentColor",
          grid: { stroke: "rgba(128,128,128,.15)" },
          values: (_, ticks) => ticks.map((t) => `${+t.toFixed(1)}${unit}`),
          size: 56,
        },
      ],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2 }))],
    };
    plot.current = new uPlot(options, data, box.current);
    const resize = new ResizeObserver(() => {
      plot.current?.setSize({ width: Math.max(240, box.current.clientWidth), height });
    });
    resize.observe(box.current);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, height, max, unit]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return html`<figure class="chart"><figcaption>${title}</figcaption>
    <div ref=${box} class="chart-box" role="img" aria-label=${`${title} chart`}></div></figure>`;
}
