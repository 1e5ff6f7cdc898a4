"""A backend that misbehaves on purpose. Fault tests make a wrapper script that runs it in place of the real
backend, with IMAGEDYN_FAULT naming the fault. It is the real service, broken at one point."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from backend import service  # noqa: E402

FAULT = os.environ["IMAGEDYN_FAULT"]
real_run_job, real_write = service.run_job, service.write_message


def faulty_run_job(job, image, arrays, progress):
    progress("integrating", 0.1)
    if FAULT == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if FAULT == "hang":
        time.sleep(3600)
    if FAULT == "slow":  # a long step between two progress reports: a cancel is seen only at the next one
        time.sleep(4)
        progress("integrating", 0.2)
    if FAULT == "crash":
        print("simulated crash in the motion engine", file=sys.stderr, flush=True)
        os._exit(70)
    return real_run_job(job, image, arrays, progress)


def faulty_write(stream, header, arrays=None):
    if header["type"] == "result" and FAULT == "garbage":
        stream.write(b"\x00\xffnot a frame at all" * 64)
        stream.flush()
        return
    if header["type"] == "result" and FAULT == "wrong_shape":
        arrays = {name: array[..., :1] if name.endswith("_lookup") else array for name, array in arrays.items()}
    real_write(stream, header, arrays)


service.run_job, service.write_message = faulty_run_job, faulty_write
sys.exit(service.main())
