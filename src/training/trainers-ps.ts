// The asynchronous dist-keras optimisers: the driver starts the parameter server(s) holding the
// center variable as executor tasks (each owning a slice when there are several), hands their
// addresses and the run's secret to the workers, and builds the trained model from the center.
// A worker that dies does not stop the run: the others go on (the center lives in the servers).
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type * as tfjs from '@tensorflow/tfjs'
import type { Executor, ExecutorPool, JsonValue, RunningTask } from '../cluster/types.js'
import { MaltError, describeValue } from '../errors.js'
import type { ParameterServerSettings } from './communication-ps.js'
import type { Algorithm, WorkerMessage } from './protocol.js'
import { ParameterClient } from './ps/client.js'
import { checkCompression, type Compression } from './ps/compression.js'
import { splitParameters } from './ps/slices.js'
import type { ParameterServerListening, ParameterServerTaskPayload } from './ps/task.js'
import { runnerRef, Trainer, type TrainerOptions, type TrainingRun } from './trainer.js'
import { getFlatWeights, weightSizes, writeWeightsFile } from './weights.js'

/** Options of the parameter-server trainers. */
export interface ParameterServerTrainerOptions extends TrainerOptions {
  /** Batches between a worker's exchanges with the center. @defaultValue dist-keras' per algorithm (ADAG 12, DOWNPOUR 5, DynSGD 5, AEASGD/EAMSGD 32) */
  communicationWindow?: number
  /** Parameter server processes, each holding a slice of the center (for large models). @defaultValue 1 */
  parameterServers?: number
  /** How commits travel: 'none', 'float16', or `{ topK: fraction }` with error feedback. @defaultValue 'none' */
  compression?: Compression
  /** Milliseconds between parameter server checkpoints. @defaultValue 10000 */
  checkpointEveryMs?: number
}

/** AEASGD's and EAMSGD's elastic options (dist-keras' `rho` and `learning_rate`; α = ρ·η). */
export interface ElasticTrainerOptions extends ParameterServerTrainerOptions {
  /** @defaultValue 5 */
  rho?: number
  /** The elastic learning rate η (dist-keras' `learning_rate`; the workers' optimiser keeps `learningRate`). @defaultValue 0.1 */
  elasticLearningRate?: number
}

/** Restarts of one parameter server before the run gives up. */
const MAX_RESTARTS = 3

const DEFAULT_WINDOWS: Readonly<Partial<Record<Algorithm, number>>> = { adag: 12, downpour: 5, dynsgd: 5, aeasgd: 32, eamsgd: 32 }

function positive(name: string, value: unknown, fallback: number, integer: boolean): number {
  const chosen = value ?? fallback
  if (typeof chosen !== 'number' || !Number.isFinite(chosen) || chosen <= 0 || (integer && !Number.isInteger(chosen))) {
    throw new MaltError('TRAIN_BAD_OPTION', `${name}: expected a positive ${integer ? 'integer' : 'number'}, received ${describeValue(value)}`)
  }
  return chosen
}

/** Awaits a task's first message of `type`, or its end (an error naming what it was). */
function firstMessage<T>(task: RunningTask, type: string, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    task.onMessage((message) => {
      if ((message as { type?: unknown }).type === type) resolve(message as unknown as T)
    })
    void task.outcome.then((outcome) => reject(new MaltError('TRAIN_SERVICE_FAILED', `${what} ended before it was ready: ${outcome.ok ? 'it returned' : `${outcome.reason}: ${outcome.message}`}`)))
  })
}

/** The base of DOWNPOUR, ADAG, DynSGD, AEASGD and EAMSGD. */
export abstract class ParameterServerTrainer extends Trainer {
  protected readonly window: number
  protected readonly serverCount: number
  protected readonly compression: Compression
  private readonly secret = randomBytes(32).toString('hex')
  private servers: RunningTask[] = []
  private settingsSent?: ParameterServerSettings
  /** Set once the run ends: a server ending then is not restarted. */
  private stopping = false
  /** Restarts so far (the workers ignore older addresses). */
  private generation = 0
  private restarts: { server: number; resumedAt: number }[] = []
  private readonly checkpointEveryMs: number

  constructor(algorithm: Algorithm, options: ParameterServerTrainerOptions) {
    super(algorithm, options)
    this.window = positive('communicationWindow', options.communicationWindow, DEFAULT_WINDOWS[algorithm] ?? 1, true)
    this.serverCount = positive('parameterServers', options.parameterServers, 1, true)
    this.compression = checkCompression(options.compression ?? 'none')
    this.checkpointEveryMs = positive('checkpointEveryMs', options.checkpointEveryMs, 10_000, false)
  }

  /** Elastic force α (0 for the non-elastic algorithms). */
  protected alpha(): number {
    return 0
  }

  protected override serviceCount(): number {
    return this.serverCount
  }

  protected override toleratesWorkerLoss(): boolean {
    return true
  }

  protected override async startServices(run: TrainingRun, pool: ExecutorPool): Promise<{ [key: string]: JsonValue }> {
    const model = this.options.model
    const initial = getFlatWeights(model)
    // In the scratch folder: removed with the shards when the run ends.
    const weightsPath = join(run.workersDir, 'center-initial.bin')
    await writeWeightsFile(weightsPath, initial)
    const ranges = splitParameters(initial.length, this.serverCount, weightSizes(model))
    this.servers = []
    this.stopping = false
    this.generation = 0
    this.restarts = []
    const listening = await Promise.all(
      ranges.map(async (range, i) => {
        const executor = await pool.acquire()
        const payload: ParameterServerTaskPayload = {
          secret: this.secret,
          weightsPath,
          range: { ...range },
          rule: this.algorithm === 'dynsgd' ? 'staleness' : 'add',
          checkpointPath: join(run.dir, `parameter-server-${i}.ckpt`),
          checkpointEveryMs: this.checkpointEveryMs,
        }
        return this.launch(run, executor, i, payload, 0)
      }),
    )
    const settings: ParameterServerSettings = { servers: listening.map((l) => l.address), ranges, secret: this.secret, compression: this.compression, window: this.window, alpha: this.alpha() }
    this.settingsSent = settings
    return { ps: JSON.parse(JSON.stringify(settings)) as JsonValue }
  }

