// The flow as a graph: one box per screen, one arrow per way on, laid out by dagre (vendored)
// unless the author moved a box (positions kept on the server per file). Boxes are buttons:
// click, Enter or Space opens the screen's form; arrow keys move a selected box. Problems,
// expected slices, the simulator's lit screen and drop-off counts are drawn on top.

import { svg, clear, say } from './dom.js';
import { KINDS, bodyOf, edges, summary, languages } from './doc.js';
import { state, emit } from './state.js';

const W = 210;
const H = 66;
const EXT_W = 150;

/** null until the first drawing, which fits the map's width (not below 60 %). */
let scale = null;
let saveTimer = null;
let saveLayout = () => {};

export function setLayoutSaver(f) {
  saveLayout = f;
}

function scheduleLayoutSave() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => saveLayout(), 800);
}

const short = (s, n) => {
  const t = String(s || '').replace(/\s+/g, ' ').trim();
  return [...t].length > n ? `${[...t].slice(0, n - 1).join('')}…` : t;
};

/** Positions (box centres) of every node of the flow: kept ones, else dagre's. */
function positions(flowName, flow) {
  const ids = Object.keys(flow.nodes || {});
  const es = edges(flow);
  const ext = [...new Set(es.filter((e) => e.external).map((e) => e.to))];
  const g = new window.dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 36, ranksep: 70, marginx: 24, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const id of ids) g.setNode(id, { width: W, height: H });
  for (const x of ext) g.setNode(x, { width: EXT_W, height: 36 });
  es.forEach((e, i) => {
    // Labels take room in the layout, so dagre keeps them apart.
    if (g.hasNode(e.to)) g.setEdge(e.from, e.to, { width: Math.min(28, String(e.label || '').length) * 6.8 + 10, height: 16, labelpos: 'c' }, `e${i}`);
  });
  window.dagre.layout(g);
  const pos = {};
  for (const id of [...ids, ...ext]) {
    const kept = state.layout[`${flowName}/${id}`];
    const n = g.node(id);
    pos[id] = kept && Number.isFinite(kept.x) ? { x: kept.x, y: kept.y } : { x: n.x, y: n.y };
  }
  // dagre's own route for arrows between boxes nobody moved.
  const laid = {};
  es.forEach((e, i) => {
    const moved = (id) => Boolean(state.layout[`${flowName}/${id}`]);
    if (!g.hasNode(e.to) || moved(e.from) || moved(e.to)) return;
    const r = g.edge(e.from, e.to, `e${i}`);
    if (r && r.points && r.points.length > 1) laid[i] = { points: r.points, x: r.x, y: r.y, from: { ...pos[e.from] }, to: { ...pos[e.to] } };
  });
  return { pos, ext, es, laid };
}

function problemsByNode(flowName) {
  const out = {};
  const r = state.report || {};
  for (const [list, kind] of [[r.errors || [], 'errors'], [r.warnings || [], 'warnings']]) {
    for (const p of list) {
      if (p.flow !== flowName || !p.node) continue;
      out[p.node] = out[p.node] || { errors: [], warnings: [] };
      out[p.node][kind].push(p.message);
    }
  }
  return out;
}

function pathsByEnd(flowName) {
  const out = {};
  for (const p of ((state.report || {}).paths || {})[flowName] || []) {
    const prev = out[p.end];
    if (!prev || p.slices > prev.slices) out[p.end] = p;
  }
  return out;
}

function edgePath(a, b, hb) {
  const x1 = a.x;
  const y1 = a.y + H / 2;
  const x2 = b.x;
  const y2 = b.y - hb / 2;
  if (y2 > y1 + 10) {
    const dy = (y2 - y1) / 2;
    // The label sits 70 % of the way, so the labels of arrows leaving one box do not collide.
    const t = 0.7;
    const at = (a0, a1, a2, a3) => (1 - t) ** 3 * a0 + 3 * (1 - t) ** 2 * t * a1 + 3 * (1 - t) * t * t * a2 + t ** 3 * a3;
    return { d: `M${x1},${y1} C${x1},${y1 + dy} ${x2},${y2 - dy} ${x2},${y2}`, mx: at(x1, x1, x2, x2), my: at(y1, y1 + dy, y2 - dy, y2) };
  }
  // Back up the graph: go out to the side and come round.
  const side = x2 >= x1 ? 1 : -1;
  const ox = Math.max(x1, x2) * (side > 0 ? 1 : 0) + Math.min(x1, x2) * (side < 0 ? 1 : 0) + side * (W / 2 + 40);
  return { d: `M${x1},${y1} C${x1},${y1 + 60} ${ox},${y1 + 60} ${ox},${(y1 + y2) / 2} S${x2},${y2 - 60} ${x2},${y2}`, mx: ox, my: (y1 + y2) / 2 };
}

