// The handshake's proof: the server sends a random nonce, the client answers HMAC-SHA256(secret,
// nonce), so the secret never crosses the wire and an answer cannot be replayed on another connection.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { MaltError, describeValue } from '../../errors.js'

export const NONCE_BYTES = 32
export const PROOF_BYTES = 32

/** The shared secret as bytes; throws PS_BAD_OPTION for an empty or non-string/bytes one. */
export function secretBytes(secret: unknown, owner: string): Buffer {
  if (typeof secret === 'string' && secret.length > 0) return Buffer.from(secret, 'utf8')
  if (secret instanceof Uint8Array && secret.length > 0) return Buffer.from(secret)
  throw new MaltError('PS_BAD_OPTION', `${owner} option "secret" must be a non-empty string or Uint8Array; received ${secret instanceof Uint8Array ? 'empty bytes' : describeValue(secret)}`)
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES)
}

export function proofOf(secret: Uint8Array, nonce: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(nonce).digest()
}

/** True when `proof` is HMAC-SHA256(secret, nonce), compared in constant time. */
export function isValidProof(secret: Uint8Array, nonce: Uint8Array, proof: Uint8Array): boolean {
  const expected = proofOf(secret, nonce)
  return proof.byteLength === expected.byteLength && timingSafeEqual(expected, proof)
}
