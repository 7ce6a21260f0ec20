/** The public face of the pure rules: charts, run rules, alarm limits, characteristic evaluation. */
export * from './alarm-limits.ts'
export * from './characteristic.ts'
export * from './charts/imr.ts'
export * from './constants.ts'
export * from './run-rules.ts'
export * from './types.ts'
