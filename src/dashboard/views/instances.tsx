/** The instance list: counts by status (clickable), filters, cursor paging, live updates, and Start. */
import { useEffect, useState } from 'preact/hooks';
import { query, send } from '../api.js';
import { href, hrefWith, useApi, useAppDescription, useCursorPaging, useDebounced, useSession } from '../hooks.js';
import type { Route } from '../hooks.js';
import type { Counts, Instance, Page } from '../types.js';
import { STATUSES } from '../types.js';
import {
  ActionDialog,
  ErrorBox,
  JsonEditor,
  Pager,
  parseJson,
  SelectField,
  StatusBadge,
  TextField,
  Time,
} from '../ui.js';

const PAGE_SIZE = 25;

interface Filters {
  status: string;
  stuck: string;
  name: string;
  from: string;
  to: string;
  q: string;
}

function filtersOf(params: URLSearchParams): Filters {
  return {
    status: params.get('status') ?? '',
    stuck: params.get('stuck') ?? '',
    name: params.get('name') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
    q: params.get('q') ?? '',
  };
}

/** `datetime-local` values are local times; the API wants ISO instants. */
function iso(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function go(filters: Filters): void {
  location.hash = hrefWith(['instances'], { ...filters }).slice(1);
}

export function InstancesView({ route }: { route: Route }) {
  const session = useSession();
  const app = useAppDescription();
  const filters = filtersOf(route.params);
  const [search, setSearch] = useState(filters.q);
  const q = useDebounced(search.trim());
  useEffect(() => {
    if (q !== filters.q) go({ ...filters, q });
  }, [q]);
  // New filters start again at the first page.
  const key = JSON.stringify(filters);
  const paging = useCursorPaging(key);
  const cursor = paging.cursor;
  const common = { name: filters.name, createdFrom: iso(filters.from), createdTo: iso(filters.to), q: filters.q };
  const list = useApi<Page<Instance>>(
    `/api/instances${query({ ...common, status: filters.status, stuck: filters.stuck ? 'true' : undefined, limit: PAGE_SIZE, cursor })}`,
  );
  const counts = useApi<Counts>(`/api/instances/counts${query(common)}`);
  const [starting, setStarting] = useState(false);
  const [started, setStarted] = useState<string | undefined>(undefined);

  const names = app?.orchestrations.map((o) => o.name) ?? [];
  const set = (patch: Partial<Filters>): void => go({ ...filters, ...patch });

  return (
    <section aria-labelledby="instances-title">
      <div class="title-row">
        <h1 id="instances-title">Instances</h1>
        {session.can('write') ? (
          <button type="button" class="primary" onClick={() => setStarting(true)}>
            Start an orchestration
          </button>
        ) : null}
      </div>
      {started ? (
        <p class="notice" role="status">
          Started <a href={href('instances', started)}>{started}</a>.
        </p>
      ) : null}
      {counts.data ? (
        <nav class="counts" aria-label="Counts by status">
          <a
            href={hrefWith(['instances'], { ...filters, status: '', stuck: '' })}
            aria-current={!filters.status && !filters.stuck ? 'true' : undefined}
          >
            All <span class="count">{counts.data.total}</span>
          </a>
          {STATUSES.map((status) => (
            <a
              key={status}
              href={hrefWith(['instances'], { ...filters, status, stuck: '' })}
              class={`status-${status}`}
              aria-current={filters.status === status ? 'true' : undefined}
            >
              {status} <span class="count">{counts.data!.counts[status] ?? 0}</span>
            </a>
          ))}
          <a
            href={hrefWith(['instances'], { ...filters, status: '', stuck: 'true' })}
            class="status-stuck"
            aria-current={filters.stuck ? 'true' : undefined}
          >
            Stuck <span class="count">{counts.data.stuck}</span>
          </a>
        </nav>
      ) : null}
      <form class="filters" role="search" aria-label="Filter instances" onSubmit={(e) => e.preventDefault()}>
        <SelectField
          label="Status"
          value={filters.status}
          onChange={(status) => set({ status, stuck: '' })}
          options={[{ value: '', label: 'Any status' }, ...STATUSES.map((s) => ({ value: s, label: s }))]}
        />
        {names.length > 0 ? (
          <SelectField
            label="Name"
            value={filters.name}
            onChange={(name) => set({ name })}
            options={[{ value: '', label: 'Any name' }, ...names.map((n) => ({ value: n, label: n }))]}
          />
        ) : (
          <TextField label="Name" value={filters.name} onInput={(name) => set({ name })} />
        )}
        <TextField label="Created from" type="datetime-local" value={filters.from} onInput={(from) => set({ from })} />
        <TextField label="Created to" type="datetime-local" value={filters.to} onInput={(to) => set({ to })} />
        <TextField label="Id starts with" type="search" value={search} onInput={setSearch} />
      </form>
      <ErrorBox error={list.error} />
      <div class="table-box" tabIndex={0} role="region" aria-label="Instances table" aria-busy={list.loading}>
        <table>
          <thead>
            <tr>
              <th scope="col">Instance</th>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((item) => (
              <tr key={item.instanceId} data-instance={item.instanceId}>
                <td>
                  <a href={href('instances', item.instanceId)}>{item.instanceId}</a>
                </td>
                <td>{item.name}</td>
                <td>
                  <StatusBadge status={item.status} stuck={item.stuck !== undefined} />
                </td>
                <td>
                  <Time at={item.createdAt} />
                </td>
                <td>
                  <Time at={item.lastUpdatedAt} />
                </td>
              </tr>
            ))}
            {list.data && list.data.items.length === 0 ? (
              <tr>
                <td colSpan={5} class="muted">
                  No instances
                  {key === JSON.stringify(filtersOf(new URLSearchParams())) ? ' yet' : ' match these filters'}.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <Pager paging={paging} nextCursor={list.data?.nextCursor} />
      {starting ? (
        <StartDialog names={names} onClose={() => setStarting(false)} onStarted={(id) => setStarted(id)} />
      ) : null}
    </section>
  );
}

export function StartDialog(props: {
  names: string[];
  onClose: () => void;
  onStarted: (id: string) => void;
  initialName?: string;
}) {
  const [name, setName] = useState(props.initialName ?? props.names[0] ?? '');
  const [input, setInput] = useState('');
  const [id, setId] = useState('');
  const parsed = parseJson(input, true);
  return (
    <ActionDialog
      title="Start an orchestration"
      submitLabel="Start"
      onClose={props.onClose}
      disabled={!parsed.ok || name === ''}
      submit={async () => {
        if (!parsed.ok) return;
        const body: Record<string, unknown> = {};
        if (parsed.value !== undefined) body.input = parsed.value;
        if (id.trim()) body.instanceId = id.trim();
        const result = await send<{ instanceId: string }>(
          'POST',
          `/api/orchestrations/${encodeURIComponent(name)}`,
          body,
        );
        props.onStarted(result.instanceId);
      }}
    >
      {props.names.length > 0 ? (
        <SelectField
          label="Orchestration"
          value={name}
          onChange={setName}
          options={props.names.map((n) => ({ value: n, label: n }))}
        />
      ) : (
        <TextField label="Orchestration" value={name} onInput={setName} required />
      )}
      <JsonEditor label="Input (JSON, optional)" value={input} onInput={setInput} />
      <TextField label="Instance id (optional)" value={id} onInput={setId} placeholder="a random id" />
    </ActionDialog>
  );
}
