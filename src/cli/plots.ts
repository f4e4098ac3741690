/**
 * The pictures of issue 17 item 9, as SVG (src/util/svg.ts):
 *  - `scoreTimelineSvg` (`classify --plot`): one panel per label — its score over time as the
 *    tracker saw it, its on- and off-threshold, and the events it produced as shaded spans;
 *  - `eventTimelineSvg` (`eval-events --plot`): one row per label, ground truth above and the
 *    detected events below, matched events in one colour and false ones in another;
 *  - `confusionSvg` (`eval --report`): a confusion matrix, true class × predicted class.
 * Elements carry `class` and `data-*` attributes with the values drawn, so a test (or a script)
 * can check what a picture shows without rendering it.
 */
import { el, num, scale, svgDocument, text, ticks } from '../util/svg.js';

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

const WIDTH = 980;
const LEFT = 190;
const RIGHT = 24;
const PANEL_H = 80;
const PANEL_GAP = 18;
const TOP = 64;
const BOTTOM = 44;

const COLOURS = {
  score: '#1d3557',
  on: '#d62828',
  off: '#2a9d8f',
  event: '#f4a261',
  truth: '#8d99ae',
  matched: '#2a9d8f',
  missed: '#8d99ae',
  false: '#d62828',
  grid: '#e5e5e5',
  axis: '#555555',
};

/** Seconds axis along the bottom, with vertical grid lines through `top`…`bottom`. */
function timeAxis(x: (ms: number) => number, durationMs: number, top: number, bottom: number): string[] {
  const out: string[] = [];
  for (const s of ticks(0, durationMs / 1000, 12)) {
    const px = x(s * 1000);
    out.push(el('line', { x1: px, y1: top, x2: px, y2: bottom, stroke: COLOURS.grid }));
    out.push(text({ x: px, y: bottom + 16, 'text-anchor': 'middle', fill: COLOURS.axis }, `${s}`));
  }
  out.push(
    text(
      { x: (LEFT + WIDTH - RIGHT) / 2, y: bottom + 34, 'text-anchor': 'middle', fill: COLOURS.axis },
      'time (s)',
    ),
  );
  return out;
}

function legend(items: { colour: string; label: string; dash?: string; box?: boolean }[], y: number): string {
  let x = LEFT;
  const parts: string[] = [];
  for (const it of items) {
    parts.push(
      it.box
        ? el('rect', { x, y: y - 9, width: 22, height: 11, fill: it.colour, 'fill-opacity': 0.45 })
        : el('line', {
            x1: x,
            y1: y - 4,
            x2: x + 22,
            y2: y - 4,
            stroke: it.colour,
            'stroke-width': 2,
            'stroke-dasharray': it.dash,
          }),
    );
    parts.push(text({ x: x + 28, y }, it.label));
    x += 40 + it.label.length * 6.6;
  }
  return el('g', { class: 'legend' }, parts.join(''));
}

