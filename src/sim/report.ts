/** models/mini/REPORT.md, generated from evaluation results (never edited by hand). */
import { SENSOR_MODALITIES } from '../pipeline/types.js';
import { observableClasses } from './classes.js';
import { ScoringSchema } from '../config/schema.js';
import { FEW_SHOT_K, RETRIEVAL_PAIRS, SCORE_BINS, SCORE_TEMPERATURE, type EvalResult } from './eval.js';
import { REAL_FEW_SHOT_K, type RealEvalResult } from './real-audio.js';
import type { HistoryRecallResult } from './history-recall.js';

const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)}`);
/** A modality with no window in the data was never timed: "–" as elsewhere, not "NaN ms". */
const msOrDash = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(2)} ms`;

export interface ReportContext {
  command: string;
  data: string;
  baselinePack?: string;
  extra?: string[];
  /** Per modality, the file name of its confusion matrix picture, relative to the report. */
  confusionImages?: Record<string, string>;
  /** The score distributions picture, relative to the report. */
  scoresImage?: string;
  /** Held-out real recordings (issue 13): this pack, and an earlier pack as the baseline. */
  real?: { main: RealEvalResult; baseline: RealEvalResult | null };
}

function renderReal(L: string[], real: NonNullable<ReportContext['real']>, sim: EvalResult): void {
  const { main, baseline } = real;
  const total = Object.values(main.clips).reduce((a, b) => a + b, 0);
  L.push('## Real recorded sounds (held-out packages)');
  L.push('');
  L.push(
    `${total} real recordings from Debian packages no training file came from (${main.packages.map((p) => `\`${p}\``).join(', ')};`,
  );
  L.push(
    'train/data/real-audio.md lists every file). Each clip is embedded as the agent hears it: 2 s windows (hop 1 s, at',
  );
  L.push(
    'most 8), mean of the window embeddings; a clip shorter than 2 s sits in one window of quiet noise. Zero-shot:',
  );
  L.push('nearest canonical prompt among all 12 classes. The simulator column is the audio row below.');
  L.push('');
  const b = baseline;
  L.push(
    `| class | clips | zero-shot top-1, this pack${b ? ` | before (${b.pack.id} ${b.pack.version}, simulator only)` : ''} |`,
  );
  L.push(`|---|---|---${b ? '|---' : ''}|`);
  for (const [c, n] of Object.entries(main.clips)) {
    L.push(`| ${c} | ${n} | ${pct(main.perClassTop1[c])}${b ? ` | ${pct(b.perClassTop1[c])}` : ''} |`);
  }
  L.push(
    `| **all (clip-weighted)** | ${total} | **${pct(main.zeroShotTop1)}**${b ? ` | ${pct(b.zeroShotTop1)}` : ''} |`,
  );
  L.push(
    `| all (class-balanced) | | ${pct(main.zeroShotBalanced)}${b ? ` | ${pct(b.zeroShotBalanced)}` : ''} |`,
  );
  L.push('');
  L.push(
    'Few-shot on the same clips (nearest prototype of k clips per class, among classes with more than k clips, 20 draws;',
  );
  L.push('queries are the other clips):');
  L.push('');
  L.push(
    '| pack | ' +
      REAL_FEW_SHOT_K.map((k) => `k=${k}`).join(' | ') +
      ' | simulator zero-shot (audio, canonical / paraphrased) |',
  );
  L.push('|---|' + REAL_FEW_SHOT_K.map(() => '---').join('|') + '|---|');
  L.push(
    `| this pack | ${REAL_FEW_SHOT_K.map((k) => pct(main.fewShot[String(k)])).join(' | ')} | ${pct(sim.zeroShotTop1.audio)} / ${pct(sim.zeroShotTop1Paraphrased.audio)} |`,
  );
  if (b)
    L.push(
      `| before | ${REAL_FEW_SHOT_K.map((k) => pct(b.fewShot[String(k)])).join(' | ')} | ${pct(b.simulatorAudio?.canonical)} / ${pct(b.simulatorAudio?.paraphrased)} |`,
    );
  L.push('');
}

function renderHistorySearch(L: string[], h: HistoryRecallResult): void {
  const k = h.k;
  const tol = `±${h.toleranceMs / 1000} s`;
  L.push('## History search on simulated scenes');
  L.push('');
  L.push(
    `The agent replays all ${h.scenes} scenes one after another (a minute apart) into one embedding history, as a day of`,
  );
  L.push(
    `its would hold them (windows: ${Object.entries(h.windows)
      .map(([m, n]) => `${m} ${n}`)
      .join(', ')}), which is searched as \`edgebind history search\` searches it`,
  );
  L.push(
    `([docs/history.md](../../docs/history.md#search)). A moment is true when it overlaps (${tol}) a ground-truth interval of the`,
  );
  L.push(
    `class. Precision@${k}: of the first ${k} moments, the share that are true (a search that returns fewer counts the rest`,
  );
  L.push(
    `as misses), so a class with fewer than ${k} incidents cannot reach 1; found: the incidents the first ${k} overlap.`,
  );
  L.push('');
  L.push(`| class | prompt | incidents | precision@${k} | found in the first ${k} | first true moment |`);
  L.push('|---|---|---|---|---|---|');
  for (const [c, t] of Object.entries(h.text)) {
    L.push(
      `| ${c} | "${t.prompt}" | ${t.incidents} | ${t.precisionAtK.toFixed(1)} | ${t.incidentsFound} | ${t.firstTrueRank ?? '–'} |`,
    );
  }
  L.push('');
  const cm = h.crossModal;
  L.push(
    `Cross-modal: for each incident both audio and thermal observe, the mean of its audio windows (as \`--event\` and`,
  );
  L.push(
    `\`--example\` query) searched over thermal windows only. Same incident: its own thermal moment is first, or among`,
  );
  L.push(`the first ${k}; precision@${k}: the share of the first ${k} that are an incident of its class.`);
  L.push('');
  L.push(`| class | incidents | same incident in the first ${k} (%) | precision@${k} (%) |`);
  L.push('|---|---|---|---|');
  for (const [c, p] of Object.entries(cm.perClass)) {
    L.push(`| ${c} | ${p.queries} | ${pct(p.sameIncidentAtK)} | ${pct(p.classPrecisionAtK)} |`);
  }
  L.push(
    `| **all** | ${cm.queries} | ${pct(cm.sameIncidentAtK)} (first: ${pct(cm.sameIncidentAt1)}) | ${pct(cm.classPrecisionAtK)} |`,
  );
  L.push('');
}

