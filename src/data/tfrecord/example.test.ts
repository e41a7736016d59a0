// tf.train.Example: exact bytes of a small Example, the hand-written decoders against
// protobufjs, and the wire-format rules (unpacked lists, unknown fields, merges, bad bytes).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import protobuf from 'protobufjs'
import { MaltError } from '../../errors.js'
import { SeededRandom } from '../../util/random.js'
import { EXAMPLE_PROTO, ExampleRowDecoder, decodeExample, encodeExample, exampleMessageType, type ExampleFeatures, type FeatureInput } from './example.js'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** Builds wire bytes by hand: `fields` of [fieldNumber, wireType, value]. */
function message(fields: Array<[number, 0 | 2 | 5, number | bigint | Uint8Array]>): Uint8Array {
  const writer = protobuf.Writer.create()
  for (const [field, wire, value] of fields) {
    writer.uint32((field << 3) | wire)
    if (wire === 0) writer.int64(typeof value === 'bigint' ? value.toString() : (value as number))
    else if (wire === 5) writer.float(value as number)
    else writer.bytes(value as Uint8Array)
  }
  return writer.finish()
}
const text = (value: string): Uint8Array => new TextEncoder().encode(value)
const entry = (name: string, feature: Uint8Array): Uint8Array => message([[1, 2, text(name)], [2, 2, feature]])
const example = (...entries: Uint8Array[]): Uint8Array => message([[1, 2, message(entries.map((e) => [1, 2, e]))]])

test('encodeExample writes the bytes the schema defines (packed int64, map entry, nesting)', () => {
  // Example{features{feature{key:"a" value{int64_list{value:[1]}}}}}, worked out by hand:
  // Int64List 0a 01 01 | Feature 1a 03 .. | entry 0a 01 61 12 05 .. | Features 0a 0a .. | Example 0a 0c ..
  assert.equal(hex(encodeExample({ a: { kind: 'int64', values: [1] } })), '0a0c0a0a0a0161120' + '51a030a0101')
  // FloatList of [1.5]: packed, little-endian float32 0x3fc00000.
  assert.equal(hex(encodeExample({ b: { kind: 'float', values: [1.5] } })), '0a0f0a0d0a0162120812060a040000c03f')
})

test('decodeExample reads every kind and agrees with protobufjs on random Examples', () => {
  const random = new SeededRandom(3)
  const type = exampleMessageType()
  for (let n = 0; n < 200; n++) {
    const input: Record<string, FeatureInput> = {}
    const features = random.nextInt(6)
    for (let f = 0; f < features; f++) {
      const length = random.nextInt(4)
      const name = `feature_${random.nextInt(1000)}_é`
      const kind = random.nextInt(3)
      if (kind === 0) input[name] = { kind: 'bytes', values: Array.from({ length }, () => Uint8Array.from({ length: random.nextInt(5) }, () => random.nextInt(256))) }
      else if (kind === 1) input[name] = { kind: 'float', values: Array.from({ length }, () => Math.fround(random.next() * 100 - 50)) }
      else input[name] = { kind: 'int64', values: Array.from({ length }, () => (random.nextInt(2) ? -random.nextInt(1e6) : 2n ** 62n + BigInt(random.nextInt(1e6)))) }
    }
    const bytes = encodeExample(input)
    const ours = decodeExample(bytes)
    // protobufjs as the independent decoder.
    const theirs = type.toObject(type.decode(bytes), { longs: String, bytes: Array, arrays: true }) as {
      features?: { feature?: Record<string, { bytes_list?: { value: number[][] }; float_list?: { value: number[] }; int64_list?: { value: string[] } }> }
    }
    const expected: Record<string, unknown> = {}
    for (const [name, feature] of Object.entries(theirs.features?.feature ?? {})) {
      if (feature.bytes_list) expected[name] = { kind: 'bytes', values: feature.bytes_list.value.map((v) => Uint8Array.from(v)) }
      else if (feature.float_list) expected[name] = { kind: 'float', values: Float32Array.from(feature.float_list.value) }
      else if (feature.int64_list) expected[name] = { kind: 'int64', values: feature.int64_list.value.map((v) => (Number.isSafeInteger(Number(v)) ? Number(v) : BigInt(v))) }
    }
    assert.deepEqual(ours, expected)
  }
})

test('int64 values: numbers while safe, bigints beyond, negatives as 10-byte varints', () => {
  const values = [0, 1, -1, 127, 128, -128, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, -(2 ** 53) + 1, 2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]
  const decoded = decodeExample(encodeExample({ v: { kind: 'int64', values } })).v
  assert.deepEqual(decoded, { kind: 'int64', values: values.map((v) => (typeof v === 'bigint' && v > -(2n ** 53n) && v < 2n ** 53n ? Number(v) : v)) })
})

