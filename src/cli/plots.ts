/**
 * The pictures of issue 17 item 9, each a vega-lite spec rendered headless to SVG by vega (no
 * canvas, no native code):
 *  - `scoreTimelineSvg` (`classify --plot`): one panel per label — its score over time as the
 *    tracker saw it, its on- and off-threshold, and the events it produced as shaded spans;
 *  - `eventTimelineSvg` (`eval-events --plot`): one row per label, ground truth above and the
 *    detected events below, matched events in one colour and false ones in another;
 *  - `confusionSvg` (`eval --report`): a confusion matrix, true class × predicted class;
 *  - `scoreDistributionSvg` (`eval --report`): per modality, how a label scores when its class is
 *    shown against when it is not, with the threshold, to pick thresholds from.
 * Every SVG carries the vega-lite spec it was drawn from, data included, as JSON in
 * `<metadata id="vega-lite-spec">`, so a test (or a script) can read what a picture shows.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface ScoreSeries {
  label: string;
  /** Score at or above which a window counts as a match (`threshold`). */
  onThreshold: number;
  /** Score below which an open event counts a miss (`offThreshold`). */
  offThreshold: number;
  /** Window end (ms from the recording's start) and the score the tracker saw. */
  points: { tMs: number; score: number }[];
  /** Events the tracker produced, ms from the recording's start. */
  events: { startMs: number; endMs: number; endReason: string | null; peakScore: number }[];
}

export interface ScoreTimeline {
  title: string;
  /** Length of the time axis, ms. */
  durationMs: number;
  labels: ScoreSeries[];
}

/** Where the spec sits in every SVG written here. */
export const SPEC_METADATA_ID = 'vega-lite-spec';

const WIDTH = 820;
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

const COLOURS = {
  score: '#1d3557',
  on: '#d62828',
  off: '#2a9d8f',
  event: '#f4a261',
  truthFound: '#6c757d',
  truthMissed: '#ced4da',
  matched: '#2a9d8f',
  false: '#d62828',
  shown: '#2a9d8f',
  notShown: '#e76f51',
};

const CONFIG = {
  font: FONT,
  title: { fontSize: 15, anchor: 'start', offset: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e5e5e5' },
  legend: {
    labelFontSize: 12,
    titleFontSize: 12,
    orient: 'top',
    labelLimit: 400,
    titleLimit: 600,
    symbolOpacity: 1,
  },
  header: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: '#999999' },
} as const;

const secs = (ms: number) => Math.round(ms) / 1000;
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Compiles a vega-lite spec and renders it to a standalone SVG document: an XML declaration, a
 * `<title>`, and the spec (with its data) in `<metadata>`.
 */
export async function renderSvg(spec: TopLevelSpec, title: string): Promise<string> {
  const full = { config: CONFIG, background: 'white', ...spec } as TopLevelSpec;
  // Warnings (a channel a mark cannot take, say) go nowhere near the command's output.
  const quiet = vega.logger(vega.Error);
  const view = new vega.View(vega.parse(compile(full, { logger: quiet }).spec), {
    renderer: 'none',
    logLevel: vega.Error,
  });
  try {
    const svg = await view.toSVG();
    const open = svg.indexOf('>') + 1;
    return (
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      svg.slice(0, open) +
      `<title>${escapeXml(title)}</title>` +
      `<metadata id="${SPEC_METADATA_ID}">${escapeXml(JSON.stringify(spec))}</metadata>` +
      svg.slice(open) +
      '\n'
    );
  } finally {
    view.finalize();
  }
}

/** A colour legend for layers whose series are fixed names, in this order. */
const series = (title: string | null, items: readonly (readonly [string, string])[]) => ({
  scale: { domain: items.map(([n]) => n), range: items.map(([, c]) => c) },
  legend: title === null ? null : { title },
});

/** One label's events as the picture's data: seconds, peak and why each ended. */
const events = (s: ScoreSeries) =>
  s.events.map((e) => {
    const peak = Math.round(e.peakScore * 100) / 100;
    const ended = e.endReason ?? 'open';
    return {
      series: 'event',
      startS: secs(e.startMs),
      endS: secs(e.endMs),
      peak,
      ended,
      note: `peak ${e.peakScore.toFixed(2)}, ${ended}`,
    };
  });

