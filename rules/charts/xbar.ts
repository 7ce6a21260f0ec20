import type { ChartKind } from './kind.ts'

// Placeholder: being written (issue 3).
export const xbarR: ChartKind | null = null
export const xbarS: ChartKind | null = null
