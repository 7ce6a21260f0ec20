import { join, resolve } from 'node:path'
import { loadScenarioFile } from '../../simulators/scenario.ts'
import { type SensorFleet, startSensorFleet } from '../../simulators/sensor-fleet.ts'
import type { Config } from '../config/index.ts'
import type { Logger } from '../log.ts'

/** The simulators as the CLI runs them: the machine (OPC-UA server) and the sensor fleet (MQTT). */
export interface Simulators {
  startSensors(mqttUrl?: string): Promise<void>
  stopSensors(): Promise<void>
  stopMachine(): Promise<void>
}

export async function startSimulators(options: {
  scenarioFile: string
  log: Logger
  what: 'all' | 'sensors' | 'machine'
  config?: Config
  opcuaPort?: number | undefined
  opcuaHost?: string | undefined
}): Promise<Simulators> {
  const scenario = await loadScenarioFile(options.scenarioFile)
  let machine: { stop(): Promise<void> } | null = null
  let fleet: SensorFleet | null = null
  const hasMachine = scenario.streams.some((s) => s.opcua)
  if (options.what !== 'sensors' && hasMachine) {
    // node-opcua loads only when a machine is simulated.
    const { startMachineSimulator } = await import('../../simulators/machine.ts')
    const sim = await startMachineSimulator({
      scenario,
      port: options.opcuaPort,
      host: options.opcuaHost,
      pkiDir: join(resolve(options.config?.dataDir ?? './data'), 'pki', 'machine-simulator'),
      log: options.log,
    })
    machine = sim
    options.log.info({ endpoint: sim.endpoint }, 'OPC-UA machine simulator running')
  }
  return {
    async startSensors(mqttUrl) {
      if (options.what === 'machine') return
      fleet = await startSensorFleet({ scenario, mqttUrl, log: options.log })
    },
    async stopSensors() {
      await fleet?.stop()
    },
    async stopMachine() {
      await machine?.stop()
    },
  }
}
