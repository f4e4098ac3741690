/**
 * Imported first by the CLI entry (src/cli/index.ts), before any heavy module (onnxruntime-node,
 * the encoders) loads: the daemon commands get their signal handlers at once, so a SIGHUP or
 * SIGINT in the first seconds neither kills them with the default action nor leaves their state
 * lock behind (issue #14). Other commands keep the default signal behaviour.
 */
import { daemonLifecycle } from './lifecycle.js';

const command = process.argv[2];
if (command === 'run' || command === 'demo') daemonLifecycle();