/** `classify --plot`: per label, score line, both thresholds, events. */
export function scoreTimelineSvg(t: ScoreTimeline): string {
  const n = t.labels.length;
  const height = TOP + n * (PANEL_H + PANEL_GAP) + BOTTOM;
  const plotBottom = TOP + n * (PANEL_H + PANEL_GAP) - PANEL_GAP;
  const durationMs = Math.max(1, t.durationMs);
  const x = scale(0, durationMs, LEFT, WIDTH - RIGHT);
  const body: string[] = [
    text({ x: LEFT, y: 22, 'font-size': 15, 'font-weight': 'bold' }, t.title),
    legend(
      [
        { colour: COLOURS.score, label: 'score' },
        { colour: COLOURS.on, label: 'threshold (start)', dash: '6 3' },
        { colour: COLOURS.off, label: 'offThreshold (end)', dash: '2 3' },
        { colour: COLOURS.event, label: 'event', box: true },
      ],
      46,
    ),
    ...timeAxis(x, durationMs, TOP, plotBottom),
  ];
  t.labels.forEach((s, i) => {
    const top = TOP + i * (PANEL_H + PANEL_GAP);
    const y = scale(0, 1, top + PANEL_H, top);
    const parts: string[] = [
      el('rect', {
        x: LEFT,
        y: top,
        width: WIDTH - RIGHT - LEFT,
        height: PANEL_H,
        fill: 'none',
        stroke: COLOURS.axis,
        'stroke-width': 0.5,
      }),
    ];
    for (const e of s.events) {
      parts.push(
        el(
          'rect',
          {
            class: 'event',
            'data-start-s': num(e.startMs / 1000),
            'data-end-s': num(e.endMs / 1000),
            'data-end-reason': e.endReason ?? undefined,
            x: x(e.startMs),
            y: top,
            width: Math.max(1, x(e.endMs) - x(e.startMs)),
            height: PANEL_H,
            fill: COLOURS.event,
            'fill-opacity': 0.45,
          },
          el(
            'title',
            {},
            `${s.label}: ${num(e.startMs / 1000)}–${num(e.endMs / 1000)} s, peak ${e.peakScore.toFixed(2)}${e.endReason ? `, ended: ${e.endReason}` : ''}`,
          ),
        ),
      );
    }
    for (const v of [0, 0.5, 1]) {
      parts.push(
        text({ x: LEFT - 6, y: y(v) + 4, 'text-anchor': 'end', fill: COLOURS.axis, 'font-size': 10 }, `${v}`),
      );
    }
    parts.push(
      el('line', {
        class: 'threshold on',
        'data-value': s.onThreshold,
        x1: LEFT,
        y1: y(s.onThreshold),
        x2: WIDTH - RIGHT,
        y2: y(s.onThreshold),
        stroke: COLOURS.on,
        'stroke-width': 1.5,
        'stroke-dasharray': '6 3',
      }),
      el('line', {
        class: 'threshold off',
        'data-value': s.offThreshold,
        x1: LEFT,
        y1: y(s.offThreshold),
        x2: WIDTH - RIGHT,
        y2: y(s.offThreshold),
        stroke: COLOURS.off,
        'stroke-width': 1.5,
        'stroke-dasharray': '2 3',
      }),
      el('polyline', {
        class: 'score',
        'data-label': s.label,
        points: s.points
          .map((p) => `${num(x(p.tMs))},${num(y(Math.min(1, Math.max(0, p.score))))}`)
          .join(' '),
        fill: 'none',
        stroke: COLOURS.score,
        'stroke-width': 1.6,
      }),
      text({ x: 8, y: top + 18, 'font-weight': 'bold' }, s.label),
      text(
        { x: 8, y: top + 36, fill: COLOURS.axis, 'font-size': 11 },
        `threshold ${num(s.onThreshold)} / off ${num(s.offThreshold)}`,
      ),
      text(
        { x: 8, y: top + 52, fill: COLOURS.axis, 'font-size': 11 },
        `${s.events.length} event${s.events.length === 1 ? '' : 's'}`,
      ),
    );
    body.push(el('g', { class: 'label', 'data-label': s.label }, parts.join('')));
  });
  return svgDocument({ width: WIDTH, height, title: t.title }, body);
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

const ROW_H = 44;

/** `eval-events --plot`: per label, truth above, detected events below. */
export function eventTimelineSvg(t: EventTimeline): string {
  const n = t.labels.length;
  const plotBottom = TOP + n * ROW_H;
  const height = plotBottom + BOTTOM;
  const durationMs = Math.max(1, t.durationMs);
  const x = scale(0, durationMs, LEFT, WIDTH - RIGHT);
  const body: string[] = [
    text({ x: LEFT, y: 22, 'font-size': 15, 'font-weight': 'bold' }, t.title),
    legend(
      [
        { colour: COLOURS.truth, label: 'truth (upper)', box: true },
        { colour: COLOURS.matched, label: 'event, matched (lower)', box: true },
        { colour: COLOURS.false, label: 'event, false', box: true },
      ],
      46,
    ),
    ...timeAxis(x, durationMs, TOP, plotBottom),
  ];
  t.labels.forEach((row, i) => {
    const top = TOP + i * ROW_H;
    const bar = (
      cls: string,
      span: { startMs: number; endMs: number },
      y: number,
      fill: string,
      opacity: number,
    ): string =>
      el('rect', {
        class: cls,
        'data-start-s': num(span.startMs / 1000),
        'data-end-s': num(span.endMs / 1000),
        x: x(span.startMs),
        y,
        width: Math.max(2, x(span.endMs) - x(span.startMs)),
        height: 16,
        fill,
        'fill-opacity': opacity,
      });
    const parts = [
      el('line', { x1: LEFT, y1: top + ROW_H, x2: WIDTH - RIGHT, y2: top + ROW_H, stroke: COLOURS.grid }),
      text({ x: 8, y: top + 26, 'font-weight': 'bold' }, row.label),
      ...row.truth.map((g) =>
        bar(g.matched ? 'truth matched' : 'truth missed', g, top + 4, COLOURS.truth, g.matched ? 0.7 : 0.35),
      ),
      ...row.events.map((e) =>
        bar(
          e.matched ? 'event matched' : 'event false',
          e,
          top + 23,
          e.matched ? COLOURS.matched : COLOURS.false,
          0.75,
        ),
      ),
    ];
    body.push(el('g', { class: 'label', 'data-label': row.label }, parts.join('')));
  });
  return svgDocument({ width: WIDTH, height, title: t.title }, body);
}

/** A confusion matrix: rows are the true classes, columns the predicted ones; cells are counts. */
export function confusionSvg(opts: {
  title: string;
  classes: readonly string[];
  counts: readonly (readonly number[])[];
}): string {
  const { classes, counts } = opts;
  const cell = 36;
  const left = 170;
  const top = 150;
  // Wide enough for the title too (bold 15 px: about 9 px a character).
  const width = Math.max(left + classes.length * cell + 30, 20 + opts.title.length * 9);
  const height = top + classes.length * cell + 50;
  const body: string[] = [text({ x: 10, y: 22, 'font-size': 15, 'font-weight': 'bold' }, opts.title)];
  body.push(text({ x: left, y: 44, fill: COLOURS.axis }, 'predicted →  (rows: true class)'));
  classes.forEach((c, j) => {
    const cx = left + j * cell + cell / 2;
    body.push(
      text({ x: cx, y: top - 8, transform: `rotate(-55 ${num(cx)} ${num(top - 8)})`, 'font-size': 11 }, c),
    );
  });
  classes.forEach((c, i) => {
    const total = counts[i]!.reduce((a, b) => a + b, 0);
    body.push(
      text({ x: left - 8, y: top + i * cell + cell / 2 + 4, 'text-anchor': 'end', 'font-size': 11 }, c),
    );
    counts[i]!.forEach((v, j) => {
      const share = total > 0 ? v / total : 0;
      const colour = i === j ? '42,157,143' : '214,40,40';
      body.push(
        el(
          'g',
          { class: 'cell', 'data-true': c, 'data-predicted': classes[j]!, 'data-count': v },
          el('rect', {
            x: left + j * cell,
            y: top + i * cell,
            width: cell - 1,
            height: cell - 1,
            fill: v === 0 ? '#f7f7f7' : `rgba(${colour},${num(0.15 + 0.85 * share)})`,
          }) +
            (v > 0
              ? text(
                  {
                    x: left + j * cell + cell / 2,
                    y: top + i * cell + cell / 2 + 4,
                    'text-anchor': 'middle',
                    'font-size': 11,
                    fill: share > 0.6 ? '#ffffff' : '#000000',
                  },
                  String(v),
                )
              : ''),
        ),
      );
    });
  });
  return svgDocument({ width, height, title: opts.title }, body);
}
