export { characteristicSpec, loadConfigFile, ncCauses, parseConfig } from './load.ts'
export type {
  CauseName,
  CharacteristicConfig,
  Config,
  DeadLettersConfig,
  InfluxConfig,
  OpcuaServerConfig,
  RoleName,
  SqliteRetentionConfig,
} from './schema.ts'
export { ConfigSchema } from './schema.ts'
export { normaliseSchema } from './yaml-schema.ts'
