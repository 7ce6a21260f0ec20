/**
 * The child process that parses a large configuration file for loadConfigFile (load.ts): the
 * memory the parse takes is this process's, given back to the system when it exits. Argument:
 * the file; answer, over IPC: the configuration or the error met, as data.
 */
import { FileIssuesError, LinewatchError } from '../errors.ts'
import { type ChildAnswer, readConfigFile } from './load.ts'

const file = process.argv[2] as string
let answer: ChildAnswer
try {
  answer = { config: await readConfigFile(file) }
} catch (e) {
  answer = {
    error: {
      code: e instanceof LinewatchError ? e.code : undefined,
      message: e instanceof Error ? e.message : String(e),
      issues: e instanceof FileIssuesError ? e.issues : undefined,
    },
  }
}
// A parent gone meanwhile (the start interrupted): nothing to answer, the child just ends.
if (process.connected)
  process.send?.(answer, (err: Error | null) => {
    if (!err && process.connected) process.disconnect()
  })