/** `classify --plot`: per label, score line, both thresholds, events. */
export function scoreTimelineSvg(t: ScoreTimeline): Promise<string> {
  const durationS = Math.max(1, t.durationMs) / 1000;
  // The time axis is titled once, under the last panel.
  const xOf = (i: number) => ({
    scale: { domain: [0, durationS], nice: false },
    title: i === last ? 'time (s)' : null,
  });
  const colour = series('', [
    ['score', COLOURS.score],
    ['threshold (start)', COLOURS.on],
    ['offThreshold (end)', COLOURS.off],
    ['event', COLOURS.event],
  ]);
  // Same field and domain as the colour, so vega-lite draws one legend with dashed symbols.
  const dash = {
    scale: {
      domain: colour.scale.domain,
      range: [
        [1, 0],
        [6, 3],
        [2, 3],
        [1, 0],
      ],
    },
    legend: { title: '', symbolType: 'stroke', symbolStrokeWidth: 3, symbolSize: 300 },
  };
  const last = t.labels.length - 1;
  const panels = t.labels.map((s, i) => ({
    title: {
      text: s.label,
      subtitle: `threshold ${s.onThreshold} / offThreshold ${s.offThreshold}; ${s.events.length} event${s.events.length === 1 ? '' : 's'}`,
      fontSize: 13,
      subtitleFontSize: 11,
      subtitleColor: '#555555',
    },
    width: WIDTH,
    height: 90,
    layer: [
      {
        name: `p${i}_events`,
        data: { values: events(s) },
        mark: { type: 'rect', opacity: 0.45 },
        encoding: {
          x: { field: 'startS', type: 'quantitative', ...xOf(i) },
          x2: { field: 'endS' },
          color: { field: 'series', type: 'nominal', ...colour },
          tooltip: [{ field: 'startS' }, { field: 'endS' }, { field: 'peak' }, { field: 'ended' }],
        },
      },
      {
        name: `p${i}_score`,
        data: {
          values: s.points.map((p) => ({
            series: 'score',
            tS: secs(p.tMs),
            score: Math.min(1, Math.max(0, p.score)),
          })),
        },
        mark: { type: 'line', strokeWidth: 1.6, interpolate: 'linear' },
        encoding: {
          x: { field: 'tS', type: 'quantitative', ...xOf(i) },
          y: { field: 'score', type: 'quantitative', scale: { domain: [0, 1] }, title: 'score' },
          color: { field: 'series', type: 'nominal', ...colour },
          strokeDash: { field: 'series', type: 'nominal', ...dash },
        },
      },
      {
        name: `p${i}_thresholds`,
        data: {
          values: [
            { series: 'threshold (start)', value: s.onThreshold },
            { series: 'offThreshold (end)', value: s.offThreshold },
          ],
        },
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: {
          y: { field: 'value', type: 'quantitative', scale: { domain: [0, 1] } },
          color: { field: 'series', type: 'nominal', ...colour },
          strokeDash: { field: 'series', type: 'nominal', ...dash },
          tooltip: [{ field: 'series' }, { field: 'value' }],
        },
      },
      {
        // Written on the span, so the picture says it without hovering.
        name: `p${i}_notes`,
        data: { values: events(s) },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3, fontSize: 10, color: '#7a3e00' },
        encoding: {
          x: { field: 'startS', type: 'quantitative', ...xOf(i) },
          y: { datum: 1, type: 'quantitative' },
          text: { field: 'note' },
        },
      },
    ],
  }));
  return renderSvg(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: t.title,
      vconcat: panels,
      spacing: 18,
      resolve: {
        scale: { color: 'shared', strokeDash: 'shared' },
        legend: { color: 'shared', strokeDash: 'shared' },
      },
    } as TopLevelSpec,
    t.title,
  );
}

