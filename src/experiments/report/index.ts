// The experiment HTML report (`malt experiments report ID --html OUT`): a run directory read on
// its own and rendered as one self-contained page.
export { formatDuration, rankTrials, renderExperimentReport, renderReportHtml } from './html-report.js'
export { readRunForReport } from './read-run.js'
export type { ReportRun } from './read-run.js'
