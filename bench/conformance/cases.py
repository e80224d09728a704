# -*- coding: utf-8 -*-
"""Probe catalogue for Sluice forward-proxy conformance research.

Each case is one row of requirements.md and one probe of compare.py.
Placeholders inside byte strings:
  {P}   port of the hostile origin for this case (origin is 127.0.0.1)
  {PP}  port of the proxy under test (only used by the loop probe)

Requirement gists are paraphrased (not quoted) from RFC 9112 / RFC 9110.
"""

U = 'http://127.0.0.1:{P}'
H = 'Host: 127.0.0.1:{P}\r\n'
OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
SECOND = b'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond'


def b(s):
    return s.encode('latin-1') if isinstance(s, str) else s


def get(extra='', path='/', method='GET', version='HTTP/1.1', host=True, body=''):
    return b(f'{method} {U}{path} {version}\r\n' + (H if host else '') + extra + '\r\n' + body)


# ---------------------------------------------------------------- judges
# A judge receives the Result object from compare.py and returns
# (verdict, note).  verdict: 'strict', 'ok-variant', 'LAX', 'info'.

def _status_txt(r):
    if r.status is not None:
        return str(r.status)
    return r.outcome


def rej(codes=(400,), need_close=True):
    def j(r):
        if r.fwd and body_of(r.origin_first) == b'' and b'\r\n\r\n' in r.origin_first and (r.status is None or r.status >= 400) and (has_hdr(r.origin_first, 'transfer-encoding') or has_hdr(r.origin_first, 'content-length')):
            return 'ok-variant', 'header section streamed upstream before the body was validated; body aborted, no invalid bytes forwarded'
        if r.fwd:
            return 'LAX', 'forwarded to origin'
        if r.status in codes:
            if need_close and not r.closed:
                return 'ok-variant', f'{r.status}, connection kept open'
            return 'strict', f'{r.status}' + (' + close' if r.closed else '')
        if r.status is not None and 400 <= r.status < 600:
            return 'ok-variant', f'rejected {r.status} (expected {"/".join(map(str, codes))})'
        if r.status is None and r.outcome in ('closed', 'reset'):
            return 'ok-variant', f'{r.outcome} without a response'
        if r.outcome == 'garbage':
            return 'LAX', 'not forwarded, but answered without a status line (HTTP/0.9-style body)'
        if r.status is None:
            return 'no-answer', f'no response within the wait ({r.outcome}), not forwarded'
        return 'LAX', f'client got {_status_txt(r)}, not forwarded'
    return j


def rej_or_fix(pred, desc, codes=(400,)):
    base = rej(codes, need_close=False)

    def j(r):
        if r.fwd:
            try:
                good = pred(r.origin_first)
            except Exception:
                good = False
            if good:
                return 'ok-variant' if desc.startswith('~') else 'strict', 'forwarded, repaired: ' + desc.lstrip('~')
            return 'LAX', 'forwarded without the required repair (' + desc.lstrip('~') + ')'
        return base(r)
    return j


def fwd(pred, desc):
    def j(r):
        if not r.fwd:
            if r.status is None and r.outcome == 'timeout':
                return 'no-answer', 'no response and nothing forwarded (expected forwarding)'
            return 'LAX?', f'not forwarded (client got {_status_txt(r)}); expected forwarding'
        try:
            good = pred(r.origin_first)
        except Exception:
            good = False
        return ('strict', desc) if good else ('LAX', 'NOT ' + desc)
    return j


def not_fwd(desc, okcodes=None):
    def j(r):
        if r.fwd:
            return 'LAX', 'forwarded to origin'
        if okcodes and r.status not in okcodes:
            return 'ok-variant', f'answered {_status_txt(r)} itself ({desc})'
        return 'strict', f'answered {_status_txt(r)} itself'
    return j


def info(r):
    return 'info', ''


def _origin_status(r):
    try:
        return int(r.case_resp.split(b' ', 2)[1])
    except Exception:
        return None


def resp_rej(codes=(502,)):
    def j(r):
        if r.status in codes:
            return 'strict', f'{r.status}'
        if r.outcome == 'garbage':
            return 'LAX', 'relayed a response the client cannot parse (invalid status line passed through)'
        if 101 in r.statuses:
            return 'LAX', 'relayed the 101 to the client'
        if r.status is None:
            return 'ok-variant', f'{r.outcome}, no response to client'
        if r.status == _origin_status(r):
            return 'LAX', f'relayed the origin status {r.status}'
        if r.status >= 400:
            return 'ok-variant', f'rejected with {r.status} (expected {"/".join(map(str, codes))})'
        return 'LAX', f'client got {r.status}'
    return j


def resp_rej_or_fix(pred, desc, codes=(502,)):
    base = resp_rej(codes)

    def j(r):
        if r.status is not None and r.status < 500 and not (r.status >= 400 and r.status != _origin_status(r)):
            try:
                good = pred(r)
            except Exception:
                good = False
            return ('strict', 'forwarded, repaired: ' + desc) if good else ('LAX', 'forwarded without repair (' + desc + ')')
        return base(r)
    return j


def resp_ok(pred, desc):
    def j(r):
        try:
            good = pred(r)
        except Exception:
            good = False
        if good:
            return 'strict', desc
        return 'LAX', 'NOT ' + desc
    return j


# helpers on byte strings / results
def hdrs(raw):
    """header section of first message (bytes, lowercased names kept raw)"""
    i = raw.find(b'\r\n\r\n')
    return raw if i < 0 else raw[:i + 2]


def has_hdr(raw, name):
    name = name.lower().encode() + b':'
    for line in hdrs(raw).split(b'\r\n')[1:]:
        if line.lower().startswith(name):
            return True
    return False


def hdr_vals(raw, name):
    name = name.lower().encode()
    out = []
    for line in hdrs(raw).split(b'\r\n')[1:]:
        k, _, v = line.partition(b':')
        if k.strip().lower() == name:
            out.append(v.strip())
    return out


def reqline(raw):
    return raw.split(b'\r\n', 1)[0]


def body_of(raw):
    i = raw.find(b'\r\n\r\n')
    return b'' if i < 0 else raw[i + 4:]


def via_ver(v):
    """received-protocol version of one Via member ('1.1', '1.0'); protocol-name 'HTTP/' prefix is optional"""
    p = v.strip().split(b' ', 1)[0]
    if b'/' in p:
        name, _, ver = p.partition(b'/')
        if name.lower() != b'http':
            return None
        return ver
    return p


def via_members(raw):
    out = []
    for v in hdr_vals(raw, 'via'):
        out += [m.strip() for m in v.split(b',') if m.strip()]
    return out


def r1(r):
    return r.responses[0] if r.responses else None


def final(r):
    for x in r.responses:
        if x['status'] >= 200:
            return x
    return None


CASES = []


def case(**kw):
    kw.setdefault('alt', '')
    kw.setdefault('focus', [])
    kw.setdefault('probe', True)
    CASES.append(kw)


# ======================================================================
# REQUEST SIDE: client -> proxy
# ======================================================================
S = 'request'

case(id='REQ-BASE-get', side=S, sec='-', level='baseline',
     gist='Well-formed absolute-form GET is forwarded (sanity check of the harness).',
     send=get(), expect='Forwarded; origin sees origin-form `GET / HTTP/1.1` and `Host: 127.0.0.1:PORT`; client gets 200.',
     judge=fwd(lambda o: reqline(o) == b'GET / HTTP/1.1' and hdr_vals(o, 'host') == [b'127.0.0.1:' + o.port], 'origin-form + Host from URI'),
     focus=['host', 'via'])

# ---- 2.2 message parsing
case(id='REQ-9112-2.2-bare-cr-field', side=S, sec='9112 2.2', level='MUST',
     gist='A bare CR inside a protocol element makes it invalid, or each bare CR must become SP before processing/forwarding.',
     send=get('X-A: a\rb\r\n'), expect='400 and close.', alt='Or forward with `X-A: a b` (CR replaced by SP); never forward the bare CR.',
     judge=rej_or_fix(lambda o: b'\r' not in o.replace(b'\r\n', b'') and b'a b' in o, 'bare CR -> SP'), focus=['x-a'])
case(id='REQ-9112-2.2-bare-cr-requestline', side=S, sec='9112 2.2 / 3', level='MUST',
     gist='Bare CR in the request-line target is invalid (it is not whitespace we should accept in a target).',
     send=b('GET ' + U + '/a\rb HTTP/1.1\r\n' + H + '\r\n'), expect='400 and close; nothing forwarded.',
     judge=rej())
case(id='REQ-9112-2.2-bare-lf-terminator', side=S, sec='9112 2.2', level='MAY',
     gist='A recipient may accept a lone LF as line terminator (ignoring a preceding CR); strict parsers reject.',
     send=b('GET ' + U + '/ HTTP/1.1\n' + H.replace('\r\n', '\n') + 'X-A: 1\n\n'),
     expect='Strict Sluice: 400 and close.', alt='RFC-permitted: accept and forward re-serialised with CRLF line endings.',
     judge=rej_or_fix(lambda o: b'\n' not in o.replace(b'\r\n', b''), '~normalised to CRLF'))
case(id='REQ-9112-2.2-leading-crlf', side=S, sec='9112 2.2', level='SHOULD',
     gist='A server expecting a request-line should skip at least one empty line received before it.',
     send=b'\r\n' + get(), expect='Request processed normally (forwarded, 200).', alt='400 is stricter than the SHOULD but not a safety problem.',
     judge=fwd(lambda o: reqline(o) == b'GET / HTTP/1.1', 'forwarded after ignoring leading CRLF'))
case(id='REQ-9112-2.2-ws-after-startline', side=S, sec='9112 2.2', level='MUST',
     gist='Whitespace-prefixed line right after the start-line: reject, or drop that line (and following folded lines) unprocessed.',
     send=b('GET ' + U + '/ HTTP/1.1\r\n X-Smuggle: 1\r\n' + H + '\r\n'),
     expect='400 and close.', alt='Or forward with the ` X-Smuggle` line removed entirely.',
     judge=rej_or_fix(lambda o: b'smuggle' not in o.lower(), 'whitespace-preceded line dropped'))
case(id='REQ-9112-2.2-no-colon-line', side=S, sec='9112 2.2 / 5', level='SHOULD',
     gist='Octets that do not match the message grammar: respond 400 and close the connection.',
     send=get('this line has no colon\r\n'), expect='400 and close; nothing forwarded.', judge=rej())
case(id='REQ-9112-2.2-nul-in-requestline', side=S, sec='9112 2.2 / 3', level='SHOULD',
     gist='NUL inside the request-target does not match the grammar -> 400 and close.',
     send=b('GET ' + U + '/a\x00b HTTP/1.1\r\n' + H + '\r\n'), expect='400 and close.', judge=rej())

# ---- 2.3 version
case(id='REQ-9112-2.3-version-lowercase', side=S, sec='9112 2.3', level='MUST (case-sensitive)',
     gist='HTTP-name is case-sensitive `HTTP`; `http/1.1` is not a valid version.',
     send=get(version='http/1.1'), expect='400 and close; nothing forwarded.', judge=rej())
