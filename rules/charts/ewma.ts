import type { ChartKind } from './kind.ts'

// Placeholder: being written (issue 3).
export const ewma: ChartKind | null = null
