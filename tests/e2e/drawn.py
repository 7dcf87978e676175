"""What a page draws, checked the way a person would see it: every line made of finite numbers,
every series going left to right, readable numbers on the axes, and no errors in the browser's console.

Two kinds of chart are on the app's pages, and both are read as drawn:

- **Live SVG** (`explorer.views.sketch`, inside Markdown elements while runs train): ``<svg
  class="explorer-live" data-title=…>`` holding one ``<path class="curve" data-run=… data-split=…>``
  per series and ``<path class="band">`` for shaded intervals. The ``d`` attribute *is* the drawing:
  its ``M x,y L x,y …`` pairs are read straight from the DOM.
- **Vega charts** (``st.vega_lite_chart`` / ``st.altair_chart``). vega-embed draws them as SVG by
  default, and Streamlit switches a chart to canvas when a dataset has more than 2,000 rows
  (``embedOptions.renderer``), so a canvas chart has no paths to read. Both are read the same way,
  from the Vega **scenegraph**, the item tree Vega's renderer paints from (pixel ``x``/``y`` of every
  point of every line, in drawing order, with its ``datum``). The scenegraph comes from the chart's
  Vega ``View``, found on the React component that embeds it (the fiber's hook state holds the
  ``View``, which has ``scenegraph()`` and ``data()``); for SVG charts, where Vega itself binds each
  mark's element to its scene node (``element.__data__``), that binding is the fallback. Each
  ``line`` and ``area`` mark's items are one series in the order drawn; its x values must rise. A
  chart whose data marks hold no item at all is an empty frame, and is reported.
  The SVG attributes Vega writes are also checked for finiteness, like every SVG on the page.

Numbers on the axes must read as people write them: a label with more than 6 significant digits
("1.4999999999999998") is reported, on live and Vega charts alike.

A page is checked at a moment (`Watch.problems`) and at every frame in between: the init script
(`CHECKS_JS`) re-checks every SVG on the page after each change of the DOM, so a NaN drawn for
half a second while runs train is caught even if no test looked at that moment. Console errors
(``console`` messages of type error and uncaught ``pageerror``) are collected from the page's load.

Example (in a test)::

    watch = Watch(page)          # before page.goto: the observer and the console listener
    page.goto(url)
    ...                          # train, wait for the end
    watch.assert_clean("after the run ended")
"""

from __future__ import annotations

import re

