/**
 * The one configuration schema. Types are inferred from it, the JSON Schema in
 * docs/config.schema.json is generated from it, and docs/config.md describes it.
 * Objects are strict: an unknown key is an error, never silently ignored.
 * Which keys a running agent applies live (SIGHUP) is declared once, in config/live.ts.
 */
import { z } from 'zod';
import { firstNonFinite } from '../util/vectors.js';
import { SENSOR_MODALITIES, type SensorModality } from '../pipeline/types.js';
import { SensorConfigSchema } from '../sensors/schemas.js';
import { id } from './sensor-base.js';

export { DEFAULT_WINDOWS, ID_PATTERN, ReplaySensorSchema, WindowSchema, sensorBase } from './sensor-base.js';

/** Every driver's schema, keyed on `driver` (src/sensors/schemas.ts lists them). */
export const SensorSchema = SensorConfigSchema;

const modalityRecord = <T extends z.ZodType>(value: T) =>
  z.strictObject({
    audio: value.optional(),
    thermal: value.optional(),
    depth: value.optional(),
    imu: value.optional(),
  });

/**
 * Text that goes into the text encoder (prompts, templates, background prompts): no C0/C1 control
 * characters and no U+FFFD, which is what invalid UTF-8 in a request or file decodes to, and no
 * lone UTF-16 surrogates (a JSON `\ud800` escape). Rejected with its path, never cleaned up
 * (issue 14).
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const promptText = (maxChars = 300) =>
  z
    .string()
    .min(1)
    .max(maxChars)
    .regex(
      // eslint-disable-next-line no-control-regex
      /^[^\u0000-\u001f\u007f-\u009f\ufffd]*$/,
      'must not contain control characters or U+FFFD (invalid UTF-8)',
    )
    .refine((t) => !LONE_SURROGATE.test(t), 'must not contain unpaired UTF-16 surrogates');

/**
 * Why an inline example vector is unusable (its bytes are not whole float32 values, a value is NaN
 * or ±Infinity, or all are zero), or undefined. A NaN example once made every label's score NaN.
 */
export function exampleVectorProblem(base64: string): string | undefined {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0 || bytes.length % 4 !== 0)
    return `${bytes.length} bytes is not a whole number of float32 values`;
  const v = new Float32Array(bytes.length / 4);
  for (let i = 0; i < v.length; i++) v[i] = bytes.readFloatLE(i * 4);
  const bad = firstNonFinite(v);
  if (bad >= 0) return `value ${bad} is ${v[bad]}; every value must be finite`;
  if (v.every((x) => x === 0)) return 'every value is zero; a vector needs a direction';
  return undefined;
}

const templateList = z
  .array(promptText().refine((t) => t.includes('{}'), 'a template must contain "{}" where the prompt goes'))
  .min(1)
  .max(80);

/** Per-label overrides of the `events` timing (each defaults to the global value). */
export const LabelTimingSchema = z.strictObject({
  minWindows: z.int().min(1).max(100).optional(),
  endWindows: z.int().min(1).max(100).optional(),
  updateIntervalMs: z.int().min(0).optional(),
  unseenMs: z.int().min(0).optional(),
  cooldownMs: z.int().min(0).optional(),
  maxDurationMs: z.int().min(1000).optional(),
});

export const PROTOTYPE_FORMAT = 'edgebind-prototype';

/**
 * What `edgebind label from-example` writes (src/fusion/prototype.ts): a few-shot prototype with
 * the modality and pack it was made with. A label example takes it as it is, as `prototype`.
 */
export const PrototypeFileSchema = z.strictObject({
  format: z.literal(PROTOTYPE_FORMAT),
  version: z.literal(1),
  modality: z.enum(SENSOR_MODALITIES),
  dim: z.int().positive(),
  /** Pack whose encoder made it; prototypes from another pack live in another space. */
  pack: z.strictObject({ id: z.string(), version: z.string() }),
  sources: z.array(z.strictObject({ file: z.string(), windows: z.int().min(1) })).min(1),
  windows: z.int().min(1),
  /** Little-endian float32, base64, unit length. */
  vector: z.string().min(1),
});
export type PrototypeFile = z.infer<typeof PrototypeFileSchema>;

