"""test_metrics.py -- /metrics over mTLS parses as strict Prometheus text exposition (0.0.4), its counters move with traffic (Node.Info calls, a certless handshake), and it is served only to this node's admins, nodes and the configured [metrics] scrape_identity: a member gets 403."""

import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (GRPC_OK, Node, TestFailure, Workspace, check, grpc_stubs,  # noqa: E402
                      main, make_federation, refused, test, wait_for)
from axletest import shared_env  # noqa: E402

REGION = 'uk.test'
_env = {}

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
TYPES = ('counter', 'gauge', 'histogram', 'summary', 'untyped')
SUFFIXES = {'histogram': ('_bucket', '_sum', '_count'), 'summary': ('_sum', '_count', '')}


class ParseError(Exception):
    pass


def _value(s, where):
    if s in ('+Inf', 'Inf'):
        return math.inf
    if s == '-Inf':
        return -math.inf
    if s == 'NaN':
        return math.nan
    if not re.fullmatch(r'[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?', s):
        raise ParseError('%s: bad value %r' % (where, s))
    return float(s)


def _labels(line, i, where):
    """Parses {a="x",b="y"} from line[i] == '{'. Returns (tuple of pairs, index after '}')."""
    out, seen = [], set()
    i += 1
    while True:
        if line[i:i + 1] == '}':
            return tuple(out), i + 1
        m = LABEL.match(line, i)
        if not m:
            raise ParseError('%s: bad label name at %d' % (where, i))
        name = m.group(0)
        if name in seen:
            raise ParseError('%s: duplicate label %s' % (where, name))
        seen.add(name)
        i = m.end()
        if line[i:i + 2] != '="':
            raise ParseError('%s: expected =" after %s' % (where, name))
        i += 2
        val = []
        while True:
            if i >= len(line):
                raise ParseError('%s: unterminated label value' % where)
            c = line[i]
            if c == '\\':
                esc = line[i + 1:i + 2]
                if esc not in ('\\', '"', 'n'):
                    raise ParseError('%s: bad escape \\%s' % (where, esc))
                val.append('\n' if esc == 'n' else esc)
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                val.append(c)
                i += 1
        out.append((name, ''.join(val)))
        if line[i:i + 1] == ',':
            i += 1
        elif line[i:i + 1] != '}':
            raise ParseError('%s: expected , or } after label %s' % (where, name))


def _family_of(name, types):
    if name in types and types[name] not in ('histogram',):
        return name
    for fam, t in types.items():
        for suf in SUFFIXES.get(t, ()):
            if suf and name == fam + suf:
                return fam
    return None


