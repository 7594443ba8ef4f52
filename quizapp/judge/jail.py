"""The jail around one job: Linux namespaces, an allow-listed read-only filesystem, limits, no privileges.

Worker side, but torch-free: the server (server.py) calls these building blocks in its forked children.

Full mode, the process tree of one job::

    server ─fork─▶ C ─unshare(mount, PID, net, IPC, UTS[, user])─fork─▶ I = PID 1 ─fork─▶ J = PID 2 (the job)

  and as root, one process fewer:

    server ─unshare(PID), fork, setns back─▶ I = PID 1 ─unshare(mount, net, IPC, UTS)─fork─▶ J = PID 2

* C (outside the new PID namespace) reads the payload, creates the namespaces, tells the server I's pid and
  waits for I. The server kills I to end a job: when PID 1 of a namespace dies, the kernel kills every
  process left in it, so nothing the job started can outlive it. As root, the server forks I into a new PID
  namespace itself (unshare(CLONE_NEWPID) sends only its next child there; setns to its own namespace right
  after the fork sends its later children back), and I creates the other namespaces and reports its own
  host pid: C's fork of the 220 MB worker, its copy-on-write faults and its teardown are gone from every chain.
* I, PID 1, builds the root filesystem (below), forks J, reaps every orphan, and when J has ended kills and
  reaps every process left in the namespace, then reports J's exit status and resource usage to the server
  on a pipe that J closes before running anything of the job's. The server usually prepares this chain
  before the job exists (pre-forking, see server.py): J then waits, confined and warmed up, for its job.
  Learner code that is PID 1 would ignore SIGXCPU (the kernel protects a namespace's init): that is why it
  is PID 2. I installs no signal handlers, so the kernel drops every signal J sends it
  (`os.kill(os.getppid(), 9)`, `kill(1, ...)`).
* J drops every privilege, sets its limits and runs the task.

Two variants of full mode, chosen by who runs the server:

* As root (CI, a lab machine's service): no user namespace. C and I are real root inside the new
  namespaces, so they can bind paths only root can read (here Python lives under /root/.pyenv, mode 700:
  a worker that had dropped to an unprivileged uid up front, as the design first suggested, could not even
  see its own interpreter to bind it). J then drops to a uid of its own, JOB_UID_BASE + the host pid of
  its chain's first process (see job_uid), with an empty capability bounding set and no_new_privs. That
  uid owns nothing on the host, cannot signal the worker, has no capability in any namespace it can reach
  (so it cannot unmount the masks or remount anything read-write), and, being one uid per job, makes
  RLIMIT_NPROC count exactly this job's processes and threads (RLIMIT_NPROC does nothing for root). Since
  no two live processes share a pid, no two jobs running at once share a uid, whichever grader instance
  (another pool, another user's app on the same machine) runs them.
* As an ordinary user: C also creates a user namespace mapping the user's uid to 0 inside, so it may mount.
  J keeps uid 0 inside but drops every capability (bounding set, ambient, effective, permitted; securebits
  locked so nothing gives them back) and sets no_new_privs. The mounts it inherits came from the namespace
  it cannot act in, so it cannot undo them. RLIMIT_NPROC counts per user namespace, so it counts this job's
  tasks plus C and I.

The root filesystem is a small tmpfs holding only: the directories on the worker's sys.path (stdlib,
lib-dynload, site-packages; the quizapp package directory itself instead of the repository root of an
editable install), /usr/lib, /usr/lib64 and the top-level /lib* links, every file the worker has mapped
(its shared libraries) and /etc/ld.so.cache, all bound read-only, nosuid, nodev; /dev/null, /dev/zero,
/dev/urandom; a fresh /proc of the new PID namespace; a size-limited writable tmpfs at /tmp, the cwd. The
built-in packs, the data directory, the user's packs and any other path the host names are masked with an
empty read-only tmpfs wherever they fall inside a bound directory (a wheel install keeps the packs inside
the package directory). Nothing else of the host is visible: no /etc, no home, no repository.

The new network namespace has only a loopback interface, left down: no address at all is reachable.

Kernel state that namespaces do not cover: J joins a fresh, empty session keyring (so it no longer
possesses the worker's, which it inherited), then loads a seccomp filter (seccomp.py) that denies the
keyring calls altogether, new namespaces, ptrace, BPF, perf events, the mount family, kexec and modules.

Reduced mode (no namespaces: not Linux, or unshare refused, or QUIZAPP_JAIL=reduced): J is a plain child
of the server in its own session, with the same limits, a clean environment, closed descriptors, a scratch
directory as cwd, and (as root) its own uid. The server is a child subreaper and kills every descendant
after each job. It does NOT hide the host's files or network from the job.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import math
import os
import platform
import resource
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Job uids are JOB_UID_BASE + a host pid: far above any real account and below 2**32 - 1 (pid_max is at most
# 2**22), and never 65534 (nobody).
JOB_UID_BASE = 1 << 24
SCRATCH_DIR = "/tmp"
# The fixed environment of every job: nothing of the host's.
JOB_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
# NOROOT, NO_SETUID_FIXUP, KEEP_CAPS, NO_CAP_AMBIENT_RAISE, each with its lock bit; KEEP_CAPS itself off.
SECUREBITS_LOCKED = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 7)

SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "riscv64": 219, "ppc64le": 271, "s390x": 280}
KEYCTL_JOIN_SESSION_KEYRING = 1

# Flags of a source mount that a read-only bind must keep (in a user namespace they are locked).
KEEP_FLAGS = MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_NODEV | MS_NOSUID

TOP_LEVEL_LINKS = ("/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_LIBRARY_DIRS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom")
MOUNT_POINT_CANDIDATES = ("/srv", "/media", "/boot", "/opt", "/home", "/var", "/run", "/mnt")


class JailError(Exception):
    """Building the jail failed: the judge's problem, never the learner's."""


_libc: Any = None


def libc() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    fn = libc().prctl
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return _check(fn(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def unshare(flags: int) -> None:
    _check(libc().unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(libc().setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    fn = libc().mount
    fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    enc = [None if v is None else os.fsencode(v) for v in (source, target, fstype)]
    _check(fn(enc[0], enc[1], enc[2], flags, None if data is None else data.encode()), f"mount {target}")


def umount2(target: str, flags: int) -> None:
    fn = libc().umount2
    fn.argtypes = [ctypes.c_char_p, ctypes.c_int]
    _check(fn(os.fsencode(target), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise JailError(f"pivot_root: unknown syscall number on {platform.machine()}")
    fn = libc().syscall
    fn.argtypes = [ctypes.c_long, ctypes.c_char_p, ctypes.c_char_p]
    _check(fn(number, os.fsencode(new_root), os.fsencode(put_old)), "pivot_root")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def last_capability() -> int:
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return 40


def drop_bounding_set(last_cap: int) -> None:
    for cap in range(last_cap + 1):
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # EINVAL: a capability this kernel does not know
                raise


def drop_all_capabilities(last_cap: int) -> None:
    """Inside a user namespace, as its root: lose every capability, for good."""
    prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED)
    drop_bounding_set(last_cap)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    _check(libc().capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_parent_death_signal(sig: int, expected_parent: int) -> None:
    """Die with `sig` when the parent dies; and now, if it already has."""
    prctl(PR_SET_PDEATHSIG, sig)
    if os.getppid() != expected_parent:
        os._exit(1)


def job_uid(chain_pid: int) -> int:
    """The uid of the job whose chain starts with host pid chain_pid: unique among the jobs running now."""
    return JOB_UID_BASE + chain_pid


def join_fresh_session_keyring() -> None:
    """Replace the inherited session keyring (the worker's, and so the grader's) by a new, empty one."""
    number = SYS_KEYCTL.get(platform.machine())
    if number is None:
        raise JailError(f"keyctl: unknown syscall number on {platform.machine()}")
    fn = libc().syscall
    fn.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p]
    _check(fn(number, KEYCTL_JOIN_SESSION_KEYRING, None), "keyctl(JOIN_SESSION_KEYRING)")


def _errno_cell() -> Any:
    fn = libc().__errno_location
    fn.restype = ctypes.POINTER(ctypes.c_int)
    return fn()


def reset_errno() -> None:
    """Before a job's task: no allocation has failed yet (see allocation_failed)."""
    try:
        _errno_cell()[0] = 0
    except (AttributeError, OSError):
        pass


