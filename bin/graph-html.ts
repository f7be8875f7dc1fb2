// kiln dump: draws graphs as a self-contained HTML page (inline SVG and CSS, nothing fetched). Nodes
// are laid out in layers (longest path from the inputs), ordered by the mean position of their
// inputs; each fused kernel gets a colour, and every node shows its shape and dtype.
import { fmtType, nodeText, type Graph, type GraphNode } from '../compiler/graph.js';

/** One graph to draw: its optimised form, the fusion group of each kernel, and kernel texts. */
export interface DrawnGraph {
  readonly title: string;
  readonly graph: Graph;
  /** Node ids (of `graph`) computed by each kernel, in launch order. */
  readonly groups: readonly (readonly number[])[];
  /** Per kernel: its kind and printed IR (shown in the legend). */
  readonly kernels: readonly { readonly kind: string; readonly text: string }[];
}

const NODE_W = 176, NODE_H = 44, GAP_X = 22, GAP_Y = 44, PAD = 24;

/** Distinct fill colours (light, so the text stays readable). */
export function groupColour(i: number): string {
  const hue = (i * 137.508) % 360;
  return `hsl(${hue.toFixed(1)}, 70%, ${i % 2 ? 80 : 86}%)`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Placed { readonly node: GraphNode; readonly layer: number; x: number; readonly y: number; order: number }

/** Layer and position of every node. */
function layout(g: Graph): { placed: Map<number, Placed>; width: number; height: number } {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const consumers = new Map<number, number[]>();
  for (const n of g.nodes) if (n.kind === 'op') for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n.id]);
  const layer = new Map<number, number>();
  for (const n of g.nodes) {
    if (n.kind === 'op') layer.set(n.id, 1 + Math.max(0, ...n.inputs.map((i) => layer.get(i) ?? 0)));
    else layer.set(n.id, 0);
  }
  // Leaves sit just above their first reader, not all on the top row.
  for (const n of g.nodes) {
    if (n.kind === 'op') continue;
    const cs = consumers.get(n.id) ?? [];
    if (cs.length) layer.set(n.id, Math.max(0, Math.min(...cs.map((c) => layer.get(c)!)) - 1));
  }
  const rows: number[][] = [];
  for (const n of g.nodes) (rows[layer.get(n.id)!] ??= []).push(n.id);
  const pos = new Map<number, number>();
  rows.forEach((r) => r?.forEach((id, i) => pos.set(id, i)));
  // Two downward sweeps: order each row by the mean position of its inputs (barycentre heuristic).
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const r of rows) {
      if (!r) continue;
      const key = (id: number) => {
        const n = byId.get(id)!;
        const ins = n.kind === 'op' ? n.inputs : consumers.get(id) ?? [];
        return ins.length ? ins.reduce((s, i) => s + (pos.get(i) ?? 0), 0) / ins.length : pos.get(id)!;
      };
      const keyed = r.map((id) => [id, key(id)] as const).sort((a, b) => a[1] - b[1] || a[0] - b[0]);
      keyed.forEach(([id], i) => { r[i] = id; pos.set(id, i); });
    }
  }
  const widest = Math.max(1, ...rows.map((r) => r?.length ?? 0));
  const width = PAD * 2 + widest * NODE_W + (widest - 1) * GAP_X;
  const placed = new Map<number, Placed>();
  rows.forEach((r, li) => {
    if (!r) return;
    const rowW = r.length * NODE_W + (r.length - 1) * GAP_X;
    const x0 = (width - rowW) / 2;
    r.forEach((id, i) => placed.set(id, { node: byId.get(id)!, layer: li, x: x0 + i * (NODE_W + GAP_X), y: PAD + li * (NODE_H + GAP_Y), order: i }));
  });
  const height = PAD * 2 + rows.length * NODE_H + Math.max(0, rows.length - 1) * GAP_Y;
  return { placed, width, height };
}

