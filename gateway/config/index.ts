export { characteristicSpec, loadConfigFile, ncCauses, parseConfig } from './load.js'
export type { CauseName, CharacteristicConfig, Config, InfluxConfig, OpcuaServerConfig, RoleName } from './schema.js'
export { ConfigSchema } from './schema.js'
export { normaliseSchema } from './yaml-schema.js'