export interface EventTimeline {
  title: string;
  durationMs: number;
  labels: {
    label: string;
    truth: { startMs: number; endMs: number; matched: boolean }[];
    events: { startMs: number; endMs: number; matched: boolean }[];
  }[];
}

/** Span kinds of `eventTimelineSvg`, in legend order. */
export const EVENT_KINDS = ['truth, found', 'truth, missed', 'event, matched', 'event, false'] as const;

/** `eval-events --plot`: per label, truth above, detected events below. */
export function eventTimelineSvg(t: EventTimeline): Promise<string> {
  const values = t.labels.flatMap((row) => [
    ...row.truth.map((g) => ({
      label: row.label,
      row: 'truth',
      kind: g.matched ? EVENT_KINDS[0] : EVENT_KINDS[1],
      startS: secs(g.startMs),
      endS: secs(g.endMs),
    })),
    ...row.events.map((e) => ({
      label: row.label,
      row: 'detected',
      kind: e.matched ? EVENT_KINDS[2] : EVENT_KINDS[3],
      startS: secs(e.startMs),
      endS: secs(e.endMs),
    })),
  ]);
  const labels = t.labels.map((l) => l.label);
  return renderSvg(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: t.title,
      width: WIDTH,
      // Per label row: a truth bar and an event bar of `step` px each.
      height: { step: 20 } as unknown as number,
      data: { values },
      layer: [
        {
          name: 'spans',
          mark: { type: 'bar', stroke: '#333333', strokeWidth: 0.5 },
          encoding: {
            x: {
              field: 'startS',
              type: 'quantitative',
              scale: { domain: [0, Math.max(1, t.durationMs) / 1000], nice: false },
              title: 'time (s)',
            },
            x2: { field: 'endS' },
            y: {
              field: 'label',
              type: 'nominal',
              scale: { domain: labels, paddingInner: 0.35, paddingOuter: 0.2 },
              sort: labels,
              title: null,
              axis: { labelFontSize: 12, labelFontWeight: 'bold', grid: false, ticks: false },
            },
            yOffset: {
              field: 'row',
              type: 'nominal',
              scale: { domain: ['truth', 'detected'], paddingInner: 0.15 },
            },
            color: {
              field: 'kind',
              type: 'nominal',
              ...series('upper bar: truth; lower bar: detected event', [
                [EVENT_KINDS[0], COLOURS.truthFound],
                [EVENT_KINDS[1], COLOURS.truthMissed],
                [EVENT_KINDS[2], COLOURS.matched],
                [EVENT_KINDS[3], COLOURS.false],
              ]),
            },
            tooltip: [{ field: 'label' }, { field: 'kind' }, { field: 'startS' }, { field: 'endS' }],
          },
        },
      ],
    },
    t.title,
  );
}

/** A confusion matrix: rows are the true classes, columns the predicted ones; cells are counts. */
export function confusionSvg(opts: {
  title: string;
  classes: readonly string[];
  counts: readonly (readonly number[])[];
}): Promise<string> {
  const { classes, counts } = opts;
  const values = classes.flatMap((t, i) => {
    const total = counts[i]!.reduce((a, b) => a + b, 0);
    return classes.map((p, j) => ({
      true: t,
      predicted: p,
      count: counts[i]![j]!,
      share: total > 0 ? Math.round((1000 * counts[i]![j]!) / total) / 1000 : 0,
    }));
  });
  const axis = (field: string, title: string) => ({
    field,
    type: 'nominal',
    sort: [...classes],
    scale: { domain: [...classes] },
    title,
  });
  return renderSvg(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: { text: opts.title, subtitle: 'cell colour: share of the row (windows of that true class)' },
      width: { step: 40 } as unknown as number,
      height: { step: 40 } as unknown as number,
      data: { values },
      encoding: {
        x: { ...axis('predicted', 'predicted class'), axis: { labelAngle: -45, orient: 'top' } },
        y: axis('true', 'true class'),
      },
      layer: [
        {
          name: 'cells',
          mark: { type: 'rect', stroke: '#ffffff', strokeWidth: 1 },
          encoding: {
            color: {
              condition: { test: 'datum.count === 0', value: '#f4f4f4' },
              field: 'share',
              type: 'quantitative',
              scale: { domain: [0, 1], scheme: 'blues' },
              legend: { title: 'share of row', format: '.0%', orient: 'right' },
            },
            tooltip: [{ field: 'true' }, { field: 'predicted' }, { field: 'count' }],
          },
        },
        {
          name: 'counts',
          transform: [{ filter: 'datum.count > 0' }],
          mark: { type: 'text', fontSize: 12 },
          encoding: {
            text: { field: 'count', type: 'quantitative' },
            color: { condition: { test: 'datum.share > 0.6', value: 'white' }, value: 'black' },
            tooltip: [{ field: 'true' }, { field: 'predicted' }, { field: 'count' }],
          },
        },
      ],
    } as TopLevelSpec,
    opts.title,
  );
}