# The checks, in the page. `ALLOWED` is what a path of finite numbers can hold: command letters,
# digits, signs, points, exponents, commas and spaces; "NaN", "nan", "Infinity", "inf", "undefined"
# and "null" all hold a letter outside it, so one test catches every non-finite number written.
CHECKS_JS = r"""
(() => {
  if (window.__drawn) return window.__drawn;
  const ALLOWED = /^[MmLlHhVvCcSsQqTtAaZz0-9eE.,+\-\s]*$/;
  const D = window.__drawn = {problems: [], seen: new Set(), liveFrames: 0, lastLive: '', pending: false};

  D.note = (message) => {
    if (D.seen.has(message) || D.problems.length >= 60) return;
    D.seen.add(message);
    D.problems.push(message);
  };

  // The title of the chart an element is in, for messages.
  D.titleOf = (el) => {
    const live = el.closest && el.closest('svg.explorer-live');
    if (live) return 'live chart "' + live.getAttribute('data-title') + '"';
    const vega = el.closest && el.closest('[data-testid="stVegaLiteChart"]');
    if (vega) {
      const t = [...vega.querySelectorAll('.role-title text')].map(t => t.textContent.trim()).join(' ');
      return 'Vega chart "' + t + '"';
    }
    return 'an SVG outside the charts';
  };

  // (x, y) pairs of a path made of absolute M and L commands ("M1,2 L3,4"); null for any other path.
  D.pairs = (d) => {
    if (!/^\s*M[-+\d.,eE\s]*(L[-+\d.,eE\s]*)*Z?\s*$/.test(d)) return null;
    const numbers = d.replace(/[MLZ]/g, ' ').trim().split(/[\s,]+/).filter(s => s.length).map(Number);
    const out = [];
    for (let i = 0; i + 1 < numbers.length; i += 2) out.push([numbers[i], numbers[i + 1]]);
    return out;
  };

  // The first index whose x does not rise above the one before, or -1.
  D.notRising = (points) => {
    for (let i = 1; i < points.length; i++) if (!(points[i][0] > points[i - 1][0])) return i;
    return -1;
  };

  D.around = (text, at) => text.slice(Math.max(0, at - 40), at + 40);

  // An axis label that is a number written with more than 6 significant digits ("1.4999999999999").
  D.longNumber = (text) => {
    const t = String(text).trim().replace(/,/g, '').replace(/\u2212/g, '-');
    if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return false;
    const digits = t.replace(/^[-+]/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '');
    return digits.length > 6;
  };
  D.checkLabels = (where, texts) => {
    for (const t of texts) if (D.longNumber(t)) D.note(where + ': an axis reads "' + t + '" (more than 6 digits)');
  };

  // Every path, polyline and polygon of every SVG under root: only finite numbers in it.
  D.checkAttributes = (root) => {
    for (const [selector, name] of [['svg path[d]', 'd'], ['svg polyline[points]', 'points'], ['svg polygon[points]', 'points']]) {
      for (const el of root.querySelectorAll(selector)) {
        const value = el.getAttribute(name) || '';
        if (ALLOWED.test(value)) continue;
        const bad = value.search(/[^MmLlHhVvCcSsQqTtAaZz0-9eE.,+\-\s]/);
        D.note(D.titleOf(el) + ': <' + el.tagName.toLowerCase() + ' ' + name + '> holds a non-number: "…'
               + D.around(value, bad) + '…"');
      }
    }
  };

  // The live SVG charts: one series per path.curve, its x values rising.
  D.liveCharts = (root) => [...root.querySelectorAll('svg.explorer-live')].map(svg => ({
    kind: 'live', title: svg.getAttribute('data-title') || '',
    labels: [...svg.querySelectorAll('text')].map(t => t.textContent),
    series: [...svg.querySelectorAll('path.curve')].map(p => ({
      name: [p.getAttribute('data-run'), p.getAttribute('data-split')].filter(Boolean).join(' / '),
      points: D.pairs(p.getAttribute('d') || '')}))}));

  D.checkSeries = (chart) => {
    D.checkLabels((chart.kind === 'live' ? 'live chart "' : 'Vega chart "') + chart.title + '"', chart.labels || []);
    if (chart.kind === 'vega' && chart.source !== null && chart.items === 0)
      D.note('Vega chart "' + chart.title + '" (' + chart.size.join('×') + ' px) draws no data: an empty frame');
    for (const s of chart.series) {
      const where = (chart.kind === 'live' ? 'live chart "' : 'Vega chart "') + chart.title + '", series "' + s.name + '"';
      if (s.points === null) { D.note(where + ': its path is not made of M and L commands'); continue; }
      const broken = s.points.findIndex(p => !p.every(Number.isFinite));
      if (broken >= 0) D.note(where + ': point ' + broken + ' is not finite: ' + JSON.stringify(s.points[broken]));
      const i = D.notRising(s.points);
      if (i >= 0) D.note(where + ': x goes back or stays put at point ' + i + ' of ' + s.points.length + ' ('
                         + s.points[i - 1][0].toFixed(1) + ' then ' + s.points[i][0].toFixed(1) + ' px)');
    }
  };

  // The Vega View of a chart: on the React component that embeds it (any renderer).
  D.vegaView = (chart) => {
    const isView = v => v && typeof v === 'object' && typeof v.scenegraph === 'function' && typeof v.data === 'function';
    for (const node of [chart, ...chart.querySelectorAll('*')]) {
      const key = Object.keys(node).find(k => k.startsWith('__reactFiber$'));
      if (!key) continue;
      for (let f = node[key], up = 0; f && up < 80; f = f.return, up++) {
        for (let s = f.memoizedState, n = 0; s && typeof s === 'object' && n < 60; s = s.next, n++) {
          for (const v of [s.memoizedState, s.memoizedState && s.memoizedState.current]) {
            if (isView(v)) return v;
            if (v && typeof v === 'object' && isView(v.view)) return v.view;
          }
        }
      }
    }
    return null;
  };

  // What Vega drew: the scene's title, and each line or area mark's items as one series.
  D.vegaChart = (chart) => {
    const renderer = chart.querySelector('canvas') ? 'canvas' : chart.querySelector('svg.marks') ? 'svg' : 'none';
    const view = D.vegaView(chart);
    let root = view ? view.scenegraph().root : null;
    let source = view ? 'view' : null;
    if (!root) {
      const bound = [...chart.querySelectorAll('svg.marks g')].find(g => g.__data__ && g.__data__.marktype === 'group');
      if (bound) { root = bound.__data__; source = 'svg __data__'; }
    }
    const box = chart.getBoundingClientRect();
    const out = {kind: 'vega', renderer, source, title: '', series: [], marks: 0, labels: [], items: 0,
                 size: [Math.round(box.width), Math.round(box.height)]};
    const titles = [];
    const nameOf = (datum) => Object.entries(datum || {})
      .filter(([k, v]) => typeof v === 'string' && !k.startsWith('__')).map(([, v]) => v).join(' / ');
    const walk = (mark) => {
      if (!mark || !mark.items) return;
      if (mark.role === 'title-text') mark.items.forEach(i => titles.push(String(i.text)));
      if (mark.role === 'axis-label') mark.items.forEach(i => out.labels.push(String(i.text)));
      if (mark.role === 'mark' && mark.marktype !== 'group') out.items += mark.items.length;
      if ((mark.marktype === 'line' || mark.marktype === 'area') && mark.role === 'mark' && mark.items.length) {
        out.marks += 1;
        out.series.push({name: nameOf(mark.items[0].datum) || mark.name || mark.marktype,
                         points: mark.items.map(i => i.y2 === undefined ? [i.x, i.y] : [i.x, i.y, i.y2])});
      }
      mark.items.forEach(item => (item.items || []).forEach(walk));
    };
    walk(root);
    out.title = titles.join(' ');
    return out;
  };

  // Everything drawn now: every SVG's numbers, the live charts and the Vega charts.
  D.snapshot = () => {
    D.checkAttributes(document);
    const charts = [...D.liveCharts(document),
                    ...[...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].map(D.vegaChart)];
    charts.forEach(D.checkSeries);
    return {charts: charts.map(c => ({kind: c.kind, title: c.title, renderer: c.renderer, source: c.source,
                                      marks: c.marks, items: c.items, size: c.size, series: c.series.map(s => ({name: s.name, points: (s.points || []).length}))})),
            problems: D.problems.slice(), liveFrames: D.liveFrames};
  };

  // At every change of the page: check what is drawn (coalesced to one check per turn of the event loop).
  D.check = () => {
    D.pending = false;
    D.checkAttributes(document);
    const live = D.liveCharts(document);
    live.forEach(D.checkSeries);
    const signature = live.map(c => c.series.map(s => s.name + (s.points || []).length).join()).join('|');
    if (live.some(c => c.series.length) && signature !== D.lastLive) D.liveFrames += 1;
    D.lastLive = signature;
  };
  const start = () => new MutationObserver(() => {
    if (!D.pending) { D.pending = true; setTimeout(D.check, 0); }
  }).observe(document.documentElement, {subtree: true, childList: true, attributes: true, characterData: true});
  if (document.documentElement) start(); else document.addEventListener('DOMContentLoaded', start);
  return D;
})()
"""

