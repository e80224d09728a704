#!/usr/bin/env python3
"""Run the probes of cases.py against Squid and Apache Traffic Server.

Everything listens on / connects to 127.0.0.1 only.  Standard library only.

  python3 compare.py                 # start both peers, run all probes, write results.json + peers.md
  python3 compare.py --only squid    # one peer
  python3 compare.py --ids REQ-BASE-get,RES-BASE-200
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cases  # noqa: E402

LOOP = '127.0.0.1'
IDLE = 3.0          # client idle wait (s)
TOTAL = 9.0         # hard cap per probe (s)


def free_port():
    s = socket.socket()
    s.bind((LOOP, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((LOOP, port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


# ------------------------------------------------------------------ origin
class OB(bytes):
    """bytes with the origin port attached (judges compare Host with it)"""
    port = b''


def parse_request_len(buf):
    """Return total length of the first complete request in buf, or None."""
    i = buf.find(b'\r\n\r\n')
    if i < 0:
        return None
    head = buf[:i].decode('latin-1')
    body = i + 4
    te = cl = None
    for line in head.split('\r\n')[1:]:
        k, _, v = line.partition(':')
        k = k.strip().lower()
        if k == 'transfer-encoding':
            te = (te + ',' if te else '') + v.strip().lower()
        elif k == 'content-length':
            cl = v.strip()
    if head.split(' ', 1)[0] == 'CONNECT':
        return body
    if te and te.replace(' ', '').split(',')[-1] == 'chunked':
        p = body
        while True:
            j = buf.find(b'\r\n', p)
            if j < 0:
                return None
            try:
                n = int(buf[p:j].split(b';')[0].strip(), 16)
            except ValueError:
                return len(buf)
            p = j + 2
            if n == 0:
                k = buf.find(b'\r\n\r\n', p - 2)
                return None if k < 0 else k + 4
            p += n + 2
            if p > len(buf):
                return None
    if cl is not None:
        try:
            n = int(cl.split(',')[0])
        except ValueError:
            return body
        return body + n if len(buf) >= body + n else None
    return body


class Origin:
    def __init__(self, c):
        self.c = c
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOP, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []          # raw bytes per connection
        self.reqs = []           # (conn_idx, bytes)
        self.head_time = None
        self.lock = threading.Lock()
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stop = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stop:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                idx = len(self.conns)
                self.conns.append(bytearray())
            threading.Thread(target=self._serve, args=(s, idx), daemon=True).start()

    def _resp_for(self, req):
        line = req.split(b'\r\n', 1)[0]
        parts = line.split(b' ')
        path = parts[1] if len(parts) > 1 else b''
        mode = self.c.get('origin')
        if path.endswith(b'/2'):
            return cases.SECOND
        if mode == 'echo-path':
            return b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s' % (len(path), path)
        if self.c['side'] == 'response':
            return cases.b(self.c['resp'])
        return cases.b(cases.OK)

    def _serve(self, s, idx):
        s.settimeout(0.2)
        buf = b''
        mode = self.c.get('origin')
        sent100 = False
        start = time.time()
        try:
            while not self.stop and time.time() - start < TOTAL + 2:
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    d = None
                except OSError:
                    return
                if d == b'':
                    return
                if d:
                    with self.lock:
                        self.conns[idx] += d
                    buf += d
                if mode == 'raw':
                    if buf:
                        time.sleep(0.3)
                        try:
                            while True:
                                more = s.recv(65536)
                                if not more:
                                    break
                                with self.lock:
                                    self.conns[idx] += more
                        except OSError:
                            pass
                        s.sendall(b'PONG\r\n')
                        time.sleep(0.3)
                        return
                    continue
                if not buf:
                    continue
                if self.head_time is None and b'\r\n\r\n' in buf:
                    self.head_time = time.time()
                if mode == 'expect' and not sent100 and b'\r\n\r\n' in buf and b'100-continue' in buf.split(b'\r\n\r\n')[0].lower():
                    sent100 = True
                    s.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
                n = parse_request_len(buf)
                if n is None:
                    continue
                req, buf = buf[:n], buf[n:]
                with self.lock:
                    self.reqs.append((idx, req))
                resp = self._resp_for(req)
                try:
                    s.sendall(resp)
                except OSError:
                    return
                if self.c.get('resp_late') and not req.split(b'\r\n', 1)[0].split(b' ')[1:2] == [b'/2'] and b'/2 ' not in req.split(b'\r\n', 1)[0]:
                    time.sleep(0.5)
                    try:
                        s.sendall(cases.b(self.c['resp_late']))
                    except OSError:
                        return
                if self.c.get('close') and resp is not cases.SECOND:
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    time.sleep(0.2)
                    return
        finally:
            try:
                s.close()
            except OSError:
                pass


# ------------------------------------------------------------------ client side parsing
def parse_responses(buf, methods, closed):
    """Parse responses in buf. methods: list of request methods (for HEAD/CONNECT)."""
    out = []
    pos = 0
    nfinal = 0
    while pos < len(buf):
        i = buf.find(b'\r\n\r\n', pos)
        j = buf.find(b'\n\n', pos)
        if i < 0 and j < 0:
            break
        if i < 0 or (0 <= j < i):
            end, bstart = j, j + 2
        else:
            end, bstart = i, i + 4
        head = buf[pos:end]
        m = re.match(rb'\s*HTTP/(\d)\.(\d) +(\d{3})(?![0-9])', head)
        if not m:
            out.append({'status': -1, 'raw': buf[pos:], 'body': b'', 'body_decoded': b'', 'complete': False})
            break
        status = int(m.group(3))
        meth = methods[min(nfinal, len(methods) - 1)]
        hl = head.decode('latin-1').replace('\r\n', '\n').split('\n')[1:]
        te = cl = None
        for line in hl:
            k, _, v = line.partition(':')
            k = k.strip().lower()
            if k == 'transfer-encoding':
                te = (te + ',' if te else '') + v.strip().lower()
            elif k == 'content-length':
                cl = v.strip()
        rec = {'status': status, 'complete': True}
        if 100 <= status < 200 and status != 101:
            rec.update(raw=buf[pos:bstart], body=b'', body_decoded=b'')
            out.append(rec)
            pos = bstart
            continue
        nfinal += 1
        if status == 101 or (meth == 'CONNECT' and 200 <= status < 300):
            rec.update(raw=buf[pos:], body=buf[bstart:], body_decoded=buf[bstart:], complete=closed)
            out.append(rec)
            break
        if meth == 'HEAD' or status in (204, 304):
            rec.update(raw=buf[pos:bstart], body=b'', body_decoded=b'')
            out.append(rec)
            pos = bstart
            continue
        if te and te.replace(' ', '').split(',')[-1] == 'chunked':
            p = bstart
            data = b''
            ok = False
            while True:
                k = buf.find(b'\r\n', p)
                if k < 0:
                    break
                try:
                    n = int(buf[p:k].split(b';')[0].strip(), 16)
                except ValueError:
                    break
                p = k + 2
                if n == 0:
                    t = buf.find(b'\r\n\r\n', p - 2)
                    if t >= 0:
                        p = t + 4
                        ok = True
                    break
                if p + n + 2 > len(buf):
                    data += buf[p:p + n]
                    p = len(buf)
                    break
                data += buf[p:p + n]
                p += n + 2
            rec.update(raw=buf[pos:p], body=data, body_decoded=data, complete=ok)
            out.append(rec)
            if not ok:
                break
            pos = p
            continue
        if cl is not None and te is None:
            try:
                n = int(cl)
            except ValueError:
                n = len(buf) - bstart
            body = buf[bstart:bstart + n]
            rec.update(raw=buf[pos:bstart + n], body=body, body_decoded=body, complete=len(body) == n)
            out.append(rec)
            if len(body) < n:
                break
            pos = bstart + n
            continue
        body = buf[bstart:]
        rec.update(raw=buf[pos:], body=body, body_decoded=body, complete=closed)
        out.append(rec)
        break
    return out


class Result:
    pass


def method_of(data):
    return data.split(b' ', 1)[0].decode('latin-1', 'replace') if data else 'GET'


def run_probe(c, proxy_port):
    origin = Origin(c)
    P = str(origin.port).encode()
    PP = str(proxy_port).encode()

    def sub(bs):
        return bs.replace(b'{P}', P).replace(b'{PP}', PP)

    stages = c['send'] if isinstance(c['send'], list) else [(c['send'], 0)]
    stages = [(sub(d), t) for d, t in stages]
    methods = [method_of(stages[0][0].lstrip(b'\r\n'))]
    if c.get('nresp', 1) > 1:
        methods = methods * c['nresp']
    r = Result()
    r.case_resp = cases.b(c.get('resp', cases.OK)).lstrip(b'\r\n')
    r.stage_times = []
    r.second_sent = False
    buf = b''
    outcome = None
    closed = False
    t0 = time.time()
    try:
        s = socket.create_connection((LOOP, proxy_port), 3)
    except OSError as e:
        origin.close()
        r.error = str(e)
        raise
    s.settimeout(0.1)
    want_final = c.get('nresp', 1)
    second_req = sub(cases.get(path='/2'))
    pending = list(stages)
    next_at = t0
    last_rx = time.time()
    done_at = None
    try:
        while True:
            now = time.time()
            if pending and now >= next_at:
                d, _ = pending.pop(0)
                r.stage_times.append(time.time())
                try:
                    s.sendall(d)
                except OSError:
                    pass
                if pending:
                    next_at = time.time() + pending[0][1]
                elif c.get('shut_wr'):
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                last_rx = time.time()
            try:
                d = s.recv(65536)
                if d == b'':
                    closed = True
                    outcome = outcome or 'closed'
                else:
                    buf += d
                    last_rx = time.time()
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = True
                outcome = 'reset'
            except OSError:
                closed = True
                outcome = outcome or 'reset'
            resps = parse_responses(buf, methods + (['GET'] if r.second_sent else []), closed)
            finals = [x for x in resps if x['status'] >= 200 or x['status'] == -1]
            complete_finals = [x for x in finals if x['complete']]
            if c.get('second') and not r.second_sent and len(complete_finals) >= 1 and not closed and not pending:
                try:
                    s.sendall(second_req)
                    r.second_sent = True
                    last_rx = time.time()
                except OSError:
                    pass
            if closed and not pending:
                break
            if c.get('tunnel'):
                if not pending and time.time() - last_rx > IDLE:
                    break
            elif not pending:
                need = want_final + (1 if r.second_sent else 0)
                if len(complete_finals) >= need and (not c.get('second') or r.second_sent):
                    if done_at is None:
                        done_at = time.time()
                    if time.time() - done_at > 0.8:
                        break
                elif time.time() - last_rx > IDLE:
                    outcome = outcome or 'timeout'
                    break
            if time.time() - t0 > TOTAL:
                outcome = outcome or 'timeout'
                break
    finally:
        try:
            s.close()
        except OSError:
            pass
    time.sleep(0.15)
    origin.close()
    resps = parse_responses(buf, methods + (['GET'] if r.second_sent else []), closed)
    r.responses = [x for x in resps if x['status'] != -1]
    r.statuses = [x['status'] for x in resps]
    fin = [x for x in r.responses if x['status'] >= 200]
    r.status = fin[0]['status'] if fin else None
    r.outcome = 'status' if r.status is not None else (outcome or ('closed' if closed else 'timeout'))
    if r.status is None and resps and resps[0]['status'] == -1:
        r.outcome = 'garbage'
    r.closed = closed
    r.client_raw = buf
    with origin.lock:
        r.origin_conns = len(origin.conns)
        r.origin_raw = b''.join(bytes(x) for x in origin.conns)
        reqs = list(origin.reqs)
        conns = [bytes(x) for x in origin.conns]
    r.fwd = len(r.origin_raw) > 0
    first = reqs[0][1] if reqs else (conns[0] if conns else b'')
    r.origin_first = OB(first)
    r.origin_first.port = P
    r.origin_reqs = reqs
    r.origin_head_time = origin.head_time
    idx_first = reqs[0][0] if reqs else None
    idx_second = None
    for i, q in reqs:
        if b'/2 ' in q.split(b'\r\n', 1)[0]:
            idx_second = i
            break
    r.second_new_conn = not (idx_second is not None and idx_second == idx_first)
    return r


def esc(bs, limit=300):
    s = ''.join('\\r' if c == 13 else '\\n' if c == 10 else '\\t' if c == 9 else chr(c) if 32 <= c < 127 else '\\x%02x' % c for c in bs[:limit])
    return s + ('…(%d B)' % len(bs) if len(bs) > limit else '')


def summarize(c, r):
    parts = []
    if c['side'] == 'request':
        st = ','.join(str(x) for x in r.statuses) if r.statuses else r.outcome
        parts.append(st + (' +close' if r.closed else ''))
        if r.fwd:
            o = r.origin_first
            parts.append('fwd `' + esc(cases.reqline(o), 80) + '`')
            for name in c.get('focus', []):
                vals = cases.hdr_vals(o, name)
                parts.append('%s=%s' % (name, ','.join('`' + esc(v, 60) + '`' for v in vals) if vals else '∅'))
        else:
            parts.append('not fwd')
    else:
        st = ','.join(str(x) for x in r.statuses) if r.statuses else r.outcome
        parts.append(st + (' +close' if r.closed else ''))
        f = cases.final(r)
        if f:
            parts.append('body `' + esc(f['body_decoded'], 40) + '`' + ('' if f['complete'] else ' (incomplete)'))
        if c.get('second'):
            parts.append('2nd ' + ('sent' if r.second_sent else 'not sent') + (', origin conn new' if r.second_new_conn else ', ORIGIN CONN REUSED'))
    return '; '.join(parts)


def judge(c, r):
    try:
        return c['judge'](r)
    except Exception as e:  # judge crashed on unexpected shape
        return 'info', 'judge error: %s' % e


def jsonable(c, r, verdict, note):
    return {
        'id': c['id'], 'verdict': verdict, 'note': note, 'summary': summarize(c, r),
        'status': r.status, 'statuses': r.statuses, 'outcome': r.outcome, 'closed': r.closed,
        'client_raw': esc(r.client_raw, 3000), 'origin_conns': r.origin_conns,
        'origin_raw': esc(r.origin_raw, 3000), 'second_sent': r.second_sent, 'second_new_conn': r.second_new_conn,
    }


# ------------------------------------------------------------------ peers
class Peer:
    """A proxy under test run as a child process in its own folder (self.dir), answering on self.port."""

    def _launch(self, argv, what, timeout, cwd=None):
        self.log = open(os.path.join(self.dir, 'stderr.log'), 'w')
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd)
        if not wait_port(self.port, timeout):
            raise RuntimeError(what + ' did not start; see ' + self.dir)

    def stopp(self):
        try:
            self.proc.terminate()
            self.proc.wait(10)
        except Exception:
            self.proc.kill()


class Squid(Peer):
    name = 'squid'

    def __init__(self, root):
        self.dir = os.path.join(root, 'squid')
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        conf = os.path.join(self.dir, 'squid.conf')
        with open(conf, 'w') as f:
            f.write(f"""http_port 127.0.0.1:{self.port}
