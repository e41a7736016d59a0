// The shared-secret handshake that opens every ring connection, so only the run's workers join:
// each side proves it holds the secret with an HMAC-SHA256 over both sides' fresh nonces and the
// place it claims in the ring, and checks the other's proof in constant time.
//
//   acceptor → connector: ServerHello  "MALTRNG1" · server nonce (32)                      40 bytes
//   connector → acceptor: ClientProof  "MALTRNG1" · client nonce (32) · size · client rank
//                                      · server rank (u32 LE each) · HMAC("client" …) (32)  84 bytes
//   acceptor → connector: Verdict      1 (accepted) or 0 (refused) · HMAC("server" …) (32)  33 bytes
//
// HMAC(label …) = HMAC-SHA256(secret, label · server nonce · client nonce · size · client rank ·
// server rank · ring id). The labels differ so one side's proof cannot be replayed as the other's;
// the nonces make every proof single-use.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

const MAGIC = Buffer.from('MALTRNG1', 'latin1')
const NONCE_BYTES = 32
const MAC_BYTES = 32

export const SERVER_HELLO_BYTES = MAGIC.length + NONCE_BYTES
export const CLIENT_PROOF_BYTES = MAGIC.length + NONCE_BYTES + 12 + MAC_BYTES
export const VERDICT_BYTES = 1 + MAC_BYTES

/** Where a connection sits in the ring: the connector (client) is the acceptor's (server's) left neighbour. */
export interface LinkIdentity {
  ringId: string
  size: number
  clientRank: number
  serverRank: number
}

/** A fresh random nonce. */
export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES)
}

/** size · client rank · server rank, u32 little-endian each. */
function linkNumbers(link: LinkIdentity): Buffer {
  const numbers = Buffer.alloc(12)
  numbers.writeUInt32LE(link.size, 0)
  numbers.writeUInt32LE(link.clientRank, 4)
  numbers.writeUInt32LE(link.serverRank, 8)
  return numbers
}

function mac(secret: Uint8Array, label: 'client' | 'server', serverNonce: Uint8Array, clientNonce: Uint8Array, link: LinkIdentity): Buffer {
  return createHmac('sha256', secret)
    .update(label)
    .update(serverNonce)
    .update(clientNonce)
    .update(linkNumbers(link))
    .update(link.ringId, 'utf8')
    .digest()
}

function sameMac(expected: Buffer, received: Uint8Array): boolean {
  return received.length === expected.length && timingSafeEqual(expected, received)
}

/** The acceptor's first message. */
export function serverHello(serverNonce: Uint8Array): Buffer {
  return Buffer.concat([MAGIC, serverNonce])
}

/** The server nonce of a ServerHello, or undefined when the bytes are not one. */
export function readServerHello(bytes: Uint8Array): Buffer | undefined {
  const message = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (message.length !== SERVER_HELLO_BYTES || !message.subarray(0, MAGIC.length).equals(MAGIC)) return undefined
  return Buffer.from(message.subarray(MAGIC.length))
}

/** The connector's proof that it holds `secret` and is `link.clientRank`. */
export function clientProof(secret: Uint8Array, serverNonce: Uint8Array, clientNonce: Uint8Array, link: LinkIdentity): Buffer {
  return Buffer.concat([MAGIC, clientNonce, linkNumbers(link), mac(secret, 'client', serverNonce, clientNonce, link)])
}

/** What a ClientProof claims; `mac` is checked by {@link verifyClientProof}. */
export interface ClaimedProof {
  clientNonce: Buffer
  size: number
  clientRank: number
  serverRank: number
  mac: Buffer
}

/** Parses a ClientProof; undefined when the bytes are not one. */
export function readClientProof(bytes: Uint8Array): ClaimedProof | undefined {
  const message = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (message.length !== CLIENT_PROOF_BYTES || !message.subarray(0, MAGIC.length).equals(MAGIC)) return undefined
  let at = MAGIC.length
  const clientNonce = Buffer.from(message.subarray(at, (at += NONCE_BYTES)))
  const size = message.readUInt32LE(at)
  const clientRank = message.readUInt32LE(at + 4)
  const serverRank = message.readUInt32LE(at + 8)
  return { clientNonce, size, clientRank, serverRank, mac: Buffer.from(message.subarray(at + 12)) }
}

/** True when the proof was made with `secret` for exactly `link` and this server nonce. */
export function verifyClientProof(secret: Uint8Array, serverNonce: Uint8Array, proof: ClaimedProof, link: LinkIdentity): boolean {
  // Always compute and compare the MAC, even when the claimed place is wrong, so timing says nothing.
  const macOk = sameMac(mac(secret, 'client', serverNonce, proof.clientNonce, link), proof.mac)
  return macOk && proof.size === link.size && proof.clientRank === link.clientRank && proof.serverRank === link.serverRank
}

/** The acceptor's answer: accepted with its own proof, or refused. */
export function verdict(accepted: boolean, secret: Uint8Array, serverNonce: Uint8Array, clientNonce: Uint8Array, link: LinkIdentity): Buffer {
  if (!accepted) return Buffer.alloc(VERDICT_BYTES)
  return Buffer.concat([Buffer.from([1]), mac(secret, 'server', serverNonce, clientNonce, link)])
}

/** How the connector reads the verdict: accepted (and the acceptor proved the secret), refused, or a bad proof. */
export function readVerdict(
  bytes: Uint8Array,
  secret: Uint8Array,
  serverNonce: Uint8Array,
  clientNonce: Uint8Array,
  link: LinkIdentity,
): 'accepted' | 'refused' | 'bad-proof' {
  if (bytes.length !== VERDICT_BYTES || bytes[0] !== 1) return bytes[0] === 0 ? 'refused' : 'bad-proof'
  return sameMac(mac(secret, 'server', serverNonce, clientNonce, link), bytes.subarray(1)) ? 'accepted' : 'bad-proof'
}

/** The secret as bytes: a string is taken as UTF-8. */
export function secretBytes(secret: string | Uint8Array): Uint8Array {
  return typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret
}