/** A smooth path through dagre's points, the label where dagre put it. */
function route(l) {
  const p = l.points;
  let d = `M${p[0].x},${p[0].y}`;
  for (let i = 1; i < p.length - 1; i++) d += ` Q${p[i].x},${p[i].y} ${(p[i].x + p[i + 1].x) / 2},${(p[i].y + p[i + 1].y) / 2}`;
  d += ` L${p[p.length - 1].x},${p[p.length - 1].y}`;
  return { d, mx: l.x ?? p[Math.floor(p.length / 2)].x, my: (l.y ?? p[Math.floor(p.length / 2)].y) + 4 };
}

/** Draws the open flow into `root` (a scrolling div). */
export function drawGraph(root) {
  clear(root);
  const flowName = state.flow;
  const flow = state.doc && state.doc.flows && state.doc.flows[flowName];
  if (!flow) {
    root.append(document.createTextNode('This file has no flow yet. Use “Add flow” to start one.'));
    return;
  }
  if (!window.dagre) {
    root.append(document.createTextNode('The graph could not be drawn (the layout script did not load). The forms and the Raw YAML tab still work.'));
    return;
  }
  const langs = languages(state.doc);
  const lang = state.viewLang || langs[0];
  const { pos, ext, es, laid } = positions(flowName, flow);
  const probs = problemsByNode(flowName);
  const ends = pathsByEnd(flowName);
  const stats = state.stats && state.stats.flow === flowName ? state.stats : null;
  const edgeCount = (from, to) => stats && (stats.edges || []).filter((e) => e.from === from && e.to === to).reduce((a, e) => a + e.count, 0);
  const endCount = (id) => stats && (stats.ends || []).filter((e) => e.node === id).reduce((a, e) => a + e.count, 0);
  const active = state.active && state.active.flow === flowName ? state.active : null;

  const all = Object.values(pos);
  const minX = Math.min(...all.map((p) => p.x)) - W / 2 - 80;
  const minY = Math.min(...all.map((p) => p.y)) - H / 2 - 30;
  const maxX = Math.max(...all.map((p) => p.x)) + W / 2 + 80;
  const maxY = Math.max(...all.map((p) => p.y)) + H / 2 + 60;
  const width = maxX - minX;
  const height = maxY - minY;
  if (scale === null) scale = root.clientWidth > 0 ? Math.min(1, Math.max(0.6, (root.clientWidth - 4) / width)) : 1;

  const s = svg('svg', {
    class: 'graph', role: 'group', 'aria-label': `Map of the flow ${flowName}`,
    viewBox: `${minX} ${minY} ${width} ${height}`, width: width * scale, height: height * scale,
  });
  s.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z' }))));

  const edgeLayer = svg('g', { class: 'edges', 'aria-hidden': 'true' });
  s.append(edgeLayer);
  const drawEdges = () => {
    clear(edgeLayer);
    for (const [i, e] of es.entries()) {
      const a = pos[e.from];
      const b = pos[e.to];
      if (!a || !b) continue;
      const l = laid[i];
      const still = l && l.from.x === a.x && l.from.y === a.y && l.to.x === b.x && l.to.y === b.y;
      const { d, mx, my } = still ? route(l) : edgePath(a, b, e.external ? 36 : H);
      const lit = active && active.trail && active.trail.includes(e.from) && active.trail.includes(e.to);
      const n = edgeCount(e.from, e.to);
      edgeLayer.append(svg('path', { d, class: `edge${lit ? ' lit' : ''}${stats ? ' counted' : ''}`, 'marker-end': 'url(#arrow)', 'stroke-width': stats && n ? Math.min(8, 1.5 + Math.log2(1 + n)) : null }));
      const label = [e.label, stats ? `${n || 0} people` : ''].filter(Boolean).join(' · ');
      if (label) {
        const t = svg('text', { x: mx, y: my, class: `edge-label${stats ? ' count' : ''}`, 'text-anchor': 'middle' }, short(label, 28));
        edgeLayer.append(svg('rect', { class: 'edge-label-bg', x: mx - label.length * 3.4 - 4, y: my - 12, width: label.length * 6.8 + 8, height: 16, rx: 3 }), t);
      }
    }
  };
  drawEdges();

  const nodeLayer = svg('g', { class: 'nodes' });
  s.append(nodeLayer);
  const toSvg = (ev) => {
    const pt = s.createSVGPoint();
    pt.x = ev.clientX;
    pt.y = ev.clientY;
    return pt.matrixTransform(s.getScreenCTM().inverse());
  };

  const ids = Object.keys(flow.nodes || {});
  for (const id of ids) {
    const node = flow.nodes[id];
    const b = bodyOf(node);
    const p = probs[id];
    const kindName = b.known ? KINDS[b.kind].name : b.kind === 'none' ? 'Empty' : b.kind === 'several' ? 'Two kinds' : b.kind;
    const isStart = flow.start === id;
    const cls = ['node', `kind-${b.known ? b.kind : 'other'}`];
    if (state.selected === id) cls.push('selected');
    if (p && p.errors.length) cls.push('has-errors');
    else if (p && p.warnings.length) cls.push('has-warnings');
    if (active && active.node === id) cls.push('active');
    else if (active && active.trail && active.trail.includes(id)) cls.push('visited');
    const problemsText = p ? [...p.errors, ...p.warnings].join('; ') : '';
    const g = svg('g', {
      class: cls.join(' '), tabindex: 0, role: 'button', 'data-node': id, 'data-testid': `node-${id}`,
      'aria-pressed': state.selected === id ? 'true' : 'false',
      'aria-label': `${kindName} “${id}”${isStart ? ', the first screen' : ''}. ${short(summary(node, lang, langs[0]), 80)}${problemsText ? `. Problems: ${problemsText}` : ''}`,
      transform: `translate(${pos[id].x - W / 2},${pos[id].y - H / 2})`,
    });
    g.append(
      svg('rect', { width: W, height: H, rx: 8, class: 'box' }),
      svg('text', { x: 10, y: 18, class: 'kind' }, `${kindName}${isStart ? ' · first' : ''}`),
      svg('text', { x: 10, y: 36, class: 'name' }, short(id, 26)),
      svg('text', { x: 10, y: 54, class: 'summary' }, short(summary(node, lang, langs[0]), 27)),
    );
    if (p && (p.errors.length || p.warnings.length)) {
      const n = p.errors.length || p.warnings.length;
      g.append(svg('circle', { cx: W - 12, cy: 12, r: 10, class: p.errors.length ? 'badge error' : 'badge warning' }), svg('text', { x: W - 12, y: 16, class: 'badge-text', 'text-anchor': 'middle' }, String(n)));
      g.append(svg('title', {}, problemsText));
    }
    const notes = [];
    if (ends[id]) notes.push(`≈ ${ends[id].slices} × 20 s (${ends[id].secs} s)`);
    if (stats && (endCount(id) || bodyOf(node).kind === 'end')) notes.push(`ended here: ${endCount(id) || 0}`);
    if (notes.length) g.append(svg('text', { x: W / 2, y: H + 15, class: 'note', 'text-anchor': 'middle', 'data-testid': `note-${id}` }, notes.join(' · ')));

    let drag = null;
    g.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      const pt = toSvg(ev);
      drag = { dx: pt.x - pos[id].x, dy: pt.y - pos[id].y, moved: false, sx: ev.clientX, sy: ev.clientY };
      g.setPointerCapture(ev.pointerId);
    });
    g.addEventListener('pointermove', (ev) => {
      if (!drag) return;
      if (!drag.moved && Math.hypot(ev.clientX - drag.sx, ev.clientY - drag.sy) < 4) return;
      drag.moved = true;
      const pt = toSvg(ev);
      pos[id] = { x: Math.round(pt.x - drag.dx), y: Math.round(pt.y - drag.dy) };
      g.setAttribute('transform', `translate(${pos[id].x - W / 2},${pos[id].y - H / 2})`);
      drawEdges();
    });
    g.addEventListener('pointerup', () => {
      if (!drag) return;
      const moved = drag.moved;
      drag = null;
      if (moved) {
        state.layout[`${flowName}/${id}`] = pos[id];
        scheduleLayoutSave();
        drawGraph(root);
      } else select(id);
    });
    g.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        select(id, true);
        return;
      }
      const step = { ArrowLeft: [-20, 0], ArrowRight: [20, 0], ArrowUp: [0, -20], ArrowDown: [0, 20] }[ev.key];
      if (step && ev.altKey) {
        ev.preventDefault();
        state.layout[`${flowName}/${id}`] = { x: pos[id].x + step[0], y: pos[id].y + step[1] };
        scheduleLayoutSave();
        drawGraph(root);
        root.querySelector(`[data-node="${CSS.escape(id)}"]`)?.focus();
        say(`Moved ${id}.`);
      }
    });
    nodeLayer.append(g);
  }
  for (const x of ext) {
    nodeLayer.append(svg('g', { class: 'node external', transform: `translate(${pos[x].x - EXT_W / 2},${pos[x].y - 18})`, 'aria-hidden': 'true' },
      svg('rect', { width: EXT_W, height: 36, rx: 18, class: 'box' }),
      svg('text', { x: EXT_W / 2, y: 23, 'text-anchor': 'middle', class: 'name' }, `→ ${short(x.slice(5), 16)}`)));
  }
  root.append(s);
}

function select(id, focusForm = false) {
  state.selected = id;
  emit('select', { focusForm });
}

/** The next drawing fits the width again (a new file or flow). */
export function fitNext() {
  scale = null;
}

export function zoom(by) {
  scale = by === 0 ? 1 : Math.min(2, Math.max(0.3, scale * by));
}

/** Forgets the kept positions of the open flow: dagre lays it out afresh. */
export function tidy() {
  for (const k of Object.keys(state.layout)) if (k.startsWith(`${state.flow}/`)) delete state.layout[k];
  scheduleLayoutSave();
}
