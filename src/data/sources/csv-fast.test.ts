// Tests of readCsvTensors: exact float32 values against parseFloat on random data, layouts
// (CRLF, quotes, BOM, chunk boundaries), column selection, and file:line errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { SeededRandom } from '../../util/random.js'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import { csvTensors, readCsvTensors } from './csv-fast.js'

const dir = useTempDir()
const file = dir.file

/** A number written in one of many styles, to reach every branch of the parser. */
function randomNumberText(random: SeededRandom): string {
  const sign = ['', '-', '+'][random.nextInt(3)]
  const x = random.next() * 10 ** (random.nextInt(12) - 6)
  switch (random.nextInt(9)) {
    case 0:
      return `${sign}${x.toFixed(random.nextInt(8))}`
    case 1:
      return `${sign}${x.toExponential(random.nextInt(10))}`
    case 2:
      return `${sign}${(x * 1e6).toFixed(0)}e-${random.nextInt(40)}`
    case 3:
      return `${sign}${x.toPrecision(17 + random.nextInt(4))}` // too many digits for the fast path
    case 4:
      return `${sign}${random.nextInt(1000)}.${String(random.nextInt(1000)).padStart(3, '0')}E+${random.nextInt(45)}`
    case 5:
      return `${sign}.${random.nextInt(100000)}`
    case 6:
      return `${sign}${random.nextInt(100)}.`
    case 7:
      return `${sign}${String(random.nextInt(1e9)).padStart(12, '0')}` // leading zeros
    default:
      return `${sign}${random.next()}`
  }
}

test('random numbers of every style read exactly as Math.fround(parseFloat(text))', async () => {
  const random = new SeededRandom(7)
  const rows = 12_000 // ~2.5 MB: lines cross the 1 MiB stream chunks
  const columns = 20
  const texts: string[][] = []
  const lines = [Array.from({ length: columns }, (_v, i) => `c${i}`).join(',')]
  for (let r = 0; r < rows; r++) {
    const fields = Array.from({ length: columns }, () => randomNumberText(random))
    texts.push(fields)
    lines.push(fields.map((f, i) => (i % 7 === 3 ? `"${f}"` : f)).join(','))
  }
  const path = file('random.csv', `${lines.join('\n')}\n`)
  const data = await readCsvTensors(path)
  assert.equal(data.rows, rows)
  assert.equal(data.labels, undefined)
  assert.equal(data.features.length, rows * columns)
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const expected = Math.fround(Number.parseFloat(texts[r][c]))
      if (!Object.is(data.features[r * columns + c], expected)) {
        assert.fail(`row ${r} column ${c}: ${texts[r][c]} read as ${data.features[r * columns + c]}, expected ${expected}`)
      }
    }
  }
})

test('label by name, chosen features in the asked order, text columns skipped', async () => {
  const path = file('mixed.csv', 'id,x,name,y,label\n7,1.5,"Smith, J",-2,1\n8,2.5,"say ""hi""",-3,0\n')
  const data = await readCsvTensors(path, { label: 'label', features: ['y', 'x'] })
  assert.deepEqual([...data.features], [-2, 1.5, -3, 2.5])
  assert.deepEqual([...data.labels!], [1, 0])
  assert.deepEqual(data.featureColumns, ['y', 'x'])
  assert.equal(data.labelColumn, 'label')
  const byIndex = await readCsvTensors(path, { label: 4, features: [0, 1] })
  assert.deepEqual([...byIndex.features], [7, 1.5, 8, 2.5])
})

test('CRLF endings, a BOM, blank lines, spaces, nan/inf and no final newline', async () => {
  const path = file('crlf.csv', '\ufeffa,b\r\n1, 2 \r\n\r\n-0,nan\r\n-Infinity,1e400')
  const data = await readCsvTensors(path, { label: 'b' })
  assert.deepEqual(data.featureColumns, ['a'])
  assert.equal(data.rows, 3)
  assert.deepEqual([...data.features], [1, -0, -Infinity])
  assert.ok(Object.is(data.features[1], -0))
  assert.deepEqual([...data.labels!], [2, NaN, Infinity])
})

test('without a header, columns are col0.. and the first line is data', async () => {
  const path = file('nohead.csv', '1;2;3\n4;5;6\n')
  const data = await readCsvTensors(path, { header: false, delimiter: ';', label: 'col2' })
  assert.deepEqual(data.featureColumns, ['col0', 'col1'])
  assert.deepEqual([...data.features], [1, 2, 4, 5])
  assert.deepEqual([...data.labels!], [3, 6])
})