/** Short column heads for the confusion tables: initials of the class name's words. */
const initials = (c: string) =>
  c
    .split('_')
    .map((w) => w[0])
    .join('');

function renderConfusion(L: string[], main: EvalResult, images: Record<string, string>): void {
  const entries = Object.entries(main.confusion ?? {}).filter(([, c]) =>
    c.counts.some((r) => r.some((v) => v > 0)),
  );
  if (entries.length === 0) return;
  L.push('## Confusion matrices (zero-shot, canonical prompts)');
  L.push('');
  L.push('Rows: the class a window shows; columns: the class its nearest prompt names (counts of windows).');
  L.push('');
  for (const [m, c] of entries) {
    L.push(`**${m}**`);
    L.push('');
    if (images[m]) {
      L.push(`![${m} confusion matrix](${images[m]})`);
      L.push('');
    }
    L.push(`| true class → predicted | ${c.classes.map((x) => `${initials(x)}`).join(' | ')} |`);
    L.push(`|---|${c.classes.map(() => '---').join('|')}|`);
    c.classes.forEach((x, i) => {
      L.push(
        `| ${x} (${initials(x)}) | ${c.counts[i]!.map((v, j) => (i === j ? `**${v}**` : String(v))).join(' | ')} |`,
      );
    });
    L.push('');
  }
}

/** The threshold the score distributions are read at: `scoring.threshold`'s default. */
export const REPORT_THRESHOLD: number = ScoringSchema.shape.threshold.parse(undefined);

