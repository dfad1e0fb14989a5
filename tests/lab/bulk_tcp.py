"""One bulk TCP flow across a lab line, to load it up to its rate cap.

    bulk_tcp.py sink ADDR PORT REPORT     accept flows, discard the bytes, and
                                          append each second's goodput (Mbit/s)
                                          to REPORT, one number a line
    bulk_tcp.py send SRC DST PORT SECONDS send zeros from SRC to DST:PORT as
                                          fast as TCP allows, for SECONDS

The flow is as fast as the line lets it be: with `lab.sh set K --rate R`,
linesim paces it to R. Both ends cap their socket buffers at 128 KiB, so
the bytes in flight stay near the line's bandwidth-delay product: the flow
fills the line without building seconds of queue in linesim (whose queue
holds up to 16 MiB), which would delay every other packet on that line.
Addresses: the lab's own (198.18.0.0/15, 198.19.255.1) only.
"""
import socket
import sys
import time

BUFFER = 128 * 1024


def sink(addr, port, report):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)  # inherited by accepted
    server.bind((addr, port))
    server.listen(4)
    while True:
        conn, _ = server.accept()
        got, start = 0, time.monotonic()
        while True:
            data = conn.recv(65536)
            if not data:
                break
            got += len(data)
            now = time.monotonic()
            if now - start >= 1.0:
                with open(report, "a") as f:
                    f.write(f"{got * 8 / (now - start) / 1e6:.3f}\n")
                got, start = 0, now
        conn.close()


def send(src, dst, port, seconds):
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
    conn.bind((src, 0))
    conn.connect((dst, port))
    block = bytes(16384)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        conn.sendall(block)
    conn.close()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "sink":
        sink(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 6 and sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(__doc__)
