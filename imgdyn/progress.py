"""A progress bar per stage on the terminal (a few plain lines when the output is not a terminal)."""

import sys
import time


class StageProgress:
    WIDTH = 28

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.interactive = stream.isatty()
        self.stage, self.started, self.last_quarter = None, 0.0, -1

    def update(self, stage, fraction, detail=""):
        if stage != self.stage:
            self.finish()
            self.stage, self.started, self.last_quarter = stage, time.perf_counter(), -1
        fraction = min(max(fraction, 0.0), 1.0)
        if self.interactive:
            filled = round(fraction * self.WIDTH)
            self.stream.write(f"\r[{stage:>8}] [{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%} "
                              f"{detail[:40]:<40}")
            self.stream.flush()
        elif int(fraction * 4) > self.last_quarter:
            self.last_quarter = int(fraction * 4)
            print(f"[{stage:>8}] {fraction:4.0%} {detail}", file=self.stream, flush=True)

    def finish(self):
        if self.stage is None:
            return 0.0
        seconds = time.perf_counter() - self.started
        if self.interactive:
            self.stream.write("\n")
        print(f"[{self.stage:>8}] done in {seconds:.2f} s", file=self.stream, flush=True)
        self.stage = None
        return seconds
