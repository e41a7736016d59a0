// The optimiser each worker trains its replica with, by name (dist-keras passes Keras' names).
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../backend/index.js'
import { MaltError } from '../errors.js'
import type { Algorithm, CompileSpec } from './protocol.js'

/** Default learning rates, as Keras' optimisers have them. */
const DEFAULT_RATES: Readonly<Record<string, number>> = { sgd: 0.01, momentum: 0.01, nesterov: 0.01, adam: 0.001, adamax: 0.002, rmsprop: 0.001, adagrad: 0.01, adadelta: 1 }

/** The optimiser names {@link createOptimizer} knows. */
export const OPTIMIZERS: readonly string[] = Object.keys(DEFAULT_RATES)

/** The learning rate a worker starts with. */
export function initialLearningRate(spec: CompileSpec, algorithm: Algorithm): number {
  return spec.learningRate ?? DEFAULT_RATES[algorithm === 'eamsgd' ? 'nesterov' : spec.optimizer] ?? 0.001
}

/** Changes an optimiser's rate in place (SGD and momentum keep it in a tensor; the others read the field each step). */
export function setLearningRate(optimizer: tfjs.Optimizer, rate: number): void {
  const target = optimizer as unknown as { learningRate: number; setLearningRate?: (rate: number) => void }
  if (typeof target.setLearningRate === 'function') target.setLearningRate(rate)
  else target.learningRate = rate
}

/** A fresh optimiser; EAMSGD's workers use Nesterov momentum whatever was named (that is the algorithm). */
export function createOptimizer(spec: CompileSpec, algorithm: Algorithm): tfjs.Optimizer {
  const name = algorithm === 'eamsgd' ? 'nesterov' : spec.optimizer
  const rate = spec.learningRate ?? DEFAULT_RATES[name]
  switch (name) {
    case 'sgd':
      return tf.train.sgd(rate)
    case 'momentum':
      return tf.train.momentum(rate, 0.9)
    case 'nesterov':
      return tf.train.momentum(rate, 0.9, true)
    case 'adam':
      return tf.train.adam(rate)
    case 'adamax':
      return tf.train.adamax(rate)
    case 'rmsprop':
      return tf.train.rmsprop(rate)
    case 'adagrad':
      return tf.train.adagrad(rate)
    case 'adadelta':
      return tf.train.adadelta(rate)
    default:
      throw new MaltError('TRAIN_BAD_OPTION', `optimizer: unknown ${JSON.stringify(spec.optimizer)}; known: ${OPTIMIZERS.join(', ')}`)
  }
}