/**
 * An example vector given inline (label examples, history/search's example): base64 of
 * little-endian float32, checked by exampleVectorProblem. One definition, so a file and a request
 * are refused in the same words.
 */
export const exampleBase64Field = (description: string) =>
  z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      const problem = exampleVectorProblem(text);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .meta({ description });

/** A prototype file given as its JSON object, its vector checked and matched against its `dim`. */
export const examplePrototypeField = (description: string) =>
  PrototypeFileSchema.superRefine((p, ctx) => {
    const problem = exampleVectorProblem(p.vector);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['vector'], message: problem });
    else if (Buffer.from(p.vector, 'base64').length / 4 !== p.dim)
      ctx.addIssue({
        code: 'custom',
        path: ['vector'],
        message: `${Buffer.from(p.vector, 'base64').length / 4} values, but dim says ${p.dim}`,
      });
  })
    .optional()
    .meta({ description });

export const LabelExampleSchema = z
  .strictObject({
    file: z.string().min(1).optional().meta({
      description: 'Prototype JSON written by `edgebind label from-example` (relative to the config file).',
    }),
    base64: exampleBase64Field(
      'Prototype vector inline: base64 of little-endian float32 values, all finite and not all zero.',
    ),
    prototype: examplePrototypeField(
      'A prototype file written by `edgebind label from-example`, as it is (its JSON object); it says its own modality and pack. The way to send one over MQTT, where `file` is refused.',
    ),
    modality: z.enum(SENSOR_MODALITIES).optional().meta({
      description:
        'Modality of an inline vector (a file or prototype says its own). Default: every modality of the label.',
    }),
    weight: z.number().min(-10).max(10).default(1).meta({
      description: 'Weight of this example in the label vector; negative subtracts it.',
    }),
  })
  .superRefine((e, ctx) => {
    const given = (['file', 'base64', 'prototype'] as const).filter((k) => e[k] !== undefined);
    if (given.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message:
          given.length === 0
            ? 'give one of file, base64 or prototype'
            : `give only one of file, base64 or prototype, not ${given.join(' and ')}`,
      });
    if (e.prototype && e.modality !== undefined && e.modality !== e.prototype.modality)
      ctx.addIssue({
        code: 'custom',
        path: ['modality'],
        message: `the prototype is ${e.prototype.modality}; leave modality out (a prototype says its own)`,
      });
  });

/**
 * Home Assistant's binary_sensor device classes
 * (https://www.home-assistant.io/integrations/binary_sensor/#device-class).
 */
export const HA_BINARY_SENSOR_CLASSES = [
  'battery',
  'battery_charging',
  'carbon_monoxide',
  'cold',
  'connectivity',
  'door',
  'garage_door',
  'gas',
  'heat',
  'light',
  'lock',
  'moisture',
  'motion',
  'moving',
  'occupancy',
  'opening',
  'plug',
  'power',
  'presence',
  'problem',
  'running',
  'safety',
  'smoke',
  'sound',
  'tamper',
  'update',
  'vibration',
  'window',
] as const;
export type HaBinarySensorClass = (typeof HA_BINARY_SENSOR_CLASSES)[number];

/** Per-label Home Assistant settings (issue 17 item 12). */
export const LabelHomeAssistantSchema = z.strictObject({
  deviceClass: z
    .enum([...HA_BINARY_SENSOR_CLASSES, 'none'])
    .optional()
    .meta({
      description:
        "Device class of the label's Home Assistant binary_sensor (smoke, occupancy, tamper, sound, …); none = no class. Default: from the label's name and modalities (docs/mqtt.md, Home Assistant).",
    }),
});