case(id='REQ-9112-2.3-version-1.2', side=S, sec='9112 2.3 / 9110 2.5', level='MUST',
     gist='Intermediary must send its own HTTP-version when forwarding; a 1.x minor above 1 is handled as 1.1.',
     send=get(version='HTTP/1.2'), expect='Forwarded as `GET / HTTP/1.1`; response to client says HTTP/1.1.',
     alt='505 is tolerable but unnecessary.',
     judge=fwd(lambda o: reqline(o).endswith(b'HTTP/1.1'), 'forwarded with own version HTTP/1.1'))
case(id='REQ-9112-2.3-version-1.0', side=S, sec='9112 2.3', level='MUST',
     gist='A proxy forwarding an HTTP/1.0 request sends its own version (HTTP/1.1) upstream.',
     send=get(version='HTTP/1.0', host=False), expect='Forwarded as `HTTP/1.1` with a generated Host.',
     judge=fwd(lambda o: reqline(o).endswith(b'HTTP/1.1') and hdr_vals(o, 'host') == [b'127.0.0.1:' + o.port], 'forwarded as HTTP/1.1 with Host from URI'),
     focus=['host'])
case(id='REQ-9112-2.3-version-2.0', side=S, sec='9112 2.3 / 9110 2.5', level='MAY (505)',
     gist='A textual HTTP/1-style request claiming major version 2 is not something a 1.1 proxy is conformant to; refuse.',
     send=get(version='HTTP/2.0'), expect='505 (or 400) and close; nothing forwarded.', judge=rej((505, 400)))
case(id='REQ-9112-2.3-version-3.0', side=S, sec='9112 2.3 / 9110 2.5', level='MAY (505)',
     gist='Same for major version 3.', send=get(version='HTTP/3.0'), expect='505 (or 400); nothing forwarded.', judge=rej((505, 400)))
case(id='REQ-9112-2.3-version-0.9', side=S, sec='9112 2.3 / C.1', level='MAY (505)',
     gist='Explicit `HTTP/0.9` with headers is not a usable version for a Host-routed proxy; refuse.',
     send=get(version='HTTP/0.9'), expect='505 or 400; nothing forwarded.', judge=rej((505, 400)))
case(id='REQ-9112-2.3-version-multidigit', side=S, sec='9112 2.3', level='MUST (grammar)',
     gist='HTTP-version is exactly one DIGIT "." one DIGIT; `HTTP/1.10` / `HTTP/01.1` are invalid.',
     send=get(version='HTTP/1.10'), expect='400 (or 505) and close.', judge=rej((400, 505)))
case(id='REQ-9112-3-http09-simple', side=S, sec='9112 3 / C.1', level='SHOULD',
     gist='HTTP/0.9 simple request (`GET /` with no version) does not match request-line grammar.',
     send=b'GET /\r\n\r\n', expect='400 with a proper HTTP/1.1 status line and close (never a headerless 0.9 reply); nothing forwarded.',
     judge=rej((400, 505)))
