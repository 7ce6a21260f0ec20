export { characteristicSpec, loadConfigFile, parseConfig } from './load.ts'
export type {
  AlarmsConfigType,
  CauseName,
  CharacteristicAlarmsConfig,
  CharacteristicConfig,
  CleanroomConfig,
  ClusterConfig,
  Config,
  DeadLettersConfig,
  InfluxConfig,
  OpcuaServerConfig,
  RoleName,
  SqliteRetentionConfig,
} from './schema.ts'
export { ConfigSchema } from './schema.ts'
export { normaliseSchema } from './yaml-schema.ts'
