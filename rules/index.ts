/** The public face of the pure rules: charts, run rules, alarm limits, characteristic evaluation. */
export * from './alarm-limits.js'
export * from './characteristic.js'
export * from './charts/imr.js'
export * from './constants.js'
export * from './run-rules.js'
export * from './types.js'
