// The early-stopping rules, one per file; each implements StoppingRule (../types.ts).
export { MedianStoppingRule, MEDIAN_STOPPING_DEFAULTS, type MedianStoppingOptions } from './median.js'
export { ASHA, ASHA_DEFAULTS, type AshaOptions } from './asha.js'
