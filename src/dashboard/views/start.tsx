/** Getting started: what the app registers and how to drive it from a terminal (the old start page, folded in). */
import { useState } from 'preact/hooks';
import { href, useApi, useSession } from '../hooks.js';
import type { AppDescription } from '../types.js';
import { StartDialog } from './instances.js';

const DEFAULT_URL = 'http://127.0.0.1:8080';

export function cliLines(
  base: string,
  orchestration = '<name>',
  entity = '<entity>',
): { cli: string[]; curl: string[] } {
  const url = base === DEFAULT_URL ? '' : ` --url ${base}`;
  return {
    cli: [
      `npx durable start ${orchestration} '<input JSON>' --id my-first${url}`,
      `npx durable status my-first --wait${url}`,
      `npx durable history my-first${url}`,
      `npx durable list${url}`,
      `npx durable signal ${entity}@some-key <operation> '<input JSON>'${url}`,
      `npx durable entity get ${entity}@some-key${url}`,
      `npx durable dead-letters${url}`,
    ],
    curl: [
      `curl -X POST ${base}/api/orchestrations/${orchestration} -H 'content-type: application/json' -d '{"input": <input JSON>}'`,
      `curl ${base}/api/instances`,
    ],
  };
}

export function StartView() {
  const described = useApi<AppDescription>('/api/app', [], false);
  const app = described.data;
  const session = useSession();
  const [starting, setStarting] = useState<string | undefined>(undefined);
  const base = location.origin;
  const lines = cliLines(base, app?.orchestrations[0]?.name, app?.entities[0]?.name);
  const auth = session.who?.authRequired ? " -H 'authorization: Bearer $DURABLE_TOKEN'" : '';
  return (
    <section aria-labelledby="start-title" aria-busy={described.loading}>
      <h1 id="start-title">Getting started</h1>
      <p>
        The HTTP API is at <code>{base}/api</code> (every route in <a href="/openapi.json">/openapi.json</a>). Drive it
        from here, with the <code>durable</code> CLI, or with any HTTP client.
      </p>
      {app ? (
        <div class="cols">
          <section aria-labelledby="orch-title">
            <h2 id="orch-title">Orchestrations</h2>
            {app.orchestrations.length === 0 ? <p class="muted">none</p> : null}
            <ul class="plain">
              {app.orchestrations.map((o) => (
                <li key={o.name}>
                  <a href={`${href('instances')}?name=${encodeURIComponent(o.name)}`}>
                    <code>{o.name}</code>
                  </a>
                  {o.events ? <small> (events: {o.events.join(', ')})</small> : null}{' '}
                  {session.can('write') ? (
                    <button
                      type="button"
                      class="small"
                      aria-label={`Start ${o.name}`}
                      onClick={() => setStarting(o.name)}
                    >
                      Start
                    </button>
                  ) : null}
                </li>
              ))}
            </ul>
          </section>
          <section aria-labelledby="act-title">
            <h2 id="act-title">Activities</h2>
            {app.activities.length === 0 ? <p class="muted">none</p> : null}
            <ul class="plain">
              {app.activities.map((a) => (
                <li key={a}>
                  <code>{a}</code>
                </li>
              ))}
            </ul>
          </section>
          <section aria-labelledby="ent-title">
            <h2 id="ent-title">Entities</h2>
            {app.entities.length === 0 ? <p class="muted">none</p> : null}
            <ul class="plain">
              {app.entities.map((e) => (
                <li key={e.name}>
                  <a href={`${href('entities')}?name=${encodeURIComponent(e.name)}`}>
                    <code>{e.name}</code>
                  </a>{' '}
                  <small>({e.operations.join(', ')})</small>
                </li>
              ))}
            </ul>
          </section>
        </div>
      ) : (
        <p class="muted">This server does not describe its app (no GET /api/app).</p>
      )}
      <h2>From a terminal</h2>
      <pre class="json" tabIndex={0} aria-label="CLI lines">
        {lines.cli.join('\n')}
      </pre>
      <pre class="json" tabIndex={0} aria-label="curl lines">
        {lines.curl.map((l) => (auth ? l.replace(/^curl /, `curl${auth} `) : l)).join('\n')}
      </pre>
      <h2>The API</h2>
      <ul>
        <li>
          <a href="/api/instances">/api/instances</a>: instances, newest first (<code>?status=Failed</code>,{' '}
          <code>?name=…</code>)
        </li>
        <li>
          <a href="/api/entities">/api/entities</a>: entities and their state
        </li>
        <li>
          <a href="/api/dead-letters">/api/dead-letters</a>: messages the workers gave up on
        </li>
        <li>
          <a href="/openapi.json">/openapi.json</a>: every route, its parameters and errors (OpenAPI 3)
        </li>
      </ul>
      {starting !== undefined ? (
        <StartDialog
          names={app?.orchestrations.map((o) => o.name) ?? []}
          initialName={starting}
          onClose={() => setStarting(undefined)}
          onStarted={(id) => {
            location.hash = href('instances', id).slice(1);
          }}
        />
      ) : null}
    </section>
  );
}
