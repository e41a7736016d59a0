// `malt serve --models DIR`: TF Serving's REST API and KServe v2 over a model repository.
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { MaltError, describeValue } from '../../errors.js'
import { integerOption } from '../options.js'
import { packageVersion } from '../version.js'

interface ServeFlags {
  models: string
  port: number
  host: string
  config?: string
  workers: number
  pollInterval: number
  apiKeysFile?: string
  tlsCert?: string
  tlsKey?: string
  bodyLimitMb: number
  logTo?: string
  logSampleRate: number
  allowNonFinite?: boolean
  accessLog: boolean
}

function rateOption(text: string): number {
  const rate = Number(text)
  if (text.trim() === '' || !(rate >= 0 && rate <= 1)) throw new MaltError('CLI_BAD_OPTION', `--log-sample-rate: expected a number from 0 to 1, received ${describeValue(text)}`)
  return rate
}

function portOption(text: string): number {
  const port = integerOption('--port', 0)(text)
  if (port > 65535) throw new MaltError('CLI_BAD_OPTION', `--port: expected a port from 0 to 65535, received ${describeValue(text)}`)
  return port
}

/** `--body-limit-mb`: a number of MiB that is at least one byte. */
function bodyLimitOption(text: string): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isFinite(value) || value * 1024 * 1024 < 1) throw new MaltError('CLI_BAD_OPTION', `--body-limit-mb: expected a positive number of MiB, received ${describeValue(text)}`)
  return value
}

/** API keys: one per line of the file, and MALT_API_KEYS (comma-separated); keys never go on the command line (ps shows it). */
async function apiKeys(file: string | undefined): Promise<string[] | undefined> {
  const keys = (process.env.MALT_API_KEYS ?? '').split(',').map((key) => key.trim())
  if (file !== undefined) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      throw new MaltError('CLI_BAD_OPTION', `--api-keys-file ${describeValue(file)} cannot be read: ${(error as Error).message}`)
    }
    keys.push(...text.split('\n').map((line) => line.trim()))
  }
  const found = keys.filter((key) => key !== '' && !key.startsWith('#'))
  return found.length > 0 ? found : undefined
}

/** Adds `serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a model repository (DIR/<name>/<version>/ with model.json or model.onnx) over TF Serving REST and KServe v2')
    .requiredOption('--models <dir>', 'the model repository')
    .option('--port <n>', 'port (0: any free port)', portOption, 8501)
    .option('--host <address>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--config <file>', 'JSON config: version policies, batching, canaries, labels (admin changes are written back)')
    .option('--workers <n>', 'processes sharing the port', integerOption('--workers'), 1)
    .option('--poll-interval <seconds>', 'seconds between scans for new and removed versions (0: never)', integerOption('--poll-interval', 0), 1)
    .option('--api-keys-file <file>', 'require "Authorization: Bearer <key>": one key per line (also MALT_API_KEYS=k1,k2)')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key')
    .option('--body-limit-mb <n>', 'largest request body in MiB; larger ones get 413', bodyLimitOption, 32)
    .option('--log-to <target>', 'inference log: a directory (JSON Lines) or redis://host:port?stream=name')
    .option('--log-sample-rate <rate>', 'share of requests in the inference log, 0–1', rateOption, 1)
    .option('--allow-non-finite', 'let NaN and Infinity inputs reach the models (default: 400)')
    .option('--no-access-log', 'no JSON access log lines on stdout')
    .action(async (flags: ServeFlags) => {
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
        throw new MaltError('CLI_BAD_OPTION', '--tls-cert and --tls-key go together: give both or neither')
      }
      // Loaded here: fastify and the server's other dependencies would slow every other command's start.
      const { serve } = await import('../../serving/serve.js')
      await serve(
        {
          models: flags.models,
          port: flags.port,
          host: flags.host,
          configPath: flags.config,
          workers: flags.workers,
          pollIntervalSeconds: flags.pollInterval,
          apiKeys: await apiKeys(flags.apiKeysFile),
          tls: flags.tlsCert && flags.tlsKey ? { certPath: flags.tlsCert, keyPath: flags.tlsKey } : undefined,
          bodyLimitBytes: Math.max(1, Math.round(flags.bodyLimitMb * 1024 * 1024)),
          logTo: flags.logTo,
          logSampleRate: flags.logSampleRate,
          allowNonFinite: flags.allowNonFinite === true,
          accessLog: flags.accessLog,
          serverVersion: packageVersion(),
        },
        (message) => process.stderr.write(`${message}\n`),
      )
    })
}