export const LabelSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, _ or -, at most 64')
      .meta({ description: 'Label name, used in events and topics.' }),
    prompts: z.array(promptText()).max(32).default([]).meta({
      description:
        'Text prompts; each is put into every template of the modality and all are averaged (prompt ensembling).',
    }),
    templates: modalityRecord(templateList).optional().meta({
      description:
        'Prompt templates per modality for this label ("{}" = the prompt). Default: scoring.templates.',
    }),
    textWeight: z.number().min(-10).max(10).default(1).meta({
      description: 'Weight of the text direction when mixed with examples; negative subtracts it.',
    }),
    examples: z.array(LabelExampleSchema).max(32).default([]).meta({
      description: 'Few-shot prototypes (example embeddings), mixed with the text direction by weight.',
    }),
    modalities: z
      .array(z.enum(SENSOR_MODALITIES))
      .min(1)
      .optional()
      .meta({ description: 'Modalities the label applies to. Default: all configured.' }),
    threshold: z.number().min(0).max(1).optional().meta({
      description: 'Score at or above which a window counts as a match. Default: scoring.threshold.',
    }),
    offThreshold: z.number().min(0).max(1).optional().meta({
      description: 'Score below which a window counts as a miss while an event is open. Default: threshold.',
    }),
    margin: z.number().min(0).max(1).optional().meta({
      description:
        'The label must beat the runner-up (or background) by this much to start. Default: scoring.margin.',
    }),
    minCosine: z.number().min(-1).max(1).optional().meta({
      description:
        'Raw cosine similarity a window must reach to start (example-similarity gate). Default: scoring.minCosine.',
    }),
    fusion: z.enum(['score', 'embedding']).optional().meta({
      description: 'How sensors are combined for this label. Default: fusion.mode.',
    }),
    events: LabelTimingSchema.optional().meta({
      description: 'Overrides of the events timing for this label.',
    }),
    homeAssistant: LabelHomeAssistantSchema.optional().meta({
      description: 'How Home Assistant discovery shows this label (homeAssistant.enabled).',
    }),
  })
  .refine((l) => l.prompts.length > 0 || l.examples.length > 0, {
    message: 'a label needs at least one prompt or example',
    path: ['prompts'],
  });

/** CLIP-style templates per modality (ImageBind used CLIP's templates for every modality). */
export const DEFAULT_TEMPLATES: Record<SensorModality, string[]> = {
  audio: ['{}', 'the sound of {}.', 'a recording of {}.'],
  thermal: ['{}', 'a thermal image of {}.', 'an infrared photo of {}.'],
  depth: ['{}', 'a depth map of {}.', 'a depth image of {}.'],
  imu: ['{}', 'motion sensor data of {}.', 'the movement of {}.'],
};

export const ScoringSchema = z.strictObject({
  mode: z.enum(['softmax', 'imagebind']).default('softmax').meta({
    description:
      "softmax: each label's prompts through every template, softmax at `temperature` with the background prompts. imagebind: ImageBind's own zero-shot score, softmax(embedding @ text.T) with the pack's logit scales (text × modality scale from manifest.json), one prompt per label as written, no templates, no background prompts, no examples; `temperature`, `templates` and `backgroundPrompts` are not used (docs/labels.md §4).",
  }),
  temperature: z.number().positive().max(1000).default(50).meta({
    description:
      "Softmax scale applied to cosine similarities (higher = sharper), mode softmax only; mode imagebind takes the pack's logit scales instead.",
  }),
  threshold: z.number().min(0).max(1).default(0.5).meta({ description: 'Default per-label on-threshold.' }),
  margin: z.number().min(0).max(1).default(0).meta({
    description:
      'Default margin: a label starts only if its score beats the runner-up (or background) by this much.',
  }),
  minCosine: z.number().min(-1).max(1).default(-1).meta({
    description:
      'Default absolute gate on the raw cosine (fused) similarity to start; -1 = off. Useful for example labels.',
  }),
  backgroundPrompts: z.array(promptText()).max(32).default(['background noise', 'an empty quiet room']).meta({
    description: 'Prompts for "nothing of interest"; they take part in the softmax but never fire.',
  }),
  templates: z
    .strictObject({
      audio: templateList.default(DEFAULT_TEMPLATES.audio),
      thermal: templateList.default(DEFAULT_TEMPLATES.thermal),
      depth: templateList.default(DEFAULT_TEMPLATES.depth),
      imu: templateList.default(DEFAULT_TEMPLATES.imu),
    })
    .default({ ...DEFAULT_TEMPLATES })
    .meta({ description: 'Prompt templates per modality ("{}" = the prompt); labels may override them.' }),
  smoothingWindows: z
    .int()
    .min(1)
    .max(50)
    .default(1)
    .meta({ description: 'Smooth a label score over this many consecutive (fused) observations.' }),
  smoothing: z
    .enum(['mean', 'median'])
    .default('mean')
    .meta({ description: 'How smoothingWindows are combined: mean, or median (ignores single outliers).' }),
  inspectTopK: z.int().min(0).max(100).default(0).meta({
    description: 'Log the top-k labels of every window at debug level (0 = off). Tuning aid.',
  }),
});

