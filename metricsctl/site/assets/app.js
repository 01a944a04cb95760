/* The metric center: pages built from window.METRICS_SITE (data.js) with DOM calls.
 * Every text from the project (labels, descriptions, owners, SQL) is set with textContent, never as HTML. */
(function () {
  "use strict";
  var D = window.METRICS_SITE;
  var W = D.words;
  var charts = [];
  var byName = {};
  D.metrics.forEach(function (m) { byName[m.name] = m; });

  // --- DOM helpers ---------------------------------------------------------------------------
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined) return;
        if (k === "text") node.textContent = String(v);
        else if (k === "cls") node.className = v;
        else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      if (Array.isArray(child)) child.forEach(function (c) { if (c) node.appendChild(c); });
      else node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  function h2(text) { return el("h2", {text: text}); }
  function link(name) {
    var m = byName[name];
    return el("a", {href: "#/metric/" + encodeURIComponent(name), text: m ? m.label : name, title: name});
  }
  function table(headers, rows, attrs) {
    return el("table", attrs || {cls: "grid"},
      el("thead", null, el("tr", null, headers.map(function (hd) { return el("th", {text: hd}); }))),
      el("tbody", null, rows));
  }
  function td(value, cls) {
    if (value instanceof Node) return el("td", {cls: cls}, value);
    return el("td", {text: value === null || value === undefined ? "–" : value, cls: cls});
  }
  function select(options, value, onchange, attrs) {
    var s = el("select", attrs || {});
    options.forEach(function (o) {
      var opt = el("option", {value: o[0], text: o[1]});
      if (String(o[0]) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    s.addEventListener("change", function () { onchange(s.value); });
    return s;
  }

  // --- numbers -------------------------------------------------------------------------------
  function num(v, digits) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    var abs = Math.abs(v);
    var d = digits !== undefined ? digits : (abs >= 1000 ? 0 : abs >= 1 ? 2 : 4);
    return Number(v).toLocaleString(D.meta.lang === "zh" ? "zh-CN" : "en-GB",
      {minimumFractionDigits: 0, maximumFractionDigits: d});
  }
  function pct(v, signed) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    var text = (100 * v).toFixed(1) + "%";
    return signed && v > 0 ? "+" + text : text;
  }
  function fmtValue(m, v) {
    if (v === null || v === undefined) return "–";
    if (m && m.unit === "ratio") return pct(v);
    var text = num(v);
    return m && m.unit ? text + " " + m.unit : text;
  }
  function change(m) {
    var l = m.latest;
    if (l.value === null || l.previous === null || !l.previous) return null;
    return (l.value - l.previous) / Math.abs(l.previous);
  }
  function goodness(m, delta) {
    if (delta === null || delta === 0) return "";
    return (delta > 0) === (m.direction !== "lower") ? "good" : "bad";
  }
  function monthLabel(iso) { return iso ? iso.slice(0, 7) : "–"; }

  // --- charts --------------------------------------------------------------------------------
  function chart(container, option) {
    var c = echarts.init(container, null, {renderer: "svg"});
    option.animation = false;
    c.setOption(option);
    charts.push(c);
    return c;
  }
  function chartBox(cls) { return el("div", {cls: "chart " + (cls || "")}); }
  function seriesOf(name, grain) { return ((D.values[name] || {})[grain]) || []; }

  // --- pages ---------------------------------------------------------------------------------
  var PAGES = ["overview", "catalog", "tree", "scorecards", "funnels", "alerts", "quality", "explore"];

  function overview(main) {
    var kpis = D.metrics.filter(function (m) { return m.kpi; });
    main.appendChild(el("h1", {text: W.overview}));
    main.appendChild(el("p", {cls: "muted", text: W.latest + ": " + monthLabel(D.meta.latest_month)}));
    main.appendChild(h2(W.kpis));
    var cards = el("div", {cls: "cards"});
    main.appendChild(kpis.length ? cards : el("p", {cls: "muted", text: W.no_kpis}));
    var pending = [];
    kpis.forEach(function (m) {
      var delta = change(m);
      var spark = chartBox("spark");
      cards.appendChild(el("div", {cls: "card", "data-metric": m.name},
        el("div", {cls: "card-title"}, link(m.name)),
        el("div", {cls: "card-value", "data-value": m.latest.value, text: fmtValue(m, m.latest.value)}),
        el("div", {cls: "card-change " + goodness(m, delta), text: W.change + " " + pct(delta, true)}),
        el("div", {cls: "card-target", text: W.target + " " + fmtValue(m, m.latest.target) + " · " +
          W.attainment + " " + pct(m.latest.attainment)}),
        spark));
      pending.push([spark, m]);
    });
    pending.forEach(function (p) {
      var series = seriesOf(p[1].name, "month").slice(-12);
      chart(p[0], {grid: {left: 2, right: 2, top: 4, bottom: 4}, xAxis: {type: "category", show: false,
        data: series.map(function (r) { return r[0]; })}, yAxis: {type: "value", show: false, scale: true},
        series: [{type: "line", data: series.map(function (r) { return r[1]; }), symbol: "none",
          lineStyle: {width: 2}, areaStyle: {opacity: 0.15}}]});
    });
    var open = D.alerts.filter(function (a) { return !a.resolved_at; });
    main.appendChild(h2(W.open_alerts));
    main.appendChild(open.length ? alertTable(open) : el("p", {cls: "muted", text: D.alerts.length ? W.none : W.no_alerts_run}));
    main.appendChild(h2(W.stale));
    var stale = Object.keys(D.stale);
    main.appendChild(stale.length ? table([W.metric, W.description], stale.map(function (name) {
      return el("tr", null, td(link(name)), td(D.stale[name]));
    })) : el("p", {cls: "muted", text: W.healthy}));
    main.appendChild(h2(W.freshness));
    var fresh = D.quality.filter(function (q) { return q.kwargs && q.kwargs.max_age_days !== undefined; });
    main.appendChild(fresh.length ? table([W.relation, W.expectation, W.observed, W.result, W.run_at],
      fresh.map(function (q) {
        return el("tr", null, td(q.relation), td(q.expectation + " ≤ " + q.kwargs.max_age_days + " " + W.days),
          td(JSON.stringify(q.observed_value)), statusCell(q), td(q.run_at));
      })) : el("p", {cls: "muted", text: D.quality.length ? W.none : W.no_quality_run}));
  }

  function statusCell(q) {
    var status = q.error ? "error" : (q.success ? "pass" : "fail");
    return el("td", {cls: "status " + status, text: W[status]});
  }

  function catalog(main) {
    main.appendChild(el("h1", {text: W.catalog}));
    var filters = {owner: "", level: "", type: "", unit: "", kpi: ""};
    var search = el("input", {type: "search", id: "search", placeholder: W.search});
    var bar = el("div", {cls: "filters"}, search);
    function values(key) {
      var seen = {};
      D.metrics.forEach(function (m) { var v = m[key]; if (v !== null && v !== undefined) seen[String(v)] = 1; });
      return Object.keys(seen).sort();
    }
    ["owner", "level", "type", "unit", "kpi"].forEach(function (key) {
      var opts = [["", W[key] + ": " + W.all]].concat(values(key).map(function (v) { return [v, v]; }));
      bar.appendChild(select(opts, "", function (v) { filters[key] = v; draw(); }, {"data-filter": key}));
    });
    main.appendChild(bar);
    var body = el("tbody");
    var count = el("p", {cls: "muted", id: "count"});
    main.appendChild(count);
    main.appendChild(el("table", {cls: "grid", id: "catalog"},
      el("thead", null, el("tr", null, [W.label, W.metric, W.description, W.owner, W.level, W.type, W.unit, W.kpi,
        W.value].map(function (x) { return el("th", {text: x}); }))), body));
    function draw() {
      var q = search.value.trim().toLowerCase();
      body.textContent = "";
      var shown = D.metrics.filter(function (m) {
        if (q && [m.name, m.label, m.description, m.owner].join(" ").toLowerCase().indexOf(q) < 0) return false;
        return Object.keys(filters).every(function (k) { return !filters[k] || String(m[k]) === filters[k]; });
      });
      shown.forEach(function (m) {
        body.appendChild(el("tr", {"data-metric": m.name}, td(link(m.name)), td(m.name, "mono"),
          td(m.description), td(m.owner), td(m.level), td(m.type), td(m.unit), td(m.kpi ? "✓" : ""),
          td(fmtValue(m, m.latest.value), "num")));
      });
      count.textContent = shown.length + " / " + D.metrics.length;
    }
    search.addEventListener("input", draw);
    draw();
  }

  function fieldRows(m) {
    var rows = [[W.metric, m.name], [W.owner, m.owner], [W.unit, m.unit],
      [W.direction, m.direction === "lower" ? W.lower : W.higher], [W.level, m.level], [W.type, m.type],
      [W.kpi, m.kpi ? "✓" : "–"], [W.formula, m.formula], [W.defined_in, m.defined_in]];
    return el("table", {cls: "fields"}, el("tbody", null, rows.map(function (r) {
      return el("tr", null, el("th", {text: r[0]}), td(r[1]));
    })));
  }
  function links(names) {
    if (!names.length) return el("span", {cls: "muted", text: W.none});
    var span = el("span", {cls: "links"});
    names.forEach(function (n) { span.appendChild(link(n)); });
    return span;
  }

  function inputLinks(text) {  // metrics among the inputs link to their pages; measures stay text
    var span = el("span", {cls: "links"});
    String(text || "–").split(/,\s*/).forEach(function (n) { span.appendChild(byName[n] ? link(n) : el("span", {text: n})); });
    return span;
  }

  function metricPage(main, name) {
    var m = byName[name];
    if (!m) { main.appendChild(el("p", {text: W.no_data})); return; }
    main.appendChild(el("h1", {text: m.label}));
    main.appendChild(el("p", {cls: "description", text: m.description || ""}));
    var delta = change(m);
    main.appendChild(el("div", {cls: "headline"},
      el("div", null, el("div", {cls: "muted", text: W.latest + " " + monthLabel(m.latest.period)}),
        el("div", {cls: "big", id: "latest-value", "data-value": m.latest.value, "data-period": m.latest.period,
          text: fmtValue(m, m.latest.value)})),
      el("div", null, el("div", {cls: "muted", text: W.change}),
        el("div", {cls: "big " + goodness(m, delta), text: pct(delta, true)})),
      el("div", null, el("div", {cls: "muted", text: W.target}), el("div", {cls: "big", text: fmtValue(m, m.latest.target)})),
      el("div", null, el("div", {cls: "muted", text: W.attainment}), el("div", {cls: "big", text: pct(m.latest.attainment)}))));
    main.appendChild(fieldRows(m));
    main.appendChild(el("h3", {text: W.definition}));
    main.appendChild(el("pre", {cls: "code", text: JSON.stringify(m.definition, null, 2)}));
    main.appendChild(el("dl", {cls: "links-list"},
      el("dt", {text: W.inputs}), el("dd", null, inputLinks(m.inputs)),
      el("dt", {text: W.parents}), el("dd", null, links(m.parents)),
      el("dt", {text: W.children}), el("dd", null, links(m.children)),
      el("dt", {text: W.sources}), el("dd", {text: m.lineage.sources.join(", ") || "–"})));

    main.appendChild(h2(W.trend));
    var trend = chartBox("wide");
    var grain = "month";
    var tabs = el("div", {cls: "tabs"});
    ["day", "week", "month"].forEach(function (g) {
      tabs.appendChild(el("button", {text: W[g], "data-grain": g, cls: g === grain ? "on" : "",
        onclick: function () { grain = g; Array.prototype.forEach.call(tabs.children, function (b) {
          b.className = b.getAttribute("data-grain") === g ? "on" : ""; }); drawTrend(); }}));
    });
    var window_note = el("p", {cls: "muted", id: "trend-note"});
    main.appendChild(tabs);
    main.appendChild(window_note);
    main.appendChild(trend);
    var trendChart = null;
    function drawTrend() {
      var series = seriesOf(m.name, grain);
      window_note.textContent = grain === "day" ? W.daily_window.replace("{days}", D.meta.daily_days)
        .replace("{as_of}", D.meta.as_of) : "";
      var targets = {};
      m.targets.forEach(function (t) { targets[t[0]] = t[1]; });
      var option = {tooltip: {trigger: "axis"}, legend: {data: [m.label]},
        grid: {left: 60, right: 20, top: 30, bottom: 30},
        xAxis: {type: "category", data: series.map(function (r) { return r[0]; })},
        yAxis: {type: "value", scale: true},
        series: [{name: m.label, type: "line", data: series.map(function (r) { return r[1]; }),
          showSymbol: grain === "month"}]};
      if (grain === "month" && m.targets.length) {
        option.legend.data.push(W.target);
        option.series.push({name: W.target, type: "line", step: "middle", lineStyle: {type: "dashed"},
          symbol: "none", data: series.map(function (r) { return targets[r[0]] === undefined ? null : targets[r[0]]; })});
      }
      if (trendChart) trendChart.setOption(option, true); else trendChart = chart(trend, option);
    }
    drawTrend();

    if (m.breakdowns.length) {
      main.appendChild(h2(W.breakdown));
      m.breakdowns.forEach(function (b) {
        var periods = [];
        b.rows.forEach(function (r) { if (periods.indexOf(r[0]) < 0) periods.push(r[0]); });
        var box = chartBox();
        var bc = null;
        function drawBreakdown(period) {
          var rows = b.rows.filter(function (r) { return r[0] === period; });
          var option = {tooltip: {}, grid: {left: 140, right: 30, top: 10, bottom: 30},
            xAxis: {type: "value"}, yAxis: {type: "category", data: rows.map(function (r) { return String(r[1]); })},
            series: [{type: "bar", data: rows.map(function (r) { return r[2]; })}]};
          if (bc) bc.setOption(option, true); else bc = chart(box, option);
        }
        main.appendChild(el("div", {cls: "breakdown"},
          el("h3", {text: b.dimension + " (" + b.saved_query + ", " + W[b.grain] + ")"}),
          select(periods.slice().reverse().map(function (p) { return [p, p]; }), periods[periods.length - 1],
            drawBreakdown), box));
        if (periods.length) drawBreakdown(periods[periods.length - 1]);
      });
    }

    main.appendChild(h2(W.alert_history));
    var mine = D.alerts.filter(function (a) { return a.metric === m.name; });
    main.appendChild(mine.length ? alertTable(mine) : el("p", {cls: "muted", text: W.none}));

    main.appendChild(h2(W.input_quality));
    var relations = {};
    m.lineage.nodes.forEach(function (n) { if (n.kind === "model" || n.kind === "seed") relations[n.name] = 1; });
    var checks = D.quality.filter(function (q) { return relations[q.relation] || relations[String(q.relation).split(".").pop()]; });
    main.appendChild(checks.length ? qualityTable(checks) : el("p", {cls: "muted", text: W.none}));

    main.appendChild(h2(W.lineage));
    var graphBox = chartBox("tall");
    main.appendChild(graphBox);
    chart(graphBox, lineageOption(m));

    main.appendChild(h2(W.sql));
    main.appendChild(el("pre", {cls: "code", id: "sql", text: m.sql || ""}));
  }

  function lineageOption(m) {
    var up = {}, down = {};
    m.lineage.edges.forEach(function (e) {
      (up[e[1]] = up[e[1]] || []).push(e[0]);
      (down[e[0]] = down[e[0]] || []).push(e[1]);
    });
    var root = "metric:" + m.name;
    var level = {};
    level[root] = 0;
    var queue = [root];
    while (queue.length) {
      var id = queue.shift();
      (up[id] || []).forEach(function (p) { if (level[p] === undefined) { level[p] = level[id] - 1; queue.push(p); } });
    }
    (down[root] || []).forEach(function (c) { if (level[c] === undefined) level[c] = 1; });
    var rows = {};
    var colors = {seed: "#5470c6", source: "#5470c6", model: "#91cc75", semantic_model: "#9a60b4", measure: "#9a60b4",
      dimension: "#9a60b4", metric: "#ee6666", saved_query: "#fac858", export: "#fac858", exposure: "#fc8452"};
    var nodes = m.lineage.nodes.filter(function (n) { return level[n.id] !== undefined; }).map(function (n) {
      var l = level[n.id];
      rows[l] = (rows[l] || 0) + 1;
      return {id: n.id, name: n.id, value: n.kind, x: l * 220, y: rows[l] * 46,
        itemStyle: {color: colors[n.kind] || "#999"}, label: {show: true, formatter: n.name, position: "right"},
        symbolSize: n.id === root ? 18 : 10};
    });
    var known = {};
    nodes.forEach(function (n) { known[n.id] = 1; });
    return {tooltip: {formatter: function (p) { return p.dataType === "node" ? escapeHtml(p.name) : ""; }},
      series: [{type: "graph", layout: "none", roam: true, data: nodes, left: 30, right: 170, top: 30, bottom: 30, edgeSymbol: ["none", "arrow"],
        edgeSymbolSize: 6, lineStyle: {color: "#aaa", curveness: 0.1},
        links: m.lineage.edges.filter(function (e) { return known[e[0]] && known[e[1]]; })
          .map(function (e) { return {source: e[0], target: e[1]}; })}]};
  }
  function escapeHtml(text) {  // ECharts tooltips render HTML: project text is escaped first
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function alertTable(rows) {
    return table([W.rule, W.metric, W.series, W.severity, W.period, W.value, W.fired, W.resolved], rows.map(function (a) {
      return el("tr", {cls: "alert " + (a.resolved_at ? "resolved" : "open"), "data-alert": a.alert_id}, td(a.rule), td(link(a.metric)), td(seriesText(a)),
        td(a.severity, "sev " + a.severity), td(a.period), td(num(a.value), "num"), td(a.fired_at),
        td(a.resolved_at || W.open));
    }));
  }
  function seriesText(a) {
    try {
      var parts = JSON.parse(a.series);
      return Object.keys(parts).map(function (k) { return k + " = " + parts[k]; }).join(", ") || W.total;
    } catch (e) {
      return a.series || a.series_key || "";
    }
  }
  function qualityTable(rows) {
    return table([W.suite, W.relation, W.expectation, W.result, W.unexpected, W.severity, W.run_at], rows.map(function (q) {
      return el("tr", {cls: "check"}, td(q.suite), td(q.relation), td(q.expectation, "mono"),
        statusCell(q), td(q.unexpected_count, "num"), td(q.severity), td(q.run_at));
    }));
  }

  // --- the metric tree -----------------------------------------------------------------------
  var treeState = {root: null, period: null};
  function treePage(main) {
    var T = D.trees;
    main.appendChild(el("h1", {text: W.tree}));
    if (!T.roots.length) { main.appendChild(el("p", {text: W.no_data})); return; }
    var kpiRoots = T.roots.filter(function (r) { return byName[r] && byName[r].kpi; });
    treeState.root = treeState.root || biggest(T.by_period[T.periods[0]], kpiRoots.length ? kpiRoots : T.roots);
    treeState.period = treeState.period || T.periods[0];
    var holder = el("div", {id: "tree"});
    main.appendChild(el("div", {cls: "filters"},
      select(T.roots.map(function (r) { return [r, byName[r] ? byName[r].label : r]; }), treeState.root,
        function (v) { treeState.root = v; draw(); }, {id: "tree-root"}),
      select(T.periods.map(function (p) { return [p, p]; }), treeState.period,
        function (v) { treeState.period = v; draw(); }, {id: "tree-period"}),
      el("button", {text: W.expand_all, id: "tree-expand", onclick: function () { toggleAll(true); }}),
      el("button", {text: W.collapse_all, id: "tree-collapse", onclick: function () { toggleAll(false); }})));
    main.appendChild(holder);
    function toggleAll(open) {
      Array.prototype.forEach.call(holder.querySelectorAll(".tree-node"), function (n) {
        if (n.querySelector(":scope > .tree-children")) setOpen(n, open);
      });
    }
    function draw() {
      holder.textContent = "";
      var data = T.by_period[treeState.period][treeState.root];
      holder.appendChild(el("div", {cls: "tree-head"}, el("span", {text: W.metric}), el("span", {text: W.value}),
        el("span", {text: W.previous}), el("span", {text: W.change}), el("span", {text: W.target}),
        el("span", {text: W.attainment}), el("span", {text: W.owner})));
      holder.appendChild(treeNode(data, 0));
    }
    draw();
  }
  function size(n) { return 1 + n.children.reduce(function (s, c) { return s + size(c); }, 0); }
  function biggest(trees, roots) {  // the tree that shows most of the drivers, first among the KPIs' trees
    return roots.reduce(function (best, r) { return size(trees[r]) > size(trees[best]) ? r : best; }, roots[0]);
  }
  function setOpen(node, open) {
    var kids = node.querySelector(":scope > .tree-children");
    var toggle = node.querySelector(":scope > .tree-row .toggle");
    if (!kids) return;
    kids.hidden = !open;
    toggle.textContent = open ? "▾" : "▸";
    node.setAttribute("aria-expanded", open ? "true" : "false");
  }
  function treeNode(n, depth) {
    var m = byName[n.metric] || {unit: n.unit, direction: n.direction};
    var hasKids = n.children && n.children.length;
    var toggle = el("button", {cls: "toggle", text: hasKids ? "▸" : "·", disabled: hasKids ? null : "disabled"});
    var name = n.role !== n.metric ? n.role + " = " : "";
    var tag = n.edge !== "root" && n.edge !== "input" ? " [" + n.edge + "]" : "";
    var row = el("div", {cls: "tree-row"},
      el("span", {style: "padding-left:" + (depth * 22) + "px"}, toggle, el("span", {text: name}), link(n.metric), el("span", {cls: "muted",
        text: tag + (n.offset ? " (" + n.offset + ")" : "") + (n.filters.length ? " (" + W.filtered + ")" : "")})),
      el("span", {cls: "num", text: fmtValue(m, n.value)}), el("span", {cls: "num", text: fmtValue(m, n.previous)}),
      el("span", {cls: "num " + goodness(m, n.change), text: pct(n.change_pct, true)}),
      el("span", {cls: "num", text: fmtValue(m, n.target)}), el("span", {cls: "num", text: pct(n.attainment)}),
      el("span", {text: n.owner || ""}));
    var node = el("div", {cls: "tree-node", "data-metric": n.metric}, row);
    if (hasKids) {
      var kids = el("div", {cls: "tree-children"});
      n.children.forEach(function (c) { kids.appendChild(treeNode(c, depth + 1)); });
      node.appendChild(kids);
      toggle.addEventListener("click", function () { setOpen(node, kids.hidden); });
      setOpen(node, depth === 0);
    }
    return node;
  }

  // --- scorecards, funnels, alerts, quality --------------------------------------------------
  function scorecards(main) {
    var S = D.scorecards;
    main.appendChild(el("h1", {text: W.scorecards}));
    if (!S.scores.length) { main.appendChild(el("p", {cls: "muted", text: W.no_data})); return; }
    var periods = [];
    S.scores.forEach(function (s) { if (periods.indexOf(s.period_start) < 0) periods.push(s.period_start); });
    periods.reverse();
    var holder = el("div");
    main.appendChild(el("div", {cls: "filters"}, select(periods.map(function (p) { return [p, monthLabel(p)]; }),
      periods[0], draw, {id: "score-period"})));
    main.appendChild(holder);
    function draw(period) {
      holder.textContent = "";
      var kinds = [];
      S.scores.forEach(function (s) { if (kinds.indexOf(s.org_unit_kind) < 0) kinds.push(s.org_unit_kind); });
      kinds.sort(function (a, b) { return (a !== "company") - (b !== "company") || (a < b ? -1 : a > b ? 1 : 0); });
      kinds.forEach(function (kind) {
        var units = S.scores.filter(function (s) { return s.period_start === period && s.org_unit_kind === kind; })
          .sort(function (a, b) { return (b.score === null ? -1 : b.score) - (a.score === null ? -1 : a.score); });
        if (!units.length) return;
        holder.appendChild(h2(kind === "company" ? W.company : kind));
        var box = chartBox("short");
        holder.appendChild(box);
        chart(box, {grid: {left: 140, right: 30, top: 10, bottom: 30}, tooltip: {},
          xAxis: {type: "value"}, yAxis: {type: "category", inverse: true, data: units.map(function (u) { return u.org_unit; })},
          series: [{type: "bar", data: units.map(function (u) { return u.score; })}]});
        var rows = [];
        units.forEach(function (u, i) {
          rows.push(el("tr", {cls: "unit", "data-kind": kind, "data-unit": u.org_unit}, td(String(i + 1)), td(u.org_unit), td(pct(u.score), "num"),
            td(u.kpis_scored + " / " + u.kpis_with_target, "num")));
          S.kpis.filter(function (k) { return k.period_start === period && k.org_unit_kind === kind && k.org_unit === u.org_unit; })
            .forEach(function (k) {
              var m = byName[k.metric_name];
              rows.push(el("tr", {cls: "kpi"}, td(""), td(link(k.metric_name)),
                td(fmtValue(m, k.actual) + " / " + fmtValue(m, k.target_value), "num"),
                td(W.weight + " " + num(k.weight) + " · " + pct(k.attainment), "num")));
            });
        });
        holder.appendChild(table([W.rank, W.org_unit, W.score, W.kpis], rows));
      });
    }
    draw(periods[0]);
  }

  function funnelsPage(main) {
    main.appendChild(el("h1", {text: W.funnels}));
    if (!D.funnels.length) { main.appendChild(el("p", {cls: "muted", text: W.no_data})); return; }
    D.funnels.forEach(function (f) {
      var periods = f.rows.map(function (r) { return r[0]; }).reverse();
      var box = chartBox();
      var body = el("tbody");
      var slices = el("div", {cls: "slices"});
      var worth = el("p", {cls: "muted worth"});
      var fc = null;
      // with `conversion_value`, f.value.rows are [period, worth of one conversion, money lost at steps 2..n]
      var worthOf = f.value ? (byName[f.value.metric] || {unit: f.value.unit}) : null;
      function money(v) { return v === null || v === undefined ? "–" : fmtValue(worthOf, v); }
      function draw(period) {
        var row = f.rows.filter(function (r) { return r[0] === period; })[0] || [period];
        var valueRow = f.value ? (f.value.rows.filter(function (r) { return r[0] === period; })[0] || [period]) : null;
        body.textContent = "";
        worth.textContent = valueRow ? W.worth + ": " + money(valueRow[1]) + " (" +
          (byName[f.value.metric] ? byName[f.value.metric].label : f.value.metric) + ")" : "";
        f.steps.forEach(function (s, i) {
          var v = row[i + 1], before = i ? row[i] : null;
          body.appendChild(el("tr", null, td(link(s)), td(num(v), "num"),
            td(i && before ? pct(v / before) : "–", "num"), td(i && before !== null && v !== null ? num(before - v) : "–", "num"),
            valueRow ? td(i ? money(valueRow[i + 1]) : "–", "num value-lost") : []));
        });
        var option = {tooltip: {}, series: [{type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "10%",
          label: {show: true, position: "inside"},
          data: f.steps.map(function (s, i) { return {name: byName[s] ? byName[s].label : s, value: row[i + 1] || 0}; })}]};
        if (fc) fc.setOption(option, true); else fc = chart(box, option);
        slices.textContent = "";
        f.dimensions.forEach(function (d, di) {
          var rows = d.rows.filter(function (r) { return r[0] === period; });
          if (!rows.length) return;
          // the money each member lost over the whole funnel (the sum of its steps' losses)
          var lostValue = {};
          if (f.value) f.value.dimensions[di].forEach(function (r) {
            if (r[0] !== period) return;
            var parts = r.slice(2);
            lostValue[String(r[1])] = parts.some(function (x) { return x === null; }) ? null :
              parts.reduce(function (a, b) { return a + b; }, 0);
          });
          slices.appendChild(el("h3", {text: W.breakdown + ": " + d.dimension}));
          slices.appendChild(table([W.members].concat(f.steps.map(function (s) { return byName[s] ? byName[s].label : s; }),
            [W.conversion, W.lost], f.value ? [W.value_lost] : []), rows.map(function (r) {
            var first = r[2], last = r[r.length - 1];
            return el("tr", null, td(r[1] === null ? "–" : String(r[1])),
              r.slice(2).map(function (v) { return td(num(v), "num"); }),
              td(first ? pct(last / first) : "–", "num"), td(first !== null && last !== null ? num(first - last) : "–", "num"),
              f.value ? td(money(lostValue[String(r[1])]), "num value-lost") : []);
          })));
        });
      }
      main.appendChild(el("section", {cls: "funnel"},
        h2(f.steps.map(function (s) { return byName[s] ? byName[s].label : s; }).join(" → ")),
        select(periods.map(function (p) { return [p, monthLabel(p)]; }), periods[0], draw), box, worth,
        el("table", {cls: "grid"}, el("thead", null, el("tr", null, [W.step, W.value, W.conversion, W.lost]
          .concat(f.value ? [W.value_lost] : []).map(function (x) { return el("th", {text: x}); }))), body), slices));
      draw(periods[0]);
    });
  }

  function alertsPage(main) {
    main.appendChild(el("h1", {text: W.alerts}));
    if (!D.alerts.length) { main.appendChild(el("p", {cls: "muted", text: W.no_alerts_run})); return; }
    var rules = [];
    D.alerts.forEach(function (a) { if (rules.indexOf(a.rule) < 0) rules.push(a.rule); });
    var box = chartBox();
    main.appendChild(box);
    var colors = {critical: "#d94e4e", warning: "#e6a23c", info: "#5470c6"};
    var series = D.alerts.map(function (a) {  // one episode: from the period it fired for to its resolution
      var color = colors[a.severity] || "#999";
      return {type: "line", symbol: "circle", symbolSize: 10, lineStyle: {width: 6, color: color},
        itemStyle: {color: color}, data: [[a.period || a.fired_at, a.rule], [a.resolved_at || D.meta.as_of, a.rule]]};
    });
    chart(box, {grid: {left: 180, right: 30, top: 20, bottom: 30}, xAxis: {type: "time"},
      yAxis: {type: "category", data: rules}, series: series});
    main.appendChild(alertTable(D.alerts.slice().reverse()));
  }

  function qualityPage(main) {
    main.appendChild(el("h1", {text: W.quality}));
    if (!D.quality.length) { main.appendChild(el("p", {cls: "muted", text: W.no_quality_run})); return; }
    var suites = {};
    D.quality.forEach(function (q) {
      var s = suites[q.suite] = suites[q.suite] || {pass: 0, fail: 0, error: 0};
      s[q.error ? "error" : q.success ? "pass" : "fail"] += 1;
    });
    var names = Object.keys(suites).sort();
    var box = chartBox("tall");
    main.appendChild(box);
    chart(box, {tooltip: {trigger: "axis"}, legend: {data: [W.pass, W.fail, W.error]},
      grid: {left: 180, right: 30, top: 30, bottom: 30}, xAxis: {type: "value"},
      yAxis: {type: "category", data: names},
      series: ["pass", "fail", "error"].map(function (k) {
        return {name: W[k], type: "bar", stack: "all", data: names.map(function (n) { return suites[n][k]; }),
          itemStyle: {color: {pass: "#67c23a", fail: "#d94e4e", error: "#e6a23c"}[k]}};
      })});
    main.appendChild(qualityTable(D.quality));
  }

  // --- Explore: the read-only API of `metricsctl docs serve` ---------------------------------
  function explore(main) {
    main.appendChild(el("h1", {text: W.explore}));
    if (location.protocol === "file:") {
      main.appendChild(el("p", {cls: "note", id: "explore-note", text: W.explore_needs_server}));
      return;
    }
    var fields = {};
    var form = el("form", {id: "explore-form", cls: "explore"});
    [["metrics", "revenue"], ["group_by", "metric_time__month"], ["where", ""], ["start_time", ""],
      ["end_time", ""], ["order_by", ""], ["limit", ""]].forEach(function (f) {
      fields[f[0]] = el("input", {name: f[0], id: "q-" + f[0], value: f[1]});
      form.appendChild(el("label", null, el("span", {text: W[f[0]]}), fields[f[0]]));
    });
    var list = el("datalist", {id: "metric-names"});
    D.metrics.forEach(function (m) { list.appendChild(el("option", {value: m.name, label: m.label})); });
    fields.metrics.setAttribute("list", "metric-names");
    form.appendChild(list);
    form.appendChild(el("button", {type: "submit", id: "q-run", text: W.run}));
    var out = el("div", {id: "explore-result"});
    main.appendChild(form);
    main.appendChild(out);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var params = new URLSearchParams();
      Object.keys(fields).forEach(function (k) { if (fields[k].value.trim()) params.append(k, fields[k].value.trim()); });
      out.textContent = "…";
      out.removeAttribute("data-done");
      fetch("api/query?" + params.toString()).then(function (r) {
        return r.json().then(function (body) { return {ok: r.ok, body: body}; });
      }).then(function (res) {
        out.textContent = "";
        if (!res.ok) {
          out.appendChild(el("p", {cls: "error", id: "explore-error", text: res.body.error}));
        } else {
          var rows = res.body;
          var cols = rows.length ? Object.keys(rows[0]) : [];
          out.appendChild(el("p", {cls: "muted", text: rows.length + " " + W.rows}));
          out.appendChild(table(cols, rows.map(function (r) {
            return el("tr", null, cols.map(function (c) { return td(r[c], typeof r[c] === "number" ? "num" : ""); }));
          }), {cls: "grid", id: "explore-table"}));
        }
        out.setAttribute("data-done", "1");
      }).catch(function (err) {
        out.textContent = "";
        out.appendChild(el("p", {cls: "error", text: String(err)}));
        out.setAttribute("data-done", "1");
      });
    });
  }

  // --- routing -------------------------------------------------------------------------------
  function route() {
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
    var main = document.getElementById("main");
    main.textContent = "";
    var parts = (location.hash || "#/overview").slice(2).split("/");
    var page = parts[0] || "overview";
    Array.prototype.forEach.call(document.querySelectorAll("#nav a"), function (a) {
      a.className = a.getAttribute("data-page") === page ? "on" : "";
    });
    if (page === "metric") metricPage(main, decodeURIComponent(parts.slice(1).join("/")));
    else ({overview: overview, catalog: catalog, tree: treePage, scorecards: scorecards, funnels: funnelsPage,
      alerts: alertsPage, quality: qualityPage, explore: explore}[page] || overview)(main);
    document.body.setAttribute("data-page", page);
    window.scrollTo(0, 0);
  }

  document.getElementById("brand").textContent = W.title + " · " + D.meta.project;
  document.getElementById("asof").textContent = W.as_of + " " + D.meta.as_of + " · " + W.generated + " " +
    D.meta.generated_at;
  var nav = document.getElementById("nav");
  PAGES.forEach(function (p) { nav.appendChild(el("a", {href: "#/" + p, text: W[p], "data-page": p})); });
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  route();
})();