/**
 * Per modality, scores binned on [0, 1]: `shown[b]` counts the windows whose class is the label
 * (the score of that label), `notShown[b]` the scores of every label whose class the window does
 * not show.
 */
export interface ScoreHistogram {
  modality: string;
  shown: readonly number[];
  notShown: readonly number[];
}

/** `eval --report`: score distributions, one panel per modality, with the threshold. */
export function scoreDistributionSvg(opts: {
  title: string;
  threshold: number;
  histograms: readonly ScoreHistogram[];
}): Promise<string> {
  const groups = ['label shown', 'label not shown'] as const;
  const values = opts.histograms.flatMap((h) =>
    ([h.shown, h.notShown] as const).flatMap((counts, g) => {
      const total = counts.reduce((a, b) => a + b, 0);
      return counts.map((count, b) => ({
        modality: h.modality,
        group: groups[g],
        from: b / counts.length,
        to: (b + 1) / counts.length,
        count,
        share: total > 0 ? Math.round((1000 * count) / total) / 1000 : 0,
      }));
    }),
  );
  return renderSvg(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: {
        text: opts.title,
        subtitle: `bars: share of each group's scores per bin; red line: threshold ${opts.threshold}`,
      },
      data: { values },
      facet: {
        row: {
          field: 'modality',
          type: 'nominal',
          sort: opts.histograms.map((h) => h.modality),
          title: null,
          header: { labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold', labelFontSize: 13 },
        },
      },
      spacing: 16,
      spec: {
        width: 620,
        height: 110,
        layer: [
          {
            name: 'bins',
            mark: { type: 'rect', opacity: 0.55, stroke: '#333333', strokeWidth: 0.3 },
            encoding: {
              x: {
                field: 'from',
                type: 'quantitative',
                scale: { domain: [0, 1] },
                title: 'score (softmax at the default temperature)',
              },
              x2: { field: 'to' },
              // A square-root scale, so the few scores on the wrong side of a threshold still show.
              y: {
                field: 'share',
                type: 'quantitative',
                scale: { type: 'sqrt', domain: [0, 1] },
                axis: { format: '.0%', values: [0.01, 0.1, 0.25, 0.5, 1] },
                title: 'share (√ scale)',
              },
              y2: { datum: 0 },
              color: {
                field: 'group',
                type: 'nominal',
                ...series('', [
                  [groups[0], COLOURS.shown],
                  [groups[1], COLOURS.notShown],
                ]),
              },
              tooltip: [{ field: 'group' }, { field: 'from' }, { field: 'to' }, { field: 'count' }],
            },
          },
          {
            // One rule per panel (a datum would draw it once per bin).
            name: 'threshold',
            transform: [
              { aggregate: [{ op: 'count', as: 'bins' }], groupby: ['modality'] },
              { calculate: String(opts.threshold), as: 'threshold' },
            ],
            mark: { type: 'rule', color: COLOURS.on, strokeWidth: 1.5, strokeDash: [6, 3] },
            encoding: {
              x: { field: 'threshold', type: 'quantitative' },
              tooltip: [{ field: 'modality' }, { field: 'threshold' }],
            },
          },
        ],
      },
    },
    opts.title,
  );
}