case(id='REQ-9112-3-h2-preface', side=S, sec='9112 3.2.4 / 2.3', level='SHOULD',
     gist='HTTP/2 connection preface (`PRI * HTTP/2.0`) on an HTTP/1.1 port: asterisk-form is only for OPTIONS and version 2.0 is unsupported.',
     send=b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', expect='400 or 505 and close (or close silently); nothing forwarded.', judge=rej((400, 505)))

# ---- 3 request line
case(id='REQ-9112-3-double-space', side=S, sec='9112 3', level='MAY (lenient)',
     gist='Single SP separators are required; splitting on any whitespace is allowed but risky (smuggling).',
     send=b('GET  ' + U + '/ HTTP/1.1\r\n' + H + '\r\n'), expect='Strict Sluice: 400 and close.',
     alt='RFC-permitted: parse leniently and forward a canonical request-line.',
     judge=rej_or_fix(lambda o: reqline(o) == b'GET / HTTP/1.1', '~canonical request-line'))
case(id='REQ-9112-3-trailing-space', side=S, sec='9112 3', level='MAY (lenient)',
     gist='Trailing whitespace after HTTP-version is outside the grammar.',
     send=b('GET ' + U + '/ HTTP/1.1 \r\n' + H + '\r\n'), expect='Strict: 400.', alt='Lenient: forward canonical line.',
     judge=rej_or_fix(lambda o: reqline(o) == b'GET / HTTP/1.1', '~canonical request-line'))
case(id='REQ-9112-3-htab-separator', side=S, sec='9112 3', level='MAY (lenient)',
     gist='HTAB as request-line separator is only tolerated by lenient parsers.',
     send=b('GET\t' + U + '/\tHTTP/1.1\r\n' + H + '\r\n'), expect='Strict: 400.', alt='Lenient: forward canonical line.',
     judge=rej_or_fix(lambda o: reqline(o) == b'GET / HTTP/1.1', '~canonical request-line'))
case(id='REQ-9112-3.1-method-not-token', side=S, sec='9112 3.1 / 9110 5.6.2', level='SHOULD (400)',
     gist='Method must be a token; delimiters such as `(` or `"` are not allowed.',
     send=b('G(T ' + U + '/ HTTP/1.1\r\n' + H + '\r\n'), expect='400 and close.', judge=rej())
case(id='REQ-9112-3.1-method-case', side=S, sec='9112 3.1 / 9110 7.6', level='MUST (case-sensitive)',
     gist='Methods are case-sensitive; an unknown token method such as `get` must not be uppercased (forward as-is or refuse).',
     send=get(method='get'), expect='Forwarded with `get` unchanged, or 501/405; never rewritten to `GET`.',
     judge=lambda r: ('LAX', 'rewritten to GET') if r.fwd and reqline(r.origin_first).startswith(b'GET ') else (('strict', 'forwarded unchanged') if r.fwd else ('strict', f'refused {_status_txt(r)}')))
case(id='REQ-9112-3-method-too-long', side=S, sec='9112 3', level='SHOULD',
     gist='A method longer than any implemented should get 501.',
     send=get(method='X' * 9000), expect='501 (or 400/414); nothing forwarded.', judge=rej((501, 400, 414)))
case(id='REQ-9112-3-uri-too-long', side=S, sec='9112 3', level='MUST',
     gist='A request-target longer than the server wishes to parse must get 414.',
     send=get(path='/' + 'a' * 200000), expect='414 and close; nothing forwarded.', judge=rej((414,), need_close=False))
case(id='REQ-9112-3-8000-octets', side=S, sec='9112 3', level='RECOMMENDED',
     gist='Request-lines of at least 8000 octets should be supported.',
     send=get(path='/' + 'a' * 7900), expect='Forwarded intact (200).',
     judge=fwd(lambda o: len(reqline(o)) > 7900, 'forwarded 7.9 kB target'))
case(id='REQ-9112-3.2-space-in-target', side=S, sec='9112 3.2', level='SHOULD / SHOULD NOT',
     gist='Whitespace in the target is invalid: answer 400 (or 301 to an encoded URI); do not autocorrect and process.',
     send=b('GET ' + U + '/a b HTTP/1.1\r\n' + H + '\r\n'), expect='400 and close; not forwarded (and not silently %20-encoded).', judge=rej((400, 301)))
case(id='REQ-9112-3.2-ctl-in-target', side=S, sec='9112 3.2', level='SHOULD',
     gist='Control octets in the request-target make the request-line invalid.',
     send=b('GET ' + U + '/a\x01b HTTP/1.1\r\n' + H + '\r\n'), expect='400 and close.', judge=rej())
case(id='REQ-9112-3.2-host-missing', side=S, sec='9112 3.2', level='MUST',
     gist='An HTTP/1.1 request lacking Host must get 400 (even in absolute-form).',
     send=get(host=False), expect='400; nothing forwarded.',
     alt='Many proxies accept because the URI carries the authority; that is a deviation from the MUST.', judge=rej(need_close=False))
case(id='REQ-9112-3.2-host-duplicate', side=S, sec='9112 3.2', level='MUST',
     gist='More than one Host field line must get 400.',
     send=get('Host: 127.0.0.1:{P}\r\n'), expect='400; nothing forwarded.', judge=rej(need_close=False))
case(id='REQ-9112-3.2-host-duplicate-differing', side=S, sec='9112 3.2', level='MUST',
     gist='Two Host lines with different values must get 400.',
     send=get('Host: evil.test\r\n'), expect='400; nothing forwarded.', judge=rej(need_close=False))
case(id='REQ-9112-3.2-host-invalid', side=S, sec='9112 3.2 / 9110 7.2', level='MUST',
     gist='A Host with an invalid value (space inside, not uri-host[:port]) must get 400.',
     send=b('GET ' + U + '/ HTTP/1.1\r\nHost: exa mple.test\r\n\r\n'), expect='400; nothing forwarded.', judge=rej(need_close=False))
case(id='REQ-9112-3.2-host-list', side=S, sec='9112 3.2 / 9110 7.2', level='MUST',
     gist='Host is a singleton; a comma list is an invalid value -> 400.',
     send=b('GET ' + U + '/ HTTP/1.1\r\nHost: 127.0.0.1:{P}, evil.test\r\n\r\n'), expect='400; nothing forwarded.', judge=rej(need_close=False))
case(id='REQ-9112-3.2.2-host-mismatch', side=S, sec='9112 3.2.2', level='MUST',
     gist='Proxy ignores a received Host that disagrees with the absolute URI and forwards a Host generated from the URI.',
     send=b('GET ' + U + '/ HTTP/1.1\r\nHost: evil.test\r\n\r\n'), expect='Forwarded with exactly `Host: 127.0.0.1:PORT`; `evil.test` never reaches origin.',
     judge=fwd(lambda o: hdr_vals(o, 'host') == [b'127.0.0.1:' + o.port] and b'evil' not in o, 'Host replaced from URI'), focus=['host'])
case(id='REQ-9112-3.2.2-host-empty', side=S, sec='9112 3.2 / 3.2.2', level='MUST',
     gist='Empty Host while the URI has an authority is a client error; a proxy must in any case regenerate Host from the URI.',
     send=b('GET ' + U + '/ HTTP/1.1\r\nHost:\r\n\r\n'), expect='Forwarded with `Host: 127.0.0.1:PORT`.', alt='400 also acceptable (Host value not identical to authority).',
     judge=rej_or_fix(lambda o: hdr_vals(o, 'host') == [b'127.0.0.1:' + o.port], 'Host regenerated'), focus=['host'])
case(id='REQ-9112-3.2.2-host-userinfo', side=S, sec='9112 3.2 / 3.2.2', level='MUST',
     gist='Forwarded Host must equal the URI authority without userinfo.',
     send=b('GET http://user:pw@127.0.0.1:{P}/ HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\n\r\n'),
     expect='Forwarded with `Host: 127.0.0.1:PORT`, no `user:pw` in Host or request-line.', alt='400 for userinfo (9110 4.2.4 says treat as error) is also fine.',
     judge=rej_or_fix(lambda o: hdr_vals(o, 'host') == [b'127.0.0.1:' + o.port] and b'user:pw' not in hdrs(o), 'userinfo dropped'), focus=['host'])
case(id='REQ-9112-3.2.1-origin-form-to-proxy', side=S, sec='9112 3.2.1 / 3.2.2', level='MUST (client)',
     gist='Clients must use absolute-form to a proxy; a forward proxy receiving origin-form has no target of its own to forward to.',
     send=b('GET / HTTP/1.1\r\n' + H + '\r\n'), expect='Not forwarded: 400 (or the proxy answers as origin for its own resource).',
     alt='Routing by Host makes the proxy an open interception/reverse proxy; lax for a forward proxy.', judge=not_fwd('origin-form'))
case(id='REQ-9112-3.2.3-authority-form-get', side=S, sec='9112 3.2.3', level='MUST (only CONNECT)',
     gist='authority-form target is only for CONNECT.',
     send=b('GET 127.0.0.1:{P} HTTP/1.1\r\n' + H + '\r\n'), expect='400; nothing forwarded.', judge=rej(need_close=False))
case(id='REQ-9112-3.2.4-asterisk-get', side=S, sec='9112 3.2.4', level='MUST (only OPTIONS)',
     gist='asterisk-form target is only for server-wide OPTIONS.',
     send=b('GET * HTTP/1.1\r\n' + H + '\r\n'), expect='400; nothing forwarded.', judge=rej(need_close=False))
case(id='REQ-9112-3.2.4-options-empty-path', side=S, sec='9112 3.2.4', level='MUST',
     gist='OPTIONS to an absolute URI with empty path and no query is forwarded by the last proxy as `OPTIONS *`.',
     send=b('OPTIONS ' + U + ' HTTP/1.1\r\n' + H + '\r\n'), expect='Origin sees `OPTIONS * HTTP/1.1`.',
     judge=fwd(lambda o: reqline(o) == b'OPTIONS * HTTP/1.1', 'forwarded as OPTIONS *'))
case(id='REQ-9112-3.2.1-empty-path', side=S, sec='9112 3.2.1 / 9110 7.7', level='MUST',
     gist='Empty path in absolute URI becomes `/` in the forwarded origin-form.',
     send=b('GET ' + U + ' HTTP/1.1\r\n' + H + '\r\n'), expect='Origin sees `GET / HTTP/1.1`.',
     judge=fwd(lambda o: reqline(o) == b'GET / HTTP/1.1', 'empty path -> /'))
case(id='REQ-9110-7.7-path-unchanged', side=S, sec='9110 7.7 (adjacent to 9112 3.2)', level='MUST NOT',
     gist='Proxy must not rewrite the path or query of the target (no dot-segment removal, no re-encoding).',
     send=get(path='/a/../b/%7e;p?q=%20&r=a+b'), expect='Origin sees `GET /a/../b/%7e;p?q=%20&r=a+b HTTP/1.1` byte-for-byte.',
     judge=fwd(lambda o: reqline(o) == b'GET /a/../b/%7e;p?q=%20&r=a+b HTTP/1.1', 'path/query unchanged'))

# ---- 5 fields
case(id='REQ-9112-5.1-ws-before-colon', side=S, sec='9112 5.1', level='MUST',
     gist='Whitespace between field name and colon in a request must get 400.',
     send=get('X-A : 1\r\n'), expect='400 and close; nothing forwarded.', judge=rej(need_close=False))
case(id='REQ-9112-5.1-ws-before-colon-host', side=S, sec='9112 5.1', level='MUST',
     gist='Same rule applied to `Host :` (routing confusion vector).',
     send=b('GET ' + U + '/ HTTP/1.1\r\nHost : evil.test\r\n\r\n'), expect='400; nothing forwarded.', judge=rej(need_close=False))
case(id='REQ-9112-5.1-ws-before-colon-te', side=S, sec='9112 5.1 / 6.3', level='MUST',
     gist='`Transfer-Encoding :` with a Content-Length: classic smuggling split; must be 400.',
     send=get('Content-Length: 5\r\nTransfer-Encoding : chunked\r\n', method='POST', body='0\r\n\r\n'), expect='400 and close; nothing forwarded.', judge=rej())
case(id='REQ-9112-5-empty-field-name', side=S, sec='9112 5 / 2.2', level='SHOULD (400)',
     gist='A field line with an empty name does not match field-line grammar.',
     send=get(': value\r\n'), expect='400 and close.', judge=rej())
case(id='REQ-9112-5-field-name-not-token', side=S, sec='9112 5 / 9110 5.6.2', level='SHOULD (400)',
     gist='Field names must be tokens; `X(A)` or `X A` is invalid.',
     send=get('X(A): 1\r\n'), expect='400 and close.', judge=rej())
case(id='REQ-9112-5.2-obs-fold', side=S, sec='9112 5.2', level='MUST',
     gist='obs-fold in a request: reject with 400, or replace each fold with SP before interpreting/forwarding.',
     send=get('X-A: a\r\n b\r\n'), expect='400 and close.', alt='Or forward as one line `X-A: a b` (fold -> SP).',
     judge=rej_or_fix(lambda o: b'\r\n b' not in o and b'\r\n\tb' not in o and any(v.startswith(b'a') and v.endswith(b'b') for v in hdr_vals(o, 'x-a')), 'fold -> SP'), focus=['x-a'])
case(id='REQ-9112-5.2-obs-fold-cl', side=S, sec='9112 5.2 / 6.3', level='MUST',
     gist='obs-fold inside Content-Length (`Content-Length: 2\\r\\n 0`) must not yield a different framing downstream.',
     send=get('Content-Length: 2\r\n 0\r\n', method='POST', body='ok' + 'x' * 18), expect='400 and close.',
     alt='If unfolded to `2 0` the CL is invalid -> 400 anyway.', judge=rej())
case(id='REQ-9110-5.5-nul-in-value', side=S, sec='9110 5.5', level='MUST',
     gist='NUL in a field value: reject the message or replace NUL with SP before processing/forwarding.',
     send=get('X-A: a\x00b\r\n'), expect='400 and close.', alt='Or forward `X-A: a b`.',
     judge=rej_or_fix(lambda o: b'\x00' not in o, 'NUL -> SP'), focus=['x-a'])
case(id='REQ-9110-5.5-ctl-in-value', side=S, sec='9110 5.5', level='MAY retain (invalid)',
     gist='Other CTLs (e.g. 0x01, 0x7F) in a field value are invalid; retaining them is only allowed in safe contexts.',
     send=get('X-A: a\x01b\r\n'), expect='Strict Sluice: 400.', alt='Permitted: forward unchanged (opaque).',
     judge=rej_or_fix(lambda o: True, '~CTL forwarded as opaque (permitted)'), focus=['x-a'])
case(id='REQ-9110-5.5-obs-text', side=S, sec='9110 5.5', level='SHOULD',
     gist='obs-text (0x80-0xFF) in field content is opaque data and should pass through unchanged.',
     send=get('X-A: caf\xe9\r\n'), expect='Forwarded byte-identical `X-A: caf\\xe9`.',
     judge=fwd(lambda o: b'X-A: caf\xe9\r\n' in o, 'obs-text forwarded unchanged'), focus=['x-a'])
case(id='REQ-9110-5.5-ows-trim-cl', side=S, sec='9110 5.5 / 9112 5.1', level='MUST',
     gist='Leading/trailing OWS is excluded from the field value (so `Content-Length:  2 \\t` means 2).',
     send=get('Content-Length:  2 \t\r\n', method='POST', body='ok'), expect='Forwarded with Content-Length 2 and body `ok`.',
     judge=fwd(lambda o: body_of(o) == b'ok', 'body of 2 octets forwarded'))
case(id='REQ-9110-5.4-huge-field', side=S, sec='9110 5.4', level='MUST',
     gist='A request field line/section larger than the server wishes to process must get a 4xx (e.g. 431), not be ignored.',
     send=get('X-Big: ' + 'a' * 300000 + '\r\n'), expect='431 (or 400/413); nothing forwarded.', judge=rej((431, 400, 413), need_close=False))
case(id='REQ-9110-5.4-many-fields', side=S, sec='9110 5.4', level='MUST',
     gist='Too many field lines: 4xx rather than silently dropping some.',
     send=get(''.join(f'X-N{i}: v\r\n' for i in range(20000))), restart_after=True, probe_desc='GET http://127.0.0.1:PORT/ HTTP/1.1\\r\\nHost: 127.0.0.1:PORT\\r\\n + 20000 lines `X-N<i>: v\\r\\n` + \\r\\n', expect='431/400; nothing forwarded; never forward a truncated header set.',
     judge=lambda r: ('LAX', 'forwarded with %d of 20000 fields' % r.origin_first.count(b'X-N')) if r.fwd and r.origin_first.count(b'X-N') < 20000 else rej((431, 400, 413), need_close=False)(r))
case(id='REQ-9110-5.3-order', side=S, sec='9110 5.3', level='MUST NOT',
     gist='A proxy must not reorder field lines that share a name.',
     send=get('X-L: 1\r\nX-O: z\r\nX-L: 2\r\n'), expect='Origin sees X-L values in order 1 then 2 (separate lines or `1, 2`).',
     judge=fwd(lambda o: b', '.join(hdr_vals(o, 'x-l')).replace(b' ', b'') == b'1,2', 'order preserved'), focus=['x-l'])

# ---- 6 framing
case(id='REQ-BASE-post-cl', side=S, sec='-', level='baseline',
     gist='POST with Content-Length is forwarded with its body.',
     send=get('Content-Length: 5\r\n', method='POST', body='hello'), expect='Forwarded, body `hello`.',
     judge=fwd(lambda o: body_of(o) == b'hello', 'body forwarded'))
case(id='REQ-BASE-post-chunked', side=S, sec='9112 6.1 / 7.1', level='MUST',
     gist='Recipient must be able to parse chunked; body forwarded intact.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5\r\nhello\r\n0\r\n\r\n'), expect='Forwarded; origin gets content `hello` (chunked or CL).',
     judge=fwd(lambda o: b'hello' in body_of(o), 'chunked body forwarded'))
case(id='REQ-9112-6.1-te-unknown', side=S, sec='9112 6.1 / 6.3', level='SHOULD 501 / MUST 400',
     gist='Unknown transfer coding: 501 is advised; as chunked is not final the framing is undeterminable -> 400 and close.',
     send=get('Transfer-Encoding: foo\r\n', method='POST', body='hello'), expect='400 (or 501) and close; nothing forwarded.', judge=rej((400, 501)))
case(id='REQ-9112-6.3-te-chunked-not-last', side=S, sec='9112 6.3', level='MUST',
     gist='Request TE whose final coding is not chunked -> 400 and close.',
     send=get('Transfer-Encoding: chunked, gzip\r\n', method='POST', body='5\r\nhello\r\n0\r\n\r\n'), expect='400 and close; nothing forwarded.', judge=rej((400, 501)))
case(id='REQ-9112-6.3-te-split-lines', side=S, sec='9112 6.3 / 9110 5.3', level='MUST',
     gist='Two TE lines combine as a list: `chunked` then `gzip` => final coding gzip -> 400.',
     send=get('Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n', method='POST', body='5\r\nhello\r\n0\r\n\r\n'), expect='400 and close.', judge=rej((400, 501)))
case(id='REQ-9112-6.1-te-chunked-twice', side=S, sec='9112 6.1', level='MUST NOT (sender)',
     gist='chunked applied twice is forbidden; recipient cannot frame it sensibly.',
     send=get('Transfer-Encoding: chunked, chunked\r\n', method='POST', body='5\r\nhello\r\n0\r\n\r\n'), expect='400 and close.', judge=rej((400, 501)))
