"""test_monitoring.py -- docs/monitoring/ can be trusted: the alert rules pass promtool check rules and their unit tests (promtool test rules), the Grafana dashboard is well-formed with valid PromQL, and every metric either names is exported by a running axled."""

import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (TOP, Node, TestFailure, Workspace, check, free_port,  # noqa: E402
                      main, make_federation, shared_env, test)

MON = os.path.join(TOP, 'docs', 'monitoring')
RULES = os.path.join(MON, 'axle-alerts.yml')
RULE_TESTS = os.path.join(MON, 'axle-alerts.test.yml')
DASHBOARD = os.path.join(MON, 'axle-dashboard.json')
REGION, PEER = 'uk.test', 'uk.peer'
# Series Prometheus itself makes for every target, not axled's.
NOT_AXLED = {'up'}
_env = {}


def promtool(*args, cwd=None):
    """Runs promtool; returns (rc, output). .ci/deps.sh installs it (Debian's
    prometheus package): without it this fails, it never passes."""
    exe = shutil.which('promtool')
    if exe is None:
        raise TestFailure('promtool not installed (as root: sh .ci/deps.sh, or '
                          'apt-get install prometheus)')
    cp = subprocess.run([exe] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=120)
    return cp.returncode, cp.stdout.decode(errors='replace')


# --- PromQL: the metric names an expression reads --------------------------------

KEYWORDS = {'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or',
            'unless', 'bool', 'offset', 'inf', 'nan'}