def allocation_failed(peak_fraction: float = 0.9) -> bool:
    """In a job that caught an out-of-memory-looking exception: did it measurably hit its memory limit?

    Yes when the C library's errno is ENOMEM (the kernel refused an mmap or brk against RLIMIT_AS; reset to
    0 when the task starts, and no successful call changes it), or when the process's peak virtual size
    reached peak_fraction of RLIMIT_AS. A MemoryError raised by the learner's own code on a small input
    meets neither."""
    try:
        if _errno_cell()[0] == errno.ENOMEM:
            return True
    except (AttributeError, OSError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return False
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024 >= soft * peak_fraction
    except (OSError, ValueError, IndexError):
        pass
    return False


def set_name(name: str) -> None:
    buffer = ctypes.create_string_buffer(name.encode()[:15])
    try:
        prctl(PR_SET_NAME, ctypes.addressof(buffer))
    except OSError:
        pass


# --- the plan: what the jail shows, computed once when the worker starts ---------------------------------


@dataclass(frozen=True)
class Bind:
    source: str  # the real path on the host
    target: str  # where it appears in the jail
    is_dir: bool
    flags: int  # the source mount's flags to keep
    device: bool = False


@dataclass
class Plan:
    """Everything the jail shows of the host; computed once per worker, used by every job."""

    binds: list[Bind] = field(default_factory=list)
    masks: list[str] = field(default_factory=list)  # jail paths covered by an empty read-only tmpfs
    file_masks: list[str] = field(default_factory=list)  # jail paths of files covered by /dev/null
    links: dict[str, str] = field(default_factory=dict)  # top-level symlinks to recreate
    mount_point: str = "/srv"  # where the new root is assembled before pivot_root
    last_cap: int = 40

    def describe(self) -> dict[str, Any]:
        return {
            "binds": [b.target for b in self.binds],
            "masks": self.masks + self.file_masks,
            "links": self.links,
            "mount_point": self.mount_point,
        }


def _is_under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _mount_flags(path: str) -> int:
    try:
        return os.statvfs(path).f_flag & KEEP_FLAGS
    except OSError:
        return 0


def make_plan(hidden: list[str], package_dir: str | None = None) -> Plan:
    """What the jail binds, from the worker's own sys.path and mapped files, and what it masks.

    hidden: host paths that must never be visible (the data directory, packs, ...).
    """
    plan = Plan(last_cap=last_capability())
    if package_dir is None:
        import quizapp

        package_dir = str(Path(quizapp.__file__).resolve().parent)
    package_parent = str(Path(package_dir).parent)
    home = os.path.expanduser("~")
    candidates: list[str] = []
    for entry in sys.path:
        if not entry:
            continue
        path = os.path.abspath(entry)
        if not os.path.exists(path):
            continue
        if os.path.realpath(path) == os.path.realpath(package_parent):
            # An editable install puts the repository root on sys.path: show only the package.
            candidates.append(package_dir)
            continue
        if os.path.realpath(path) in ("/", os.path.realpath(home)):
            continue
        candidates.append(path)
    candidates.append(package_dir)
    candidates += [d for d in SYSTEM_LIBRARY_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    executable = os.path.realpath(sys.executable)
    if os.path.isfile(executable):
        candidates.append(executable)
    candidates += _mapped_files()
    if os.path.isfile("/etc/ld.so.cache"):
        candidates.append("/etc/ld.so.cache")

    # Most general first, so a path already inside a bound directory is not bound again.
    seen_targets: list[str] = []
    seen_sources: list[str] = []
    for path in sorted(set(candidates), key=lambda p: (p.count("/"), p)):
        real = os.path.realpath(path)
        targets = [path] if real == path else [path, real]
        for target in targets:
            if any(_is_under(target, t) for t in seen_targets):
                continue
            if target != real and any(_is_under(real, s) for s in seen_sources) and target in seen_targets:
                continue
            is_dir = os.path.isdir(real)
            plan.binds.append(Bind(real, target, is_dir, _mount_flags(real)))
            if is_dir:
                seen_targets.append(target)
                seen_sources.append(real)
    for device in DEVICES:
        if os.path.exists(device):
            plan.binds.append(Bind(device, device, False, _mount_flags(device) & ~MS_NODEV, device=True))
    for link in TOP_LEVEL_LINKS:
        if os.path.islink(link):
            plan.links[link] = os.readlink(link)

    # Every other copy of this package on the path (a wheel's leftovers, the pack copy an editable install
    # writes under site-packages: quizapp/_builtin_packs) and the packs shipped inside this one are hidden:
    # a job needs only the running package's code.
    package_name = os.path.basename(package_dir)
    copies = [os.path.join(package_dir, "_builtin_packs")]
    for bind in plan.binds:
        if bind.is_dir:
            copy = os.path.join(bind.source, package_name)
            if os.path.isdir(copy) and os.path.realpath(copy) != os.path.realpath(package_dir):
                copies.append(copy)
    # Mask every hidden path that falls inside something bound.
    for secret in [*hidden, *copies]:
        if not secret:
            continue
        for form in {os.path.abspath(secret), os.path.realpath(secret)}:
            for bind in plan.binds:
                if not bind.is_dir:
                    continue
                inside = None
                if _is_under(form, bind.target):
                    inside = form
                elif _is_under(form, bind.source):
                    inside = bind.target.rstrip("/") + form[len(bind.source.rstrip("/")) :]
                if inside is None or inside == bind.target:
                    continue
                if os.path.isdir(form):
                    if inside not in plan.masks:
                        plan.masks.append(inside)
                elif os.path.exists(form) and inside not in plan.file_masks:
                    plan.file_masks.append(inside)
    plan.mount_point = _choose_mount_point(plan)
    return plan


def _mapped_files() -> list[str]:
    files = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    if path.startswith("/") and not path.endswith("(deleted)") and not path.startswith("/dev/"):
                        if os.path.isfile(path):
                            files.append(path)
    except OSError:
        pass
    return files


def _choose_mount_point(plan: Plan) -> str:
    paths = [b.source for b in plan.binds] + [b.target for b in plan.binds]
    for candidate in MOUNT_POINT_CANDIDATES:
        if os.path.isdir(candidate) and not os.path.islink(candidate):
            if not any(_is_under(p, candidate) for p in paths):
                return candidate
    raise JailError("no directory to assemble the jail's root in")


# --- in the children ------------------------------------------------------------------------------------


def enter_namespaces(user_namespace: bool, pid: bool = True) -> None:
    """In C: new mount, PID, network, IPC and UTS namespaces (and a user namespace when not root). In I forked
    into its PID namespace by the server (`pid` False, as root): the others."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | (CLONE_NEWPID if pid else 0)
    if user_namespace:
        uid, gid = os.geteuid(), os.getegid()
        unshare(flags | CLONE_NEWUSER)
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    else:
        unshare(flags)
    # Nothing mounted from here on may propagate back to the host.
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    libc().sethostname(b"quizapp-jail", 12)


def _make_mount_point(path: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(path, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        if not os.path.exists(path):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def _bind(source: str, target: str, keep_flags: int, device: bool = False) -> None:
    try:
        mount(source, target, None, MS_BIND)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        mount(source, target, None, MS_BIND | MS_REC)  # it has submounts we may not separate from it
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | keep_flags
    if not device:
        flags |= MS_NODEV
    mount(None, target, None, flags)


def build_root(plan: Plan, scratch_kb: int, scratch_uid: int | None) -> None:
    """In I (PID 1 of the new namespace): assemble the jail's root and pivot into it."""
    root = plan.mount_point
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
    # The scratch comes first: a checkout or virtual environment that lives under /tmp is then bound on top
    # of it (read-only, like every bind), instead of being hidden by a scratch mounted over it afterwards.
    os.makedirs(root + SCRATCH_DIR, exist_ok=True)
    owner = "" if scratch_uid is None else f",uid={scratch_uid},gid={scratch_uid}"
    inodes = 256 + scratch_kb // 4
    mount(
        "tmpfs",
        root + SCRATCH_DIR,
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={max(scratch_kb, 16)}k,nr_inodes={inodes},mode=0700{owner}",
    )
    for bind in plan.binds:
        target = root + bind.target
        _make_mount_point(target, bind.is_dir)
        _bind(bind.source, target, bind.flags, bind.device)
    for mask in plan.masks:
        mount("tmpfs", root + mask, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
    for mask in plan.file_masks:
        mount("/dev/null", root + mask, None, MS_BIND)
        mount(None, root + mask, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    for link, value in plan.links.items():
        if not os.path.lexists(root + link):
            os.symlink(value, root + link)
    os.makedirs(root + "/dev", exist_ok=True)
    for name, value in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(value, f"{root}/dev/{name}")
    # A fresh /proc of the new PID namespace, mounted before the old root goes (else EPERM in a user ns).
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/.oldroot", exist_ok=True)
    pivot_root(root, root + "/.oldroot")
    os.chdir("/")
    umount2("/.oldroot", MNT_DETACH)
    os.rmdir("/.oldroot")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def close_fds_except(keep: dict[int, int], devnull_stdin: bool = True) -> None:
    """Make the descriptors exactly: 0 = /dev/null, and each keep[target] = source; close everything else."""
    import fcntl

    # Move every source above every target first, so no dup2 overwrites a source still to be moved.
    moved = {target: fcntl.fcntl(source, fcntl.F_DUPFD, 100) for target, source in keep.items()}
    for target, source in moved.items():
        os.dup2(source, target, inheritable=True)
    if devnull_stdin:
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0, inheritable=True)
        if null != 0:
            os.close(null)
    highest = max(list(keep) + [2]) + 1
    os.closerange(highest, 1 << 20)
    for fd in range(3, highest):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def drop_to_job_user(uid: int, last_cap: int) -> None:
    """As real root: lose root for good (bounding set first, then the ids; setuid clears the rest)."""
    drop_bounding_set(last_cap)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def count_user_tasks(uid: int) -> int:
    """Processes and threads the host runs as uid (for RLIMIT_NPROC when it cannot be per job)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def virtual_size() -> int:
    """This process's virtual size in bytes."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 * 4


def set_limits(limits: dict[str, Any], nproc: int | None, base_vsize: int, cpu_used: float = 0.0) -> None:
    """The job's resource limits (limits is a Limits model dumped to a dict).

    RLIMIT_CPU counts the process's CPU time since it started: cpu_used is what this process used before
    the job (a prepared J's warm-up), so the learner gets at least the full cpu_seconds on top of it. The
    judge subtracts cpu_used from the time it reports. RLIMIT_AS is base_vsize (the process's virtual size
    now) plus memory_mb."""
    cpu = max(1, math.ceil(cpu_used + float(limits["cpu_seconds"])))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    size = int(limits["file_size_kb"]) * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    files = int(limits["open_files"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    if nproc is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if hasattr(resource, "RLIMIT_MEMLOCK"):
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))
    memory = base_vsize + int(limits["memory_mb"]) * (1 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def namespaces_possible() -> str | None:
    """None when this platform may have namespaces; otherwise why not."""
    if not sys.platform.startswith("linux"):
        return f"namespaces are Linux only (this is {sys.platform})"
    if platform.machine() not in SYS_PIVOT_ROOT:
        return f"pivot_root is not known on {platform.machine()}"
    return None


def is_directory(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False
