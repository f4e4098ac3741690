"""Progress bars for training steps and ONNX exports (issue 17), drawn by tqdm on stderr only when
stderr is a terminal (disable=None) and cleared when done (leave=False). The training log on
stdout is byte for byte the same either way: its lines go through tqdm.write, which lifts a bar out
of the way and draws it again. Without tqdm (Debian: python3-tqdm) training runs as before: no
bars, the same log lines."""
import sys

try:
    from tqdm import tqdm
except ImportError:
    tqdm = None


def bar(iterable, desc, unit="step"):
    """`iterable`, with a bar on a terminal."""
    if tqdm is None:
        return iterable
    return tqdm(iterable, desc=desc, unit=unit, disable=None, leave=False, file=sys.stderr, dynamic_ncols=True)


def say(line):
    """One log line on stdout, above a bar if one is drawn."""
    if tqdm is None:
        print(line, flush=True)
    else:
        tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()
