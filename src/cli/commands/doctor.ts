// `malt doctor`: what Malt runs on here — Node, TF.js, the backend and why, and which optional
// services are reachable and what Malt would use them for.
import type { Command } from 'commander'
import { ready } from '../../backend/index.js'
import { nativeBackend } from '../../backend/native/index.js'
import { probePostgres, probeRedis, type ProbeResult } from '../../util/probe.js'
import { packageVersion } from '../version.js'

/** Everything `malt doctor` reports, also as `--json`. */
export interface DoctorReport {
  malt: string
  node: string
  platform: string
  tfjs: string
  backend: { name: string; provider: string; tried: { provider: string; available: boolean; reason: string }[] }
  /** The malt-native backend when its addon loaded (whether or not it is the one in use). */
  native?: { onednn: string; threads: number; kernels: string[] }
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
    native: nativeBackend.available
      ? { onednn: nativeBackend.versions.onednn, threads: nativeBackend.threads, kernels: nativeBackend.kernels }
      : undefined,
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

/** `prefix` then the items comma-separated, wrapped at ~100 columns with a hanging indent. */
function wrapList(prefix: string, items: string[]): string[] {
  const lines: string[] = []
  let line = prefix
  for (const [i, item] of items.entries()) {
    const piece = i < items.length - 1 ? `${item}, ` : item
    if (line.length + piece.length > 100 && line.trim() !== prefix.trim()) {
      lines.push(line.trimEnd())
      line = ' '.repeat(4)
    }
    line += piece
  }
  lines.push(line.trimEnd())
  return lines
}

/** Human-readable rendering of the report. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [
    `malt        ${report.malt}`,
    `node        ${report.node} (${report.platform})`,
    `tfjs        ${report.tfjs}`,
    // 'malt-native (oneDNN)' already names the backend; 'cpu' needs its package named.
    `backend     ${report.backend.provider.startsWith(report.backend.name) ? report.backend.provider : `${report.backend.name} (${report.backend.provider})`}`,
  ]
  for (const tried of report.backend.tried) {
    lines.push(`  ${tried.available ? '✓' : '·'} ${tried.provider}: ${tried.reason}`)
  }
  if (report.native) {
    lines.push(`native      oneDNN ${report.native.onednn}, ${report.native.threads} thread${report.native.threads === 1 ? '' : 's'} (MALT_NUM_THREADS sets it)`)
    lines.push(...wrapList(`  native kernels (${report.native.kernels.length}; other ops run the CPU kernels): `, report.native.kernels))
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
