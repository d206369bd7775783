"""Drive redis-cli's interactive mode (which sends COMMAND DOCS at start and
asserts on its structure) through a pseudo-terminal.

Usage: python3 redis_cli_interactive.py PORT. Types `set cli:interactive yes`,
`get cli:interactive` and `quit`, prints the transcript and exits with redis-cli's
status (killing it after 10 s if it does not exit).
"""
import os
import pty
import select
import signal
import sys
import time

port = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("redis-cli", ["redis-cli", "-p", port])
out = b""


def drain(seconds):
    global out
    end = time.time() + seconds
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        out += data
        if b"\x1b[6n" in data:  # linenoise asks for the cursor position
            os.write(fd, b"\x1b[1;1R")


drain(1.0)
for line in [b"set cli:interactive yes\r", b"get cli:interactive\r", b"quit\r"]:
    os.write(fd, line)
    drain(0.5)
deadline = time.time() + 10
status = None
while time.time() < deadline:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        break
    drain(0.1)
if status is None:
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
print(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
