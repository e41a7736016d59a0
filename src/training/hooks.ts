// The hooks a worker's training loop calls between batches, which each algorithm implements
// (communication.ts, communication-ps.ts), and what they get from the worker.
import type * as tfjs from '@tensorflow/tfjs'
import type { DriverMessage, WorkerMessage } from './protocol.js'

/** The hooks the training loop calls. */
export interface Communication {
  /**
   * Replaces the worker's `trainOnBatch` (AllReduce averages gradients before applying them);
   * resolves with [loss, ...compiled metrics].
   */
  trainStep?(xs: tfjs.Tensor, ys: tfjs.Tensor): Promise<number[]>
  /** After every batch (`step` counts batches from 1 over all epochs). */
  afterBatch(step: number): Promise<void>
  /** The weights validation evaluates when they are not the replica's (the center of a server or of EASGD). */
  evaluationWeights?(): Promise<Float32Array>
  /** After every epoch. */
  afterEpoch(epoch: number): Promise<void>
  /** After the last epoch, before the worker's final weights are written. */
  finish(): Promise<void>
  /** Frees connections; called once, also after a failure. */
  close(): Promise<void>
}

/** What a communication gets from the worker. */
export interface WorkerLink {
  send(message: WorkerMessage): void
  inbox: { next<T extends DriverMessage['type']>(type: T): Promise<Extract<DriverMessage, { type: T }>> }
}

