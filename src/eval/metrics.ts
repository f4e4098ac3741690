/**
 * Event-level evaluation: detected events against ground-truth intervals, per label.
 *
 * An event matches a ground-truth interval of the same label when they overlap (each side
 * widened by `toleranceMs`). Matching is one-to-one, greedy by largest overlap. Precision =
 * matched events / events, recall = matched intervals / intervals; timing errors are
 * event start − truth start and event end − truth end over the matches (positive = late).
 */
import { z } from 'zod';

/** Slack when matching events to truth intervals, ms: `eval-events` and `eval` both use it. */
export const DEFAULT_TOLERANCE_MS = 1000;

export const TruthSchema = z.array(
  z
    .strictObject({
      label: z.string().min(1),
      startMs: z.number().min(0),
      endMs: z.number().min(0),
    })
    .refine((t) => t.endMs >= t.startMs, 'endMs must not be before startMs'),
);
export type TruthInterval = z.infer<typeof TruthSchema>[number];

/**
 * The truth file `edgebind simulate` writes (`truth.json`, as in samples/): the scene, and its
 * incidents in seconds. Only `events` matters here; the other keys are the simulator's.
 */
export const SceneTruthSchema = z.looseObject({
  events: z.array(
    z
      .looseObject({ label: z.string().min(1), startS: z.number().min(0), endS: z.number().min(0) })
      .refine((t) => t.endS >= t.startS, 'endS must not be before startS'),
  ),
});

/** A simulator truth file's incidents as truth intervals (ms). */
export function sceneTruthIntervals(scene: {
  readonly events: readonly { label: string; startS: number; endS: number }[];
}): TruthInterval[] {
  return scene.events.map((e) => ({ label: e.label, startMs: e.startS * 1000, endMs: e.endS * 1000 }));
}

/** An event reduced to what evaluation needs; times in ms from the recordings' start. */
export interface DetectedEvent {
  id: string;
  label: string;
  startMs: number;
  endMs: number;
  peakScore?: number;
}

export interface TimingError {
  /** Mean signed error (positive = the event is late), ms. */
  meanMs: number;
  /** Mean absolute error, ms. */
  meanAbsMs: number;
  maxAbsMs: number;
}

export interface LabelMetrics {
  label: string;
  truth: number;
  events: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  /** null when there were no events (nothing to be precise about). */
  precision: number | null;
  /** null when there was no ground truth for the label. */
  recall: number | null;
  f1: number | null;
  startError: TimingError | null;
  endError: TimingError | null;
}

export interface EvalMetrics {
  labels: LabelMetrics[];
  /** Summed over labels. */
  total: LabelMetrics;
  matches: { label: string; eventId: string; truth: TruthInterval }[];
}

export function evaluate(
  detected: readonly DetectedEvent[],
  truth: readonly TruthInterval[],
  opts: { toleranceMs?: number; labels?: readonly string[] } = {},
): EvalMetrics {
  const tol = opts.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  const names = [
    ...new Set([...(opts.labels ?? []), ...truth.map((t) => t.label), ...detected.map((d) => d.label)]),
  ].sort();
  const matches: EvalMetrics['matches'] = [];
  const rows = names.map((label): LabelMetrics => {
    const evs = detected.filter((d) => d.label === label);
    const gts = truth.filter((t) => t.label === label);
    const pairs: { e: number; t: number; overlap: number }[] = [];
    evs.forEach((e, i) =>
      gts.forEach((t, j) => {
        const overlap = Math.min(e.endMs, t.endMs + tol) - Math.max(e.startMs, t.startMs - tol);
        if (overlap >= 0) pairs.push({ e: i, t: j, overlap });
      }),
    );
    pairs.sort((a, b) => b.overlap - a.overlap || a.t - b.t || a.e - b.e);
    const usedE = new Set<number>();
    const usedT = new Set<number>();
    const starts: number[] = [];
    const ends: number[] = [];
    for (const p of pairs) {
      if (usedE.has(p.e) || usedT.has(p.t)) continue;
      usedE.add(p.e);
      usedT.add(p.t);
      const e = evs[p.e]!;
      const t = gts[p.t]!;
      starts.push(e.startMs - t.startMs);
      ends.push(e.endMs - t.endMs);
      matches.push({ label, eventId: e.id, truth: t });
    }
    return metricsRow({
      label,
      truth: gts.length,
      events: evs.length,
      matchedTruth: usedT.size,
      matchedEvents: usedE.size,
      starts,
      ends,
    });
  });
  const allStarts: number[] = [];
  const allEnds: number[] = [];
  for (const m of matches) {
    const e = detected.find((d) => d.id === m.eventId)!;
    allStarts.push(e.startMs - m.truth.startMs);
    allEnds.push(e.endMs - m.truth.endMs);
  }
  const total = metricsRow({
    label: 'all',
    truth: rows.reduce((a, r) => a + r.truth, 0),
    events: rows.reduce((a, r) => a + r.events, 0),
    matchedTruth: rows.reduce((a, r) => a + r.truePositives, 0),
    matchedEvents: rows.reduce((a, r) => a + (r.events - r.falsePositives), 0),
    starts: allStarts,
    ends: allEnds,
  });
  return { labels: rows, total, matches };
}

interface RowCounts {
  label: string;
  truth: number;
  events: number;
  matchedTruth: number;
  matchedEvents: number;
  /** Signed start and end errors of the matches, ms. */
  starts: number[];
  ends: number[];
}

function metricsRow({
  label,
  truth,
  events,
  matchedTruth,
  matchedEvents,
  starts,
  ends,
}: RowCounts): LabelMetrics {
  const precision = events > 0 ? matchedEvents / events : null;
  const recall = truth > 0 ? matchedTruth / truth : null;
  const f1 =
    precision !== null && recall !== null && precision + recall > 0
      ? (2 * precision * recall) / (precision + recall)
      : null;
  return {
    label,
    truth,
    events,
    truePositives: matchedTruth,
    falsePositives: events - matchedEvents,
    falseNegatives: truth - matchedTruth,
    precision,
    recall,
    f1,
    startError: timing(starts),
    endError: timing(ends),
  };
}

function timing(errors: number[]): TimingError | null {
  if (errors.length === 0) return null;
  return {
    meanMs: errors.reduce((a, b) => a + b, 0) / errors.length,
    meanAbsMs: errors.reduce((a, b) => a + Math.abs(b), 0) / errors.length,
    maxAbsMs: Math.max(...errors.map(Math.abs)),
  };
}

/** A fixed-width table: one row per label and a total row. */
export function formatMetrics(m: EvalMetrics): string {
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(2));
  const ms = (t: TimingError | null) =>
    t === null ? '-' : `${Math.round(t.meanMs)}±${Math.round(t.meanAbsMs)}`;
  const header = [
    'label',
    'truth',
    'events',
    'TP',
    'FP',
    'FN',
    'precision',
    'recall',
    'F1',
    'start ms',
    'end ms',
  ];
  const rows = [...m.labels, m.total].map((r) => [
    r.label,
    String(r.truth),
    String(r.events),
    String(r.truePositives),
    String(r.falsePositives),
    String(r.falseNegatives),
    f(r.precision),
    f(r.recall),
    f(r.f1),
    ms(r.startError),
    ms(r.endError),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...rows.slice(0, -1).map(line), sep, line(rows.at(-1)!)].join('\n');
}
