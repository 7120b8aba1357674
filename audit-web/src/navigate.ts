/** Goes to a view; the same view again is rendered afresh (main.ts routes on hashchange). */
export function go(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}
