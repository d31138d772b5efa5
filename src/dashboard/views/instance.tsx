/** One instance: its status and data, what it waits for, parent and children, actions, and its history. */
import { useState } from 'preact/hooks';
import { send } from '../api.js';
import { href, useApi, useAppDescription, useSession } from '../hooks.js';
import { buildTimeline, formatDuration } from '../timeline.js';
import type { ApiEvent, History, HistoryEvent, Instance } from '../types.js';
import { TERMINAL } from '../types.js';
import { ActionDialog, ErrorBox, Json, JsonEditor, parseJson, short, StatusBadge, TextField, Time } from '../ui.js';

type Tab = 'timeline' | 'events' | 'json';
type Action = 'raise' | 'terminate' | 'purge' | 'restart' | undefined;

export function InstanceView({ id }: { id: string }) {
  const session = useSession();
  const path = `/api/instances/${encodeURIComponent(id)}`;
  const status = useApi<Instance>(path);
  const history = useApi<History>(`${path}/history`);
  const app = useAppDescription();
  const [tab, setTab] = useState<Tab>('timeline');
  const [action, setAction] = useState<Action>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);

  const data = status.data?.instanceId === id ? status.data : undefined;
  const events = history.data?.instanceId === id ? history.data.events : [];
  const children = events.filter(
    (e): e is Extract<HistoryEvent, { type: 'SubOrchestrationCreated' }> => e.type === 'SubOrchestrationCreated',
  );
  const declared = app?.orchestrations.find((o) => o.name === data?.name)?.events ?? [];

  const quick = (what: 'suspend' | 'resume'): void => {
    setError(undefined);
    send('POST', `${path}/${what}`, {}).then(
      () => setNotice(`${what === 'suspend' ? 'Suspend' : 'Resume'} requested.`),
      setError,
    );
  };

  if (!data) {
    return (
      <section aria-labelledby="instance-title" aria-busy={!status.error}>
        <h1 id="instance-title">Instance {id}</h1>
        {status.error ? <ErrorBox error={status.error} /> : <p class="muted">Loading…</p>}
        <p>
          <a href={href('instances')}>All instances</a>
        </p>
      </section>
    );
  }
  const live = !TERMINAL.has(data.status) && data.status !== 'ContinuedAsNew';
  return (
    <section aria-labelledby="instance-title" aria-busy={history.loading && events.length === 0}>
      <p class="crumbs">
        <a href={href('instances')}>Instances</a> / {data.name}
      </p>
      <div class="title-row">
        <h1 id="instance-title" class="break">
          {data.instanceId}
        </h1>
        <StatusBadge status={data.status} stuck={data.stuck !== undefined} />
      </div>
      {data.stuck ? (
        <div class="error" role="alert">
          <strong>Stuck:</strong> {data.stuck.name}: {data.stuck.message}
        </div>
      ) : null}
      <div class="actions" aria-label="Actions">
        {session.can('write') && live ? (
          <button type="button" onClick={() => setAction('raise')}>
            Raise event
          </button>
        ) : null}
        {session.can('admin') && live ? (
          <>
            {data.status === 'Suspended' ? (
              <button type="button" onClick={() => quick('resume')}>
                Resume
              </button>
            ) : (
              <button type="button" onClick={() => quick('suspend')}>
                Suspend
              </button>
            )}
            <button type="button" class="danger" onClick={() => setAction('terminate')}>
              Terminate
            </button>
          </>
        ) : null}
        {session.can('admin') ? (
          <>
            <button type="button" onClick={() => setAction('restart')}>
              Restart
            </button>
            {!live ? (
              <button type="button" class="danger" onClick={() => setAction('purge')}>
                Purge
              </button>
            ) : null}
          </>
        ) : null}
      </div>
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorBox error={error} />
      <dl class="facts">
        <dt>Name</dt>
        <dd>{data.name}</dd>
        <dt>Generation</dt>
        <dd>{data.generation}</dd>
        <dt>Created</dt>
        <dd>
          <Time at={data.createdAt} />
        </dd>
        <dt>Updated</dt>
        <dd>
          <Time at={data.lastUpdatedAt} />
        </dd>
        {data.parent ? (
          <>
            <dt>Parent</dt>
            <dd>
              <a href={href('instances', data.parent.instanceId)}>{data.parent.instanceId}</a>
              {data.parent.name ? ` (${data.parent.name})` : ''}
            </dd>
          </>
        ) : null}
        {children.length > 0 ? (
          <>
            <dt>Children</dt>
            <dd>
              <ul class="plain">
                {children.map((c) => (
                  <li key={c.instanceId}>
                    <a href={href('instances', c.instanceId)}>{c.instanceId}</a> ({c.name})
                  </li>
                ))}
              </ul>
            </dd>
          </>
        ) : null}
        {data.waitingFor && data.waitingFor.length > 0 && live ? (
          <>
            <dt>Waiting for</dt>
            <dd>
              <ul class="plain">
                {data.waitingFor.map((w) => (
                  <li key={w}>{w}</li>
                ))}
              </ul>
            </dd>
          </>
        ) : null}
        {data.customStatus !== undefined ? (
          <>
            <dt>Custom status</dt>
            <dd>
              <Json value={data.customStatus} label="Custom status" />
            </dd>
          </>
        ) : null}
      </dl>
      <div class="io">
        <div>
          <h2>Input</h2>
          <Json value={data.input} label="Input" />
        </div>
        <div>
          <h2>Output</h2>
          <Json value={data.output} label="Output" />
        </div>
      </div>
      {data.error ? (
        <div>
          <h2>Error</h2>
          <p class="error">
            {data.error.name}: {data.error.message}
          </p>
          {data.error.stack ? (
            <pre class="json" tabIndex={0} aria-label="Stack trace">
              {data.error.stack}
            </pre>
          ) : null}
        </div>
      ) : null}
      <h2>History</h2>
      <div class="tabs" role="group" aria-label="History view">
        {(['timeline', 'events', 'json'] as const).map((t) => (
          <button key={t} type="button" aria-pressed={tab === t} onClick={() => setTab(t)}>
            {t === 'timeline' ? 'Timeline' : t === 'events' ? 'Events' : 'Raw JSON'}
          </button>
        ))}
      </div>
      <ErrorBox error={history.error} />
      {tab === 'timeline' ? <Gantt events={events} /> : null}
      {tab === 'events' ? <EventTable events={events} /> : null}
      {tab === 'json' ? <Json value={events} label="History as JSON" /> : null}

      {action === 'raise' ? <RaiseDialog path={path} declared={declared} onClose={() => setAction(undefined)} /> : null}
      {action === 'terminate' ? <TerminateDialog path={path} onClose={() => setAction(undefined)} /> : null}
      {action === 'restart' ? (
        <RestartDialog
          path={path}
          terminal={!live}
          onClose={() => setAction(undefined)}
          onRestarted={(newId) => {
            if (newId !== id) location.hash = href('instances', newId).slice(1);
            else setNotice('Restarted.');
          }}
        />
      ) : null}
      {action === 'purge' ? (
        <ActionDialog
          title={`Purge ${id}?`}
          submitLabel="Purge"
          danger
          onClose={() => setAction(undefined)}
          submit={async () => {
            await send('DELETE', path);
            location.hash = href('instances').slice(1);
          }}
        >
          <p>Its status and history are deleted for good.</p>
        </ActionDialog>
      ) : null}
    </section>
  );
}

