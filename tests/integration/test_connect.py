"""test_connect.py -- the Connect protocol's JSON form and the console's pages, with curl over mTLS against a real node (HTTP/2: the node speaks nothing else).

Covers: a JSON call and a binary (application/proto) one answered by the same
handlers as gRPC; each error kind as a Connect error object with its HTTP
status; the same authorisation (a member gets permission_denied where gRPC
refuses it); the CSRF refusals (missing connect-protocol-version, a foreign
Origin, Sec-Fetch-Site cross-site) and the rule that calls from a browser are
for this node's admins; an oversized body refused; /console/ served to admins
with its security headers and the right media type, a 403 page for members
and other admins; the streaming form's end-of-stream message.
"""

import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (Node, TestFailure, Workspace, check, main,  # noqa: E402
                      make_federation, node_log_diag, shared_env, test)

REGION = 'uk.test'
MAX_MSG = 4096
CSP = ("default-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
_env = {}


@shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, regions=(REGION,))
    _env.update(ws=ws, fed=fed, admin=fed.admin(REGION), member=fed.member(REGION))
    _env['node'] = Node(ws, fed, REGION, limits={'max_message_size': MAX_MSG})


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise TestFailure('not JSON (HTTP %d): %r' % (self.status, self.body[:300]))

    def __repr__(self):
        return 'HTTP %d %r %r' % (self.status, self.headers, self.body[:300])


def curl(cred, path, body=None, ctype='application/json', headers=(),
         version=True, method=None, data_file=None):
    """One request with curl (HTTP/2 over mTLS, server verified by the
    federation CA). Returns an Answer."""
    e = env()
    n = e['node']
    ws = e['ws']
    hdr_file = ws.join('curl-headers')
    cmd = ['curl', '-sS', '--http2', '--max-time', '20',
           '--cert', cred.cert, '--key', cred.key, '--cacert', e['fed'].ca_pem,
           '-D', hdr_file, '-o', ws.join('curl-body')]
    if method:
        cmd += ['-X', method]
    if body is not None or data_file is not None:
        if data_file is None:
            data_file = ws.write('curl-req', body)
        cmd += ['--data-binary', '@' + data_file, '-H', 'Content-Type: ' + ctype]
    if version:
        cmd += ['-H', 'Connect-Protocol-Version: 1']
    for h in headers:
        cmd += ['-H', h]
    cmd.append('https://127.0.0.1:%d%s' % (n.port, path))
    cp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        universal_newlines=True, timeout=30)
    check(cp.returncode == 0, 'curl %s failed (%d): %s' % (path, cp.returncode, cp.stderr))
    with open(hdr_file) as f:
        lines = f.read().splitlines()
    check(lines and lines[0].startswith('HTTP/2 '), 'not HTTP/2: %r' % lines[:1])
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ':' in line:
            k, v = line.split(':', 1)
            headers[k.strip().lower()] = v.strip()
    with open(ws.join('curl-body'), 'rb') as f:
        raw = f.read()
    return Answer(status, headers, raw)


def connect_error(a, status, code, words=None):
    check(a.status == status, 'expected HTTP %d, got %r' % (status, a))
    check(a.headers.get('content-type') == 'application/json', 'error not JSON: %r' % a)
    j = a.json()
    check(j.get('code') == code, 'expected code %s, got %r' % (code, j))
    if words:
        check(words in j.get('message', ''), 'message lacks %r: %r' % (words, j))
    return j


@test
def json_call_answered_by_the_same_handler():
    e = env()
    a = curl(e['admin'], '/axle.v1.Node/Info', '{}')
    check(a.status == 200 and a.headers.get('content-type') == 'application/json', repr(a))
    j = a.json()
    check(j.get('region') == REGION and j.get('federation') == 'fame-test', repr(j))
    # proto3 JSON: lowerCamelCase names, 64-bit integers as strings
    check(isinstance(j.get('uptimeSeconds'), str) and j['uptimeSeconds'].isdigit(), repr(j))
    check(j.get('callerRole') == 'admin', repr(j))
    a = curl(e['admin'], '/axle.v1.Recourse/List',
             '{"state": "CASE_STATE_OPEN", "page": {"pageSize": 10}}')
    check(a.status == 200 and a.json().get('cases') == [], repr(a))
    # the empty body is the empty message
    a = curl(e['admin'], '/axle.v1.Node/Info', '')
    check(a.status == 200 and a.json().get('region') == REGION, repr(a))
    # security headers on API answers too
    check(a.headers.get('x-content-type-options') == 'nosniff', repr(a.headers))


