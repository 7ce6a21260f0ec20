import type { FastifyInstance } from 'fastify'
import type { SparkplugNodesView } from '../contract.ts'
import { findSparkplugSource } from '../sources/sparkplug/index.ts'
import type { Source } from '../sources/types.ts'
import { need } from './replies.ts'
import { SparkplugNodesSchema } from './responses.ts'

/**
 * `GET /api/sparkplug/nodes`: the edge nodes and devices the Sparkplug host knows, with what
 * their births announced (metrics, aliases, data types, units), whether they are online, and for
 * each numeric metric no characteristic reads an entry to paste into the configuration.
 */
export function registerSparkplugRoutes(app: FastifyInstance, sources: () => Source[]): void {
  app.get(
    '/api/sparkplug/nodes',
    { preHandler: need('viewer'), schema: { response: { 200: SparkplugNodesSchema } } },
    async (): Promise<SparkplugNodesView> =>
      findSparkplugSource(sources())?.nodes() ?? {
        enabled: false,
        hostId: null,
        connected: false,
        nodes: [],
      },
  )
}
