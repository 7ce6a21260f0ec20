import type { FastifyInstance } from 'fastify'
import type { SparkplugNodesView } from '../contract.ts'
import { findSparkplugSources } from '../sources/sparkplug/index.ts'
import type { Source } from '../sources/types.ts'
import { need } from './replies.ts'
import { SparkplugNodesSchema } from './responses.ts'

/**
 * `GET /api/sparkplug/nodes`: the edge nodes and devices the Sparkplug host knows, with what
 * their births announced (metrics, aliases, data types, units), whether they are online, and for
 * each numeric metric no characteristic reads an entry to paste into the configuration. In a
 * cluster: those of the groups this gateway holds (their host ids comma-separated); the other
 * groups' nodes are on the gateways holding them.
 */
export function registerSparkplugRoutes(app: FastifyInstance, sources: () => Source[]): void {
  app.get(
    '/api/sparkplug/nodes',
    { preValidation: need('viewer'), schema: { response: { 200: SparkplugNodesSchema } } },
    async (): Promise<SparkplugNodesView> => {
      const views = findSparkplugSources(sources()).map((s) => s.nodes())
      if (views.length === 1) return views[0] as SparkplugNodesView
      return {
        enabled: views.length > 0,
        hostId: views.length > 0 ? views.map((v) => v.hostId).join(', ') : null,
        connected: views.length > 0 && views.every((v) => v.connected),
        nodes: views.flatMap((v) => v.nodes),
      }
    },
  )
}
