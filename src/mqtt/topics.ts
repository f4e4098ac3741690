/** Every topic edgebind uses, in one place (docs/mqtt.md documents them). */

export interface DeviceTopics {
  /** Retained `online` / `offline`; `offline` is also the last will. */
  status: string;
  /** Label events as JSON, QoS 1, not retained. */
  events: string;
}

export function deviceTopics(baseTopic: string, deviceId: string): DeviceTopics {
  const root = `${baseTopic}/${deviceId}`;
  return { status: `${root}/status`, events: `${root}/events` };
}
