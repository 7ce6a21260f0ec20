import { css } from 'lit'

/** Styles shared by the pages: headings, tables, buttons, problems. Tokens come from index.html. */
export const pageStyles = css`
  :host {
    display: block;
    color: var(--lw-text);
    font-family: var(--lw-font);
  }
  a {
    color: var(--lw-link);
  }
  h1 {
    font-size: 1.9em;
    font-weight: 600;
    margin: 0 0 0.2em;
    overflow-wrap: anywhere;
  }
  h2 {
    font-size: 1.25em;
    font-weight: 600;
    margin: 1.2em 0 0.5em;
    color: var(--lw-text-dim);
  }
  .problem {
    margin: 1em 0;
    padding: 0.8em 1em;
    border: 1px solid var(--lw-border);
    border-left: 0.4em solid var(--lw-alert);
    background: var(--lw-surface);
    font-size: 1.1em;
  }
  .muted {
    color: var(--lw-text-dim);
  }
  table {
    border-collapse: collapse;
    width: 100%;
    font-variant-numeric: tabular-nums;
  }
  th,
  td {
    text-align: left;
    padding: 0.45em 0.7em;
    border-bottom: 1px solid var(--lw-border);
    vertical-align: top;
  }
  th {
    color: var(--lw-text-dim);
    font-weight: 600;
    font-size: 0.85em;
    text-transform: uppercase;
    letter-spacing: 0.04em;
  }
  td.num,
  th.num {
    text-align: right;
  }
  button,
  .button {
    font: inherit;
    color: var(--lw-text);
    background: var(--lw-surface-2);
    border: 1px solid var(--lw-border);
    border-radius: 0.3em;
    padding: 0.35em 0.9em;
    cursor: pointer;
    text-decoration: none;
  }
  button[aria-pressed='true'] {
    background: var(--lw-text);
    color: var(--lw-bg);
  }
  button:focus-visible,
  a:focus-visible {
    outline: 3px solid var(--lw-link);
    outline-offset: 2px;
  }
  .chip {
    display: inline-block;
    padding: 0.1em 0.5em;
    border-radius: 0.25em;
    font-weight: 700;
    letter-spacing: 0.03em;
    white-space: nowrap;
    background: var(--lw-surface-2);
    color: var(--lw-text);
  }
  .chip.action {
    background: var(--lw-action);
    color: var(--lw-action-ink);
  }
  .chip.alert {
    background: var(--lw-alert);
    color: var(--lw-alert-ink);
  }
  .chip.spc {
    background: var(--lw-spc);
    color: var(--lw-spc-ink);
  }
  .chip.baseline,
  .chip.no-data {
    background: transparent;
    border: 1px dashed var(--lw-text-faint);
    color: var(--lw-text-dim);
  }
`

/** The legend's line swatches, as the charts draw the lines: dashed limits, a solid centre line. */
export const lineSwatches = css`
  .swatch {
    width: 1.8em;
    height: 0;
    border-top: 2px dashed var(--lw-text);
  }
  .swatch.cl {
    border-top: 2px solid var(--lw-text-dim);
  }
  .swatch.action-high,
  .swatch.action-low {
    border-top: 3px dashed var(--lw-action);
  }
  .swatch.alert-high,
  .swatch.alert-low {
    border-top: 3px dashed var(--lw-alert);
  }
`
