import { css } from 'lit'

/** Styles of the quality pages (NC workflow, CAPA, KPIs): facts, action forms, signatures. */
export const qualityStyles = css`
  .facts {
    display: grid;
    grid-template-columns: repeat(auto-fill, minmax(13em, 1fr));
    gap: 0.6em;
    margin: 0.6em 0;
  }
  .fact {
    background: var(--lw-surface);
    border-radius: 0.4em;
    padding: 0.5em 0.8em;
  }
  .fact .k {
    color: var(--lw-text-dim);
    font-size: 0.85em;
    text-transform: uppercase;
    letter-spacing: 0.05em;
  }
  .fact .v {
    font-size: 1.2em;
    font-weight: 600;
    overflow-wrap: anywhere;
  }
  .overdue {
    color: var(--lw-alert);
    font-weight: 700;
  }
  .fact.overdue-fact {
    border-left: 0.35em solid var(--lw-alert);
  }
  .acts {
    display: flex;
    flex-wrap: wrap;
    gap: 0.4em;
    margin: 0.6em 0;
  }
  .note {
    color: var(--lw-text-dim);
    border-left: 0.35em solid var(--lw-border);
    padding: 0.3em 0.8em;
    margin: 0.6em 0;
  }
  .notice {
    padding: 0.5em 0.8em;
    border-left: 0.35em solid var(--lw-link);
    background: var(--lw-surface);
    margin: 0.6em 0;
  }
  form.act {
    display: grid;
    grid-template-columns: repeat(auto-fill, minmax(16em, 1fr));
    gap: 0.6em 1em;
    align-items: end;
    border-left: 0.35em solid var(--lw-link);
    padding: 0.6em 0.9em;
    margin: 0.6em 0;
    background: var(--lw-surface);
  }
  form.act .wide {
    grid-column: 1 / -1;
  }
  form.act h3 {
    grid-column: 1 / -1;
    margin: 0;
    font-size: 1.05em;
  }
  label.field {
    display: flex;
    flex-direction: column;
    gap: 0.25em;
    font-weight: 600;
    font-size: 0.95em;
  }
  input,
  select,
  textarea {
    font: inherit;
    padding: 0.35em 0.5em;
    border-radius: 0.3em;
    border: 1px solid var(--lw-border);
    background: var(--lw-bg);
    color: var(--lw-text);
  }
  textarea {
    min-height: 3.2em;
    resize: vertical;
  }
  input:focus-visible,
  select:focus-visible,
  textarea:focus-visible {
    outline: 3px solid var(--lw-link);
  }
  .buttons {
    display: flex;
    gap: 0.5em;
    align-items: center;
  }
  button[type='submit'] {
    background: var(--lw-text);
    color: var(--lw-bg);
    font-weight: 700;
  }
  button:disabled {
    opacity: 0.6;
    cursor: progress;
  }
  .form-problem {
    grid-column: 1 / -1;
    margin: 0;
    padding: 0.4em 0.7em;
    border-left: 0.35em solid var(--lw-alert);
    background: var(--lw-surface-2);
  }
  .signature {
    border: 1px solid var(--lw-border);
    border-left: 0.35em solid var(--lw-link);
    border-radius: 0.3em;
    padding: 0.5em 0.8em;
    margin: 0.4em 0;
    background: var(--lw-surface);
  }
  .signature.broken {
    border-left-color: var(--lw-alert);
  }
  .signature ul {
    margin: 0;
    padding: 0;
    list-style: none;
  }
  .signature li:first-child {
    font-weight: 600;
  }
  .signature li + li {
    font-family: var(--lw-mono);
    font-size: 0.85em;
    color: var(--lw-text-dim);
    overflow-wrap: anywhere;
  }
  .sub {
    color: var(--lw-text-dim);
    font-size: 0.9em;
  }
  .pre {
    white-space: pre-wrap;
    overflow-wrap: anywhere;
  }
  ol.whys li,
  ul.plain li {
    margin: 0.15em 0;
  }
  .fishbone {
    display: grid;
    grid-template-columns: repeat(auto-fill, minmax(14em, 1fr));
    gap: 0.5em;
  }
  .fishbone section {
    background: var(--lw-surface);
    border-radius: 0.3em;
    padding: 0.4em 0.7em;
  }
  .fishbone h4 {
    margin: 0 0 0.2em;
    font-size: 0.9em;
    color: var(--lw-text-dim);
  }
  .fishbone ul {
    margin: 0;
    padding-left: 1.1em;
  }
  .exports {
    display: flex;
    gap: 0.8em;
    flex-wrap: wrap;
    align-items: center;
  }
  details.audit > summary {
    cursor: pointer;
    font-weight: 600;
    color: var(--lw-text-dim);
    font-size: 1.1em;
    margin: 1em 0 0.4em;
  }
  .changes {
    margin: 0;
    padding-left: 1em;
    font-family: var(--lw-mono);
    font-size: 0.85em;
    overflow-wrap: anywhere;
  }
`