case(id='REQ-9112-6.1-te-identity', side=S, sec='9112 6.1', level='SHOULD (501)',
     gist='`identity` is no longer a transfer coding; treat as unknown.',
     send=get('Transfer-Encoding: identity\r\nContent-Length: 5\r\n', method='POST', body='hello'), expect='400/501 and close; nothing forwarded.', judge=rej((400, 501)))
case(id='REQ-9112-6.1-te-case', side=S, sec='9112 7', level='MUST (case-insensitive)',
     gist='Transfer-coding names are case-insensitive: `CHUNKED` is chunked.',
     send=get('Transfer-Encoding: CHUNKED\r\n', method='POST', body='5\r\nhello\r\n0\r\n\r\n'), expect='Forwarded; content `hello` framed correctly.',
     judge=fwd(lambda o: b'hello' in body_of(o), 'decoded as chunked'))
case(id='REQ-9112-7.1-chunked-param', side=S, sec='9112 7.1', level='SHOULD',
     gist='chunked has no parameters; `chunked;foo=bar` should be an error.',
     send=get('Transfer-Encoding: chunked;foo=bar\r\n', method='POST', body='5\r\nhello\r\n0\r\n\r\n'), expect='400 and close.', judge=rej((400, 501)))
case(id='REQ-9112-6.3-te-empty', side=S, sec='9112 6.1 / 6.3', level='MUST',
     gist='Empty Transfer-Encoding plus Content-Length: TE present but chunked not final -> 400.',
     send=get('Transfer-Encoding:\r\nContent-Length: 5\r\n', method='POST', body='hello'), expect='400 and close.', judge=rej((400, 501)))
case(id='REQ-9112-6.1-te-and-cl', side=S, sec='9112 6.1 / 6.3', level='MAY reject / MUST close / MUST drop CL',
     gist='TE and CL together: reject, or process by TE alone, drop CL before forwarding, and close the client connection after responding.',
     send=get('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', method='POST', body='0\r\n\r\nX'),
     expect='400 and close.', alt='Or forward de-/re-chunked with NO Content-Length, then close the client connection after the response.',
     judge=lambda r: rej_or_fix(lambda o: not has_hdr(o, 'content-length') or hdr_vals(o, 'content-length') == [b'0'], 'CL removed')(r) if not (r.fwd and not r.closed) else ('LAX', 'forwarded but client connection not closed' + ('' if not has_hdr(r.origin_first, 'content-length') else '; CL forwarded')),
     focus=['content-length', 'transfer-encoding'])
case(id='REQ-9112-6.1-te-http10', side=S, sec='9112 6.1', level='MUST',
     gist='HTTP/1.0 message with Transfer-Encoding: framing is faulty (even with CL); close after processing.',
     send=b('POST ' + U + '/ HTTP/1.0\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'),
     expect='400 and close.', alt='Or process (chunked) and close the connection afterwards; never keep it open.',
     judge=lambda r: ('LAX', 'connection kept open') if not r.closed else (('ok-variant', 'processed then closed') if r.fwd else rej()(r)))
case(id='REQ-9112-6.1-te-cl-http10', side=S, sec='9112 6.1', level='MUST',
     gist='HTTP/1.0 with both TE and CL: faulty framing; must not trust either and must close.',
     send=b('POST ' + U + '/ HTTP/1.0\r\n' + H + 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
     expect='400 and close.', alt='Or process and close; CL must not be forwarded alongside TE.',
     judge=lambda r: ('LAX', 'connection kept open') if not r.closed else (('ok-variant', 'processed then closed') if r.fwd and not (has_hdr(r.origin_first, 'content-length') and has_hdr(r.origin_first, 'transfer-encoding')) else (('LAX', 'forwarded TE+CL') if r.fwd else rej()(r))))
case(id='REQ-9112-6.3-cl-differing', side=S, sec='9112 6.3', level='MUST',
     gist='Two Content-Length lines with different values: unrecoverable -> 400 and close.',
     send=get('Content-Length: 5\r\nContent-Length: 6\r\n', method='POST', body='hello!'), expect='400 and close; nothing forwarded.', judge=rej())
case(id='REQ-9112-6.3-cl-identical-lines', side=S, sec='9112 6.3', level='MAY',
     gist='Repeated identical Content-Length values may be collapsed to one value (or rejected).',
     send=get('Content-Length: 5\r\nContent-Length: 5\r\n', method='POST', body='hello'), expect='400 and close (strict).',
     alt='Or forward with a single `Content-Length: 5`.',
     judge=rej_or_fix(lambda o: hdr_vals(o, 'content-length') == [b'5'], '~collapsed to one CL'), focus=['content-length'])
case(id='REQ-9112-6.3-cl-list-identical', side=S, sec='9112 6.3', level='MAY',
     gist='`Content-Length: 5, 5` may be processed as 5 (or rejected).',
     send=get('Content-Length: 5, 5\r\n', method='POST', body='hello'), expect='400 and close (strict).',
     alt='Or forward with `Content-Length: 5`.',
     judge=rej_or_fix(lambda o: hdr_vals(o, 'content-length') == [b'5'], '~collapsed to one CL'), focus=['content-length'])
case(id='REQ-9112-6.3-cl-list-differing', side=S, sec='9112 6.3', level='MUST',
     gist='`Content-Length: 5, 6` is invalid -> 400 and close.',
     send=get('Content-Length: 5, 6\r\n', method='POST', body='hello!'), expect='400 and close.', judge=rej())
case(id='REQ-9110-8.6-cl-plus', side=S, sec='9110 8.6 / 9112 6.3', level='MUST',
     gist='Content-Length is 1*DIGIT; a sign makes it invalid -> 400 and close.',
     send=get('Content-Length: +5\r\n', method='POST', body='hello'), expect='400 and close.', judge=rej())
case(id='REQ-9110-8.6-cl-negative', side=S, sec='9110 8.6 / 9112 6.3', level='MUST',
     gist='Negative Content-Length invalid.', send=get('Content-Length: -1\r\n', method='POST', body='hello'), expect='400 and close.', judge=rej())
case(id='REQ-9110-8.6-cl-hex', side=S, sec='9110 8.6 / 9112 6.3', level='MUST',
     gist='Non-decimal Content-Length (`0x5`, `5a`) invalid.', send=get('Content-Length: 0x5\r\n', method='POST', body='hello'), expect='400 and close.', judge=rej())
case(id='REQ-9110-8.6-cl-empty', side=S, sec='9110 8.6 / 9112 6.3', level='MUST',
     gist='Empty Content-Length value invalid.', send=get('Content-Length:\r\n', method='POST', body='hello'), expect='400 and close.', judge=rej())
case(id='REQ-9110-8.6-cl-overflow', side=S, sec='9110 8.6', level='MUST',
     gist='Huge decimal CL must not overflow/truncate; reject (400/413) rather than mis-frame.',
     send=get('Content-Length: 18446744073709551621\r\n', method='POST', body='hello'), expect='400 or 413 and close; nothing forwarded.', judge=rej((400, 413)))
case(id='REQ-9110-8.6-cl-leading-zeros', side=S, sec='9110 8.6', level='MUST (valid)',
     gist='`Content-Length: 005` is valid 1*DIGIT and means 5.',
     send=get('Content-Length: 005\r\n', method='POST', body='hello'), expect='Forwarded with body `hello`.',
     judge=fwd(lambda o: body_of(o) == b'hello', 'body of 5 forwarded'))
case(id='REQ-9112-6.3-cl-incomplete', side=S, sec='9112 6.3 / 8', level='MUST',
     gist='If the sender closes before CL octets arrive, the message is incomplete and the connection is closed (must not be completed upstream).',
     send=get('Content-Length: 10\r\n', method='POST', body='abc'), shut_wr=True,
     expect='Origin never receives a complete 10-octet body (connection aborted); client gets 400/408 or close.',
     judge=lambda r: ('LAX', 'origin got a padded/complete body') if r.fwd and len(body_of(r.origin_first)) >= 10 else ('strict', f'incomplete not completed; client {_status_txt(r)}'))

# ---- 7 chunked
case(id='REQ-9112-7.1-size-overflow', side=S, sec='9112 7.1', level='MUST',
     gist='Chunk sizes must be parsed without integer overflow; an absurd size must not wrap to a small value.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='10000000000000005\r\nhello\r\n0\r\n\r\n'),
     expect='400 (or 413) and close; nothing forwarded.', judge=rej((400, 413)))
case(id='REQ-9112-7.1-size-not-hex', side=S, sec='9112 7.1', level='MUST (grammar)',
     gist='chunk-size is 1*HEXDIG; `0x5` or `5g` is invalid.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='0x5\r\nhello\r\n0\r\n\r\n'), expect='400 and close.', judge=rej())
case(id='REQ-9112-7.1-size-leading-space', side=S, sec='9112 7.1', level='MUST (grammar)',
     gist='Whitespace before chunk-size is not allowed.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body=' 5\r\nhello\r\n0\r\n\r\n'), expect='400 and close.', judge=rej())
case(id='REQ-9112-7.1-size-empty', side=S, sec='9112 7.1', level='MUST (grammar)',
     gist='A chunk line with no size digits is invalid.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='\r\nhello\r\n0\r\n\r\n'), expect='400 and close.', judge=rej())
case(id='REQ-9112-7.1.1-ext-ignored', side=S, sec='9112 7.1.1', level='MUST',
     gist='Unrecognised chunk extensions are ignored (body still decoded).',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5;foo=bar;baz="q"\r\nhello\r\n0\r\n\r\n'), expect='Forwarded; content `hello`.',
     judge=fwd(lambda o: b'hello' in body_of(o), 'extension ignored'))
case(id='REQ-9112-7.1.1-ext-bws', side=S, sec='9112 7.1.1 / 9110 5.6.3', level='MUST (parse BWS)',
     gist='BWS around `;` and `=` in chunk-ext must be parsed and removed.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5 ; a = b\r\nhello\r\n0\r\n\r\n'), expect='Forwarded; content `hello`.',
     alt='Rejecting BWS is common and harmless.', judge=rej_or_fix(lambda o: b'hello' in body_of(o), 'BWS parsed'))
case(id='REQ-9112-7.1.1-ext-invalid', side=S, sec='9112 7.1.1', level='MUST (grammar)',
     gist='Chunk extension not matching token/quoted-string grammar (bare `"` / control byte) is invalid.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5;a="b\r\nhello\r\n0\r\n\r\n'), expect='400 and close.', judge=rej())
case(id='REQ-9112-7.1.1-ext-long', side=S, sec='9112 7.1.1', level='ought (4xx)',
     gist='Server ought to limit total chunk-extension length and send a 4xx when exceeded.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5;a=' + 'x' * 300000 + '\r\nhello\r\n0\r\n\r\n'), expect='4xx (400/413/431) and close.', judge=rej((400, 413, 431)))
case(id='REQ-9112-7.1-data-bad-crlf', side=S, sec='9112 7.1', level='MUST (grammar)',
     gist='chunk-data must be followed by CRLF; other bytes there are a framing error.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5\r\nhelloXX0\r\n\r\n'), expect='400 and close; nothing (or nothing complete) forwarded.', judge=rej())
