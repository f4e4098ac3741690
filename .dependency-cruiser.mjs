// @ts-check
/**
 * The import rules of src/ (docs/architecture.md explains them), checked by `npm run lint:layers`
 * in `npm test`: an import that goes up a layer, or a cycle, fails the build (issue 16).
 *
 * Layers, lowest first; a folder imports only from its own layer or below:
 *   ground    util/, errors.ts, log.ts, printable.ts (import nothing else from src/)
 *   pipeline  pipeline/ (message types, clock, windows, queues)
 *   config    config/ (the schema; its sensor union comes from sensors/schemas.ts alone)
 *   stages    sensors/, encoders/ (apart, except that encoders/ reads sensors/formats/)
 *   fusion    fusion/ (scoring, fusion across sensors, tracking); history/ (the embedding history,
 *             issue #18: after the encoders, beside fusion, neither imports the other); clips/
 *             (event clips, issue #18: raw sensor data kept around events, beside history)
 *   labels    labels/
 *   mqtt      mqtt/
 *   offline   eval/, sim/ (eval/ never imports sim/)
 *   root      main.ts (the composition root) and agent-types.ts (its contract), daemon/ (process
 *             services: config only)
 *   cli       cli/ (nothing imports it)
 */

const GROUND = '^src/(util/|errors[.]ts$|log[.]ts$|printable[.]ts$)';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No module imports itself through others (type-only imports included).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'ground-imports-ground',
      comment: 'util/, errors.ts, log.ts and printable.ts are the ground level: they import nothing above.',
      severity: 'error',
      from: { path: GROUND },
      to: { path: '^src/', pathNot: GROUND },
    },
    {
      name: 'pipeline-imports-ground',
      severity: 'error',
      from: { path: '^src/pipeline/' },
      to: { path: '^src/', pathNot: [GROUND, '^src/pipeline/'] },
    },
    {
      name: 'config-below-stages',
      comment: 'config/ takes the driver schemas from sensors/schemas.ts only, never a runtime module.',
      severity: 'error',
      from: { path: '^src/config/' },
      to: {
        path: '^src/(sensors|encoders|fusion|labels|mqtt|eval|sim|daemon|cli)/|^src/(main|agent-types)[.]ts$',
        pathNot: '^src/sensors/schemas[.]ts$',
      },
    },
    {
      name: 'stages-below-fusion',
      comment: 'sensors/ and encoders/ import ground, pipeline and config only.',
      severity: 'error',
      from: { path: '^src/(sensors|encoders)/' },
      to: { path: '^src/(fusion|history|labels|mqtt|eval|sim|daemon|cli)/|^src/(main|agent-types)[.]ts$' },
    },
    {
      name: 'sensors-and-encoders-apart',
      severity: 'error',
      from: { path: '^src/sensors/' },
      to: { path: '^src/encoders/' },
    },
    {
      name: 'encoders-and-sensors-apart',
      comment: 'encoders/ may read recordings through sensors/formats/ (file formats, no device code).',
      severity: 'error',
      from: { path: '^src/encoders/' },
      to: { path: '^src/sensors/', pathNot: '^src/sensors/formats/' },
    },
    {
      name: 'fusion-below-labels',
      severity: 'error',
      from: { path: '^src/fusion/' },
      to: { path: '^src/(history|labels|mqtt|eval|sim|daemon|cli)/|^src/(main|agent-types)[.]ts$' },
    },
    {
      name: 'history-below-labels',
      comment: 'history/ stores and searches embeddings: ground, pipeline, config and stages only.',
      severity: 'error',
      from: { path: '^src/history/' },
      to: { path: '^src/(fusion|labels|mqtt|eval|sim|daemon|cli)/|^src/(main|agent-types)[.]ts$' },
    },
    {
      name: 'clips-below-labels',
      comment: 'clips/ keeps raw data around events: ground, pipeline, config and stages only.',
      severity: 'error',
      from: { path: '^src/clips/' },
      to: { path: '^src/(fusion|history|labels|mqtt|eval|sim|daemon|cli)/|^src/(main|agent-types)[.]ts$' },
    },
    {
      name: 'labels-below-mqtt',
      severity: 'error',
      from: { path: '^src/labels/' },
      to: { path: '^src/(mqtt|eval|sim|daemon|cli)/|^src/(main|agent-types)[.]ts$' },
    },
    {
      name: 'mqtt-below-root',
      severity: 'error',
      from: { path: '^src/mqtt/' },
      to: { path: '^src/(eval|sim|daemon|cli)/|^src/(main|agent-types)[.]ts$' },
    },
    {
      name: 'eval-below-sim',
      comment: 'eval/ measures; sim/ (scenes, recordings) may use it, not the other way round.',
      severity: 'error',
      from: { path: '^src/eval/' },
      to: { path: '^src/(sim|daemon|cli)/' },
    },
    {
      name: 'sim-below-cli',
      severity: 'error',
      from: { path: '^src/sim/' },
      to: { path: '^src/(daemon|cli)/' },
    },
    {
      name: 'daemon-imports-config',
      comment: 'daemon/ (lock, reload, sd_notify, metrics) knows config and errors, no stage.',
      severity: 'error',
      from: { path: '^src/daemon/' },
      to: { path: '^src/', pathNot: [GROUND, '^src/(daemon|config|pipeline)/'] },
    },
    {
      name: 'main-is-the-root',
      comment: 'Only cli/ and the evaluation harness (eval/harness.ts) start the agent.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli/|eval/harness[.]ts$)' },
      to: { path: '^src/main[.]ts$' },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'only-session-loads-onnxruntime',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/encoders/session[.]ts$' },
      to: { path: 'node_modules/onnxruntime-node/' },
    },
    {
      name: 'only-buses-load-device-libraries',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/sensors/(bus/|probe[.]ts$)' },
      to: { path: 'node_modules/(serialport|i2c-bus|node-record-lpcm16)/' },
    },
    {
      name: 'only-mqtt-loads-brokers',
      comment: 'MQTT.js and aedes stay in mqtt/ (doctor connects to the broker itself).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(mqtt/|cli/commands/doctor[.]ts$)' },
      to: { path: 'node_modules/(mqtt|aedes)/' },
    },
    {
      name: 'no-dev-dependencies-in-src',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
