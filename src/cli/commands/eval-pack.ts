/**
 * `edgebind eval --pack DIR --data DIR [--labels FILE.json] [--json]`: how well a pack does on
 * simulated recordings (src/sim/eval.ts); `--report FILE` writes the markdown report.
 */
import type { Command } from 'commander';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { evaluatePack, type EvalResult } from '../../sim/eval.js';
import { evaluateReal, loadRealCard, type RealEvalResult } from '../../sim/real-audio.js';
import { REPORT_THRESHOLD, renderReport } from '../../sim/report.js';
import type { SimClass } from '../../sim/classes.js';
import { reportAndExit } from '../errors.js';
import { confusionSvg, scoreDistributionSvg } from '../plots.js';
import { progress } from '../progress.js';

interface EvalCliOptions {
  pack: string;
  data: string;
  labels?: string;
  json?: boolean;
  baseline?: string;
  report?: string;
  config?: string;
  events: boolean;
  history: boolean;
  realCard?: string;
  realClips: string;
  realBaseline?: string;
}

/** A share as a percentage; a figure these scenes cannot give (no windows, too few scenes) is "–". */
const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(1) : '–');

function summary(r: EvalResult): string {
  let unmeasured = false;
  const f = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => {
        if (!Number.isFinite(v)) unmeasured = true;
        return `${k} ${pct(v)}`;
      })
      .join(', ');
  const lines = [
    `pack ${r.pack.id} ${r.pack.version} on ${r.scenes} scenes`,
    `zero-shot top-1 (canonical): ${f(r.zeroShotTop1)}`,
    `zero-shot top-1 (paraphrased): ${f(r.zeroShotTop1Paraphrased)}`,
    `retrieval R@1: ${f(r.retrievalR1)}`,
    ...Object.entries(r.fewShot).map(([m, v]) => `few-shot ${m}: ${f(v)}`),
  ];
  if (r.events) {
    lines.push(
      `events: precision ${pct(r.events.precision)}, recall ${pct(r.events.recall)} ` +
        `(${r.events.events} events, ${r.events.incidents} incidents, ${r.events.falsePerTenMinutes.toFixed(1)} false / 10 min)`,
    );
  }
  const h = r.historySearch;
  if (h) {
    const text = Object.entries(h.text)
      .map(([c, t]) => `${c} ${t.precisionAtK.toFixed(1)}`)
      .join(', ');
    const cm = h.crossModal;
    lines.push(
      `history search, text precision@${h.k}: ${text}`,
      `history search, audio → thermal (${cm.queries} incidents): same incident first ${pct(cm.sameIncidentAt1)}, ` +
        `in the first ${h.k} ${pct(cm.sameIncidentAtK)}; precision@${h.k} (its class) ${pct(cm.classPrecisionAtK)}`,
    );
  }
  if (unmeasured)
    lines.push(
      '– : not measurable on these scenes (no window of that modality or class, or no scene left to query once k examples per class are drawn); ' +
        'write more, e.g. `edgebind simulate --scenario all --repeat 3 --out DIR`',
    );
  return lines.join('\n');
}

/**
 * The report's pictures as SVG files beside it: the confusion matrices
 * (`REPORT-confusion-audio.svg`, …) and the score distributions (`REPORT-scores.svg`); the report
 * links them by these relative names.
 */
async function writeReportImages(
  report: string,
  r: EvalResult,
): Promise<{ confusion: Record<string, string>; scores?: string }> {
  const stem = basename(report).replace(/\.md$/i, '');
  const what = `${r.pack.id} ${r.pack.version}`;
  const confusion: Record<string, string> = {};
  for (const [m, c] of Object.entries(r.confusion)) {
    const name = `${stem}-confusion-${m}.svg`;
    await writeFile(
      join(dirname(report), name),
      await confusionSvg({ title: `${what}: ${m}, zero-shot (canonical prompts)`, ...c }),
    );
    confusion[m] = name;
  }
  const histograms = Object.entries(r.scores)
    .filter(([, h]) => h.shown.some((n) => n > 0))
    .map(([modality, h]) => ({ modality, ...h }));
  if (histograms.length === 0) return { confusion };
  const scores = `${stem}-scores.svg`;
  await writeFile(
    join(dirname(report), scores),
    await scoreDistributionSvg({
      title: `${what}: label scores, window shows the label or not`,
      threshold: REPORT_THRESHOLD,
      histograms,
    }),
  );
  return { confusion, scores };
}