export const FusionSchema = z.strictObject({
  mode: z.enum(['score', 'embedding']).default('score').meta({
    description:
      "score: weighted mean of per-sensor label scores; embedding: weighted sum of the sensors' unit embeddings, re-normalised, then scored (ImageBind embedding arithmetic).",
  }),
  toleranceMs: z.int().min(0).max(60_000).default(1500).meta({
    description:
      "A sensor's latest window counts toward fusion for this long; older ones (stale sensor) drop out.",
  }),
  weights: modalityRecord(z.number().min(0).max(100)).default({}).meta({
    description: 'Weight per modality in both fusion modes. Default 1 each.',
  }),
});

export const EventsSchema = z.strictObject({
  minWindows: z
    .int()
    .min(1)
    .max(100)
    .default(1)
    .meta({ description: 'Windows at or above threshold to start.' }),
  endWindows: z.int().min(1).max(100).default(2).meta({ description: 'Windows below offThreshold to end.' }),
  updateIntervalMs: z.int().min(0).default(5000).meta({ description: 'At most one update per interval.' }),
  unseenMs: z
    .int()
    .min(0)
    .default(10_000)
    .meta({ description: 'End when no matching window arrives for this long.' }),
  cooldownMs: z
    .int()
    .min(0)
    .default(2000)
    .meta({ description: 'No new event for the label this soon after one ends.' }),
  maxDurationMs: z.int().min(1000).default(600_000).meta({ description: 'End (and restart) long events.' }),
  includeEmbedding: z.boolean().default(false).meta({
    description: 'Add the fused embedding of the peak observation to events (base64 float16).',
  }),
  print: z.boolean().default(false).meta({
    description:
      '`edgebind run`: print each event as one readable line on stdout even when stdout is no terminal (on a terminal it always does).',
  }),
});

const brokerUrl = z.url({
  protocol: /^(mqtts?|wss?)$/,
  error: 'must be "embedded" or an mqtt://, mqtts://, ws:// or wss:// URL',
});

