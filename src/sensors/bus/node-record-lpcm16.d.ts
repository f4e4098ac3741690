/** Types for node-record-lpcm16 1.0.1 (it ships none); only what src/sensors/bus/pcm.ts uses. */
declare module 'node-record-lpcm16' {
  import type { ChildProcess } from 'node:child_process';
  import type { Readable } from 'node:stream';

  interface RecordOptions {
    sampleRate?: number;
    channels?: number;
    /** 'sox' (default), 'rec', 'arecord', or an absolute path to a recorder module. */
    recorder?: string;
    /** 'wav' (default, 44-byte header first) or 'raw'. */
    audioType?: 'wav' | 'raw';
    device?: string;
    endOnSilence?: boolean;
  }

  interface Recording {
    readonly process: ChildProcess;
    readonly cmd: string;
    readonly args: string[];
    stream(): Readable;
    stop(): void;
    pause(): void;
    resume(): void;
    isPaused(): boolean;
  }

  const lpcm16: { record(options?: RecordOptions): Recording };
  export default lpcm16;
}