def parse(text):
    """Strict exposition parser. Returns {'types': {family: type}, 'help': {family: text},
    'samples': {(name, labels): value}}; raises ParseError on anything malformed."""
    types, helps, samples = {}, {}, {}
    done, current = set(), None	# families whose group has ended; the one being read
    if text and not text.endswith('\n'):
        raise ParseError('the exposition must end with a newline')
    for n, line in enumerate(text.split('\n')[:-1], 1):
        where = 'line %d' % n
        if line == '':
            continue
        if line.startswith('#'):
            parts = line.split(' ', 3)
            if len(parts) >= 3 and parts[1] in ('HELP', 'TYPE'):
                fam = parts[2]
                if not NAME.fullmatch(fam):
                    raise ParseError('%s: bad metric name %r' % (where, fam))
                if parts[1] == 'TYPE':
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ParseError('%s: bad TYPE line %r' % (where, line))
                    if fam in types:
                        raise ParseError('%s: second TYPE for %s' % (where, fam))
                    if any(_family_of(s[0], {fam: parts[3]}) == fam for s in samples):
                        raise ParseError('%s: TYPE for %s after its samples' % (where, fam))
                    types[fam] = parts[3]
                else:
                    if fam in helps:
                        raise ParseError('%s: second HELP for %s' % (where, fam))
                    h = parts[3] if len(parts) == 4 else ''
                    if re.search(r'\\[^\\n]', h):
                        raise ParseError('%s: bad escape in HELP' % where)
                    helps[fam] = h
                if current is not None and current != fam:
                    done.add(current)
                    current = None
            continue
        m = NAME.match(line)
        if not m:
            raise ParseError('%s: bad metric name in %r' % (where, line))
        name, i = m.group(0), m.end()
        labels = ()
        if line[i:i + 1] == '{':
            labels, i = _labels(line, i, where)
        rest = line[i:]
        if not rest.startswith(' '):
            raise ParseError('%s: expected a space before the value in %r' % (where, line))
        fields = rest.split()
        if len(fields) not in (1, 2) or rest.strip() != ' '.join(fields):
            raise ParseError('%s: expected value [timestamp] in %r' % (where, line))
        value = _value(fields[0], where)
        if len(fields) == 2 and not re.fullmatch(r'-?\d+', fields[1]):
            raise ParseError('%s: bad timestamp %r' % (where, fields[1]))
        fam = _family_of(name, types)
        if fam is None:
            raise ParseError('%s: sample %s has no TYPE declared before it' % (where, name))
        if fam in done:
            raise ParseError('%s: %s samples are not one group' % (where, fam))
        if current is not None and current != fam:
            done.add(current)
        current = fam
        key = (name, tuple(sorted(labels)))
        if key in samples:
            raise ParseError('%s: duplicate series %s%s' % (where, name, dict(labels)))
        if types[fam] == 'counter' and not value >= 0:
            raise ParseError('%s: counter %s is %r' % (where, name, value))
        samples[key] = value
    return {'types': types, 'help': helps, 'samples': samples}


@shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, 'fame-test', [REGION])
    grpc_stubs(ws)
    _env.update(ws=ws, fed=fed, admin=fed.admin(REGION), node=Node(ws, fed, REGION))


def scrape():
    e = env()
    c = e['node'].connect(e['admin'])
    try:
        r = c.request('GET', '/metrics', timeout=10)
    finally:
        c.close()
    check(r.status == 200, '/metrics status %r' % r.status)
    ctype = r.header('content-type') or ''
    check(ctype.startswith('text/plain') and 'version=0.0.4' in ctype, 'content-type %r' % ctype)
    try:
        return parse(r.body.decode('utf-8'))
    except ParseError as err:
        raise TestFailure('/metrics does not parse: %s' % err)


def info_ok(m):
    """axle_rpc_total for Node.Info with code OK (0 when absent)."""
    for (name, labels), v in m['samples'].items():
        d = dict(labels)
        if name == 'axle_rpc_total' and d.get('method', '').endswith('/Info') and d.get('code') == 'OK':
            return v
    return 0


# --- the parser itself is strict ------------------------------------------------

@test
def parser_rejects_malformed_expositions():
    good = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1",y="q\\"\\\\\\n"} 3\na_total 1e3\n'
    p = parse(good)
    check(p['samples'][('a_total', (('x', '1'), ('y', 'q"\\\n')))] == 3, 'escapes %r' % p)
    bad = {
        'no TYPE': 'a 1\n',
        'bad name': '# TYPE 1a gauge\n1a 1\n',
        'bad value': '# TYPE a gauge\na one\n',
        'duplicate series': '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n',
        'duplicate label': '# TYPE a gauge\na{x="1",x="2"} 1\n',
        'bad escape': '# TYPE a gauge\na{x="\\t"} 1\n',
        'unterminated': '# TYPE a gauge\na{x="1} 1\n',
        'bad type': '# TYPE a countr\na 1\n',
        'TYPE twice': '# TYPE a gauge\n# TYPE a gauge\na 1\n',
        'TYPE after sample': '# TYPE b gauge\nb 1\n# TYPE b_x gauge\nb 1\n',
        'split group': '# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x="2"} 1\n',
        'negative counter': '# TYPE a counter\na -1\n',
        'no newline at end': '# TYPE a gauge\na 1',
        'junk after value': '# TYPE a gauge\na 1 2 3\n',
    }
    for what, text in bad.items():
        try:
            parse(text)
        except ParseError:
            continue
        raise TestFailure('parser accepted %s: %r' % (what, text))


# --- the node's exposition ---------------------------------------------------------

