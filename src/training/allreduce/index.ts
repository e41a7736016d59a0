// Ring all-reduce for synchronous data-parallel training (Horovod's design): workers form a ring
// through the driver, average gradients with a bandwidth-optimal all-reduce over TCP, fuse small
// tensors, and fail fast with the lost rank when a peer dies so a trainer can re-form the ring.
export { AllReduceRing, type AllReduceOptions } from './ring.js'
export { RingListener, RING_DEFAULTS, type RingJoinOptions, type RingListenerOptions } from './listener.js'
export { GradientReducer, DEFAULT_FUSION_BYTES, type GradientReducerOptions } from './fusion.js'
export { RingPeerLostError, type RingErrorCode } from './errors.js'
export type { ReduceOp } from './collective.js'
export {
  joinRing,
  formRing,
  readRingAssignment,
  RingMember,
  type FormRingOptions,
  type JoinRingOptions,
  type RingAddressMessage,
  type RingAssignmentMessage,
} from './rendezvous.js'
