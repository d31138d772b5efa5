/** Small shared pieces: JSON views and editor, dialogs, status badges, times, errors. */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import type { CursorPaging } from './hooks.js';

export function Json({ value, label }: { value: unknown; label?: string }) {
  if (value === undefined) return <span class="muted">none</span>;
  return (
    <pre class="json" tabIndex={0} aria-label={label}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** One-line JSON, cut to `max` characters. */
export function short(value: unknown, max = 60): string {
  if (value === undefined) return '';
  const text = JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function Time({ at }: { at: string | number | undefined }) {
  if (at === undefined) return <span class="muted">—</span>;
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return <span>{String(at)}</span>;
  return (
    <time dateTime={date.toISOString()} title={date.toISOString()}>
      {date.toLocaleString()}
    </time>
  );
}

export function StatusBadge({ status, stuck }: { status: string; stuck?: boolean }) {
  return (
    <span class={`badge status-${status}`}>
      {status}
      {stuck ? <span class="badge status-stuck">stuck</span> : null}
    </span>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const problem = error instanceof ApiError ? error.problem : undefined;
  const message = error instanceof Error ? error.message : JSON.stringify(error);
  return (
    <p class="error" role="alert">
      {problem?.code ? <strong>{problem.code}: </strong> : null}
      {message}
    </p>
  );
}

/** The parsed value of a JSON text, or why it is not JSON. Empty text is `undefined` when `optional`. */
export function parseJson(text: string, optional: boolean): { ok: true; value: unknown } | { ok: false; why: string } {
  if (text.trim() === '') return optional ? { ok: true, value: undefined } : { ok: false, why: 'Enter a JSON value.' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, why: (error as Error).message };
  }
}

/** A textarea that checks its JSON as you type; the form refuses to send while it is invalid. */
export function JsonEditor(props: {
  label: string;
  value: string;
  onInput: (text: string) => void;
  optional?: boolean;
  hint?: string;
}) {
  const id = useId();
  const result = parseJson(props.value, props.optional ?? true);
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <textarea
        id={id}
        class="code"
        rows={5}
        spellcheck={false}
        value={props.value}
        aria-invalid={!result.ok}
        aria-describedby={`${id}-check`}
        onInput={(e) => props.onInput((e.target as HTMLTextAreaElement).value)}
      />
      <p id={`${id}-check`} class={result.ok ? 'hint' : 'hint invalid'} aria-live="polite">
        {result.ok ? (props.hint ?? 'Valid JSON.') : `Invalid JSON: ${result.why}`}
      </p>
    </div>
  );
}

/** A modal dialog (native `<dialog>`: focus stays inside; Escape closes it). */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={props.onClose}>
      <div class="dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" class="link" onClick={() => props.onClose()} aria-label="Close">
          ×
        </button>
      </div>
      {props.children}
    </dialog>
  );
}

/** A form in a dialog: runs `submit`, shows its error, closes on success. */
export function ActionDialog(props: {
  title: string;
  submitLabel: string;
  onClose: () => void;
  submit: () => Promise<unknown>;
  disabled?: boolean;
  danger?: boolean;
  children?: ComponentChildren;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (props.disabled || busy) return;
          setBusy(true);
          setError(undefined);
          props.submit().then(
            () => props.onClose(),
            (err: unknown) => {
              setBusy(false);
              setError(err);
            },
          );
        }}
      >
        {props.children}
        <ErrorBox error={error} />
        <div class="actions">
          <button type="submit" class={props.danger ? 'danger' : 'primary'} disabled={props.disabled || busy}>
            {props.submitLabel}
          </button>
          <button type="button" onClick={() => props.onClose()}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function TextField(props: {
  label: string;
  value: string;
  onInput: (text: string) => void;
  type?: string;
  placeholder?: string;
  list?: string;
  required?: boolean;
  autoComplete?: string;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        type={props.type ?? 'text'}
        value={props.value}
        placeholder={props.placeholder}
        list={props.list}
        required={props.required}
        autoComplete={props.autoComplete ?? 'off'}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
    </div>
  );
}

export function SelectField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: ReadonlyArray<{ value: string; label: string }>;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Previous and Next under a paged table; Next is there while the page shown has a `nextCursor`. */
export function Pager({ paging, nextCursor }: { paging: CursorPaging; nextCursor: string | undefined }) {
  return (
    <div class="pager">
      <button type="button" disabled={paging.atFirst} onClick={paging.previous}>
        Previous
      </button>
      <button type="button" disabled={!nextCursor} onClick={() => nextCursor && paging.next(nextCursor)}>
        Next
      </button>
    </div>
  );
}