@test
def metrics_parse_strictly():
    m = scrape()
    for fam in ('axle_rpc_total', 'axle_handshakes_refused_total'):
        check(m['types'].get(fam) == 'counter', '%s type %r' % (fam, m['types'].get(fam)))
    missing = [f for f in m['types'] if f not in m['help']]
    check(not missing, 'families without HELP: %s' % missing)
    check(len(m['samples']) >= 10, 'only %d samples' % len(m['samples']))
    check(any(n == 'axle_handshakes_refused_total' and dict(l).get('reason') == 'no_cert'
              for n, l in m['samples']), 'no handshakes_refused_total{reason="no_cert"}')


GRPC_CODES = ('OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
              'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION',
              'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS',
              'UNAUTHENTICATED')


@test
def rpc_counter_has_every_method_and_code_from_start():
    """A counter series that appears only at its first event hides that event
    from rate() and increase(), and is absent again after every restart: each
    method served has all 17 status codes, 0 included."""
    m = scrape()
    codes = {}
    for (name, labels), _v in m['samples'].items():
        if name == 'axle_rpc_total':
            d = dict(labels)
            codes.setdefault(d['method'], set()).add(d['code'])
    check(len(codes) >= 20, 'only %d methods in axle_rpc_total' % len(codes))
    short = {meth: sorted(set(GRPC_CODES) - c) for meth, c in codes.items() if c != set(GRPC_CODES)}
    check(not short, '%d of %d methods lack codes, e.g. %s' % (
        len(short), len(codes), next(iter(sorted(short.items()))) if short else ''))


@test
def rpc_counter_moves_with_info_calls():
    e = env()
    before = info_ok(scrape())
    for _ in range(3):
        r, _msg = e['node'].info(e['admin'])
        check(r.grpc_status == GRPC_OK, 'Node.Info status %r' % r.grpc_status)
    # Counted when each call ended: poll briefly rather than assume timing.
    got = wait_for(lambda: (lambda v: v if v >= before + 3 else None)(info_ok(scrape())), 5,
                   interval=0.1, what='axle_rpc_total for Info to rise by 3')
    check(got == before + 3, 'Info calls counted %r -> %r for 3 calls' % (before, got))


def hist(m, name, match=()):
    """One histogram's series: ([(le, cumulative count)...] in order, sum, count)."""
    buckets, total, count = [], None, None
    for (n, labels), v in m['samples'].items():
        d = dict(labels)
        if any(d.get(k) != want for k, want in match):
            continue
        if n == name + '_bucket':
            buckets.append((float(d['le']), v))
        elif n == name + '_sum':
            total = v
        elif n == name + '_count':
            count = v
    check(buckets and total is not None and count is not None,
          '%s%r: buckets %r sum %r count %r' % (name, match, buckets, total, count))
    buckets.sort()
    return buckets, total, count


def hist_sound(name, buckets, count):
    les = [b for b, _ in buckets]
    check(les[-1] == math.inf and len(les) == len(set(les)) >= 10, '%s: le %r' % (name, les))
    vals = [v for _, v in buckets]
    check(vals == sorted(vals), '%s: buckets not cumulative: %r' % (name, buckets))
    check(vals[-1] == count, '%s: +Inf %r != count %r' % (name, vals[-1], count))


