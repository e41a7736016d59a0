// The parameter server of the asynchronous optimisers (DOWNPOUR, ADAG, DynSGD, AEASGD): a TCP server
// holding the center variable (or one slice of it), its client, and its executor-task form.
export { ParameterServer, type ParameterServerOptions, type ServerCheckpointOptions } from './server.js'
export { ParameterClient, type ParameterClientOptions, type PullResult, type CommitResult } from './client.js'
export { parameterServerTask, STOP_MESSAGE, type ParameterServerTaskPayload, type ParameterServerListening } from './task.js'
export { splitParameters, checkRanges, type ParameterRange } from './slices.js'
export { readCheckpoint, writeCheckpoint, readWeightsSlice, type CheckpointState } from './checkpoint.js'
export { encodeFloat16, decodeFloat16, toFloat16Bits, fromFloat16Bits } from './float16.js'
export type { Compression } from './compression.js'
export type { UpdateRule, ParameterServerStats } from './types.js'
