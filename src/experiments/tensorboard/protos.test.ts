// The hand-written encoder against protobufjs with an independent copy of the schema: the same
// bytes for the messages Malt writes, defaults and edge values included.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type protobuf from 'protobufjs'
import { tensorBoardTypes } from '../../../test/helpers/tensorboard-protos.js'
import { encodeMessage, tensorBoardSchemas } from './protos.js'

function reference(type: protobuf.Type, value: Record<string, unknown>): Uint8Array {
  return type.encode(type.fromObject(value)).finish()
}

function assertSameBytes(schema: keyof typeof tensorBoardSchemas, type: protobuf.Type, value: Record<string, unknown>): void {
  const ours = Buffer.from(encodeMessage(tensorBoardSchemas[schema], value)).toString('hex')
  const theirs = Buffer.from(reference(type, value)).toString('hex')
  assert.equal(ours, theirs, `${schema} ${JSON.stringify(value)}`)
}

test('Events and scalar summaries encode to the bytes protobufjs writes', () => {
  const { event } = tensorBoardTypes()
  const values = [0, -0, 1.5, -3.25e-8, 3.4e38, NaN, Infinity, -Infinity]
  assertSameBytes('event', event, { wall_time: 1795310321.7604, file_version: 'brain.Event:2' })
  assertSameBytes('event', event, { wall_time: 0, step: 0, summary: { value: values.map((v, i) => ({ tag: `m${i}`, simple_value: v })) } })
  for (const step of [1, 127, 128, 300, 2 ** 31, 2 ** 53 - 1, -1]) {
    assertSameBytes('event', event, { wall_time: 12.5, step, summary: { value: [{ tag: 'loss/ünï', simple_value: 0.25 }] } })
  }
})

test('Tensor summaries with plugin metadata encode to the bytes protobufjs writes', () => {
  const { event } = tensorBoardTypes()
  const metadata = { plugin_data: { plugin_name: 'hparams', content: Uint8Array.from([0, 1, 255]) }, display_name: '', summary_description: 'd' }
  const tensor = { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 0 }] }, float_val: [] }
  assertSameBytes('event', event, { wall_time: 3, step: 0, summary: { value: [{ tag: '_hparams_/session_start_info', metadata, tensor }] } })
  const filled = { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 2 }, { size: 3 }] }, float_val: [1, 2, 3, -4, 0, NaN] }
  assertSameBytes('event', event, { wall_time: 3, step: 9, summary: { value: [{ tag: 't', tensor: filled }] } })
})

test('hparams plugin data (experiment, session start and end) encodes to the bytes protobufjs writes', () => {
  const { hparamsPluginData } = tensorBoardTypes()
  const experiment = {
    time_created_secs: 1795310321.5,
    hparam_infos: [
      { name: 'lr', display_name: '', description: '', type: 'DATA_TYPE_FLOAT64', domain_interval: { min_value: 0, max_value: 0.1 } },
      { name: 'opt', type: 'DATA_TYPE_STRING', domain_discrete: { values: [{ string_value: 'adam' }, { string_value: '' }] } },
      { name: 'bn', type: 'DATA_TYPE_BOOL', domain_discrete: { values: [{ bool_value: false }, { bool_value: true }] } },
    ],
    metric_infos: [{ name: { group: '', tag: 'accuracy' }, display_name: '', description: '' }],
  }
  assertSameBytes('hparamsPluginData', hparamsPluginData, { version: 0, experiment })
  const hparams = { lr: { number_value: 0 }, opt: { string_value: '' }, bn: { bool_value: false }, units: { number_value: 128 } }
  assertSameBytes('hparamsPluginData', hparamsPluginData, { version: 0, session_start_info: { hparams, group_name: 't0001', start_time_secs: 17.25 } })
  for (const status of ['STATUS_UNKNOWN', 'STATUS_SUCCESS', 'STATUS_FAILURE', 'STATUS_RUNNING']) {
    assertSameBytes('hparamsPluginData', hparamsPluginData, { version: 0, session_end_info: { status, end_time_secs: 20 } })
  }
})

test('A field the schema does not have, or a value of the wrong type, throws and names it', () => {
  assert.throws(() => encodeMessage(tensorBoardSchemas.event, { wall_time: 1, stepp: 2 }), /no field stepp/)
  assert.throws(() => encodeMessage(tensorBoardSchemas.event, { wall_time: 1, step: 1.5 }), /step: expected an integer/)
  assert.throws(() => encodeMessage(tensorBoardSchemas.hparamsPluginData, { session_end_info: { status: 'DONE' } }), /status: expected one of STATUS_UNKNOWN/)
})
