"""What a process exit status means: libc, LSB, BSD sysexits, systemd's own codes, signals.

`explain(code, status)` gives the text stored in ``process.exit_code_explained``, e.g.
``EX_OSERR (71): an operating system error`` or ``SIGKILL (9): killed``. ``code`` is systemd's
``EXIT_CODE`` / ``code=`` (``exited``, ``killed``, ``dumped``); for ``killed``/``dumped`` the status
is a signal number. Names follow systemd's ``exit_status_to_string()`` (src/basic/exit-status.c) and
``signal_to_string()``; the meanings are what an operator should check first (see HINTS.md).
"""

from __future__ import annotations

# status -> (name as systemd prints it, meaning)
_EXIT: dict[int, tuple[str, str]] = {
    0: ("SUCCESS", "success"),
    1: ("FAILURE", "a generic failure"),
    # LSB init-script 'start' exit codes
    2: ("INVALIDARGUMENT", "invalid or excess arguments (LSB)"),
    3: ("NOTIMPLEMENTED", "unimplemented feature (LSB)"),
    4: ("NOPERMISSION", "the user has insufficient privilege (LSB)"),
    5: ("NOTINSTALLED", "the program is not installed (LSB)"),
    6: ("NOTCONFIGURED", "the program is not configured (LSB)"),
    7: ("NOTRUNNING", "the program is not running (LSB)"),
    # BSD sysexits.h
    64: ("EX_USAGE", "the command was used incorrectly (bad arguments)"),
    65: ("EX_DATAERR", "the input data was incorrect"),
    66: ("EX_NOINPUT", "an input file did not exist or was not readable"),
    67: ("EX_NOUSER", "the user specified did not exist"),
    68: ("EX_NOHOST", "the host specified did not exist"),
    69: ("EX_UNAVAILABLE", "a service is unavailable (a support program or file does not exist)"),
    70: ("EX_SOFTWARE", "an internal software error"),
    71: ("EX_OSERR", "an operating system error (a system call failed: bind, fork, ...)"),
    72: ("EX_OSFILE", "a system file is missing or has an error"),
    73: ("EX_CANTCREAT", "a (user specified) output file cannot be created"),
    74: ("EX_IOERR", "an error occurred while doing I/O on some file"),
    75: ("EX_TEMPFAIL", "a temporary failure; retrying later may succeed"),
    76: ("EX_PROTOCOL", "the remote system returned something invalid during a protocol exchange"),
    77: ("EX_NOPERM", "insufficient permission to perform the operation"),
    78: ("EX_CONFIG", "a configuration error"),
    # systemd's own codes: the service's process failed before (or while) exec'ing the binary
    200: ("CHDIR", "WorkingDirectory= could not be entered"),
    201: ("NICE", "Nice= could not be applied"),
    202: ("FDS", "file descriptors could not be closed or passed"),
    203: ("EXEC", "the ExecStart= binary could not be executed (missing, not executable, wrong interpreter)"),
    204: ("MEMORY", "out of memory while setting up the process"),
    205: ("LIMITS", "a resource limit (LimitNOFILE=, ...) could not be applied"),
    206: ("OOM_ADJUST", "OOMScoreAdjust= could not be applied"),
    207: ("SIGNAL_MASK", "the signal mask could not be set"),
    208: ("STDIN", "standard input could not be set up"),
    209: ("STDOUT", "standard output could not be set up"),
    210: ("CHROOT", "RootDirectory= could not be entered"),
    211: ("IOPRIO", "IOSchedulingClass=/IOSchedulingPriority= could not be applied"),
    212: ("TIMERSLACK", "TimerSlackNSec= could not be applied"),
    213: ("SECUREBITS", "SecureBits= could not be applied"),
    214: ("SETSCHEDULER", "CPUSchedulingPolicy= could not be applied"),
    215: ("CPUAFFINITY", "CPUAffinity= could not be applied"),
    216: ("GROUP", "the Group= does not exist or could not be set"),
    217: ("USER", "the User= does not exist or could not be set"),
    218: ("CAPABILITIES", "capabilities could not be applied"),
    219: ("CGROUP", "the control group could not be set up"),
    220: ("SETSID", "a new session could not be created"),
    221: ("CONFIRM", "execution was cancelled at the confirmation prompt"),
    222: ("STDERR", "standard error could not be set up"),
    224: ("PAM", "the PAM session could not be set up"),
    225: ("NETWORK", "PrivateNetwork= could not be set up"),
    226: ("NAMESPACE", "the mount namespace could not be set up: a path named by a sandboxing option "
          "(ReadWritePaths=, PrivateTmp=, ...) does not exist"),
    227: ("NO_NEW_PRIVILEGES", "NoNewPrivileges= could not be applied"),
    228: ("SECCOMP", "the system call filter could not be installed"),
    229: ("SELINUX_CONTEXT", "the SELinux context could not be set"),
    230: ("PERSONALITY", "Personality= could not be applied"),
    231: ("APPARMOR_PROFILE", "the AppArmor profile could not be applied"),
    232: ("ADDRESS_FAMILIES", "RestrictAddressFamilies= could not be applied"),
    233: ("RUNTIME_DIRECTORY", "RuntimeDirectory= could not be created"),
    235: ("CHOWN", "a socket or directory could not be chowned"),
    236: ("SMACK_PROCESS_LABEL", "the SMACK label could not be set"),
    237: ("KEYRING", "the kernel keyring could not be set up"),
    238: ("STATE_DIRECTORY", "StateDirectory= could not be created"),
    239: ("CACHE_DIRECTORY", "CacheDirectory= could not be created"),
    240: ("LOGS_DIRECTORY", "LogsDirectory= could not be created"),
    241: ("CONFIGURATION_DIRECTORY", "ConfigurationDirectory= could not be created"),
    242: ("NUMA_POLICY", "NUMAPolicy= could not be applied"),
    243: ("CREDENTIALS", "a credential (LoadCredential=, SetCredential=) could not be set up"),
    244: ("BPF", "a BPF program could not be attached"),
    255: ("EXCEPTION", "exit status 255: the process exited with -1 or an uncaught exception"),
}