@test
def latency_histograms_move_and_are_sound():
    """axle_rpc_duration_seconds{method} counts each call when it ends, in cumulative
    buckets ending at +Inf == _count; axle_store_commit_duration_seconds counts
    each committed group commit (== axle_store_commits_total in one scrape)."""
    e = env()
    info = (('method', '/axle.v1.Node/Info'),)
    _, _, before = hist(scrape(), 'axle_rpc_duration_seconds', info)
    for _ in range(4):
        r, _msg = e['node'].info(e['admin'])
        check(r.grpc_status == GRPC_OK, 'Node.Info status %r' % r.grpc_status)
    m = wait_for(lambda: (lambda m: m if hist(m, 'axle_rpc_duration_seconds', info)[2]
                          >= before + 4 else None)(scrape()), 5, interval=0.1,
                 what='the Info histogram to count 4 calls')
    buckets, total, count = hist(m, 'axle_rpc_duration_seconds', info)
    check(count == before + 4, 'Info histogram counted %r -> %r for 4 calls' % (before, count))
    check(0 < total < 10 * count, 'Info sum %r for %r calls' % (total, count))
    hist_sound('axle_rpc_duration_seconds', buckets, count)
    methods = {dict(l)['method'] for (n, l) in m['samples']
               if n == 'axle_rpc_duration_seconds_count'}
    check(len(methods) >= 20, 'only %d methods have a histogram' % len(methods))
    check(m['types'].get('axle_store_commit_duration_seconds') == 'histogram',
          'commit histogram type %r' % m['types'].get('axle_store_commit_duration_seconds'))
    buckets, _, count = hist(m, 'axle_store_commit_duration_seconds')
    hist_sound('axle_store_commit_duration_seconds', buckets, count)
    commits = [v for (n, _), v in m['samples'].items() if n == 'axle_store_commits_total']
    check(commits == [count], 'commit histogram count %r, commits_total %r' % (count, commits))


@test
def refused_handshake_counter_moves():
    e = env()
    n = e['node']

    def no_cert(m):
        return m['samples'].get(('axle_handshakes_refused_total', (('reason', 'no_cert'),)), 0)
    before = no_cert(scrape())
    why = refused(n.host, n.port, None, None, n.fed.ca_pem)
    check(why, 'a client without a certificate was answered')
    got = wait_for(lambda: (lambda v: v if v > before else None)(no_cert(scrape())), 5,
                   interval=0.1, what='no_cert refusals to count up')
    check(got == before + 1, 'no_cert %r -> %r for one attempt' % (before, got))
    check(n.alive(), 'node died')


# --- who may read it ----------------------------------------------------------------

def get_metrics(node, cred):
    c = node.connect(cred)
    try:
        return c.request('GET', '/metrics', timeout=10)
    finally:
        c.close()


def check_refused(node, cred, uri):
    before = node.log_text().count('event=metrics_refused')
    r = get_metrics(node, cred)
    body = r.body.decode('utf-8', 'replace')
    check(r.status == 403, '/metrics as %s: status %r, want 403' % (uri, r.status))
    check('axle_' not in body, '403 body carries metrics: %r' % body[:200])
    check(uri in body and 'scrape_identity' in body,
          '403 body does not say who was refused and how to be allowed: %r' % body)
    lines = wait_for(lambda: [l for l in node.log_text().splitlines()
                              if 'event=metrics_refused' in l][before:] or None,
                     5, what='event=metrics_refused log line')
    check(uri in lines[0], 'log line does not name the caller: %s' % lines[0])


def check_served(node, cred, who):
    r = get_metrics(node, cred)
    check(r.status == 200 and b'axle_rpc_total' in r.body,
          '/metrics as %s: status %r %r' % (who, r.status, r.body[:200]))


@test
def metrics_refused_to_members():
    e = env()
    n = e['node']
    member = e['fed'].member(REGION)
    check_refused(n, member, 'axle://fame-test/member/%s.hub' % REGION)
    other_admin = e['fed'].issue('admin', 'uk.other', user='ops')
    check_refused(n, other_admin, 'axle://fame-test/admin/uk.other/ops')
    check_served(n, e['admin'], 'this node\'s admin')
    check_served(n, e['fed'].node(REGION), 'a node identity')
    check_served(n, e['fed'].issue('node', 'uk.peer'), 'a peer node identity')


@test
def metrics_served_to_the_scrape_identity():
    e = env()
    uri = 'axle://fame-test/member/%s.monitoring' % REGION
    n = Node(e['ws'], e['fed'], REGION, name='scrape',
             extra='\n[metrics]\nscrape_identity = %s\n' % uri)
    try:
        check_served(n, e['fed'].issue('member', '%s.monitoring' % REGION), uri)
        check_refused(n, e['fed'].member(REGION), 'axle://fame-test/member/%s.hub' % REGION)
    finally:
        n.stop()


if __name__ == '__main__':
    main()
