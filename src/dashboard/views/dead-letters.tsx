/** Dead letters: each with its queue, reason and instance; redrive one or all (admin). */
import { useState } from 'preact/hooks';
import { send } from '../api.js';
import { href, useApi, useSession } from '../hooks.js';
import type { DeadLetter } from '../types.js';
import { ErrorBox, Time } from '../ui.js';

interface Redriven {
  readonly redriven: ReadonlyArray<{ readonly queue: string; readonly messageIds: readonly string[] }>;
}

/** An instance id links to the instance; an entity id (`name@key`) to the entity list. */
function Target({ id }: { id: string | undefined }) {
  if (!id) return <span class="muted">unreadable</span>;
  const at = id.indexOf('@');
  if (at > 0) return <a href={`${href('entities')}?name=${encodeURIComponent(id.slice(0, at))}`}>{id}</a>;
  return <a href={href('instances', id)}>{id}</a>;
}

export function DeadLettersView() {
  const session = useSession();
  const list = useApi<{ items: DeadLetter[] }>('/api/dead-letters');
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const redrive = (body: object): void => {
    setError(undefined);
    send<Redriven>('POST', '/api/dead-letters/redrive', body).then((result) => {
      const n = result.redriven.reduce((sum, r) => sum + r.messageIds.length, 0);
      setNotice(`Redriven ${n} dead letter${n === 1 ? '' : 's'}.`);
    }, setError);
  };
  const items = list.data?.items ?? [];
  return (
    <section aria-labelledby="dead-title">
      <div class="title-row">
        <h1 id="dead-title">Dead letters</h1>
        {session.can('admin') && items.length > 0 ? (
          <button type="button" class="primary" onClick={() => redrive({})}>
            Redrive all
          </button>
        ) : null}
      </div>
      <p class="muted">Messages the workers gave up on. Redriving makes them deliverable again, as fresh messages.</p>
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorBox error={error ?? list.error} />
      <div class="table-box" tabIndex={0} role="region" aria-label="Dead letters table" aria-busy={list.loading}>
        <table>
          <thead>
            <tr>
              <th scope="col">Queue</th>
              <th scope="col">Message</th>
              <th scope="col">Instance</th>
              <th scope="col">Reason</th>
              <th scope="col">When</th>
              {session.can('admin') ? <th scope="col">Action</th> : null}
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr key={`${d.queue}/${d.messageId}`} data-message={d.messageId}>
                <td>{d.queue}</td>
                <td class="mono">
                  {d.messageId}
                  {d.message?.body?.type ? (
                    <span class="muted">
                      {' '}
                      ({d.message.body.type}
                      {d.message.body.name ? ` ${d.message.body.name}` : ''})
                    </span>
                  ) : null}
                </td>
                <td>
                  <Target id={d.instanceId} />
                </td>
                <td>{d.reason}</td>
                <td>
                  <Time at={d.deadLetteredAt} />
                </td>
                {session.can('admin') ? (
                  <td>
                    <button
                      type="button"
                      aria-label={`Redrive ${d.messageId}`}
                      onClick={() => redrive({ queue: d.queue, messageIds: [d.messageId] })}
                    >
                      Redrive
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
            {list.data && items.length === 0 ? (
              <tr>
                <td colSpan={6} class="muted">
                  No dead letters.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
    </section>
  );
}
