/**
 * The error catalogue: every error a user can meet has a code, a message that says what to do,
 * and an entry in docs/errors.md (a test keeps the two in step).
 */
export const ERRORS = {
  LW_ERR_CONFIG_NOT_FOUND: 'The configuration file cannot be read.',
  LW_ERR_CONFIG_INVALID: 'The configuration file is invalid; each problem is listed with its line.',
  LW_ERR_SECRET_MISSING: 'An environment variable named in the configuration is not set.',
  LW_ERR_PORT_IN_USE: 'A port the gateway listens on is taken by another program.',
  LW_ERR_DATA_DIR_LOCKED: 'Another gateway is running on the same data directory.',
  LW_ERR_NODE_VERSION:
    'This Node.js is too old; linewatch needs Node.js 22.13 or later (24 LTS recommended).',
  LW_ERR_SCENARIO_INVALID:
    'The simulator scenario file is invalid; each problem is listed with its line.',
  LW_ERR_SPC_INPUT: 'linewatch spc refused its input; the message names the file and row.',
  LW_ERR_CLEANROOM_INPUT:
    'linewatch cleanroom classify refused its input or options; the message names the row or option.',
  LW_ERR_USER_REFUSED:
    'linewatch user refused the change; the problems (password rules, an unknown user) are listed.',
  LW_ERR_AUDIT_UNREADABLE: 'linewatch audit verify cannot read the records database.',
  LW_ERR_AUDIT_TRUNCATED:
    'The audit trail is shorter than its head kept outside the database: entries were removed.',
  LW_ERR_TLS_FILE:
    'A certificate, key, CA or CRL file named in mqtt.broker.tls or mqtt.external cannot be read or used.',
  LW_ERR_OPCUA_CONNECT:
    'linewatch opcua cannot reach the OPC-UA server, or the server or its certificate was refused; the message says which and what to do.',
  LW_ERR_OPCUA_CERTIFICATE:
    'An OPC-UA certificate named on the command line or in the configuration cannot be found or read.',
  LW_ERR_SPARKPLUG_CONNECT:
    'linewatch sparkplug discover cannot reach the MQTT broker, or the broker refused it.',
} as const

export type ErrorCode = keyof typeof ERRORS

export class LinewatchError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'LinewatchError'
    this.code = code
  }
}

/** A problem at a place in a YAML file. */
export interface FileIssue {
  file: string
  line: number
  column: number
  /** Dotted path of the setting, e.g. `characteristics[2].limits.actionHigh`. */
  path: string
  message: string
}

export function formatIssue(issue: FileIssue): string {
  const where = issue.path ? `${issue.path}: ` : ''
  return `${issue.file}:${issue.line}:${issue.column}: ${where}${issue.message}`
}

/** An invalid YAML file (configuration or scenario), with every problem found. */
export class FileIssuesError extends LinewatchError {
  readonly issues: FileIssue[]
  constructor(code: ErrorCode, file: string, issues: FileIssue[]) {
    super(code, `${file} is invalid:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`)
    this.issues = issues
  }
}