def metric_names(expr):
    """The metric names in a PromQL expression: identifiers that are not
    functions, aggregations, keywords, label names or template variables."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)		# string literals
    e = re.sub(r'\{[^}]*\}', ' ', e)			# label matchers
    e = re.sub(r'\[[^\]]*\]', ' ', e)			# range selectors
    e = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', ' ', e)
    names = set()
    for m in re.finditer(r'[A-Za-z_:][A-Za-z0-9_:]*', e):
        before = e[m.start() - 1] if m.start() else ' '
        if before.isdigit() or before in '.$':		# 1e3, $var
            continue
        if e[m.end():].lstrip().startswith('('):		# a function or aggregation
            continue
        if m.group(0).lower() not in KEYWORDS:
            names.add(m.group(0))
    return names


def rule_exprs():
    """(alert, expr) of every rule; each expr on one line (a check, so that
    this reader needs no YAML library)."""
    out, alert = [], None
    with open(RULES) as f:
        for line in f:
            m = re.match(r'\s*- (?:alert|record): (\S+)', line)
            if m:
                alert = m.group(1)
            m = re.match(r'\s*expr:\s*(.*)$', line)
            if m:
                check(m.group(1) not in ('', '|', '>', '|-', '>-'),
                      '%s: write its expr on one line' % alert)
                out.append((alert, m.group(1)))
    return out


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def dashboard_exprs(d):
    out = []
    for p in d['panels']:
        for t in p.get('targets', ()):
            out.append((p['title'], t['expr']))
    return out


def concrete(expr):
    """A dashboard expression with Grafana's variables given values, as
    Prometheus would receive it."""
    return expr.replace('$__rate_interval', '5m').replace('$instance', '.*')


# --- a running node ------------------------------------------------------------

@shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, 'fame-test', [REGION, PEER])
    # A peer that never answers: the mirror's and outbox's per-peer families
    # are written only for configured peers.
    node = Node(ws, fed, REGION, peers=[(PEER, '127.0.0.1:%d' % free_port())])
    _env.update(ws=ws, fed=fed, node=node)


def exported():
    """Families (TYPE lines) and series names of a real node's /metrics,
    scraped with an admin certificate."""
    e = env()
    c = e['node'].connect(e['fed'].admin(REGION))
    try:
        r = c.request('GET', '/metrics', timeout=10)
    finally:
        c.close()
    check(r.status == 200, '/metrics as admin: status %r' % r.status)
    text = r.body.decode()
    families = set(re.findall(r'^# TYPE (\S+) ', text, re.M))
    series = set(re.findall(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]', text, re.M))
    check(len(families) >= 30, 'only %d families in /metrics' % len(families))
    return families, series, text


# --- the tests -----------------------------------------------------------------

@test
def metric_name_reader_is_right():
    cases = {
        'up{job="axle"} == 0': {'up'},
        'axle_a / axle_b > 0.8': {'axle_a', 'axle_b'},
        'sum by (instance, reason) (rate(axle_c{reason!~"idle|shutdown"}[$__rate_interval])) > 1e3':
            {'axle_c'},
        'increase(axle_d[5m]) > 0 and on (instance) axle_e == 0': {'axle_d', 'axle_e'},
        'topk(10, axle_f{instance=~"$instance"})': {'axle_f'},
        'resets(axle_g[30m]) >= 3': {'axle_g'},
    }
    for expr, want in cases.items():
        got = metric_names(expr)
        check(got == want, 'metric_names(%r) = %r, want %r' % (expr, got, want))


@test
def rules_pass_promtool_check():
    rc, out = promtool('check', 'rules', RULES)
    check(rc == 0, 'promtool check rules failed:\n%s' % out)
    m = re.search(r'SUCCESS: (\d+) rules found', out)
    n = len(rule_exprs())
    check(m and int(m.group(1)) == n, 'promtool found %s rules, the file has %d exprs:\n%s'
          % (m and m.group(1), n, out))
    check(n >= 10, 'only %d rules' % n)


@test
def rules_unit_tests_pass():
    rc, out = promtool('test', 'rules', os.path.basename(RULE_TESTS), cwd=MON)
    check(rc == 0 and 'SUCCESS' in out, 'promtool test rules failed:\n%s' % out)
    tested = set(re.findall(r'alertname: (\S+)', open(RULE_TESTS).read()))
    alerts = {a for a, _ in rule_exprs()}
    check(len(tested) >= 4 and tested <= alerts,
          'unit tests cover %s; rules are %s' % (sorted(tested), sorted(alerts)))


@test
def dashboard_is_well_formed():
    d = dashboard()
    ids = [p['id'] for p in d['panels']]
    check(len(ids) == len(set(ids)), 'panel ids repeat: %s' % ids)
    check(d.get('uid') and d.get('title') and d.get('schemaVersion'), 'no uid/title/schemaVersion')
    variables = {v['name']: v for v in d['templating']['list']}
    check(variables.get('datasource', {}).get('query') == 'prometheus', 'no Prometheus datasource variable')
    check('instance' in variables, 'no instance variable')
    for p in d['panels']:
        g = p['gridPos']
        check(0 <= g['x'] and g['x'] + g['w'] <= 24 and g['h'] > 0, '%s: gridPos %r' % (p['title'], g))
        if p['type'] == 'row':
            continue
        check(p.get('targets'), '%s: no queries' % p['title'])
        check(p['datasource'].get('uid') == '${datasource}', '%s: datasource %r' % (p['title'], p['datasource']))
        for t in p['targets']:
            check('$instance' in t['expr'], '%s: %r ignores the instance variable' % (p['title'], t['expr']))
    n = len(dashboard_exprs(d))
    check(n >= 30, 'only %d queries' % n)


@test
def dashboard_queries_are_valid_promql():
    """promtool parses each query (variables given values) as a recording rule."""
    d = dashboard()
    ws = env()['ws']
    lines = ['groups:', '  - name: dashboard', '    rules:']
    for i, (_title, expr) in enumerate(dashboard_exprs(d)):
        lines += ['      - record: axle_dashboard_check_%d' % i,
                  '        expr: %s' % json.dumps(concrete(expr))]
    path = ws.write('dashboard-rules.yml', '\n'.join(lines) + '\n')
    rc, out = promtool('check', 'rules', path)
    check(rc == 0, 'dashboard queries do not parse:\n%s' % out)


@test
def every_metric_named_is_exported():
    families, series, text = exported()
    named = {}
    for alert, expr in rule_exprs():
        for n in metric_names(expr):
            named.setdefault(n, []).append('rule %s' % alert)
    for title, expr in dashboard_exprs(dashboard()):
        for n in metric_names(concrete(expr)):
            named.setdefault(n, []).append('panel "%s"' % title)
    check(len(named) >= 35, 'only %d metric names found in rules and dashboard' % len(named))
    missing = {n: w for n, w in named.items() if n not in families and n not in NOT_AXLED}
    check(not missing, 'named but not exported by axled: %s' % '; '.join(
        '%s (%s)' % (n, ', '.join(sorted(set(w)))) for n, w in sorted(missing.items())))
    # The per-peer families have series for the configured peer.
    for fam in ('axle_mirror_lag_seconds', 'axle_mirror_broken', 'axle_switch_outbox',
                'axle_switch_outbox_oldest_seconds'):
        check(re.search(r'^%s\{peer="%s"\} ' % (fam, re.escape(PEER)), text, re.M),
              'no %s{peer="%s"} series' % (fam, PEER))


@test
def axle_info_says_the_version():
    with open(os.path.join(TOP, 'gateway', 'net', 'version.h')) as f:
        v = re.search(r'#define AXLE_VERSION "([^"]+)"', f.read()).group(1)
    _f, _s, text = exported()
    check(re.search(r'^axle_info\{[^}]*version="%s"[^}]*\} 1$' % re.escape(v), text, re.M),
          'axle_info does not say version="%s"' % v)


if __name__ == '__main__':
    main(after_failure=lambda name: 'node' in _env and print(_env['node'].log_tail()))
