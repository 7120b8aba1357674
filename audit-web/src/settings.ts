/**
 * Which chain endpoint and contract the page asks. Not secret, so kept in localStorage; `?rpc=`
 * in the address sets the endpoint too. The default is the embedded run's public endpoint.
 */
export const DEFAULT_RPC = 'http://127.0.0.1:8545';
const KEY = 'ecom.audit.settings';

export interface Settings {
  rpcUrl: string;
  /** Empty: the contract named by the receipt or the public log (shown with every check). */
  contractAddress: string;
}

export function loadSettings(): Settings {
  let stored: Partial<Settings> = {};
  try {
    stored = JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<Settings>;
  } catch {
    stored = {};
  }
  const fromQuery = new URLSearchParams(location.search).get('rpc');
  return {
    rpcUrl: fromQuery || stored.rpcUrl || DEFAULT_RPC,
    contractAddress: stored.contractAddress ?? '',
  };
}

export function saveSettings(s: Settings): void {
  localStorage.setItem(KEY, JSON.stringify(s));
}