function renderScores(L: string[], main: EvalResult, image: string | undefined): void {
  const entries = Object.entries(main.scores ?? {}).filter(([, h]) => h.shown.some((n) => n > 0));
  if (entries.length === 0) return;
  const from = Math.round(REPORT_THRESHOLD * SCORE_BINS);
  const atOrAbove = (bins: readonly number[]) => {
    const total = bins.reduce((a, b) => a + b, 0);
    return total > 0 ? bins.slice(from).reduce((a, b) => a + b, 0) / total : Number.NaN;
  };
  L.push('## Score distributions (zero-shot, canonical prompts)');
  L.push('');
  L.push(
    `Each window scored like the agent scores it: softmax at temperature ${SCORE_TEMPERATURE} (\`scoring.temperature\`'s default) of`,
  );
  L.push(
    'its cosines to the canonical prompts of the classes its modality observes, "an empty room" standing in for the',
  );
  L.push(
    'background prompts (the agent also applies prompt templates and your own background prompts, so its scores differ',
  );
  L.push(
    'somewhat). Then every label’s score, split by whether the window shows that label. A threshold does well where',
  );
  L.push(
    'most of the first group is at or above it and little of the second; per label it is `labels[].threshold`',
  );
  L.push('(default `scoring.threshold`), and `classify --plot` shows it on one recording.');
  L.push('');
  if (image) {
    L.push(`![score distributions](${image})`);
    L.push('');
  }
  L.push(
    `| modality | scores when shown | at or above ${REPORT_THRESHOLD} (%) | scores when not shown | at or above ${REPORT_THRESHOLD} (%) |`,
  );
  L.push('|---|---|---|---|---|');
  for (const [m, h] of entries) {
    const n = (b: readonly number[]) => b.reduce((a, x) => a + x, 0);
    L.push(
      `| ${m} | ${n(h.shown)} | ${pct(atOrAbove(h.shown))} | ${n(h.notShown)} | ${pct(atOrAbove(h.notShown))} |`,
    );
  }
  L.push('');
}

