import Type from 'typebox'

/**
 * The Sparkplug B parts of the configuration (issue 10): a characteristic's Sparkplug source, and
 * the primary host application's settings. schema.ts assembles them.
 */

/** `characteristics[].source.sparkplug`. */
export const SparkplugSource = Type.Object(
  {
    group: Type.String({ minLength: 1 }),
    node: Type.String({ minLength: 1 }),
    device: Type.Optional(Type.String({ minLength: 1 })),
    metric: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
)

/** The top-level `sparkplug` section (filled in by the Sparkplug work). */
export const SparkplugConfig = Type.Object(
  {},
  {
    additionalProperties: false,
    default: {},
    description: 'Sparkplug B primary host (docs/sparkplug.md).',
  },
)
