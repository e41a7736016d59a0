// The quickstart's profile step: class balance, pixel statistics and train/test drift of an
// image data set, computed with the data layer's profiler and drift tests.
import type { MnistRow } from '../../data/sources/mnist.js'
import { profileDataset, compareProfiles, type Profile } from '../../data/profile/index.js'
import { MaltError } from '../../errors.js'

function asProfileRows(rows: readonly MnistRow[], classes: readonly string[]): Iterable<{ class: string; pixels: Float32Array }> {
  return rows.map((row) => ({ class: classes[row.label], pixels: row.image }))
}

function column(profile: Profile, name: string) {
  const found = profile.columns.find((candidate) => candidate.name === name)
  if (!found) throw new MaltError('PROFILE_MISSING_COLUMN', `profile of ${profile.name} has no column "${name}"`)
  return found
}

const thousands = (n: number): string => n.toLocaleString('en-US')

/** Lines describing both splits and how far apart they are. */
export async function summariseSplits(train: readonly MnistRow[], test: readonly MnistRow[], classes: readonly string[]): Promise<string[]> {
  const trainProfile = await profileDataset(asProfileRows(train, classes), { name: 'train' })
  const testProfile = await profileDataset(asProfileRows(test, classes), { name: 'test' })
  const lines: string[] = []

  const counts = (profile: Profile): Map<string, number> =>
    new Map((column(profile, 'class').categorical?.frequencies ?? []).map((entry) => [entry.value, entry.count]))
  const trainCounts = counts(trainProfile)
  const testCounts = counts(testProfile)
  lines.push(`classes (train/test images): ${classes.map((name) => `${name} ${thousands(trainCounts.get(name) ?? 0)}/${thousands(testCounts.get(name) ?? 0)}`).join(', ')}`)

  for (const profile of [trainProfile, testProfile]) {
    const pixels = column(profile, 'pixels').vector
    const stats = pixels?.elements
    if (!pixels || !stats) throw new MaltError('PROFILE_MISSING_COLUMN', `profile of ${profile.name} has no pixel statistics`)
    lines.push(
      `${profile.name!.padEnd(5)} pixels: ${pixels.minLength} per image, mean ${stats.mean.toFixed(3)}, std ${stats.std.toFixed(3)}, ` +
        `median ${stats.median.toFixed(3)}, ${((100 * stats.zeros) / stats.count).toFixed(1)}% zeros, range [${stats.min}, ${stats.max}]`,
    )
  }

  const comparison = compareProfiles(trainProfile, testProfile)
  for (const drift of comparison.columns) {
    lines.push(`drift train → test, ${drift.name}: ${drift.drifted ? 'DRIFT' : 'none'} (${drift.reason})`)
  }
  return lines
}
