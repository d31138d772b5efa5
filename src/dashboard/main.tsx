/** The dashboard: a shell (header, navigation, sign-in) around hash-routed views. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { LiveMode } from './api.js';
import { ApiError, loadWhoAmI, session, signInWith, startLiveUpdates } from './api.js';
import { href, useRoute, useSession } from './hooks.js';
import { ErrorBox, TextField } from './ui.js';
import { DeadLettersView } from './views/dead-letters.js';
import { EntitiesView } from './views/entities.js';
import { InstanceView } from './views/instance.js';
import { InstancesView } from './views/instances.js';
import { StartView } from './views/start.js';
import './styles.css';

const NAV = [
  { part: 'instances', label: 'Instances' },
  { part: 'entities', label: 'Entities' },
  { part: 'dead-letters', label: 'Dead letters' },
  { part: 'start', label: 'Getting started' },
] as const;

function Login() {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  return (
    <section class="login" aria-labelledby="login-title">
      <h1 id="login-title">Sign in</h1>
      <p>This server needs a token. It is kept for this tab only (sessionStorage), and sent as a bearer token.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const value = token.trim();
          if (!value) return;
          setError(undefined);
          signInWith(value).catch((err: unknown) => {
            setError(err instanceof ApiError && err.status === 401 ? new Error('That token is not valid.') : err);
          });
        }}
      >
        <TextField
          label="Token"
          type="password"
          value={token}
          onInput={setToken}
          autoComplete="current-password"
          required
        />
        <ErrorBox error={error} />
        <div class="actions">
          <button type="submit" class="primary">
            Sign in
          </button>
        </div>
      </form>
    </section>
  );
}

function App() {
  const s = useSession();
  const route = useRoute();
  const [mode, setMode] = useState<LiveMode>('connecting');
  const [error, setError] = useState<unknown>(undefined);
  const signedIn = !s.needsLogin && s.who !== undefined;

  useEffect(() => {
    if (s.needsLogin || s.who) return;
    loadWhoAmI().catch((err: unknown) => {
      if (!(err instanceof ApiError && err.status === 401)) setError(err);
    });
  }, [s.needsLogin, s.token, s.who]);
  useEffect(() => (signedIn ? startLiveUpdates(setMode) : undefined), [signedIn, s.token]);

  const [first = 'instances', second] = route.parts;
  let view;
  if (s.needsLogin) view = <Login />;
  else if (!s.who) view = error ? <ErrorBox error={error} /> : <p class="muted">Loading…</p>;
  else if (first === 'instances' && second !== undefined) view = <InstanceView id={second} />;
  else if (first === 'entities') view = <EntitiesView route={route} />;
  else if (first === 'dead-letters') view = <DeadLettersView />;
  else if (first === 'start') view = <StartView />;
  else view = <InstancesView route={route} />;

  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('instances')}>
          Durable
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.part}>
                <a href={href(item.part)} aria-current={first === item.part ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="session">
          {signedIn ? (
            <span class={`live live-${mode}`} role="status" title="Live updates">
              {mode === 'live'
                ? 'Live'
                : mode === 'polling'
                  ? 'Refreshing every 10 s'
                  : mode === 'offline'
                    ? 'Reconnecting…'
                    : 'Connecting…'}
            </span>
          ) : null}
          {s.who?.name ? <span class="muted">{s.who.name}</span> : null}
          {s.token ? (
            <button type="button" onClick={() => session.signOut()}>
              Sign out
            </button>
          ) : null}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {view}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
