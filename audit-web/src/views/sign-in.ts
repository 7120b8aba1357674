import { ApiError, signIn } from '../api';
import { clear, h } from '../dom';
import { go } from '../navigate';

export function renderSignIn(view: HTMLElement, next: string): void {
  const email = h('input', {
    id: 'email',
    name: 'email',
    type: 'email',
    autocomplete: 'username',
    required: true,
  });
  const password = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const status = h('p', { role: 'alert', class: 'bad' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  clear(
    view,
    h('h1', {}, 'Sign in'),
    h(
      'p',
      { class: 'hint' },
      'Sign in as a customer to see your orders, or as an admin to see every order. ',
      'The token stays in this page’s memory only: reloading the page signs you out. ',
      'Checking a saved receipt or the public log needs no sign-in.',
    ),
    h(
      'form',
      {
        class: 'stack',
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          submit.disabled = true;
          status.textContent = '';
          try {
            await signIn(email.value.trim(), password.value);
            go(next);
          } catch (err) {
            status.textContent =
              err instanceof ApiError
                ? `Could not sign in: ${err.message}`
                : `Could not sign in: ${String(err)}`;
          } finally {
            submit.disabled = false;
          }
        },
      },
      h('label', { for: 'email' }, 'Email', email),
      h('label', { for: 'password' }, 'Password', password),
      submit,
      status,
    ),
  );
  email.focus();
}
