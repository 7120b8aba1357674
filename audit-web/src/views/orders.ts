import { allPages, ApiError } from '../api';
import { clear, h, money, when } from '../dom';

interface OrderRow {
  id: string;
  status: string;
  total: { amount: number; currency: string };
  createdAt: string;
  items: unknown[];
}

export function renderOrders(view: HTMLElement): void {
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading your orders…'));
  clear(view, h('h1', {}, 'Orders'), body);
  allPages<OrderRow>('/api/orders')
    .then((orders) => {
      body.setAttribute('aria-busy', 'false');
      if (!orders.length) {
        clear(body, h('p', {}, 'No orders yet.'));
        return;
      }
      orders.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      clear(
        body,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h(
              'caption',
              { class: 'hint' },
              `${orders.length} order${orders.length === 1 ? '' : 's'}, newest first`,
            ),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Order'),
                h('th', { scope: 'col' }, 'Status'),
                h('th', { scope: 'col' }, 'Total'),
                h('th', { scope: 'col', class: 'hide-narrow' }, 'Placed'),
              ),
            ),
            h(
              'tbody',
              {},
              orders.map((o) =>
                h(
                  'tr',
                  {},
                  h(
                    'td',
                    {},
                    h('a', { href: `#/orders/${o.id}`, class: 'mono' }, o.id.slice(0, 8)),
                  ),
                  h('td', {}, o.status),
                  h('td', {}, money(o.total.amount, o.total.currency)),
                  h('td', { class: 'hide-narrow' }, when(o.createdAt)),
                ),
              ),
            ),
          ),
        ),
      );
    })
    .catch((err: unknown) => {
      body.setAttribute('aria-busy', 'false');
      clear(
        body,
        h(
          'p',
          { role: 'alert', class: 'bad' },
          `Could not load the orders: ${err instanceof ApiError ? err.message : String(err)}`,
        ),
      );
    });
}
