import { UserId } from '@chat/contracts';
import type { PageConfig } from '../shared';
import { signInDev, signInWithToken } from './auth';
import { h, setText } from './dom';
import { describeError, type Auth } from './session';

/** Sign-in: by name through the development token endpoint, or with a token from elsewhere. */
export function signInView(cfg: PageConfig, signedIn: (auth: Auth) => void, notice = ''): HTMLElement {
  const error = h('p', { class: 'form-error', role: 'alert' }, notice);
  const name = h('input', { name: 'userId', type: 'text', placeholder: 'alice', autocomplete: 'username', maxlength: 64, 'aria-label': 'Your name', autofocus: true });
  const token = h('textarea', { name: 'token', rows: 3, placeholder: 'eyJhbGciOiJIUzI1NiIs…', 'aria-label': 'Token' });
  const busy = (form: HTMLFormElement, on: boolean) => {
    form.querySelectorAll('button').forEach((b) => (b.disabled = on));
  };

  const byName = h(
    'form',
    {
      class: 'sign-in',
      onsubmit: (ev) => {
        ev.preventDefault();
        const userId = name.value.trim();
        const ok = UserId.safeParse(userId);
        if (!ok.success) return setText(error, userId ? `"${userId}" is not a user id: 1-64 of A-Z a-z 0-9 _ . -` : 'Enter a name.');
        setText(error, '');
        busy(byName, true);
        signInDev(userId).then(signedIn, (e: unknown) => {
          setText(error, `Sign-in failed: ${describeError(e)}`);
          busy(byName, false);
        });
      },
    },
    h('label', {}, 'Your name ', name),
    h('button', { type: 'submit' }, 'Sign in'),
    h('p', { class: 'note' }, 'Development sign-in: any name, no password.'),
  );
  const byToken = h(
    'form',
    {
      class: 'token-sign-in',
      onsubmit: (ev) => {
        ev.preventDefault();
        try {
          signedIn(signInWithToken(token.value));
        } catch (e) {
          setText(error, `That token cannot be used: ${describeError(e)}`);
        }
      },
    },
    h('label', {}, 'Token ', token),
    h('button', { type: 'submit' }, 'Use token'),
    h('p', { class: 'note' }, 'A client token, e.g. from npx chatctl token alice.'),
  );

  return h(
    'main',
    { class: 'sign-in-page' },
    h('h1', {}, 'Chat'),
    cfg.devSignIn ? byName : h('p', { class: 'note' }, 'The development sign-in is off on this server: sign in with a token.'),
    cfg.devSignIn ? h('details', {}, h('summary', {}, 'Sign in with a token'), byToken) : byToken,
    error,
  );
}