/** One graph as an SVG element: one `<g class="node">` per node, one `<path class="edge">` per use. */
export function graphSvg(d: DrawnGraph, idPrefix: string): string {
  const { placed, width, height } = layout(d.graph);
  // A node can sit in several kernels (a cheap value recomputed by each reader): it gets stripes.
  const groupsOf = new Map<number, number[]>();
  d.groups.forEach((ids, k) => ids.forEach((id) => { const g = groupsOf.get(id) ?? []; if (!g.includes(k)) g.push(k); groupsOf.set(id, g); }));
  const gradients = new Map<string, string>();
  const fillFor = (ks: readonly number[]): string => {
    if (ks.length === 1) return groupColour(ks[0]);
    const id = `${idPrefix}-mk-${ks.map((k) => k + 1).join('-')}`;
    if (!gradients.has(id)) {
      const stops = ks.flatMap((k, i) => [`<stop offset="${(i / ks.length).toFixed(3)}" stop-color="${groupColour(k)}"/>`, `<stop offset="${((i + 1) / ks.length).toFixed(3)}" stop-color="${groupColour(k)}"/>`]);
      gradients.set(id, `<linearGradient id="${id}">${stops.join('')}</linearGradient>`);
    }
    return `url(#${id})`;
  };
  const outputs = new Set(d.graph.outputs);
  const edges: string[] = [];
  for (const p of placed.values()) {
    if (p.node.kind !== 'op') continue;
    const inputs = p.node.inputs;
    inputs.forEach((i, k) => {
      const s = placed.get(i);
      if (!s) return;
      const x1 = s.x + NODE_W / 2, y1 = s.y + NODE_H;
      // Several inputs arrive side by side, so two uses of one value stay two visible edges.
      const x2 = p.x + NODE_W / 2 + (k - (inputs.length - 1) / 2) * 14, y2 = p.y;
      const my = (y1 + y2) / 2;
      edges.push(`<path class="edge" d="M${x1.toFixed(1)},${y1} C${x1.toFixed(1)},${my} ${x2.toFixed(1)},${my} ${x2.toFixed(1)},${y2 - 2}" marker-end="url(#${idPrefix}-arrow)"/>`);
    });
  }
  const nodes = [...placed.values()].sort((a, b) => a.node.id - b.node.id).map((p) => {
    const n = p.node;
    const ks = groupsOf.get(n.id) ?? [];
    const kNames = ks.map((k) => k + 1).join(' ');
    const fill = n.kind !== 'op' && !ks.length ? '#eeeeee' : !ks.length ? '#ffffff' : fillFor(ks);
    const head = n.kind === 'op' ? `%${n.id} ${n.op}` : `%${n.id} ${nodeText(n)}`;
    const cls = ['node', n.kind, ...ks.map((k) => `k${k + 1}`), !ks.length && n.kind === 'op' ? 'unfused' : '', outputs.has(n.id) ? 'output' : ''].filter(Boolean).join(' ');
    const title = `%${n.id}: ${fmtType(n)} = ${nodeText(n)}${n.loc ? `  # ${n.loc}` : ''}${ks.length ? `\nkernel ${ks.map((k) => k + 1).join(', ')}${ks.length > 1 ? ' (recomputed in each)' : ''}` : ''}`;
    const short = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
    return `<g class="${cls}" data-id="${n.id}"${ks.length ? ` data-kernel="${kNames}"` : ''} transform="translate(${p.x.toFixed(1)},${p.y})">` +
      `<title>${esc(title)}</title><rect width="${NODE_W}" height="${NODE_H}" rx="7" fill="${fill}"/>` +
      `<text x="8" y="17" class="op">${esc(short(head, 24))}</text>` +
      `<text x="8" y="34" class="ty">${esc(short(fmtType(n), 26))}${ks.length ? `<tspan class="kn" x="${NODE_W - 8}" text-anchor="end">${esc(short(ks.map((k) => `k${k + 1}`).join(','), 12))}</tspan>` : ''}</text></g>`;
  });
  return `<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(d.title)}">` +
    `<defs><marker id="${idPrefix}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker>${[...gradients.values()].join('')}</defs>` +
    `<g class="edges">${edges.join('')}</g><g class="nodes">${nodes.join('')}</g></svg>`;
}

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 20px; color: #222; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 6px; }
.meta { color: #555; margin-bottom: 8px; white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 12px; }
.scroll { overflow: auto; border: 1px solid #ddd; background: #fff; max-width: 100%; }
svg.graph text { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 11.5px; fill: #222; }
svg.graph text.ty { fill: #555; font-size: 10.5px; } svg.graph tspan.kn { fill: #333; font-weight: bold; }
svg.graph .node rect { stroke: #666; stroke-width: 1; }
svg.graph .node.unfused rect { stroke-dasharray: 4 3; }
svg.graph .node.output rect { stroke: #000; stroke-width: 2.5; }
svg.graph .node:hover rect { stroke: #d33; stroke-width: 2.5; }
svg.graph .edge { fill: none; stroke: #999; stroke-width: 1.2; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 8px 0; }
.legend span.sw { display: inline-block; width: 14px; height: 14px; border: 1px solid #666; border-radius: 3px; vertical-align: -2px; margin-right: 4px; }
details { margin: 2px 0; } pre { font-size: 11.5px; background: #fff; border: 1px solid #ddd; padding: 6px; overflow: auto; margin: 4px 0; }
`;

/** The whole page: a header, then per graph its legend (one colour per kernel), the SVG, and kernel texts. */
export function graphHtml(title: string, meta: string, graphs: readonly DrawnGraph[]): string {
  const sections = graphs.map((d, gi) => {
    const legend = d.kernels.map((k, i) => `<span><span class="sw" style="background:${groupColour(i)}"></span>kernel ${i + 1} (${esc(k.kind)}, ${d.groups[i]?.length ?? 0} nodes)</span>`).join('');
    const texts = d.kernels.map((k, i) => `<details><summary>kernel ${i + 1}: ${esc(k.kind)}</summary><pre>${esc(k.text)}</pre></details>`).join('');
    const nOps = d.graph.nodes.filter((n) => n.kind === 'op').length;
    return `<section class="graph-section" data-graph="${gi + 1}"><h2>${esc(d.title)}: ${d.graph.nodes.length} nodes (${nOps} ops) → ${d.kernels.length} kernel(s)</h2>` +
      `<div class="legend"><span><span class="sw" style="background:#eeeeee"></span>input / constant</span><span><span class="sw" style="background:#fff;border-style:dashed"></span>not in a kernel</span>${legend}</div>` +
      `<div class="scroll">${graphSvg(d, `g${gi + 1}`)}</div>${texts}</section>`;
  }).join('\n');
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${CSS}</style></head>` +
    `<body><h1>${esc(title)}</h1><div class="meta">${esc(meta)}</div>\n${sections}\n</body></html>\n`;
}
