import type { Command } from 'commander'

/** `linewatch sparkplug …` (issue 10). */
export function registerSparkplugCommands(_program: Command): void {}
