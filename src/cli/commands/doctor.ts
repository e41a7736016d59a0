// `malt doctor`: what Malt runs on here — Node, TF.js, the backend and why, and which optional
// services are reachable and what Malt would use them for.
import type { Command } from 'commander'
import { ready } from '../../backend/index.js'
import { probePostgres, probeRedis, type ProbeResult } from '../../util/probe.js'
import { packageVersion } from '../version.js'

/** Everything `malt doctor` reports, also as `--json`. */
export interface DoctorReport {
  malt: string
  node: string
  platform: string
  tfjs: string
  backend: { name: string; provider: string; tried: { provider: string; available: boolean; reason: string }[] }
  services: { name: string; url: string; fromEnv: boolean; usedFor: string; probe: ProbeResult }[]
}

const DEFAULT_REDIS = 'redis://127.0.0.1:6379'
const DEFAULT_POSTGRES = 'postgres://127.0.0.1:5432/test'

/** Gathers the report (exported for tests). */
export async function doctorReport(env: NodeJS.ProcessEnv = process.env): Promise<DoctorReport> {
  const backend = await ready()
  const redisUrl = env.REDIS_URL ?? DEFAULT_REDIS
  const postgresFromEnv = env.DATABASE_URL?.startsWith('postgres') ?? false
  const postgresUrl = postgresFromEnv ? env.DATABASE_URL! : DEFAULT_POSTGRES
  const [redis, postgres] = await Promise.all([probeRedis(redisUrl), probePostgres(postgresUrl)])
  return {
    malt: packageVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    tfjs: backend.tfjsVersion,
    backend: { name: backend.name, provider: backend.provider, tried: backend.tried },
    services: [
      {
        name: 'Redis',
        url: redisUrl,
        fromEnv: env.REDIS_URL !== undefined,
        usedFor: 'cluster executors: trials and training workers queued through BullMQ when REDIS_URL is set',
        probe: redis,
      },
      {
        name: 'PostgreSQL',
        url: postgresUrl,
        fromEnv: postgresFromEnv,
        usedFor: 'shared metadata store (experiments, trials, model versions) when DATABASE_URL=postgres://… is set; SQLite otherwise',
        probe: postgres,
      },
    ],
  }
}

function redactPassword(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '****'
    return parsed.toString()
  } catch {
    return url
  }
}

/** Human-readable rendering of the report. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [
    `malt        ${report.malt}`,
    `node        ${report.node} (${report.platform})`,
    `tfjs        ${report.tfjs}`,
    `backend     ${report.backend.name} (${report.backend.provider})`,
  ]
  for (const tried of report.backend.tried) {
    lines.push(`  ${tried.available ? '✓' : '·'} ${tried.provider}: ${tried.reason}`)
  }
  lines.push('services (optional; Malt runs without them on embedded defaults)')
  for (const service of report.services) {
    const state = service.probe.reachable ? 'reachable' : 'not reachable'
    const source = service.fromEnv ? 'from env' : 'default address'
    lines.push(`  ${service.probe.reachable ? '✓' : '✗'} ${service.name} ${redactPassword(service.url)} (${source}): ${state} — ${service.probe.detail}`)
    lines.push(`      used for: ${service.usedFor}`)
  }
  return `${lines.join('\n')}\n`
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('show Node, TF.js, the backend in use, and which optional services are reachable')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const report = await doctorReport()
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report))
    })
}