function realSummary(r: RealEvalResult): string {
  const per = Object.entries(r.perClassTop1)
    .map(([c, v]) => `${c} ${(100 * v).toFixed(1)}`)
    .join(', ');
  const fs = Object.entries(r.fewShot)
    .map(([k, v]) => `k=${k} ${(100 * v).toFixed(1)}`)
    .join(', ');
  return `real recordings (held-out packages): zero-shot top-1 ${(100 * r.zeroShotTop1).toFixed(1)} (${per}); few-shot ${fs}\n`;
}

export function registerEvalPack(program: Command): void {
  program
    .command('eval')
    .description('evaluate a model pack on simulated recordings (zero-shot, retrieval, few-shot, events)')
    .requiredOption('--pack <dir>', 'model pack directory, or "test" for the random-weight test pack')
    .requiredOption('--data <dir>', 'scenes written by `edgebind simulate`')
    .option('--labels <file>', 'JSON {"class": ["prompt", ...]} replacing the canonical prompts')
    .option('--json', 'print one JSON object')
    .option('--baseline <dir>', 'also evaluate this pack (comparison row in the report)')
    .option('--report <file>', 'write the markdown report here')
    .option('--config <file>', 'agent config for the events metric (default examples/demo.yaml)')
    .option('--no-events', 'skip running the agent (events metric)')
    .option('--no-history', 'skip the history search figures (text and cross-modal, this pack only)')
    .option(
      '--real-card <file>',
      'also evaluate on the held-out real recordings of this data card (train/data/real-audio.json)',
    )
    .option('--real-clips <dir>', 'where train/real_audio.py put the decoded clips', '.cache/real-audio')
    .option(
      '--real-baseline <file>',
      "JSON of an earlier pack on the same real split (`src/sim/real-audio.ts eval`), the report's baseline column",
    )
    .action(async (opts: EvalCliOptions) => {
      try {
        const labels = opts.labels
          ? (JSON.parse(await readFile(opts.labels, 'utf8')) as Partial<Record<SimClass, string[]>>)
          : undefined;
        const common = {
          data: opts.data,
          events: opts.events,
          ...(labels ? { labels } : {}),
          ...(opts.config ? { agentConfig: opts.config } : {}),
        };
        const bar = progress('eval', { enabled: !opts.json });
        const main = await evaluatePack({
          pack: opts.pack,
          ...common,
          history: opts.history,
          onProgress: (phase, done, total) => bar.update(phase, done, total),
        });
        const baseline = opts.baseline
          ? await evaluatePack({
              pack: opts.baseline,
              ...common,
              history: false,
              onProgress: (phase, done, total) => bar.update(`baseline: ${phase}`, done, total),
            })
          : null;
        bar.finish();
        let real: { main: RealEvalResult; baseline: RealEvalResult | null } | undefined;
        if (opts.realCard) {
          const card = loadRealCard(opts.realCard);
          real = {
            main: await evaluateReal({ pack: opts.pack, card, clipsDir: opts.realClips }),
            baseline: opts.realBaseline
              ? (JSON.parse(await readFile(opts.realBaseline, 'utf8')) as RealEvalResult)
              : null,
          };
        }
        if (opts.report) {
          const command =
            process.env.EDGEBIND_REPORT_COMMAND ?? `edgebind ${process.argv.slice(2).join(' ')}`;
          await mkdir(dirname(opts.report), { recursive: true });
          const images = await writeReportImages(opts.report, main);
          await writeFile(
            opts.report,
            renderReport(main, baseline, {
              command,
              data: opts.data,
              confusionImages: images.confusion,
              ...(images.scores ? { scoresImage: images.scores } : {}),
              ...(real ? { real } : {}),
            }),
          );
        }
        if (opts.json)
          console.log(
            JSON.stringify({ ...main, ...(baseline ? { baseline } : {}), ...(real ? { real } : {}) }),
          );
        else {
          if (real) console.log(realSummary(real.main));
          console.log(summary(main));
          if (baseline) console.log(`\ncomparison:\n${summary(baseline)}`);
        }
      } catch (err) {
        reportAndExit(err);
      }
    });
}
