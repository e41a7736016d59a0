// Unit tests of the output plumbing: the end-of-task marker is found even when split across
// chunks, never reaches the task's file, and the stderr tail keeps only the last bytes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MarkerSplitter, TailBuffer } from './output.js'
import { endOfOutputMarker } from './protocol.js'
import { describeCrash } from './crash.js'

function recorder(): { splitter: MarkerSplitter; task: () => string; other: () => string; markers: () => number } {
  const toTask: Buffer[] = []
  const toOther: Buffer[] = []
  let markers = 0
  const splitter = new MarkerSplitter(
    (chunk, forTask) => (forTask ? toTask : toOther).push(Buffer.from(chunk)),
    () => markers++,
  )
  return {
    splitter,
    task: () => Buffer.concat(toTask).toString(),
    other: () => Buffer.concat(toOther).toString(),
    markers: () => markers,
  }
}

test('output before the marker goes to the task, after it to no task', () => {
  const { splitter, task, other, markers } = recorder()
  splitter.expect(endOfOutputMarker('t1'))
  splitter.push(Buffer.from(`one\ntwo\n${endOfOutputMarker('t1')}stray\n`))
  assert.equal(task(), 'one\ntwo\n')
  assert.equal(other(), 'stray\n')
  assert.equal(markers(), 1)
  assert.equal(splitter.expecting, false)
})

test('a marker split into three chunks at any two points is still found and never leaks', () => {
  const marker = endOfOutputMarker('task-42')
  const text = Buffer.from(`last line\n${marker}after\n`)
  for (let first = 1; first < text.length; first++) {
    for (let second = first; second < text.length; second++) {
      const { splitter, task, other, markers } = recorder()
      splitter.expect(marker)
      for (const [from, to] of [[0, first], [first, second], [second, text.length]]) splitter.push(text.subarray(from, to))
      assert.equal(task(), 'last line\n', `cut at ${first} and ${second}`)
      assert.equal(other(), 'after\n', `cut at ${first} and ${second}`)
      assert.equal(markers(), 1)
    }
  }
})

test('a NUL byte that only looks like the start of a marker is passed on', () => {
  const { splitter, task } = recorder()
  splitter.expect(endOfOutputMarker('t'))
  splitter.push(Buffer.from('binary\u0000ma'))
  assert.equal(task(), 'binary', 'a possible marker start is held back')
  splitter.push(Buffer.from('ybe not\n'))
  assert.equal(task(), 'binary\u0000maybe not\n')
  splitter.stop()
  assert.equal(splitter.expecting, false)
})

test('stop hands over held-back bytes to the task when the process died', () => {
  const { splitter, task } = recorder()
  splitter.expect(endOfOutputMarker('t'))
  splitter.push(Buffer.from('dying\u0000'))
  splitter.stop()
  assert.equal(task(), 'dying\u0000')
})

test('the tail buffer keeps the last bytes only', () => {
  const tail = new TailBuffer(10)
  tail.append(Buffer.from('0123456789'))
  tail.append(Buffer.from('abc'))
  assert.equal(tail.text(), '3456789abc')
  tail.clear()
  assert.equal(tail.text(), '')
})

test('crash messages say how the process ended', () => {
  const base = { executorId: 'local-1', pid: 7, taskId: 't9', started: true, code: null, signal: null, stderr: '' }
  assert.equal(describeCrash({ ...base, code: 3 }), 'Executor local-1 (pid 7) exited with code 3 while running task t9.')
  assert.match(describeCrash({ ...base, signal: 'SIGKILL' }), /killed by signal SIGKILL.*out-of-memory killer/)
  const oom = describeCrash({
    ...base,
    signal: 'SIGABRT',
    stderr: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n----- Native stack trace -----\n 1: 0xb7 node::Abort()',
  })
  assert.match(oom, /ran out of memory while running task t9 and was killed by signal SIGABRT \(FATAL ERROR: Reached heap limit/)
  assert.doesNotMatch(oom, /node::Abort/)
  assert.match(describeCrash({ ...base, started: false, code: 1, stderr: 'Error: Cannot find package tsx' }), /before it could start task t9.*\n.*Last stderr output:\nError: Cannot find package tsx/s)
})
