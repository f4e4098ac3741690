/**
 * docs/asyncapi.yaml (AsyncAPI 3) generated from the code: request schemas are the zod schemas the
 * agent validates with and the event is `EventSchema` (`z.toJSONSchema`, draft-07), so the published
 * contract cannot drift.
 * Regenerate: `node --import tsx src/mqtt/asyncapi.ts --write`; test/mqtt/asyncapi.test.ts checks it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { REQUEST_ERROR_CODES } from '../errors.js';
import {
  eventJsonSchema,
  eventsClipResultJsonSchemas,
  HEALTH_STATES,
  historySearchResultJsonSchema,
  labelListJsonSchema,
  REQUEST_OPS,
  requestJsonSchemas,
  sensorHealthJsonSchema,
  type RequestOp,
} from './payloads.js';

const DRAFT7 = 'application/schema+json;version=draft-07';
const schemaName = (op: RequestOp) =>
  `${op
    .split('/')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('')}Request`;

const problem = {
  type: 'object',
  required: ['path', 'message'],
  properties: {
    path: { type: 'string', description: 'JSON path of the problem in the request, e.g. $.labels[0].name' },
    message: { type: 'string' },
  },
};

const response = {
  type: 'object',
  required: ['status', 'data', 'deviceId'],
  properties: {
    status: { enum: ['ok', 'error'] },
    data: { description: 'Result of the operation; {} on error.' },
    error: { type: 'string', description: 'One-line summary (error only).' },
    code: { enum: [...REQUEST_ERROR_CODES] },
    problems: { type: 'array', items: problem },
    warnings: {
      type: 'array',
      description:
        'ok only (labels/set, labels/patch, labels/test): labels the pack cannot read or tell apart; they are applied all the same.',
      items: {
        type: 'object',
        required: ['code', 'label', 'message'],
        properties: {
          code: { enum: ['LABEL_UNKNOWN_WORDS', 'LABELS_INDISTINGUISHABLE'] },
          label: { type: 'string', description: 'The label (the first of an indistinguishable pair).' },
          message: { type: 'string' },
          unknownWords: {
            type: 'array',
            items: { type: 'string' },
            description: 'Words the pack does not know.',
          },
          nearest: {
            type: 'array',
            description: 'Concepts the pack knows that the label reads as, most similar first.',
            items: {
              type: 'object',
              properties: { concept: { type: 'string' }, similarity: { type: 'number' } },
            },
          },
          sameAs: { type: 'string', description: 'LABELS_INDISTINGUISHABLE: the other label.' },
          cosine: { type: 'number', description: 'LABELS_INDISTINGUISHABLE: cosine of the two embeddings.' },
          modality: { enum: ['audio', 'thermal', 'depth', 'imu'] },
        },
      },
    },
    transaction: { type: ['string', 'number'], description: "The request's transaction, echoed." },
    deviceId: { type: 'string' },
  },
};

const health = {
  type: 'object',
  required: ['deviceId', 'timestamp', 'uptimeS', 'sensors', 'windows', 'events', 'labels', 'mqtt'],
  properties: {
    deviceId: { type: 'string' },
    timestamp: { type: 'string', format: 'date-time' },
    uptimeS: { type: 'integer' },
    sensors: {
      type: 'object',
      description:
        'Per enabled sensor id: its state (`down` while unplugged), counters and whether it counts in fusion.',
      additionalProperties: sensorHealthJsonSchema('draft-7'),
    },
    windows: {
      type: 'object',
      description: 'Per sensor id: windows pushed, dropped (queue full) and waiting.',
      additionalProperties: {
        type: 'object',
        properties: { pushed: { type: 'integer' }, dropped: { type: 'integer' }, depth: { type: 'integer' } },
      },
    },
    events: { type: 'integer' },
    labels: { type: 'object', properties: { version: { type: 'integer' }, count: { type: 'integer' } } },
    history: {
      type: 'object',
      description:
        'The embedding history (docs/history.md); absent when history.enabled is false. `degraded` while its writes fail (a full disk): detection goes on, windows are dropped and counted.',
      required: ['state', 'written', 'dropped', 'queued', 'bytes', 'segments'],
      properties: {
        state: { type: 'string', enum: ['ok', 'degraded'] },
        code: { type: 'string', enum: ['HISTORY_DISK_FULL', 'HISTORY_WRITE_FAILED'] },
        reason: { type: 'string' },
        written: { type: 'integer', description: 'Windows written since start.' },
        dropped: { type: 'integer', description: 'Windows dropped: the write queue was full.' },
        queued: { type: 'integer', description: 'Windows waiting to be written.' },
        bytes: { type: 'integer', description: 'Bytes of the history on disk.' },
        segments: { type: 'integer', description: 'Segment files on disk.' },
      },
    },
    requests: {
      type: 'object',
      description:
        'Requests on request/<op> answered since start (absent when remote.enabled is false): ok, and error answers by code, e.g. a flood refused REQUEST_BUSY or forged requests SIGNATURE_INVALID.',
      required: ['answered', 'ok', 'refused'],
      properties: {
        answered: { type: 'integer' },
        ok: { type: 'integer' },
        refused: {
          type: 'object',
          propertyNames: { enum: [...REQUEST_ERROR_CODES] },
          additionalProperties: { type: 'integer' },
        },
      },
    },
    clips: {
      type: 'object',
      description:
        'Event clips (docs/history.md#event-clips); absent when clips.enabled is false. `degraded` while their writes fail (a full disk): detection goes on, the clips are lost and counted.',
      required: ['state', 'written', 'failed', 'dropped', 'recording', 'bytes', 'clips'],
      properties: {
        state: { type: 'string', enum: ['ok', 'degraded'] },
        code: { type: 'string', enum: ['CLIP_DISK_FULL', 'CLIP_WRITE_FAILED'] },
        reason: { type: 'string' },
        written: { type: 'integer', description: 'Clips written since start.' },
        failed: { type: 'integer', description: 'Clips whose write failed (disk full, IO error).' },
        dropped: { type: 'integer', description: 'Clips dropped: too many waited to be written.' },
        recording: { type: 'integer', description: 'Events being recorded now.' },
        bytes: { type: 'integer', description: 'Bytes of the clips on disk.' },
        clips: { type: 'integer', description: 'Clips on disk.' },
      },
    },
    mqtt: {
      type: 'object',
      properties: {
        connected: { type: 'boolean' },
        outboxDepth: { type: 'integer' },
        outboxBytes: { type: 'integer' },
        published: { type: 'integer' },
        dropped: {
          type: 'integer',
          description: 'Events dropped by an outbox bound before they were ever sent: the gaps in seq.',
        },
        droppedUnconfirmed: {
          type: 'integer',
          description:
            'Events dropped by an outbox bound after being sent without a PUBACK; the broker most likely has them.',
        },
        reconnects: { type: 'integer' },
        outboxState: {
          type: 'string',
          enum: ['ok', 'degraded'],
          description: 'degraded while the state disk refuses writes (events are then held in memory).',
        },
        outboxReason: { type: 'string', description: 'Why the outbox is degraded (absent when ok).' },
        outboxUnwritten: {
          type: 'integer',
          description: 'Pending events held only in memory because the state disk refused them.',
        },
      },
    },
  },
};

export function buildAsyncApi(version: string): Record<string, unknown> {
  const requests = requestJsonSchemas('draft-7');
  const schemas: Record<string, unknown> = {
    Response: response,
    Event: eventJsonSchema('draft-7'),
    Health: health,
    Labels: {
      type: 'object',
      required: ['version', 'hash', 'source', 'updatedAt', 'labels'],
      properties: {
        version: {
          type: 'integer',
          minimum: 0,
          description: 'Grows by one per applied change; 0 = config file.',
        },
        hash: { type: 'string' },
        source: { enum: ['config', 'remote'] },
        updatedAt: { type: 'string', format: 'date-time' },
        labels: labelListJsonSchema('draft-7'),
      },
    },
    LabelEvent: {
      type: 'object',
      required: ['event_type', 'id', 'score', 'seq'],
      properties: {
        event_type: { enum: ['start', 'update', 'end'] },
        id: { type: 'string' },
        score: { type: 'number' },
        seq: { type: 'integer' },
      },
    },
  };
  for (const op of REQUEST_OPS) schemas[schemaName(op)] = requests[op];
  schemas.HistorySearchResult = historySearchResultJsonSchema('draft-7');
  schemas.HistorySearchResponse = {
    description:
      'The answer to history/search: data is a HistorySearchResult when status is ok, {} on error.',
    allOf: [
      { $ref: '#/components/schemas/Response' },
      {
        properties: {
          data: {
            oneOf: [
              { $ref: '#/components/schemas/HistorySearchResult' },
              { type: 'object', maxProperties: 0 },
            ],
          },
        },
      },
    ],
  };
  const clip = eventsClipResultJsonSchemas('draft-7');
  schemas.EventsClipList = clip.list;
  schemas.EventsClipChunk = clip.chunk;
  schemas.EventsClipResponse = {
    description:
      'The answer to events/clip: data is an EventsClipList (request without file) or an EventsClipChunk (with file) when status is ok, {} on error.',
    allOf: [
      { $ref: '#/components/schemas/Response' },
      {
        properties: {
          data: {
            oneOf: [
              { $ref: '#/components/schemas/EventsClipList' },
              { $ref: '#/components/schemas/EventsClipChunk' },
              { type: 'object', maxProperties: 0 },
            ],
          },
        },
      },
    ],
  };
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const msg = (name: string, title: string, payload: unknown, contentType = 'application/json') => ({
    name,
    title,
    contentType,
    payload:
      typeof payload === 'object' && payload !== null && '$ref' in payload
        ? { schemaFormat: DRAFT7, schema: payload }
        : payload,
  });
  const device = {
    base: { description: 'mqtt.baseTopic; may itself have several levels (e.g. site/edgebind)' },
    deviceId: { description: 'deviceId' },
  };
  // Every label op is labels/<verb>: two topic levels. A parameter stands for one level (what `+`
  // matches), so the channels spell out `labels/` and {op} is the verb alone (issue 17 item 11);
  // history/search and events/clip have channels of their own.
  const labelOps = REQUEST_OPS.filter((op) => op.startsWith('labels/'));
  const verbs = labelOps.map((op) => {
    const [group, verb] = op.split('/');
    if (group !== 'labels' || verb === undefined) throw new TypeError(`op ${op} is not labels/<verb>`);
    return verb;
  });
  const op = {
    enum: verbs,
    description:
      'The verb of a labels/<verb> op, one topic level; subscribe to all answers with <base>/<deviceId>/response/labels/+ (or response/#).',
  };
  const channels = {
    status: {
      address: '{base}/{deviceId}/status',
      parameters: device,
      description: 'Retained `online` / `offline`; `offline` is the last will (QoS 1).',
      messages: {
        status: msg('status', 'Availability', { type: 'string', enum: ['online', 'offline'] }, 'text/plain'),
      },
    },
    events: {
      address: '{base}/{deviceId}/events',
      parameters: device,
      description: 'Label events, QoS 1, not retained; from the durable outbox (duplicates keep id and seq).',
      messages: { event: msg('event', 'Label event', ref('Event')) },
    },
    health: {
      address: '{base}/{deviceId}/health',
      parameters: device,
      description:
        'Statistics every mqtt.healthIntervalS seconds, and within about a second of a sensor changing state (ok, degraded, down); not retained.',
      messages: { health: msg('health', 'Health', ref('Health')) },
    },
    labels: {
      address: '{base}/{deviceId}/labels',
      parameters: device,
      description: 'Retained active label set with version and hash.',
      messages: { labels: msg('labels', 'Label set', ref('Labels')) },
    },
    labelState: {
      address: '{base}/{deviceId}/labels/{slug}/state',
      parameters: { ...device, slug: { description: 'label name' } },
      description:
        'Retained `ON` while an event of the label is open, else `OFF`; empty when the label is removed.',
      messages: {
        state: msg('labelState', 'Label state', { type: 'string', enum: ['ON', 'OFF', ''] }, 'text/plain'),
      },
    },
    labelEvent: {
      address: '{base}/{deviceId}/labels/{slug}/event',
      parameters: { ...device, slug: { description: 'label name' } },
      description:
        "Home Assistant event entity feed (only with homeAssistant.enabled), QoS 0; the label's score sensor reads `score` from it.",
      messages: { labelEvent: msg('labelEvent', 'Label event for Home Assistant', ref('LabelEvent')) },
    },
    sensorState: {
      address: '{base}/{deviceId}/sensors/{sensorId}/state',
      parameters: { ...device, sensorId: { description: 'sensor id' } },
      description:
        "Retained `ok`, `degraded` or `down`, published when the sensor's state changes and on every connect; empty when the sensor is disabled. Home Assistant's connectivity entities read it.",
      messages: {
        sensorState: msg(
          'sensorState',
          'Sensor state',
          { type: 'string', enum: [...HEALTH_STATES, ''] },
          'text/plain',
        ),
      },
    },
    request: {
      address: '{base}/{deviceId}/request/labels/{op}',
      parameters: { ...device, op },
      description:
        "Requests. MQTT 5 requesters may set a response topic and correlation data: the answer goes there too, if the topic is below {base}/{deviceId}/response/ or one of remote.responseTopicPrefixes (never elsewhere below {base}/, Home Assistant's trees, $ topics, wildcards, over 256 characters). A request naming any other response topic is not handled: it is answered RESPONSE_TOPIC_INVALID on {base}/{deviceId}/response/labels/{op} only. Limits: remote.maxPayloadBytes, remote.maxLabels, remote.maxPromptChars; prompts without control characters or U+FFFD; example vectors finite and not all zero.",
      messages: Object.fromEntries(
        labelOps.map((op) => [schemaName(op), msg(schemaName(op), `${op} request`, ref(schemaName(op)))]),
      ),
    },
    groupRequest: {
      address: '{base}/groups/{group}/request/labels/{op}',
      parameters: {
        base: device.base,
        group: { description: 'a group in remote.groups' },
        op,
      },
      description:
        'Fleet requests: every device in the group applies them and answers on its own response topic.',
      messages: Object.fromEntries(
        labelOps.map((op) => [schemaName(op), msg(schemaName(op), `${op} request`, ref(schemaName(op)))]),
      ),
    },
    response: {
      address: '{base}/{deviceId}/response/labels/{op}',
      parameters: { ...device, op },
      description:
        'Responses (QoS 1, not retained) with the request transaction echoed. A request for an op that does not exist is answered UNKNOWN_OP on response/<the topic levels it used>, so response/# sees those too.',
      messages: { response: msg('response', 'Response', ref('Response')) },
    },
    historySearchRequest: {
      address: '{base}/{deviceId}/request/history/search',
      parameters: device,
      description:
        "Search the device's embedding history (docs/history.md) by text or example embedding: the same envelope, signing, target, replay and response-topic rules as the label requests, and remote.maxPayloadBytes and remote.maxPromptChars (text). Read-only; scanned in 1 MiB chunks with the agent's event loop running between them, one search at a time, after label requests' checks but not in their turn.",
      messages: {
        HistorySearchRequest: msg(
          'HistorySearchRequest',
          'history/search request',
          ref('HistorySearchRequest'),
        ),
      },
    },
    historySearchGroupRequest: {
      address: '{base}/groups/{group}/request/history/search',
      parameters: { base: device.base, group: { description: 'a group in remote.groups' } },
      description: 'history/search for every device in the group; each answers with its own moments.',
      messages: {
        HistorySearchRequest: msg(
          'HistorySearchRequest',
          'history/search request',
          ref('HistorySearchRequest'),
        ),
      },
    },
    historySearchResponse: {
      address: '{base}/{deviceId}/response/history/search',
      parameters: device,
      description:
        'Answers to history/search (QoS 1, not retained), transaction echoed: the moments best first and the scan figures; errors as for every request, plus HISTORY_DISABLED, HISTORY_UNREADABLE and HISTORY_SEARCH_FAILED.',
      messages: {
        historySearchResponse: msg(
          'historySearchResponse',
          'history/search response',
          ref('HistorySearchResponse'),
        ),
      },
    },
    eventsClipRequest: {
      address: '{base}/{deviceId}/request/events/clip',
      parameters: device,
      description:
        "List the device's event clips (docs/history.md) or fetch a file of one in base64 chunks: the same envelope, signing, target, replay and response-topic rules as the label requests. Without file: one clip (eventId) or the newest (since, until, label, limit). With eventId and file: bytes offset.. of the file, at most length and at most what fits in mqtt.maxClipMessageBytes; ask again at next until it is null. Read-only, after label requests' checks but not in their turn.",
      messages: {
        EventsClipRequest: msg('EventsClipRequest', 'events/clip request', ref('EventsClipRequest')),
      },
    },
    eventsClipGroupRequest: {
      address: '{base}/groups/{group}/request/events/clip',
      parameters: { base: device.base, group: { description: 'a group in remote.groups' } },
      description: 'events/clip for every device in the group; each answers with its own clips.',
      messages: {
        EventsClipRequest: msg('EventsClipRequest', 'events/clip request', ref('EventsClipRequest')),
      },
    },
    eventsClipResponse: {
      address: '{base}/{deviceId}/response/events/clip',
      parameters: device,
      description:
        'Answers to events/clip (QoS 1, not retained, at most mqtt.maxClipMessageBytes), transaction echoed; errors as for every request, plus CLIPS_DISABLED, CLIP_NOT_FOUND, CLIP_FILE_NOT_FOUND, CLIP_NAME_INVALID, CLIP_OFFSET_INVALID and CLIP_UNREADABLE.',
      messages: {
        eventsClipResponse: msg('eventsClipResponse', 'events/clip response', ref('EventsClipResponse')),
      },
    },
    clipImage: {
      address: '{base}/{deviceId}/clips/last/image',
      parameters: device,
      description:
        "Retained PNG (raw bytes) of the last event clip's thermal or depth picture, for Home Assistant's image entity; published only with homeAssistant.enabled and clips.enabled, when a clip with a picture of at most mqtt.maxClipMessageBytes is written; emptied when clips are turned off.",
      messages: {
        clipImage: msg('clipImage', 'Last clip picture', { type: 'string', format: 'binary' }, 'image/png'),
      },
    },
    haDiscovery: {
      address: 'homeassistant/{component}/{nodeId}/{objectId}/config',
      parameters: {
        component: { enum: ['binary_sensor', 'event', 'sensor', 'image'] },
        nodeId: { description: 'edgebind_<deviceId>, characters other than A-Za-z0-9_- as _' },
        objectId: {
          description:
            'per label: <label> (binary_sensor, with a device class where one fits), <label>_event (event), _score_<label> (score sensor); per sensor: _sensor_<id> (connectivity binary_sensor); with clips on: _clip_image (image of the last clip)',
        },
      },
      description:
        'Home Assistant MQTT discovery (homeAssistant.enabled), under homeAssistant.discoveryPrefix (default homeassistant). Retained, QoS 1; an empty retained payload removes the entity. Re-published when Home Assistant announces itself online.',
      messages: {
        discovery: msg('discovery', 'Home Assistant discovery config', {
          type: 'object',
          description: "Home Assistant's MQTT discovery schema for the component.",
        }),
        removal: msg('discoveryRemoval', 'Entity removal', { type: 'string', maxLength: 0 }, 'text/plain'),
      },
    },
    haStatus: {
      address: 'homeassistant/status',
      description:
        "Home Assistant's birth and last-will topic (homeAssistant.statusTopic); `online` makes the agent re-publish discovery and states.",
      messages: {
        haStatus: msg(
          'haStatus',
          'Home Assistant status',
          { type: 'string', enum: ['online', 'offline'] },
          'text/plain',
        ),
      },
    },
  };
  const send = (channel: string) => ({ action: 'send', channel: { $ref: `#/channels/${channel}` } });
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'edgebind MQTT API',
      version,
      description: 'Generated from src/mqtt/ by src/mqtt/asyncapi.ts; see docs/mqtt.md.',
    },
    defaultContentType: 'application/json',
    servers: {
      broker: {
        host: 'localhost:1883',
        protocol: 'mqtt',
        description: 'Any MQTT 3.1.1 or 5 broker (mqtt, mqtts, ws, wss).',
      },
    },
    channels,
    operations: {
      sendStatus: send('status'),
      sendEvents: send('events'),
      sendHealth: send('health'),
      sendLabels: send('labels'),
      sendLabelState: send('labelState'),
      sendLabelEvent: send('labelEvent'),
      sendSensorState: send('sensorState'),
      receiveRequest: {
        action: 'receive',
        channel: { $ref: '#/channels/request' },
        reply: { channel: { $ref: '#/channels/response' } },
      },
      receiveHistorySearch: {
        action: 'receive',
        channel: { $ref: '#/channels/historySearchRequest' },
        reply: { channel: { $ref: '#/channels/historySearchResponse' } },
      },
      receiveGroupHistorySearch: {
        action: 'receive',
        channel: { $ref: '#/channels/historySearchGroupRequest' },
        reply: { channel: { $ref: '#/channels/historySearchResponse' } },
      },
      receiveEventsClip: {
        action: 'receive',
        channel: { $ref: '#/channels/eventsClipRequest' },
        reply: { channel: { $ref: '#/channels/eventsClipResponse' } },
      },
      receiveGroupEventsClip: {
        action: 'receive',
        channel: { $ref: '#/channels/eventsClipGroupRequest' },
        reply: { channel: { $ref: '#/channels/eventsClipResponse' } },
      },
      sendClipImage: send('clipImage'),
      sendDiscovery: send('haDiscovery'),
      receiveHaStatus: { action: 'receive', channel: { $ref: '#/channels/haStatus' } },
      receiveGroupRequest: {
        action: 'receive',
        channel: { $ref: '#/channels/groupRequest' },
        reply: { channel: { $ref: '#/channels/response' } },
      },
    },
    components: { schemas },
  };
}

export const ASYNCAPI_FILE = new URL('../../docs/asyncapi.yaml', import.meta.url);

export function renderAsyncApi(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return `# Generated by src/mqtt/asyncapi.ts — do not edit; run: node --import tsx src/mqtt/asyncapi.ts --write\n${stringify(buildAsyncApi(pkg.version), { lineWidth: 0, aliasDuplicateObjects: false, singleQuote: true })}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(ASYNCAPI_FILE, renderAsyncApi());
  console.log(`wrote ${fileURLToPath(ASYNCAPI_FILE)}`);
}
