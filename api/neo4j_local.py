"""Run a real Neo4j Community server from Maven Central jars, without Docker.

The jars are resolved by ``neo4j-local/pom.xml`` into ``neo4j-local/target/lib``;
the server runs as a detached child process bound to 127.0.0.1, with its
configuration, data, logs, pid file and generated password under one run
folder (``neo4j-local/run`` unless ``DELEGRAPH_NEO4J_DIR`` names another).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("delegraph.neo4j_local")

ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"
MIN_JAVA = 17
USER = "neo4j"


class LocalNeo4jError(Exception):
    """A local server could not be prepared, started or stopped.

    ``exit_code`` is what the CLI exits with: 2 for a missing tool or a port
    in use (the caller must act), 1 for a server that failed to come up.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def project_root() -> Path:
    """Return the checkout that contains ``neo4j-local/`` (editable installs) or the cwd."""
    here = Path(__file__).resolve().parents[1]
    if (here / "neo4j-local" / "pom.xml").exists():
        return here
    return Path.cwd()


@dataclass(frozen=True)
class LocalNeo4jConfig:
    """File locations, ports and memory sizes of the local server."""

    pom_dir: Path
    run_dir: Path
    bolt_port: int = 7687
    http_port: int = 7474
    heap: str = "1g"
    page_cache: str = "512m"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> LocalNeo4jConfig:
        env = dict(os.environ if env is None else env)
        pom_dir = project_root() / "neo4j-local"
        run_dir = Path(env.get("DELEGRAPH_NEO4J_DIR") or pom_dir / "run")
        return cls(
            pom_dir=pom_dir,
            run_dir=run_dir.resolve(),
            bolt_port=_port(env, "DELEGRAPH_NEO4J_BOLT_PORT", 7687),
            http_port=_port(env, "DELEGRAPH_NEO4J_HTTP_PORT", 7474),
            heap=env.get("DELEGRAPH_NEO4J_HEAP", "1g"),
            page_cache=env.get("DELEGRAPH_NEO4J_PAGECACHE", "512m"),
        )

    @property
    def lib_dir(self) -> Path:
        return self.pom_dir / "target" / "lib"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "neo4j.pid"

    @property
    def password_file(self) -> Path:
        return self.run_dir / "password"

    @property
    def conf_dir(self) -> Path:
        return self.run_dir / "conf"

    @property
    def console_log(self) -> Path:
        return self.run_dir / "logs" / "console.log"

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/browser/"