  /**
   * Runs parameter server `index` on `executor`; if it dies while training runs it is started
   * again from its checkpoint (at most {@link MAX_RESTARTS} times) and the workers get its new address.
   */
  private launch(run: TrainingRun, executor: Executor, index: number, payload: ParameterServerTaskPayload, restarts: number): Promise<ParameterServerListening> {
    const task = executor.run({ id: `${run.dir}#ps-${index}.${restarts}`, runner: runnerRef('./ps/task', 'parameterServerTask'), payload: { ...payload, range: { ...payload.range! } }, outputFile: join(run.workersDir, `parameter-server-${index}.log`) })
    this.servers[index] = task
    void task.outcome.then(async (outcome) => {
      if (this.stopping || run.stopping || (!outcome.ok && outcome.reason === 'cancelled')) return
      const why = outcome.ok ? 'it returned' : `${outcome.reason}: ${outcome.message}`
      if (restarts >= MAX_RESTARTS) {
        run.fail(new MaltError('TRAIN_SERVICE_FAILED', `parameter server ${index} died ${restarts + 1} times (last: ${why}); the run stops`))
        return
      }
      process.stderr.write(`malt: parameter server ${index} died (${why}); restarting it from its checkpoint\n`)
      try {
        const listening = await this.launch(run, executor, index, payload, restarts + 1)
        this.settingsSent!.servers[index] = listening.address
        this.generation++
        this.restarts.push({ server: index, resumedAt: listening.updates })
        run.broadcast({ type: 'ps', servers: [...this.settingsSent!.servers], generation: this.generation })
      } catch (error) {
        run.fail(error)
      }
    })
    return firstMessage<ParameterServerListening>(task, 'listening', `parameter server ${index}`).then(async (listening) => {
      await this.options.callbacks?.onServerStart?.(index, { pid: listening.pid, address: listening.address, resumed: listening.resumed, updates: listening.updates })
      return listening
    })
  }

  protected override async stopServices(): Promise<void> {
    this.stopping = true
    for (const task of this.servers) task.send({ type: 'stop' })
    await Promise.all(this.servers.map((task) => task.outcome))
    this.servers = []
  }

  /**
   * A worker lost a server: it gets the current addresses (a restart under way sends the new ones
   * to everyone when it is done; until then the worker retries with pauses).
   */
  override async serviceMessage(run: TrainingRun, message: WorkerMessage): Promise<void> {
    if (message.type !== 'ps-lost' || this.settingsSent === undefined) return
    run.tasks[message.worker]?.send({ type: 'ps', servers: [...this.settingsSent.servers], generation: this.generation })
  }

  /** Parameter server restarts of the last `train()`: which server, and the update count its checkpoint resumed at. */
  serverRestarts(): { server: number; resumedAt: number }[] {
    return [...this.restarts]
  }

  /** The center variable, pulled from the servers. */
  protected override async currentWeights(): Promise<Float32Array> {
    const settings = this.settingsSent!
    const client = await ParameterClient.connect({ servers: settings.servers, ranges: settings.ranges, secret: settings.secret, workerId: 0xffffffff })
    try {
      return (await client.pull()).center
    } finally {
      await client.close()
    }
  }

  /** The trained model is the center variable. */
  protected override async result(run: TrainingRun): Promise<tfjs.LayersModel> {
    return this.modelWith(run, await this.currentWeights())
  }
}

/** DOWNPOUR (Dean et al. 2012): commit W − W_pulled every window, continue from the center. */
export class DOWNPOUR extends ParameterServerTrainer {
  constructor(options: ParameterServerTrainerOptions) {
    super('downpour', options)
  }
}

/** ADAG: DOWNPOUR committing the normalised accumulated gradient (÷ window) — dist-keras' recommended default. */
export class ADAG extends ParameterServerTrainer {
  constructor(options: ParameterServerTrainerOptions) {
    super('adag', options)
  }
}

/** DynSGD (Jiang et al. 2017): the server scales each commit by 1 / (staleness + 1). */
export class DynSGD extends ParameterServerTrainer {
  constructor(options: ParameterServerTrainerOptions) {
    super('dynsgd', options)
  }
}

abstract class ElasticTrainer extends ParameterServerTrainer {
  private readonly elasticAlpha: number

  constructor(algorithm: Algorithm, options: ElasticTrainerOptions) {
    super(algorithm, options)
    this.elasticAlpha = positive('rho', options.rho, 5, false) * positive('elasticLearningRate', options.elasticLearningRate, 0.1, false)
    if (this.elasticAlpha >= 1) throw new MaltError('TRAIN_BAD_OPTION', `rho × elasticLearningRate must be below 1 (it is the share of the distance to the center a worker moves); received ${this.elasticAlpha}`)
  }

  protected override alpha(): number {
    return this.elasticAlpha
  }
}

/** Asynchronous EASGD (Zhang et al. 2015): every window, E = α(W − C); W −= E; C += E. */
export class AEASGD extends ElasticTrainer {
  constructor(options: ElasticTrainerOptions) {
    super('aeasgd', options)
  }
}

/** EAMSGD: AEASGD with Nesterov momentum on the workers. */
export class EAMSGD extends ElasticTrainer {
  constructor(options: ElasticTrainerOptions) {
    super('eamsgd', options)
  }
}
