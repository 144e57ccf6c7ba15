"""Resolve the Neo4j server, Browser, APOC and OpenGDS jars from Maven Central, once, into a cache folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from graph_model.errors import LocalServerError, MissingToolError

POM_DIR = Path(__file__).resolve().parent
SERVER_POM = POM_DIR / "pom-server.xml"
PLUGINS_POM = POM_DIR / "pom-plugins.xml"
COMPLETE_MARKER = ".complete"
PROCEDURE_ANNOTATIONS = tuple(f"Lorg/neo4j/procedure/{name};".encode() for name in
                              ("Procedure", "UserFunction", "UserAggregationFunction"))


@dataclass(frozen=True)
class Distribution:
    """A resolved Neo4j distribution: ``lib/`` (server + Browser), ``plugins/`` (APOC, OpenGDS and their
    libraries) and ``procedures/`` (see :attr:`procedures`)."""

    root: Path

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def plugins(self) -> Path:
        return self.root / "plugins"

    @property
    def classpath(self) -> str:
        """Server and plugin jars: OpenGDS registers its kernel extension through ServiceLoader."""
        return f"{self.lib}/*:{self.plugins}/*"

    @property
    def admin_classpath(self) -> str:
        """The server's jars only, for ``neo4j-admin`` (``AdminTool``): it needs no plugin, and with the ~150 plugin
        jars on its classpath the history's import took 3.5 s longer (19.2 vs 15.7 s, three pairs)."""
        return f"{self.lib}/*"

    @property
    def procedures(self) -> Path:
        """The server's plugins folder: links to the plugin jars that declare procedures or functions.

        Neo4j loads every class of every jar in its plugins folder to look for procedures. APOC and OpenGDS
        from Maven Central come as ~150 jars, most of them libraries (Eclipse Collections alone holds
        thousands of classes): loading them all took 15-17 s of a first start's log, and restarts without it are
        8-9 s faster (26.3 / 31.5 s -> 17.6 / 23.2 s on a 2-core VM). Only 13 jars declare
        procedures; the rest are on the classpath, where the procedures find them. Made once per
        distribution by :func:`procedure_folder`.
        """
        return self.root / "procedures"


def declares_procedures(jar: Path) -> bool:
    """Whether a class of ``jar`` carries Neo4j's ``@Procedure``, ``@UserFunction`` or
    ``@UserAggregationFunction`` (their type descriptors are in the class file's constant pool)."""
    with zipfile.ZipFile(jar) as archive:
        return any(marker in archive.read(name) for name in archive.namelist() if name.endswith(".class")
                   for marker in PROCEDURE_ANNOTATIONS)


def procedure_folder(dist: Distribution) -> Path:
    """``dist.procedures``, made if missing: links to the jars of ``dist.plugins`` that declare procedures.

    Made in a temporary sibling and renamed, so that concurrent server starts (parallel test sessions)
    never see it half-filled."""
    if dist.procedures.is_dir():
        return dist.procedures
    staging = Path(tempfile.mkdtemp(prefix=".procedures-", dir=dist.root))
    try:
        for jar in sorted(dist.plugins.glob("*.jar")):
            if declares_procedures(jar):
                (staging / jar.name).symlink_to(jar)
        try:
            os.rename(staging, dist.procedures)
        except OSError:  # another process made it first
            if not dist.procedures.is_dir():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return dist.procedures


def java_executable() -> str:
    """Path of ``java`` (17 or 21), or a clear :class:`MissingToolError`."""
    java = shutil.which("java")
    if java is None:
        raise MissingToolError("java not found: Neo4j 5.26 needs Java 17 or 21 (e.g. apt install openjdk-17-jre-headless)")
    completed = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', completed.stderr + completed.stdout)
    if match and int(match.group(1)) < 17:
        raise MissingToolError(f"java {match.group(1)} found at {java}: Neo4j 5.26 needs Java 17 or 21")
    return java


def _maven_copy(mvn: str, pom: Path, output: Path) -> None:
    command = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
               "-DincludeScope=runtime", f"-DoutputDirectory={output}"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-15:])
        raise LocalServerError(f"Maven could not resolve {pom.name} (exit {completed.returncode}):\n{tail}")


def ensure_distribution(dist_dir: Path) -> Distribution:
    """Return the distribution in ``dist_dir``, resolving it with Maven first if it is not complete.

    Resolution goes into a temporary sibling folder that is renamed at the end, so an interrupted
    download never leaves a half-filled distribution behind.
    """
    dist = Distribution(dist_dir)
    if (dist_dir / COMPLETE_MARKER).exists():
        procedure_folder(dist)  # a distribution resolved before the folder existed gets it on its next start
        return dist
    java_executable()
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingToolError("mvn not found: Maven is needed once to fetch the Neo4j jars (e.g. apt install maven)")
    dist_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dist_dir.name}-", dir=dist_dir.parent))
    try:
        _maven_copy(mvn, SERVER_POM, staging / "lib")
        _maven_copy(mvn, PLUGINS_POM, staging / "plugins")
        (staging / COMPLETE_MARKER).touch()
        if not (dist_dir / COMPLETE_MARKER).exists():  # another process may have finished first
            if dist_dir.exists():
                shutil.rmtree(dist_dir)
            staging.rename(dist_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    procedure_folder(dist)
    return dist
