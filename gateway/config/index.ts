export { characteristicSpec, loadConfigFile, ncCauses, parseConfig } from './load.ts'
export type {
  CauseName,
  CharacteristicConfig,
  Config,
  InfluxConfig,
  OpcuaServerConfig,
  RoleName,
} from './schema.ts'
export { ConfigSchema } from './schema.ts'
export { normaliseSchema } from './yaml-schema.ts'
