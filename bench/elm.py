"""European Digital Credentials per second: build (with the page image), SHACL, seal, and the share of each step.

    uv run python bench/elm.py [--count 60] [--workers 2] [--duration 15]

1. Steps, one process: for `--count` awards of the micro-credential example (each with its own learner, so every
   page is drawn anew), the time of each step of `EuropeanCredentialMaker.make`: drawing the page, building the
   JSON-LD document, JSON-LD to RDF plus SHACL (`edc-generic-full` 1.2.0, shapes parsed once per process), and
   serialising plus sealing (JAdES-B-B, RS256 with a generated RSA-3072 test eSeal). CPU time of this process.
2. Service, one process: `CredentialIssuer.issue` for EDC-only awards on SQLite (authorization, build, SHACL,
   seal, storage, outbox event), as the API runs it minus HTTP.
3. Box: `--workers` processes each running (2) for `--duration` seconds; the sum is EDCs per second on this machine.

The issue's target is at least 10 EDC/s on the 2-core box.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.elm_support import eseal_settings, micro_credential_body
from tests.support import make_settings

from ec_issuer.bootstrap import Container, build
from ec_issuer.core.encoding import dumps
from ec_issuer.core.validation import parse_command
from ec_issuer.credentials.commands import IssueCredential
from ec_issuer.custody.eseal import Pkcs12SealSigner, write_development_eseal
from ec_issuer.elm import building
from ec_issuer.elm.issuing import EuropeanCredentialMaker
from ec_issuer.elm.nodes import Media
from ec_issuer.elm.seal import seal_payload
from ec_issuer.elm.shapes import check_credential, warm_up
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Address, Issuer
from ec_issuer.storage.migrate import upgrade

STEPS = ("page", "build", "shacl", "seal")


def award(number: int) -> dict[str, Any]:
    body = micro_credential_body(produce=["elm-3.2"])
    body["europass"]["learner"] = {"givenName": f"Learner{number}", "familyName": f"Number {number}"}
    body["recipient"] = {"email": f"learner-{number}@example.org"}
    return body


def measure_steps(count: int, eseal_dir: Path) -> dict[str, list[float]]:
    files = write_development_eseal(eseal_dir)
    signer = files_signer(files.pkcs12, files.password_file)
    maker = EuropeanCredentialMaker(signer)
    issuer = Issuer(
        slug="acme", did="did:web:issuer.test:issuers:acme", name="ACME University", address=Address(country="NL")
    )
    warm_up()
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    render: Callable[[building.PageText], Media] = maker._render  # pyright: ignore[reportPrivateUsage]
    page_time: list[float] = []

    def timed_render(text: building.PageText) -> Media:
        start = time.process_time()
        media = render(text)
        page_time.append(time.process_time() - start)
        return media

    for number in range(count + 3):
        command = parse_command(IssueCredential, award(number))
        assert command.europass is not None
        start = time.process_time()
        document = building.build_edc(
            building.EdcInput(
                command,
                command.europass,
                issuer,
                building.Sealer("NTRNL-12345678", "NL"),
                f"urn:credential:bench-{number}",
                datetime.now(UTC),
                timed_render,
            )
        )
        built = time.process_time()
        report = check_credential(document)
        checked = time.process_time()
        assert report.conforms, report.violations
        seal_payload(dumps(document).decode("utf-8"), signer, signing_time=datetime.now(UTC))
        sealed = time.process_time()
        if number < 3:
            continue  # warm-up: caches, first-use costs
        times["page"].append(page_time[-1])
        times["build"].append(built - start - page_time[-1])
        times["shacl"].append(checked - built)
        times["seal"].append(sealed - checked)
    return times


def files_signer(pkcs12: Path, password_file: Path) -> Pkcs12SealSigner:
    return Pkcs12SealSigner.from_pkcs12(pkcs12.read_bytes(), password_file.read_bytes().strip())


def service(directory: Path) -> tuple[Container, Any]:
    files = write_development_eseal(directory / "eseal")
    container = build(make_settings(f"sqlite:///{directory}/bench.sqlite", directory, elm_seal=eseal_settings(files)))
    upgrade(container.engine)
    container.issuers.create(CreateIssuer(slug="acme", name="ACME University", url="https://acme.example"))
    return container, container.access.operator_client()


def run_service(duration: float, offset: int, results: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        container, operator = service(Path(folder))
        container.issuing.issue(operator, parse_command(IssueCredential, award(offset)))  # first-use costs
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < duration:
            container.issuing.issue(operator, parse_command(IssueCredential, award(offset + done + 1)))
            done += 1
        results.put((done, time.perf_counter() - start))
        container.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=15.0)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        times = measure_steps(options.count, Path(folder) / "eseal")
    total = [sum(values) for values in zip(*(times[step] for step in STEPS), strict=True)]
    mean_total = statistics.mean(total)
    print(f"steps, one process, {options.count} EDCs (CPU ms per EDC)")
    print(f"{'step':8} {'mean':>8} {'p50':>8} {'share':>7}")
    for step in STEPS:
        values = times[step]
        share = statistics.mean(values) / mean_total
        print(f"{step:8} {statistics.mean(values) * 1000:8.1f} {statistics.median(values) * 1000:8.1f} {share:7.1%}")
    median_total = statistics.median(total) * 1000
    print(f"{'total':8} {mean_total * 1000:8.1f} {median_total:8.1f}   -> {1 / mean_total:.1f} EDC/s per core")

    results: Any = multiprocessing.get_context("spawn").Queue()
    single = multiprocessing.get_context("spawn").Process(target=run_service, args=(options.duration, 0, results))
    single.start()
    single.join()
    done, elapsed = results.get()
    print(f"\nservice, one process (issue on SQLite, no HTTP): {done / elapsed:.1f} EDC/s ({done} in {elapsed:.1f} s)")

    processes = [
        multiprocessing.get_context("spawn").Process(
            target=run_service, args=(options.duration, (index + 1) * 1_000_000, results)
        )
        for index in range(options.workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    outcomes = [results.get() for _ in processes]
    rate = sum(done / elapsed for done, elapsed in outcomes)
    print(f"box, {options.workers} processes (each its own SQLite file): {rate:.1f} EDC/s (target >= 10)")


if __name__ == "__main__":
    main()
