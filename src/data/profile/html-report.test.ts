// Tests of the HTML report's markup: escaping of every data string, sections, drift flags.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { compareProfiles } from './drift.js'
import { renderProfileHtml } from './html-report.js'
import { profileDataset } from './profile.js'
import { escapeHtml } from './svg.js'
import { renderProfileText } from './text-report.js'

const EVIL = `<script>alert("x")</script>&'`

test('escapeHtml escapes the five HTML metacharacters', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
})

test('renderProfileHtml escapes column names, values and the data set name everywhere', async () => {
  const profile = await profileDataset(
    Array.from({ length: 50 }, (_v, i) => ({ [EVIL]: i, label: i % 2 ? EVIL : 'plain', img: Float32Array.from([i, 0]) })),
    { name: EVIL },
  )
  const html = renderProfileHtml(profile, undefined, { title: EVIL })
  assert.ok(!html.includes('<script'), 'no raw script tag')
  assert.ok(!html.includes(`"x")`), 'no raw quote from the data')
  const escaped = escapeHtml(EVIL)
  // Title, heading, data set name, column name, top-value label and its tooltip.
  assert.ok(html.split(escaped).length - 1 >= 5, 'the name appears escaped in every place')
  assert.match(html, /<h2>Numeric features \(1\)<\/h2>/)
  assert.match(html, /<h2>Categorical features \(1\)<\/h2>/)
  assert.match(html, /<h2>Vector features \(1\)<\/h2>/)
  assert.doesNotMatch(html, /class="drift-cell"|data set<\/th>/, 'no comparison columns for one data set')
  assert.match(html, /<svg class="chart histogram"[^>]*>(<rect class="bar series-a"[^>]* height="(?!0\.0")[\d.]+")/)
})

test('renderProfileHtml with a comparison shows both data sets and flags drifted columns', async () => {
  const a = await profileDataset(Array.from({ length: 300 }, (_v, i) => ({ x: i % 100, c: i % 2 ? 'u' : 'v' })), { name: 'train' })
  const b = await profileDataset(Array.from({ length: 300 }, (_v, i) => ({ x: (i % 100) + 60, c: i % 2 ? 'u' : 'v', y: 1 })), { name: 'test' })
  const comparison = compareProfiles(a, b)
  const html = renderProfileHtml(a, { profile: b, comparison })
  assert.match(html, /<tr class="group-start drifted" data-column="x" data-set="a" data-drift="true">/)
  assert.match(html, /<tr class="group-start" data-column="c" data-set="a">/)
  assert.match(html, /2 of 3 columns drifted:<\/strong> x, y/)
  assert.match(html, /In one data set only: y \(test\)/)
  assert.ok(html.includes('rect class="bar series-b"'), 'second data set drawn')
  assert.match(html, /train<\/span> <span class="muted">absent<\/span>/)
})

test('renderProfileText neutralises control characters from the data', async () => {
  const profile = await profileDataset([{ ['\u001b[31mred']: 'a\u0007' }])
  const text = renderProfileText(profile)
  assert.ok(!text.includes('\u001b') && !text.includes('\u0007'))
  assert.match(text, /\?\[31mred/)
})
