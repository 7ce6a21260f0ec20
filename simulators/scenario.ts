import { readFile } from 'node:fs/promises'
import Type, { type Static } from 'typebox'
import { createYamlValidator, type SemanticIssue } from '../gateway/config/yaml-schema.ts'
import { LinewatchError } from '../gateway/errors.ts'

/**
 * A scenario says what the simulators publish, how fast, and which deviation happens when.
 * Durations are strings with a unit (`500ms`, `30s`, `5m`, `1h`).
 */

const Duration = Type.String({
  pattern: '^\\d+(\\.\\d+)?(ms|s|m|h)$',
  description: 'e.g. 500ms, 30s, 5m',
})

const Deviation = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('shift'),
      at: Duration,
      for: Duration,
      by: Type.Number({
        description: 'Added to the mean while it lasts, in the unit of the stream.',
      }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('spike'),
      at: Duration,
      to: Type.Number({ description: 'The one reading at `at` takes this value.' }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('trend'),
      at: Duration,
      for: Duration,
      by: Type.Number({ description: 'Offset reached at the end of the ramp; it then ends.' }),
    },
    { additionalProperties: false },
  ),
])

const Stream = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    mqtt: Type.Optional(
      Type.Object(
        {
          topic: Type.String({ minLength: 1 }),
          format: Type.Union(
            [Type.Literal('json'), Type.Literal('array'), Type.Literal('number')],
            {
              default: 'json',
              description:
                'json: {"value","ts"}; array: [{"value","ts"}, …]; number: a bare number.',
            },
          ),
          batch: Type.Integer({
            minimum: 1,
            maximum: 1000,
            default: 5,
            description: 'Readings per message with format array.',
          }),
          size: Type.Optional(
            Type.Integer({
              minimum: 1,
              description:
                'Attributes: each reading is {"count": value, "size": size} (value = defectives or defects in size units).',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    opcua: Type.Optional(
      Type.Object(
        {
          nodeId: Type.String({
            minLength: 1,
            description: 'String identifier in the machine namespace, e.g. Cell1.BoreDiameter',
          }),
          displayName: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    every: Duration,
    mean: Type.Number(),
    sigma: Type.Number({ minimum: 0 }),
    decimals: Type.Integer({ minimum: 0, maximum: 9, default: 3 }),
    min: Type.Optional(
      Type.Number({ description: 'Values are clipped at this floor (e.g. 0 for counts).' }),
    ),
    deviations: Type.Array(Deviation, { default: [] }),
  },
  { additionalProperties: false },
)

export const ScenarioSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    seed: Type.Integer({ default: 1, description: 'Same seed, same noise.' }),
    cycle: Type.Optional(Duration),
    mqtt: Type.Object(
      { url: Type.String({ default: 'mqtt://127.0.0.1:1883' }) },
      { additionalProperties: false, default: {} },
    ),
    opcua: Type.Object(
      {
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 4840 }),
        namespaceUri: Type.String({ default: 'urn:linewatch:sim:machine' }),
      },
      { additionalProperties: false, default: {} },
    ),
    streams: Type.Array(Stream, { minItems: 1 }),
  },
  { additionalProperties: false, title: 'linewatch simulator scenario' },
)

export type Scenario = Static<typeof ScenarioSchema>
export type StreamSpec = Scenario['streams'][number]
export type DeviationSpec = StreamSpec['deviations'][number]

const validator = createYamlValidator<Scenario>({
  schema: ScenarioSchema,
  code: 'LW_ERR_SCENARIO_INVALID',
  semantic: (s) => {
    const issues: SemanticIssue[] = []
    s.streams.forEach((st, i) => {
      if (!st.mqtt === !st.opcua)
        issues.push({ path: ['streams', i], message: 'give exactly one of mqtt or opcua' })
    })
    return issues
  },
})

export function parseScenario(text: string, file = '<scenario>'): Scenario {
  return validator.parse(text, file)
}

export async function loadScenarioFile(file: string): Promise<Scenario> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    throw new LinewatchError(
      'LW_ERR_SCENARIO_INVALID',
      `cannot read ${file}: ${(cause as Error).message}`,
      { cause },
    )
  }
  return parseScenario(text, file)
}

/** `30s` → 30000 (milliseconds). */
export function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text)
  if (!m) throw new Error(`not a duration: ${text}`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']
  return Number(m[1]) * unit
}
