#!/usr/bin/env node
/**
 * The `edgebind` command line (src/cli/program.ts). Only startup-signals.ts is imported statically:
 * an ES module graph is loaded and parsed whole before any of it runs, so the daemon commands'
 * signal handlers go in first and everything else (commander, the encoders, onnxruntime-node)
 * comes in by dynamic import after them (issue #14: a signal in the first seconds must not kill
 * `edgebind run` with the default action).
 */
import './startup-signals.js';

const { buildProgram } = await import('./program.js');
try {
  await (await buildProgram(process.argv)).parseAsync(process.argv);
} catch (err) {
  // A command that lets an error escape still gets one line, never a stack trace (issue 17 item 4).
  const { reportAndExit } = await import('./errors.js');
  reportAndExit(err);
}
