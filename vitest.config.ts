import { defineConfig } from 'vitest/config'

// Integration suites start real servers (aedes, node-opcua, influxd, mosquitto, Chromium):
// two workers match the two cores this project is built on; timeouts cover their start-up.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
  },
})
