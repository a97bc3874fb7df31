// Cartera's own small SVG charts: line, bars (grouped or stacked) and heat map.
// Each chart is a <figure data-chart="..."> whose data comes from a {{ data|json_script }} block
// named by data-source; the figure also holds a table with the same numbers for screen readers,
// so the SVG itself is hidden from assistive technology. No inline scripts or styles (CSP).
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2"];

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, value, cls, anchor) {
    const t = el("text", { x: x, y: y, class: cls || "chart-label", "text-anchor": anchor || "middle" }, parent);
    t.textContent = value;
    return t;
  }

  // Numbers in the page's language (decimal comma and thousands in Spanish), short for axes.
  const LANG = document.documentElement.lang || undefined;
  const NUMBER = new Intl.NumberFormat(LANG, { maximumFractionDigits: 2 });
  const PERCENT = new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 1 });
  const SHORT = new Intl.NumberFormat(LANG, { maximumFractionDigits: 1 });

  function fmt(value, kind) {
    if (value === null || value === undefined || isNaN(value)) return "";
    if (kind === "percent") return PERCENT.format(value);
    const abs = Math.abs(value);
    if (abs >= 1e6) return SHORT.format(value / 1e6) + "M";
    if (abs >= 1e4) return SHORT.format(Math.round(value / 1e3)) + "k";
    return NUMBER.format(Math.round(value * 100) / 100);
  }

  // The y axis: a round step (1, 2, 2.5 or 5 times a power of ten) and as many steps (2 to 5) as
  // the largest value needs, so that the data fills most of the chart's height.
  function scale(v, kind) {
    if (!(v > 0)) return { max: 1, ticks: 4 };
    const raw = v / 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const m = raw / p;
    const step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
    let ticks = Math.max(2, Math.ceil(v / step - 1e-9));
    if (kind === "percent" && step * ticks > 1) ticks = Math.max(1, Math.floor(1 / step));
    return { max: step * ticks, ticks: ticks };
  }

  function frame(figure, height) {
    const old = figure.querySelector("svg.chart-svg");
    if (old) old.remove();
    const width = Math.max(260, Math.floor(figure.clientWidth || 320));
    const svg = el("svg", {
      class: "chart-svg", width: width, height: height, viewBox: "0 0 " + width + " " + height,
      "aria-hidden": "true", focusable: "false",
    });
    const caption = figure.querySelector("figcaption");
    if (caption && caption.nextSibling) figure.insertBefore(svg, caption.nextSibling);
    else figure.appendChild(svg);
    return { svg: svg, width: width, height: height };
  }

  function axes(f, pad, sc, kind, labels) {
    const h = f.height - pad.top - pad.bottom;
    for (let i = 0; i <= sc.ticks; i++) {
      const y = pad.top + h - (h * i) / sc.ticks;
      el("line", { x1: pad.left, x2: f.width - pad.right, y1: y, y2: y, class: "chart-grid" }, f.svg);
      text(f.svg, pad.left - 4, y + 4, fmt((sc.max * i) / sc.ticks, kind), "chart-label", "end");
    }
    const w = f.width - pad.left - pad.right;
    // Show every step-th label, step chosen from the longest label (about 6 px a character at the
    // labels' 11 px), and shorten what still does not fit: labels never overlap, even on a phone.
    const CHAR = 6.2;
    const longest = labels.reduce(function (m, l) { return Math.max(m, String(l).length); }, 0);
    const wanted = Math.min(longest * CHAR + 8, 120);
    const step = Math.max(1, Math.ceil((labels.length * wanted) / Math.max(1, w)));
    const fits = Math.max(3, Math.floor(((w * step) / Math.max(1, labels.length) - 8) / CHAR));
    labels.forEach(function (label, i) {
      if (i % step !== 0) return;
      const s0 = String(label);
      const s = s0.length > fits ? s0.slice(0, fits - 1) + "…" : s0;
      // Kept clear of the y axis' labels on the left and of the edge on the right.
      const half = (s.length * CHAR) / 2;
      const x = Math.min(f.width - half, Math.max(pad.left + half, pad.left + (w * (i + 0.5)) / labels.length));
      text(f.svg, x, f.height - pad.bottom + 14, s, "chart-label");
    });
  }

  function legend(figure, names) {
    const old = figure.querySelector(".chart-legend");
    if (old) old.remove();
    if (names.length < 2) return;
    const ul = document.createElement("ul");
    ul.className = "chart-legend";
    ul.setAttribute("aria-hidden", "true");
    names.forEach(function (name, i) {
      const li = document.createElement("li");
      li.className = "series-" + i;
      li.textContent = name;
      ul.appendChild(li);
    });
    figure.querySelector("svg.chart-svg").after(ul);
  }

  function series(figure) {
    return (figure.dataset.y || "").split(",").filter(Boolean);
  }

  function names(figure, keys) {
    const given = (figure.dataset.names || "").split("|");
    return keys.map(function (k, i) { return given[i] || k; });
  }

  const PAD = { top: 12, right: 10, bottom: 24, left: 44 };

  function drawLine(figure, rows) {
    const keys = series(figure);
    const xKey = figure.dataset.x;
    const kind = figure.dataset.format || "";
    const f = frame(figure, 220);
    let max = 0;
    rows.forEach(function (r) { keys.forEach(function (k) { if (r[k] > max) max = r[k]; }); });
    const sc = scale(max, kind);
    max = sc.max;
    axes(f, PAD, sc, kind, rows.map(function (r) { return r[xKey]; }));
    const w = f.width - PAD.left - PAD.right;
    const h = f.height - PAD.top - PAD.bottom;
    keys.forEach(function (k, s) {
      const pts = [];
      rows.forEach(function (r, i) {
        if (r[k] === null || r[k] === undefined) return;
        const x = PAD.left + (w * (i + 0.5)) / rows.length;
        const y = PAD.top + h - (h * r[k]) / max;
        pts.push(x.toFixed(1) + "," + y.toFixed(1));
        el("circle", { cx: x, cy: y, r: 2.5, class: "chart-dot series-" + s + (r.partial ? " partial" : ""), "data-value": r[k] }, f.svg);
      });
      el("polyline", { points: pts.join(" "), class: "chart-line series-" + s, fill: "none", stroke: COLORS[s] }, f.svg);
    });
    legend(figure, names(figure, keys));
  }

  function drawBars(figure, rows) {
    const keys = series(figure);
    const xKey = figure.dataset.x;
    const stacked = figure.dataset.chart === "stacked";
    const kind = figure.dataset.format || "";
    const f = frame(figure, 220);
    let max = 0;
    rows.forEach(function (r) {
      if (stacked) {
        let sum = 0;
        keys.forEach(function (k) { sum += r[k] || 0; });
        max = Math.max(max, sum);
      } else keys.forEach(function (k) { max = Math.max(max, r[k] || 0); });
    });
    const sc = scale(max, kind);
    max = sc.max;
    axes(f, PAD, sc, kind, rows.map(function (r) { return r[xKey]; }));
    const w = f.width - PAD.left - PAD.right;
    const h = f.height - PAD.top - PAD.bottom;
    const slot = w / Math.max(1, rows.length);
    const barW = Math.max(2, stacked ? slot * 0.7 : (slot * 0.8) / keys.length);
    rows.forEach(function (r, i) {
      let base = 0;
      keys.forEach(function (k, s) {
        const v = r[k] || 0;
        const bh = (h * v) / max;
        const x = PAD.left + slot * i + (stacked ? slot * 0.15 : slot * 0.1 + barW * s);
        const y = PAD.top + h - (h * base) / max - bh;
        const rect = el("rect", {
          x: x.toFixed(1), y: y.toFixed(1), width: barW.toFixed(1), height: Math.max(0, bh).toFixed(1),
          fill: COLORS[s % COLORS.length], "data-value": v,
          // The running month is not over: drawn lighter and dashed, so it does not read as a drop.
          class: "chart-bar series-" + s + (r.partial ? " partial" : ""),
        }, f.svg);
        el("title", {}, rect).textContent = r[xKey] + ": " + fmt(v, kind);
        if (stacked) base += v;
      });
    });
    legend(figure, names(figure, keys));
  }

  function drawHeatmap(figure, data) {
    const rows = data.cohorts || [];
    const months = data.months || 12;
    const labelW = 64;
    const f = frame(figure, 22 + rows.length * 22 + 4);
    const cellW = (f.width - labelW - 4) / months;
    for (let j = 0; j < months; j++) {
      text(f.svg, labelW + cellW * (j + 0.5), 14, String(j), "chart-label");
    }
    rows.forEach(function (row, i) {
      const y = 20 + i * 22;
      text(f.svg, labelW - 4, y + 15, row.cohort, "chart-label", "end");
      row.retention.forEach(function (v, j) {
        const cell = el("rect", {
          x: (labelW + cellW * j).toFixed(1), y: y, width: Math.max(1, cellW - 1).toFixed(1), height: 20,
          fill: COLORS[0], "fill-opacity": (0.08 + 0.92 * Math.min(1, v)).toFixed(3),
          class: "chart-cell", "data-value": v,
        }, f.svg);
        el("title", {}, cell).textContent = row.cohort + " +" + j + ": " + fmt(v, "percent");
        if (cellW >= 30) {
          text(f.svg, labelW + cellW * (j + 0.5), y + 14, fmt(v, "percent"), v > 0.5 ? "chart-label on-dark" : "chart-label");
        }
      });
    });
  }

  // A funnel: one centred bar per step, as wide as its share of the first step, with its count and
  // the share of the step before it (the pipeline's bottleneck report).
  function drawFunnel(figure, rows) {
    const xKey = figure.dataset.x;
    const yKey = figure.dataset.y;
    // Beside its bar a stage's label has 38 % of the width: on a phone that cuts "Necesidad
    // confirmada · 4 · 100 %", so there each label goes above its bar, across the whole width.
    const stacked = (figure.clientWidth || 320) < 480;
    const rowH = stacked ? 46 : 30;
    const barTop = stacked ? 18 : 0;
    const f = frame(figure, rows.length * rowH + 4);
    const barSpan = stacked ? f.width : f.width * 0.62;
    const top = rows.length ? Math.max(1, rows[0][yKey] || 0, ...rows.map(function (r) { return r[yKey] || 0; })) : 1;
    rows.forEach(function (r, i) {
      const v = r[yKey] || 0;
      const bw = Math.max(2, (barSpan * v) / top);
      const x = (barSpan - bw) / 2;
      const y = 2 + i * rowH;
      const rect = el("rect", {
        x: x.toFixed(1), y: y + barTop, width: bw.toFixed(1), height: rowH - barTop - 6, rx: 3,
        fill: COLORS[0], "fill-opacity": (1 - (0.5 * i) / Math.max(1, rows.length)).toFixed(2),
        class: "chart-bar", "data-value": v,
      }, f.svg);
      el("title", {}, rect).textContent = r[xKey] + ": " + fmt(v);
      const prev = i > 0 ? rows[i - 1][yKey] || 0 : 0;
      const share = i > 0 && prev ? " · " + fmt(v / prev, "percent") : "";
      const label = r[xKey] + " · " + fmt(v) + share;
      if (stacked) text(f.svg, 0, y + 12, label, "chart-label", "start");
      else text(f.svg, f.width * 0.62 + 6, y + rowH / 2, label, "chart-label", "start");
    });
  }

  const DRAW = { line: drawLine, bars: drawBars, stacked: drawBars, heatmap: drawHeatmap, funnel: drawFunnel };

  function draw(figure) {
    const source = document.getElementById(figure.dataset.source);
    const fn = DRAW[figure.dataset.chart];
    if (!source || !fn) return;
    let data;
    try { data = JSON.parse(source.textContent); } catch (e) { return; }
    fn(figure, data);
    figure.classList.add("drawn");
  }

  function drawAll(root) {
    (root || document).querySelectorAll("figure[data-chart]").forEach(draw);
  }

  let timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { drawAll(); }, 150);
  });
  document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