http_access allow localhost
http_access deny all
cache deny all
cache_mem 8 MB
cache_effective_user proxy
pid_filename {self.dir}/squid.pid
access_log stdio:{self.dir}/access.log
cache_log {self.dir}/cache.log
cache_store_log none
coredump_dir {self.dir}
netdb_filename none
pinger_enable off
visible_hostname squid-under-test
shutdown_lifetime 1 seconds
dns_nameservers 127.0.0.1
forwarded_for on
""")
        subprocess.call(['chown', '-R', 'proxy:proxy', self.dir])
        self.conf = conf

    def start(self):
        self._launch(['squid', '-N', '-f', self.conf], 'squid', 30)

    @staticmethod
    def version():
        return subprocess.run(['squid', '-v'], capture_output=True, text=True).stdout.strip().split('\n')[0]


class ATS(Peer):
    name = 'ats'

    def __init__(self, root):
        d = self.dir = os.path.join(root, 'ats')
        etc = os.path.join(d, 'etc')
        shutil.copytree('/etc/trafficserver', etc)
        for sub in ('var', 'run', 'log', 'cache'):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        self.port = free_port()
        with open(os.path.join(etc, 'records.config'), 'a') as f:
            f.write(f"""
# ---- conformance harness overrides
CONFIG proxy.config.http.server_ports STRING {self.port}:ip-in=127.0.0.1
CONFIG proxy.config.url_remap.remap_required INT 0
CONFIG proxy.config.http.cache.http INT 0
CONFIG proxy.config.http.connect_ports STRING 1-65535
CONFIG proxy.config.admin.user_id STRING #-1
CONFIG proxy.config.proxy_name STRING ats-under-test
CONFIG proxy.config.http.transaction_no_activity_timeout_in INT 5
CONFIG proxy.config.http.transaction_no_activity_timeout_out INT 5
CONFIG proxy.config.log.logging_enabled INT 3
CONFIG proxy.config.diags.logfile.filename STRING diags.log
""")
        with open(os.path.join(etc, 'remap.config'), 'w') as f:
            f.write('')
        with open(os.path.join(etc, 'storage.config'), 'w') as f:
            f.write(os.path.join(d, 'cache') + ' 64M\n')
        self.runroot = os.path.join(d, 'runroot.yaml')
        with open(self.runroot, 'w') as f:
            f.write(f"""prefix: {d}
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/bin
sysconfdir: {etc}
datadir: {d}/cache
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
localstatedir: {d}/var
runtimedir: {d}/run
logdir: {d}/log
cachedir: {d}/cache
""")

    def start(self):
        self._launch(['traffic_server', '--run-root=' + self.runroot], 'traffic_server', 45, cwd=self.dir)
        time.sleep(1.0)

    @staticmethod
    def version():
        r = subprocess.run(['traffic_server', '-V'], capture_output=True, text=True)
        return ' / '.join(x for x in (r.stdout + r.stderr).strip().split('\n') if 'using root' not in x)


def run_peer(peer, sel, out):
    res = {}
    for c in sel:
        if not c.get('probe', True):
            continue
        try:
            r = run_probe(c, peer.port)
            v, note = judge(c, r)
            res[c['id']] = jsonable(c, r, v, note)
        except Exception as e:
            res[c['id']] = {'id': c['id'], 'verdict': 'error', 'note': repr(e), 'summary': 'harness error'}
        if c.get('restart_after'):
            # health check: do later connections still work?  (ATS 9.2 was seen to wedge a net thread here)
            base = [x for x in cases.CASES if x['id'] == 'REQ-BASE-get'][0]
            ok = 0
            for _ in range(4):
                try:
                    ok += run_probe(base, peer.port).status == 200
                except Exception:
                    pass
            res[c['id']]['note'] += ' [after this probe %d/4 fresh baseline GETs were answered; peer restarted]' % ok
            peer.stopp()
            time.sleep(1)
            peer.start()
        if peer.proc.poll() is not None:
            res[c['id']]['note'] += ' [PEER DIED]'
            try:
                peer.start()
            except Exception:
                pass
    out[peer.name] = res


def write_peers_md(results, versions, path):
    byid = {c['id']: c for c in cases.CASES}
    names = [n for n in ('squid', 'ats') if n in results]
    L = ['# Peer comparison: Squid vs Apache Traffic Server against the Sluice probes\n']
    L.append('Generated by `compare.py` (probes from `cases.py`, requirement rows in `requirements.md`). '
             'Origin = hostile raw-socket server on 127.0.0.1; both proxies on 127.0.0.1 with caching disabled.\n')
    L.append('**Versions**\n')
    for n in names:
        L.append('- %s: `%s`' % (n, versions.get(n, '?').replace('\n', ' / ')[:400]))
    L.append('\n**Cell format:** `verdict — note — observed`. Verdicts: **strict** = meets the strict Sluice expectation; '
             'ok-variant = RFC-acceptable but not the preferred behaviour (e.g. a different 4xx, or the connection not closed); '
             '**LAX** = laxer than the strict expectation (forwarded something that should have been rejected/repaired, etc.); '
             'LAX? = expected forwarding but the peer refused (stricter, or a policy); no-answer = no response within ~3 s and nothing forwarded; info = informational probe. '
             'Observed: statuses the client got (comma list, 1xx included), `+close` if the proxy closed the client connection, '
             'then for request probes what reached the origin (request-line and the focus fields, ∅ = absent), '
             'for response probes the final body the client received and whether a 2nd request reused the origin connection.\n')
    counts = {n: {} for n in names}
    for n in names:
        for v in results[n].values():
            counts[n][v['verdict']] = counts[n].get(v['verdict'], 0) + 1
    L.append('**Totals:** ' + '; '.join('%s: %s' % (n, ', '.join('%s %d' % kv for kv in sorted(counts[n].items()))) for n in names) + '\n')
    notes = os.path.join(HERE, 'peer-notes.md')
    if os.path.exists(notes):
        L.append(open(notes).read().strip() + '\n')
    L.append('## Per-probe results\n')
    L.append('| ID | Strict expectation | ' + ' | '.join(n.capitalize() if n == 'squid' else 'ATS' for n in names) + ' |')
    L.append('|---|---|' + '---|' * len(names))
    for c in cases.CASES:
        if not any(c['id'] in results[n] for n in names):
            continue
        cells = []
        for n in names:
            v = results[n].get(c['id'])
            if not v:
                cells.append('-')
                continue
            verdict = v['verdict']
            vv = '**%s**' % verdict if verdict in ('LAX', 'strict') else verdict
            cells.append(('%s — %s — %s' % (vv, v.get('note', ''), v.get('summary', ''))).replace('|', '\\|').replace('\n', ' '))
        exp = c['expect'].replace('|', '\\|')
        L.append('| %s | %s | %s |' % (c['id'], exp, ' | '.join(cells)))
    open(path, 'w').write('\n'.join(L) + '\n')


def rewrite_md():
    d = json.load(open(os.path.join(HERE, 'results.json')))
    write_peers_md(d['results'], d['versions'], os.path.join(HERE, 'peers.md'))


def main():
    if sys.argv[1:] == ['--render']:
        return rewrite_md()
    ap = argparse.ArgumentParser()
    ap.add_argument('--only', choices=['squid', 'ats'])
    ap.add_argument('--ids')
    ap.add_argument('--keep', action='store_true', help='keep temp dir')
    a = ap.parse_args()
    sel = cases.CASES
    if a.ids:
        want = set(a.ids.split(','))
        sel = [c for c in sel if c['id'] in want]
    root = tempfile.mkdtemp(prefix='cr-peers-')
    os.chmod(root, 0o755)
    peers = []
    versions = {}
    if a.only in (None, 'squid'):
        peers.append(Squid(root))
        versions['squid'] = Squid.version()
    if a.only in (None, 'ats'):
        peers.append(ATS(root))
        versions['ats'] = ATS.version()
    started = []
    try:
        for p in peers:
            try:
                p.start()
                started.append(p)
                print('started', p.name, 'on', p.port, flush=True)
            except Exception as e:
                print('FAILED to start', p.name, e, flush=True)
                versions[p.name] += ' (FAILED TO START: %s)' % e
        out = {}
        ths = [threading.Thread(target=run_peer, args=(p, sel, out)) for p in started]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
    finally:
        for p in started:
            p.stopp()
    resfile = os.path.join(HERE, 'results.json' if not a.ids else 'results-partial.json')
    old = {}
    if os.path.exists(os.path.join(HERE, 'results.json')):
        try:
            old = json.load(open(os.path.join(HERE, 'results.json')))
        except Exception:
            old = {}
    merged = old.get('results', {}) if a.ids else {}
    for n, rs in out.items():
        merged.setdefault(n, {}).update(rs)
    versions = {**old.get('versions', {}), **versions} if a.ids else versions
    json.dump({'versions': versions, 'results': merged}, open(os.path.join(HERE, 'results.json'), 'w'), indent=1)
    write_peers_md(merged, versions, os.path.join(HERE, 'peers.md'))
    print('wrote', resfile, 'peers.md; temp dir', root)
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
