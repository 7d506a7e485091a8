"""hubsync's main job end to end, against the local sandbox (or a real account).

``python -m sandbox.demo``            start a sandbox, run every step, stop it again
``python -m sandbox.demo EMAIL``      run the steps for a real account (asks for its password)
"""

import os
import shlex
import subprocess
import sys
import tempfile

from sandbox.system import Sandbox


def step(
    title: str, *args: str, env: dict, expect: tuple[int, ...] = (0,), input: str | None = None
) -> subprocess.CompletedProcess:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    # quoted as a shell would need it, so a line can be copied and run by hand
    print(f"\n{bold}== {title}{plain}\n$ {shlex.join(['hubsync', *args])}", flush=True)
    done = subprocess.run([sys.executable, "-m", "hubsync", *args], env=env, input=input, text=True)
    if done.returncode not in expect:
        print(f"demo: step failed with exit {done.returncode}", file=sys.stderr)
        sys.exit(1)
    return done


def run_sandbox() -> int:
    with tempfile.TemporaryDirectory(prefix="hubsync-demo-") as home:
        print("Starting the sandbox: Dovecot (IMAP, POP3, LMTP), Postfix, gnome-keyring, dnsmasq")
        box = Sandbox.create()
        try:
            env = {
                **os.environ,
                **box.keyring.env(),
                "HUBSYNC_HOME": home,
                "HUBSYNC_DNS": f"127.0.0.1:{box.dns.port}",
            }
            m, pop = box.main.ports, box.pop3only.ports
            ca = str(box.ca.cert_path)
            step(
                "Probe the main server: IMAP verdict",
                "probe",
                "localhost",
                "--port",
                str(m.imaps),
                "--port",
                str(m.imap),
                "--port",
                str(box.postfix.submissions_port),
                "--port",
                str(box.postfix.submission_port),
                "--cafile",
                ca,
                env=env,
            )
            step(
                "Probe the POP3-only server: why hubsync needs IMAP",
                "probe",
                "localhost",
                "--port",
                str(pop.pop3s),
                "--port",
                str(pop.pop3),
                "--cafile",
                ca,
                env=env,
                expect=(1,),
            )
            for extra in _later_steps():
                extra(box, env)
        finally:
            box.remove()
    print("\ndemo finished: every step passed")
    return 0


def _later_steps() -> list:
    """Steps added by later features (connect, send, sync, report, doctor)."""
    try:
        from sandbox import demo_steps
    except ImportError:
        return []
    return demo_steps.STEPS


def run_real(email: str) -> int:
    env = dict(os.environ)
    step("Discover the servers", "discover", email, env=env)
    step("Connect the inbox", "connect", email, env=env)
    step("Sync replies", "sync", env=env)
    step("Logging report", "report", env=env)
    step("Diagnose", "doctor", env=env, expect=(0, 1))
    return 0


def main(argv: list[str]) -> int:
    if argv:
        return run_real(argv[0])
    return run_sandbox()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
