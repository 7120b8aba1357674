/**
 * Elements built from data with textContent only, never innerHTML: nothing the API or a pasted
 * file says can become markup or script.
 */
type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined | ((ev: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

export function clear(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

export const shortHex = (hex: string | null | undefined): string =>
  !hex ? '—' : hex.length > 18 ? `${hex.slice(0, 10)}…${hex.slice(-6)}` : hex;

export const money = (cents: number | null | undefined, currency: string | null | undefined) =>
  cents == null ? '—' : `${(cents / 100).toFixed(2)} ${currency ?? ''}`.trim();

export const when = (iso: string | number | null | undefined): string => {
  if (iso == null) return '—';
  const d = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
  return Number.isNaN(d.getTime())
    ? String(iso)
    : d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
};