export const MqttSchema = z.strictObject({
  broker: z
    .union([z.literal('embedded'), brokerUrl])
    .default('embedded')
    .meta({
      description: '"embedded" starts an in-process broker on 127.0.0.1; otherwise the broker URL.',
    }),
  embeddedPort: z.int().min(1).max(65535).default(1883).meta({ description: 'Port of the embedded broker.' }),
  baseTopic: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'topic levels of letters, digits, _ or -; no wildcards')
    .default('edgebind'),
  clientId: z.string().min(1).max(128).optional().meta({ description: 'Default: edgebind-<deviceId>.' }),
  username: z.string().min(1).optional(),
  passwordEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/)
    .optional()
    .meta({
      description: 'Name of the environment variable holding the password (secrets stay out of files).',
    }),
  keepaliveS: z.int().min(5).max(3600).default(30),
  reconnectMinMs: z
    .int()
    .min(100)
    .default(1000)
    .meta({ description: 'First reconnect delay; doubles per failure.' }),
  reconnectMaxMs: z.int().min(1000).default(30_000).meta({ description: 'Longest reconnect delay.' }),
  outboxMax: z.int().min(1).max(1_000_000).default(10_000).meta({
    description:
      'Events kept in the durable outbox (stateDir) while unacknowledged, on disk or (while the state disk is full) in memory; beyond that the oldest are dropped and counted.',
  }),
  outboxMaxBytes: z
    .int()
    .min(4096)
    .default(16 * 1024 * 1024)
    .meta({
      description:
        'Bytes of events kept in the outbox, on disk or (while the state disk is full) in memory; beyond that the oldest are dropped and counted.',
    }),
  outboxMaxAgeS: z
    .int()
    .min(0)
    .default(7 * 24 * 3600)
    .meta({
      description: 'Events older than this (seconds) are dropped from the outbox and counted; 0 = no limit.',
    }),
  outboxCommitDelayMs: z.int().min(0).max(1000).default(1).meta({
    description:
      'Group commit: the longest an event waits before the fdatasync that puts it on disk starts (ms); events appended meanwhile, or while an fdatasync runs, share one. An event is published only once it is on disk. 0 = start at the next turn of the event loop.',
  }),
  messageExpiryS: z
    .int()
    .min(0)
    .default(0)
    .meta({ description: 'MQTT 5 message expiry of events in seconds (0 = none); needs protocolVersion 5.' }),
  maxInflight: z.int().min(1).max(1000).default(32).meta({ description: 'Events awaiting PUBACK at once.' }),
  protocolVersion: z
    .union([z.literal(4), z.literal(5)])
    .default(4)
    .meta({ description: '4 = MQTT 3.1.1, 5 = MQTT 5 (response topics, message expiry).' }),
  persistentSession: z.boolean().default(false).meta({
    description: 'Ask the broker to keep the session (clean = false) across disconnects.',
  }),
  sessionExpiryS: z
    .int()
    .min(0)
    .default(3600)
    .meta({ description: 'MQTT 5 session expiry in seconds for a persistent session.' }),
  passwordFile: z.string().min(1).optional().meta({
    description:
      'File holding the password (first line; relative to the config file). Not together with passwordEnv.',
  }),
  caFile: z.string().min(1).optional().meta({
    description: 'PEM CA certificate(s) the broker certificate must chain to (mqtts, wss).',
  }),
  certFile: z.string().min(1).optional().meta({ description: 'PEM client certificate for mutual TLS.' }),
  keyFile: z.string().min(1).optional().meta({ description: 'PEM private key of the client certificate.' }),
  rejectUnauthorized: z.boolean().default(true).meta({
    description: 'Refuse brokers whose certificate is not trusted. Only turn off for tests.',
  }),
  healthIntervalS: z.int().min(0).max(86_400).default(60).meta({
    description:
      'Seconds between health messages (also sent within a second of a sensor going down or coming back); 0 = none.',
  }),
  maxClipMessageBytes: z
    .int()
    .min(16 * 1024)
    .max(256 * 1024 * 1024)
    .default(128 * 1024)
    .meta({
      description:
        "Largest payload the agent publishes for event clips, bytes (issue #18): an events/clip answer sends a file in base64 chunks that fit, and lists as many clips as fit; the Home Assistant picture of the last event is not published when larger. Keep it at or under the broker's limit (Mosquitto message_size_limit, AWS IoT 128 KB).",
    }),
});

export const PublicKeySchema = z.strictObject({
  id: id('key id').meta({ description: 'Key id that signed requests name in signature.keyId.' }),
  key: z.string().min(40).max(1000).meta({
    description: 'Ed25519 public key: PEM (SPKI) or base64 of the 32 raw bytes.',
  }),
});

