import type { Command } from 'commander'

// Placeholder: `linewatch spc` is being written (issue 3).
export function registerSpcCommand(_program: Command): void {}
