/**
 * Moved to src/util/vectors.ts (issue 16: shared helpers live at ground level). This re-export
 * only serves importers that are being edited elsewhere right now (cli/commands/embed.ts,
 * labels/coverage.ts, bench/); point them at util/vectors.js and delete this file.
 */
export * from '../util/vectors.js';
