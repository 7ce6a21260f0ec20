import { Ajv, type ErrorObject } from 'ajv'
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml'
import { type ErrorCode, type FileIssue, FileIssuesError } from '../errors.ts'

/**
 * Validates a YAML file against a JSON Schema and reports each problem with the file, line and
 * column it stands at. Shared by the configuration and the simulator scenarios.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/**
 * The schema as published and as validated: literal unions become `enum`, and a property with
 * a default is not `required` (the validator fills it in).
 */
export function normaliseSchema(schema: unknown): Json {
  const json = JSON.parse(JSON.stringify(schema)) as Json
  const walk = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(walk)
    if (node === null || typeof node !== 'object') return node
    const out: { [key: string]: Json } = {}
    for (const [k, v] of Object.entries(node)) out[k] = walk(v)
    // A union of string literals (nested ones included, already turned into enums) is one enum.
    const anyOf = out.anyOf
    if (Array.isArray(anyOf) && anyOf.every((s) => isConst(s) || isStringEnum(s))) {
      delete out.anyOf
      out.type = 'string'
      out.enum = anyOf.flatMap((s) => {
        const member = s as { const?: Json; enum?: Json[] }
        return member.enum ?? [member.const as Json]
      })
    }
    const props = out.properties
    if (
      Array.isArray(out.required) &&
      props &&
      typeof props === 'object' &&
      !Array.isArray(props)
    ) {
      const required = out.required.filter((name) => {
        const prop = props[String(name)]
        return !(prop && typeof prop === 'object' && !Array.isArray(prop) && 'default' in prop)
      })
      if (required.length > 0) out.required = required
      else delete out.required
    }
    return out
  }
  return walk(json)
}

function isStringEnum(s: Json): boolean {
  return (
    s !== null &&
    typeof s === 'object' &&
    !Array.isArray(s) &&
    s.type === 'string' &&
    Array.isArray(s.enum)
  )
}

function isConst(s: Json): boolean {
  return s !== null && typeof s === 'object' && !Array.isArray(s) && typeof s.const === 'string'
}

export interface SemanticIssue {
  /** Path of the setting, as keys and indices. */
  path: (string | number)[]
  message: string
}

export interface YamlSchemaValidator<T> {
  /** Parses and validates; throws FileIssuesError listing every problem. */
  parse(text: string, file: string): T
}

export function createYamlValidator<T>(options: {
  schema: unknown
  code: ErrorCode
  /** Checks a schema cannot express (unique ids, references, ordering). */
  semantic?: (value: T) => SemanticIssue[]
}): YamlSchemaValidator<T> {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true })
  const validate = ajv.compile(normaliseSchema(options.schema) as object)

  return {
    parse(text, file) {
      const lineCounter = new LineCounter()
      const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
      const at = (offset: number) => lineCounter.linePos(offset)
      if (doc.errors.length > 0) {
        throw new FileIssuesError(
          options.code,
          file,
          doc.errors.map((e) => {
            const pos = at(e.pos[0])
            return {
              file,
              line: pos.line,
              column: pos.col,
              path: '',
              message: e.message.split('\n')[0] ?? e.message,
            }
          }),
        )
      }
      const value = (doc.toJS() ?? {}) as unknown
      const locate = (path: (string | number)[], key?: string): { line: number; col: number } => {
        const node = nearestNode(doc.contents as Node | null, path, key)
        return at(node?.range?.[0] ?? 0)
      }
      if (!validate(value)) {
        const issues = dedupe((validate.errors ?? []).map((e) => schemaIssue(e, file, locate)))
        throw new FileIssuesError(options.code, file, issues)
      }
      const semantic = options.semantic?.(value as T) ?? []
      if (semantic.length > 0) {
        throw new FileIssuesError(
          options.code,
          file,
          semantic.map((s) => {
            const pos = locate(s.path)
            return {
              file,
              line: pos.line,
              column: pos.col,
              path: dotted(s.path),
              message: s.message,
            }
          }),
        )
      }
      return value as T
    },
  }
}

function schemaIssue(
  e: ErrorObject,
  file: string,
  locate: (path: (string | number)[], key?: string) => { line: number; col: number },
): FileIssue {
  const path = pointerToPath(e.instancePath)
  const params = e.params as Record<string, unknown>
  let message = e.message ?? 'is invalid'
  let key: string | undefined
  switch (e.keyword) {
    case 'additionalProperties':
      key = String(params.additionalProperty)
      message = `unknown setting "${key}"`
      break
    case 'required':
      message = `"${String(params.missingProperty)}" is required`
      break
    case 'enum':
      message = `must be one of: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
      break
    case 'minProperties':
    case 'maxProperties':
      message = `${message}${e.parentSchema?.description ? ` (${e.parentSchema.description})` : ''}`
      break
    case 'pattern':
      message = `does not match ${String(params.pattern)}${e.parentSchema?.description ? ` (${e.parentSchema.description})` : ''}`
      break
  }
  const pos = locate(path, key)
  return {
    file,
    line: pos.line,
    column: pos.col,
    path: dotted(key ? [...path, key] : path),
    message,
  }
}

function dedupe(issues: FileIssue[]): FileIssue[] {
  const seen = new Set<string>()
  return issues.filter((i) => {
    const k = `${i.line}:${i.column}:${i.path}:${i.message}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return []
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s))
}

export function dotted(path: (string | number)[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p),
    '',
  )
}

/** The YAML node at `path` (or the key node of `key` under it), else its nearest ancestor present in the file. */
function nearestNode(root: Node | null, path: (string | number)[], key?: string): Node | null {
  let node: Node | null = root
  for (const segment of path) {
    const child = childOf(node, segment)
    if (!child) return node
    node = child
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key)
    if (pair && isScalar(pair.key)) return pair.key
  }
  return node
}

function childOf(node: Node | null, segment: string | number): Node | null {
  if (isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
    return (pair?.value as Node | null) ?? (pair?.key as Node | null) ?? null
  }
  if (isSeq(node) && typeof segment === 'number')
    return (node.items[segment] as Node | null) ?? null
  return null
}
