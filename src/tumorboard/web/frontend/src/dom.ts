// DOM helpers: every piece of data becomes a text node or an attribute value, never markup.

export type Child = Node | string | number | null | undefined | false
export type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>

const SVG_NS = 'http://www.w3.org/2000/svg'

function fill(el: Element, attrs: Attrs | undefined, children: Child[]): void {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue
    if (typeof value === 'function') {
      el.addEventListener(key.replace(/^on/, ''), value)
    } else if (key === 'href' && !String(value).startsWith('#') && !String(value).startsWith('/')) {
      throw new Error('only internal links')
    } else {
      el.setAttribute(key, value === true ? '' : String(value))
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    el.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child)
  }
}

/** An HTML element; strings are text. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  fill(el, attrs, children)
  return el
}

/** An SVG element; strings are text. */
export function s(tag: string, attrs?: Attrs, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement
  fill(el, attrs, children)
  return el
}

export function clear(el: Element, ...children: Child[]): void {
  el.replaceChildren()
  fill(el, undefined, children)
}

export function fmt(value: unknown, digits = 1): string {
  if (typeof value === 'number' && Number.isFinite(value)) return value.toFixed(digits)
  if (value === null || value === undefined || value === '') return '–'
  return String(value)
}

export function table(headers: string[], rows: Child[][], attrs?: Attrs): HTMLTableElement {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, ...headers.map((name) => h('th', { scope: 'col' }, name)))),
    h('tbody', {}, ...rows.map((row) => h('tr', {}, ...row.map((cell) => h('td', {}, cell))))))
}
