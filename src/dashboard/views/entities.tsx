/** Entities: filter by name, state, lock holder, queued operations, last failure. */
import { query } from '../api.js';
import { href, hrefWith, useApi, useAppDescription, useCursorPaging } from '../hooks.js';
import type { Route } from '../hooks.js';
import type { Entity, Page } from '../types.js';
import { ErrorBox, Pager, SelectField, short, TextField, Time } from '../ui.js';

export function EntitiesView({ route }: { route: Route }) {
  const app = useAppDescription();
  const name = route.params.get('name') ?? '';
  const paging = useCursorPaging(name);
  const list = useApi<Page<Entity>>(`/api/entities${query({ name, limit: 25, cursor: paging.cursor })}`);
  const setName = (value: string): void => {
    location.hash = hrefWith(['entities'], { name: value }).slice(1);
  };
  const names = app?.entities.map((e) => e.name) ?? [];
  return (
    <section aria-labelledby="entities-title">
      <h1 id="entities-title">Entities</h1>
      <form class="filters" role="search" aria-label="Filter entities" onSubmit={(e) => e.preventDefault()}>
        {names.length > 0 ? (
          <SelectField
            label="Entity name"
            value={name}
            onChange={setName}
            options={[{ value: '', label: 'Any entity' }, ...names.map((n) => ({ value: n, label: n }))]}
          />
        ) : (
          <TextField label="Entity name" value={name} onInput={setName} />
        )}
      </form>
      <ErrorBox error={list.error} />
      <div class="table-box" tabIndex={0} role="region" aria-label="Entities table" aria-busy={list.loading}>
        <table>
          <thead>
            <tr>
              <th scope="col">Entity</th>
              <th scope="col">State</th>
              <th scope="col">Locked by</th>
              <th scope="col">Queued</th>
              <th scope="col">Last failure</th>
              <th scope="col">Modified</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((e) => (
              <tr key={e.entityId} data-entity={e.entityId}>
                <td>{e.entityId}</td>
                <td class="mono">
                  {e.hasState ? (
                    <details>
                      <summary>{short(e.state, 50)}</summary>
                      <pre class="json">{JSON.stringify(e.state, null, 2)}</pre>
                    </details>
                  ) : (
                    <span class="muted">no state</span>
                  )}
                </td>
                <td>
                  {e.lockedBy ? <a href={href('instances', e.lockedBy)}>{e.lockedBy}</a> : <span class="muted">—</span>}
                </td>
                <td>{e.queued}</td>
                <td>
                  {e.lastFailure ? (
                    <span class="error-text">
                      {e.lastFailure.operation}: {e.lastFailure.error.name}: {e.lastFailure.error.message} (
                      <Time at={e.lastFailure.at} />)
                    </span>
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
                <td>
                  <Time at={e.lastModified} />
                </td>
              </tr>
            ))}
            {list.data && list.data.items.length === 0 ? (
              <tr>
                <td colSpan={6} class="muted">
                  No entities.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <Pager paging={paging} nextCursor={list.data?.nextCursor} />
    </section>
  );
}