case(id='REQ-9112-7.1-lf-only', side=S, sec='9112 7.1 / 2.2', level='MUST (grammar)',
     gist='Chunk lines end in CRLF; bare-LF chunk framing is outside the grammar (the LF leniency covers only start-line/fields).',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5\nhello\n0\n\n'), expect='400 and close.',
     alt='Accepting bare LF here is a known smuggling divergence.', judge=rej())
case(id='REQ-9112-7.1-zeros-last-chunk', side=S, sec='9112 7.1', level='MUST (valid)',
     gist='last-chunk is 1*("0"): `000` terminates the body.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5\r\nhello\r\n000\r\n\r\n'), expect='Forwarded; content `hello`.',
     judge=fwd(lambda o: b'hello' in body_of(o), 'accepted'))
case(id='REQ-9112-7.1.2-trailer-not-merged', side=S, sec='9112 7.1.2 / 9110 6.5', level='MUST NOT',
     gist='Trailer fields must not be merged into the header section unless their definition allows it (framing/routing fields never).',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5\r\nhello\r\n0\r\nContent-Length: 50\r\nHost: evil.test\r\nX-T: 1\r\n\r\n'),
     expect='Forwarded; origin header section has no trailer fields (trailers forwarded as trailers or dropped).',
     alt='400 acceptable.', judge=rej_or_fix(lambda o: b'evil' not in hdrs(o) and b'X-T' not in hdrs(o) and hdr_vals(o, 'content-length') in ([], [b'5']), 'trailers kept out of header section'))
case(id='REQ-9110-5.5-nul-in-trailer', side=S, sec='9110 5.5 / 9112 7.1.2', level='MUST',
     gist='NUL/CR in a trailer field value: reject or replace with SP (same rule as headers).',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5\r\nhello\r\n0\r\nX-T: a\x00b\r\n\r\n'),
     expect='400 and close.', alt='Or forward with trailer dropped or NUL->SP.', judge=rej_or_fix(lambda o: b'\x00' not in o, 'NUL not forwarded'))
case(id='REQ-9112-7.1-incomplete', side=S, sec='9112 8', level='MUST',
     gist='Chunked body without the zero-size chunk is incomplete; must not be completed upstream.',
     send=get('Transfer-Encoding: chunked\r\n', method='POST', body='5\r\nhello\r\n'), shut_wr=True,
     expect='Origin never sees a terminating `0\\r\\n\\r\\n` (or CL-complete body); client gets 400 or close.',
     judge=lambda r: ('LAX', 'origin got a completed body') if r.fwd and (body_of(r.origin_first).endswith(b'0\r\n\r\n') or (hdr_vals(r.origin_first, 'content-length') == [b'5'] and body_of(r.origin_first) == b'hello')) else ('strict', f'not completed; client {_status_txt(r)}'))

# ---- 9 connection management
case(id='REQ-9112-9.3.2-pipelining', side=S, sec='9112 9.3.2', level='MUST',
     gist='Pipelined requests get responses in request order.',
     send=get(path='/p1') + get(path='/p2'), nresp=2, expect='Two responses, in order (origin replies `p1` then `p2`).',
     origin='echo-path', judge=lambda r: ('strict', 'in order') if [x['body'] for x in r.responses[:2]] == [b'/p1', b'/p2'] else ('LAX', 'got ' + repr([x['body'][:10] for x in r.responses])))
case(id='REQ-9112-9.6-close', side=S, sec='9112 9.6', level='MUST',
     gist='After responding to a request carrying `Connection: close` the server closes; the option itself is hop-by-hop.',
     send=get('Connection: close\r\n'), expect='200 then connection closed by proxy.',
     judge=lambda r: ('strict', 'closed after response') if r.status == 200 and r.closed else ('LAX', f'{_status_txt(r)}, closed={r.closed}'))
case(id='REQ-9112-9.6-no-further-requests', side=S, sec='9112 9.6', level='MUST NOT',
     gist='Requests pipelined after one with `close` must not be processed.',
     send=get('Connection: close\r\n', path='/p1') + get(path='/p2'), nresp=2, origin='echo-path',
     expect='Only `/p1` reaches the origin; one response; then close.',
     judge=lambda r: ('LAX', 'second request forwarded') if b'/p2' in r.origin_raw else ('strict', 'second request ignored'))
case(id='REQ-9112-9.3-http10-keepalive', side=S, sec='9112 9.3', level='MUST NOT',
     gist='A proxy must not keep a persistent connection with an HTTP/1.0 client (even if it asks for keep-alive).',
     send=get('Connection: keep-alive\r\n', version='HTTP/1.0'), expect='Response, then the proxy closes the client connection.',
     judge=lambda r: ('strict', 'closed') if r.closed else ('LAX', 'kept the HTTP/1.0 client connection open'))

# ---- 9110 7.6.1 Connection
case(id='REQ-9110-7.6.1-listed-removed', side=S, sec='9110 7.6.1', level='MUST',
     gist='Fields named in Connection are removed, and Connection itself is removed/replaced, before forwarding.',
     send=get('Connection: X-Hop\r\nX-Hop: 1\r\n'), expect='Origin sees neither `X-Hop` nor `Connection: X-Hop`.',
     judge=fwd(lambda o: b'x-hop' not in o.lower(), 'X-Hop and Connection removed'), focus=['connection', 'x-hop'])
case(id='REQ-9110-7.6.1-multi-lines', side=S, sec='9110 7.6.1 / 5.6.1.2', level='MUST',
     gist='Connection options from several lines and with empty list elements all count.',
     send=get('Connection: , X-A\r\nConnection: X-B,,\r\nX-A: 1\r\nX-B: 2\r\n'), expect='Neither X-A nor X-B forwarded.',
     judge=fwd(lambda o: not has_hdr(o, 'x-a') and not has_hdr(o, 'x-b'), 'X-A and X-B removed'), focus=['connection', 'x-a', 'x-b'])
case(id='REQ-9110-7.6.1-known-hop', side=S, sec='9110 7.6.1', level='SHOULD',
     gist='Known hop-by-hop fields (Proxy-Connection, Keep-Alive, TE, Upgrade) are removed even if not listed.',
     send=get('Proxy-Connection: keep-alive\r\nKeep-Alive: 300\r\nTE: trailers\r\nUpgrade: foo/1\r\n'),
     expect='None of these four fields forwarded as received.',
     judge=fwd(lambda o: not any(has_hdr(o, h) for h in ('proxy-connection', 'keep-alive', 'upgrade')) and hdr_vals(o, 'te') in ([], [b'trailers']) and (not has_hdr(o, 'te') or b'te' in b','.join(hdr_vals(o, 'connection')).lower()), 'hop-by-hop fields removed'),
     focus=['proxy-connection', 'keep-alive', 'te', 'upgrade', 'connection'])
case(id='REQ-9110-7.6.1-listed-e2e', side=S, sec='9110 7.6.1', level='MUST',
     gist='Even an end-to-end field name listed as a connection option is removed (here `Authorization`).',
     send=get('Connection: Authorization\r\nAuthorization: Basic Zm9vOmJhcg==\r\n'), expect='Authorization not forwarded.',
     judge=fwd(lambda o: not has_hdr(o, 'authorization'), 'Authorization removed'), focus=['authorization'])

# ---- 9110 7.6.2 Max-Forwards
case(id='REQ-9110-7.6.2-trace-zero', side=S, sec='9110 7.6.2', level='MUST / MUST NOT',
     gist='TRACE with Max-Forwards 0: do not forward; respond as final recipient.',
     send=get('Max-Forwards: 0\r\n', method='TRACE'), expect='Proxy answers itself (200 message/http echo, or 405 by policy); origin sees nothing.',
     judge=not_fwd('TRACE', (200, 405)))
case(id='REQ-9110-7.6.2-options-zero', side=S, sec='9110 7.6.2', level='MUST / MUST NOT',
     gist='OPTIONS with Max-Forwards 0: do not forward; respond as final recipient.',
     send=get('Max-Forwards: 0\r\n', method='OPTIONS'), expect='Proxy answers itself (200 with Allow); origin sees nothing.', judge=not_fwd('OPTIONS', (200,)))
case(id='REQ-9110-7.6.2-decrement', side=S, sec='9110 7.6.2', level='MUST',
     gist='OPTIONS/TRACE with Max-Forwards > 0 is forwarded with the value decremented.',
     send=get('Max-Forwards: 5\r\n', method='OPTIONS'), expect='Origin sees `Max-Forwards: 4`.',
     judge=fwd(lambda o: hdr_vals(o, 'max-forwards') == [b'4'], 'decremented to 4'), focus=['max-forwards'])
case(id='REQ-9110-7.6.2-get-ignored', side=S, sec='9110 7.6.2', level='MAY',
     gist='Max-Forwards may be ignored on other methods (GET with 0 is still forwarded).',
     send=get('Max-Forwards: 0\r\n'), expect='Forwarded (either value unchanged or untouched).', judge=lambda r: ('info', 'forwarded' if r.fwd else 'answered ' + _status_txt(r)))

# ---- 9110 7.6.3 Via, 7.6 loops
case(id='REQ-9110-7.6.3-via-added', side=S, sec='9110 7.6.3', level='MUST',
     gist='Proxy adds a Via member with received protocol and its pseudonym to each forwarded message.',
     send=get(), expect='Origin sees `Via: 1.1 <name>`.', judge=fwd(lambda o: via_members(o) and via_ver(via_members(o)[-1]) == b'1.1', 'Via 1.1 added'), focus=['via'])
case(id='REQ-9110-7.6.3-via-appended', side=S, sec='9110 7.6.3', level='MUST',
     gist='Existing Via is kept and the proxy appends its member last (never merging different protocols).',
     send=get('Via: 1.0 fred\r\n'), expect='Origin sees `Via: 1.0 fred, 1.1 <name>` (same order).',
     judge=fwd(lambda o: via_members(o)[0] == b'1.0 fred' and len(via_members(o)) >= 2 and via_ver(via_members(o)[-1]) == b'1.1', 'appended after 1.0 fred'), focus=['via'])
case(id='REQ-9110-7.6.3-via-http10', side=S, sec='9110 7.6.3', level='MUST',
     gist='received-protocol reflects the sender\'s version: a 1.0 client yields `Via: 1.0 <name>`.',
     send=get(version='HTTP/1.0'), expect='Origin sees `Via: 1.0 <name>`.',
     judge=fwd(lambda o: via_members(o) and via_ver(via_members(o)[-1]) == b'1.0', 'Via 1.0 (received-protocol of the client)'), focus=['via'])
case(id='REQ-9110-7.6-loop', side=S, sec='9110 7.6', level='MUST NOT',
     gist='An intermediary must not forward a message to itself unless protected against loops.',
     send=b'GET http://127.0.0.1:{PP}/ HTTP/1.1\r\nHost: 127.0.0.1:{PP}\r\n\r\n', expect='Proxy answers directly (e.g. 4xx/own page); no request loop.',
     judge=lambda r: ('strict', f'answered {_status_txt(r)}') if r.status is not None else ('LAX', r.outcome))

