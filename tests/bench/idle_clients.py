"""idle_clients.py PORT N SECONDS: N kept-alive HTTP connections to 127.0.0.1:PORT, each
sending one GET /counter/idle-<i % 100> every 2 s (inside roomd's 5 s idle time, so they
stay open), for SECONDS. Used by idle_conns.sh."""
import asyncio
import sys


async def client(port, i, seconds):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    await asyncio.sleep((i % 200) / 100)  # spread the requests over the 2 s
    while loop.time() < end:
        writer.write(b"GET /counter/idle-%d HTTP/1.1\r\nHost: a\r\n\r\n" % (i % 100))
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
        await reader.readexactly(int(length[0].split(b":")[1]))
        await asyncio.sleep(2)
    writer.close()


async def main(port, n, seconds):
    await asyncio.gather(*(client(port, i, seconds) for i in range(n)))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
