/**
 * The persisted label set of one device: `<stateDir>/devices/<deviceId>/labels.json`, written
 * crash-safely (temp file, fsync, rename, fsync dir) so after kill -9 or power loss it holds
 * either the previous or the new version, never a torn file. Versions only grow.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LabelSchema, type LabelConfig } from '../config/schema.js';
import { writeFileAtomic } from '../util/durable-file.js';

export interface StoredLabels {
  version: number;
  hash: string;
  updatedAt: string;
  labels: LabelConfig[];
}

const StoredSchema = z.object({
  version: z.int().min(1),
  hash: z.string(),
  updatedAt: z.string(),
  labels: z.array(LabelSchema),
});

export class LabelStore {
  readonly file: string;

  constructor(private readonly dir: string) {
    this.file = join(dir, 'labels.json');
  }

  /** The stored set; undefined when none was ever stored. Throws on an unreadable or invalid file. */
  load(): StoredLabels | undefined {
    this.removeStaleTemps();
    if (!existsSync(this.file)) return undefined;
    const raw: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
    return StoredSchema.parse(raw);
  }

  save(s: StoredLabels): void {
    writeFileAtomic(this.file, `${JSON.stringify(s, null, 2)}\n`);
  }

  /** Temp files left by a crash mid-save (never renamed, so never the current version). */
  private removeStaleTemps(): void {
    if (!existsSync(this.dir)) return;
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith('.labels.json.') && name.endsWith('.tmp'))
        rmSync(join(this.dir, name), { force: true });
    }
  }
}
