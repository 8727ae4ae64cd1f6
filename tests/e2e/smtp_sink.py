"""A real SMTP server for the mail tests (aiosmtpd), on loopback.

Prints "ready PORT" once it listens, then writes each message it accepts to DIR as
NNNNNN.eml (whole message, with X-Envelope-To added first) through a temporary name, and
answers 250 only after the file is in place. With a second argument N it refuses (451) the
first N messages. It stops when its standard input closes (the test dropped it).
"""
import asyncio
import os
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, directory, refuse):
        self.directory = directory
        self.refuse = refuse
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.count += 1
        name = os.path.join(self.directory, "%06d.eml" % self.count)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        head = ("X-Envelope-To: %s\r\nX-Envelope-From: %s\r\n" % (
            ",".join(envelope.rcpt_tos), envelope.mail_from)).encode()
        with open(name + ".part", "wb") as f:
            f.write(head + data)
        os.rename(name + ".part", name)
        return "250 OK"


async def main():
    directory = sys.argv[1]
    refuse = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    handler = Handler(directory, refuse)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.localhost", decode_data=False),
        "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print("ready %d" % port, flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
