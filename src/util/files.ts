// Small local-file checks shared by the model runtimes and the model exporter.
import { stat } from 'node:fs/promises'

/** True when `path` is a regular file (following links); false when missing or anything else. */
export async function isFile(path: string): Promise<boolean> {
  return stat(path).then((info) => info.isFile(), () => false)
}

/** True when something exists at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}
