// Tests of locateFunction / resolveFunctionRef: exported functions are found in .ts (through tsx)
// and .mjs modules; closures are refused with the file:line where they are defined.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { tsImport } from 'tsx/esm/api'
import { rejectsWith } from '../../test/helpers/errors.js'
import trainDefault, { getHiddenTrain, makeAnonymousTrain, renamedTrain, trainNamed } from '../../test/fixtures/train-functions.js'
import { locateFunction, resolveFunctionRef, type AnyFunction } from './locate.js'

const tsFixture = new URL('../../test/fixtures/train-functions.ts', import.meta.url).href
const mjsFixture = new URL('../../test/fixtures/train-functions.mjs', import.meta.url).href

/** 1-based line of the first line of `file` that contains `text`. */
function lineOf(url: string, text: string): number {
  return readFileSync(fileURLToPath(url), 'utf8').split('\n').findIndex((line) => line.includes(text)) + 1
}

test('a named export of a .ts module is found with its module URL and name', async () => {
  assert.deepEqual(await locateFunction(trainNamed), { module: tsFixture, export: 'trainNamed' })
})

test('a default export is found as "default"', async () => {
  assert.deepEqual(await locateFunction(trainDefault), { module: tsFixture, export: 'default' })
})

test('a function exported under another name is found by that name', async () => {
  assert.deepEqual(await locateFunction(renamedTrain), { module: tsFixture, export: 'renamedTrain' })
})

test('plain .mjs modules work, named and default', async () => {
  const plain = (await import(mjsFixture)) as Record<string, AnyFunction>
  assert.deepEqual(await locateFunction(plain.trainPlain), { module: mjsFixture, export: 'trainPlain' })
  assert.deepEqual(await locateFunction(plain.default), { module: mjsFixture, export: 'default' })
})

test('the found reference loads the same function in a fresh import', async () => {
  const ref = await locateFunction(trainNamed)
  const namespace = (await import(ref.module)) as Record<string, unknown>
  assert.equal(namespace[ref.export], trainNamed)
})

test("tsx's per-process namespace query is dropped from the module URL", async () => {
  const namespaced = (await tsImport(fileURLToPath(tsFixture), import.meta.url)) as { trainNamed: AnyFunction }
  assert.notEqual(namespaced.trainNamed, trainNamed, 'tsImport loads a separate module instance')
  assert.deepEqual(await locateFunction(namespaced.trainNamed), { module: tsFixture, export: 'trainNamed' })
})

test('a function the module does not export is refused with its name and file:line', async () => {
  const line = lineOf(tsFixture, 'function hiddenTrain(')
  const error = await rejectsWith(locateFunction(getHiddenTrain()), 'EXPERIMENT_FUNCTION_NOT_EXPORTED', [
    '"hiddenTrain"',
    `test/fixtures/train-functions.ts:${line}`,
    'Executor processes import the training function from its module',
    'export',
  ])
  assert.match(error.message, /export async function hiddenTrain/)
})

test('an anonymous arrow in a closure is refused with the line of the arrow', async () => {
  const line = lineOf(tsFixture, 'params.lr * factor')
  await rejectsWith(locateFunction(makeAnonymousTrain(2)), 'EXPERIMENT_FUNCTION_NOT_EXPORTED', [
    `train-functions.ts:${line}`,
    'not exported',
  ])
})

test('a non-exported function of a .mjs module is refused with its line', async () => {
  const plain = (await import(mjsFixture)) as Record<string, () => AnyFunction>
  const line = lineOf(mjsFixture, 'function notExportedPlain(')
  await rejectsWith(locateFunction(plain.getNotExportedPlain()), 'EXPERIMENT_FUNCTION_NOT_EXPORTED', [
    '"notExportedPlain"',
    `train-functions.mjs:${line}`,
  ])
})

test('functions that live in no module file are refused', async () => {
  await rejectsWith(locateFunction(trainNamed.bind(null)), 'EXPERIMENT_FUNCTION_NOT_EXPORTED', ['not exported'])
  await rejectsWith(locateFunction(Math.max), 'EXPERIMENT_FUNCTION_NOT_EXPORTED', ['"max"'])
})

test('resolveFunctionRef takes an explicit { module, export }, as a URL or a path', async () => {
  assert.deepEqual(await resolveFunctionRef({ module: tsFixture, export: 'trainNamed' }), { module: tsFixture, export: 'trainNamed' })
  const path = fileURLToPath(mjsFixture)
  assert.deepEqual(await resolveFunctionRef({ module: path, export: 'trainPlain' }), { module: mjsFixture, export: 'trainPlain' })
  assert.deepEqual(await resolveFunctionRef(trainNamed), { module: tsFixture, export: 'trainNamed' })
})

test('resolveFunctionRef rejects a missing module and malformed references', async () => {
  await rejectsWith(resolveFunctionRef({ module: '/nonexistent/train.ts', export: 'train' }), 'EXPERIMENT_FUNCTION_MODULE_MISSING', [
    '/nonexistent/train.ts',
  ])
  await rejectsWith(resolveFunctionRef({ module: tsFixture } as never), 'EXPERIMENT_FUNCTION_INVALID', ['module, export'])
  await rejectsWith(resolveFunctionRef('train' as never), 'EXPERIMENT_FUNCTION_INVALID', ['"train"'])
})