# signal number -> (name without SIG, meaning)
_SIGNALS: dict[int, tuple[str, str]] = {
    1: ("HUP", "hangup"),
    2: ("INT", "interrupted"),
    3: ("QUIT", "quit (often with a core dump)"),
    4: ("ILL", "illegal instruction"),
    5: ("TRAP", "trace/breakpoint trap"),
    6: ("ABRT", "aborted: abort() or a failed assertion in the program, or systemd's watchdog "
        "(WatchdogSec=) aborting a service that hung"),
    7: ("BUS", "bus error (bad memory access, a truncated mmap'ed file)"),
    8: ("FPE", "arithmetic exception"),
    9: ("KILL", "killed: the OOM killer (check the kernel log) or a stop that timed out"),
    10: ("USR1", "user-defined signal 1"),
    11: ("SEGV", "segmentation fault: the program crashed (invalid memory access)"),
    12: ("USR2", "user-defined signal 2"),
    13: ("PIPE", "broken pipe"),
    14: ("ALRM", "alarm clock"),
    15: ("TERM", "terminated: asked to stop (systemctl stop, shutdown, a stop timeout)"),
    16: ("STKFLT", "stack fault"),
    17: ("CHLD", "child status changed"),
    18: ("CONT", "continued"),
    19: ("STOP", "stopped"),
    20: ("TSTP", "stopped at the terminal"),
    21: ("TTIN", "background read from the terminal"),
    22: ("TTOU", "background write to the terminal"),
    23: ("URG", "urgent socket condition"),
    24: ("XCPU", "CPU time limit exceeded (LimitCPU=)"),
    25: ("XFSZ", "file size limit exceeded (LimitFSIZE=)"),
    26: ("VTALRM", "virtual alarm clock"),
    27: ("PROF", "profiling timer expired"),
    28: ("WINCH", "window size change"),
    29: ("IO", "I/O possible"),
    30: ("PWR", "power failure"),
    31: ("SYS", "bad system call (blocked by SystemCallFilter=?)"),
}