function RaiseDialog(props: { path: string; declared: readonly string[]; onClose: () => void }) {
  const [name, setName] = useState(props.declared[0] ?? '');
  const [input, setInput] = useState('');
  const parsed = parseJson(input, true);
  return (
    <ActionDialog
      title="Raise an event"
      submitLabel="Raise"
      onClose={props.onClose}
      disabled={!parsed.ok || name.trim() === ''}
      submit={() =>
        send(
          'POST',
          `${props.path}/events/${encodeURIComponent(name.trim())}`,
          parsed.ok ? (parsed.value ?? null) : null,
        )
      }
    >
      <TextField label="Event name" value={name} onInput={setName} list="declared-events" required />
      <datalist id="declared-events">
        {props.declared.map((e) => (
          <option key={e} value={e} />
        ))}
      </datalist>
      <JsonEditor label="Payload (JSON)" value={input} onInput={setInput} hint="Valid JSON (empty sends null)." />
    </ActionDialog>
  );
}

function TerminateDialog(props: { path: string; onClose: () => void }) {
  const [reason, setReason] = useState('');
  return (
    <ActionDialog
      title="Terminate"
      submitLabel="Terminate"
      danger
      onClose={props.onClose}
      submit={() => send('POST', `${props.path}/terminate`, reason.trim() ? { reason: reason.trim() } : {})}
    >
      <TextField label="Reason (optional)" value={reason} onInput={setReason} />
    </ActionDialog>
  );
}

