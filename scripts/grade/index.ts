/** policy-broker/grade: grade a broker, a packet server or an HTTP proxy from a program. */
export { grade, checksOf, TargetError, type GradeRequest, type Address } from './grade.js';
export { gradeOf, selectChecks, CheckSelectionError, type Check, type CheckResult, type Grade, type Outcome } from './check.js';
export { formatGrade, formatBatch, batchCsv, type BatchEntry } from './report.js';
export { parseManifest, loadManifest, runBatch, batchSummary, writeBatch, ManifestError, type ManifestEntry } from './batch.js';
export { GRADE_DEFAULTS, KINDS, type GradeSettings, type Kind } from './options.js';