export const RemoteSchema = z.strictObject({
  enabled: z.boolean().default(true).meta({
    description: 'Answer requests (labels/*, history/search, events/clip) on <base>/<deviceId>/request/<op>.',
  }),
  groups: z.array(id('group')).max(32).default([]).meta({
    description: 'Fleet groups: requests on <base>/groups/<group>/request/<op> apply here too.',
  }),
  requireSigned: z.boolean().default(false).meta({
    description: 'Reject requests without a valid Ed25519 signature by one of publicKeys.',
  }),
  publicKeys: z
    .array(PublicKeySchema)
    .max(16)
    .default([])
    .meta({ description: 'Keys trusted to sign requests.' }),
  maxRequestAgeS: z.int().min(10).max(86_400).default(300).meta({
    description:
      'Replay protection for signed requests: refuse one whose issuedAt is more than this many seconds before or after the device clock; its nonce is remembered that long.',
  }),
  maxPendingRequests: z.int().min(1).max(10_000).default(64).meta({
    description:
      'Most requests waiting or running at once (the label turn plus searches, replays and clip reads); one more is answered REQUEST_BUSY at once, unread, so a flood of requests cannot queue up memory or CPU.',
  }),
  maxNonces: z.int().min(16).max(100_000).default(10_000).meta({
    description:
      'Most signed-request nonces remembered at once; while full, further signed requests are refused (REPLAY_CACHE_FULL) until old ones expire.',
  }),
  responseTopicPrefixes: z
    .array(
      z
        .string()
        .min(2)
        .max(128)
        .regex(
          // eslint-disable-next-line no-control-regex
          /^[^$+#\u0000][^+#\u0000]*\/$/,
          'a topic prefix ending in "/", without wildcards, not a $ topic',
        ),
    )
    .max(16)
    .default([])
    .meta({
      description:
        'MQTT 5 response topics a request may name besides <base>/<deviceId>/response/…: topics below one of these prefixes (each ending in "/"). Topics below <base>/ or Home Assistant\'s discovery prefix are refused whatever this says; a request naming a refused response topic is not handled and is answered RESPONSE_TOPIC_INVALID on <base>/<deviceId>/response/<op>.',
    }),
  maxLabels: z.int().min(1).max(1000).default(100).meta({ description: 'Most labels a request may set.' }),
  maxPromptChars: z
    .int()
    .min(1)
    .max(300)
    .default(300)
    .meta({ description: 'Longest prompt a request may contain.' }),
  maxPayloadBytes: z
    .int()
    .min(256)
    .max(1024 * 1024)
    .default(64 * 1024)
    .meta({ description: 'Largest request payload accepted, bytes.' }),
  testWindows: z
    .int()
    .min(1)
    .max(1024)
    .default(32)
    .meta({ description: 'Recent window embeddings kept for labels/test.' }),
  maxReplayWindows: z.int().min(100).max(10_000_000).default(100_000).meta({
    description:
      'Most history windows a labels/test with since replays (about 7 h of 4 sensors at 1 window/s); a range holding more is refused (HISTORY_REPLAY_TOO_LARGE).',
  }),
});

export const HomeAssistantSchema = z.strictObject({
  enabled: z.boolean().default(false).meta({
    description:
      "Publish Home Assistant MQTT discovery for the device, each label and each sensor's connectivity.",
  }),
  discoveryPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'topic levels of letters, digits, _ or -; no wildcards')
    .default('homeassistant'),
  statusTopic: z.string().min(1).default('homeassistant/status').meta({
    description: "Home Assistant's birth topic; `online` there re-announces discovery.",
  }),
  deviceName: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .meta({ description: 'Device name shown in Home Assistant. Default: edgebind <deviceId>.' }),
});

/**
 * onnxruntime execution providers edgebind knows. onnxruntime-node's linux-x64 binary bundles
 * `webgpu` (Dawn over Vulkan) besides `cpu`; `cuda` and `tensorrt` need libraries npm does not
 * ship (deploy/gpu.md).
 */
