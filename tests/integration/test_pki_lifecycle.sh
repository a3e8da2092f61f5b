#!/bin/sh
# tests/integration/test_pki_lifecycle.sh -- the PKI beyond the first year, on the
# openssl command line: keys made where they are used (axle-cert-request, then
# axle-cert-issue --csr), renewal (axle-cert-renew) and a CA rollover
# (axle-ca-new --generation, axle-trust-add beside the old CA, axle-trust-remove).
# test_pki_rollover.py runs the rollover with real nodes.
# Usage: sh tests/integration/test_pki_lifecycle.sh (from anywhere; $AXLE_TOP if set).
set -u
top=${AXLE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
C=$top/certs
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axle-test-pki.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
# shellcheck source-path=SCRIPTDIR source=certs_checks.sh
. "$top/tests/integration/certs_checks.sh"

fed=fame-uk
A=$tmp/ca-a	# the federation's CA
N=$tmp/node	# the node's own folder: its key never leaves it
H=$tmp/hub
S=$tmp/ca-side	# what the CA operator receives and returns
mkdir -p "$S"
check "a CA" sh "$C/axle-ca-new" "$A" "$fed"

# --- keys made where they are used ----------------------------------------

check "axle-cert-request on the node" sh "$C/axle-cert-request" node uk.london \
    --out "$N" --name node
check "the new key is 0600" mode_600 "$N/node.key"
check "the request verifies (signed by that key)" \
    openssl req -in "$N/node.csr" -noout -verify
no_key_in_csr() { ! grep -q 'PRIVATE KEY' "$N/node.csr"; }
check "the request holds no key" no_key_in_csr
cp "$N/node.csr" "$S/"
check "the CA signs the request" sh "$C/axle-cert-issue" "$A" node uk.london \
    --csr "$S/node.csr" --dns node.example --out "$S" --name node
no_key_at_ca() { [ ! -e "$S/node.key" ]; }
check "the CA side made no key" no_key_at_ca
check "the certificate is for the node's own key" p256_matching "$N/node.key" "$S/node.pem"
check "identity from the CA's arguments" one_uri_is "$S/node.pem" "axle://$fed/node/uk.london"
check "chain is leaf + CA" chain_ok "$S/node.chain.pem" "$S/node.pem" "$A/ca.pem"
check "verifies against the CA" verify "$A/ca.pem" "$S/node.pem"
subject_is_ours() {
	openssl x509 -in "$S/mal.pem" -noout -subject | grep -q "O = $fed, OU = member, CN = uk.london.hub"
}
# A request asking for another identity gets the one the CA names, nothing more.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tmp/mal.key" -subj "/O=evil/OU=admin/CN=root" \
    -addext "subjectAltName=URI:axle://$fed/admin/uk/root" \
    -addext "basicConstraints=critical,CA:TRUE" -out "$tmp/mal.csr" 2>/dev/null
check "a request asking for admin and CA:TRUE is signed as the CA says" \
    sh "$C/axle-cert-issue" "$A" member uk.london.hub --csr "$tmp/mal.csr" --out "$S" --name mal
check "... with the CA's identity" one_uri_is "$S/mal.pem" "axle://$fed/member/uk.london.hub"
check "... CA:FALSE" bc_is "$S/mal.pem" 'CA:FALSE'
check "... the CA's subject" subject_is_ours
sed 's/^MI/MJ/' "$N/node.csr" >"$tmp/tampered.csr"
refuse "a tampered request is refused" sh "$C/axle-cert-issue" "$A" node uk.x \
    --csr "$tmp/tampered.csr" --out "$tmp/no"
openssl req -new -newkey rsa:2048 -nodes -keyout "$tmp/rsa.key" -subj /CN=x \
    -out "$tmp/rsa.csr" 2>/dev/null
fails_with "an RSA request is refused" 'not ECDSA P-256' sh "$C/axle-cert-issue" \
    "$A" node uk.x --csr "$tmp/rsa.csr" --out "$tmp/no"
refuse "a missing request is refused" sh "$C/axle-cert-issue" "$A" node uk.x \
    --csr "$tmp/none.csr" --out "$tmp/no"
check "a hub's request (DER) is signed too" sh -c "
    sh '$C/axle-cert-request' member uk.london.hub --out '$H' --name hub &&
    openssl req -in '$H/hub.csr' -outform DER -out '$S/hub.der' &&
    sh '$C/axle-cert-issue' '$A' member uk.london.hub --csr '$S/hub.der' --out '$S' --name hub"
check "admin requests need --user" sh "$C/axle-cert-request" admin uk --user Ann --out "$H"
check "... named for the user" test -f "$H/admin-uk-ann.csr"
refuse "admin request without --user refused" sh "$C/axle-cert-request" admin uk --out "$H"
refuse "request refuses to overwrite" sh "$C/axle-cert-request" node uk.london \
    --out "$N" --name node

# --- renewal --------------------------------------------------------------

cp "$S/node.pem" "$N/node.pem"
check "axle-cert-request --renew on the node" sh "$C/axle-cert-request" --renew \
    "$N/node.pem" --out "$N"
check "--renew names the files CERT.next" test -f "$N/node.next.csr"
new_key_differs() { ! cmp -s "$N/node.key" "$N/node.next.key"; }
check "--renew makes a new key" new_key_differs
cp "$N/node.next.csr" "$S/"
check "axle-cert-renew at the CA" sh "$C/axle-cert-renew" "$A" "$S/node.pem" \
    "$S/node.next.csr" --out "$S" --days 30
check "renewed: the new key" p256_matching "$N/node.next.key" "$S/node.next.pem"
check "renewed: the same identity" one_uri_is "$S/node.next.pem" "axle://$fed/node/uk.london"
renewed_names() {
	ext "$S/node.next.pem" 'Subject Alternative Name' | grep -q 'DNS:node.example'
}
check "renewed: the same DNS names" renewed_names
serials_differ() {
	[ "$(openssl x509 -in "$S/node.pem" -noout -serial)" != \
	    "$(openssl x509 -in "$S/node.next.pem" -noout -serial)" ]
}
check "renewed: a new serial" serials_differ
check "the old certificate stays valid" verify "$A/ca.pem" "$S/node.pem"
check "revoke the old one once the new one is in use" \
    sh "$C/axle-cert-revoke" "$A" "$S/node.pem" superseded
fails_with "renewing a revoked certificate is refused" 'revoked' \
    sh "$C/axle-cert-renew" "$A" "$S/node.pem" "$S/node.next.csr" --out "$tmp/no"
check "an expired certificate" sh "$C/axle-cert-issue" "$A" member uk.old \
    --not-before 20200101000000Z --not-after 20210101000000Z --out "$S" --name old
fails_with "renewing an expired certificate needs --allow-expired" 'allow-expired' \
    sh "$C/axle-cert-renew" "$A" "$S/old.pem" "$S/hub.der" --out "$tmp/no"
check "... and works with it" sh "$C/axle-cert-renew" "$A" "$S/old.pem" "$S/hub.der" \
    --allow-expired --out "$S" --name old.next
check "... same identity" one_uri_is "$S/old.next.pem" "axle://$fed/member/uk.old"
sh "$C/axle-ca-new" "$tmp/alien" "$fed" >/dev/null
sh "$C/axle-cert-issue" "$tmp/alien" node uk.london --out "$tmp/alien-out" >/dev/null
fails_with "renewing another CA's certificate is refused" 'not issued by' \
    sh "$C/axle-cert-renew" "$A" "$tmp/alien-out/node-uk.london.pem" "$S/node.next.csr" \
    --out "$tmp/no"
check "nothing made for refused requests" empty_dir "$tmp/no"

# --- CA rollover ----------------------------------------------------------

T=$tmp/trust
B=$tmp/ca-b
check "trust the first CA" sh "$C/axle-trust-add" "$T" "$A"
check "a next-generation CA" sh "$C/axle-ca-new" "$B" "$fed" --generation 2
gen_cn() { openssl x509 -in "$B/ca.pem" -noout -subject | grep -q "CN = axle federation CA $fed g2"; }
check "its name carries the generation" gen_cn
check "the new CA renews the old CA's certificate (--issuer)" \
    sh "$C/axle-cert-renew" "$B" "$S/node.next.pem" "$S/hub.der" --issuer "$A" \
    --out "$S" --name node.b
check "... with the same identity" one_uri_is "$S/node.b.pem" "axle://$fed/node/uk.london"
check "... signed by the new CA" verify "$B/ca.pem" "$S/node.b.pem"
fails_with "without --issuer the new CA refuses it" 'not issued by' \
    sh "$C/axle-cert-renew" "$B" "$S/node.next.pem" "$S/hub.der" --out "$tmp/no"
refuse "--generation 1 is refused" sh "$C/axle-ca-new" "$tmp/ca-c" "$fed" --generation 1
fails_with "a second CA of the same name is refused" 'generation' \
    sh "$C/axle-trust-add" "$T" "$tmp/alien"
check "trust the new CA beside the old" sh "$C/axle-trust-add" "$T" "$B"
two_cas() { [ "$(grep -c 'BEGIN CERTIFICATE' "$T/$fed/ca.pem")" = 2 ] &&
    [ "$(grep -c 'BEGIN X509 CRL' "$T/$fed/crl.pem")" = 2 ]; }
check "the folder holds both CAs and both CRLs" two_cas
sh "$C/axle-cert-issue" "$B" member uk.london.hub --out "$S" --name hub-b >/dev/null
check "during the overlap: a certificate of the old CA passes" \
    verify_path "$T/$fed" "$S/node.next.pem"
check "during the overlap: a certificate of the new CA passes" \
    verify_path "$T/$fed" "$S/hub-b.pem"
check "during the overlap: the bundles verify both" sh -c "
    openssl verify -crl_check -CAfile '$T/$fed/ca.pem' -CRLfile '$T/$fed/crl.pem' \
    '$S/node.next.pem' '$S/hub-b.pem'"
fails_with "the old CA's revocations still apply" 'certificate revoked' \
    sh -c "sh '$C/axle-trust-add' '$T' '$A' >/dev/null && openssl verify -crl_check -CApath '$T/$fed' '$S/node.pem'"
check "re-adding the old CA kept the new one" two_cas
check "stop trusting the old CA" sh "$C/axle-trust-remove" "$T" "$A/ca.pem"
fails_with "after removal: the old CA's certificate is refused" 'unable to get local issuer' \
    verify_path "$T/$fed" "$S/node.next.pem"
check "after removal: the new CA's certificate passes" verify_path "$T/$fed" "$S/hub-b.pem"
one_ca() { [ "$(grep -c 'BEGIN CERTIFICATE' "$T/$fed/ca.pem")" = 1 ] &&
    [ "$(grep -c 'BEGIN X509 CRL' "$T/$fed/crl.pem")" = 1 ]; }
check "the old CA's CRL went with it" one_ca
fails_with "removing the last CA is refused" 'last CA' \
    sh "$C/axle-trust-remove" "$T" "$B"
refuse "removing a CA that is not trusted is refused" \
    sh "$C/axle-trust-remove" "$T" "$A"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