function RestartDialog(props: {
  path: string;
  terminal: boolean;
  onClose: () => void;
  onRestarted: (id: string) => void;
}) {
  const [newId, setNewId] = useState(!props.terminal);
  return (
    <ActionDialog
      title="Restart"
      submitLabel="Restart"
      onClose={props.onClose}
      submit={async () => {
        const result = await send<{ instanceId: string }>(
          'POST',
          `${props.path}/restart`,
          newId ? { newInstanceId: true } : {},
        );
        props.onRestarted(result.instanceId);
      }}
    >
      <p>Starts the orchestration again with its original input.</p>
      <div class="field check">
        <input
          id="restart-new-id"
          type="checkbox"
          checked={newId}
          disabled={!props.terminal}
          onChange={(e) => setNewId((e.target as HTMLInputElement).checked)}
        />
        <label for="restart-new-id">With a new instance id{props.terminal ? '' : ' (required while it runs)'}</label>
      </div>
    </ActionDialog>
  );
}

/** The history as a Gantt chart: one bar per step, from scheduled to completed (or to now while open). */
export function Gantt({ events }: { events: readonly ApiEvent[] }) {
  const now = Date.now();
  const t = buildTimeline(events, now);
  if (events.length === 0) return <p class="muted">No history yet.</p>;
  const total = Math.max(t.end - t.start, 1);
  const pct = (at: number): number => ((at - t.start) / total) * 100;
  return (
    <div class="gantt" role="table" aria-label="History timeline">
      <div class="gantt-row gantt-head" role="row">
        <span role="columnheader">Step</span>
        <span role="columnheader">
          0 → {formatDuration(total)}
          {t.running ? ' (running)' : ''}
        </span>
        <span role="columnheader">Took</span>
      </div>
      {t.spans.map((span, i) => {
        const end = span.end ?? now;
        const left = pct(span.start);
        const width = span.outcome === 'point' ? 0 : Math.max(pct(end) - left, 0.5);
        const took =
          span.outcome === 'point' ? '' : formatDuration(end - span.start) + (span.end === undefined ? ' so far' : '');
        return (
          <div class={`gantt-row kind-${span.kind}`} role="row" key={i} data-outcome={span.outcome}>
            <span role="cell" class="gantt-label">
              {span.instanceId ? <a href={href('instances', span.instanceId)}>{span.label}</a> : span.label}
            </span>
            <span role="cell" class="gantt-track">
              <span
                class={`bar outcome-${span.outcome}`}
                style={{ left: `${Math.min(left, 99.5)}%`, width: span.outcome === 'point' ? undefined : `${width}%` }}
                title={`${span.label}: ${took || 'at +' + formatDuration(span.start - t.start)}`}
              />
            </span>
            <span role="cell" class="gantt-took">
              {took}
              {span.outcome === 'failed' ? ' (failed)' : ''}
            </span>
          </div>
        );
      })}
    </div>
  );
}

function EventTable({ events }: { events: readonly ApiEvent[] }) {
  const start = events[0]?.at ?? 0;
  return (
    <div class="table-box" tabIndex={0} role="region" aria-label="History events">
      <table>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">+Time</th>
            <th scope="col">Event</th>
            <th scope="col">Seq</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e, i) => {
            const { type, at, ...rest } = e as { type: string; at: number; seq?: number; [key: string]: unknown };
            const { seq, ...detail } = rest;
            return (
              <tr key={i}>
                <td>{i}</td>
                <td title={new Date(at).toISOString()}>+{formatDuration(at - start)}</td>
                <td>{type}</td>
                <td>{seq ?? ''}</td>
                <td class="mono">{short(detail, 120)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