@test
def proto_form():
    e = env()
    a = curl(e['admin'], '/axle.v1.Node/Info', '', ctype='application/proto')
    check(a.status == 200 and a.headers.get('content-type') == 'application/proto', repr(a))
    check(REGION.encode() in a.body and not a.body.startswith(b'{'), repr(a))


@test
def errors_as_connect_error_objects():
    e = env()
    adm = e['admin']
    connect_error(curl(adm, '/axle.v1.Recourse/Show', '{"id": "uk.test/999999"}'),
                  404, 'not_found')
    connect_error(curl(adm, '/axle.v1.Node/Nope', '{}'), 501, 'unimplemented',
                  'unknown method')
    connect_error(curl(adm, '/axle.v1.Recourse/List', '{"stat": 1}'), 400,
                  'invalid_argument', 'field "stat"')
    connect_error(curl(adm, '/axle.v1.Recourse/List', '{"state": '), 400,
                  'invalid_argument', 'not valid JSON')
    connect_error(curl(adm, '/axle.v1.Recourse/List', '{}',
                       headers=['Connect-Timeout-Ms: soon']), 400, 'invalid_argument',
                  'connect-timeout-ms')
    connect_error(curl(adm, '/axle.v1.Recourse/List', '{}',
                       headers=['Content-Encoding: gzip']), 501, 'unimplemented',
                  'compressed')
    # a streaming method asked in the unary form
    connect_error(curl(e['member'], '/axle.v1.Switch/Fetch', '{}'), 400,
                  'invalid_argument', 'streams its answer')
    # the same authorisation as gRPC: members may not list cases
    connect_error(curl(e['member'], '/axle.v1.Recourse/List', '{}'), 403,
                  'permission_denied')
    other = e['fed'].issue('admin', 'uk.other', user='ops')
    connect_error(curl(other, '/axle.v1.Recourse/List', '{}'), 403, 'permission_denied')
    # no content type Connect or gRPC knows
    a = curl(adm, '/axle.v1.Node/Info', '{}', ctype='text/plain')
    check(a.status == 415 and b'application/json' in a.body, repr(a))


@test
def oversized_body_refused():
    e = env()
    big = '{"assignee": "%s"}' % ('x' * (MAX_MSG + 100))
    connect_error(curl(e['admin'], '/axle.v1.Recourse/List', big), 429,
                  'resource_exhausted', 'limit of %d bytes' % MAX_MSG)
    n = e['node']
    check(n.alive(), 'node died')


@test
def csrf_refusals():
    e = env()
    adm = e['admin']
    port = e['node'].port
    own = 'Origin: https://127.0.0.1:%d' % port
    connect_error(curl(adm, '/axle.v1.Recourse/List', '{}', version=False), 400,
                  'invalid_argument', 'connect-protocol-version')
    connect_error(curl(adm, '/axle.v1.Recourse/List', '{}',
                       headers=['Origin: https://evil.example']), 403,
                  'permission_denied', 'cross-origin')
    connect_error(curl(adm, '/axle.v1.Recourse/List', '{}',
                       headers=['Origin: http://127.0.0.1:%d' % port]), 403,
                  'permission_denied', 'cross-origin')
    connect_error(curl(adm, '/axle.v1.Recourse/List', '{}',
                       headers=[own, 'Sec-Fetch-Site: cross-site']), 403,
                  'permission_denied', 'cross-site')
    # the same page of the node, as a browser sends it: served
    a = curl(adm, '/axle.v1.Recourse/List', '{}', headers=[own, 'Sec-Fetch-Site: same-origin'])
    check(a.status == 200, repr(a))
    # the console's own custom header does as well as Connect's
    a = curl(adm, '/axle.v1.Recourse/List', '{}', version=False,
             headers=[own, 'Sec-Fetch-Site: same-origin', 'X-Axle-Console: 1'])
    check(a.status == 200, repr(a))
    connect_error(curl(adm, '/axle.v1.Recourse/List', '{}', version=False,
                       headers=[own, 'X-Axle-Console: 0']), 400, 'invalid_argument',
                  'x-axle-console')
    # a member's browser: refused even where its curl may call (Node.Info is for anyone)
    connect_error(curl(e['member'], '/axle.v1.Node/Info', '{}', headers=[own]), 403,
                  'permission_denied', 'from a browser are for admins')
    check(curl(e['member'], '/axle.v1.Node/Info', '{}').status == 200, 'member curl refused')


