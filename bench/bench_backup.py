"""Backing up and restoring 1 GiB of mixed data (half random, half text), measured against
`tar -c | zstd -3 -T0` and `zstd -d | tar -x` on the same data in the same run.

Both sides end with the data on disk: the anchors are followed by `sync`, Homei fsyncs the
backup before renaming it and syncs what it unpacked before swapping it in. Homei runs its
real engine (`bench/backup_child.py`: the BackupManager behind `/api/v1/backups`, with one
service whose volume is the data folder) in a process of its own, whose peak RSS growth
(`VmHWM` after resetting it, minus `VmRSS` before) is reported. The restored folder is
compared with the source. CPU time (user + system, of every thread and process) is printed
too: on shared CPUs it moves far less than wall time. Results go to `bench/results/backup.json`.

    .venv/bin/python bench/bench_backup.py [--size-mib 1024] [--tmp-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
MIB = 1024 * 1024
FILE_MIB = 16
TARGET_RATIO = 0.8
TARGET_RSS_MIB = 50e6 / MIB
WORDS = ("device", "backup", "volume", "sensor", "reading", "service", "error", "ok", "warn",
         "temperature", "request", "latency", "container", "restart", "health")  # fmt: skip


def make_data(root: Path, size_mib: int) -> None:
    """Half random bytes, half log-like text, in files of 16 MiB."""
    rng = random.Random(20240601)
    root.mkdir(parents=True)
    for i in range(size_mib // FILE_MIB):
        path = root / f"{'random' if i % 2 else 'text'}-{i:03d}"
        with path.open("wb") as out:
            if i % 2:
                for _ in range(FILE_MIB):
                    out.write(os.urandom(MIB))
            else:
                written = 0
                while written < FILE_MIB * MIB:
                    hour, minute, second = rng.randrange(24), rng.randrange(60), rng.randrange(60)
                    stamp = f"{hour:02d}:{minute:02d}:{second:02d}"
                    words = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
                    line = f"2024-06-01T{stamp} {words} id={rng.randrange(10**6)} "
                    line = f"{line}value={rng.random():.4f}\n"
                    out.write(line.encode())
                    written += len(line)
    subprocess.run(["sync"], check=True)


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode())
            with path.open("rb") as handle:
                while chunk := handle.read(MIB):
                    digest.update(chunk)
    return digest.hexdigest()


def timed_shell(command: str) -> tuple[float, float]:
    """Seconds of wall time and of CPU (user + system, every process of the pipeline)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(["sh", "-c", f"{command} && sync"], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return time.perf_counter() - began, cpu


def homei(action: str, work: Path, data: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(BENCH / "backup_child.py"), action, str(work), str(data)],
        check=True, capture_output=True, text=True, cwd=BENCH.parent, timeout=1800,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--tmp-dir", default=None)
    args = parser.parse_args()
    if shutil.which("zstd") is None:
        raise SystemExit("zstd is needed for the anchor (apt-get install zstd)")
    with tempfile.TemporaryDirectory(dir=args.tmp_dir, prefix="homei-bench-backup-") as tmp:
        base = Path(tmp)
        source = base / "data"
        make_data(source, args.size_mib)
        expected = tree_digest(source)
        anchor_file = base / "anchor.tar.zst"
        anchor_create, anchor_create_cpu = timed_shell(
            f"tar -C {source} -cf - . | zstd -3 -T0 -q -o {anchor_file}"
        )
        work = base / "homei"
        work.mkdir()
        created = homei("create", work, source)
        backup = next((work / "backups").glob("*.tar"))
        shutil.rmtree(source)
        source.mkdir()
        anchor_out = base / "anchor-out"
        anchor_out.mkdir()
        anchor_restore, anchor_restore_cpu = timed_shell(
            f"zstd -d -c -q {anchor_file} | tar -C {anchor_out} -xf -"
        )
        shutil.rmtree(anchor_out)
        restored = homei("restore", work, source)
        if tree_digest(source) != expected:
            raise SystemExit("the restored data differs from the source")
        results = {
            "size_mib": args.size_mib,
            "anchor_create_s": anchor_create,
            "homei_create_s": created["seconds"],
            "create_ratio": anchor_create / created["seconds"],
            "anchor_size_mib": anchor_file.stat().st_size / MIB,
            "homei_size_mib": backup.stat().st_size / MIB,
            "anchor_restore_s": anchor_restore,
            "homei_restore_s": restored["seconds"],
            "restore_ratio": anchor_restore / restored["seconds"],
            "anchor_create_cpu_s": anchor_create_cpu,
            "homei_create_cpu_s": created["cpu_seconds"],
            "anchor_restore_cpu_s": anchor_restore_cpu,
            "homei_restore_cpu_s": restored["cpu_seconds"],
            "rss_growth_create_mib": created["growth_mib"],
            "rss_growth_restore_mib": restored["growth_mib"],
        }
    rounded = {k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / "backup.json").write_text(json.dumps(rounded, indent=2) + "\n")
    print(f"{'metric':<34}{'anchor':>10}{'homei':>10}{'ratio':>8}  target")
    print(f"{'create (s)':<34}{anchor_create:>10.2f}{created['seconds']:>10.2f}"
          f"{results['create_ratio']:>8.2f}  >= {TARGET_RATIO}")  # fmt: skip
    print(f"{'restore (s)':<34}{anchor_restore:>10.2f}{restored['seconds']:>10.2f}"
          f"{results['restore_ratio']:>8.2f}  >= {TARGET_RATIO}")  # fmt: skip
    for action in ("create", "restore"):
        anchor_cpu, homei_cpu = results[f"anchor_{action}_cpu_s"], results[f"homei_{action}_cpu_s"]
        print(f"{action + ' CPU (s)':<34}{anchor_cpu:>10.2f}{homei_cpu:>10.2f}"
              f"{anchor_cpu / homei_cpu:>8.2f}")  # fmt: skip
    print(
        f"{'size (MiB)':<34}{results['anchor_size_mib']:>10.1f}{results['homei_size_mib']:>10.1f}"
    )
    for action in ("create", "restore"):
        growth = results[f"rss_growth_{action}_mib"]
        print(f"{'RSS growth, ' + action + ' (MiB)':<34}{'':>10}{growth:>10.1f}"
              f"{'':>8}  < {TARGET_RSS_MIB:.1f}")  # fmt: skip
    ok = (
        min(results["create_ratio"], results["restore_ratio"]) >= TARGET_RATIO
        and max(results["rss_growth_create_mib"], results["rss_growth_restore_mib"])
        < TARGET_RSS_MIB
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
