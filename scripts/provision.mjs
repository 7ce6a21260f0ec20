#!/usr/bin/env node
// Provisions what the test suite needs (run by `npm test` before vitest). The suite talks to
// real servers and a real browser and never skips: on Debian/Ubuntu as root this installs
// the missing packages; anywhere else it says exactly what to install and stops.
import { execFileSync, spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, readdirSync } from 'node:fs'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 13)) {
  console.error(
    `provision: Node.js ${process.versions.node} is too old; linewatch needs 22.13 or later (24 LTS recommended).`,
  )
  process.exit(1)
}

/** program → Debian package that provides it */
const NEEDED = [
  ['chromium', 'chromium'],
  ['influxd', 'influxdb'],
  ['mosquitto', 'mosquitto'],
  ['mosquitto_pub', 'mosquitto-clients'],
  // The live hub across gateways (socket.io's Redis adapter) is tested against a real Redis.
  ['redis-server', 'redis-server'],
  // Records in PostgreSQL and the gateways' leases (issue 12) are tested against a real server.
  ['initdb', 'postgresql'],
  ['docker-compose', 'docker-compose'],
  // Exported PDFs are read back in the tests (pdftotext, pdfinfo, pdffonts).
  ['pdftotext', 'poppler-utils'],
  // The webhook tests make a self-signed certificate.
  ['openssl', 'openssl'],
  // The password prompts are tested on a pseudo-terminal (util-linux script; Essential on Debian).
  ['script', 'bsdutils'],
  // The systemd unit (deploy/linewatch.service) is checked with systemd's own analyzer.
  ['systemd-analyze', 'systemd'],
]
const DIRS = [
  '/usr/bin',
  '/usr/sbin',
  '/usr/local/bin',
  '/usr/local/sbin',
  ...(process.env.PATH ?? '').split(':'),
  // Debian keeps PostgreSQL's server programs out of PATH, one folder per version.
  ...(existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`)
    : []),
]

function installed(program) {
  return DIRS.some((dir) => {
    try {
      accessSync(`${dir}/${program}`, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

const missing = NEEDED.filter(([program]) => !installed(program))
if (missing.length === 0) {
  console.log(`provision: ${NEEDED.map(([p]) => p).join(', ')} are installed`)
  process.exit(0)
}

const packages = [...new Set(missing.map(([, pkg]) => pkg))]
const command = `apt-get install -y --no-install-recommends ${packages.join(' ')}`
const debian = existsSync('/etc/debian_version')
const root = process.getuid?.() === 0

if (!debian) {
  console.error(
    `provision: missing ${missing.map(([p]) => p).join(', ')}. Install them with your system's package manager (Debian/Ubuntu: ${command}), then run npm test again.`,
  )
  process.exit(1)
}
if (!root) {
  console.error(
    `provision: missing ${missing.map(([p]) => p).join(', ')}. Run:\n  sudo apt-get update && sudo ${command}\nthen npm test again.`,
  )
  process.exit(1)
}

console.log(`provision: installing ${packages.join(' ')}`)
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
for (const args of [
  ['update', '-qq'],
  ['install', '-y', '-qq', '--no-install-recommends', ...packages],
]) {
  const result = spawnSync('apt-get', args, { stdio: 'inherit', env })
  if (result.status !== 0) {
    console.error(`provision: apt-get ${args.join(' ')} failed (exit ${result.status})`)
    process.exit(1)
  }
}
const still = NEEDED.filter(([program]) => !installed(program))
if (still.length > 0) {
  console.error(`provision: still missing after apt-get: ${still.map(([p]) => p).join(', ')}`)
  process.exit(1)
}
console.log(`provision: done (${execFileSync('uname', ['-sr']).toString().trim()})`)
