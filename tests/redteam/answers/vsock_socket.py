"""Asks the kernel for a socket of each family that reaches beyond a network namespace; connects nowhere."""

import socket

made = []
for family in ("AF_VSOCK",):
    number = getattr(socket, family, None)
    if number is None:
        continue
    try:
        socket.socket(number, socket.SOCK_STREAM).close()
        made.append(family)
    except OSError:
        pass
if made:
    raise RuntimeError(f"socket families the jail allowed: {made}")