export const EXECUTION_PROVIDERS = ['tensorrt', 'cuda', 'webgpu', 'cpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export const EncodersSchema = z.strictObject({
  pack: z.string().min(1).default('test').meta({
    description:
      'Model pack directory (relative to the config file), or "test" for the random-weight test pack generated into stateDir.',
  }),
  providers: z.array(z.enum(EXECUTION_PROVIDERS)).min(1).default(['cpu']).meta({
    description:
      'Execution providers to try in order, per encoder (tensorrt, cuda, webgpu, cpu); one that cannot load is skipped with a warning, and cpu is always the last resort. Each encoder is warmed up at start on every batch size it will use (deploy/gpu.md).',
  }),
  intraOpThreads: z.int().min(1).max(64).default(1),
  interOpThreads: z.int().min(1).max(64).default(1),
  maxBatch: z.int().min(1).max(64).default(8).meta({
    description:
      'Most windows of one modality (or label texts) per inference. On a GPU provider each encoder runs every batch size up to this once at start, so no window waits for kernel compilation.',
  }),
});

export const LogSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  format: z.enum(['pretty', 'json']).optional().meta({
    description:
      'Log lines on stderr. pretty: `time LEVEL component: message` for people; json: one JSON object per line (journald, log shippers). Default: pretty when stderr is a terminal, json otherwise. `--log-format` overrides it.',
  }),
});

export const MetricsSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .meta({ description: 'Serve Prometheus metrics at http://host:port/metrics.' }),
  port: z.int().min(1).max(65535).default(9464).meta({ description: 'TCP port of the metrics endpoint.' }),
  host: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .meta({ description: 'Address to bind; keep loopback unless a firewall guards the port.' }),
  statsIntervalMs: z
    .int()
    .min(500)
    .max(600_000)
    .default(5000)
    .meta({ description: 'Milliseconds between samples of window/MQTT counters.' }),
});

export const HistorySchema = z.strictObject({
  enabled: z.boolean().default(true).meta({
    description:
      "Keep every window's embedding (sensor, modality, start and end time, pack) in <stateDir>/devices/<deviceId>/history/ for `edgebind history search` (docs/history.md). Embeddings only, never raw sensor data. false: nothing is written.",
  }),
  maxAgeS: z
    .int()
    .min(60)
    .max(366 * 24 * 3600)
    .default(24 * 3600)
    .meta({
      description: 'Windows older than this (seconds) are deleted, a segment (at most an hour) at a time.',
    }),
  maxBytes: z
    .int()
    .min(1024 * 1024)
    .default(512 * 1024 * 1024)
    .meta({
      description:
        'Bytes the history may take on disk; beyond that the oldest segments are deleted. 512 MiB holds 24 h of 4 sensors at 1 window/s at 1024-d (1048 bytes per window; 152 at 128-d).',
    }),
});

export const ClipsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).meta({
      description:
        "Keep each event's raw sensor data (WAV audio, PNG heat maps of thermal and depth, CSV of IMU, and event.json) in <stateDir>/devices/<deviceId>/clips/<eventId>/ for `edgebind clips` (docs/history.md). Unlike the history these are recordings of the room: see the privacy notes there. false: no ring is kept, nothing is written.",
    }),
    preRollS: z.number().min(0).max(60).default(5).meta({
      description:
        "Seconds before the event's start the clip begins with (each sensor keeps this much of its recent data in memory).",
    }),
    postRollS: z.number().min(0).max(60).default(5).meta({
      description: "Seconds after the event's end the clip goes on for.",
    }),
    maxClipS: z.number().min(1).max(600).default(60).meta({
      description:
        'Longest clip, seconds, pre-roll included; a longer event is cut there (event.json says truncated) and written at once.',
    }),
    maxAgeS: z
      .int()
      .min(60)
      .max(366 * 24 * 3600)
      .default(7 * 24 * 3600)
      .meta({ description: 'Clips of events that started longer ago than this (seconds) are deleted.' }),
    maxBytes: z
      .int()
      .min(1024 * 1024)
      .default(256 * 1024 * 1024)
      .meta({
        description:
          'Bytes the clips may take on disk; beyond that the oldest clips are deleted. A 15 s clip of the demo (16 kHz audio, two heat-map PNGs each of thermal and depth, 100 Hz IMU) takes about 0.6 MB.',
      }),
  })
  .refine((c) => c.preRollS < c.maxClipS, {
    path: ['preRollS'],
    message: 'must be less than maxClipS',
  });

