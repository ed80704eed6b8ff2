import type { PageConfig } from '../shared';
import { loadPageConfig } from './api';
import { AppView } from './appView';
import { clearAuth, saveAuth, storedAuth } from './auth';
import { h, replaceChildren } from './dom';
import { describeError, Session, type Auth } from './session';
import { signInView } from './signInView';

const root = document.getElementById('app')!;
let session: Session | undefined;

function showSignIn(cfg: PageConfig, notice = ''): void {
  replaceChildren(root, signInView(cfg, (auth) => void start(cfg, auth), notice));
  root.querySelector<HTMLInputElement>('input')?.focus();
}

async function start(cfg: PageConfig, auth: Auth): Promise<void> {
  session?.stop();
  // The view needs the session, and the session reports problems to the view.
  const ui: { view?: AppView } = {};
  const s = new Session(cfg, auth, {
    signedOut: (reason) => {
      clearAuth();
      session = undefined;
      showSignIn(cfg, reason);
    },
    problem: (message) => ui.view?.showProblem(message),
    renewed: saveAuth,
  });
  session = s;
  const view = (ui.view = new AppView(s));
  replaceChildren(root, view.el);
  try {
    await s.start();
  } catch (e) {
    view.showProblem(`Could not start: ${describeError(e)}`);
  }
  const wanted = /^#c=(.+)$/.exec(location.hash)?.[1];
  if (wanted && session === s && s.store.conversations.has(decodeURIComponent(wanted))) view.open(decodeURIComponent(wanted));
}

async function boot(): Promise<void> {
  let cfg: PageConfig;
  try {
    cfg = await loadPageConfig();
  } catch (e) {
    replaceChildren(root, h('p', { class: 'form-error', role: 'alert' }, `This page cannot reach its server: ${describeError(e)}`));
    return;
  }
  let auth: Auth | null = null;
  try {
    auth = await storedAuth(cfg.devSignIn);
  } catch (e) {
    return showSignIn(cfg, `Sign in again: ${describeError(e)}`);
  }
  if (auth) await start(cfg, auth);
  else showSignIn(cfg);
}

// A page closed or reloaded: its client's outbox and cursor stay in IndexedDB for the next start.
addEventListener('pagehide', () => session?.stop());
void boot();
