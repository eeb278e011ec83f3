"""The connection URLs README promises, each against real ``redis-server`` processes this
file starts: a password, TLS with a certificate made here, and a Sentinel failover while
worker processes are busy."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

import jobkit
from jobkit.api import Admin
from jobkit.cli import main
from jobkit.keys import Keys
from tests.needs import missing, require_binary

from .sample_jobs import AppendJob, RecordJob

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Server:
    """One ``redis-server`` process of this test's."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def client(self, **options: object) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5, **options)  # type: ignore[arg-type]


@dataclass
class Servers:
    """Starts ``redis-server``s on free ports in ``directory``; :meth:`stop_all` kills them."""

    directory: Path
    binary: str
    started: list[Server] = field(default_factory=list)

    def start(self, name: str, *args: str, port: int | None = None,
              conf: str | None = None) -> Server:
        port = free_port() if port is None else port  # 0: no plain-text port
        workdir = self.directory / name
        workdir.mkdir()
        argv = [self.binary]
        if conf is not None:
            (workdir / "redis.conf").write_text(conf)
            argv.append(str(workdir / "redis.conf"))
        log = workdir / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*argv, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
                 "--save", "", "--appendonly", "no", *args],
                stdout=out, stderr=subprocess.STDOUT)
        server = Server(name, port, proc, log)
        self.started.append(server)
        return server

    def wait_listening(self, server: Server, port: int | None = None) -> None:
        def listening() -> bool:
            if server.proc.poll() is not None:
                raise AssertionError(f"{server.name} exited:\n{server.log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port or server.port), 0.2).close()
            except OSError:
                return False
            return True

        wait_for(listening, 15, f"{server.name} to listen")

    def stop_all(self) -> None:
        for server in self.started:
            server.kill()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """Private ``redis-server`` processes, always killed at the end of the test."""
    pool = Servers(tmp_path, require_binary("redis-server", "apt-get install redis-server"))
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def installed() -> Iterator[Callable[[str], jobkit.Settings]]:
    """Make settings for a URL the process-wide ones for the test (a fresh namespace)."""
    previous = jobkit.get_settings()

    def install(url: str) -> jobkit.Settings:
        return jobkit.configure(jobkit.Settings(redis_url=url,
                                                namespace=f"jktest-{uuid.uuid4().hex[:12]}"))

    yield install
    jobkit.configure(previous)


def _round_trip(settings: jobkit.Settings, token: str) -> None:
    """Enqueue, run through a real worker and acknowledge one job over ``settings``' URL."""
    assert RecordJob.perform_async(token)
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=False))
    outcome = worker.process_one()
    assert outcome is not None and outcome.status == "done", outcome
    r = jobkit.get_client().redis
    assert r.lrange(f"{settings.namespace}:test:record", 0, -1) == [repr(token).encode()]
    assert Admin(settings).stats()["processed"] == 1


# -- a password --------------------------------------------------------------------------

