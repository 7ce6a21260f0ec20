import { html, nothing } from 'lit'
import type { CommentView, SignatureView } from '../../gateway/contract.ts'
import { apiUrl, download, failureText } from './api.ts'
import { formatDateTime } from './data/format.ts'
import { signatureNote } from './data/quality.ts'

/**
 * Parts the quality pages share: signatures as their manifests print them (printed name, UTC time,
 * meaning, the hash signed) with a note when one no longer holds, comments, and download links.
 */

export function signaturesPart(signatures: readonly SignatureView[]) {
  if (signatures.length === 0)
    return html`<p class="muted" data-part="no-signatures">Not signed.</p>`
  return html`${signatures.map((s) => {
    const note = signatureNote(s)
    return html`<div
      class="signature ${s.holds ? '' : 'broken'}"
      data-part="signature"
      data-user=${s.user}
      data-meaning=${s.meaning}
      data-holds=${String(s.holds)}
    >
      <ul>${s.manifest.map((line) => html`<li data-part="manifest-line">${line}</li>`)}</ul>
      ${note ? html`<p class="overdue" data-part="signature-note">${note}</p>` : nothing}
    </div>`
  })}`
}

export function commentsPart(comments: readonly CommentView[]) {
  if (comments.length === 0) return html`<p class="muted">No comments.</p>`
  return html`<ul class="plain" data-part="comments">
    ${comments.map(
      (c) => html`<li data-part="comment"><span class="sub">${formatDateTime(c.at)} · ${c.by}</span>
        <div class="pre">${c.text}</div></li>`,
    )}
  </ul>`
}

/**
 * A link to an API file: its address in `href` (copyable), fetched with the token in force when
 * clicked (a plain link would not carry the Authorization header). `onProblem` is told a failure.
 */
export function downloadLink(
  path: string,
  name: string,
  label: string,
  part: string,
  onProblem: (text: string) => void,
  query: Record<string, string | number | undefined> = {},
) {
  const href = apiUrl(path, query).href
  return html`<a
    href=${href}
    download=${name}
    data-part=${part}
    @click=${(e: Event) => {
      e.preventDefault()
      download(path, name, query).catch((err: unknown) => onProblem(failureText(err)))
    }}
  >${label}</a>`
}