export function renderReport(main: EvalResult, baseline: EvalResult | null, ctx: ReportContext): string {
  const L: string[] = [];
  L.push(`# ${main.pack.id} ${main.pack.version}: evaluation report`);
  L.push('');
  L.push('Generated by `edgebind eval`; do not edit. Regenerate with:');
  L.push('');
  L.push('```sh');
  L.push(ctx.command);
  L.push('```');
  L.push('');
  L.push(
    `Data: ${main.scenes} simulated scenes in \`${ctx.data}\` (seeds disjoint from training). ` +
      `Windows per modality: ${SENSOR_MODALITIES.map((m) => `${m} ${main.windows[m]}`).join(', ')}. ` +
      'All embeddings come from the agent’s own encoder path (preprocessing → ONNX → postprocessing).',
  );
  L.push('');
  if (ctx.real) renderReal(L, ctx.real, main);
  L.push('## Emergent zero-shot top-1 (%)');
  L.push('');
  L.push(
    'Each window is classified among the classes its modality can observe (docs/simulator.md), by cosine',
  );
  L.push('to the text embedding of one prompt per class. Sensor encoders never saw text in training.');
  L.push('');
  L.push('| prompts | ' + SENSOR_MODALITIES.join(' | ') + ' |');
  L.push('|---|' + SENSOR_MODALITIES.map(() => '---').join('|') + '|');
  L.push(
    `| canonical (e.g. "a dog barking") | ${SENSOR_MODALITIES.map((m) => pct(main.zeroShotTop1[m])).join(' | ')} |`,
  );
  L.push(
    `| paraphrased, never seen in training | ${SENSOR_MODALITIES.map((m) => pct(main.zeroShotTop1Paraphrased[m])).join(' | ')} |`,
  );
  if (baseline) {
    L.push(
      `| text-paired encoders, canonical (comparison) | ${SENSOR_MODALITIES.map((m) => pct(baseline.zeroShotTop1[m])).join(' | ')} |`,
    );
    L.push(
      `| text-paired encoders, paraphrased (comparison) | ${SENSOR_MODALITIES.map((m) => pct(baseline.zeroShotTop1Paraphrased[m])).join(' | ')} |`,
    );
  }
  L.push(`| chance | ${SENSOR_MODALITIES.map((m) => pct(1 / observableClasses(m).length)).join(' | ')} |`);
  L.push('');
  L.push('Per class (canonical prompts):');
  L.push('');
  for (const m of SENSOR_MODALITIES) {
    const per = main.perClassTop1[m] ?? {};
    L.push(
      `- **${m}**: ${Object.entries(per)
        .map(([c, v]) => `${c} ${pct(v)}`)
        .join(', ')}`,
    );
  }
  L.push('');
  renderConfusion(L, main, ctx.confusionImages ?? {});
  renderScores(L, main, ctx.scoresImage);
  L.push('## Cross-modal retrieval R@1 (%)');
  L.push('');
  L.push('Query: a window of modality A; gallery: the windows of modality B taken at the same moments (only');
  L.push('classes both observe). A hit when the nearest B window shows the same class.');
  L.push('');
  L.push('| pair | image-anchored' + (baseline ? ' | text-paired' : '') + ' |');
  L.push('|---|---' + (baseline ? '|---' : '') + '|');
  for (const [a, b] of RETRIEVAL_PAIRS) {
    const k = `${a}->${b}`;
    L.push(
      `| ${a} → ${b} | ${pct(main.retrievalR1[k])}` +
        (baseline ? ` | ${pct(baseline.retrievalR1[k])}` : '') +
        ' |',
    );
  }
  L.push('');
  L.push('## Few-shot accuracy (%)');
  L.push('');
  L.push(
    'Nearest class prototype (mean of k example embeddings per class), 10 draws; queries come only from',
  );
  L.push('scenes no example was drawn from.');
  L.push('');
  L.push('| modality | ' + FEW_SHOT_K.map((k) => `k=${k}`).join(' | ') + ' |');
  L.push('|---|' + FEW_SHOT_K.map(() => '---').join('|') + '|');
  for (const m of SENSOR_MODALITIES) {
    L.push(`| ${m} | ${FEW_SHOT_K.map((k) => pct(main.fewShot[m]?.[String(k)])).join(' | ')} |`);
  }
  L.push('');
  L.push('## Events through the agent');
  L.push('');
  const ev = main.events;
  if (!ev) L.push('Not measured (no `demo` or `random` scenes in the data).');
  else {
    L.push(
      'The agent (`startAgent`, examples/demo.yaml labels, scoring and events settings, this pack) replays the',
    );
    L.push(
      '`demo` and `random` scenes; an event is correct when it is matched one-to-one to a ground-truth interval',
    );
    L.push('of its label that it overlaps (±1 s), as `edgebind eval-events` scores it.');
    L.push('');
    L.push('| pack | precision | recall | events | incidents | false events / 10 min |');
    L.push('|---|---|---|---|---|---|');
    const row = (name: string, e: NonNullable<EvalResult['events']>) =>
      `| ${name} | ${pct(e.precision)} | ${pct(e.recall)} | ${e.events} | ${e.incidents} | ${e.falsePerTenMinutes.toFixed(1)} |`;
    L.push(row('image-anchored', ev));
    if (baseline?.events) L.push(row('text-paired', baseline.events));
    L.push('');
    if (ev.missed.length > 0) L.push(`Missed: ${ev.missed.join('; ')}.`);
    if (ev.falseEvents.length > 0) L.push(`False events: ${ev.falseEvents.join('; ')}.`);
  }
  L.push('');
  if (main.historySearch) renderHistorySearch(L, main.historySearch);
  L.push('## Size and speed');
  L.push('');
  L.push(
    `Pack files: ${(main.packBytes / 1e6).toFixed(2)} MB. Median time to embed one window on this machine ` +
      '(agent preprocessing + ONNX, batch 1, one thread, CPU): ' +
      SENSOR_MODALITIES.map((m) => `${m} ${msOrDash(main.msPerWindow[m])}`).join(', ') +
      '. The ImageBind-size preprocessing (fbank, 224×224 resize) is most of it.',
  );
  L.push('');
  for (const line of ctx.extra ?? []) L.push(line);
  return `${L.join('\n').trimEnd()}\n`;
}
