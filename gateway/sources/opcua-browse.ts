import {
  AttributeIds,
  type BrowseDescriptionLike,
  BrowseDirection,
  browseAll,
  type ClientSession,
  DataType,
  type DataValue,
  NodeClass,
  type NodeId,
  NodeIdType,
  ObjectIds,
  ReferenceTypeIds,
} from 'node-opcua'

/**
 * Walks an OPC-UA server's address space from the Objects folder and lists its numeric scalar
 * variables with what makes a characteristic of them: name, unit (EngineeringUnits), range
 * (EURange) and NodeId in namespace-URI form. `linewatch opcua browse` prints them.
 */

export interface BrowsedVariable {
  /** `nsu=<namespace URI>;s=…` (or i=, g=, b=): what `source.opcua.nodeId` takes. */
  nodeId: string
  /** The string or numeric identifier alone, e.g. `Press.Force`. */
  identifier: string
  browseName: string
  displayName: string
  /** Display names of the objects from the Objects folder down to the variable (excluded). */
  folders: string[]
  dataType: string
  /** `AnalogItemType` and the like, when the type is a standard one; else its NodeId. */
  typeDefinition: string
  /** EngineeringUnits' display name, e.g. `mm`. */
  unit?: string | undefined
  /** EURange: the range the instrument measures in normal operation. */
  euRange?: { low: number; high: number } | undefined
}

export interface BrowseOutcome {
  variables: BrowsedVariable[]
  /** Variables passed over, each with why (not numeric, an array). */
  skipped: Array<{ nodeId: string; displayName: string; why: string }>
  /** True when the walk stopped at `maxNodes`. */
  truncated: boolean
}

/** Built-in numeric types (Part 6): SByte…Double, Number, Integer, UInteger, Duration. */
const NUMERIC_TYPES = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 26, 27, 28, 290])
const TYPE_NAMES: Record<number, string> = {
  26: 'Number',
  27: 'Integer',
  28: 'UInteger',
  290: 'Duration',
  63: 'BaseDataVariableType',
  2365: 'DataItemType',
  2368: 'AnalogItemType',
  15318: 'BaseAnalogType',
  17497: 'AnalogUnitType',
  17570: 'AnalogUnitRangeType',
}

const BATCH = 100

/** The NodeId in namespace-URI form, which survives a server renumbering its namespaces. */
export function nsuNodeId(nodeId: NodeId, namespaceArray: readonly string[]): string {
  const uri = namespaceArray[nodeId.namespace] ?? `urn:unknown-namespace:${nodeId.namespace}`
  return `nsu=${uri};${identifierOf(nodeId)}`
}

function identifierOf(nodeId: NodeId): string {
  switch (nodeId.identifierType) {
    case NodeIdType.NUMERIC:
      return `i=${nodeId.value}`
    case NodeIdType.STRING:
      return `s=${nodeId.value}`
    case NodeIdType.GUID:
      return `g=${nodeId.value}`
    default:
      return `b=${Buffer.from(nodeId.value as Buffer).toString('base64')}`
  }
}

const std = (nodeId: NodeId | null | undefined): number | undefined =>
  nodeId && nodeId.namespace === 0 && nodeId.identifierType === NodeIdType.NUMERIC
    ? (nodeId.value as number)
    : undefined

