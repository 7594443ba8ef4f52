"""The job's system call filter, in the spirit of Docker's default seccomp profile.

Namespaces do not cover everything the kernel offers: keyrings are per uid and per session, not per
namespace; a job could create a user namespace of its own (and with it capabilities over new mounts), trace
a process, load BPF programs, read performance counters, or reach the kernel's module and kexec loaders.
The filter denies exactly those families, and vsock sockets, with EPERM (ENOSYS for clone3, so that glibc
falls back to clone, whose flags a filter can read); everything else is allowed, as in Docker's profile.
System calls of another architecture (32-bit x86 on x86_64, x32) kill the process: libseccomp's default for a
foreign arch.

Built with libseccomp through `pyseccomp` (a ctypes binding to the system's libseccomp.so.2) once in the
worker, loaded by each job's J after no_new_privs and before anything of the learner's runs.
"""

from __future__ import annotations

import errno
from typing import Any

# Never needed by a PyTorch answer; each is a way out of, or across, the jail.
DENIED = (
    # kernel keyrings: not namespaced (item: a job must not read the grader's keys)
    "keyctl",
    "add_key",
    "request_key",
    # other processes' memory
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    # new namespaces, and joining others
    "unshare",
    "setns",
    # the mount family
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    # kernel code and the machine
    "bpf",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "iopl",
    "ioperm",
    "syslog",
    "acct",
    "quotactl",
    "lookup_dcookie",
    "userfaultfd",
    "open_by_handle_at",
    "name_to_handle_at",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "vhangup",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
)
# clone with any of these flags creates namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID,
# NEWNET (and NEWTIME, 0x80 in a second word of flags, only through clone3, which is refused).
CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
# Socket families the job's empty network namespace does not confine: vsock reaches the hypervisor and other
# guests of a VM (Docker's default profile refuses it too).
DENIED_SOCKET_FAMILIES = {"AF_VSOCK": 40}


def build() -> tuple[Any, str]:
    """(the filter, '') or (None, why there is none)."""
    try:
        import pyseccomp as seccomp
    except (ImportError, RuntimeError, OSError) as exc:  # the binding, or libseccomp itself, is missing
        return None, f"no seccomp filter: {exc}"
    try:
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for name in DENIED:
            try:
                rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
            except (OSError, ValueError, RuntimeError):
                pass  # a call this architecture does not have
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        for family in DENIED_SOCKET_FAMILIES.values():
            rules.add_rule(seccomp.ERRNO(errno.EPERM), "socket", seccomp.Arg(0, seccomp.EQ, family))
        # The flags are clone's first argument on x86_64 and aarch64 (libseccomp maps the argument per arch).
        for flag in _bits(CLONE_NAMESPACE_FLAGS):
            rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        return rules, ""
    except Exception as exc:
        return None, f"no seccomp filter: {type(exc).__name__}: {exc}"


def _bits(mask: int) -> list[int]:
    return [1 << i for i in range(64) if mask >> i & 1]
