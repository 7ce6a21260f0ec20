import type { SecurityModeName, SecurityPolicyName } from '../config/opcua-security-schema.ts'
import type { BrowsedVariable, BrowseOutcome } from '../sources/opcua-browse.ts'

/**
 * What `linewatch opcua browse` prints: a server entry and one characteristic per numeric
 * variable, as configuration YAML to paste. Pure: the walk is in sources/opcua-browse.ts.
 *
 * An EURange is printed as a comment, never as limits: it is the range the instrument measures
 * in normal operation, not what the product must meet (a specification) nor what the process
 * does (control limits). Turning it into limits would make up a specification.
 */

export interface BrowsedServer {
  id: string
  endpoint: string
  securityPolicy: SecurityPolicyName
  securityMode: SecurityModeName
  user?: string | undefined
  passwordEnv?: string | undefined
}

const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~)$/i

/** A YAML scalar: plain where that reads back as the same string, else double-quoted (JSON). */
function scalar(text: string): string {
  return /^[A-Za-z_][A-Za-z0-9 ._/-]*$/.test(text) && !RESERVED.test(text) && !text.endsWith(' ')
    ? text
    : JSON.stringify(text)
}

/** One line of comment text. */
const comment = (text: string) => text.replace(/\s+/g, ' ').trim()

/** A characteristic id (letters, digits, dot, underscore, hyphen; a letter or digit first). */
export function characteristicId(text: string): string {
  const id = text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 120)
  return id || 'variable'
}

const number = (x: number) => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(12))))

function entry(v: BrowsedVariable, id: string, server: BrowsedServer): string[] {
  const lines: string[] = []
  const where = ['Objects', ...v.folders, v.displayName].join('/')
  lines.push(`  # ${comment(`${where}: ${v.dataType}, ${v.typeDefinition || 'variable'}`)}`)
  if (v.euRange) {
    const unit = v.unit ? ` ${v.unit}` : ''
    lines.push(
      `  # ${comment(`EURange ${number(v.euRange.low)} … ${number(v.euRange.high)}${unit}: the instrument's range, not a specification (no limits are set from it)`)}`,
    )
  }
  // ISA-95 site/area/line/cell: the server's folders stand in until a person sets it.
  const levels = [server.id, ...v.folders]
    .map((f) => f.replace(/\//g, '-').trim())
    .filter(Boolean)
    .slice(0, 4)
  lines.push(`  - id: ${scalar(id)}`)
  lines.push(`    name: ${scalar((v.displayName || v.browseName || id).slice(0, 200))}`)
  lines.push(`    path: ${scalar(levels.join('/'))} # site/area/line/cell: where it is measured`)
  if (v.unit) lines.push(`    unit: ${scalar(v.unit.slice(0, 40))}`)
  lines.push(
    `    source: { opcua: { server: ${scalar(server.id)}, nodeId: ${JSON.stringify(v.nodeId)} } }`,
  )
  return lines
}

/** The YAML, with a header saying what it is and what is left to a person. */
export function browseYaml(server: BrowsedServer, outcome: BrowseOutcome, at: Date): string {
  const out: string[] = [
    `# linewatch opcua browse ${server.endpoint} (${at.toISOString()}): ${outcome.variables.length} numeric variables`,
    '# Paste the server into opcua.servers and the entries into characteristics. Set each path',
    '# to where it is measured, and add limits from the specification yourself.',
  ]
  if (outcome.truncated)
    out.push('# The walk stopped at its node limit: not every variable is listed.')
  out.push('opcua:', '  servers:', `    - id: ${scalar(server.id)}`)
  out.push(`      endpoint: ${JSON.stringify(server.endpoint)}`)
  out.push(`      securityPolicy: ${server.securityPolicy}`)
  out.push(`      securityMode: ${server.securityMode}`)
  if (server.user !== undefined) out.push(`      user: ${scalar(server.user)}`)
  if (server.passwordEnv !== undefined) out.push(`      passwordEnv: ${scalar(server.passwordEnv)}`)
  if (outcome.variables.length === 0) {
    out.push('characteristics: [] # the server has no numeric scalar variable outside namespace 0')
  } else {
    out.push('characteristics:')
    const used = new Set<string>()
    for (const v of outcome.variables) {
      const base = characteristicId(v.identifier || v.browseName)
      let id = base
      for (let n = 2; used.has(id); n++) id = `${base}-${n}`
      used.add(id)
      out.push(...entry(v, id, server))
    }
  }
  if (outcome.skipped.length > 0) {
    out.push(`# Not listed (${outcome.skipped.length}): a characteristic takes one number.`)
    for (const s of outcome.skipped.slice(0, 50)) {
      out.push(`#   ${comment(`${s.displayName} (${s.nodeId}): ${s.why}`)}`)
    }
    if (outcome.skipped.length > 50) out.push(`#   … and ${outcome.skipped.length - 50} more`)
  }
  return `${out.join('\n')}\n`
}