test('unpacked float and int64 lists decode like packed ones, unknown fields are skipped', () => {
  const floats = message([[1, 5, 1.5], [1, 5, -2], [9, 0, 5]]) // Unpacked fixed32 values and an unknown varint.
  const ints = message([[1, 0, 7], [1, 0, -3n], [1, 2, message([]).subarray(0, 0)]]) // Unpacked varints, then an empty packed run.
  const bytes = example(
    entry('f', message([[2, 2, floats], [7, 2, text('ignored')]])),
    entry('i', message([[3, 2, ints]])),
  )
  const decoded = decodeExample(message([[5, 0, 1], [1, 2, bytes.subarray(2)]])) // An unknown field before Features.
  assert.deepEqual(decoded, { f: { kind: 'float', values: Float32Array.from([1.5, -2]) }, i: { kind: 'int64', values: [7, -3] } })
  const row = new ExampleRowDecoder().decode(bytes)
  assert.deepEqual(row, { f: [1.5, -2], i: [7, -3] })
})

test('protobuf merge rules: a repeated name wins last, lists of one kind concatenate, another kind replaces', () => {
  const floatList = (...values: number[]): Uint8Array => message([[2, 2, message(values.map((v) => [1, 5, v] as [1, 5, number]))]])
  const int64List = (...values: number[]): Uint8Array => message([[3, 2, message(values.map((v) => [1, 0, v] as [1, 0, number]))]])
  const bytes = example(
    entry('a', floatList(1)),
    entry('a', floatList(2)),
    entry('b', message([[2, 2, message([[1, 5, 1]])], [2, 2, message([[1, 5, 2]])]])),
    entry('c', message([[2, 2, message([[1, 5, 1]])], [3, 2, message([[1, 0, 9]])]])),
    entry('d', int64List(4)),
    entry('d', new Uint8Array(0)), // A Feature with no kind: the name is left out.
  )
  assert.deepEqual(decodeExample(bytes), {
    a: { kind: 'float', values: Float32Array.from([2]) },
    b: { kind: 'float', values: Float32Array.from([1, 2]) },
    c: { kind: 'int64', values: [9] },
  })
  assert.deepEqual(new ExampleRowDecoder().decode(bytes), { a: 2, b: [1, 2], c: 9 })
})

test('rows: one-value lists become scalars unless keepLists; bytes as copies or strings; __proto__ stays data', () => {
  const bytes = encodeExample({
    x: { kind: 'float', values: [0.5, 1.5] },
    y: { kind: 'float', values: [3] },
    n: { kind: 'int64', values: [42] },
    s: { kind: 'bytes', values: [text('héllo')] },
    e: { kind: 'float', values: [] },
    ['__proto__']: { kind: 'int64', values: [1] }, // A computed key: an own property, not the prototype.
  })
  const row = new ExampleRowDecoder().decode(bytes)
  assert.deepEqual(Object.keys(row), ['x', 'y', 'n', 's', 'e', '__proto__'])
  assert.equal(Object.getPrototypeOf(row), Object.prototype)
  assert.deepEqual({ ...row }, { x: [0.5, 1.5], y: 3, n: 42, s: text('héllo'), e: [], ['__proto__']: 1 })
  assert.equal((row.s as Uint8Array).constructor, Uint8Array)
  assert.notEqual((row.s as Uint8Array).buffer, bytes.buffer) // A copy, not a view of the record.
  const lists = new ExampleRowDecoder({ keepLists: true, bytesAsString: true }).decode(bytes)
  assert.deepEqual(lists.y, [3])
  assert.deepEqual(lists.s, ['héllo'])
})

test('one row decoder gives the same rows as decodeExample across changing sets of names', () => {
  const decoder = new ExampleRowDecoder({ keepLists: true })
  const toRow = (features: ExampleFeatures): Record<string, unknown> =>
    Object.fromEntries(Object.entries(features).map(([k, f]) => [k, f.kind === 'float' ? Array.from(f.values) : f.values]))
  const inputs: Array<Record<string, FeatureInput>> = [
    { a: { kind: 'float', values: [1] }, b: { kind: 'int64', values: [2] } },
    { a: { kind: 'float', values: [3] }, b: { kind: 'int64', values: [4] } },
    { b: { kind: 'int64', values: [5] }, a: { kind: 'float', values: [6] } },
    { a: { kind: 'float', values: [7] } },
    { a: { kind: 'float', values: [8] }, b: { kind: 'int64', values: [9] }, c: { kind: 'bytes', values: [text('z')] } },
    { a: { kind: 'float', values: [10] }, b: { kind: 'int64', values: [11] } },
  ]
  for (const input of inputs) {
    const bytes = encodeExample(input)
    const row = decoder.decode(bytes)
    assert.deepEqual(row, toRow(decodeExample(bytes)))
    assert.deepEqual(Object.keys(row), Object.keys(input))
  }
})

