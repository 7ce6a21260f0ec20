/**
 * What the pipeline benchmark's processes share: how characteristics and their topics are
 * named, the gateway configuration (generated, for any number of characteristics), and the
 * viewer token the socket.io client uses. No imports of the gateway at module level, so the
 * publisher process stays small.
 */
export const PREFIX = 'bench'
export const TOKEN = 'benchmark-viewer-token-0123456789abcdefghijkl'

/** c00000 … c99999 (five digits: up to 100,000 characteristics). */
export function characteristicId(i: number): string {
  return `c${String(i).padStart(5, '0')}`
}

export function topicOf(i: number): string {
  return `${PREFIX}/${characteristicId(i)}`
}

/**
 * The gateway configuration for `characteristics` I-MR charts with all eight Nelson rules
 * (spc.rules; the schema's default is N1 and N2 only), limits estimated from the first
 * spc.baselineCount (25) readings, fixed alarm limits far outside the data, the embedded
 * broker and HTTP on loopback with ephemeral ports, the SQLite time series, logging off.
 * Everything else is the default, the live hub's 100 ms coalescing included.
 * With `limits: 'given'` the charts have known parameters instead (μ 100, σ 2, as the
 * publisher's data): no Phase I, every reading is judged against frozen limits from the first
 * one, so a point with 100,000 characteristics needs no 25 readings each before it measures.
 */
export function gatewayConfigYaml(
  characteristics: number,
  dataDir: string,
  tokenSha256: string,
  limits: 'estimated' | 'given' = 'estimated',
): string {
  const chart =
    limits === 'given' ? '{ type: imr, given: { center: 100, sigma: 2 } }' : '{ type: imr }'
  const lines = [
    `dataDir: ${JSON.stringify(dataDir)}`,
    'log: { level: silent }',
    'http: { host: 127.0.0.1, port: 0 }',
    `auth: { tokens: [{ id: bench, role: viewer, sha256: ${tokenSha256} }] }`,
    'mqtt: { broker: { host: 127.0.0.1, port: 0 } }',
    'spc: { rules: [N1, N2, N3, N4, N5, N6, N7, N8] }',
    'characteristics:',
  ]
  for (let i = 0; i < characteristics; i++) {
    const id = characteristicId(i)
    lines.push(
      `  - { id: ${id}, name: Characteristic ${i}, path: bench/area-${i % 10}/line-${i % 50}/cell-${i}, source: { mqtt: { topic: ${topicOf(i)} } }, chart: ${chart}, limits: { alertHigh: 120, actionHigh: 150 } }`,
    )
  }
  return lines.join('\n')
}
