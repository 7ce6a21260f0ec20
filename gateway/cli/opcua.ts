import type { Command } from 'commander'

/** `linewatch opcua …` (issue 10). */
export function registerOpcuaCommands(_program: Command): void {}