PASSWORD = "s3cret pass/w:rd@%"


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is in ``error``'s chain (by type: OpenSSL's wording varies)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def test_password_url_works_against_a_server_that_requires_it(
    servers: Servers, installed: Callable[[str], jobkit.Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = servers.start("auth", "--requirepass", PASSWORD)
    servers.wait_listening(server)
    # The server really refuses a client without the password (asked over a bare socket:
    # redis-py retries an authentication error for seconds).
    with socket.create_connection(("127.0.0.1", server.port), 5) as bare:
        bare.sendall(b"PING\r\n")
        assert bare.recv(100).startswith(b"-NOAUTH")
    url = f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/0"
    settings = installed(url)
    _round_trip(settings, "with-password")
    assert main(["stats", "--json", "--redis-url", url, "--namespace", settings.namespace]) == 0
    assert '"processed": 1' in capsys.readouterr().out
    assert server.client(password=PASSWORD).exists(Keys(settings.namespace).stat("processed"))


# -- TLS -------------------------------------------------------------------------------------

def _make_certificates(directory: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 / localhost signed by it, as PEM files."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        missing("the cryptography package is not installed (pip install -e '.[test]')")

    now = dt.datetime.now(dt.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def pem_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("jobkit test CA"))
          .issuer_name(name("jobkit test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder().subject_name(name("localhost"))
              .issuer_name(ca.subject).public_key(server_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5))
              .not_valid_after(now + dt.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([
                  x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                  critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = {"ca": directory / "ca.pem", "cert": directory / "server.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["key"] = pem_key(server_key, directory / "server.key")
    return paths


def test_rediss_url_works_against_a_tls_server_with_a_certificate_made_here(
    servers: Servers, installed: Callable[[str], jobkit.Settings], tmp_path: Path,
) -> None:
    certs = _make_certificates(tmp_path)
    tls_port = free_port()
    # TLS only (no plain-text port), with a password, as README's example.
    server = servers.start("tls", "--tls-port", str(tls_port),
                           "--tls-cert-file", str(certs["cert"]),
                           "--tls-key-file", str(certs["key"]),
                           "--tls-ca-cert-file", str(certs["ca"]),
                           "--tls-auth-clients", "no", "--requirepass", PASSWORD, port=0)
    servers.wait_listening(server, tls_port)
    address = f":{quote(PASSWORD, safe='')}@localhost:{tls_port}/0"
    # Plain text and an unknown CA are refused: the test really talks TLS, verified.
    with pytest.raises(redis.ConnectionError):
        jobkit.Client(jobkit.Settings(redis_url=f"redis://{address}")).redis.ping()
    with pytest.raises(redis.ConnectionError) as refused:
        jobkit.Client(jobkit.Settings(redis_url=f"rediss://{address}")).redis.ping()
    assert _caused_by(refused.value, ssl.SSLCertVerificationError), refused.value
    url = f"rediss://{address}?ssl_ca_certs={quote(str(certs['ca']))}"
    settings = installed(url)
    _round_trip(settings, "over-tls")


# -- Sentinel failover -------------------------------------------------------------------------

SERVICE = "jobkitfailover"
JOBS = 400


def _sentinel_conf(master_port: int) -> str:
    return (f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 400\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n")


def _master_port(sentinel: redis.Redis) -> int | None:
    try:
        address = sentinel.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)
    except redis.RedisError:
        return None
    return int(address[1]) if address else None


def _whereabouts(client: redis.Redis, namespace: str, tokens: set[str]) -> str:
    """Where the jobs carrying ``tokens`` are in ``client``'s Redis: key → how many."""
    found: dict[str, int] = {}
    for key in client.scan_iter(match=f"{namespace}:*"):
        kind = client.type(key)
        if kind == b"list":
            members = client.lrange(key, 0, -1)
        elif kind == b"zset":
            members = client.zrange(key, 0, -1)
        else:
            continue
        hits = sum(1 for m in members for t in tokens if f'"{t}"'.encode() in m)
        if hits:
            found[key.decode()] = hits
    return f"{len(tokens)} not run, found in {found or 'no key'}"


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_sentinel_failover_mid_run_loses_no_job(servers: Servers, tmp_path: Path) -> None:
    # No diskless-sync delay: the replica syncs at once rather than after 5 s.
    master = servers.start("master", "--repl-diskless-sync-delay", "0")
    servers.wait_listening(master)
    replica = servers.start("replica", "--replicaof", "127.0.0.1", str(master.port))
    servers.wait_listening(replica)
    wait_for(lambda: replica.client().info("replication").get("master_link_status") == "up",
             15, "the replica to sync")
    sentinel = servers.start("sentinel", "--sentinel", conf=_sentinel_conf(master.port))
    servers.wait_listening(sentinel)
    ask = sentinel.client()
    # Sentinel learns of the replica from the master's INFO; only a known replica is promoted.
    wait_for(lambda: any(b"slave" in r.get("flags", "").encode()
                         for r in ask.sentinel_slaves(SERVICE)), 15,  # type: ignore[no-untyped-call]
             "the sentinel to see the replica")

    url = f"redis+sentinel://127.0.0.1:{sentinel.port}/{SERVICE}/0"
    namespace = f"jktest-{uuid.uuid4().hex[:12]}"
    keys = Keys(namespace)
    record = tmp_path / "ran.txt"
    previous = jobkit.get_settings()
    jobkit.configure(jobkit.Settings(redis_url=url, namespace=namespace))
    try:
        tokens = {f"job-{i}" for i in range(JOBS)}
        AppendJob.set(queue="failover").perform_bulk([[t, 0.02] for t in sorted(tokens)])
    finally:
        jobkit.configure(previous)
    # Acknowledged by the replica before the master dies: Redis replicates asynchronously,
    # so an enqueue the replica never received would be lost by Redis, not by jobkit.
    assert master.client().execute_command("WAIT", 1, 5000) == 1

    env = {**os.environ, "JOBKIT_REDIS_URL": url, "JOBKIT_NAMESPACE": namespace,
           "JOBKIT_HEARTBEAT_INTERVAL": "0.5", "JOBKIT_RECOVERY_TIMEOUT": "4",
           "JOBKIT_POLL_INTERVAL": "0.5", "JOBKIT_TEST_RECORD_FILE": str(record)}
    workers: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    try:
        for log in logs:
            with log.open("wb") as out:
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "jobkit", "--log-level", "WARNING", "worker",
                     "-r", "tests.runtime.sample_jobs", "-q", "failover", "-c", "4"],
                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
        wait_for(lambda: len(_lines(record)) >= JOBS // 4, 30, "the workers to get going")
        master.kill()
        done_at_kill = len(set(_lines(record)))
        killed = time.monotonic()
        wait_for(lambda: _master_port(ask) == replica.port, 30, "the replica's promotion")
        promoted_after = time.monotonic() - killed
        new_master = replica.client()
        try:
            wait_for(lambda: set(_lines(record)) >= tokens, 30, "every job to run")
        except AssertionError as e:
            missing = tokens - set(_lines(record))
            raise AssertionError(f"{e}; {_whereabouts(new_master, namespace, missing)}") from None
        assert new_master.info("replication")["role"] == "master"
        wait_for(lambda: new_master.llen(keys.queue("failover")) == 0 and not [
            k for k in new_master.scan_iter(match=f"{namespace}:jobkit:inprogress:*")
            if new_master.llen(k)], 15, "queue and in-progress lists to empty")
        assert [w.poll() for w in workers] == [None, None], "a worker died in the failover"
        # Stopped through the new master, as the Web UI's "stop" does: each worker's blocking
        # wait for signals must have found its way there too.
        identities = [m.decode() for m in new_master.smembers(keys.processes)]
        assert len(identities) == 2, identities
        for identity in identities:
            new_master.lpush(keys.signals(identity), "TERM")
        assert [w.wait(20) for w in workers] == [0, 0]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
            w.wait(10)
        for log in logs:
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
    for log in logs:
        # Retried with backoff while Redis was away, not in a busy loop.
        retries = log.read_text(errors="replace").count("redis unavailable during housekeeping")
        assert retries <= 30, f"{log.name}: {retries} housekeeping retries logged"
    ran = _lines(record)
    lost = tokens - set(ran)
    print(f"sentinel failover: {JOBS} jobs, {done_at_kill} done when the master was killed, "
          f"replica promoted {promoted_after:.1f}s later, {len(lost)} lost, "
          f"{len(ran) - len(set(ran))} duplicates")
    assert lost == set() and set(ran) == tokens
