import { ConfigSchema } from './schema.ts'
import { normaliseSchema } from './yaml-schema.ts'

/**
 * The configuration reference in Markdown, generated from the schema (docs/configuration.md;
 * `npm run schema` writes it, a test keeps it equal), so the documentation cannot drift from
 * what the gateway accepts.
 */
type Node = {
  type?: string
  description?: string
  default?: unknown
  enum?: unknown[]
  const?: unknown
  properties?: Record<string, Node>
  required?: string[]
  items?: Node
  pattern?: string
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  minItems?: number
  anyOf?: Node[]
}

function typeOf(node: Node): string {
  if (node.enum) return node.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ')
  if (node.anyOf) return node.anyOf.map(typeOf).join(' \\| ')
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'values'}`
  return node.type ?? 'value'
}

function constraints(node: Node): string {
  const parts: string[] = []
  if (node.minimum !== undefined) parts.push(`≥ ${node.minimum}`)
  if (node.exclusiveMinimum !== undefined) parts.push(`> ${node.exclusiveMinimum}`)
  if (node.maximum !== undefined) parts.push(`≤ ${node.maximum}`)
  if (node.pattern) parts.push(`matches \`${node.pattern}\``)
  return parts.join(', ')
}

function rows(node: Node, path: string, out: string[]): void {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    if (name === '$schema') continue
    const key = path ? `${path}.${name}` : name
    const required = node.required?.includes(name)
      ? 'required'
      : child.default !== undefined
        ? `\`${JSON.stringify(child.default)}\``
        : ''
    const notes = [child.description, constraints(child)].filter(Boolean).join(' ')
    out.push(`| \`${key}\` | ${typeOf(child)} | ${required} | ${notes.replace(/\|/g, '\\|')} |`)
    if (child.properties) rows(child, key, out)
    if (child.type === 'array' && child.items?.properties) rows(child.items, `${key}[]`, out)
  }
}

export function configurationReference(): string {
  const schema = normaliseSchema(ConfigSchema) as Node
  const out = [
    '# Configuration reference',
    '',
    '<!-- Generated from gateway/config/schema.ts by `npm run schema`; do not edit by hand. -->',
    '',
    'One YAML file, validated against [`schema/linewatch.schema.json`](../schema/linewatch.schema.json) at start',
    '(`linewatch config check FILE` checks it alone). Every problem is reported with its file, line and',
    'reason. A setting with a default may be left out; an empty file is a valid configuration.',
    '',
    '| setting | type | default | meaning |',
    '|---|---|---|---|',
  ]
  rows(schema, '', out)
  return `${out.join('\n')}\n`
}