# ---- Upgrade / Expect
case(id='REQ-9110-7.8-upgrade-unlisted', side=S, sec='9110 7.8 / 7.6.1', level='SHOULD',
     gist='Upgrade sent without being listed in Connection is stripped (known hop-by-hop).',
     send=get('Upgrade: websocket\r\n'), expect='Origin does not see Upgrade.',
     judge=fwd(lambda o: not has_hdr(o, 'upgrade'), 'Upgrade removed'), focus=['upgrade', 'connection'])
case(id='REQ-9110-10.1.1-expect-100', side=S, sec='9110 10.1.1', level='MUST',
     gist='With `Expect: 100-continue` a proxy either answers finally at once or forwards the header section promptly (without waiting for content).',
     send=[(get('Content-Length: 5\r\nExpect: 100-continue\r\n', method='POST'), 0), (b'hello', 2.0)], origin='expect',
     expect='Origin receives the request head within 2 s before any body; client gets 100 (relayed or generated) then 200.',
     judge=lambda r: ('strict', 'head forwarded before body; statuses ' + str(r.statuses)) if r.origin_head_time is not None and r.origin_head_time < r.stage_times[1] else ('LAX', 'origin did not see head before the body was sent; statuses ' + str(r.statuses)))
case(id='REQ-9110-10.1.1-expect-http10', side=S, sec='9110 10.1.1 / 15.2', level='MUST / MUST NOT',
     gist='100-continue in an HTTP/1.0 request is ignored, and no 1xx may be sent to an HTTP/1.0 client.',
     send=[(get('Content-Length: 5\r\nExpect: 100-continue\r\n', method='POST', version='HTTP/1.0'), 0), (b'hello', 1.5)], origin='expect',
     expect='Client (1.0) never receives a 100; gets the final response only.',
     judge=lambda r: ('LAX', 'sent 1xx to HTTP/1.0 client') if 100 in r.statuses else ('strict', 'statuses ' + str(r.statuses)))
case(id='REQ-9110-10.1.1-expect-unknown', side=S, sec='9110 10.1.1', level='MAY',
     gist='An unknown expectation may be answered with 417.',
     send=get('Expect: x-foo\r\n'), expect='417 (or forwarded).', judge=lambda r: ('info', '417' if r.status == 417 else ('forwarded' if r.fwd else _status_txt(r))))

# ---- CONNECT
case(id='REQ-9110-9.3.6-connect-ok', side=S, sec='9110 9.3.6', level='baseline',
     gist='CONNECT host:port establishes a blind tunnel after a 2xx.',
     send=[(b'CONNECT 127.0.0.1:{P} HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\n\r\n', 0), (b'PING\r\n', 1.0)], origin='raw', tunnel=True,
     expect='2xx, then bytes tunnel both ways (origin receives exactly `PING\\r\\n`, replies `PONG` and closes; proxy delivers PONG then closes the client side).',
     judge=lambda r: ('strict', 'tunnel works, close propagated') if r.status is not None and 200 <= r.status < 300 and r.origin_raw == b'PING\r\n' and b'PONG' in r.client_raw and r.closed else ('LAX?', f'{_status_txt(r)}; origin got {r.origin_raw[:40]!r}'))
case(id='REQ-9110-9.3.6-connect-no-port', side=S, sec='9110 9.3.6', level='MUST',
     gist='CONNECT target without a port must be rejected (no default port).',
     send=b'CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', origin='raw', expect='400; no connection attempt.', judge=rej(need_close=False))
case(id='REQ-9110-9.3.6-connect-empty-port', side=S, sec='9110 9.3.6', level='MUST',
     gist='CONNECT with an empty port must be rejected.',
     send=b'CONNECT 127.0.0.1: HTTP/1.1\r\nHost: 127.0.0.1:\r\n\r\n', origin='raw', expect='400.', judge=rej(need_close=False))
case(id='REQ-9110-9.3.6-connect-bad-port', side=S, sec='9110 9.3.6', level='MUST',
     gist='CONNECT with an out-of-range/non-numeric port must be rejected.',
     send=b'CONNECT 127.0.0.1:99999 HTTP/1.1\r\nHost: 127.0.0.1:99999\r\n\r\n', origin='raw', expect='400.', judge=rej(need_close=False))
case(id='REQ-9112-3.2.3-connect-absolute', side=S, sec='9112 3.2.3', level='MUST',
     gist='CONNECT must use authority-form; an absolute URI target is invalid.',
     send=b'CONNECT http://127.0.0.1:{P}/ HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\n\r\n', origin='raw', expect='400; no tunnel.',
     judge=lambda r: ('LAX', 'tunnel opened') if r.origin_conns else rej(need_close=False)(r))
case(id='REQ-9112-3.2.3-connect-userinfo', side=S, sec='9112 3.2.3', level='MUST',
     gist='authority-form is uri-host ":" port only; userinfo is not allowed.',
     send=b'CONNECT user@127.0.0.1:{P} HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\n\r\n', origin='raw', expect='400; no tunnel.',
     judge=lambda r: ('LAX', 'tunnel opened') if r.origin_conns else rej(need_close=False)(r))
case(id='REQ-9110-9.3.6-connect-with-cl', side=S, sec='9110 9.3.6', level='(no content defined)',
     gist='A CONNECT request has no content; a Content-Length/body on it is ambiguous.',
     send=[(b'CONNECT 127.0.0.1:{P} HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\nContent-Length: 5\r\n\r\nhello', 0), (b'PING\r\n', 1.0)], origin='raw', tunnel=True,
     expect='Strict Sluice: 400 and close.', alt='Also defensible: ignore CL, establish tunnel, relay `hello` as tunnel data. Must NOT swallow `hello` as a body and then tunnel.',
     judge=lambda r: ('info', f'{_status_txt(r)}; origin got {r.origin_raw[:40]!r}'))
