import type { ChartKind } from './kind.ts'

// Placeholder: being written (issue 3).
export const p: ChartKind | null = null
export const np: ChartKind | null = null
export const c: ChartKind | null = null
export const u: ChartKind | null = null
