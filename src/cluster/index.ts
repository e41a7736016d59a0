// The executors layer: the contract every pool implements and the embedded local process pool.
export type {
  Executor,
  ExecutorPool,
  JsonValue,
  RunnerRef,
  RunningTask,
  TaskChannel,
  TaskOutcome,
  TaskRunner,
  TaskSpec,
} from './types.js'
export { LocalProcessPool, type LocalProcessPoolOptions } from './local/pool.js'
export { EXECUTOR_ID_ENV } from './local/protocol.js'