export async function browseVariables(
  session: ClientSession,
  options: { maxNodes?: number } = {},
): Promise<BrowseOutcome> {
  const maxNodes = options.maxNodes ?? 10_000
  const namespaceArray = await session.readNamespaceArray()
  const seen = new Set<string>()
  let queue: Array<{ nodeId: NodeId | string; folders: string[] }> = [
    { nodeId: `i=${ObjectIds.ObjectsFolder}`, folders: [] },
  ]
  const found: Array<Omit<BrowsedVariable, 'dataType' | 'nodeId' | 'identifier'> & { id: NodeId }> =
    []
  let truncated = false

  // Breadth first, along hierarchical references but not to properties (EURange and the like
  // belong to their variable) and not into namespace 0 (the Server object, types).
  while (queue.length > 0) {
    const level = queue
    queue = []
    for (let i = 0; i < level.length; i += BATCH) {
      const part = level.slice(i, i + BATCH)
      const results = await browseAll(
        session,
        part.map(
          (p): BrowseDescriptionLike => ({
            nodeId: p.nodeId,
            referenceTypeId: ReferenceTypeIds.HierarchicalReferences,
            includeSubtypes: true,
            browseDirection: BrowseDirection.Forward,
            nodeClassMask: NodeClass.Object | NodeClass.Variable,
            resultMask: 0x3f,
          }),
        ),
      )
      results.forEach((result, k) => {
        const parent = part[k]
        if (!parent) return
        for (const ref of result.references ?? []) {
          if (std(ref.referenceTypeId) === ReferenceTypeIds.HasProperty) continue
          if (ref.nodeId.namespace === 0) continue
          const key = ref.nodeId.toString()
          if (seen.has(key)) continue
          if (seen.size >= maxNodes) {
            truncated = true
            continue
          }
          seen.add(key)
          const displayName = ref.displayName?.text ?? ref.browseName?.name ?? key
          if (ref.nodeClass === NodeClass.Variable) {
            const type = std(ref.typeDefinition)
            found.push({
              id: ref.nodeId,
              browseName: ref.browseName?.name ?? displayName,
              displayName,
              folders: parent.folders,
              typeDefinition:
                (type !== undefined ? TYPE_NAMES[type] : undefined) ??
                ref.typeDefinition?.toString() ??
                '',
            })
          }
          // A variable may have variables of its own (a structure's fields): walk on.
          queue.push({ nodeId: ref.nodeId, folders: [...parent.folders, displayName] })
        }
      })
    }
  }

  const variables: BrowsedVariable[] = []
  const skipped: BrowseOutcome['skipped'] = []
  for (let i = 0; i < found.length; i += BATCH) {
    const part = found.slice(i, i + BATCH)
    const attributes = await session.read(
      part.flatMap((v) => [
        { nodeId: v.id, attributeId: AttributeIds.DataType },
        { nodeId: v.id, attributeId: AttributeIds.ValueRank },
      ]),
    )
    const numeric: Array<(typeof part)[number] & { dataType: string }> = []
    part.forEach((v, k) => {
      const dataTypeId = attributes[2 * k]?.value.value as NodeId | undefined
      const valueRank = attributes[2 * k + 1]?.value.value as number | undefined
      const typeNumber = std(dataTypeId)
      const dataType =
        typeNumber !== undefined
          ? (TYPE_NAMES[typeNumber] ?? DataType[typeNumber] ?? `i=${typeNumber}`)
          : String(dataTypeId)
      const nodeId = nsuNodeId(v.id, namespaceArray)
      if (typeNumber === undefined || !NUMERIC_TYPES.has(typeNumber)) {
        skipped.push({ nodeId, displayName: v.displayName, why: `a ${dataType}, not a number` })
      } else if (valueRank !== -1) {
        skipped.push({ nodeId, displayName: v.displayName, why: `an array of ${dataType}` })
      } else numeric.push({ ...v, dataType })
    })
    const properties = await propertiesOf(
      session,
      numeric.map((v) => v.id),
    )
    numeric.forEach((v, k) => {
      const p = properties[k] ?? {}
      variables.push({
        nodeId: nsuNodeId(v.id, namespaceArray),
        identifier: identifierOf(v.id).slice(2),
        browseName: v.browseName,
        displayName: v.displayName,
        folders: v.folders,
        dataType: v.dataType,
        typeDefinition: v.typeDefinition,
        unit: p.unit,
        euRange: p.euRange,
      })
    })
  }
  return { variables, skipped, truncated }
}

/** EngineeringUnits and EURange of each variable, where it has them. */
async function propertiesOf(
  session: ClientSession,
  ids: NodeId[],
): Promise<Array<{ unit?: string; euRange?: { low: number; high: number } }>> {
  if (ids.length === 0) return []
  const results = await browseAll(
    session,
    ids.map(
      (nodeId): BrowseDescriptionLike => ({
        nodeId,
        referenceTypeId: ReferenceTypeIds.HasProperty,
        includeSubtypes: true,
        browseDirection: BrowseDirection.Forward,
        nodeClassMask: NodeClass.Variable,
        resultMask: 0x3f,
      }),
    ),
  )
  const wanted: Array<{ index: number; what: 'unit' | 'euRange'; nodeId: NodeId }> = []
  results.forEach((result, index) => {
    for (const ref of result.references ?? []) {
      if (ref.browseName?.name === 'EngineeringUnits')
        wanted.push({ index, what: 'unit', nodeId: ref.nodeId })
      if (ref.browseName?.name === 'EURange')
        wanted.push({ index, what: 'euRange', nodeId: ref.nodeId })
    }
  })
  const out: Array<{ unit?: string; euRange?: { low: number; high: number } }> = ids.map(() => ({}))
  if (wanted.length === 0) return out
  const values: DataValue[] = await session.read(
    wanted.map((w) => ({ nodeId: w.nodeId, attributeId: AttributeIds.Value })),
  )
  wanted.forEach((w, k) => {
    const value = values[k]?.value.value as
      | { displayName?: { text?: string | null }; low?: number; high?: number }
      | null
      | undefined
    const target = out[w.index]
    if (!value || !target) return
    if (w.what === 'unit' && value.displayName?.text) target.unit = value.displayName.text
    if (
      w.what === 'euRange' &&
      Number.isFinite(value.low) &&
      Number.isFinite(value.high) &&
      value.low !== undefined &&
      value.high !== undefined
    ) {
      target.euRange = { low: value.low, high: value.high }
    }
  })
  return out
}
