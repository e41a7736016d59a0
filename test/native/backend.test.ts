// The malt-native backend as a whole: it loads, TF.js runs on it, the thread knob works, and a
// missing addon leaves Malt on the CPU backend with a clear reason.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tf } from '../../src/backend/index.js'
import { nativeBackend } from '../../src/backend/native/index.js'
import { loadNativeAddon } from '../../src/backend/native/addon.js'
import { requireNativeBackend } from '../helpers/native.js'

test('Malt selects malt-native when the addon is built, on every core by default', async () => {
  await requireNativeBackend()
  assert.equal(tf.getBackend(), 'malt-native')
  assert.match(nativeBackend.versions.onednn, /^2\.\d+\.\d+$/)
  assert.ok(nativeBackend.threads >= 1)
})

test('the thread knob sets and reports oneDNN threads, and rejects nonsense', async () => {
  await requireNativeBackend()
  const before = nativeBackend.threads
  nativeBackend.setThreads(1)
  assert.equal(nativeBackend.threads, 1)
  nativeBackend.setThreads(before)
  assert.equal(nativeBackend.threads, before)
  assert.throws(() => nativeBackend.setThreads(0), /threads must be an integer from 1 to 1024, got 0/)
})

test('a missing addon file is reported, not thrown', () => {
  const loaded = loadNativeAddon('/nonexistent/malt_native.node')
  assert.equal(loaded.addon, undefined)
  assert.match('reason' in loaded ? loaded.reason : '', /addon not built \(\/nonexistent\/malt_native\.node missing\)/)
})