test('rows of records that repeat a layout: the same as decodeExample, whatever changes between them', () => {
  // Runs of one layout (read from it after the first record), broken by changes in key order,
  // list lengths, int64 varint lengths (bigints too), and a bytes feature (never a layout).
  const random = new SeededRandom(5)
  const ints = [0, 1, 127, 128, -1, 2 ** 53, 2n ** 60n, -(2n ** 63n), 300]
  for (const keepLists of [false, true]) {
    const decoder = new ExampleRowDecoder({ keepLists })
    const toRow = (features: ExampleFeatures): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(features).map(([k, f]) => {
          const values = f.kind === 'float' ? Array.from(f.values) : f.values
          return [k, !keepLists && values.length === 1 ? values[0] : values]
        }),
      )
    for (let i = 0; i < 400; i++) {
      const run = Math.floor(i / 25)
      const input: Record<string, FeatureInput> = {
        x: { kind: 'float', values: [random.next()] },
        xs: { kind: 'float', values: Array.from({ length: 1 + (run % 3) }, () => random.next() * 100 - 50) },
        n: { kind: 'int64', values: [ints[(i * 7) % ints.length]] },
        ns: { kind: 'int64', values: run % 2 ? [300, 1] : [1, 300] },
      }
      if (run % 4 === 3) input.s = { kind: 'bytes', values: [text(`row ${i}`)] }
      const entries = Object.entries(input)
      const bytes = encodeExample(Object.fromEntries(run % 5 === 4 ? entries.reverse() : entries))
      const row = decoder.decode(bytes)
      assert.deepEqual(row, toRow(decodeExample(bytes)), `record ${i}`)
      assert.deepEqual(Object.keys(row), Object.keys(decodeExample(bytes)))
    }
  }
})

test('a record that matches a layout in length but not in bytes is decoded in full', () => {
  const decoder = new ExampleRowDecoder()
  const a = encodeExample({ ab: { kind: 'float', values: [1] }, c: { kind: 'int64', values: [1, 1, 1] } })
  const b = encodeExample({ ab: { kind: 'float', values: [2] }, c: { kind: 'int64', values: [300, 1] } })
  const c = encodeExample({ ba: { kind: 'float', values: [3] }, c: { kind: 'int64', values: [1, 1, 1] } })
  assert.equal(a.length, b.length)
  assert.equal(a.length, c.length)
  assert.deepEqual(decoder.decode(a), { ab: 1, c: [1, 1, 1] })
  assert.deepEqual(decoder.decode(a), { ab: 1, c: [1, 1, 1] })
  assert.deepEqual(decoder.decode(b), { ab: 2, c: [300, 1] })
  assert.deepEqual(decoder.decode(c), { ba: 3, c: [1, 1, 1] })
  assert.deepEqual(decoder.decode(a), { ab: 1, c: [1, 1, 1] })
})

test('malformed bytes throw TFRECORD_BAD_EXAMPLE with the offset inside the record', () => {
  const good = encodeExample({ x: { kind: 'float', values: [1, 2, 3] } })
  const cases: Array<[Uint8Array, RegExp]> = [
    [good.subarray(0, good.length - 3), /runs past the end/],
    [Uint8Array.from([0x0a, 0x05, 0x0a]), /runs past the end/],
    [Uint8Array.from([0x0b]), /unsupported wire type 3/],
    [Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /varint/],
  ]
  for (const [bytes, pattern] of cases) {
    for (const decode of [(b: Uint8Array) => decodeExample(b), (b: Uint8Array) => new ExampleRowDecoder().decode(b)]) {
      assert.throws(() => decode(bytes), (error: unknown) => {
        assert.ok(error instanceof MaltError)
        assert.equal(error.code, 'TFRECORD_BAD_EXAMPLE')
        assert.match(error.message, /at byte \d+ of the record/)
        assert.match(error.message, pattern)
        return true
      })
    }
  }
  assert.deepEqual(decodeExample(new Uint8Array(0)), {}) // An empty message is a valid, empty Example.
})

test('protoc (an independent implementation) reads our bytes and we read its bytes', () => {
  // .ci/run installs protoc; a machine without it fails here rather than skipping the check.
  assert.equal(spawnSync('protoc', ['--version']).status, 0, 'protoc is missing: apt-get install protobuf-compiler')
  const dir = mkdtempSync(join(tmpdir(), 'malt-'))
  try {
    writeFileSync(join(dir, 'example.proto'), EXAMPLE_PROTO)
    const protoc = (mode: string, input: Uint8Array | string): Buffer => {
      const run = spawnSync('protoc', [`--${mode}=tensorflow.Example`, `--proto_path=${dir}`, 'example.proto'], { input })
      assert.equal(run.status, 0, run.stderr.toString())
      return run.stdout
    }
    const ours = encodeExample({ n: { kind: 'int64', values: [-7, 2n ** 62n] }, x: { kind: 'float', values: [1.5, -2] }, s: { kind: 'bytes', values: [text('hi')] } })
    const printed = protoc('decode', ours).toString().replace(/\s+/g, ' ')
    assert.match(printed, /key: "n" value \{ int64_list \{ value: -7 value: 4611686018427387904 \} \}/)
    assert.match(printed, /key: "x" value \{ float_list \{ value: 1.5 value: -2 \} \}/)
    assert.match(printed, /key: "s" value \{ bytes_list \{ value: "hi" \} \}/)
    const theirs = protoc('encode', 'features { feature { key: "a" value { int64_list { value: [3, -1] } } } feature { key: "b" value { float_list { value: [0.25] } } } }')
    assert.deepEqual(decodeExample(theirs), { a: { kind: 'int64', values: [3, -1] }, b: { kind: 'float', values: Float32Array.from([0.25]) } })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
