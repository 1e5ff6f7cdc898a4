"""A stand-in for `ssh HOST COMMAND` in the remote-backend tests: it runs COMMAND the way sshd runs it on another
machine and relays its stdin, stdout and stderr, so the add-on talks to it exactly as to a real ssh.

As on a remote machine, COMMAND is run by `sh -c` with the words joined by spaces, in the home folder, with an
environment of its own (nothing of ours, no PYTHONPATH: only PATH, HOME, LANG and, so that the test suite's check
of leftover temp files covers it, TMPDIR), and in a session of its own: killing this process does not kill it, it
only loses its pipes, as when a connection drops. Its exit code comes back as ssh's (255 when it was killed).
Like ssh with a ProxyCommand, it also has a helper process in its own process group, which it ends when it ends,
unless it is killed: then only whoever kills the whole group ends the helper too.

Usage: python ssh_like.py [--unreachable] [--drop-after N] [--remote-pids FILE] HOST COMMAND...
  --unreachable       fail at once, as ssh does with a host that refuses the connection (exit 255)
  --drop-after N      drop the connection after relaying N bytes of COMMAND's output (exit 255)
  --remote-pids FILE  append "OUR_PID COMMAND_PID" to FILE: tests check that nothing of ours outlives a kill, and
                      that COMMAND ends by itself once its connection is gone
"""

import argparse
import os
import subprocess
import sys
import threading

LOST = 255  # ssh's exit code for its own errors and a dropped connection
helper = None


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def leave(code):
    helper.kill()
    helper.wait()
    os._exit(code)  # our ends of the remote's pipes close with us


def drop(host, why):
    sys.stderr.write(f"Connection to {host} closed by remote host. ({why})\n")
    sys.stderr.flush()
    leave(LOST)


def relay_input(remote):
    """Our stdin to the remote's; our stdin closing closes the remote's, as ssh sends EOF."""
    try:
        while True:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                break
            write_all(remote.stdin.fileno(), chunk)
    except OSError:
        pass  # the remote stopped reading: its exit is relayed by the main thread
    try:
        remote.stdin.close()
    except OSError:
        pass


def relay_errors(remote):
    try:
        for chunk in iter(lambda: os.read(remote.stderr.fileno(), 1 << 16), b""):
            write_all(2, chunk)
    except OSError:
        pass


def main():
    global helper
    parser = argparse.ArgumentParser()
    parser.add_argument("--unreachable", action="store_true")
    parser.add_argument("--drop-after", type=int)
    parser.add_argument("--remote-pids")
    parser.add_argument("host")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.unreachable:
        print(f"ssh: connect to host {args.host} port 22: Connection refused", file=sys.stderr, flush=True)
        sys.exit(LOST)
    helper = subprocess.Popen(["sleep", "86400"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    home = os.environ.get("HOME", "/")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"}
    if "TMPDIR" in os.environ:
        env["TMPDIR"] = os.environ["TMPDIR"]
    remote = subprocess.Popen(["sh", "-c", " ".join(args.command)], cwd=home, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    if args.remote_pids:
        with open(args.remote_pids, "a", encoding="ascii") as handle:
            handle.write(f"{os.getpid()} {remote.pid}\n")
    threading.Thread(target=relay_input, args=(remote,), daemon=True).start()
    errors = threading.Thread(target=relay_errors, args=(remote,), daemon=True)
    errors.start()
    sent = 0
    while True:
        chunk = os.read(remote.stdout.fileno(), 1 << 16)
        if not chunk:
            break
        if args.drop_after is not None and sent + len(chunk) >= args.drop_after:
            write_all(1, chunk[:args.drop_after - sent])
            drop(args.host, f"after {args.drop_after} bytes")
        try:
            write_all(1, chunk)
        except OSError:
            drop(args.host, "the local end stopped reading")
        sent += len(chunk)
    code = remote.wait()
    errors.join(timeout=2)
    sys.stdout.flush()
    sys.stderr.flush()
    leave(code if code >= 0 else LOST)


if __name__ == "__main__":
    main()