SIGNAL_CODES = frozenset(("killed", "dumped"))  # systemd's code= values whose status is a signal


def status_name(code: str | None, status: int) -> str | None:
    """The short name systemd prints after ``status=N/`` (``OSERR``, ``KILL``), None if unknown."""
    if code in SIGNAL_CODES:
        sig = _SIGNALS.get(status)
        return sig[0] if sig else None
    known = _EXIT.get(status)
    if known is None:
        return None
    return known[0][3:] if known[0].startswith("EX_") else known[0]


def explain(code: str | None, status: int) -> str:
    """``EX_OSERR (71): an operating system error ...``, ``SIGABRT (6): aborted ...; core dumped``."""
    if code in SIGNAL_CODES:
        sig = _SIGNALS.get(status)
        text = f"SIG{sig[0]} ({status}): {sig[1]}" if sig else f"signal {status}"
        return text + "; core dumped" if code == "dumped" else text
    known = _EXIT.get(status)
    if known is not None:
        return f"{known[0]} ({status}): {known[1]}"
    if 128 < status < 128 + 65:
        sig = _SIGNALS.get(status - 128)
        name = f"SIG{sig[0]}" if sig else f"signal {status - 128}"
        meaning = f": {sig[1]}" if sig else ""
        return f"{status} = 128+{status - 128}: the process was killed by {name}{meaning}"
    return f"exit status {status}: specific to the program (see its documentation)"


# systemd unit results (service_result_table and friends) -> meaning
RESULTS: dict[str, str] = {
    "exit-code": "the main or a control process exited with a non-zero status",
    "signal": "a process was killed by a signal (9/KILL: the OOM killer? check the kernel log)",
    "core-dump": "a process crashed and dumped core (coredumpctl list shows it)",
    "timeout": "a start/stop timed out (TimeoutStartSec=/TimeoutStopSec=)",
    "watchdog": "the watchdog timed out (WatchdogSec=): the service stopped responding",
    "start-limit-hit": "a restart loop: the unit was started too often too quickly; the real cause "
    "is the first failure of the burst",
    "start-limit": "a restart loop: the unit was started too often too quickly; the real cause "
    "is the first failure of the burst",
    "protocol": "the service broke the start-up protocol: a forking daemon never wrote its PID file, "
    "or a Type=notify service never sent READY=1",
    "resources": "a resource the unit needs could not be set up (a file, directory, socket, PID file, "
    "or a scope's processes were gone)",
    "oom-kill": "the kernel OOM killer killed a process of the unit",
    "exec-condition": "ExecCondition= failed",
    "success": "success",
}


def explain_result(result: str) -> str:
    meaning = RESULTS.get(result)
    return f"{result}: {meaning}" if meaning else result


def label(code: str | None, status: int) -> str:
    """A short label for a report line: ``exit 71, EX_OSERR``, ``exit 203/EXEC``, ``SIGABRT, core dumped``."""
    if code in SIGNAL_CODES:
        sig = _SIGNALS.get(status)
        name = f"SIG{sig[0]}" if sig else f"signal {status}"
        return f"{name}, core dumped" if code == "dumped" else f"killed by {name}"
    known = _EXIT.get(status)
    if known is not None:
        return f"exit {status}, {known[0]}" if known[0].startswith("EX_") else f"exit {status}/{known[0]}"
    if 128 < status < 128 + 65 and (status - 128) in _SIGNALS:
        return f"exit {status} = 128+{status - 128}, SIG{_SIGNALS[status - 128][0]}"
    return f"exit {status}"