export const ConfigSchema = z
  .strictObject({
    deviceId: id('deviceId').optional().meta({
      description: 'Device id used in topics. Default: the host name. --device-id overrides.',
    }),
    stateDir: z.string().min(1).optional().meta({
      description:
        'Writable state (generated packs, caches, the event outbox, the lock). When its disk is full the agent runs on degraded (docs/mqtt.md). Default: $STATE_DIRECTORY (systemd), else ~/.cache/edgebind.',
    }),
    mqtt: MqttSchema.default(MqttSchema.parse({})),
    encoders: EncodersSchema.default(EncodersSchema.parse({})),
    sensors: z.array(SensorSchema).min(1).max(16),
    labels: z.array(LabelSchema).max(1000).default([]),
    scoring: ScoringSchema.default(ScoringSchema.parse({})),
    fusion: FusionSchema.default(FusionSchema.parse({})),
    events: EventsSchema.default(EventsSchema.parse({})),
    log: LogSchema.default(LogSchema.parse({})),
    metrics: MetricsSchema.default(MetricsSchema.parse({})),
    remote: RemoteSchema.default(RemoteSchema.parse({})),
    homeAssistant: HomeAssistantSchema.default(HomeAssistantSchema.parse({})),
    history: HistorySchema.default(HistorySchema.parse({})),
    clips: ClipsSchema.default(ClipsSchema.parse({})),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.sensors.forEach((s, i) => {
      if (seen.has(s.id))
        ctx.addIssue({
          code: 'custom',
          path: ['sensors', i, 'id'],
          message: `duplicate sensor id "${s.id}"`,
        });
      seen.set(s.id, i);
    });
    const names = new Set<string>();
    cfg.labels.forEach((l, i) => {
      if (names.has(l.name))
        ctx.addIssue({ code: 'custom', path: ['labels', i, 'name'], message: `duplicate label "${l.name}"` });
      names.add(l.name);
      if (l.offThreshold !== undefined && l.threshold !== undefined && l.offThreshold > l.threshold) {
        ctx.addIssue({
          code: 'custom',
          path: ['labels', i, 'offThreshold'],
          message: 'must not exceed threshold',
        });
      }
    });
    if (cfg.mqtt.passwordEnv !== undefined && cfg.mqtt.passwordFile !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['mqtt', 'passwordFile'],
        message: 'give passwordEnv or passwordFile, not both',
      });
    cfg.remote.responseTopicPrefixes.forEach((p, i) => {
      if (p === `${cfg.mqtt.baseTopic}/` || p.startsWith(`${cfg.mqtt.baseTopic}/`))
        ctx.addIssue({
          code: 'custom',
          path: ['remote', 'responseTopicPrefixes', i],
          message: `is below mqtt.baseTopic "${cfg.mqtt.baseTopic}/", where responses would reach the agents' own topics; <base>/<deviceId>/response/ is always allowed`,
        });
    });
    if (cfg.mqtt.reconnectMinMs > cfg.mqtt.reconnectMaxMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['mqtt', 'reconnectMinMs'],
        message: 'must not exceed reconnectMaxMs',
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type SensorConfig = z.infer<typeof SensorSchema>;
export type LabelConfig = z.infer<typeof LabelSchema>;
export type MqttConfig = z.infer<typeof MqttSchema>;
export type RemoteConfig = z.infer<typeof RemoteSchema>;
export type HomeAssistantConfig = z.infer<typeof HomeAssistantSchema>;
export type EventsConfig = z.infer<typeof EventsSchema>;
export type ScoringConfig = z.infer<typeof ScoringSchema>;
export type FusionConfig = z.infer<typeof FusionSchema>;
export type HistoryConfig = z.infer<typeof HistorySchema>;
export type ClipsConfig = z.infer<typeof ClipsSchema>;
export type LabelExampleConfig = z.infer<typeof LabelExampleSchema>;
export type LabelTimingConfig = z.infer<typeof LabelTimingSchema>;