# True once the scene of every Vega chart on the page can be read (Vega draws after its element is there).
VEGA_READY_JS = "() => [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')]" \
                ".every(c => { const v = window.__drawn.vegaChart(c); return v.source !== null; })"


# Streamlit's frontend, opened at a page's own address (``/playground?…``), first looks for its server
# under that path and logs a 404 for ``playground/_stcore/health`` and ``…/host-config`` before it
# tries the root: the framework finding its server, not the app failing. Nothing else is let through.
SERVER_PROBE = re.compile(r"/[^/?]+/_stcore/(health|host-config)$")


def _counts(message) -> bool:
    """Whether a console message is an error to report (`SERVER_PROBE`'s 404s are not), or a
    warning of Vega's about the data it was given ("WARN Infinite extent for field …": a chart fed
    NaN)."""
    if message.type == "warning":
        return message.text.startswith("WARN ")
    if message.type != "error":
        return False
    return not (SERVER_PROBE.search((message.location or {}).get("url", "")) and "404" in message.text)


class Watch:
    """What a page draws and logs, watched from before it loads: make it before ``page.goto``.

    ``console`` holds the console errors and uncaught page errors seen so far."""

    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(CHECKS_JS)
        page.on("console", lambda message: self.console.append(f"console {message.type}: {message.text}")
                if _counts(message) else None)
        page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))

    def snapshot(self) -> dict:
        """The charts drawn now (``charts``: kind, title, renderer, series with their point counts),
        every problem seen since the page loaded (``problems``) and the live frames checked."""
        return self.page.evaluate(f"() => {CHECKS_JS.strip()}.snapshot()")

    def wait_vega(self, timeout_ms: float = 60_000) -> None:
        """Wait until every Vega chart on the page has drawn its scene (Vega draws after the DOM is there)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.page.evaluate(CHECKS_JS)
        try:
            self.page.wait_for_function(VEGA_READY_JS, timeout=timeout_ms)
        except PlaywrightTimeout:
            charts = self.page.evaluate("() => [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')]"
                                        ".map(c => window.__drawn.vegaChart(c)).map(c => [c.renderer, c.source])")
            raise AssertionError(f"after {timeout_ms / 1000:g} s, Vega's scene of some chart on {self.page.url} "
                                 f"could not be read ([renderer, where its scene was found] per chart: {charts}); "
                                 "has Streamlit changed how it embeds Vega?") from None

    def problems(self) -> list[str]:
        """Everything wrong with what was drawn or logged since the page loaded, in words."""
        return [*self.snapshot()["problems"], *self.console]

    def assert_clean(self, when: str) -> dict:
        """Fail, listing every problem, if anything drawn or logged so far is wrong; else the snapshot."""
        snapshot = self.snapshot()
        problems = [*snapshot["problems"], *self.console]
        assert not problems, f"{when}, the page ({self.page.url}) drew or logged:\n  " + "\n  ".join(problems[:25])
        return snapshot
