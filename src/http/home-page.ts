/**
 * The start page at `/`: one small HTML document (no script, no external asset, no build step) that lists what the
 * app registers and how to drive it: links into the API and copy-paste CLI and curl lines. The dashboard replaces it
 * later; until then it answers the question "the server is up, now what?".
 */

/** What the page lists besides the orchestrations and entities the API already knows. */
export interface HomePageOptions {
  readonly activities?: readonly string[];
  /** The events each orchestration declares (`defineApp({ events })`). */
  readonly events?: Readonly<Record<string, readonly string[]>>;
}

export interface HomePageContent extends HomePageOptions {
  readonly orchestrations: readonly string[];
  readonly entities: readonly string[];
  /** Where the page was reached, `http://host:port`: the CLI lines point `--url` at it. */
  readonly baseUrl: string;
}

const DEFAULT_URL = 'http://127.0.0.1:8080';

/**
 * Renders the page.
 * @example
 * renderHomePage({ orchestrations: ['hello'], entities: [], activities: ['sayHello'], baseUrl: 'http://127.0.0.1:8080' });
 */
export function renderHomePage(content: HomePageContent): string {
  const base = content.baseUrl;
  const url = base === DEFAULT_URL ? '' : ` --url ${base}`;
  const events = content.events ?? {};
  const first = content.orchestrations[0] ?? '<name>';
  const entity = content.entities[0] ?? '<entity>';
  const names = (items: readonly string[], render: (name: string) => string): string =>
    items.length === 0 ? '<p class="none">none</p>' : `<ul>${items.map((n) => `<li>${render(n)}</li>`).join('')}</ul>`;
  const cli = [
    `npx durable start ${first} '<input JSON>' --id my-first${url}`,
    `npx durable status my-first --wait${url}`,
    `npx durable history my-first${url}`,
    `npx durable list${url}`,
    `npx durable signal ${entity}@some-key <operation> '<input JSON>'${url}`,
    `npx durable entity get ${entity}@some-key${url}`,
    `npx durable dead-letters${url}`,
  ];
  const curl = [
    `curl -X POST ${base}/api/orchestrations/${first} -H 'content-type: application/json' -d '{"input": <input JSON>}'`,
    `curl ${base}/api/instances`,
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Durable</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
code, pre { font: 13px/1.45 ui-monospace, monospace; } pre { background: #f4f4f4; padding: .7rem; overflow-x: auto; }
.cols { display: flex; flex-wrap: wrap; gap: 2rem; } .cols section { min-width: 14rem; } .none { color: #888; }
</style>
</head>
<body>
<h1>Durable is running</h1>
<p>The HTTP API is at <a href="/api/instances"><code>${escape(base)}/api</code></a>. Drive it with the <code>durable</code> CLI or any HTTP client.</p>
<div class="cols">
<section><h2>Orchestrations</h2>${names(content.orchestrations, (n) => {
    const declared = events[n];
    const list = declared ? ` <small>(events: ${declared.map(escape).join(', ')})</small>` : '';
    return `<a href="/api/instances?name=${encodeURIComponent(n)}"><code>${escape(n)}</code></a>${list}`;
  })}</section>
<section><h2>Activities</h2>${names(content.activities ?? [], (n) => `<code>${escape(n)}</code>`)}</section>
<section><h2>Entities</h2>${names(
    content.entities,
    (n) => `<a href="/api/entities?name=${encodeURIComponent(n)}"><code>${escape(n)}</code></a>`,
  )}</section>
</div>
<h2>API</h2>
<ul>
<li><a href="/api/instances">/api/instances</a>: instances, newest first (<code>?status=Failed</code>, <code>?name=…</code>)</li>
<li><a href="/api/entities">/api/entities</a>: entities and their state</li>
<li><a href="/api/dead-letters">/api/dead-letters</a>: messages the workers gave up on</li>
<li><a href="/openapi.json">/openapi.json</a>: every route, its parameters and errors (OpenAPI 3)</li>
</ul>
<h2>From a terminal</h2>
<pre>${cli.map(escape).join('\n')}</pre>
<pre>${curl.map(escape).join('\n')}</pre>
</body>
</html>
`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
