// The hparams plugin records: what the summary values hold, type inference from domains, and
// bad input. (test/tensorboard-format.test.ts checks them with the real TensorBoard.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { EXPERIMENT_TAG, SESSION_END_TAG, SESSION_START_TAG, experimentSummary, hparamsFromSpace, sessionEndSummary, sessionStartSummary } from './hparams.js'
import type { SummaryValueInput } from './event-writer.js'
import { tensorBoardTypes } from '../../../test/helpers/tensorboard-protos.js'

/** The HParamsPluginData inside one summary value, as a plain object with enum names. */
function pluginData(values: SummaryValueInput[]): Record<string, unknown> {
  assert.equal(values.length, 1)
  const [value] = values
  assert.equal(value.metadata?.pluginName, 'hparams')
  assert.deepEqual(value.tensor, { dtype: 'float32', shape: [0], values: [] }, 'an empty tensor, as TensorBoard writes it')
  const type = tensorBoardTypes().hparamsPluginData
  return type.toObject(type.decode(value.metadata!.content!), { enums: String, defaults: true, oneofs: false })
}

function rejects(fn: () => unknown, part: string): void {
  assert.throws(fn, (error: unknown) => error instanceof MaltError && error.code === 'TENSORBOARD_BAD_ARGUMENT' && error.message.includes(part))
}

test('sessionStartSummary types each param (number, string, boolean) and keeps the group and time in seconds', () => {
  const values = sessionStartSummary({ params: { lr: 0.5, opt: 'adam', bn: false }, groupName: 'g1', startTimeMs: 1_500 })
  assert.equal(values[0].tag, SESSION_START_TAG)
  const data = pluginData(values)
  assert.equal(data.version, 0)
  const start = data.session_start_info as { hparams: Record<string, object>; group_name: string; start_time_secs: number }
  assert.deepEqual(start.hparams.lr, { number_value: 0.5 })
  assert.deepEqual(start.hparams.opt, { string_value: 'adam' })
  assert.deepEqual(start.hparams.bn, { bool_value: false })
  assert.equal(start.group_name, 'g1')
  assert.equal(start.start_time_secs, 1.5)
})

test('sessionEndSummary maps the status names to the plugin enum', () => {
  for (const [status, name] of [['success', 'STATUS_SUCCESS'], ['failure', 'STATUS_FAILURE'], ['running', 'STATUS_RUNNING'], ['unknown', 'STATUS_UNKNOWN']] as const) {
    const values = sessionEndSummary({ status, endTimeMs: 2_000 })
    assert.equal(values[0].tag, SESSION_END_TAG)
    assert.deepEqual(pluginData(values).session_end_info, { status: name, end_time_secs: 2 })
  }
  rejects(() => sessionEndSummary({ status: 'done' as 'success', endTimeMs: 0 }), 'status')
  rejects(() => sessionEndSummary({ status: 'success', endTimeMs: Number.NaN }), 'endTimeMs')
})

test('experimentSummary derives each type from its domain and names the metrics', () => {
  const values = experimentSummary({
    hparams: [
      { name: 'lr', domain: { min: 0.001, max: 0.1 } },
      { name: 'opt', domain: { values: ['adam', 'sgd'] } },
      { name: 'layers', domain: { values: [1, 2, 3] } },
      { name: 'bn', type: 'boolean' },
      { name: 'mixed', domain: { values: [1, 'a'] } },
    ],
    metrics: [{ tag: 'loss' }, { tag: 'acc', group: 'eval', displayName: 'Accuracy' }],
    timeCreatedMs: 3_000,
  })
  assert.equal(values[0].tag, EXPERIMENT_TAG)
  const experiment = pluginData(values).experiment as { hparam_infos: Record<string, unknown>[]; metric_infos: unknown[]; time_created_secs: number }
  const [lr, opt, layers, bn, mixed] = experiment.hparam_infos
  assert.equal(lr.type, 'DATA_TYPE_FLOAT64')
  assert.deepEqual(lr.domain_interval, { min_value: 0.001, max_value: 0.1 })
  assert.equal(opt.type, 'DATA_TYPE_STRING')
  assert.deepEqual(opt.domain_discrete, { values: [{ string_value: 'adam' }, { string_value: 'sgd' }] })
  assert.equal(layers.type, 'DATA_TYPE_FLOAT64')
  assert.equal(bn.type, 'DATA_TYPE_BOOL')
  assert.equal(mixed.type, 'DATA_TYPE_UNSET', 'mixed values leave the type to TensorBoard')
  assert.deepEqual(experiment.metric_infos[1], { name: { group: 'eval', tag: 'acc' }, display_name: 'Accuracy', description: '', dataset_type: 'DATASET_UNKNOWN' })
  assert.equal(experiment.time_created_secs, 3)
})

test('experimentSummary rejects bad domains with the hparam named', () => {
  const metrics = [{ tag: 'loss' }]
  rejects(() => experimentSummary({ hparams: [{ name: 'lr', domain: { min: 1, max: 0 } }], metrics }), 'hparams[0].domain (lr)')
  rejects(() => experimentSummary({ hparams: [{ name: 'opt', domain: { values: [] } }], metrics }), 'non-empty list')
  rejects(() => experimentSummary({ hparams: [{ name: 'opt', type: 'number', domain: { values: ['a'] } }], metrics }), 'values of type number')
  rejects(() => experimentSummary({ hparams: [{ name: 'lr', type: 'string', domain: { min: 0, max: 1 } }], metrics }), "'number' for an interval")
  rejects(() => experimentSummary({ hparams: [{ name: 'x', type: 'float' as 'number' }], metrics }), 'type (x)')
  rejects(() => experimentSummary({ hparams: [{ name: '' }], metrics }), 'hparams[0].name')
  rejects(() => experimentSummary({ hparams: [], metrics: [{ tag: '' }] }), 'metrics[0].tag')
  rejects(() => sessionStartSummary({ params: { lr: null as unknown as number }, startTimeMs: 0 }), 'params.lr')
})

test('hparamsFromSpace turns ranges into intervals and choices into discrete domains', () => {
  const hparams = hparamsFromSpace({
    lr: { type: 'float', min: 1e-4, max: 1e-1, log: true },
    layers: { type: 'int', min: 1, max: 5 },
    act: { type: 'categorical', choices: ['relu', 'tanh'] },
  })
  assert.deepEqual(hparams, [
    { name: 'lr', type: 'number', domain: { min: 1e-4, max: 1e-1 } },
    { name: 'layers', type: 'number', domain: { min: 1, max: 5 } },
    { name: 'act', domain: { values: ['relu', 'tanh'] } },
  ])
})
