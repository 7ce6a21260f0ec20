import { sha256Hex } from '../../gateway/api/auth.ts'
import { type Config, parseConfig } from '../../gateway/config/index.ts'
import { createGateway, type Gateway } from '../../gateway/index.ts'
import { createLogger, type Logger } from '../../gateway/log.ts'
import { tempDir } from './index.ts'

/** Tokens every test gateway accepts, one per role. */
export const TOKENS = {
  viewer: 'test-viewer-token-0123456789abcdefghijklmnop',
  operator: 'test-operator-token-0123456789abcdefghijklmn',
  /** Configured with the role `engineer` of earlier versions: a quality engineer. */
  engineer: 'test-engineer-token-0123456789abcdefghijklmno',
  manager: 'test-manager-token-0123456789abcdefghijklmnop',
  admin: 'test-admin-token-0123456789abcdefghijklmnopqr',
} as const

/**
 * YAML for a test gateway: loopback, ports 0, the test tokens, anonymous access off, and the
 * given characteristics (and any other settings) appended.
 */
export function testConfigYaml(dataDir: string, rest: string): string {
  return `
dataDir: ${JSON.stringify(dataDir)}
log: { level: ${process.env.LINEWATCH_TEST_LOG ?? 'silent'} }
http: { host: 127.0.0.1, port: 0 }
auth:
  anonymousRole: none
  tokens:
    - { id: viewer, role: viewer, sha256: ${sha256Hex(TOKENS.viewer)} }
    - { id: operator, role: operator, sha256: ${sha256Hex(TOKENS.operator)} }
    - { id: engineer, role: engineer, sha256: ${sha256Hex(TOKENS.engineer)} }
    - { id: manager, role: quality-manager, sha256: ${sha256Hex(TOKENS.manager)} }
    - { id: admin-token, role: admin, sha256: ${sha256Hex(TOKENS.admin)} }
live: { flushIntervalMs: 50 }
${rest}`
}

export interface TestGateway {
  gateway: Gateway
  config: Config
  dataDir: string
  /** GET an API path with a token (viewer by default) and parse the JSON. */
  get<T = unknown>(path: string, token?: string | null): Promise<{ status: number; body: T }>
  close(): Promise<void>
}

export async function startTestGateway(
  rest: string,
  options: { dataDir?: string; log?: Logger; patch?: (config: Config) => void } = {},
): Promise<TestGateway & { removeDataDir(): Promise<void> }> {
  const dir = options.dataDir ? { path: options.dataDir, remove: async () => {} } : await tempDir()
  const config = parseConfig(testConfigYaml(dir.path, rest), 'test.yaml')
  options.patch?.(config)
  config.mqtt.broker.host = '127.0.0.1'
  if (config.mqtt.broker.port === 1883) config.mqtt.broker.port = 0
  const gateway = await createGateway(config, {
    log: options.log ?? createLogger(config.log.level),
  })
  return {
    gateway,
    config,
    dataDir: dir.path,
    async get<T>(path: string, token: string | null = TOKENS.viewer) {
      const res = await fetch(`${gateway.urls.http}${path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      })
      return { status: res.status, body: (await res.json()) as T }
    },
    close: () => gateway.close(),
    removeDataDir: () => dir.remove(),
  }
}
