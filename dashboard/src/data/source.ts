import type { SourceBinding } from '../../../gateway/contract.ts'

/** Where a characteristic's readings come from, for a person. */
export function sourceText(source: SourceBinding): string {
  switch (source.kind) {
    case 'mqtt':
      return `MQTT ${source.topic}`
    case 'opcua':
      return `OPC-UA ${source.server} ${source.nodeId}`
    case 'sparkplug':
      return `Sparkplug ${[source.group, source.node, source.device].filter((x) => x !== null).join('/')} ${source.metric}`
  }
}
