// Small SVG plots: lines (spider), bars (waterfall, histogram, stacked classes). Text is text.
import { s } from './dom'

export interface Series { name: string; points: { x: number; y: number; href?: string; label?: string }[] }

const W = 560
const H = 260
const M = { left: 52, right: 12, top: 14, bottom: 42 }
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2']

function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1
  return (v) => r0 + ((v - d0) / span) * (r1 - r0)
}

function frame(title: string, yLabel: string): SVGElement {
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'plot', width: W, height: H })
  svg.append(s('title', {}, title))
  svg.append(s('text', { x: 12, y: H / 2, transform: `rotate(-90 12 ${H / 2})`, 'text-anchor': 'middle', class: 'axis-label' }, yLabel))
  return svg
}

function yAxis(svg: SVGElement, y: (v: number) => number, lo: number, hi: number, zero = false): void {
  const ticks = 5
  for (let i = 0; i <= ticks; i++) {
    const v = lo + ((hi - lo) * i) / ticks
    svg.append(s('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: 'grid' }))
    svg.append(s('text', { x: M.left - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, v.toFixed(Math.abs(hi - lo) < 10 ? 1 : 0)))
  }
  if (zero && lo < 0 && hi > 0) svg.append(s('line', { x1: M.left, x2: W - M.right, y1: y(0), y2: y(0), class: 'zero' }))
}

/** Lines over time (x: days since the first date), e.g. the spider plot. */
export function linePlot(title: string, yLabel: string, series: Series[], xLabels: Map<number, string>, zero = true): SVGElement {
  const svg = frame(title, yLabel)
  const all = series.flatMap((line) => line.points)
  if (!all.length) return svg
  const xs = all.map((p) => p.x)
  const ys = all.map((p) => p.y)
  let lo = Math.min(...ys, zero ? 0 : Infinity)
  let hi = Math.max(...ys, zero ? 0 : -Infinity)
  if (lo === hi) { lo -= 1; hi += 1 }
  const x = scale(Math.min(...xs), Math.max(...xs), M.left + 10, W - M.right - 10)
  const y = scale(lo, hi, H - M.bottom, M.top)
  yAxis(svg, y, lo, hi, zero)
  for (const [value, label] of xLabels) {
    svg.append(s('text', { x: x(value), y: H - M.bottom + 14, 'text-anchor': 'middle', class: 'tick' }, label))
  }
  series.forEach((line, index) => {
    const colour = PALETTE[index % PALETTE.length]
    const group = s('g', { class: 'series', 'data-series': line.name })
    group.append(s('title', {}, line.name))
    group.append(s('polyline', { points: line.points.map((p) => `${x(p.x)},${y(p.y)}`).join(' '), fill: 'none', stroke: colour, 'stroke-width': 2 }))
    for (const p of line.points) {
      const dot = s('circle', { cx: x(p.x), cy: y(p.y), r: 5, fill: colour, class: 'point' }, s('title', {}, p.label ?? `${line.name}: ${p.y.toFixed(1)}`))
      group.append(p.href ? s('a', { href: p.href }, dot) : dot)
    }
    svg.append(group)
  })
  const legend = s('g', { class: 'legend' })
  series.forEach((line, index) => {
    legend.append(s('rect', { x: M.left + index * 110, y: H - 16, width: 10, height: 10, fill: PALETTE[index % PALETTE.length] }))
    legend.append(s('text', { x: M.left + index * 110 + 14, y: H - 7, class: 'tick' }, line.name.length > 14 ? line.name.slice(0, 13) + '…' : line.name))
  })
  svg.append(legend)
  return svg
}

export interface Bar { label: string; value: number; colour?: string; href?: string; parts?: { value: number; colour: string; name: string }[] }

/** Vertical bars (waterfall sorted by the caller; stacked when a bar has parts). */
export function barPlot(title: string, yLabel: string, bars: Bar[], zero = true): SVGElement {
  const svg = frame(title, yLabel)
  if (!bars.length) return svg
  const values = bars.map((b) => b.value)
  let lo = Math.min(...values, zero ? 0 : Infinity)
  let hi = Math.max(...values, zero ? 0 : -Infinity)
  if (lo === hi) { lo -= 1; hi += 1 }
  const y = scale(lo, hi, H - M.bottom, M.top)
  yAxis(svg, y, lo, hi, true)
  const step = (W - M.left - M.right) / bars.length
  const width = Math.max(2, step * 0.7)
  bars.forEach((bar, index) => {
    const x0 = M.left + index * step + (step - width) / 2
    const group = s('g', { class: 'bar', 'data-label': bar.label })
    group.append(s('title', {}, `${bar.label}: ${bar.value.toFixed(1)}`))
    if (bar.parts) {
      let base = 0
      for (const part of bar.parts) {
        group.append(s('rect', { x: x0, y: y(base + part.value), width, height: Math.max(0, y(base) - y(base + part.value)), fill: part.colour }, s('title', {}, `${part.name}: ${part.value.toFixed(1)}`)))
        base += part.value
      }
    } else {
      const top = y(Math.max(0, bar.value))
      group.append(s('rect', { x: x0, y: top, width, height: Math.abs(y(bar.value) - y(0)), fill: bar.colour ?? '#1f77b4' }))
    }
    if (bars.length <= 16) {
      group.append(s('text', { x: x0 + width / 2, y: H - M.bottom + 14, 'text-anchor': 'middle', class: 'tick' }, bar.label.length > 12 ? bar.label.slice(0, 11) + '…' : bar.label))
    }
    svg.append(bar.href ? s('a', { href: bar.href }, group) : group)
  })
  return svg
}
