#!/usr/bin/env python3
"""Idle CONNECT tunnels: resident memory per tunnel (workload 5 of docs/benchmarks.md).

Opens COUNT tunnels through the proxy to an origin that keeps connections open (nginx waits for a request),
sends nothing through them, and measures the resident memory (VmRSS, summed over the proxy's process tree)
before and after. Then checks a sample of the tunnels still work (one GET through each) and closes them all.

Prints one line: established=N failed=M rss_before_kb=A rss_after_kb=B kb_per_tunnel=C alive=K/S first_error=...
Loopback only; bounded by a deadline.
"""
import argparse
import asyncio
import os
import resource
import sys
import time


def tree_rss_kb(pid):
    """VmRSS of pid and all its descendants, in KiB."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, ValueError):
            pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
        todo.extend(children.get(p, []))
    return total


async def open_tunnel(args, first_error):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(args.proxy_ip, args.proxy_port), 10)
    except Exception as e:  # noqa: BLE001 - any failure counts, the first is reported
        first_error.setdefault("e", f"connect:{type(e).__name__}:{e}")
        return None
    try:
        target = f"{args.target_ip}:{args.target_port}"
        writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        if head[9:12] != b"200":
            first_error.setdefault("e", "answer:" + head.split(b"\r\n")[0].decode(errors="replace"))
            writer.close()
            return None
        return reader, writer
    except Exception as e:  # noqa: BLE001
        first_error.setdefault("e", f"answer:{type(e).__name__}:{e}")
        writer.close()
        return None


async def check_alive(args, tunnel):
    reader, writer = tunnel
    target = f"{args.target_ip}:{args.target_port}"
    try:
        writer.write(f"GET {args.path} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await asyncio.wait_for(reader.readexactly(length), 10)
        return head[9:12] == b"200"
    except Exception:  # noqa: BLE001
        return False


async def main(args):
    deadline = time.monotonic() + args.max_seconds
    first_error = {}
    before = tree_rss_kb(args.pid)
    tunnels, failed = [], 0
    limit = asyncio.Semaphore(args.concurrency)

    async def one():
        async with limit:
            if time.monotonic() > deadline:
                return None
            return await open_tunnel(args, first_error)

    for batch_start in range(0, args.count, 1000):
        results = await asyncio.gather(*(one() for _ in range(min(1000, args.count - batch_start))))
        for r in results:
            if r is None:
                failed += 1
            else:
                tunnels.append(r)
        if failed >= args.max_failures:
            first_error.setdefault("e", "")
            first_error["e"] += f" (stopped opening after {failed} failures)"
            break
    await asyncio.sleep(args.settle)
    after = tree_rss_kb(args.pid)
    steady = ""
    if args.steady > 0:
        # The same tunnels, still idle, a while later: what a proxy that gives memory back after the burst of
        # opening them holds in steady state (Sluice's quiet-interval trim), beside the figure just after opening.
        await asyncio.sleep(args.steady)
        later = tree_rss_kb(args.pid)
        steady = f" rss_steady_kb={later} kb_per_tunnel_steady={(later - before) / len(tunnels) if tunnels else float('nan'):.2f}"
    sample = tunnels[:: max(1, len(tunnels) // 100)] if tunnels else []
    alive = sum(await asyncio.gather(*(check_alive(args, t) for t in sample)))
    for _, writer in tunnels:
        writer.close()
    per = (after - before) / len(tunnels) if tunnels else float("nan")
    print(f"established={len(tunnels)} failed={failed} rss_before_kb={before} rss_after_kb={after} "
          f"kb_per_tunnel={per:.2f}{steady} alive={alive}/{len(sample)} first_error={first_error.get('e', 'none').replace(' ', '_')}",
          flush=True)
    await asyncio.sleep(0.5)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--pid", type=int, required=True, help="proxy process id (its process tree is measured)")
    p.add_argument("--proxy", required=True, help="IP:PORT of the proxy")
    p.add_argument("--target", required=True, help="IP:PORT the tunnels go to")
    p.add_argument("--path", default="/1k", help="path fetched through sampled tunnels at the end")
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=200)
    p.add_argument("--settle", type=float, default=3.0)
    p.add_argument("--steady", type=float, default=0, help="measure again this many seconds later (0: not at all)")
    p.add_argument("--max-failures", type=int, default=200, help="stop opening tunnels after this many failures")
    p.add_argument("--max-seconds", type=float, default=120)
    a = p.parse_args()
    a.proxy_ip, a.proxy_port = a.proxy.rsplit(":", 1)
    a.target_ip, a.target_port = a.target.rsplit(":", 1)
    for ip in (a.proxy_ip, a.target_ip):
        if not ip.startswith("127."):
            sys.exit(f"loopback only: {ip}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(a))
