import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
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

/** What the semantic checks are told besides the value. */
export interface SemanticContext {
  /**
   * The file as written (defaults not filled in). When the schema refused parts of the file,
   * the value checked is what it accepted — each refused setting left out (its default in its
   * place, when it has one), and so each object that then misses a required setting, a list
   * entry included — and a check that looks something up (an id a characteristic names) looks
   * here too, so an entry left out is not reported as missing as well.
   */
  whole: unknown
  /** True when the schema refused parts of the file (the value is what it accepted). */
  partial: boolean
}

export interface YamlSchemaValidator<T> {
  /**
   * Parses and validates; throws FileIssuesError listing every problem. `refuseEmpty`: a file
   * with nothing in it (no text, only comments, a null document) is refused with this message,
   * found in the same parse (a second parse of a large file costs as much as the first).
   */
  parse(text: string, file: string, options?: { refuseEmpty?: string }): T
}

export function createYamlValidator<T>(options: {
  schema: unknown
  code: ErrorCode
  /**
   * Checks a schema cannot express (unique ids, references, ordering). They run even when the
   * schema refuses the file, on the part it accepts, so one run reports both kinds of problem.
   */
  semantic?: (value: T, context: SemanticContext) => SemanticIssue[]
}): YamlSchemaValidator<T> {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true })
  const validate = ajv.compile(normaliseSchema(options.schema) as object)

  return {
    parse(text, file, parseOptions = {}) {
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
      const written = doc.contents === null ? null : (doc.toJS() as unknown)
      if (written == null && parseOptions.refuseEmpty !== undefined)
        throw new FileIssuesError(options.code, file, [
          { file, line: 1, column: 1, path: '', message: parseOptions.refuseEmpty },
        ])
      const value = written ?? {}
      // The file as written, before the validator fills in defaults: a copy of plain data (the
      // core schema makes no dates, maps or big integers), cheaper than converting the document
      // again.
      const whole = structuredClone(value)
      const locate = (path: (string | number)[], key?: string): { line: number; col: number } => {
        const node = nearestNode(doc.contents as Node | null, path, key)
        return at(node?.range?.[0] ?? 0)
      }
      const semanticIssue = (s: SemanticIssue): FileIssue => {
        const pos = locate(s.path)
        return { file, line: pos.line, column: pos.col, path: dotted(s.path), message: s.message }
      }
      if (!validate(value)) {
        const errors = validate.errors ?? []
        const issues = errors.map((e) => schemaIssue(e, file, locate))
        // The semantic checks too, on the part of the file the schema accepts.
        const accepted = options.semantic ? acceptedPart(value, errors, validate) : null
        if (accepted && options.semantic) {
          let found: SemanticIssue[] = []
          try {
            found = options.semantic(accepted.value as T, { whole, partial: true })
          } catch {
            // A check that cannot run on a part of the file: the schema's problems come first.
          }
          for (const s of found) {
            const path = accepted.filePath(s.path)
            // Near something left out, a check may only be seeing the gap (a limit refused
            // by the schema, a section without its refused setting): not reported.
            if (!accepted.leftOut.some((gone) => related(gone, path)))
              issues.push(semanticIssue({ path, message: s.message }))
          }
        }
        throw new FileIssuesError(options.code, file, dedupe(issues))
      }
      const semantic = options.semantic?.(value as T, { whole, partial: false }) ?? []
      if (semantic.length > 0) {
        throw new FileIssuesError(options.code, file, semantic.map(semanticIssue))
      }
      return value as T
    },
  }
}

type Path = (string | number)[]

/**
 * What the schema accepts of a refused value: every refused setting taken out (a wrong type, an
 * unknown key; an object that misses a required setting, a list entry included) and the value
 * validated again — which fills in the defaults of what was taken out — until it passes. List
 * entries are spliced out, so `filePath` maps a path in the accepted value back to the file's.
 * Null when nothing is left to check (the file itself is refused, or it does not converge).
 */
function acceptedPart(
  value: unknown,
  firstErrors: ErrorObject[],
  validate: ValidateFunction,
): { value: unknown; leftOut: Path[]; filePath: (path: Path) => Path } | null {
  // For each list that lost entries: the file's index of each entry left.
  const origin = new WeakMap<unknown[], number[]>()
  const filePath = (path: Path): Path => {
    let node: unknown = value
    return path.map((segment) => {
      let out = segment
      if (Array.isArray(node) && typeof segment === 'number')
        out = origin.get(node)?.[segment] ?? segment
      node =
        node !== null && typeof node === 'object'
          ? (node as Record<string | number, unknown>)[segment]
          : undefined
      return out
    })
  }
  const leftOut: Path[] = []
  let errors = firstErrors
  for (let round = 0; round < 50; round++) {
    const targets: {
      parent: Record<string | number, unknown> | unknown[]
      key: string | number
    }[] = []
    for (const e of errors) {
      const path = pointerToPath(e.instancePath)
      if (e.keyword === 'additionalProperties')
        path.push(String((e.params as { additionalProperty: string }).additionalProperty))
      const key = path.pop()
      if (key === undefined) return null // the file as a whole is refused
      let parent: unknown = value
      for (const segment of path)
        parent =
          parent !== null && typeof parent === 'object'
            ? (parent as Record<string | number, unknown>)[segment]
            : undefined
      if (parent === null || typeof parent !== 'object') continue
      if (!targets.some((t) => t.parent === parent && t.key === key)) {
        targets.push({ parent: parent as Record<string | number, unknown>, key })
        leftOut.push(filePath([...path, key]))
      }
    }
    if (targets.length === 0) return null
    // List entries from the last, so the indices of the others still hold.
    targets.sort(
      (a, b) => (typeof b.key === 'number' ? b.key : 0) - (typeof a.key === 'number' ? a.key : 0),
    )
    for (const { parent, key } of targets) {
      if (Array.isArray(parent) && typeof key === 'number') {
        if (key >= parent.length) continue
        const indices = origin.get(parent) ?? parent.map((_, i) => i)
        indices.splice(key, 1)
        origin.set(parent, indices)
        parent.splice(key, 1)
      } else delete (parent as Record<string | number, unknown>)[key]
    }
    if (validate(value)) return { value, leftOut, filePath }
    errors = validate.errors ?? []
  }
  return null
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

/** Whether one path leads to the other (or they are the same). */
function related(a: Path, b: Path): boolean {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (String(a[i]) !== String(b[i])) return false
  return true
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
