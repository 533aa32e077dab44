"""Runs a command on a pseudo-terminal, as a person at a terminal would: answers one prompt, collects the screen.

Input (argv[1], JSON): argv, env, cwd, prompt (text to wait for), answer (what to type then), timeout (s).
Output (stdout, JSON): the exit code and everything the terminal showed.
"""
import json
import os
import pty
import select
import sys
import time

spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.chdir(spec["cwd"])
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])

screen = b""
answered = False
deadline = time.time() + spec.get("timeout", 30)
timed_out = False
while True:
    if time.time() > deadline:
        os.kill(pid, 9)
        timed_out = True
        break
    ready, _, _ = select.select([fd], [], [], 0.1)
    if fd not in ready:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    screen += data
    answer = spec.get("answer")
    if answer is not None and not answered and spec["prompt"].encode() in screen:
        os.write(fd, answer.encode())
        answered = True

_, status = os.waitpid(pid, 0)
print(json.dumps({
    "code": os.waitstatus_to_exitcode(status),
    "screen": screen.decode("utf-8", "replace"),
    "answered": answered,
    "timedOut": timed_out,
}))