case(id='REQ-9110-9.3.6-connect-with-te', side=S, sec='9110 9.3.6', level='(no content defined)',
     gist='CONNECT with Transfer-Encoding: chunked is equally ambiguous.',
     send=[(b'CONNECT 127.0.0.1:{P} HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 0), (b'PING\r\n', 1.0)], origin='raw', tunnel=True,
     expect='Strict Sluice: 400 and close.', alt='Or tunnel with the bytes relayed verbatim.',
     judge=lambda r: ('info', f'{_status_txt(r)}; origin got {r.origin_raw[:40]!r}'))

# ======================================================================
# RESPONSE SIDE: origin -> proxy -> client.  Client sends plain GET unless 'send' given.
# ======================================================================
S = 'response'


def rcase(**kw):
    kw.setdefault('send', get())
    kw['side'] = S
    case(**kw)


def status_line(r):
    return r1(r)['raw'].split(b'\r\n', 1)[0] if r.responses else b''


rcase(id='RES-BASE-200', sec='-', level='baseline', gist='Well-formed 200 with CL is relayed.', resp=OK,
      expect='Client gets 200 `ok`.', judge=resp_ok(lambda r: final(r)['body'] == b'ok', 'relayed'))

# ---- status line
rcase(id='RES-9112-2.3-http10', sec='9112 2.3', level='MUST', gist='Proxy sends its own version: an HTTP/1.0 origin reply reaches an HTTP/1.1 client as `HTTP/1.1`.',
      resp='HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', second=True,
      expect='Client sees `HTTP/1.1 200`; origin connection not reused (1.0 without keep-alive).',
      judge=resp_ok(lambda r: status_line(r).startswith(b'HTTP/1.1 200') and r.second_new_conn, 'HTTP/1.1 status line and origin conn not reused'))
rcase(id='RES-9112-2.3-version-lowercase', sec='9112 2.3', level='MUST (grammar)', gist='`http/1.1` status line is invalid.',
      resp='http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', expect='502.', judge=resp_rej())
rcase(id='RES-9112-2.3-version-2', sec='9112 2.3', level='MUST', gist='HTTP/2.0 textual status line on an HTTP/1.1 connection is not a 1.x response.',
      resp='HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok', expect='502.', judge=resp_rej())
rcase(id='RES-9112-2.3-version-1.2', sec='9112 2.3', level='MUST', gist='A 1.x response with higher minor is handled as 1.1 and relabelled with the proxy\'s own version.',
      resp='HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok', expect='Client sees `HTTP/1.1 200` `ok`.', judge=resp_ok(lambda r: status_line(r).startswith(b'HTTP/1.1 200'), 'relabelled HTTP/1.1'))
rcase(id='RES-9112-4-status-2digit', sec='9112 4', level='MUST (3DIGIT)', gist='status-code is exactly three digits.',
      resp='HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok', expect='502.', judge=resp_rej())
rcase(id='RES-9112-4-status-4digit', sec='9112 4', level='MUST (3DIGIT)', gist='Four-digit status is invalid.',
      resp='HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok', expect='502.', judge=resp_rej())
rcase(id='RES-9112-4-status-alpha', sec='9112 4', level='MUST (3DIGIT)', gist='Non-numeric status is invalid.',
      resp='HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok', expect='502.', judge=resp_rej())
rcase(id='RES-9110-15-status-999', sec='9110 15 (adjacent)', level='SHOULD', gist='Status outside 100-599 is invalid; a client should treat it like 5xx.',
      resp='HTTP/1.1 999 Weird\r\nContent-Length: 2\r\n\r\nok', expect='502 (or relayed; never cached/treated as success).', judge=resp_rej())
rcase(id='RES-9112-4-no-sp-after-code', sec='9112 4', level='MUST (sender)', gist='Server must send the SP after status-code even with no reason-phrase; `HTTP/1.1 200\\r\\n` is off-grammar.',
      resp='HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok', expect='Strict: 502.', alt='Lenient (common): accept and relay `HTTP/1.1 200 ` + reason.',
      judge=lambda r: ('info', _status_txt(r)))
rcase(id='RES-9112-4-empty-reason', sec='9112 4', level='MUST (valid)', gist='`HTTP/1.1 200 ` with empty reason-phrase is valid.',
      resp='HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok', expect='Relayed 200 `ok`.', judge=resp_ok(lambda r: final(r)['body'] == b'ok', 'relayed'))
rcase(id='RES-9112-4-reason-nul', sec='9112 4 / 2.2', level='MUST (grammar)', gist='reason-phrase allows HTAB/SP/VCHAR/obs-text only; NUL is invalid.',
      resp='HTTP/1.1 200 O\x00K\r\nContent-Length: 2\r\n\r\nok', expect='502.', alt='Or relay with proxy-generated reason phrase (NUL never forwarded).',
      judge=resp_rej_or_fix(lambda r: b'\x00' not in r.client_raw, 'NUL not relayed'))
rcase(id='RES-9112-4-double-space', sec='9112 4', level='MAY (lenient)', gist='Multiple spaces between version and code only tolerated by lenient parsers.',
      resp='HTTP/1.1  200 OK\r\nContent-Length: 2\r\n\r\nok', expect='Strict: 502.', alt='Lenient: relay a canonical status line.', judge=lambda r: ('info', _status_txt(r)))
rcase(id='RES-9112-2.2-http09', sec='9112 2.2 / C.1', level='MUST (grammar)', gist='A response without a status line (HTTP/0.9 style) is not a valid HTTP/1.1 response.',
      resp='ok, no status line\r\n', close=True, expect='502.', judge=resp_rej())
rcase(id='RES-9112-2.2-leading-crlf', sec='9112 2.2 / 9.2', level='(no exception)', gist='The empty-line robustness rule is for servers reading requests; a client reading a response preceded by CRLF may discard it (9.2).',
      resp='\r\n' + OK, expect='Relayed 200 (CRLF discarded) or 502.', judge=lambda r: ('info', _status_txt(r)))

# ---- 1xx / 101
rcase(id='RES-9110-15.2-100-unsolicited', sec='9110 15.2', level='MUST', gist='Proxy must forward 1xx it did not itself request; clients must parse unexpected 1xx.',
      resp='HTTP/1.1 100 Continue\r\n\r\n' + OK, expect='Client receives `100` then `200 ok` (or at least a clean `200 ok`).',
      judge=resp_ok(lambda r: final(r)['body'] == b'ok' and r.statuses[0] == 100, '100 relayed then 200'))
rcase(id='RES-9110-15.2-103', sec='9110 15.2', level='MUST', gist='103 Early Hints is relayed before the final response.',
      resp='HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n' + OK, expect='Client receives 103 then 200.',
      judge=resp_ok(lambda r: r.statuses[:2] == [103, 200], '103 relayed'))
rcase(id='RES-9110-15.2-1xx-to-http10', sec='9110 15.2', level='MUST NOT', gist='No 1xx may be sent to an HTTP/1.0 client.',
      send=get(version='HTTP/1.0'), resp='HTTP/1.1 100 Continue\r\n\r\n' + OK, expect='HTTP/1.0 client sees only the 200.',
      judge=resp_ok(lambda r: r.statuses == [200], '1xx suppressed'))
rcase(id='RES-9112-6.3-1xx-with-cl', sec='9112 6.3 / 9110 8.6', level='MUST', gist='1xx ends at the empty line regardless of fields; a Content-Length on 1xx must not consume the next bytes.',
      resp='HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n' + OK, expect='Client gets final `200 ok`; the 1xx carries no CL to the client.',
      judge=resp_ok(lambda r: final(r) and final(r)['body'] == b'ok', 'final 200 intact'))
rcase(id='RES-9110-15.2.2-101-unrequested', sec='9110 7.8 / 15.2.2', level='MUST NOT', gist='A server must not switch protocols the client did not request; a 101 to a request without Upgrade is bogus.',
      resp='HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\nRAWBYTES', close=True,
      expect='502 (never a tunnel to the client).', judge=resp_rej())
rcase(id='RES-9110-7.8-101-no-upgrade-field', sec='9110 7.8 / 15.2.2', level='MUST', gist='A 101 must carry Upgrade naming the new protocol.',
      send=get('Connection: upgrade\r\nUpgrade: foo\r\n'), resp='HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\nRAWBYTES', close=True,
      expect='502 (or the proxy never offered the upgrade).', judge=resp_rej())
rcase(id='RES-9110-7.8-101-other-protocol', sec='9110 7.8', level='MUST NOT', gist='101 switching to a protocol not offered by the client is invalid.',
      send=get('Connection: upgrade\r\nUpgrade: foo\r\n'), resp='HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: bar\r\n\r\nRAWBYTES', close=True,
      expect='502.', judge=resp_rej())

# ---- framing
rcase(id='RES-9112-6.3-te-and-cl', sec='9112 6.3', level='ought error / MUST drop CL', gist='TE+CL in a response: treat as error, or drop CL, decode chunked and re-frame before forwarding.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n2\r\nok\r\n0\r\n\r\n', second=True,
      expect='502 and origin connection closed.', alt='Or forward `ok` with no Content-Length (chunked or close-delimited) and do not reuse the origin connection.',
      judge=resp_rej_or_fix(lambda r: final(r)['body'] == b'ok' and not has_hdr(final(r)['raw'], 'content-length'), 'CL dropped, chunked used'))
rcase(id='RES-9112-6.3-cl-differing', sec='9112 6.3', level='MUST', gist='Differing Content-Length values: proxy closes the origin connection, discards the response, sends 502.',
      resp='HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!', expect='502.', judge=resp_rej())
rcase(id='RES-9112-6.3-cl-list-differing', sec='9112 6.3', level='MUST', gist='`Content-Length: 2, 3` is invalid -> 502.',
      resp='HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok!', expect='502.', judge=resp_rej())
rcase(id='RES-9112-6.3-cl-identical-lines', sec='9112 6.3', level='MAY', gist='Identical repeated CL values may be collapsed (or the response rejected).',
      resp='HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok', expect='502 (strict) or relayed with ONE `Content-Length: 2`.',
      judge=resp_rej_or_fix(lambda r: hdr_vals(final(r)['raw'], 'content-length') in ([b'2'], []), 'single CL'))
rcase(id='RES-9112-6.3-cl-list-identical', sec='9112 6.3', level='MAY', gist='`Content-Length: 2, 2` may be processed as 2.',
      resp='HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok', expect='502 (strict) or relayed with `Content-Length: 2`.',
      judge=resp_rej_or_fix(lambda r: hdr_vals(final(r)['raw'], 'content-length') in ([b'2'], []), 'single CL'))
rcase(id='RES-9110-8.6-cl-plus', sec='9110 8.6 / 9112 6.3', level='MUST', gist='Signed CL invalid -> 502.',
      resp='HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok', expect='502.', judge=resp_rej())
rcase(id='RES-9110-8.6-cl-junk', sec='9110 8.6 / 9112 6.3', level='MUST', gist='CL with trailing junk (`2x`) invalid -> 502.',
      resp='HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok', expect='502.', judge=resp_rej())
rcase(id='RES-9110-8.6-cl-overflow', sec='9110 8.6', level='MUST', gist='Huge CL must not overflow into a small one.',
      resp='HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551618\r\n\r\nok', close=True, expect='502 (or relay close-delimited without claiming a wrapped length).',
      judge=lambda r: ('LAX', 'wrapped CL relayed') if r.status == 200 and hdr_vals(final(r)['raw'], 'content-length') == [b'2'] else resp_rej()(r))
rcase(id='RES-9112-6.3-te-gzip-final', sec='9112 6.3 / 6.1', level='MUST', gist='Response TE whose final coding is not chunked is close-delimited; must not be parsed as chunked.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n2\r\nok\r\n0\r\n\r\nTAIL', close=True,
      expect='Client gets all bytes `2\\r\\nok\\r\\n0\\r\\n\\r\\nTAIL` (close-delimited or re-chunked) with TE gzip kept; or 502.',
      judge=resp_rej_or_fix(lambda r: final(r)['body_decoded'].endswith(b'TAIL'), 'read until close'))
rcase(id='RES-9112-6.3-te-chunked-then-gzip', sec='9112 6.3', level='MUST', gist='`Transfer-Encoding: chunked, gzip` (chunked not last) -> body is close-delimited.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\nok\r\n0\r\n\r\nTAIL', close=True, expect='As above: whole stream incl. `TAIL` delivered, or 502.',
      judge=resp_rej_or_fix(lambda r: final(r)['body_decoded'].endswith(b'TAIL'), 'read until close'))
rcase(id='RES-9112-6.3-te-unknown', sec='9112 6.3', level='MUST', gist='Unknown response coding is also close-delimited.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\nsome-bytes', close=True, expect='Relayed `some-bytes` close-delimited (TE foo kept, not fabricated CL), or 502.',
      judge=resp_rej_or_fix(lambda r: final(r)['body_decoded'] == b'some-bytes', 'read until close'))
rcase(id='RES-9112-6.1-te-http10', sec='9112 6.1', level='MUST', gist='HTTP/1.0 response with TE: framing is faulty; close the origin connection after it.',
      resp='HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n', second=True,
      expect='502, or relay (as best effort) and never reuse the origin connection.',
      judge=lambda r: ('LAX', 'origin connection reused') if r.second_sent and not r.second_new_conn else ('info', _status_txt(r) + ' body=' + repr(final(r)['body_decoded'][:20] if final(r) else b'')))
rcase(id='RES-9112-6.3-head-body', sec='9112 6.3', level='MUST', gist='Response to HEAD never has a body; extra bytes after its header are garbage, not content.',
      send=get(method='HEAD'), resp='HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', second=True,
      expect='Client gets headers only; `hello` never reaches the client (not as 2nd response either); origin conn not reused.',
      judge=resp_ok(lambda r: b'hello' not in r.client_raw, '"hello" not relayed'))
rcase(id='RES-9112-6.3-204-body', sec='9112 6.3 / 9110 8.6', level='MUST', gist='204 ends at the header section; CL in 204 is forbidden and any following bytes are not content.',
      resp='HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello', second=True,
      expect='Client gets bare 204 (CL stripped ideally); `hello` never relayed.',
      judge=resp_ok(lambda r: b'hello' not in r.client_raw, '"hello" not relayed'))
rcase(id='RES-9112-6.1-204-te', sec='9112 6.1 / 6.3', level='MUST NOT', gist='TE in a 204 is forbidden; chunk bytes after it are not content.',
      resp='HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', second=True,
      expect='Bare 204 to client; `hello` never relayed.', judge=resp_ok(lambda r: b'hello' not in r.client_raw, '"hello" not relayed'))
rcase(id='RES-9112-6.3-304-body', sec='9112 6.3', level='MUST', gist='304 never has a body.',
      send=get('If-None-Match: "x"\r\n'), resp='HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: "x"\r\n\r\nhello', second=True,
      expect='Bare 304; `hello` never relayed.', judge=resp_ok(lambda r: b'hello' not in r.client_raw, '"hello" not relayed'))
rcase(id='RES-9112-6.3-extra-after-cl', sec='9112 6.3', level='MUST NOT', gist='Bytes beyond a response\'s framing must not be forwarded as a separate response.',
      resp='HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsmuggle', second=True,
      expect='2nd client request gets `second` from a fresh origin exchange, never `smuggle`.',
      judge=resp_ok(lambda r: b'smuggle' not in r.client_raw, '"smuggle" never relayed'))
rcase(id='RES-9112-6.3-extra-after-chunked', sec='9112 6.3', level='MUST NOT', gist='Same after a chunked body.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsmuggle', second=True,
      expect='`smuggle` never relayed.', judge=resp_ok(lambda r: b'smuggle' not in r.client_raw, '"smuggle" never relayed'))
rcase(id='RES-9112-9.2-unsolicited', sec='9112 9.2 / 6.3', level='MUST NOT', gist='Data arriving on an origin connection with no outstanding request is not a response (close that connection).',
      resp=OK, resp_late='HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsmuggle', second=True,
      expect='`smuggle` (sent 0.5 s after the first response) never reaches the client; 2nd request gets `second`.',
      judge=resp_ok(lambda r: b'smuggle' not in r.client_raw, '"smuggle" never relayed'))
rcase(id='RES-9112-6.3-close-delimited', sec='9112 6.3', level='MUST', gist='No CL/TE: body runs until the origin closes; relay all of it.',
      resp='HTTP/1.1 200 OK\r\n\r\nuntil-close', close=True, expect='Client gets `until-close` (chunked or close-delimited).',
      judge=resp_ok(lambda r: final(r)['body_decoded'] == b'until-close', 'relayed entirely'))
rcase(id='RES-9112-8-cl-short', sec='9112 6.3 / 8', level='MUST', gist='Origin closes before CL octets: response incomplete; proxy must close, not present it as complete.',
      resp='HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', close=True, expect='Client connection closed after the partial body (or 502 before headers); never a complete message.',
      judge=lambda r: ('LAX', 'presented as complete') if final(r) and final(r).get('complete') and final(r)['body_decoded'] != b'abc' + b'' and len(final(r)['body_decoded']) >= 10 else ('strict' if r.closed or (r.status and r.status >= 500) else 'LAX', _status_txt(r) + (' then closed' if r.closed else ' connection left open')))
rcase(id='RES-9112-8-chunked-incomplete', sec='9112 8', level='MUST', gist='Chunked response without last-chunk is incomplete; proxy must not append a terminating chunk.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', close=True, expect='Client sees chunked data without `0\\r\\n\\r\\n` and the connection closed.',
      judge=lambda r: ('LAX', 'incomplete response completed for the client') if final(r) and final(r).get('complete') else ('strict', 'left incomplete + closed'))
rcase(id='RES-9112-7.1-size-overflow', sec='9112 7.1', level='MUST', gist='Overflowing chunk size must not wrap.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000002\r\nok\r\n0\r\n\r\n', close=True, expect='502, or abort the client connection; never a 2-byte body.',
      judge=lambda r: ('LAX', 'wrapped size accepted') if final(r) and final(r).get('complete') and final(r)['body_decoded'] == b'ok' else ('strict', _status_txt(r)))
rcase(id='RES-9112-7.1-bad-crlf', sec='9112 7.1', level='MUST (grammar)', gist='Missing CRLF after chunk-data is a framing error.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n', close=True, expect='502 or aborted client connection.',
      judge=lambda r: ('LAX', 'relayed as complete') if final(r) and final(r).get('complete') else ('strict', _status_txt(r)))
rcase(id='RES-9112-7.1-lf-only', sec='9112 7.1', level='MUST (grammar)', gist='Bare-LF chunk framing is outside the grammar.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\n0\n\n', close=True, expect='502 or abort (strict).', alt='Lenient parsers accept.',
      judge=lambda r: ('LAX', 'accepted bare LF chunks') if final(r) and final(r).get('complete') else ('strict', _status_txt(r)))
rcase(id='RES-9112-7.1.1-ext', sec='9112 7.1.1', level='MUST', gist='Unknown chunk extensions are ignored.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;foo=bar\r\nok\r\n0\r\n\r\n', expect='Relayed `ok`.',
      judge=resp_ok(lambda r: final(r)['body_decoded'] == b'ok', 'ok relayed'))
rcase(id='RES-9112-7.1-chunked-param', sec='9112 7.1', level='SHOULD', gist='Parameters on chunked should be an error.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n2\r\nok\r\n0\r\n\r\n', close=True, expect='502.', judge=lambda r: ('info', _status_txt(r)))
rcase(id='RES-9112-7.1.2-trailer-not-merged', sec='9112 7.1.2 / 9110 6.5', level='MUST NOT', gist='Response trailers must not be merged into the forwarded header section.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\nSet-Cookie: a=b\r\n\r\n',
      expect='Client header section lacks X-T/Set-Cookie (trailers kept as trailers or dropped).',
      judge=resp_ok(lambda r: b'X-T' not in hdrs(final(r)['raw']) and b'Set-Cookie' not in hdrs(final(r)['raw']), 'not merged'))

# ---- fields in responses
rcase(id='RES-9112-5.1-ws-before-colon', sec='9112 5.1', level='MUST', gist='A proxy must strip whitespace between field name and colon in a response before forwarding.',
      resp='HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\nok', expect='Client sees `X-A: 1` (or 502).',
      judge=resp_rej_or_fix(lambda r: b'X-A :' not in r.client_raw, 'space before colon removed'))
rcase(id='RES-9112-5.1-ws-before-colon-te', sec='9112 5.1 / 6.3', level='MUST', gist='`Transfer-Encoding :` in a response must not be forwarded in ambiguous form.',
      resp='HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\nContent-Length: 14\r\n\r\n2\r\nok\r\n0\r\n\r\n', close=True,
      expect='502, or interpreted consistently and forwarded without the space.', judge=resp_rej_or_fix(lambda r: b'Transfer-Encoding :' not in r.client_raw, 'no ambiguous field forwarded'))
rcase(id='RES-9112-5.2-obs-fold', sec='9112 5.2', level='MUST', gist='obs-fold in a response: replace with 502, or replace each fold by SP before forwarding.',
      resp='HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok', expect='502, or `X-A: a b` on one line.',
      judge=resp_rej_or_fix(lambda r: b'\r\n b' not in r.client_raw, 'fold -> SP'))
rcase(id='RES-9110-5.5-nul', sec='9110 5.5', level='MUST', gist='NUL in a response field value: reject or replace with SP.',
      resp='HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok', expect='502, or `X-A: a b`.',
      judge=resp_rej_or_fix(lambda r: b'\x00' not in r.client_raw, 'NUL -> SP'))
rcase(id='RES-9112-2.2-bare-cr', sec='9112 2.2', level='MUST', gist='Bare CR in a response field: invalid, or replace with SP.',
      resp='HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok', expect='502, or `X-A: a b`.',
      judge=resp_rej_or_fix(lambda r: b'a\rb' not in r.client_raw, 'CR -> SP'))
rcase(id='RES-9112-2.2-bare-lf', sec='9112 2.2', level='MAY', gist='Response lines ended by bare LF may be accepted; forward with CRLF.',
      resp='HTTP/1.1 200 OK\nX-A: 1\nContent-Length: 2\n\nok', expect='Relayed with CRLF line endings (or 502 if strict).',
      judge=resp_rej_or_fix(lambda r: b'\nX-A' not in r.client_raw.replace(b'\r\nX-A', b''), 'normalised'))
rcase(id='RES-9112-2.2-ws-after-statusline', sec='9112 2.2', level='MUST', gist='Whitespace-prefixed line after the status line: reject or drop it.',
      resp='HTTP/1.1 200 OK\r\n X-Smuggle: 1\r\nContent-Length: 2\r\n\r\nok', expect='502, or relayed without the ` X-Smuggle` line.',
      judge=resp_rej_or_fix(lambda r: b'Smuggle' not in r.client_raw, 'line dropped'))
rcase(id='RES-9112-5-no-colon', sec='9112 5 / 2.2', level='MUST (grammar)', gist='A response header line without a colon is invalid.',
      resp='HTTP/1.1 200 OK\r\nthis has no colon\r\nContent-Length: 2\r\n\r\nok', expect='502.', alt='Lenient: drop the line.',
      judge=resp_rej_or_fix(lambda r: b'no colon' not in r.client_raw, 'line dropped'))
rcase(id='RES-9110-5.5-obs-text', sec='9110 5.5', level='SHOULD', gist='obs-text in a response field value is opaque and relayed unchanged.',
      resp='HTTP/1.1 200 OK\r\nX-A: caf\xe9\r\nContent-Length: 2\r\n\r\nok', expect='`X-A: caf\\xe9` relayed.',
      judge=resp_ok(lambda r: b'caf\xe9' in r.client_raw, 'relayed unchanged'))
rcase(id='RES-9110-5.4-huge-header', sec='9110 5.4', level='MAY discard (client) / limits', gist='Oversized response header section: refuse (502) rather than mis-parse; a client may drop only safely ignorable fields.',
      resp='HTTP/1.1 200 OK\r\nX-Big: ' + 'a' * 300000 + '\r\nContent-Length: 2\r\n\r\nok', close=True, expect='502.', judge=resp_rej())

# ---- hop-by-hop / TE to 1.0 / Via
rcase(id='RES-9110-7.6.1-listed-removed', sec='9110 7.6.1', level='MUST', gist='Response fields named in Connection are removed before forwarding.',
      resp='HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nContent-Length: 2\r\n\r\nok', expect='Client does not see X-Hop.',
      judge=resp_ok(lambda r: b'x-hop' not in hdrs(final(r)['raw']).lower(), 'X-Hop removed'))
rcase(id='RES-9110-7.6.1-known-hop', sec='9110 7.6.1', level='SHOULD', gist='Keep-Alive, Proxy-Connection, Upgrade in a (non-101) response are stripped.',
      resp='HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nContent-Length: 2\r\n\r\nok',
      expect='None of the three relayed.', judge=resp_ok(lambda r: not any(has_hdr(final(r)['raw'], h) for h in ('keep-alive', 'proxy-connection', 'upgrade')), 'all removed'))
rcase(id='RES-9112-6.1-chunked-to-http10', sec='9112 6.1', level='MUST NOT', gist='No Transfer-Encoding in a response to an HTTP/1.0 request: proxy must decode chunked and delimit by close or CL.',
      send=get(version='HTTP/1.0'), resp='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      expect='Client gets no Transfer-Encoding and raw body `ok` (then close).',
      judge=resp_ok(lambda r: not has_hdr(final(r)['raw'], 'transfer-encoding') and body_of(r.client_raw) == b'ok', 'de-chunked, no TE'))
rcase(id='RES-9110-7.6.1-origin-close', sec='9112 9.6 / 9110 7.6.1', level='MUST', gist='Origin `Connection: close`: proxy must not reuse that origin connection; the option is hop-by-hop.',
      resp='HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', second=True,
      expect='Second request reaches origin on a new connection.', judge=resp_ok(lambda r: r.second_new_conn, 'new origin connection'))
rcase(id='RES-9110-7.6.3-via-added', sec='9110 7.6.3', level='MUST', gist='Proxy adds Via to forwarded responses.',
      resp=OK, expect='Client sees `Via: 1.1 <name>`.', judge=resp_ok(lambda r: via_members(final(r)['raw']) and via_ver(via_members(final(r)['raw'])[-1]) == b'1.1', 'Via 1.1 added'))
rcase(id='RES-9110-7.6.3-via-http10-origin', sec='9110 7.6.3', level='MUST', gist='Via records the origin\'s protocol version (1.0 origin -> `1.0 <name>`).',
      resp='HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', expect='Client sees `Via: 1.0 <name>`.',
      judge=resp_ok(lambda r: via_members(final(r)['raw']) and via_ver(via_members(final(r)['raw'])[-1]) == b'1.0', 'Via 1.0 (origin protocol)'))
rcase(id='RES-9110-7.6.3-via-appended', sec='9110 7.6.3', level='MUST', gist='An upstream Via is kept and the proxy appends after it.',
      resp='HTTP/1.1 200 OK\r\nVia: 1.1 upstream\r\nContent-Length: 2\r\n\r\nok', expect='Client sees `Via: 1.1 upstream, 1.1 <name>`.',
      judge=resp_ok(lambda r: via_members(final(r)['raw'])[0] == b'1.1 upstream' and len(via_members(final(r)['raw'])) >= 2, 'appended'))
rcase(id='RES-9110-5.3-order', sec='9110 5.3', level='MUST NOT', gist='Same-name response field lines keep their order.',
      resp='HTTP/1.1 200 OK\r\nX-L: 1\r\nX-O: z\r\nX-L: 2\r\nContent-Length: 2\r\n\r\nok', expect='X-L 1 before 2.',
      judge=resp_ok(lambda r: b','.join(hdr_vals(final(r)['raw'], 'x-l')).replace(b' ', b'') == b'1,2', 'order kept'))
