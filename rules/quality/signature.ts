import { utcSeconds } from '../time-text.ts'
import { canonicalJson, sha256Hex } from './canonical.ts'
import { filled } from './roles.ts'
import { SIGNATURE_MEANINGS, type Signature, type SignatureMeaning } from './shapes.ts'

export { SIGNATURE_MEANINGS, type Signature, type SignatureMeaning }

/**
 * Electronic signatures after 21 CFR Part 11:
 *
 * - §11.50: a signed record shows the signer's printed name, the date and time of signing and
 *   its meaning, wherever the record is displayed or printed (`signatureManifest`).
 * - §11.70: a signature is linked to its record so that it cannot be excised, copied or
 *   otherwise transferred to falsify a record: it carries the SHA-256 of the record's canonical
 *   content (`recordHash`), and holds only while the record still hashes to it
 *   (`signatureHolds`): not on another record, not after an edit.
 * - §11.200(a): signing uses the signer's credentials. Re-authentication (the password asked
 *   again at each signing) is the gateway's job: this module only binds a signature once the
 *   gateway has established who signs.
 *
 * What "the record" is belongs to the caller; it should hold the record's identity (so that two
 * records with equal content do not share signatures) and the content the signer attests, not
 * what the signing itself changes (see `signedNcContent`, `signedCapaContent`).
 */

export interface SignatureRequest {
  user: string
  printedName: string
  meaning: SignatureMeaning
  at: number
  /** The record signed: any plain-JSON value (see canonicalJson). */
  record: unknown
}

/** SHA-256 of the record's canonical JSON: equal for equal content, whatever its key order. */
export function recordHash(record: unknown): string {
  return sha256Hex(canonicalJson(record))
}

/** Why a signature cannot be made as it stands (empty when it can), whatever others exist. */
function ownProblems(s: Omit<Signature, 'recordHash'>): string[] {
  const problems: string[] = []
  if (!filled(s.user)) problems.push('a signature needs the signer’s user name')
  if (!filled(s.printedName)) problems.push('a signature needs the signer’s printed name')
  if (!SIGNATURE_MEANINGS.includes(s.meaning)) {
    problems.push(
      `the meaning of a signature must be one of ${SIGNATURE_MEANINGS.join(', ')} (not ${String(s.meaning)})`,
    )
  }
  if (!Number.isFinite(s.at)) problems.push('a signature needs the time of signing')
  return problems
}

/**
 * The signature of `record` by `user` with `meaning` at `at`, bound to the record's hash.
 * Throws a RangeError when a field is missing or invalid (blank names, an unknown meaning, a
 * time that is not a finite number), and canonicalJson's Error when the record has no JSON
 * form.
 */
export function bindSignature(request: SignatureRequest): Signature {
  const problems = ownProblems(request)
  if (problems.length > 0) throw new RangeError(problems.join('; '))
  const { user, printedName, meaning, at, record } = request
  return { user, printedName, meaning, at, recordHash: recordHash(record) }
}

/** Whether the signature is bound to this record as it is now: false for another record or an edited one. */
export function signatureHolds(signature: Signature, record: unknown): boolean {
  try {
    return recordHash(record) === signature.recordHash
  } catch {
    return false // a record with no JSON form is not the one signed
  }
}

/**
 * Why `next` cannot be added to the signatures the record already has (empty when it can): its
 * own problems (see bindSignature), or the same user has already signed this same content with
 * the same meaning. A different meaning by the same user is a separate signature (the issue: a
 * reviewer who also approves signs twice). The same meaning again on changed content (an NC
 * closed, reopened, changed and closed again) is a new signature of a new version, not a
 * repeat.
 */
export function signatureProblems(existing: readonly Signature[], next: Signature): string[] {
  const problems = ownProblems(next)
  const repeat = existing.find(
    (s) => s.user === next.user && s.meaning === next.meaning && s.recordHash === next.recordHash,
  )
  if (repeat !== undefined) {
    problems.push(
      `${next.user} has already signed this record with the meaning ${next.meaning} (${utcWords(repeat.at)})`,
    )
  }
  return problems
}

/** "2026-12-06 14:03:11 UTC": to the second, as the manifest prints it. */
export function utcWords(at: number): string {
  return `${utcSeconds(at)} UTC`
}

/**
 * The lines printed with the signed record (§11.50): who (printed name and user name), when
 * (UTC, to the second), the meaning, then the hash of the content signed, so a printout can be
 * matched to the record:
 *
 *   Signed by Dr. Anna Weber (aweber) on 2026-12-06 14:03:11 UTC — meaning: approved
 *   Signed content SHA-256: 3a7bd3e2…
 */
export function signatureManifest(signature: Signature): string[] {
  const { user, printedName, meaning, at } = signature
  return [
    `Signed by ${printedName} (${user}) on ${utcWords(at)} — meaning: ${meaning}`,
    `Signed content SHA-256: ${signature.recordHash}`,
  ]
}