test('a non-numeric field is an error naming file, line and column', async () => {
  const path = file('text.csv', 'a,b,c\n1,2,3\n4,oops,6\n')
  await assert.rejects(readCsvTensors(path), (error: MaltError) => {
    assert.equal(error.code, 'CSV_BAD_VALUE')
    assert.match(error.message, /text\.csv:3: column "b" \(field 2\): expected a number, received "oops"/)
    assert.deepEqual(error.location, { file: path, line: 3, field: 'b' })
    return true
  })
  await assert.rejects(readCsvTensors(file('partial.csv', 'a\n1.5x\n')), /partial\.csv:2: column "a".*"1\.5x"/)
})

test('a row with the wrong number of fields is an error naming file and line', async () => {
  await assert.rejects(readCsvTensors(file('long.csv', 'a,b,c\n1,2,3\n1,2,3\n4,5,6,7\n')), (error: MaltError) => {
    assert.equal(error.code, 'CSV_BAD_ROW')
    assert.match(error.message, /long\.csv:4: expected 3 fields, found 4$/)
    return true
  })
  await assert.rejects(readCsvTensors(file('short.csv', 'a,b,c\n1,2\n')), /short\.csv:2: expected 3 fields, found 2$/)
})

test('empty fields are errors unless missing is "nan"', async () => {
  const path = file('empty.csv', 'a,b\n1,\n,2\n')
  await assert.rejects(readCsvTensors(path), /empty\.csv:2: column "b" \(field 2\): expected a number, received an empty field/)
  const data = await readCsvTensors(path, { missing: 'nan' })
  assert.deepEqual([...data.features], [1, NaN, NaN, 2])
})

test('bad options are rejected before reading', async () => {
  const path = file('opts.csv', 'a,b\n1,2\n')
  await assert.rejects(readCsvTensors(path, { label: 'zzz' }), /label names column "zzz", which .* does not have; its columns are a, b/)
  await assert.rejects(readCsvTensors(path, { label: 'a', features: ['a'] }), /feature column "a" is also the label/)
  await assert.rejects(readCsvTensors(path, { delimiter: '.' }), { code: 'CSV_BAD_OPTION' })
  await assert.rejects(readCsvTensors(dir.join('missing.csv')), { code: 'STORAGE_NOT_FOUND' })
})

test('a header alone gives zero rows; an empty file is an error naming it', async () => {
  const data = await readCsvTensors(file('head.csv', 'a,b,label\n'), { label: 'label' })
  assert.equal(data.rows, 0)
  assert.equal(data.features.length, 0)
  assert.equal(data.labels!.length, 0)
  assert.deepEqual(data.featureColumns, ['a', 'b'])
  const empty = file('nothing.csv', '')
  await assert.rejects(readCsvTensors(empty), (error: MaltError) => {
    assert.equal(error.code, 'CSV_EMPTY')
    assert.equal(error.message, `readCsvTensors: ${empty} is empty; expected a header line and rows of numbers`)
    assert.deepEqual(error.location, { file: empty })
    return true
  })
  await assert.rejects(readCsvTensors(empty, { header: false }), /nothing\.csv is empty; expected rows of numbers$/)
  await assert.rejects(readCsvTensors(file('bom.csv', '\ufeff')), { code: 'CSV_EMPTY' })
  await assert.rejects(readCsvTensors(file('blank.csv', '\n\r\n\n')), /blank\.csv is empty \(blank lines only\)/)
})

test('blank lines before the header are skipped and counted in line numbers', async () => {
  const path = file('late-header.csv', '\r\n\na,b\n1,2\n3,x\n')
  await assert.rejects(readCsvTensors(path), /late-header\.csv:5: column "b" \(field 2\): expected a number, received "x"/)
  const data = await readCsvTensors(file('late-data.csv', '\n\n1,2\n3,4\n'), { header: false })
  assert.deepEqual(data.featureColumns, ['col0', 'col1'])
  assert.deepEqual([...data.features], [1, 2, 3, 4])
})

test('a duplicate header name is the same error as csv() gives', async () => {
  await assert.rejects(readCsvTensors(file('dup.csv', '\na, a\n1,2\n')), (error: MaltError) => {
    assert.equal(error.code, 'CSV_BAD_HEADER')
    assert.match(error.message, /dup\.csv:2: column "a" appears twice in the header; rename one, or pass header: false$/)
    assert.equal(error.location?.field, 'a')
    return true
  })
})

test('csvTensors returns xs [rows, features] and ys [rows]', async () => {
  const { xs, ys, featureColumns } = await csvTensors(file('t.csv', 'a,b,y\n1,2,0\n3,4,1\n5,6,0\n'), { label: 'y' })
  try {
    assert.deepEqual(xs.shape, [3, 2])
    assert.deepEqual(ys!.shape, [3])
    assert.deepEqual(await xs.array(), [[1, 2], [3, 4], [5, 6]])
    assert.deepEqual(await ys!.array(), [0, 1, 0])
    assert.deepEqual(featureColumns, ['a', 'b'])
  } finally {
    xs.dispose()
    ys?.dispose()
  }
})