@test
def console_served_to_admins_only():
    e = env()
    a = curl(e['admin'], '/console/', version=False)
    check(a.status == 200, repr(a))
    check(a.headers.get('content-type') == 'text/html; charset=utf-8', repr(a.headers))
    check(a.headers.get('content-security-policy') == CSP, repr(a.headers))
    check(a.headers.get('x-frame-options') == 'DENY', repr(a.headers))
    check(a.headers.get('x-content-type-options') == 'nosniff', repr(a.headers))
    check(a.headers.get('referrer-policy') == 'no-referrer', repr(a.headers))
    check(a.body.lower().startswith(b'<!doctype html'), repr(a))
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                           'gateway', 'console', 'www', 'index.html'), 'rb') as f:
        check(a.body == f.read(), 'served index.html differs from gateway/console/www/')
    for asset, media in (('app.js', 'text/javascript; charset=utf-8'),
                         ('style.css', 'text/css; charset=utf-8')):
        a = curl(e['admin'], '/console/' + asset, version=False)
        check(a.status == 200 and a.headers.get('content-type') == media,
              '%s: %r' % (asset, a))
    a = curl(e['admin'], '/console', version=False)
    check(a.status == 308 and a.headers.get('location') == '/console/', repr(a))
    a = curl(e['admin'], '/console/no-such.js', version=False)
    check(a.status == 404 and a.headers.get('content-security-policy') == CSP, repr(a))
    for who, cred in (('member', e['member']),
                      ('other admin', e['fed'].issue('admin', 'uk.other', user='ops2')),
                      ('node', e['fed'].node(REGION))):
        a = curl(cred, '/console/', version=False)
        check(a.status == 403, '%s: %r' % (who, a))
        check(a.headers.get('content-type') == 'text/html; charset=utf-8', repr(a))
        check(b'403' in a.body and b'console' in a.body.lower(), repr(a))
        check(b'<script' not in a.body.lower(), 'the 403 page has a script')
        a = curl(cred, '/console/index.html', version=False)
        check(a.status == 403 and b'app.js' not in a.body, repr(a))
    a = curl(e['admin'], '/console/', version=False, body='x', ctype='text/plain',
             method='POST')
    check(a.status == 405, repr(a))


def envelopes(a):
    """The (flags, bytes) envelopes of a Connect streaming answer."""
    check(a.status == 200 and a.headers.get('content-type') == 'application/connect+json',
          repr(a))
    frames, raw = [], a.body
    while raw:
        check(len(raw) >= 5, 'truncated envelope: %r' % raw)
        flags, n = struct.unpack('>BI', raw[:5])
        frames.append((flags, raw[5:5 + n]))
        raw = raw[5 + n:]
    return frames


@test
def streaming_form_ends_with_end_stream_message():
    e = env()
    # A unary method asked in the streaming form: refused in that form (HTTP
    # 200, the error in the end-of-stream message).
    body = b'{}'
    req = e['ws'].join('env-req')
    with open(req, 'wb') as f:
        f.write(struct.pack('>BI', 0, len(body)) + body)
    a = curl(e['admin'], '/axle.v1.Node/Info', ctype='application/connect+json',
             data_file=req)
    frames = envelopes(a)
    check(len(frames) == 1 and frames[0][0] == 2, repr(frames))
    err = json.loads(frames[0][1]).get('error', {})
    check(err.get('code') == 'invalid_argument' and 'is unary' in err.get('message', ''),
          repr(frames))
    # Switch.Fetch streams; this node serves no registrar of the member's
    # hub, so the handler's own refusal comes in the end-of-stream message.
    body = b'{"waitMs": 1, "maxMessages": 1}'
    with open(req, 'wb') as f:
        f.write(struct.pack('>BI', 0, len(body)) + body)
    a = curl(e['member'], '/axle.v1.Switch/Fetch', ctype='application/connect+json',
             data_file=req)
    frames = envelopes(a)
    check(frames and frames[-1][0] == 2, 'no end-of-stream envelope: %r' % frames)
    err = json.loads(frames[-1][1]).get('error', {})
    check(err.get('code') == 'failed_precondition' and 'registrar' in err.get('message', ''),
          'end of stream: %r' % frames)


if __name__ == '__main__':
    main(after_failure=node_log_diag(lambda: _env.get('node')))
