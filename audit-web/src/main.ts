import './styles.css';
import { signedIn, signOut } from './api';
import { clear, h } from './dom';
import { go } from './navigate';
import { loadSettings, saveSettings } from './settings';
import { renderLog } from './views/public-log';
import { renderOrder } from './views/order';
import { renderOrders } from './views/orders';
import { renderReceipt } from './views/receipt';
import { renderSignIn } from './views/sign-in';

/** A view renders into `main` and returns how to stop its timers when the route changes. */
export type Stop = () => void;

const view = document.getElementById('view')!;
const nav = document.getElementById('nav')!;
let stopCurrent: Stop = () => undefined;

function renderNav(current: string): void {
  const links: [string, string][] = [
    ['#/orders', 'My orders'],
    ['#/receipt', 'Verify a receipt'],
    ['#/log', 'Public log'],
  ];
  const session = signedIn();
  clear(
    nav,
    links.map(([href, label]) =>
      h(
        'li',
        {},
        h('a', { href, 'aria-current': current.startsWith(href) ? 'page' : undefined }, label),
      ),
    ),
    session ? h('li', { class: 'who' }, `Signed in as ${session.email}`) : null,
    h(
      'li',
      {},
      session
        ? h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () => {
                signOut();
                go('#/sign-in');
              },
            },
            'Sign out',
          )
        : h(
            'a',
            { href: '#/sign-in', 'aria-current': current === '#/sign-in' ? 'page' : undefined },
            'Sign in',
          ),
    ),
  );
}

function renderSettings(open = false): void {
  const s = loadSettings();
  const rpc = h('input', {
    id: 'rpc-url',
    name: 'rpc',
    type: 'url',
    value: s.rpcUrl,
    required: true,
  });
  const contract = h('input', {
    id: 'contract-address',
    name: 'contract',
    value: s.contractAddress,
    placeholder: 'as the receipt or the public log names it',
    pattern: '^(0x[0-9a-fA-F]{40})?$',
  });
  const saved = h('span', { role: 'status', class: 'hint' });
  clear(
    document.getElementById('foot')!,
    h(
      'details',
      { open },
      h('summary', {}, `Chain endpoint: ${s.rpcUrl}`),
      h(
        'form',
        {
          class: 'stack',
          onsubmit: (ev: Event) => {
            ev.preventDefault();
            saveSettings({ rpcUrl: rpc.value.trim(), contractAddress: contract.value.trim() });
            renderSettings(true);
            document.getElementById('settings-saved')!.textContent =
              'Saved. Verifications now ask this endpoint.';
          },
        },
        h(
          'p',
          { class: 'hint' },
          'The page asks this JSON-RPC endpoint, not the platform, whether a root is anchored. ',
          'Use any node you trust; the default is the embedded run’s.',
        ),
        h('label', { for: 'rpc-url' }, 'Chain JSON-RPC endpoint', rpc),
        h('label', { for: 'contract-address' }, 'AuditAnchor contract (optional)', contract),
        h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save'), saved),
      ),
    ),
  );
  saved.id = 'settings-saved';
}

async function route(): Promise<void> {
  stopCurrent();
  stopCurrent = () => undefined;
  const hash = location.hash || '#/orders';
  renderNav(hash);
  const [, page, id] = hash.split('/');
  const needsLogin = page === 'orders';
  if (needsLogin && !signedIn()) {
    renderSignIn(view, id ? `#/orders/${id}` : '#/orders');
  } else if (page === 'orders' && id) {
    stopCurrent = renderOrder(view, decodeURIComponent(id));
  } else if (page === 'orders') {
    renderOrders(view);
  } else if (page === 'receipt') {
    renderReceipt(view);
  } else if (page === 'log') {
    stopCurrent = renderLog(view);
  } else {
    renderSignIn(view, '#/orders');
  }
  view.focus();
}

window.addEventListener('hashchange', () => void route());
renderSettings();
void route();