def _port(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise LocalNeo4jError(f"{name}={raw!r} is not a TCP port (1-65535)", 2)
    return int(raw)


def read_password(config: LocalNeo4jConfig) -> str | None:
    """Return the generated password of the local server, or None before the first start."""
    try:
        return config.password_file.read_text().strip()
    except FileNotFoundError:
        return None


def running_pid(config: LocalNeo4jConfig) -> int | None:
    """Return the pid of the server this tool started, if that process is still alive."""
    try:
        pid = int(config.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if not _alive(pid):
        return None
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (started by this very process) still passes kill(0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def require_tools() -> tuple[str, str]:
    """Return the paths of ``java`` (17 or newer) and ``mvn``, or raise with exit code 2."""
    java = shutil.which("java")
    if java is None:
        raise LocalNeo4jError(
            f"java not found on PATH: install a Java {MIN_JAVA}+ JDK (e.g. OpenJDK 17)",
            2,
        )
    version = _java_major_version(java)
    if version < MIN_JAVA:
        raise LocalNeo4jError(
            f"java at {java} is version {version}; Neo4j 5.26 needs Java {MIN_JAVA}+",
            2,
        )
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalNeo4jError("mvn not found on PATH: install Apache Maven 3.6+", 2)
    return java, mvn


def _java_major_version(java: str) -> int:
    result = subprocess.run(  # noqa: S603 - fixed argument list
        [java, "-version"], capture_output=True, text=True, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        raise LocalNeo4jError(f"could not read the version of {java}", 2)
    major = int(match.group(1))
    # Java 8 and older print "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major


def ensure_jars(config: LocalNeo4jConfig, mvn: str) -> None:
    """Resolve the server jars with Maven unless an earlier run already did."""
    if config.lib_dir.is_dir() and any(config.lib_dir.glob("neo4j-5*.jar")):
        return
    logger.info("resolving Neo4j jars with %s into %s", mvn, config.lib_dir)
    result = subprocess.run(  # noqa: S603 - fixed argument list
        [mvn, "-q", "-B", "-f", str(config.pom_dir / "pom.xml"), "package"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise LocalNeo4jError(
            "mvn failed to resolve the Neo4j jars:\n" + "\n".join(tail), 1
        )


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _write_conf(config: LocalNeo4jConfig) -> None:
    config.conf_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "server.default_listen_address=127.0.0.1",
        "server.default_advertised_address=127.0.0.1",
        f"server.bolt.listen_address=127.0.0.1:{config.bolt_port}",
        f"server.http.listen_address=127.0.0.1:{config.http_port}",
        "server.https.enabled=false",
        f"server.directories.data={config.run_dir / 'data'}",
        f"server.directories.logs={config.run_dir / 'logs'}",
        f"server.directories.run={config.run_dir / 'run'}",
        f"server.directories.import={config.run_dir / 'import'}",
        f"server.memory.heap.initial_size={config.heap}",
        f"server.memory.heap.max_size={config.heap}",
        f"server.memory.pagecache.size={config.page_cache}",
        "dbms.security.auth_enabled=true",
        "dbms.usage_report.enabled=false",
        "server.bolt.thread_pool_max_size=64",
    ]
    (config.conf_dir / "neo4j.conf").write_text("\n".join(lines) + "\n")


def _set_initial_password(config: LocalNeo4jConfig, java: str) -> None:
    """Generate the password once, before the first start, and store it with mode 0600."""
    if config.password_file.exists():
        return
    # Hex only: a URL-safe token can start with '-', which neo4j-admin reads as
    # an option and rejects.
    password = secrets.token_hex(16)
    result = subprocess.run(  # noqa: S603 - fixed argument list
        [
            java,
            "-cp",
            f"{config.lib_dir}/*",
            ADMIN_TOOL,
            "dbms",
            "set-initial-password",
            password,
        ],
        env={**os.environ, **_neo4j_env(config)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise LocalNeo4jError(
            "neo4j-admin set-initial-password failed: " + result.stderr.strip()[-500:]
        )
    fd = os.open(config.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")


def _neo4j_env(config: LocalNeo4jConfig) -> dict[str, str]:
    return {"NEO4J_HOME": str(config.run_dir), "NEO4J_CONF": str(config.conf_dir)}


def start(config: LocalNeo4jConfig, timeout: float = 180.0) -> tuple[bool, str]:
    """Start the server and wait until Bolt accepts a query.

    Returns ``(started, message)``; ``started`` is False when a server this
    tool started is already running, in which case nothing changes.
    """
    pid = running_pid(config)
    if pid is not None:
        return False, f"Neo4j is already running (pid {pid}) at {config.bolt_uri}"

    java, mvn = require_tools()
    for name, port in (("Bolt", config.bolt_port), ("HTTP", config.http_port)):
        if _port_in_use(port):
            raise LocalNeo4jError(
                f"port {port} ({name}) on 127.0.0.1 is already in use: stop what "
                f"listens there or set DELEGRAPH_NEO4J_{name.upper()}_PORT",
                2,
            )
    ensure_jars(config, mvn)
    for folder in ("data", "logs", "run", "import"):
        (config.run_dir / folder).mkdir(parents=True, exist_ok=True)
    _write_conf(config)
    _set_initial_password(config, java)

    command = [
        java,
        f"-Xms{config.heap}",
        f"-Xmx{config.heap}",
        "-XX:+UseG1GC",
        "-Dfile.encoding=UTF-8",
        "-cp",
        f"{config.lib_dir}/*",
        ENTRY_POINT,
        f"--home-dir={config.run_dir}",
        f"--config-dir={config.conf_dir}",
    ]
    with config.console_log.open("ab") as console:
        process = subprocess.Popen(  # noqa: S603 - fixed argument list
            command,
            stdout=console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **_neo4j_env(config)},
            start_new_session=True,
        )
    config.pid_file.write_text(f"{process.pid}\n")
    logger.info("started Neo4j pid=%d bolt=%s", process.pid, config.bolt_uri)

    _wait_for_bolt(config, process, timeout)
    return True, f"Neo4j is running (pid {process.pid}) at {config.bolt_uri}"


def _wait_for_bolt(
    config: LocalNeo4jConfig, process: subprocess.Popen[bytes], timeout: float
) -> None:
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError, ServiceUnavailable

    password = read_password(config) or ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            config.pid_file.unlink(missing_ok=True)
            raise LocalNeo4jError(
                f"Neo4j exited with code {process.returncode} during start-up; "
                f"see {config.console_log}"
            )
        try:
            with GraphDatabase.driver(
                config.bolt_uri, auth=(USER, password), connection_timeout=2
            ) as driver:
                driver.verify_connectivity()
                with driver.session() as session:
                    session.run("RETURN 1").consume()
                return
        except (ServiceUnavailable, OSError):
            time.sleep(0.5)
        except AuthError as error:
            raise LocalNeo4jError(
                f"Neo4j rejected the password in {config.password_file}: {error}. "
                f"Remove {config.run_dir} to start from an empty store."
            ) from error
    raise LocalNeo4jError(
        f"Neo4j did not accept a query on {config.bolt_uri} within {timeout:.0f} s; "
        f"see {config.console_log}"
    )


def stop(config: LocalNeo4jConfig, timeout: float = 60.0) -> tuple[bool, str]:
    """Stop the server this tool started (by its pid); return ``(stopped, message)``."""
    pid = running_pid(config)
    if pid is None:
        config.pid_file.unlink(missing_ok=True)
        return False, "Neo4j was not running (no server started by delegraph)"

    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        logger.warning(
            "Neo4j pid=%d ignored SIGTERM for %.0f s; killing it", pid, timeout
        )
        os.kill(pid, signal.SIGKILL)
    _reap(pid)
    config.pid_file.unlink(missing_ok=True)
    logger.info("stopped Neo4j pid=%d", pid)
    return True, f"Neo4j stopped (pid {pid})"


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def status(config: LocalNeo4jConfig) -> tuple[bool, str]:
    """Return ``(running, message)`` for the server this tool started."""
    pid = running_pid(config)
    if pid is None:
        return False, "Neo4j is not running"
    return True, (
        f"Neo4j is running (pid {pid}) at {config.bolt_uri}, "
        f"Browser {config.browser_url}"
    )
